"""Results files on broken disks: a full or read-only file system, a run killed mid-write.

The disks are real: small tmpfs mounts made for the test (a chmod does not stop root).
"""

import json
import os
import subprocess

import pytest

from pytest_telescope.report.files import ResultsDirectoryError, check_writable, write_atomically
from pytest_telescope.report.jsonl import JsonlWriter

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")


@pytest.fixture
def mount(tmp_path):
    """``mount(options)``: a tmpfs at a new directory, unmounted after the test."""
    mounted = []

    def make(options: str):
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "telescope-test", str(point)], check=True)
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", "--lazy", str(point)], check=True)  # also while a failed test holds a file open


def fill(directory) -> None:
    """Take every free byte of the file system holding ``directory``."""
    with open(directory / "filler", "wb", buffering=0) as filler:
        try:
            while filler.write(b"\0" * 4096):
                pass
        except OSError:
            pass


def row(index: int) -> dict:
    return {"test": "t.py::test_a", "metric": "m", "value": index, "padding": "x" * 1000}


def test_an_atomic_write_replaces_the_file_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "run" / "junit.xml"
    write_atomically(path, "first")
    write_atomically(path, "second")

    assert path.read_text() == "second"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]


@needs_root
def test_an_atomic_write_on_a_full_disk_keeps_the_earlier_file_and_leaves_no_temporary(mount):
    disk = mount("size=64k")
    path = disk / "junit.xml"
    write_atomically(path, "<testsuites/>")
    fill(disk)

    with pytest.raises(OSError):
        write_atomically(path, "x" * 100_000)

    assert path.read_text() == "<testsuites/>"
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "junit.xml"]


@needs_root
def test_a_read_only_or_full_results_directory_is_refused_before_anything_runs(mount, tmp_path):
    read_only = mount("ro,size=64k")
    full = mount("size=64k")
    fill(full)

    with pytest.raises(ResultsDirectoryError, match=rf"results directory {read_only}/run-1 is not writable: Read-only file system"):
        check_writable(read_only / "run-1")
    with pytest.raises(ResultsDirectoryError, match=rf"results directory {full}/results/run-1 is not writable: No space left on device"):
        check_writable(full / "results" / "run-1")
    check_writable(tmp_path / "results" / "run-1")
    assert not (tmp_path / "results").exists()  # checked where it will be, not created by the check
    assert sorted(p.name for p in full.iterdir()) == ["filler"]


@needs_root
def test_a_full_disk_mid_run_leaves_whole_lines_keeps_the_rows_and_writes_them_when_space_returns(mount):
    disk = mount("size=64k")
    writer = JsonlWriter(disk / "results.jsonl", str)
    assert writer.write([row(0)])
    fill(disk)
    os.truncate(disk / "filler", (disk / "filler").stat().st_size - 4096)  # room for a few rows, not all

    assert not writer.write([row(index) for index in range(1, 10)])  # cut off mid-line by the disk
    assert not writer.write([row(10)])

    lines = (disk / "results.jsonl").read_text().splitlines(keepends=True)
    assert [json.loads(line)["value"] for line in lines] == [0] and lines[-1].endswith("\n")
    assert [r["value"] for r in writer.unwritten] == list(range(1, 11))
    assert writer.error.strerror == "No space left on device"

    (disk / "filler").unlink()
    assert writer.write([row(11)])
    writer.close()
    values = [json.loads(line)["value"] for line in (disk / "results.jsonl").read_text().splitlines()]
    assert values == list(range(12)) and writer.unwritten == [] and writer.error is None


@needs_root
def test_a_results_directory_made_read_only_mid_run_keeps_the_rows(mount):
    disk = mount("size=64k")
    writer = JsonlWriter(disk / "run" / "results.jsonl", str)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

    assert not writer.write([row(0)])

    assert [r["value"] for r in writer.unwritten] == [0] and writer.error.strerror == "Read-only file system"
    writer.close()
