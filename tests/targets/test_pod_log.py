"""A container's log as it is written, through the real kubernetes client, against ``FakeApiServerDouble``
(whose ``ContainersDouble`` runs the container here and stamps its lines as a kubelet does)."""

from __future__ import annotations

import time

import pytest
from doubles.fake_apiserver import FakeApiServerDouble, node_json
from doubles.fake_containers import ContainersDouble, kubelet_stamp
from kubernetes import client

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes.pod_log import follow, instant


def test_a_kubelet_timestamp_reads_as_nanoseconds_whatever_its_decimals_and_zone():
    whole = instant("2026-11-23T12:23:02Z")
    assert whole == 1795436582 * 10**9
    assert instant("2026-11-23T12:23:02.5Z") - whole == 500_000_000
    assert instant("2026-11-23T12:23:02.000000001Z") - whole == 1
    assert instant("2026-11-23T13:23:02.25+01:00") == instant("2026-11-23T12:23:02.25Z")
    now = time.time_ns()
    assert instant(kubelet_stamp(now)) == now
    with pytest.raises(ValueError, match="not an RFC 3339 time: 'yesterday'"):
        instant("yesterday")


@pytest.fixture
def api():
    with FakeApiServerDouble() as double:
        double.nodes = [node_json("n1")]
        double.containers = ContainersDouble()
        yield double


def pod(name: str, script: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "main:1", "command": ["sh", "-c", script]}]}}


def test_the_lines_come_as_they_are_written_with_their_instants_until_the_container_ends(api):
    core = client.CoreV1Api(api.api_client())
    core.create_namespaced_pod("ns", pod("talker", "echo one; echo two >&2; sleep 0.3; echo three"))
    lines = list(follow(core, "ns", "talker", "main", read_timeout=10))
    assert [text for _, text in lines] == ["one", "two", "three"]
    instants = [at for at, _ in lines]
    # The sleep between them, less the few ms a line may wait to be read (and stamped) here.
    assert instants == sorted(instants) and instants[2] - instants[1] >= 250_000_000
    assert list(follow(core, "ns", "talker", "main", since_seconds=1, read_timeout=10)) == lines  # all within the second
    time.sleep(1.1)
    assert list(follow(core, "ns", "talker", "main", since_seconds=1, read_timeout=10)) == []


def test_lines_written_at_once_may_share_their_instant(api):
    core = client.CoreV1Api(api.api_client())
    core.create_namespaced_pod("ns", pod("burst", "printf 'one\\ntwo\\n'"))  # one write, stamped as CRI-O does
    (first, one), (second, two) = follow(core, "ns", "burst", "main", read_timeout=10)
    assert (one, two) == ("one", "two") and first == second


def test_a_silent_log_and_a_missing_pod_are_one_line_each(api):
    core = client.CoreV1Api(api.api_client())
    core.create_namespaced_pod("ns", pod("quiet", "echo hello; sleep 30"))
    lines = follow(core, "ns", "quiet", "main", read_timeout=0.5)
    assert next(lines)[1] == "hello"
    with pytest.raises(ProvisionError, match=r"^log of pod ns/quiet: nothing written for 0.5 s$"):
        next(lines)
    with pytest.raises(ProvisionError, match=r'^log of pod ns/absent: 404 Not Found: pods "absent" not found$'):
        next(follow(core, "ns", "absent", "main", read_timeout=10))
