"""fio: build a job command line, parse its ``--output-format=json`` output."""

from __future__ import annotations

import os
import re

from pytest_telescope.samples import HIGHER, LOWER, Metric, Sample
from pytest_telescope.tools._json import JsonOutput, load
from pytest_telescope.tools._params import ParameterError, is_int

DIRECTIONS = ("read", "write")
# Completion-latency percentile -> fio's "%f"-formatted key in clat_ns.percentile.
PERCENTILES = {"p50": "50.000000", "p90": "90.000000", "p99": "99.000000", "p99.9": "99.900000"}
_KINDS = {
    "iops": Metric("IOPS", HIGHER),
    "bandwidth": Metric("MiB/s", HIGHER),
    **{f"clat_{p}": Metric("us", LOWER) for p in PERCENTILES},
    "clat_mean": Metric("us", LOWER),
}
METRICS: dict[str, Metric] = {f"{d}_{name}": metric for d in DIRECTIONS for name, metric in _KINDS.items()}

# What each parameter of command() means, for docs/tools.md.
PARAMETERS: dict[str, str] = {
    "rw": "I/O pattern: read, write, randread, randwrite, rw, readwrite or randrw",
    "block_size": "size of each I/O (--bs), e.g. 4k",
    "iodepth": "I/Os kept in flight per job",
    "numjobs": "jobs running the same workload, reported together",
    "size": "size of the file each job does I/O on, e.g. 256M",
    "runtime": "seconds of I/O (time based)",
    "direct": "bypass the page cache (O_DIRECT)",
    "ioengine": "how I/O is issued: libaio, io_uring, sync, ...",
    "rwmixread": "percent of reads in a mixed pattern (rw, readwrite, randrw)",
    "name": "the job's name, the samples' job label",
}

# fio's patterns that read or write; the trim patterns are left out because parse reports no trims.
RW_PATTERNS = ("read", "write", "randread", "randwrite", "rw", "readwrite", "randrw")
MIXED_PATTERNS = ("rw", "readwrite", "randrw")
# What fio prints before its JSON when an I/O fails, e.g. "fio: pid=4264, err=22/file:io_u.c:1876, ...".
_ERROR_LINE = re.compile(r"^fio: .*\berr=\s*[1-9].*$", re.MULTILINE)


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
    rwmixread: int = 50,
    name: str = "telescope",
) -> list[str]:
    """One fio job, reported as a single JSON job whatever ``numjobs`` is.

    ``rwmixread`` is the share of reads in percent of a mixed pattern (rw, readwrite, randrw).
    """
    check(dict(rw=rw, iodepth=iodepth, numjobs=numjobs, runtime=runtime, rwmixread=rwmixread))
    mix = [f"--rwmixread={rwmixread}"] if rw in MIXED_PATTERNS else []
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
        *mix,
        "--group_reporting",
        "--output-format=json",
    ]


def check(params: dict) -> None:
    """Raise ``ParameterError`` naming the first of a case's parameters (all of them, defaults filled in)
    that fio would not accept."""
    rw, iodepth, numjobs, runtime, rwmixread = (params[k] for k in ("rw", "iodepth", "numjobs", "runtime", "rwmixread"))
    if rw not in RW_PATTERNS:
        raise ParameterError("rw", f"must be one of {', '.join(RW_PATTERNS)}, got {rw!r}")
    for option, value in (("iodepth", iodepth), ("numjobs", numjobs)):
        if not is_int(value) or value < 1:
            raise ParameterError(option, f"must be an integer >= 1, got {value!r}")
    if not is_int(runtime) or runtime <= 0:
        raise ParameterError("runtime", f"must be a whole number of seconds > 0, got {runtime!r}")
    if not is_int(rwmixread) or not 0 <= rwmixread <= 100:
        raise ParameterError("rwmixread", f"must be a whole percentage from 0 to 100, got {rwmixread!r}")


def parse(output: str, command: list[str] | str = "fio") -> list[Sample]:
    """Samples per job (label ``job``) and per direction that did I/O; raises ToolError on a failed job.

    fio can print lines before the JSON (axboe/fio#731): a note is skipped, an
    ``fio: ... err=`` line (a failed I/O) is a ToolError that quotes it.
    """
    out = load(output, command, "fio --output-format=json output", skip_text=True)
    jobs = out.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise out.error("fio output has no jobs")
    for i in range(len(jobs)):
        error = int(out.number("jobs", i, "error"))
        if error:
            job = out.get("jobs", i, "jobname")
            raise out.error(f"fio job {job!r} failed with error {error} ({os.strerror(error)})")
    failed = _ERROR_LINE.search(output[: output.find("{")])
    if failed:
        raise out.error(f"fio reported a failed I/O: {failed.group(0).strip()}")
    samples: list[Sample] = []
    for i in range(len(jobs)):
        job = str(out.get("jobs", i, "jobname"))
        for direction in DIRECTIONS:
            if out.number("jobs", i, direction, "total_ios") > 0:
                samples += _direction(out, i, direction, job)
    return samples


def _direction(out: JsonOutput, i: int, direction: str, job: str) -> list[Sample]:
    stats = ("jobs", i, direction)

    def sample(name: str, value: float) -> Sample:
        metric = f"{direction}_{name}"
        return Sample(metric, value, METRICS[metric].unit, {"job": job})

    return [
        sample("iops", out.number(*stats, "iops")),
        sample("bandwidth", out.number(*stats, "bw_bytes") / 2**20),
        *(
            sample(f"clat_{p}", out.number(*stats, "clat_ns", "percentile", key) / 1000)
            for p, key in PERCENTILES.items()
        ),
        sample("clat_mean", out.number(*stats, "clat_ns", "mean") / 1000),
    ]
