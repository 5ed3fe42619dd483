"""Kernel histograms on a Kubernetes target: a bpftrace pod per node, against ``FakeApiServerDouble``.

No cluster runs here: the double's ``ContainersDouble`` runs the pods' containers on this
machine, with ``fake_bpftrace`` (which replays bpftrace 0.17's recorded output) in place of
bpftrace, and the exec that signals it runs here too. tests/targets/test_cluster_integration.py
runs the real image on a real cluster.
"""

from __future__ import annotations

import functools
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from doubles.fake_apiserver import FakeApiServerDouble, node_json, status_json
from doubles.fake_containers import ContainersDouble

from pytest_telescope.errors import ProvisionError
from pytest_telescope.measure import kernel
from pytest_telescope.measure.kernel.pods import IMAGE, MAX_NODES, ClusterTracer
from pytest_telescope.measure.kernel.windows import MAX_RESTARTS
from pytest_telescope.targets.kubernetes import KubernetesTarget

FAKE_BPFTRACE = Path(__file__).resolve().parents[1] / "doubles" / "fake_bpftrace"
ROLE_LABEL = "telescope-role"
DEDICATED = {"key": "dedicated", "value": "bench", "effect": "NoSchedule"}
CRITICAL_ONLY = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}
BY_ROLE = {
    "node_selectors": {"server": {ROLE_LABEL: "server"}, "client": {ROLE_LABEL: "client"}},
    "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
}
NAMES = tuple(kernel.PROGRAMS)


@pytest.fixture
def api(tmp_path, monkeypatch):
    """A cluster of a tainted system node, a node for each role in a tainted pool, and a node of no role."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bpftrace").symlink_to(FAKE_BPFTRACE)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with FakeApiServerDouble() as double:
        double.containers = ContainersDouble()
        double.nodes = [
            node_json("system-0", taints=[CRITICAL_ONLY]),
            node_json("server-0", labels={ROLE_LABEL: "server"}, taints=[DEDICATED]),
            node_json("client-0", labels={ROLE_LABEL: "client"}, taints=[DEDICATED]),
            node_json("other-0", labels={ROLE_LABEL: "other"}),
        ]
        yield double


@pytest.fixture
def tracefs(tmp_path) -> Path:
    """A tracefs as the nodes' containers see it: the tracer checks its ``events``."""
    (tmp_path / "tracing" / "events").mkdir(parents=True)
    return tmp_path / "tracing"


def make_target(api, settings=BY_ROLE, cloud="aks") -> KubernetesTarget:
    return KubernetesTarget(api.api_client(), cloud, settings, "20261123T122302Z-dc5148", kubeconfig="/nonexistent/kubeconfig", poll_interval=0)


def tracer_class(tmp_path, tracefs):
    """ClusterTracer with its pid files and tracefs in ``tmp_path``: the containers run on this machine."""
    return functools.partial(ClusterTracer, pid_dir=str(tmp_path), tracefs=str(tracefs), timeout=10)


def tracer_pods(api) -> dict[str, dict]:
    return {name: pod for (_, name), pod in api.pods.items() if name.startswith("bpftrace-")}


def test_a_privileged_pod_of_the_pinned_image_per_node_the_roles_pods_may_go_to(api, tmp_path, tracefs):
    said = []
    target = make_target(api)
    tracer = tracer_class(tmp_path, tracefs)(target, NAMES).start(said.append)
    try:
        pods = tracer_pods(api)
        # Not the system node (a taint the roles' pods do not tolerate), nor the node of no role.
        assert sorted(pod["spec"]["nodeName"] for pod in pods.values()) == ["client-0", "server-0"]
        for pod in pods.values():
            spec = pod["spec"]
            (container,) = spec["containers"]
            assert spec["hostPID"] is True and container["securityContext"] == {"privileged": True}
            assert container["image"] == IMAGE == "quay.io/iovisor/bpftrace:v0.17.0"
            assert spec["tolerations"] == [{"operator": "Exists"}]  # lands on tainted pools
            assert [v["hostPath"] for v in spec["volumes"]] == [{"path": str(tracefs), "type": "Directory"}]
            assert [m["mountPath"] for m in container["volumeMounts"]] == [str(tracefs)]
            assert container["command"][-1] == kernel.source(NAMES)  # the programs the local target runs
            assert container["command"][4] == f"{tmp_path}/{pod['metadata']['name']}.pid"  # its pid file, as docs/kernel.md says
            assert pod["metadata"]["labels"]["telescope/run-id"] == "20261123T122302Z-dc5148"
        assert said[0] == f"kernel histograms: starting bpftrace ({IMAGE}) on 2 nodes of aks: client-0, server-0 ..."
        assert re.fullmatch(r"kernel histograms: bpftrace attached on 2 nodes in \d+\.\ds", said[1])
    finally:
        assert tracer.stop() == []
    assert tracer_pods(api) == {} and api.containers.running() == []


