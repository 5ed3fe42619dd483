"""The Kubernetes target's pods, exec, metadata and kubeconfig through the real kubernetes client,
against ``FakeApiServerDouble`` (its nodes: test_kubernetes_nodes.py).

Exec, exit statuses, timeouts and killing run for real on this machine;
placement is checked on the pod manifests the target sends.
"""

from __future__ import annotations

import importlib.util
import json
import re
import stat
import time
from pathlib import Path

import pytest
from doubles.fake_apiserver import TOKEN, FakeApiServerDouble, namespaces_deleted, node_json

from pytest_telescope.errors import ProvisionError, ToolError
from pytest_telescope.scenario import Case
from pytest_telescope.targets.kubernetes.api import load_client
from pytest_telescope.targets.kubernetes.pod_exec import KILL_SCRIPT
from pytest_telescope.targets.kubernetes.providers import connect, connect_existing, resolve_kubeconfig, teardown
from pytest_telescope.targets.kubernetes.target import KubernetesTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def api():
    with FakeApiServerDouble() as double:
        yield double


def make_target(api, settings=None, *, cloud="aks", node_pools=None, tmp_path=None, **kwargs) -> KubernetesTarget:
    return KubernetesTarget(
        api.api_client(), cloud, settings or {}, "20261123T122302Z-dc5148",
        kubeconfig="/nonexistent/kubeconfig", node_pools=node_pools, poll_interval=0,
        **({"pid_dir": str(tmp_path)} if tmp_path else {}), **kwargs,
    )


# --- pods ----------------------------------------------------------------------------------


def test_endpoints_create_the_namespace_and_placed_pods(api):
    api.nodes = [node_json("n1")]
    target = make_target(api, {"placement": "different-zone", "host_network": True, "node_selector": {"role": "bench"}})
    server, client_ = target.endpoints("server", "client")
    namespace = target.namespace
    assert re.fullmatch(r"telescope-20261123t122302z-dc5148-[0-9a-f]{8}", namespace)
    assert api.paths("POST") == ["/api/v1/namespaces", f"/api/v1/namespaces/{namespace}/pods", f"/api/v1/namespaces/{namespace}/pods"]
    client_pod = api.pods[(namespace, "client")]
    rule = client_pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert rule["topologyKey"] == "topology.kubernetes.io/zone"
    assert rule["labelSelector"]["matchLabels"].items() <= api.pods[(namespace, "server")]["metadata"]["labels"].items()
    assert "affinity" not in api.pods[(namespace, "server")]["spec"]
    assert client_pod["spec"]["hostNetwork"] is True and client_pod["spec"]["nodeSelector"] == {"role": "bench"}
    assert (server.address, server.node, server.scratch_dir) == ("127.0.0.1", "n1", "/scratch")
    assert target.endpoint("client") is client_  # created once


def test_same_node_creates_the_server_first_even_when_only_the_client_is_asked_for(api):
    target = make_target(api, {"placement": "same-node"})
    target.endpoint("client")
    pods = [path.rsplit("/", 1)[1] for path in api.paths("GET") if "/pods/" in path]
    assert pods == ["server", "client"]
    assert [name for _, name in api.pods] == ["server", "client"]


def test_a_pvc_of_the_storage_class_is_made_per_pod(api):
    target = make_target(api, {"storage": "pvc", "storage_class": "managed-csi-premium", "storage_size": "64Gi"})
    target.endpoint("client")
    claim = api.pvcs[(target.namespace, "scratch-client")]
    assert claim["spec"]["storageClassName"] == "managed-csi-premium"
    assert claim["spec"]["resources"]["requests"]["storage"] == "64Gi"
    volume = api.pods[(target.namespace, "client")]["spec"]["volumes"][0]
    assert volume == {"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch-client"}}


def test_pods_another_worker_created_are_taken_as_they_are(api):
    first, second = make_target(api), make_target(api)
    first.endpoint("server")
    assert second.endpoint("server").address == "127.0.0.1"
    assert len(api.pods) == 1


