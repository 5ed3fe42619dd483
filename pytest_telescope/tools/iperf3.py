"""iperf3: build the server and client command lines, parse the client's ``--json`` output."""

from __future__ import annotations

import re
from typing import Any

from pytest_telescope.samples import Sample
from pytest_telescope.tools._json import JsonOutput, load

METRICS: dict[str, str] = {
    "throughput_sent": "Mbit/s",
    "throughput_received": "Mbit/s",
    "retransmits": "count",
    "rtt_mean": "us",
    "cpu_local": "%",
    "cpu_remote": "%",
    "jitter": "ms",
    "lost_percent": "%",
    "lost_packets": "count",
    "packets": "count",
}

PROTOCOLS = ("tcp", "udp")
_BANDWIDTH = re.compile(r"\d+(\.\d+)?[kmgtKMGT]?(/\d+)?")


def server_command(port: int, bind: str | None = None) -> list[str]:
    """A foreground server that serves one test and exits (``-1``)."""
    _check_port(port)
    command = ["iperf3", "-s", "-1", "-p", str(port)]
    if bind:
        command += ["-B", bind]
    return command


def command(
    server: str,
    port: int,
    *,
    protocol: str = "tcp",
    duration: int = 10,
    parallel: int = 1,
    bandwidth: str | int | None = None,
    reverse: bool = False,
    omit: int = 0,
) -> list[str]:
    """A client run with JSON output.

    ``bandwidth`` is iperf3's ``-b``: bits/s as an int, or a string such as "500M";
    0 means unlimited. Without it iperf3 sends UDP at only 1 Mbit/s.
    """
    _check_port(port)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if not _is_int(duration) or duration <= 0:
        raise ValueError(f"duration must be a whole number of seconds > 0, got {duration!r}")
    if not _is_int(parallel) or parallel < 1:
        raise ValueError(f"parallel must be an integer >= 1, got {parallel!r}")
    if not _is_int(omit) or omit < 0:
        raise ValueError(f"omit must be a whole number of seconds >= 0, got {omit!r}")
    command = ["iperf3", "-c", server, "-p", str(port), "-t", str(duration), "-P", str(parallel), "--json"]
    if protocol == "udp":
        command.append("-u")
    if bandwidth is not None:
        command += ["-b", _bandwidth(bandwidth)]
    if reverse:
        command.append("-R")
    if omit:
        command += ["-O", str(omit)]
    return command


def parse(output: str, command: list[str] | str = "iperf3") -> list[Sample]:
    """Samples from the client's ``--json`` output; raises ToolError on a reported error or unreadable output.

    iperf3 3.12 exits 0 even when it cannot connect: only the ``error`` key tells.
    """
    out = load(output, command, "iperf3 --json output")
    if "error" in out.data:
        raise out.error(f"iperf3 reported: {out.data['error']}")
    samples = _udp(out) if out.get("start", "test_start", "protocol") == "UDP" else _tcp(out)
    return samples + [
        _sample("cpu_local", out.number("end", "cpu_utilization_percent", "host_total")),
        _sample("cpu_remote", out.number("end", "cpu_utilization_percent", "remote_total")),
    ]


def _tcp(out: JsonOutput) -> list[Sample]:
    samples = [
        _sample("throughput_sent", out.number("end", "sum_sent", "bits_per_second") / 1e6),
        _sample("throughput_received", out.number("end", "sum_received", "bits_per_second") / 1e6),
    ]
    if "retransmits" in out.get("end", "sum_sent"):
        samples.append(_sample("retransmits", out.number("end", "sum_sent", "retransmits")))
    streams = out.get("end", "streams")
    # With -R the server sends, and the client's output gives its RTTs as 0 instead of leaving them out.
    if streams and all(_local_rtt(stream) for stream in streams):
        rtts = [out.number("end", "streams", i, "sender", "mean_rtt") for i in range(len(streams))]
        samples.append(_sample("rtt_mean", sum(rtts) / len(rtts)))
    return samples


def _local_rtt(stream: Any) -> bool:
    sender = stream.get("sender", {}) if isinstance(stream, dict) else {}
    return "mean_rtt" in sender and sender.get("sender", True) is True


def _udp(out: JsonOutput) -> list[Sample]:
    end = out.get("end")
    # iperf3 >= 3.11 splits the totals into sum_sent and sum_received. Older versions have only
    # "sum": the sender's rate with the receiver's jitter and loss.
    if "sum_sent" in end and "sum_received" in end:
        received = "sum_received"
        samples = [
            _sample("throughput_sent", out.number("end", "sum_sent", "bits_per_second") / 1e6),
            _sample("throughput_received", out.number("end", "sum_received", "bits_per_second") / 1e6),
        ]
    else:
        received = "sum"
        samples = [_sample("throughput_sent", out.number("end", "sum", "bits_per_second") / 1e6)]
    return samples + [
        _sample("jitter", out.number("end", received, "jitter_ms")),
        _sample("lost_percent", out.number("end", received, "lost_percent")),
        _sample("lost_packets", out.number("end", received, "lost_packets")),
        _sample("packets", out.number("end", received, "packets")),
    ]


def _sample(metric: str, value: float) -> Sample:
    return Sample(metric, value, METRICS[metric])


def _check_port(port: int) -> None:
    if not _is_int(port) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer from 1 to 65535, got {port!r}")


def _bandwidth(bandwidth: str | int) -> str:
    if _is_int(bandwidth) and bandwidth >= 0:
        return str(bandwidth)
    if isinstance(bandwidth, str) and _BANDWIDTH.fullmatch(bandwidth):
        return bandwidth
    raise ValueError(f'bandwidth must be bits/s as an int >= 0 or a string like "500M", got {bandwidth!r}')


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
