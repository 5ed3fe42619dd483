"""Kernel histograms: bpftrace's printouts become samples of a window; the real bpftrace where it can run."""

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_telescope.errors import TelescopeError
from pytest_telescope.measure import kernel
from pytest_telescope.samples import LOWER, Metric

LOCAL = SimpleNamespace(cloud="local")  # what the windows ask of the local target: its cloud
FAKE_BPFTRACE = Path(__file__).resolve().parents[1] / "doubles" / "fake_bpftrace"


def test_a_window_is_the_difference_of_two_printouts(recorded_printouts):
    before, after = recorded_printouts
    samples = {s.metric: s for s in kernel.window(tuple(kernel.PROGRAMS), before, after, {})}
    blocks = samples["block_io_latency_count"]
    assert blocks.unit == "count" and blocks.value == sum(count for _, _, count in blocks.histogram["buckets"])
    # The dd's 500 writes, and whatever else wrote meanwhile.
    assert blocks.value >= 500
    assert blocks.histogram["unit"] == "us"
    assert samples["block_io_latency_p50"].value <= samples["block_io_latency_p90"].value <= samples["block_io_latency_p99"].value
    assert samples["block_io_latency_p99"].value <= samples["block_io_latency_max"].value
    assert samples["tcp_retransmits"].value == 0 and samples["tcp_retransmits"].unit == "count"
    assert set(samples) == set(kernel.METRICS)


def test_buckets_subtract_and_trim_their_empty_ends():
    before = [{"min": 8, "max": 15, "count": 3}, {"min": 16, "max": 31, "count": 2}]
    after = [{"min": 8, "max": 15, "count": 3}, {"min": 16, "max": 31, "count": 6}, {"min": 32, "max": 63, "count": 1}]
    assert kernel.difference(before, after) == [(16, 31, 4), (32, 63, 1)]
    assert kernel.difference(after, after) == []


def test_percentiles_interpolate_within_their_bucket_and_max_is_the_top_bucket_edge():
    buckets = [(0, 0, 50), (1, 1, 0), (2, 3, 40), (4, 7, 10)]
    assert kernel.statistic(buckets, "p50") == 1.0  # the 50th of 100 is the last of bucket [0, 1)
    assert kernel.statistic(buckets, "p90") == 4.0
    assert kernel.statistic(buckets, "p99") == pytest.approx(4 + 4 * 0.9)
    assert kernel.statistic(buckets, "max") == 8.0


def test_an_empty_window_gives_counts_of_zero_and_no_percentiles():
    samples = kernel.window(("block_io_latency",), {}, {}, {"node": "n1"})
    assert [(s.metric, s.value, s.labels, s.histogram) for s in samples] == [
        ("block_io_latency_count", 0.0, {"node": "n1"}, {"unit": "us", "buckets": []})
    ]


def test_the_source_of_chosen_programs_ends_with_the_closing_map():
    text = kernel.source(("tcp_retransmits",))
    assert "tcp_retransmit_skb" in text and "sched_switch" not in text
    assert text.rstrip().endswith("BEGIN { @zz_end = 1; }")
    assert kernel.metrics(("tcp_retransmits",)) == {"tcp_retransmits": Metric("count", LOWER)}


def test_a_setting_other_than_on_or_off_is_refused():
    with pytest.raises(TelescopeError, match=r"--telescope-kernel \(ini telescope_kernel\) must be auto, on or off, got 'yes'"):
        kernel.KernelWindows("yes", print)


def test_off_and_other_targets_take_no_window_and_say_why_once():
    said = []
    assert kernel.KernelWindows("off", said.append).begin(LOCAL, tuple(kernel.PROGRAMS)) is None
    windows = kernel.KernelWindows("on", said.append)
    other = SimpleNamespace(cloud="other")
    assert windows.begin(other, tuple(kernel.PROGRAMS)) is None
    assert windows.begin(other, tuple(kernel.PROGRAMS)) is None
    assert windows.begin(LOCAL, ()) is None
    assert windows.end(None) == ([], [])
    assert said == ["kernel histograms off for other: they are taken on the local target and on Kubernetes targets only"]