def test_a_pod_that_never_runs_says_why(api):
    api.pod_status = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."}],
        "containerStatuses": [{"name": "iperf3", "image": "x", "imageID": "", "ready": False, "restartCount": 0,
                               "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}],
    }
    target = make_target(api, {"pod_ready_timeout": 0})
    with pytest.raises(ProvisionError) as error:
        target.endpoint("server")
    assert str(error.value) == (
        f"pod {target.namespace}/server not running after 0 s: phase Pending; PodScheduled: Unschedulable: "
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.; "
        "container iperf3 ImagePullBackOff: Back-off pulling image"
    )


def test_unknown_role(api):
    with pytest.raises(ProvisionError, match=r"the aks target has no 'database' endpoint \(it has server, client\)"):
        make_target(api).endpoint("database")


def test_teardown_deletes_the_namespace_and_tolerates_it_gone(api):
    target = make_target(api)
    target.endpoint("server")
    target.teardown()
    assert namespaces_deleted(api) == [f"/api/v1/namespaces/{target.namespace}"]
    target.teardown()  # already gone: not an error
    assert api.namespaces == set()


# --- exec ----------------------------------------------------------------------------------


@pytest.fixture
def server(api, tmp_path):
    return make_target(api, tmp_path=tmp_path).endpoint("server")


def test_run_returns_status_stdout_and_stderr_of_the_container_named_after_the_program(server, api):
    completed = server.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (completed.returncode, completed.stdout, completed.stderr) == (3, "out\n", "err\n")
    assert completed.argv == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    server.run(["fio", "--version"])
    assert [e["container"] for e in api.execs] == ["iperf3", "fio"]


def test_run_with_check_raises_with_the_status_and_output(server):
    with pytest.raises(ToolError) as error:
        server.run(["sh", "-c", "echo disk full >&2; exit 5"])
    assert str(error.value) == "sh -c echo disk full >&2; exit 5: exited with status 5 on server\n    disk full"


def test_argv_reaches_the_program_as_arguments_never_as_shell_text(server, tmp_path):
    marker = tmp_path / "injected"
    completed = server.run(["printf", "%s|", "a b", f"$(touch {marker})", "'q'", "*"])
    assert completed.stdout == f"a b|$(touch {marker})|'q'|*|"
    assert not marker.exists()


def test_a_command_past_its_timeout_is_killed_in_the_pod(server, api):
    with pytest.raises(ToolError, match=r"sleep 30: did not finish within 1 s on server"):
        server.run(["sleep", "30"], timeout=1)
    sleeper = api.execs[0]["process"]
    assert sleeper.wait(timeout=10) == 128 + 15  # the wrapper's status: its command ended by SIGTERM from the kill script
    assert api.execs[1]["command"][:2] == ["sh", "-c"] and api.execs[1]["command"][2] == KILL_SCRIPT


def test_a_command_that_cannot_start_is_a_tool_error(server, api):
    api.exec_failure = 'failed to exec in container: exec: "iperf3": executable file not found in $PATH'
    with pytest.raises(ToolError, match=r"could not run in pod .*/server, container iperf3: failed to exec in container"):
        server.run(["iperf3", "--version"])


def test_a_background_server_runs_until_the_block_ends_then_is_killed(server, api):
    port = server.free_port()
    with server.start(["iperf3", "-s", "-p", str(port), "-B", "127.0.0.1"]) as process:
        server.wait_listening(process, port)
        assert process.running()
        assert port in server.listening_ports()
    iperf3 = next(e for e in api.execs if "iperf3" in e["command"])
    iperf3["process"].wait(timeout=10)  # ended: TimeoutExpired otherwise
    kill = next(e["command"] for e in api.execs if KILL_SCRIPT in e["command"])
    assert kill[-1] == iperf3["command"][4]  # by the pid file the server wrote
    assert port not in server.listening_ports()


def test_a_server_that_dies_is_reported_with_its_output(server):
    with server.start(["sh", "-c", "echo cannot bind >&2; exit 1"]) as process:
        with pytest.raises(ToolError, match=r"exited before it listened\n    cannot bind"):
            server.wait_listening(process, 5999)


def test_no_pid_file_stays_behind_however_a_command_ends(server, tmp_path):
    server.run(["true"])
    server.run(["sh", "-c", "exit 4"], check=False)
    with pytest.raises(ToolError, match=r"did not finish within 1 s"):
        server.run(["sleep", "30"], timeout=1)
    with server.start(["sleep", "30"]):
        pass
    with server.start(["true"]) as process:
        while process.running():
            time.sleep(0.05)
    assert list(tmp_path.glob("telescope-*.pid")) == []


def load_benchmark(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_iperf3_benchmark_runs_unchanged_on_pods(api, tmp_path):
    """The network benchmarks' own function (the repository's conftest.py), through exec on this machine's loopback."""
    api.nodes = [node_json("n1"), node_json("n2")]
    target = make_target(api, tmp_path=tmp_path)
    target.validate()
    samples = []
    load_benchmark("conftest.py").measure_iperf3(target, Case("tcp", {"duration": 1}), samples.extend)
    measured = {sample.metric: sample for sample in samples}
    assert measured["throughput_received"].value > 0
    assert measured["throughput_received"].unit == "Mbit/s"
    assert target.metadata["endpoints"]["server"]["kubelet"] == "v1.30.4"


# --- metadata, kubeconfig, secrets ---------------------------------------------------------


def test_metadata_has_versions_and_placement_only(api):
    api.nodes = [node_json("n1"), node_json("n2")]
    target = make_target(api, {"placement": "different-node", "image_registry": "mirror.example.com/bench"})
    target.endpoint("server")
    metadata = target.metadata
    assert metadata["kubernetes_version"] == "v1.30.4"
    assert metadata["nodes"] == {"count": 2, "os_image": ["Ubuntu 22.04.4 LTS"], "kernel": ["5.15.0-1068-azure"],
                                 "kubelet": ["v1.30.4"], "container_runtime": ["containerd://1.7.20"]}
    assert metadata["images"]["iperf3"] == "mirror.example.com/bench/nicolaka/netshoot:v0.13"
    assert metadata["endpoints"]["server"]["node"] == "n1"
    json.dumps(metadata)  # goes into every result row


def test_connect_writes_the_kubeconfig_privately_and_keeps_it_out_of_everything(api, tmp_path):
    api.nodes = [node_json("n1"), node_json("n2")]
    directory = tmp_path / "target"
    target = connect({"kubeconfig": api.kubeconfig(), "node_pools": {}}, cloud="gke", settings={},
                         run_id="run-1", directory=directory)
    target.validate()
    kubeconfig = Path(target.kubeconfig)
    assert kubeconfig == directory / "kubeconfig" and kubeconfig.read_text() == api.kubeconfig()
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600 and stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert api.authorization == {f"Bearer {TOKEN}"}  # the client authenticated with it
    record = (directory / "kubernetes.json").read_text()
    for text in (record, json.dumps(target.metadata), target.describe()):
        assert TOKEN not in text


def test_a_broken_kubeconfig_is_named_and_never_shown(tmp_path):
    broken = tmp_path / "kubeconfig"
    broken.write_text(f"users:\n- name: admin\n  user: {{token: {TOKEN}\n")
    with pytest.raises(ProvisionError) as error:
        load_client(broken)
    assert str(error.value) == f"kubeconfig {broken}: not valid YAML at line 4"
    assert error.value.__cause__ is None and error.value.__context__ is not None  # shown without the chain
    no_context = tmp_path / "empty-context"
    no_context.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "users": [{"name": "u", "user": {"token": TOKEN}}]}))
    with pytest.raises(ProvisionError) as error:
        load_client(no_context)
    assert str(error.value).startswith(f"kubeconfig {no_context}: cannot load it: ")
    assert TOKEN not in str(error.value)