def test_a_window_per_node_labelled_with_the_role_of_the_test_pod_on_it(api, tmp_path, tracefs, recorded_printouts):
    target = make_target(api)
    target.endpoints("server", "client")  # the double places them by their nodeSelector
    tracer = tracer_class(tmp_path, tracefs)(target, NAMES).start(lambda text: None)
    try:
        begun = tracer.snapshot()
        samples, problems = tracer.window(begun)
    finally:
        tracer.stop()
    before, after = recorded_printouts  # what each fake bpftrace printed at the two signals
    assert problems == []
    assert samples == [
        *kernel.window(NAMES, before, after, {"role": "client", "node": "client-0"}),
        *kernel.window(NAMES, before, after, {"role": "server", "node": "server-0"}),
    ]
    assert {s.metric for s in samples} == set(kernel.METRICS)


def test_nodes_without_a_pod_of_the_test_are_labelled_by_node_and_both_roles_on_one_node_each_get_it(api, tmp_path, tracefs):
    settings = {"tolerations": BY_ROLE["tolerations"], "placement": "same-node", "node_selector": {ROLE_LABEL: "server"}}
    target = make_target(api, settings)
    tracer = tracer_class(tmp_path, tracefs)(target, ("tcp_retransmits",)).start(lambda text: None)
    try:
        empty, _ = tracer.window(tracer.snapshot())  # before the test's pods exist
        target.endpoints("server", "client")
        placed, _ = tracer.window(tracer.snapshot())
    finally:
        tracer.stop()
    assert [(s.metric, s.labels) for s in empty] == [("tcp_retransmits", {"node": "server-0"})]
    assert [(s.metric, s.labels) for s in placed] == [
        ("tcp_retransmits", {"role": "client", "node": "server-0"}),
        ("tcp_retransmits", {"role": "server", "node": "server-0"}),
    ]


def test_a_node_whose_bpftrace_died_is_a_problem_of_the_window_and_the_others_still_count(api, tmp_path, tracefs):
    target = make_target(api)
    tracer = tracer_class(tmp_path, tracefs)(target, ("tcp_retransmits",)).start(lambda text: None)
    try:
        begun = tracer.snapshot()
        api.containers.stop(target.namespace, tracer.tracers[0].pod)
        samples, problems = tracer.window(begun)
    finally:
        tracer.stop()
    assert [s.labels["node"] for s in samples] == ["server-0"]
    # What the exec says here, where the container's files outlive its process; a cluster's exec into a
    # container that ended fails instead ("container not found"), as a problem of the window too.
    assert problems == ["kernel histograms: bpftrace: on node client-0: could not signal it: sh: 1: kill: No such process"]


def test_the_pods_of_a_cluster_whose_bpftrace_died_start_anew_at_the_next_test_a_few_times(api, tmp_path, tracefs):
    said = []
    windows = windows_on(api, tmp_path, tracefs, said)
    target = make_target(api)
    for _ in range(MAX_RESTARTS + 1):  # the first start, then each restart
        samples, problems = windows.end(windows.begin(target, ("tcp_retransmits",)))
        assert problems == [] and [s.labels["node"] for s in samples] == ["client-0", "server-0"]
        (client,) = [name for name, pod in tracer_pods(api).items() if pod["spec"]["nodeName"] == "client-0"]
        api.containers.stop(target.namespace, client)  # evicted, OOM-killed, its node restarted
        samples, problems = windows.end(windows.begin(target, ("tcp_retransmits",)))
        assert [s.labels["node"] for s in samples] == ["server-0"]
        assert problems == ["kernel histograms: bpftrace: on node client-0: could not signal it: sh: 1: kill: No such process"]
    assert windows.begin(target, ("tcp_retransmits",)) is None
    assert said[-1] == f"kernel histograms off for aks: bpftrace failed on a node after {MAX_RESTARTS} restarts of its pods"
    assert tracer_pods(api) == {} and api.containers.running() == []
    windows.stop()


