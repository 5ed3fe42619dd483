"""The Kubernetes target on a real cluster. Skipped unless ``--telescope-kubeconfig`` is given.

    pytest tests/targets/test_cluster_integration.py --telescope-kubeconfig PATH

Everything is created in one namespace, ``telescope-it-...``, deleted at the
end. With two or more schedulable nodes the pods go on different nodes,
else on the same one. ``TELESCOPE_IMAGE_REGISTRY`` moves the images to a
mirror (air-gapped clusters). See docs/kubernetes.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from pytest_telescope.errors import ProvisionError, ToolError
from pytest_telescope.measure.kernel.pods import ClusterTracer
from pytest_telescope.scenario import Case
from pytest_telescope.targets.kubernetes.providers import connect_existing, teardown

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]


def load_benchmark(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kubeconfig(request) -> str | None:
    given = request.config.getoption("telescope_kubeconfig", default=None)
    if given is None:
        pytest.skip("needs a Kubernetes cluster: pass --telescope-kubeconfig PATH (see docs/kubernetes.md)")
    return given or None  # an empty value means $KUBECONFIG


def settings(**more) -> dict:
    registry = os.environ.get("TELESCOPE_IMAGE_REGISTRY")
    return {"ready_timeout": 120, "pod_ready_timeout": 300, **({"image_registry": registry} if registry else {}), **more}


@pytest.fixture(scope="module")
def cluster(kubeconfig, tmp_path_factory):
    # not named `target`: the plugin parametrizes that fixture name by cloud
    directory = tmp_path_factory.mktemp("cluster")
    probe = connect_existing(kubeconfig, settings=settings(), run_id="it-probe", directory=directory)
    placement = "different-node" if sum(1 for node in probe.nodes() if node.usable) >= 2 else "same-node"
    run_id = f"it-{secrets.token_hex(3)}"
    found = connect_existing(kubeconfig, settings=settings(placement=placement), run_id=run_id, directory=directory)
    found.validate()
    try:
        yield found
    finally:
        found.teardown()


def test_metadata_names_versions_and_no_credential(cluster):
    cluster.endpoint("server")
    metadata = cluster.metadata
    assert metadata["kubernetes_version"].startswith("v")
    assert metadata["nodes"]["kubelet"] and metadata["endpoints"]["server"]["node"]
    users = yaml.safe_load(Path(cluster.kubeconfig).read_text()).get("users") or []
    credentials = [v for user in users for v in (user.get("user") or {}).values() if isinstance(v, str) and len(v) > 8]
    shown = json.dumps(metadata) + cluster.describe()
    assert not [c for c in credentials if c in shown]


def test_exec_gives_status_output_and_arguments_as_they_are(cluster):
    (client,) = cluster.endpoints("client")
    completed = client.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (completed.returncode, completed.stdout, completed.stderr) == (3, "out\n", "err\n")
    assert client.run(["printf", "%s|", "a b", "$(id)", "*"]).stdout == "a b|$(id)|*|"


def test_a_command_past_its_timeout_is_killed(cluster):
    (client,) = cluster.endpoints("client")
    with pytest.raises(ToolError, match="did not finish within 2 s"):
        client.run(["sleep", "97"], timeout=2)
    processes = client.run(["sh", "-c", 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline"; echo; done']).stdout
    assert "sleep 97" not in processes


def test_the_iperf3_benchmark_between_pods(cluster):
    samples = []
    load_benchmark("conftest.py").measure_iperf3(cluster, Case("tcp", {"duration": 3}), samples.extend)
    received = next(s for s in samples if s.metric == "throughput_received")
    assert received.value > 0


def test_the_fio_benchmark_on_the_pod_scratch_volume(cluster):
    samples = []
    case = Case("randread-4k", {"rw": "randread", "block_size": "4k", "size": "64M", "runtime": 3})
    load_benchmark("benchmarks/storage/test_fio.py").test_fio(cluster, case, samples.extend)
    assert next(s for s in samples if s.metric == "read_iops").value > 0


def test_kernel_histograms_from_a_bpftrace_pod_per_node(cluster):
    """The pinned bpftrace image, privileged, on each node a pod may go to: needs a namespace where
    privileged pods are admitted (not GKE Autopilot's, nor one enforcing PodSecurity baseline)."""
    (client_,) = cluster.endpoints("client")
    said = []
    try:
        tracer = ClusterTracer(cluster, ("runqueue_latency", "tcp_retransmits")).start(said.append)
    except ProvisionError as error:
        if "403 Forbidden" in str(error):
            pytest.skip(f"privileged pods are not admitted here: {error}")
        raise
    try:
        begun = tracer.snapshot()
        client_.run(["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
        samples, problems = tracer.window(begun)
    finally:
        assert tracer.stop() == []
    assert problems == [], said
    client_labels = {"role": "client", "node": cluster.endpoint_nodes()["client"]}
    counted = next(s for s in samples if s.metric == "runqueue_latency_count" and s.labels == client_labels)
    assert counted.value > 0 and counted.histogram["buckets"]


def test_teardown_deletes_the_namespace(kubeconfig, tmp_path):
    run_id = f"it-{secrets.token_hex(3)}"
    target = connect_existing(kubeconfig, settings=settings(placement="same-node"), run_id=run_id, directory=tmp_path)
    target.endpoint("server")
    teardown(tmp_path)
    try:
        phase = target.core.read_namespace(target.namespace).status.phase
    except client.ApiException as error:
        assert error.status == 404
    else:
        assert phase == "Terminating"
