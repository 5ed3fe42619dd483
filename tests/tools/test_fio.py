import json
from pathlib import Path

import pytest

from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Metric, Sample
from pytest_telescope.tools import fio

DATA = Path(__file__).parents[1] / "data"
RECORDINGS = ["randread", "randwrite", "rw", "randread-sync-note"]
PERCENTILE_KEYS = {"p50": "50.000000", "p90": "90.000000", "p99": "99.000000", "p99.9": "99.900000"}


def text(name: str) -> str:
    return (DATA / f"fio-3.33-{name}.json").read_text()


def raw(name: str) -> dict:
    output = text(name)
    return json.loads(output[output.index("{"):])


def expected_samples(job: dict, direction: str) -> list[Sample]:
    """What parse should give for one direction, computed from the raw job."""
    stats = job[direction]
    labels = {"job": job["jobname"]}
    percentiles = stats["clat_ns"]["percentile"]
    return [
        Sample(f"{direction}_iops", pytest.approx(stats["iops"]), "IOPS", labels),
        Sample(f"{direction}_bandwidth", pytest.approx(stats["bw_bytes"] / 1024 / 1024), "MiB/s", labels),
        *(
            Sample(f"{direction}_clat_{name}", pytest.approx(percentiles[key] / 1000), "us", labels)
            for name, key in PERCENTILE_KEYS.items()
        ),
        Sample(f"{direction}_clat_mean", pytest.approx(stats["clat_ns"]["mean"] / 1000), "us", labels),
    ]


# Command building


def test_command_defaults():
    assert fio.command("/mnt/data/telescope") == [
        "fio",
        "--name=telescope",
        "--filename=/mnt/data/telescope",
        "--rw=randread",
        "--bs=4k",
        "--iodepth=16",
        "--numjobs=1",
        "--size=256M",
        "--runtime=5",
        "--time_based",
        "--direct=1",
        "--ioengine=libaio",
        "--group_reporting",
        "--output-format=json",
    ]


def test_command_with_every_option():
    command = fio.command(
        "fio-file",
        rw="randrw",
        block_size="128k",
        iodepth=32,
        numjobs=4,
        size="1G",
        runtime=60,
        direct=False,
        ioengine="io_uring",
        rwmixread=70,
        name="nvme",
    )
    assert command == [
        "fio",
        "--name=nvme",
        "--filename=fio-file",
        "--rw=randrw",
        "--bs=128k",
        "--iodepth=32",
        "--numjobs=4",
        "--size=1G",
        "--runtime=60",
        "--time_based",
        "--direct=0",
        "--ioengine=io_uring",
        "--rwmixread=70",
        "--group_reporting",
        "--output-format=json",
    ]


def test_rwmixread_is_passed_only_to_a_mixed_pattern():
    assert "--rwmixread=30" in fio.command("fio-file", rw="rw", rwmixread=30)
    assert not any(arg.startswith("--rwmixread") for arg in fio.command("fio-file", rw="randread", rwmixread=30))


def test_command_escapes_colons_in_filename():
    assert "--filename=/dev/disk/by-path/pci-0000:00:04.0" not in fio.command("/dev/disk/by-path/pci-0000:00:04.0")
    assert "--filename=/dev/disk/by-path/pci-0000\\:00\\:04.0" in fio.command("/dev/disk/by-path/pci-0000:00:04.0")


@pytest.mark.parametrize("rw", ["read", "write", "randread", "randwrite", "rw", "readwrite", "randrw"])
def test_command_accepts_read_and_write_patterns(rw):
    assert f"--rw={rw}" in fio.command("fio-file", rw=rw)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"rw": "random"}, "rw must be one of read, write, randread, randwrite, rw, readwrite, randrw, got 'random'"),
        ({"rw": "randtrim"}, "rw must be one of"),
        ({"iodepth": 0}, "iodepth must be an integer >= 1, got 0"),
        ({"iodepth": "16"}, "iodepth must be an integer >= 1, got '16'"),
        ({"numjobs": 0}, "numjobs must be an integer >= 1, got 0"),
        ({"numjobs": 1.5}, "numjobs must be an integer >= 1, got 1.5"),
        ({"runtime": 0}, "runtime must be a whole number of seconds > 0, got 0"),
        ({"runtime": -1}, "runtime must be"),
        ({"rwmixread": 101}, "rwmixread must be a whole percentage from 0 to 100, got 101"),
    ],
)
def test_command_rejects_bad_arguments(options, message):
    with pytest.raises(ValueError) as error:
        fio.command("fio-file", **options)
    assert message in str(error.value)


# Parsing real recordings


@pytest.mark.parametrize(
    "name, directions", [("randread", ["read"]), ("randwrite", ["write"]), ("rw", ["read", "write"])]
)
def test_parse(name, directions):
    job = raw(name)["jobs"][0]
    expected = [sample for direction in directions for sample in expected_samples(job, direction)]
    assert fio.parse(text(name)) == expected