def test_a_pod_whose_deletion_failed_is_asked_again_then_named_with_the_command_that_deletes_it(api, tmp_path, tracefs, monkeypatch):
    target = make_target(api)
    tracer = tracer_class(tmp_path, tracefs)(target, ("tcp_retransmits",)).start(lambda text: None)
    once, twice = (node.pod for node in tracer.tracers)
    failures = {once: 1, twice: 2}
    delete_pod = target.delete_pod

    def unavailable(name):
        if failures[name]:
            failures[name] -= 1
            raise ProvisionError(f"aks cluster: delete pod {target.namespace}/{name}: 503 Service Unavailable")
        delete_pod(name)

    monkeypatch.setattr(target, "delete_pod", unavailable)
    problems = tracer.stop()
    namespace = target.namespace
    assert problems == [
        f"aks cluster: delete pod {namespace}/{twice}: 503 Service Unavailable; "
        f"delete it with: kubectl delete pod --namespace {namespace} {twice}"
    ]
    assert list(tracer_pods(api)) == [twice]  # a kept namespace would keep it tracing: hence the command
    delete_pod(twice)
    assert api.containers.running() == []


def test_a_log_read_cut_off_inside_a_printout_refuses_the_printouts_after_it(api, tmp_path, tracefs, monkeypatch):
    target = make_target(api)
    tracer = tracer_class(tmp_path, tracefs)(target, ("tcp_retransmits",)).start(lambda text: None)
    names = {node.node: node.pod for node in tracer.tracers}
    try:
        begun = tracer.snapshot()
        pod_log = target.pod_log
        signalled = time.time_ns()  # the kubelet's clock is this machine's here

        def cut_off(name, *args, **kwargs):
            for instant, text in pod_log(name, *args, **kwargs):
                yield instant, text
                if instant > signalled:  # the first line of the new printout, then the connection drops
                    raise ProvisionError(f"aks cluster: log of pod {target.namespace}/{name}: connection reset by peer")

        monkeypatch.setattr(target, "pod_log", cut_off)
        cut = tracer.window(begun)
        monkeypatch.setattr(target, "pod_log", pod_log)
        after = tracer.window(tracer.snapshot())  # its rest would pass for this printout
    finally:
        tracer.stop()
    assert cut[0] == [] and after[0] == []
    assert after[1] == [
        f"kernel histograms: bpftrace: on node {node}: a printout was cut off: "
        f"aks cluster: log of pod {target.namespace}/{names[node]}: connection reset by peer"
        for node in ("client-0", "server-0")
    ]


def test_a_line_that_is_not_json_is_a_problem_naming_the_node_in_this_window_and_the_next(api, tmp_path, tracefs, garbling_bpftrace):
    bpftrace = tmp_path / "bin" / "bpftrace"
    bpftrace.unlink()
    bpftrace.symlink_to(garbling_bpftrace)  # the second printout of each node's bpftrace is cut short
    tracer = tracer_class(tmp_path, tracefs)(make_target(api), ("tcp_retransmits",)).start(lambda text: None)
    try:
        first = tracer.window(tracer.snapshot())
        second = tracer.window(tracer.snapshot())  # whole printouts, read after the rest of the one cut short
    finally:
        tracer.stop()
    cut = "'{\"type\": \"map\", \"data\": {\"@tcp_retr'"
    problems = [f"kernel histograms: bpftrace: on node {node}: printed a line that is not JSON: {cut}" for node in ("client-0", "server-0")]
    assert first == ([], problems) and second == ([], problems)


