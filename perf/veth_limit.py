"""Physical limit: iperf3 over the local target's veth pair versus over loopback.

Target (issue 8, figure 6): iperf3 over the namespace veth path reaches at least
80 % of iperf3 over loopback on the same machine; say what limits it.

    python perf/veth_limit.py [--rounds 4] [--duration 5]

Runs bare iperf3 (TCP, 1 and 4 streams), interleaved: between the two namespaces of
a local target (veth, as made by the local Terraform module), over this host's loopback, and,
to show what the MTU is worth, over the same veth pair with its MTU raised to
loopback's. Prints each path's throughput, iperf3's CPU utilization of sender and
receiver, retransmits, and the offloads ``ethtool -k`` reports for veth and lo.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import heading, listening, local_target, summary  # noqa: E402

from pytest_telescope.tools import iperf3

OFFLOADS = (
    "tcp-segmentation-offload",
    "generic-segmentation-offload",
    "generic-receive-offload",
    "rx-gro-list",
    "rx-udp-gro-forwarding",
    "tx-checksumming",
    "scatter-gather",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def in_namespace(namespace: str | None) -> list[str]:
    return ["ip", "netns", "exec", namespace] if namespace else []


def tcp_counters(namespace: str | None) -> dict[str, int]:
    """The namespace's TCP counters (nstat): in our own namespaces they count only our runs."""
    text = subprocess.run([*in_namespace(namespace), "nstat", "-az"], capture_output=True, text=True, check=True).stdout
    return {
        fields[0]: int(fields[1]) for fields in (line.split() for line in text.splitlines()) if fields and fields[0][0].isupper()
    }


def softnet_drops() -> int:
    """Packets dropped because a CPU's input backlog was full, all CPUs (second column of softnet_stat)."""
    return sum(int(line.split()[1], 16) for line in Path("/proc/net/softnet_stat").read_text().splitlines())


def iperf3_run(server_ns: str | None, client_ns: str | None, address: str, streams: int, duration: int) -> dict:
    port = free_port()
    before, drops = (tcp_counters(client_ns) if client_ns else {}), softnet_drops()
    daemon = subprocess.Popen([*in_namespace(server_ns), *iperf3.server_command(port, bind=address)], stdout=subprocess.DEVNULL)
    try:
        while not listening(server_ns, port):
            time.sleep(0.02)
        argv = [*in_namespace(client_ns), *iperf3.command(address, port, duration=duration, parallel=streams)]
        end = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)["end"]
    finally:
        daemon.wait(timeout=30)
    after = tcp_counters(client_ns) if client_ns else {}
    return {
        "gbit": end["sum_received"]["bits_per_second"] / 1e9,
        "sender_cpu": end["cpu_utilization_percent"]["host_total"],
        "receiver_cpu": end["cpu_utilization_percent"]["remote_total"],
        "retransmits": end["sum_sent"].get("retransmits", 0),
        # A retransmitted segment the receiver reports as a duplicate (D-SACK) was never lost: reordered.
        "dsack_segments": after.get("TcpExtTCPDSACKRecvSegs", 0) - before.get("TcpExtTCPDSACKRecvSegs", 0),
        "backlog_drops": softnet_drops() - drops,
    }


def features(namespace: str | None, device: str) -> dict[str, str]:
    text = subprocess.run([*in_namespace(namespace), "ethtool", "-k", device], capture_output=True, text=True).stdout
    found = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(":")
        if name in OFFLOADS:
            found[name] = value.strip()
    return found


