"""The fingerprint of an endpoint: parsers on real output, and this host's own."""

import json
import os
import platform
import shutil

from pytest_telescope.measure.fingerprint import (
    fingerprint,
    parse_cpuinfo,
    parse_links,
    parse_meminfo,
    parse_sysctl,
    parse_uname,
)
from pytest_telescope.targets.local import LocalEndpoint

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2596.138

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2596.138
"""

CPUINFO_ARM = """processor\t: 0
BogoMIPS\t: 243.75
CPU part\t: 0xd0c

processor\t: 1
BogoMIPS\t: 243.75
"""

MEMINFO = """MemTotal:       24684084 kB
MemFree:        23353284 kB
MemAvailable:   23945796 kB
HugePages_Total:       0
SwapTotal:             0 kB
"""

LINKS = json.dumps(
    [
        {
            "ifindex": 1,
            "ifname": "lo",
            "mtu": 65536,
            "qdisc": "noqueue",
            "operstate": "UNKNOWN",
            "txqlen": 1000,
            "link_type": "loopback",
            "num_tx_queues": 1,
            "num_rx_queues": 1,
        },
        {
            "ifindex": 6,
            "ifname": "tsplA",
            "mtu": 1500,
            "qdisc": "tbf",
            "operstate": "UP",
            "txqlen": 1000,
            "link_type": "ether",
            "linkinfo": {"info_kind": "veth"},
            "num_tx_queues": 2,
            "num_rx_queues": 2,
        },
    ]
)

SYSCTL = (
    "net.core.rmem_max = 4194304\nnet.ipv4.tcp_rmem = 4096\t131072\t33554432\nnet.ipv4.tcp_congestion_control = bbr\n"
)


def test_parse_uname():
    assert parse_uname("6.18.44-fc-v669 x86_64\n") == {"kernel": "6.18.44-fc-v669", "arch": "x86_64"}


def test_parse_cpuinfo_counts_processors_and_keeps_the_model():
    assert parse_cpuinfo(CPUINFO) == {"cpu_model": "AMD EPYC", "cpus": 2}
    assert parse_cpuinfo(CPUINFO_ARM) == {"cpu_model": None, "cpus": 2}


def test_parse_meminfo_in_bytes():
    assert parse_meminfo(MEMINFO) == {"memory_bytes": 24684084 * 1024, "swap_bytes": 0}


def test_parse_links_mtu_and_queues():
    assert parse_links(LINKS) == {
        "interfaces": {
            "lo": {
                "kind": "loopback",
                "state": "UNKNOWN",
                "mtu": 65536,
                "qdisc": "noqueue",
                "txqlen": 1000,
                "tx_queues": 1,
                "rx_queues": 1,
            },
            "tsplA": {
                "kind": "veth",
                "state": "UP",
                "mtu": 1500,
                "qdisc": "tbf",
                "txqlen": 1000,
                "tx_queues": 2,
                "rx_queues": 2,
            },
        }
    }


def test_parse_sysctl_keeps_multi_value_settings_with_single_spaces():
    assert parse_sysctl(SYSCTL) == {
        "sysctl": {
            "net.core.rmem_max": "4194304",
            "net.ipv4.tcp_rmem": "4096 131072 33554432",
            "net.ipv4.tcp_congestion_control": "bbr",
        }
    }


def test_fingerprint_of_this_host(tmp_path):
    facts = fingerprint(LocalEndpoint("client", "127.0.0.1", None, str(tmp_path), None))

    assert facts["kernel"] == platform.release()
    assert facts["arch"] == platform.machine()
    assert facts["cpus"] == os.cpu_count()
    assert facts["memory_bytes"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert facts["interfaces"]["lo"]["mtu"] == 65536
    assert facts["sysctl"]["net.core.rmem_max"] == open("/proc/sys/net/core/rmem_max").read().strip()
    assert "unavailable" not in facts


def test_fingerprint_names_what_it_could_not_run_and_keeps_the_rest(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    for binary in ("uname", "cat"):
        (tools / binary).symlink_to(shutil.which(binary))
    monkeypatch.setenv("PATH", str(tools))

    facts = fingerprint(LocalEndpoint("client", "127.0.0.1", None, str(tmp_path), None))

    assert facts["kernel"] == platform.release() and facts["cpus"] == os.cpu_count()
    assert set(facts["unavailable"]) == {"links", "sysctl"}
    assert facts["unavailable"]["links"].startswith("ip: not found on PATH")
