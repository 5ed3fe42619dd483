"""iperf3: build the server and client command lines, parse the client's ``--json`` output."""

from __future__ import annotations

import re
from typing import Any

from pytest_telescope.samples import HIGHER, LOWER, NEITHER, Metric, Sample
from pytest_telescope.tools._json import JsonOutput, load
from pytest_telescope.tools._params import ParameterError, is_int

METRICS: dict[str, Metric] = {
    "throughput_sent": Metric("Mbit/s", HIGHER),
    "throughput_received": Metric("Mbit/s", HIGHER),
    "retransmits": Metric("count", LOWER),
    "rtt_mean": Metric("us", LOWER),
    # The CPU iperf3 used: it rises with the throughput it reaches, so neither way is better on its own.
    "cpu_local": Metric("%", NEITHER),
    "cpu_remote": Metric("%", NEITHER),
    "jitter": Metric("ms", LOWER),
    "lost_percent": Metric("%", LOWER),
    "lost_packets": Metric("count", LOWER),
    # How many datagrams the sender's rate fit in the test's time: set by the case, not a result.
    "packets": Metric("count", NEITHER),
}

# What each parameter of command() means, for docs/tools.md.
PARAMETERS: dict[str, str] = {
    "protocol": "tcp or udp",
    "duration": "seconds the client sends (-t)",
    "parallel": "parallel streams (-P)",
    "bandwidth": 'target rate (-b): bits/s as an int, or "500M"; 0 is unlimited; iperf3 sends UDP at 1 Mbit/s without it',
    "reverse": "the server sends, the client receives (-R); rtt_mean is then the server's, from its report",
    "bidir": "both ways at once (--bidir): each direction's samples are labelled direction=forward or reverse",
    "omit": "seconds at the start left out of the results (-O), to skip TCP slow start",
}

PROTOCOLS = ("tcp", "udp")
_BANDWIDTH = re.compile(r"\d+(\.\d+)?[kmgtKMGT]?(/\d+)?")


def server_command(port: int, bind: str | None = None) -> list[str]:
    """A foreground server that serves one test and exits (``-1``).

    ``-J`` makes the server's report JSON, which a client with ``--get-server-output``
    receives: the only RTTs of a direction the server sends (``-R``, ``--bidir``).
    """
    _check_port(port)
    command = ["iperf3", "-s", "-1", "-J", "-p", str(port)]
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
    bidir: bool = False,
    omit: int = 0,
) -> list[str]:
    """A client run with JSON output.

    ``bandwidth`` is iperf3's ``-b``: bits/s as an int, or a string such as "500M";
    0 means unlimited. Without it iperf3 sends UDP at only 1 Mbit/s. ``reverse``
    makes the server send; ``bidir`` sends both ways at once.
    """
    _check_port(port)
    check(dict(protocol=protocol, duration=duration, parallel=parallel, bandwidth=bandwidth, reverse=reverse, bidir=bidir, omit=omit))
    command = ["iperf3", "-c", server, "-p", str(port), "-t", str(duration), "-P", str(parallel), "--json"]
    if protocol == "udp":
        command.append("-u")
    if bandwidth is not None:
        command += ["-b", str(bandwidth)]
    if reverse:
        command.append("-R")
    if bidir:
        command.append("--bidir")
    if reverse or bidir:
        command.append("--get-server-output")
    if omit:
        command += ["-O", str(omit)]
    return command


