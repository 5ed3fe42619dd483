"""fio: build a job command line, parse its ``--output-format=json`` output."""

from __future__ import annotations

import os

from pytest_telescope.samples import Sample
from pytest_telescope.tools._json import JsonOutput, load

DIRECTIONS = ("read", "write")
# Completion-latency percentile -> fio's "%f"-formatted key in clat_ns.percentile.
PERCENTILES = {"p50": "50.000000", "p90": "90.000000", "p99": "99.000000", "p99.9": "99.900000"}
_UNITS = {"iops": "IOPS", "bandwidth": "MiB/s", **{f"clat_{p}": "us" for p in PERCENTILES}, "clat_mean": "us"}
METRICS: dict[str, str] = {f"{d}_{name}": unit for d in DIRECTIONS for name, unit in _UNITS.items()}

# fio's patterns that read or write; the trim patterns are left out because parse reports no trims.
RW_PATTERNS = ("read", "write", "randread", "randwrite", "rw", "readwrite", "randrw")


def command(
    filename: str,
    *,
    rw: str = "randread",
    block_size: str = "4k",
    iodepth: int = 16,
    numjobs: int = 1,
    size: str = "256M",
    runtime: int = 5,
    direct: bool = True,
    ioengine: str = "libaio",
    name: str = "telescope",
) -> list[str]:
    """One fio job, reported as a single JSON job whatever ``numjobs`` is."""
    if rw not in RW_PATTERNS:
        raise ValueError(f"rw must be one of {', '.join(RW_PATTERNS)}, got {rw!r}")
    for option, value in (("iodepth", iodepth), ("numjobs", numjobs)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{option} must be an integer >= 1, got {value!r}")
    if not _is_int(runtime) or runtime <= 0:
        raise ValueError(f"runtime must be a whole number of seconds > 0, got {runtime!r}")
    return [
        "fio",
        f"--name={name}",
        # fio splits filename on ":" into several files unless the colon is escaped.
        "--filename=" + filename.replace(":", "\\:"),
        f"--rw={rw}",
        f"--bs={block_size}",
        f"--iodepth={iodepth}",
        f"--numjobs={numjobs}",
        f"--size={size}",
        f"--runtime={runtime}",
        "--time_based",
        f"--direct={int(direct)}",
        f"--ioengine={ioengine}",
        "--group_reporting",
        "--output-format=json",
    ]


def parse(output: str, command: list[str] | str = "fio") -> list[Sample]:
    """Samples per job (label ``job``) and per direction that did I/O; raises ToolError on a failed job.

    fio can print error lines before the JSON (axboe/fio#731), so text before the first ``{`` is skipped.
    """
    out = load(output, command, "fio --output-format=json output", skip_text=True)
    jobs = out.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise out.error("fio output has no jobs")
    samples: list[Sample] = []
    for i in range(len(jobs)):
        job = str(out.get("jobs", i, "jobname"))
        error = int(out.number("jobs", i, "error"))
        if error:
            raise out.error(f"fio job {job!r} failed with error {error} ({os.strerror(error)})")
        for direction in DIRECTIONS:
            if out.number("jobs", i, direction, "total_ios") > 0:
                samples += _direction(out, i, direction, job)
    return samples


def _direction(out: JsonOutput, i: int, direction: str, job: str) -> list[Sample]:
    stats = ("jobs", i, direction)

    def sample(name: str, value: float) -> Sample:
        metric = f"{direction}_{name}"
        return Sample(metric, value, METRICS[metric], {"job": job})

    return [
        sample("iops", out.number(*stats, "iops")),
        sample("bandwidth", out.number(*stats, "bw_bytes") / 2**20),
        *(
            sample(f"clat_{p}", out.number(*stats, "clat_ns", "percentile", key) / 1000)
            for p, key in PERCENTILES.items()
        ),
        sample("clat_mean", out.number(*stats, "clat_ns", "mean") / 1000),
    ]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