def test_a_log_line_without_the_kubelets_timestamp_is_a_problem_naming_the_node(api, tmp_path, tracefs, monkeypatch):
    tracer = tracer_class(tmp_path, tracefs)(make_target(api), ("tcp_retransmits",)).start(lambda text: None)
    try:
        begun = tracer.snapshot()
        monkeypatch.setattr(api.containers, "log", lambda *args: (line for line in ["unstamped\n"]))
        samples, problems = tracer.window(begun)
    finally:
        tracer.stop()
    assert samples == [] and [re.sub(r"bpftrace-\w+-(\d)", r"bpftrace-<token>-\1", problem) for problem in problems] == [
        f"kernel histograms: bpftrace: on node {node}: log of pod {tracer.target.namespace}/bpftrace-<token>-{index}: "
        "a line without the kubelet's timestamp: not an RFC 3339 time: 'unstamped'"
        for index, node in enumerate(("client-0", "server-0"))
    ]


def windows_on(api, tmp_path, tracefs, said, setting="auto"):
    return kernel.KernelWindows(setting, said.append, cluster_tracer=tracer_class(tmp_path, tracefs))


def test_a_cluster_of_ones_own_gets_privileged_pods_only_when_asked(api, tmp_path, tracefs):
    said = []
    windows = windows_on(api, tmp_path, tracefs, said)  # the default
    target = make_target(api, cloud="existing")
    assert windows.begin(target, NAMES) is None and windows.begin(target, NAMES) is None
    assert said == [
        "kernel histograms off for existing: a cluster of your own gets their privileged pods "
        "only with --telescope-kernel on (ini telescope_kernel = on)"
    ]
    assert tracer_pods(api) == {}
    asked = windows_on(api, tmp_path, tracefs, said, "on")
    samples, problems = asked.end(asked.begin(target, ("tcp_retransmits",)))
    asked.stop()
    assert problems == [] and [s.labels["node"] for s in samples] == ["client-0", "server-0"]


def test_the_session_starts_the_pods_once_per_target_and_deletes_them_at_the_end(api, tmp_path, tracefs):
    said = []
    windows = windows_on(api, tmp_path, tracefs, said)
    target = make_target(api)
    first = windows.end(windows.begin(target, ("tcp_retransmits",)))
    second = windows.end(windows.begin(target, ("tcp_retransmits",)))
    assert [s.labels["node"] for s in first[0] + second[0]] == ["client-0", "server-0"] * 2
    assert len(tracer_pods(api)) == 2 and len(said) == 2  # started once: its two lines
    windows.end(windows.begin(target, ("runqueue_latency",)))  # other programs: new pods
    assert len(tracer_pods(api)) == 2 and len([path for path in api.paths("DELETE") if "/pods/bpftrace-" in path]) == 2
    windows.stop()  # also a kept target's namespace is left without a tracer
    assert tracer_pods(api) == {} and api.containers.running() == []


def test_privileged_pods_forbidden_by_admission_is_one_line_and_no_window(api, tmp_path, tracefs):
    message = ('pods "bpftrace" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID=true), '
               'hostPath volumes (volume "tracing"), privileged (container "bpftrace" must not set securityContext.privileged=true)')
    api.pod_refusal = status_json(403, "Forbidden", message)
    said = []
    windows = windows_on(api, tmp_path, tracefs, said)
    target = make_target(api)
    assert windows.begin(target, NAMES) is None
    assert windows.begin(target, NAMES) is None  # off for this target: not tried again
    assert len(said) == 2
    assert re.fullmatch(
        rf"kernel histograms off for aks: aks cluster: create pod {target.namespace}/bpftrace-[0-9a-f]{{6}}-0: "
        rf"403 Forbidden: {re.escape(message)}",
        said[1],
    )


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError], ids=["ctrl-c", "any-other"])
def test_whatever_ends_the_pods_start_leaves_none_of_them(api, tmp_path, tracefs, monkeypatch, error):
    target = make_target(api)
    wait_started = target.wait_started
    monkeypatch.setattr(target, "wait_started", raiser(error))  # e.g. Ctrl-C during an image pull of minutes
    windows = windows_on(api, tmp_path, tracefs, [])
    with pytest.raises(error):
        windows.begin(target, NAMES)
    assert tracer_pods(api) == {} and api.containers.running() == []
    monkeypatch.setattr(target, "wait_started", wait_started)
    assert windows.end(windows.begin(target, ("tcp_retransmits",)))[0]  # a session that goes on starts them anew
    windows.stop()