def check(params: dict) -> None:
    """Raise ``ParameterError`` naming the first of a case's parameters (all of them, defaults filled in)
    that iperf3 would not accept."""
    protocol, duration, parallel, omit, bandwidth = (params[k] for k in ("protocol", "duration", "parallel", "omit", "bandwidth"))
    if protocol not in PROTOCOLS:
        raise ParameterError("protocol", f"must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if not is_int(duration) or duration <= 0:
        raise ParameterError("duration", f"must be a whole number of seconds > 0, got {duration!r}")
    if not is_int(parallel) or parallel < 1:
        raise ParameterError("parallel", f"must be an integer >= 1, got {parallel!r}")
    if not is_int(omit) or omit < 0:
        raise ParameterError("omit", f"must be a whole number of seconds >= 0, got {omit!r}")
    if bandwidth is not None and not (
        (is_int(bandwidth) and bandwidth >= 0) or (isinstance(bandwidth, str) and _BANDWIDTH.fullmatch(bandwidth))
    ):
        raise ParameterError("bandwidth", f'must be bits/s as an int >= 0 or a string like "500M", got {bandwidth!r}')
    if params["reverse"] and params["bidir"]:
        raise ParameterError("bidir", "and reverse exclude each other: bidir already sends both ways")


def parse(output: str, command: list[str] | str = "iperf3") -> list[Sample]:
    """Samples from the client's ``--json`` output; raises ToolError on a reported error or unreadable output.

    iperf3 3.12 exits 0 even when it cannot connect: only the ``error`` key tells.
    With ``--bidir`` each direction's samples have the label ``direction``:
    ``forward`` (client to server) or ``reverse``. ``rtt_mean`` is the mean RTT
    the sending side's TCP measured: with ``-R`` and ``--bidir`` the server's,
    from ``server_output_json`` (left out without it).
    """
    out = load(output, command, "iperf3 --json output")
    if "error" in out.data:
        raise out.error(f"iperf3 reported: {out.data['error']}")
    udp = out.get("start", "test_start", "protocol") == "UDP"
    end = out.get("end")
    if "sum_sent_bidir_reverse" in end:
        samples = _direction(out, udp, "", {"direction": "forward"}, _client_rtts(out))
        samples += _direction(out, udp, "_bidir_reverse", {"direction": "reverse"}, _server_rtts(out))
    else:
        reverse = bool(out.get("start", "test_start").get("reverse"))
        samples = _direction(out, udp, "", {}, _server_rtts(out) if reverse else _client_rtts(out))
    return samples + [
        _sample("cpu_local", out.number("end", "cpu_utilization_percent", "host_total")),
        _sample("cpu_remote", out.number("end", "cpu_utilization_percent", "remote_total")),
    ]


def _direction(out: JsonOutput, udp: bool, suffix: str, labels: dict[str, str], rtts: list[float]) -> list[Sample]:
    """The samples of one direction: ``end.sum_sent<suffix>`` and ``end.sum_received<suffix>``."""
    end = out.get("end")
    sent, received = f"sum_sent{suffix}", f"sum_received{suffix}"
    if udp and not (sent in end and received in end):
        # iperf3 before 3.11 has only "sum": the sender's rate with the receiver's jitter and loss.
        sent = received = "sum"
    samples = [_sample("throughput_sent", out.number("end", sent, "bits_per_second") / 1e6, labels)]
    if received != sent:
        samples.append(_sample("throughput_received", out.number("end", received, "bits_per_second") / 1e6, labels))
    if udp:
        return samples + [
            _sample("jitter", out.number("end", received, "jitter_ms"), labels),
            _sample("lost_percent", out.number("end", received, "lost_percent"), labels),
            _sample("lost_packets", out.number("end", received, "lost_packets"), labels),
            _sample("packets", out.number("end", received, "packets"), labels),
        ]
    if "retransmits" in out.get("end", sent):
        samples.append(_sample("retransmits", out.number("end", sent, "retransmits"), labels))
    if rtts:
        samples.append(_sample("rtt_mean", sum(rtts) / len(rtts), labels))
    return samples


def _client_rtts(out: JsonOutput) -> list[float]:
    return _sender_rtts(out.get("end").get("streams", []))


def _server_rtts(out: JsonOutput) -> list[float]:
    """The server's RTTs, from ``--get-server-output`` of a server run with ``-J``."""
    server = out.data.get("server_output_json")
    streams = server.get("end", {}).get("streams", []) if isinstance(server, dict) else []
    return _sender_rtts(streams)


def _sender_rtts(streams: list[Any]) -> list[float]:
    """``mean_rtt`` of the streams this side sent; a receiving side reports 0 or a meaningless ACK RTT."""
    rtts = []
    for stream in streams:
        sender = stream.get("sender", {}) if isinstance(stream, dict) else {}
        if sender.get("sender", True) is True and isinstance(sender.get("mean_rtt"), (int, float)) and sender["mean_rtt"] > 0:
            rtts.append(float(sender["mean_rtt"]))
    return rtts


def _sample(metric: str, value: float, labels: dict[str, str] | None = None) -> Sample:
    return Sample(metric, value, METRICS[metric].unit, dict(labels or {}))


def _check_port(port: int) -> None:
    if not is_int(port) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer from 1 to 65535, got {port!r}")
