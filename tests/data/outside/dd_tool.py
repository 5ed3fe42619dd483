"""A benchmark tool of a user's own, kept in their repository: sequential write
throughput with ``dd``. The tests register it from outside the plugin."""

import re

from pytest_telescope.errors import ToolError
from pytest_telescope.samples import HIGHER, LOWER, Metric, Sample

METRICS = {"write_throughput": Metric("MB/s", HIGHER), "elapsed": Metric("s", LOWER)}

# coreutils dd's last line: "33554432 bytes (34 MB, 32 MiB) copied, 0.0315785 s, 1.1 GB/s"
_SUMMARY = re.compile(r"^(\d+) bytes .* copied, ([0-9.]+) s,", re.MULTILINE)


def command(path, *, block_size="1M", count=32):
    return ["env", "LC_ALL=C", "dd", "if=/dev/zero", f"of={path}", f"bs={block_size}", f"count={count}", "conv=fdatasync"]


def parse(output, command="dd"):
    found = _SUMMARY.search(output)
    if found is None:
        raise ToolError(command, "no 'bytes ... copied' line", output)
    size, seconds = int(found.group(1)), float(found.group(2))
    return [Sample("write_throughput", size / seconds / 1e6, "MB/s"), Sample("elapsed", seconds, "s")]
