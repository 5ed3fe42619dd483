"""The configuration of an endpoint that explains its results: kernel, CPUs, memory, network devices, sysctls."""

from __future__ import annotations

import json
import re

from pytest_telescope.errors import TelescopeError, ToolError
from pytest_telescope.targets import Endpoint, Target

FINGERPRINT_COMMANDS = {
    "uname": ["uname", "-r", "-m"],
    "cpuinfo": ["cat", "/proc/cpuinfo"],
    "meminfo": ["cat", "/proc/meminfo"],
    "links": ["ip", "-j", "-d", "link", "show"],
}
SYSCTLS = (
    "net.core.rmem_default",
    "net.core.rmem_max",
    "net.core.wmem_default",
    "net.core.wmem_max",
    "net.core.netdev_max_backlog",
    "net.core.somaxconn",
    "net.core.default_qdisc",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_window_scaling",
)


def fingerprint(endpoint: Endpoint) -> dict:
    """What explains an endpoint's results: kernel, CPUs, memory, network devices and net.* sysctls.

    A command that cannot run there is named under ``unavailable`` with the
    first line of its output; the rest is still recorded.
    """
    outputs: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    commands = {**FINGERPRINT_COMMANDS, "sysctl": ["sysctl", "-e", *SYSCTLS]}
    for name, argv in commands.items():
        try:
            completed = endpoint.run(argv, timeout=30, check=False)
        except ToolError as error:
            unavailable[name] = str(error).splitlines()[0]
            continue
        if completed.returncode != 0:
            unavailable[name] = (
                f"{' '.join(argv)}: exited with status {completed.returncode}: "
                + (completed.output.splitlines() or [""])[0]
            )
            continue
        outputs[name] = completed.stdout
    facts: dict = {}
    parsers = {
        "uname": parse_uname,
        "cpuinfo": parse_cpuinfo,
        "meminfo": parse_meminfo,
        "links": parse_links,
        "sysctl": parse_sysctl,
    }
    for name, output in outputs.items():
        try:
            facts.update(parsers[name](output))
        except (ValueError, KeyError, TypeError) as error:
            unavailable[name] = f"{' '.join(commands[name])}: unreadable output ({error})"
    if unavailable:
        facts["unavailable"] = unavailable
    return facts


def parse_uname(output: str) -> dict:
    """``uname -r -m``: kernel release and machine architecture."""
    kernel, arch = output.split()
    return {"kernel": kernel, "arch": arch}


def parse_cpuinfo(output: str) -> dict:
    """``/proc/cpuinfo``: the CPU model (x86 ``model name``; ARM has none) and the number of CPUs."""
    models = [line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("model name")]
    cpus = sum(1 for line in output.splitlines() if re.match(r"processor\s*:", line))
    return {"cpu_model": models[0] if models else None, "cpus": cpus}


def parse_meminfo(output: str) -> dict:
    """``/proc/meminfo``: total memory and swap, in bytes."""
    kib = {}
    for line in output.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[-1] == "kB":
            kib[key] = int(parts[0])
    return {"memory_bytes": kib["MemTotal"] * 1024, "swap_bytes": kib.get("SwapTotal", 0) * 1024}


def parse_links(output: str) -> dict:
    """``ip -j -d link show``: per network device, MTU, state, queue discipline and queue counts."""
    interfaces = {}
    for link in json.loads(output):
        interfaces[link["ifname"]] = {
            "kind": link.get("linkinfo", {}).get("info_kind", link.get("link_type")),
            "state": link.get("operstate"),
            "mtu": link.get("mtu"),
            "qdisc": link.get("qdisc"),
            "txqlen": link.get("txqlen"),
            "tx_queues": link.get("num_tx_queues"),
            "rx_queues": link.get("num_rx_queues"),
        }
    return {"interfaces": interfaces}


def parse_sysctl(output: str) -> dict:
    """``sysctl key...``: ``key = value`` lines; multi-value settings keep single spaces."""
    settings = {}
    for line in output.splitlines():
        key, separator, value = line.partition(" = ")
        if separator:
            settings[key.strip()] = " ".join(value.split())
    return {"sysctl": settings}


def target_metadata(target: Target, fingerprints: dict[int, dict]) -> dict:
    """The target's metadata and fingerprint (taken once per target) for the results; reading them
    (a cluster's nodes) must not hide the test's outcome."""
    try:
        metadata = dict(target.metadata)
    except TelescopeError as error:
        return {"cloud": target.cloud, "metadata_error": str(error)}
    endpoint = target.fingerprint_endpoint()
    if endpoint is not None:
        if id(target) not in fingerprints:
            fingerprints[id(target)] = fingerprint(endpoint)
        metadata["fingerprint"] = fingerprints[id(target)]
    return metadata