def test_parse_skips_direction_without_io():
    job = raw("randread")["jobs"][0]
    # fio gives an idle direction no percentiles at all: reading them would fail.
    assert job["write"]["total_ios"] == 0
    assert "percentile" not in job["write"]["clat_ns"]
    assert not [sample for sample in fio.parse(text("randread")) if sample.metric.startswith("write_")]


def test_parse_skips_text_before_json():
    output = text("randread-sync-note")
    first_line = output.splitlines()[0]
    assert first_line.startswith("note: both iodepth >= 1 and synchronous I/O engine are selected")
    samples = fio.parse(output)
    assert samples == expected_samples(raw("randread-sync-note")["jobs"][0], "read")


def test_parse_one_set_per_job():
    data = raw("rw")
    second = json.loads(json.dumps(data["jobs"][0]))
    second["jobname"] = "second"
    second["write"]["total_ios"] = 0
    data["jobs"].append(second)
    samples = fio.parse(json.dumps(data))

    first = data["jobs"][0]
    assert samples == [
        *expected_samples(first, "read"),
        *expected_samples(first, "write"),
        *expected_samples(second, "read"),
    ]
    assert {sample.labels["job"] for sample in samples} == {"telescope", "second"}


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_metric_is_declared(name):
    samples = fio.parse(text(name))
    assert samples
    for sample in samples:
        assert sample.unit == fio.METRICS[sample.metric].unit
        assert isinstance(sample.value, float)


def test_metrics():
    for direction in ("read", "write"):
        assert fio.METRICS[f"{direction}_iops"] == Metric("IOPS", "higher")
        assert fio.METRICS[f"{direction}_bandwidth"] == Metric("MiB/s", "higher")
        for name in ("p50", "p90", "p99", "p99.9", "mean"):
            assert fio.METRICS[f"{direction}_clat_{name}"] == Metric("us", "lower")
    assert len(fio.METRICS) == 14


# Error paths


def test_parse_job_error_recording():
    # Recorded with --bs=1000 and --direct=1: every read fails with EINVAL, and fio prints
    # its error line on stdout before the JSON.
    output = text("job-error")
    assert output.startswith("fio: pid=")
    command = fio.command("fio-file", block_size="1000", runtime=2)
    with pytest.raises(ToolError) as error:
        fio.parse(output, command)
    assert error.value.problem == "fio job 'telescope' failed with error 22 (Invalid argument)"
    assert error.value.command == " ".join(command)
    assert "err=22" in str(error.value)  # the user sees fio's own error line


def test_an_error_line_before_the_json_is_an_error_even_when_no_job_failed():
    # The recording's own "fio: pid=..., err=22" line, with its job's error field cleared.
    output = text("job-error").replace('"error" : 22', '"error" : 0')
    with pytest.raises(ToolError) as error:
        fio.parse(output)
    assert error.value.problem == (
        "fio reported a failed I/O: fio: pid=4264, err=22/file:io_u.c:1876, func=io_u error, error=Invalid argument"
    )


def test_a_note_before_the_json_is_not_an_error():
    assert fio.parse(text("randread-sync-note"))


def test_parse_job_error_in_any_job():
    data = raw("randread")
    failed = json.loads(json.dumps(data["jobs"][0]))
    failed["jobname"], failed["error"] = "second", 5
    data["jobs"].append(failed)
    with pytest.raises(ToolError) as error:
        fio.parse(json.dumps(data))
    assert error.value.problem == "fio job 'second' failed with error 5 (Input/output error)"


@pytest.mark.parametrize(
    "output, problem",
    [
        ("", "no output; expected fio --output-format=json output"),
        ("\n\n", "no output; expected fio --output-format=json output"),
        ("fio: unrecognized option '--bogus'\n", "expected fio --output-format=json output, found no JSON object"),
        ("fio: pid=1, err=2\n{ not json }", "expected fio --output-format=json output, got invalid JSON"),
        ('{"fio version": "fio-3.33"}', "no jobs in fio --output-format=json output"),
        ('{"jobs": []}', "fio output has no jobs"),
        ('{"jobs": {"jobname": "x"}}', "fio output has no jobs"),
    ],
)
def test_parse_unreadable_output(output, problem):
    with pytest.raises(ToolError) as error:
        fio.parse(output)
    assert error.value.problem.startswith(problem)


def test_parse_truncated_output():
    output = text("randread")
    with pytest.raises(ToolError, match="expected fio --output-format=json output, got invalid JSON"):
        fio.parse(output[: len(output) // 2])


def test_parse_missing_key_names_its_path():
    data = raw("randread")
    del data["jobs"][0]["read"]["clat_ns"]["percentile"]["99.900000"]
    with pytest.raises(ToolError) as error:
        fio.parse(json.dumps(data))
    assert error.value.problem == 'no jobs[0].read.clat_ns.percentile["99.900000"] in fio --output-format=json output'


def test_parse_missing_direction_names_its_path():
    data = raw("randread")
    del data["jobs"][0]["write"]
    with pytest.raises(ToolError) as error:
        fio.parse(json.dumps(data))
    assert error.value.problem == "no jobs[0].write in fio --output-format=json output"