def test_the_pods_a_second_ctrl_c_spared_are_deleted_when_the_session_stops(api, tmp_path, tracefs, monkeypatch):
    target = make_target(api)
    delete_pod = target.delete_pod
    monkeypatch.setattr(target, "wait_started", raiser(KeyboardInterrupt))
    monkeypatch.setattr(target, "delete_pod", raiser(KeyboardInterrupt))  # while the first pod is deleted
    windows = windows_on(api, tmp_path, tracefs, [])
    with pytest.raises(KeyboardInterrupt):
        windows.begin(target, NAMES)
    assert len(tracer_pods(api)) == 2
    monkeypatch.setattr(target, "delete_pod", delete_pod)
    windows.stop()
    assert tracer_pods(api) == {} and api.containers.running() == []


def raiser(error: type[BaseException]):
    def raises(*args):
        raise error()

    return raises


def test_a_pod_whose_creation_timed_out_after_the_api_server_made_it_is_deleted(api, tmp_path, tracefs, monkeypatch):
    target = make_target(api)
    start_node_pod = target.start_node_pod

    def made_then_timed_out(name, *args):
        start_node_pod(name, *args)
        raise ProvisionError(f"aks cluster: create pod {target.namespace}/{name}: read timed out")

    monkeypatch.setattr(target, "start_node_pod", made_then_timed_out)
    said = []
    assert windows_on(api, tmp_path, tracefs, said).begin(target, NAMES) is None
    assert said[-1].endswith("read timed out")
    assert tracer_pods(api) == {} and api.containers.running() == []


def test_a_node_without_tracefs_is_one_line_naming_it_and_no_pod_is_left(api, tmp_path):
    said = []
    windows = windows_on(api, tmp_path, tmp_path / "no-tracefs", said)
    assert windows.begin(make_target(api), NAMES) is None
    assert said[-1] == (
        "kernel histograms off for aks: bpftrace: on node client-0: exited before attaching its probes: "
        f"tracefs is not mounted at {tmp_path / 'no-tracefs'} on this node"
    )
    assert tracer_pods(api) == {}


def test_an_image_that_cannot_be_pulled_is_one_line_with_the_pods_state(api, tmp_path, tracefs):
    api.containers = None  # nothing runs: the image is not there
    api.pod_status = {
        "phase": "Pending",
        "containerStatuses": [{"name": "bpftrace", "image": IMAGE, "imageID": "", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{IMAGE}"'}}}],
    }
    said = []
    windows = windows_on(api, tmp_path, tracefs, said)
    target = make_target(api, {**BY_ROLE, "pod_ready_timeout": 0})
    assert windows.begin(target, NAMES) is None
    assert re.fullmatch(
        rf"kernel histograms off for aks: pod {target.namespace}/bpftrace-[0-9a-f]{{6}}-0 not running after 0 s: "
        rf'phase Pending; container bpftrace ImagePullBackOff: Back-off pulling image "{re.escape(IMAGE)}"',
        said[-1],
    )
    assert tracer_pods(api) == {}


def test_more_nodes_than_are_traced_is_one_line_that_says_what_to_do(api, tmp_path, tracefs):
    api.nodes = [node_json(f"n{index}") for index in range(MAX_NODES + 1)]
    said = []
    assert windows_on(api, tmp_path, tracefs, said).begin(make_target(api, {}), NAMES) is None
    assert said == [(
        f"kernel histograms off for aks: bpftrace: {MAX_NODES + 1} nodes may take the benchmark's pods, "
        f"more than the {MAX_NODES} traced: give the roles node_selectors"
    )]
    assert api.pods == {}


def test_the_local_target_is_still_traced_on_this_machine(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # its bpftrace, not a pod's
    said = []
    assert kernel.KernelWindows("on", said.append).begin(SimpleNamespace(cloud="local"), NAMES) is None
    assert said == ["kernel histograms off: bpftrace is not on PATH (Debian package bpftrace)"]