def veth_device(namespace: str) -> str:
    """The name of the veth end in ``namespace`` (the target's only link besides lo)."""
    text = subprocess.run(["ip", "-n", namespace, "-d", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    (name,) = [link["ifname"] for link in json.loads(text) if link.get("linkinfo", {}).get("info_kind") == "veth"]
    return name


def link(namespace: str | None, device: str) -> dict:
    argv = [*in_namespace(namespace), "ip", "-d", "-j", "link", "show", "dev", device]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)[0]


def tune_veth(namespaces: dict[str, str], devices: dict[str, str], *, mtu: int | None = None, gro: bool | None = None) -> None:
    """Change both ends of the target's veth pair (namespaces this script made through the module)."""
    for role, namespace in namespaces.items():
        if mtu is not None:
            subprocess.run(["ip", "-n", namespace, "link", "set", "dev", devices[role], "mtu", str(mtu)], check=True)
        if gro is not None:
            subprocess.run([*in_namespace(namespace), "ethtool", "-K", devices[role], "gro", "on" if gro else "off"], check=True)


def report(name: str, runs: list[dict]) -> None:
    print(
        f"    {name:28s} {summary([r['gbit'] for r in runs], ' Gbit/s', 2)}; "
        f"sender CPU {statistics.median(r['sender_cpu'] for r in runs):.0f} %, "
        f"receiver CPU {statistics.median(r['receiver_cpu'] for r in runs):.0f} %, "
        f"retransmits {statistics.median(r['retransmits'] for r in runs):.0f}"
        + (f" (D-SACKed: {statistics.median(r['dsack_segments'] for r in runs):.0f})" if "veth" in name else "")
        + f", backlog drops {sum(r['backlog_drops'] for r in runs)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    heading(f"veth vs loopback: bare iperf3 TCP, {args.rounds} interleaved rounds of {args.duration} s per path")
    with tempfile.TemporaryDirectory() as tmp, local_target(Path(tmp) / "state", "veth") as target:
        if target.mode != "netns":
            raise SystemExit("the local target is in loopback mode (namespaces need root): there is no veth path to measure")
        server, client = target.endpoint("server"), target.endpoint("client")
        namespaces = {"server": server.namespace, "client": client.namespace}
        devices = {role: veth_device(namespace) for role, namespace in namespaces.items()}
        veth_link, lo_link = link(server.namespace, devices["server"]), link(None, "lo")
        print(f"  MTU: lo {lo_link['mtu']}, veth {veth_link['mtu']} (at most {veth_link['max_mtu']})")
        print(f"  ethtool -k lo:   {features(None, 'lo')}")
        print(f"  ethtool -k veth: {features(server.namespace, devices['server'])}")

        def over_veth(streams: int) -> dict:
            return iperf3_run(server.namespace, client.namespace, server.address, streams, args.duration)

        def over_loopback(streams: int) -> dict:
            return iperf3_run(None, None, "127.0.0.1", streams, args.duration)

        for streams in (1, 4):
            print(f"  TCP, {streams} stream{'s' if streams > 1 else ''}:", flush=True)
            veth, loopback = [], []
            for index in range(args.rounds):
                for run, runs in [(over_veth, veth), (over_loopback, loopback)][:: 1 if index % 2 == 0 else -1]:
                    runs.append(run(streams))
            report("veth (as the local module makes it)", veth)
            report("loopback", loopback)
            ratios = [v["gbit"] / lo["gbit"] * 100 for v, lo in zip(veth, loopback)]
            met = "MET" if statistics.median(ratios) >= 80 else "MISSED"
            print(f"    {'veth / loopback':28s} {summary(ratios, ' %', 1)}   target >= 80 %: {met}")
            # What the veth path would reach with loopback's advantages, one at a time.
            experiments = [
                (f"veth, MTU {veth_link['max_mtu']}", {"mtu": veth_link["max_mtu"]}, {"mtu": veth_link["mtu"]}),
                ("veth, GRO on", {"gro": True}, {"gro": False}),
                (
                    f"veth, MTU {veth_link['max_mtu']} + GRO on",
                    {"mtu": veth_link["max_mtu"], "gro": True},
                    {"mtu": veth_link["mtu"], "gro": False},
                ),
            ]
            for name, change, undo in experiments:
                tune_veth(namespaces, devices, **change)
                try:
                    report(name, [over_veth(streams) for _ in range(args.rounds)])
                finally:
                    tune_veth(namespaces, devices, **undo)
    print(f"  load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