def test_without_bpftrace_the_windows_are_off_and_say_so_once(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    said = []
    windows = kernel.KernelWindows("on", said.append)
    assert windows.begin(LOCAL, tuple(kernel.PROGRAMS)) is None
    assert windows.begin(LOCAL, tuple(kernel.PROGRAMS)) is None
    assert said == ["kernel histograms off: bpftrace is not on PATH (Debian package bpftrace)"]


@pytest.fixture
def windows():
    why = kernel.unavailable()
    if why is not None:
        pytest.skip(why)
    running = kernel.KernelWindows("on", pytest.fail)
    yield running
    running.stop()


def test_real_bpftrace_counts_direct_io_in_a_window(windows, tmp_path):
    begun = windows.begin(LOCAL, ("block_io_latency",))
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={tmp_path / 'data'}", "bs=4k", "count=200", "oflag=direct"],
        check=True, capture_output=True,
    )
    found, problems = windows.end(begun)
    samples = {s.metric: s for s in found}
    assert problems == []
    assert samples["block_io_latency_count"].value >= 200
    assert 0 < samples["block_io_latency_p50"].value <= samples["block_io_latency_max"].value


def test_real_bpftrace_restarts_for_other_programs_and_stops(windows):
    windows.end(windows.begin(LOCAL, ("tcp_retransmits",)))
    first = windows._tracer.pid
    samples, _ = windows.end(windows.begin(LOCAL, ("runqueue_latency",)))
    assert windows._tracer.pid != first
    assert {s.metric for s in samples} >= {"runqueue_latency_count"}
    windows.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)


def test_a_program_bpftrace_refuses_is_a_tool_error_with_its_message(monkeypatch):
    why = kernel.unavailable()
    if why is not None:
        pytest.skip(why)
    monkeypatch.setitem(kernel.PROGRAMS, "tcp_retransmits", kernel.Program("tcp_retransmits", "tracepoint:nope:nope { }\n", "count", "", histogram=False))
    with pytest.raises(TelescopeError, match="bpftrace: exited before attaching its probes: .*nope"):
        kernel.Tracer(("tcp_retransmits",), timeout=30).start()


def test_a_tracer_that_died_is_a_problem_of_the_window_not_an_error_and_the_next_window_restarts_it(windows):
    begun = windows.begin(LOCAL, ("tcp_retransmits",))
    windows._tracer._popen.kill()
    samples, problems = windows.end(begun)
    assert samples == [] and problems == ["kernel histograms: bpftrace: stopped printing its maps: no error printed"]
    samples, problems = windows.end(windows.begin(LOCAL, ("tcp_retransmits",)))
    assert problems == [] and [s.metric for s in samples] == ["tcp_retransmits"]


def test_a_line_of_bpftrace_that_is_not_json_is_a_problem_of_the_window_and_bpftrace_restarts(garbling_bpftrace, monkeypatch):
    bpftrace = garbling_bpftrace.parent / "bin" / "bpftrace"
    bpftrace.parent.mkdir()
    bpftrace.symlink_to(garbling_bpftrace)
    monkeypatch.setenv("PATH", f"{bpftrace.parent}{os.pathsep}{os.environ['PATH']}")
    why = kernel.unavailable()
    if why is not None:
        pytest.skip(why)
    windows = kernel.KernelWindows("on", pytest.fail)
    try:
        assert windows.end(windows.begin(LOCAL, ("tcp_retransmits",))) == (
            [], ["kernel histograms: bpftrace: printed a line that is not JSON: '{\"type\": \"map\", \"data\": {\"@tcp_retr'"]
        )
        bpftrace.unlink()
        bpftrace.symlink_to(FAKE_BPFTRACE)  # whole printouts
        samples, problems = windows.end(windows.begin(LOCAL, ("tcp_retransmits",)))
        assert problems == [] and [s.metric for s in samples] == ["tcp_retransmits"]
    finally:
        windows.stop()