def test_bring_your_own_cluster_from_kubeconfig_and_teardown_from_the_record(api, tmp_path):
    api.nodes = [node_json("n1"), node_json("n2")]
    path = tmp_path / "byo.yaml"
    path.write_text(api.kubeconfig())
    directory = tmp_path / "target"
    target = connect_existing(None, settings={}, run_id="run-2", directory=directory, environ={"KUBECONFIG": str(path)})
    assert (target.cloud, target.kubeconfig) == ("existing", str(path))
    target.validate()
    target.endpoint("client")
    teardown(directory)  # as the process that owns the run does, without the target object
    assert namespaces_deleted(api) == [f"/api/v1/namespaces/{target.namespace}"]
    assert api.deleted_node_selectors == [{"telescope/run-id": "run-2", "type": "kwok"}]  # the run's kwok nodes


def test_which_kubeconfig(tmp_path):
    given = tmp_path / "given"
    given.write_text("{}")
    assert resolve_kubeconfig(str(given), {"KUBECONFIG": "/elsewhere"}) == given
    assert resolve_kubeconfig(None, {"KUBECONFIG": str(given)}) == given
    with pytest.raises(ProvisionError, match=r"KUBECONFIG lists several files"):
        resolve_kubeconfig(None, {"KUBECONFIG": f"{given}:{given}"})
    with pytest.raises(ProvisionError, match=r"kubeconfig .*missing \(from --telescope-kubeconfig\): no such file"):
        resolve_kubeconfig(str(tmp_path / "missing"), {})


def test_teardown_of_an_unreachable_cluster_is_one_line_naming_the_namespace(api, tmp_path):
    api.nodes = [node_json("n1"), node_json("n2")]
    path = tmp_path / "byo.yaml"
    path.write_text(api.kubeconfig())
    directory = tmp_path / "target"
    target = connect_existing(str(path), settings={}, run_id="run-3", directory=directory)
    api.__exit__(None, None, None)  # the API server goes away before the end of the run

    with pytest.raises(ProvisionError) as error:
        teardown(directory)

    assert str(error.value).startswith(f"delete namespace {target.namespace}: ")
    assert "\n" not in str(error.value)
