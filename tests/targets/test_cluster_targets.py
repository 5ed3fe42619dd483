"""The benchmarks on Kubernetes targets, through the plugin, against ``FakeApiServerDouble``.

The suite is the project's own ``benchmarks/network``, unchanged: only the
target parameter differs. For ``aks``, ``FAKE_AZURE_MODULE_DOUBLE`` stands in
for ``terraform/azure`` and is applied by the real Terraform: it outputs the
fake cluster's kubeconfig and node pools as the real module does, and records
the inputs it was given and its destroy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from doubles.fake_apiserver import TOKEN, FakeApiServerDouble, namespaces_deleted, node_json

from pytest_telescope import options
from pytest_telescope.tools import clusterloader2

REPO = Path(__file__).resolve().parents[2]
AGENTPOOL = "kubernetes.azure.com/agentpool"

FAKE_AZURE_MODULE_DOUBLE = """
variable "cluster_name" { type = string }
variable "run_id" { type = string }
variable "scenario" { type = string }
variable "owner" { type = string }
variable "deletion_delay" { type = string }
variable "node_pools" { type = any }
variable "fake_kubeconfig" { type = string }
variable "fake_record" { type = string }

resource "terraform_data" "cluster" {
  input = {
    record = var.fake_record
    inputs = jsonencode({
      cluster_name = var.cluster_name, run_id = var.run_id, scenario = var.scenario,
      owner = var.owner, deletion_delay = var.deletion_delay, node_pools = var.node_pools
    })
  }
  provisioner "local-exec" {
    command = "printf '%s\\\\n' \\"$INPUTS\\" >> \\"$RECORD\\""
    environment = { INPUTS = self.input.inputs, RECORD = self.input.record }
  }
  provisioner "local-exec" {
    when    = destroy
    command = "echo destroyed >> \\"$RECORD.destroyed\\""
    environment = { RECORD = self.input.record }
  }
}

output "kubeconfig" {
  value     = var.fake_kubeconfig
  sensitive = true
}

output "node_pools" {
  value = { for pool in var.node_pools : pool.name => { count = pool.count, labels = pool.labels } }
}
"""

SAME_NODE_SUITE = """
import pytest


@pytest.mark.scenario("same_node.yaml")
def test_same_node(iperf3_run):
    iperf3_run()
"""

def aks_target(placement: str) -> dict:
    return {
        "cluster": {"node_pools": [{"name": "bench", "count": 2, "labels": {"role": "bench"}}]},
        "node_selector": {"role": "bench"},
        "placement": placement,
        "ready_timeout": 5,
    }


@pytest.fixture
def api():
    with FakeApiServerDouble() as double:
        double.nodes = [node_json(name, labels={AGENTPOOL: "bench", "role": "bench"}) for name in ("n1", "n2")]
        yield double


@pytest.fixture
def suite(benchmark_suite, api, monkeypatch):
    """benchmarks/network as it is, the fake cluster's kubeconfig, and the fake azure module."""
    pytester = benchmark_suite
    copy_suite(REPO / "benchmarks" / "network", pytester.path)
    (pytester.path / "terraform" / "azure").mkdir(parents=True)
    (pytester.path / "terraform" / "azure" / "main.tf").write_text(FAKE_AZURE_MODULE_DOUBLE)
    (pytester.path / "kubeconfig").write_text(api.kubeconfig())
    monkeypatch.setenv("TF_VAR_fake_kubeconfig", api.kubeconfig())
    monkeypatch.setenv("TF_VAR_fake_record", str(pytester.path / "applied"))
    pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    return pytester


def copy_suite(suite: Path, destination: Path) -> None:
    """A suite of benchmarks/ as it is, but for its test files' names: tests/ has modules of the same
    names, already imported in this process."""
    shutil.copytree(suite, destination, dirs_exist_ok=True)
    for test_file in destination.glob("test_*.py"):
        test_file.rename(destination / f"test_suite_{test_file.name[5:]}")


def with_aks_target(pytester, scenario: str, placement: str) -> None:
    """The scenario's aks target replaced by one on the fake cluster's pool."""
    path = pytester.path / scenario
    document = yaml.safe_load(path.read_text()) if path.exists() else {"benchmark": "iperf3", "params": {"duration": 1}}
    document.setdefault("target", {})["aks"] = aks_target(placement)
    path.write_text(yaml.safe_dump(document))


def applies(pytester) -> list[dict]:
    record = pytester.path / "applied"
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def written(pytester) -> str:
    return "".join(p.read_text(errors="replace") for p in (pytester.path / "results").rglob("*") if p.is_file())


def read_rows(pytester) -> list[dict]:
    """The rows of the benchmarks (not of the targets' provisioning)."""
    (results,) = (pytester.path / "results").glob("*/results.jsonl")
    return [row for row in map(json.loads, results.read_text().splitlines()) if row["benchmark"] != "provision"]


@pytest.mark.parametrize(
    ("kernel", "kernel_lines", "tracer_pods"),
    [
        # A cluster of one's own gets no privileged pod unless asked.
        ((), ["*kernel histograms off for existing: a cluster of your own gets their privileged pods only with --telescope-kernel on *"], 0),
        # The double runs no container: the kernel histograms cannot be read, which one line says, and the benchmark goes on.
        (
            ("--telescope-kernel", "on"),
            [
                "*kernel histograms: starting bpftrace (quay.io/iovisor/bpftrace:v0.17.0) on 2 nodes of existing: n1, n2 ...",
                "*kernel histograms off for existing: bpftrace: on node n1: log of pod telescope-*/bpftrace-*-0: 400 Bad Request: *",
            ],
            2,
        ),
    ],
    ids=["kernel-default", "kernel-on"],
)
def test_an_existing_cluster_runs_the_network_benchmark_unchanged(suite, api, kernel, kernel_lines, tracer_pods):
    result = suite.runpytest(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "-k", "test_iperf3 and parallel1 and not cross_zone", *kernel
    )

    result.assert_outcomes(passed=1)
    rows = read_rows(suite)
    throughput = next(row for row in rows if row["metric"] == "throughput_received")
    assert throughput["cloud"] == "existing" and throughput["value"] > 0
    target = throughput["target"]
    assert target["kubernetes_version"] == "v1.30.4" and set(target["endpoints"]) == {"server", "client"}
    assert namespaces_deleted(api) == [f"/api/v1/namespaces/{target['namespace']}"] and not api.namespaces
    assert TOKEN not in written(suite) + result.stdout.str()
    result.stdout.fnmatch_lines(kernel_lines)
    assert [path.rsplit("/", 1)[1][:8] for path in api.paths("DELETE") if "/pods/" in path] == ["bpftrace"] * tracer_pods


def test_clusters_are_used_only_when_asked_for(suite):
    result = suite.runpytest("-m", "not local", "-k", "test_iperf3 and parallel1 and not cross_zone", "-rs")

    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(
        ["*the aks target is used only when asked for: -m aks*", "*-m existing or --telescope-kubeconfig*"]
    )
    assert applies(suite) == []


def test_aks_is_applied_once_per_cluster_shape_and_destroyed(suite, api):
    with_aks_target(suite, "iperf3.yaml", "different-node")
    with_aks_target(suite, "same_node.yaml", "same-node")
    suite.makepyfile(test_same_node=SAME_NODE_SUITE)
    result = suite.runpytest("-m", "aks", "-k", "parallel1 and not cross_zone or same_node", "--telescope-deletion-delay", "90m")

    result.assert_outcomes(passed=2)
    (applied,) = applies(suite)  # one cluster for both scenarios: the same shape
    assert applied["cluster_name"].startswith("ts-") and applied["run_id"] in result.stdout.str()
    assert applied["deletion_delay"] == "5400s" and applied["owner"]
    assert applied["node_pools"] == [{"name": "bench", "count": 2, "labels": {"role": "bench"}}]
    namespaces = {row["target"]["namespace"] for row in read_rows(suite)}
    assert len(namespaces) == 2  # each scenario's pods in their own namespace
    assert sorted(namespaces_deleted(api)) == sorted(f"/api/v1/namespaces/{n}" for n in namespaces)
    assert (suite.path / "applied.destroyed").read_text() == "destroyed\n"
    result.stdout.fnmatch_lines(["*provision aks (node_pools=*", "*validate aks (cluster=*done in*", "*destroy aks (node_pools=*done in*"])
    assert TOKEN not in written(suite) + result.stdout.str()


def test_a_kept_cluster_reruns_one_case_without_provisioning(suite, api):
    with_aks_target(suite, "iperf3.yaml", "different-node")
    run = ["-m", "aks", "-k", "test_iperf3 and parallel1 and not cross_zone", "--telescope-run-id", "kept-1"]

    first = suite.runpytest_subprocess(*run, "--telescope-keep-target")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*targets kept: rerun cases on them with --telescope-run-id kept-1*"])
    assert namespaces_deleted(api) == [] and len(api.namespaces) == 1
    # Terraform ran on the target's copy of the module, which a later destroy uses: nothing was written
    # beside the module itself.
    (module_record,) = (suite.path / ".telescope" / "kept-1").glob("*/module")
    assert Path(module_record.read_text()) == module_record.parent / "terraform" / "azure"
    assert (module_record.parent / "terraform" / "azure" / "main.tf").read_text() == FAKE_AZURE_MODULE_DOUBLE
    assert sorted(p.name for p in (suite.path / "terraform").rglob("*")) == ["azure", "main.tf"]
    again = suite.runpytest_subprocess(*run)
    again.assert_outcomes(passed=1)
    assert len(applies(suite)) == 1  # no second apply, no second validation
    assert "provision aks" not in again.stdout.str() and "validate aks" not in again.stdout.str()
    assert not api.namespaces and (suite.path / "applied.destroyed").exists()


def test_a_not_ready_node_fails_validation_with_its_conditions(suite, api):
    api.nodes = [node_json("n1", labels={"role": "bench"}), node_json("n2", ready=False, labels={"role": "bench"})]
    scenario = suite.path / "iperf3.yaml"
    document = yaml.safe_load(scenario.read_text())
    document["target"]["existing"] = {"ready_timeout": 0.1, "node_pools": {"bench": {"count": 2, "labels": {"role": "bench"}}}}
    scenario.write_text(yaml.safe_dump(document))
    result = suite.runpytest("-m", "existing", "--telescope-kubeconfig", "kubeconfig", "-k", "test_iperf3 and parallel and not cross_zone")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*existing cluster: not ready for benchmarks after 0.1 s:*",
        "*n2: Ready=False (KubeletNotReady: PLEG is not healthy)*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_telescope_cleanup_destroys_a_kept_cluster(suite, api):
    with_aks_target(suite, "iperf3.yaml", "different-node")
    suite.runpytest_subprocess(
        "-m", "aks", "-k", "test_iperf3 and parallel1 and not cross_zone", "--telescope-run-id", "kept-2", "--telescope-keep-target"
    ).assert_outcomes(passed=1)

    cleanup = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--run-id", "kept-2"],
        cwd=suite.path, capture_output=True, text=True, timeout=120,
    )

    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert (suite.path / "applied.destroyed").exists() and not api.namespaces
    assert not (suite.path / ".telescope" / "kept-2").exists()


def collected(marker: str) -> set[str]:
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/", "-m", marker, "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    ).stdout
    return {line.replace(f"[{marker}-", "[<cloud>-") for line in listing.splitlines() if "::" in line}


def test_every_cloud_lists_the_local_cases_and_the_clusters_share_theirs():
    local = collected("local")
    local_only = {case for case in local if "test_iperf3_shaped" in case}  # tc shaping of the veth pair
    clusters = {marker: collected(marker) for marker in ("aks", "eks", "gke", "existing")}

    assert local_only and local - local_only
    for cases in clusters.values():
        assert local - local_only <= cases and not local_only & cases
    cross_zone = {case for case in clusters["aks"] if "test_iperf3_cross_zone" in case}  # AKS zone names
    assert cross_zone and clusters["aks"] - cross_zone == clusters["eks"] == clusters["gke"]
    # An existing cluster has no autoscaled pool of ours, nor a module to add a pool with.
    made_by_a_module = {case for case in clusters["eks"] if "test_cl2_autoscale" in case or "test_node_pool_crud" in case}
    assert clusters["existing"] == clusters["eks"] - made_by_a_module
    assert {case for case in clusters["aks"] if "test_node_pool_crud" in case} == {
        "benchmarks/kubernetes/test_cluster_crud.py::test_node_pool_crud[<cloud>-one-to-three-nodes]",
        "benchmarks/kubernetes/test_cluster_crud.py::test_node_pool_crud[<cloud>-zero-to-two-nodes]",
    }


@pytest.fixture
def cl2_suite(pytester, api, monkeypatch):
    """benchmarks/kubernetes as it is, on the fake cluster, with the clusterloader2 test double."""
    copy_suite(REPO / "benchmarks" / "kubernetes", pytester.path)
    (pytester.path / "kubeconfig").write_text(api.kubeconfig())
    pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    return pytester


def cl2_run(pytester, *args: str):
    fake = REPO / "tests" / "doubles" / "fake_clusterloader2"
    return pytester.runpytest(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "--telescope-cl2-binary", str(fake),
        f"--basetemp={pytester.path / 'tmp'}", *args,
    )


def test_clusterloader2_suite_runs_on_a_cluster_of_ones_own(cl2_suite, monkeypatch):
    monkeypatch.setenv("FAKE_CL2_REPORT", str(REPO / "tests" / "data" / "clusterloader2" / "pod-startup"))
    result = cl2_run(cl2_suite, "-k", "pod_startup and memory-pods_per_node10")

    result.assert_outcomes(passed=1)
    rows = read_rows(cl2_suite)
    startup = next(row for row in rows if row["metric"] == "pod_startup_p99")
    assert startup["unit"] == "ms" and startup["slo"]["verdict"] == "pass" and startup["cloud"] == "existing"
    (call,) = (cl2_suite.path).rglob("fake-clusterloader2-call.json")
    argv = json.loads(call.read_text())["argv"]
    assert "--provider=skeleton" in argv  # CL2's generic provider: the cluster is no cloud's


def test_a_missing_clusterloader2_binary_is_named_with_the_option(cl2_suite):
    result = cl2_suite.runpytest(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "--telescope-cl2-binary", "clusterloader2-none",
        "-k", "pod_startup and memory-pods_per_node10",
    )

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*clusterloader2-none: not found on PATH; install it or pass --telescope-cl2-binary PATH*"])


def test_kwok_nodes_need_a_kubernetes_target(pytester):
    pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    pytester.makepyfile("def test_virtual_nodes(target, kwok_nodes):\n    kwok_nodes(3, cpu=32, memory='256Gi', pods=110)\n")

    result = pytester.runpytest("-m", "local", "-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*kwok virtual nodes need a Kubernetes target (aks, eks, gke, existing)*"])


def test_under_xdist_the_workers_share_the_cluster_and_its_namespace(suite, api):
    result = suite.runpytest_subprocess(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "-k", "test_iperf3 and tcp", "-n", "2"
    )

    result.assert_outcomes(passed=3)
    rows = read_rows(suite)
    assert {row["case"] for row in rows} == {"tcp-parallel1", "tcp-parallel4", "tcp-reverse"}
    (namespace,) = {row["target"]["namespace"] for row in rows}
    created = {body["metadata"]["name"] for method, path, body in api.requests if (method, path) == ("POST", "/api/v1/namespaces")}
    assert created == {namespace} and not api.namespaces
    assert namespaces_deleted(api) == [f"/api/v1/namespaces/{namespace}"]  # by the controller, once


def test_an_api_call_latency_above_its_upstream_slo_fails_the_cl2_test_with_the_numbers(cl2_suite, monkeypatch, tmp_path):
    report = tmp_path / "load-report"
    shutil.copytree(REPO / "tests" / "data" / "clusterloader2" / "load", report)
    (path,) = report.glob("APIResponsivenessPrometheus_load_*.json")
    recorded = json.loads(path.read_text())
    (binding,) = [item for item in recorded["dataItems"] if item["labels"]["Subresource"] == "binding"]
    binding["data"]["Perc99"] = 1532.4  # CL2's SLO for scope=resource calls is 1 s: a default of the suite
    path.write_text(json.dumps(recorded))
    monkeypatch.setenv("FAKE_CL2_REPORT", str(report))

    result = cl2_run(cl2_suite, "-k", "cl2_load and pods_per_node10")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*1 SLO violation: api_call_latency_p99_resource * subresource=binding verb=POST = 1532.4 ms, expected <= 1 s",
    ])
    verdicts = {row["slo"]["verdict"] for row in read_rows(cl2_suite) if row["metric"] == "api_call_latency_p99_resource"}
    assert verdicts == {"pass", "fail"}


def test_clusterloader2_suite_runs_from_the_pinned_image(cl2_suite, monkeypatch, tmp_path):
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    (runtimes / "docker").symlink_to(REPO / "tests" / "doubles" / "fake_docker")
    monkeypatch.setenv("PATH", f"{runtimes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CL2_REPORT", str(REPO / "tests" / "data" / "clusterloader2" / "pod-startup"))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker-calls.jsonl"))
    result = cl2_suite.runpytest(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "--telescope-cl2-image", "pinned",
        "--telescope-cl2-binary", "clusterloader2-none", "-k", "pod_startup and memory-pods_per_node10",
    )

    result.assert_outcomes(passed=1)  # no binary needed
    assert any(row["metric"] == "pod_startup_p99" for row in read_rows(cl2_suite))
    (call,) = [json.loads(line) for line in (tmp_path / "docker-calls.jsonl").read_text().splitlines()]
    assert call[0] == "run" and clusterloader2.DEFAULT_IMAGE in call


def test_a_failure_that_shows_the_kubeconfig_keeps_its_token_out_of_every_report(suite, api):
    suite.makepyfile(test_leaky="""
def test_leaky(target):
    assert "nothing" in open(target.kubeconfig).read()
""")
    (suite.path / "test_leaky.py").write_text((suite.path / "test_leaky.py").read_text().replace(
        "def test_leaky(target):", "import pytest\n\n@pytest.mark.scenario('iperf3.yaml')\ndef test_leaky(target, record_samples):"))
    result = suite.runpytest_subprocess(
        "-m", "existing", "--telescope-kubeconfig", "kubeconfig", "-k", "test_leaky", "-n", "2", "-p", "xdist"
    )

    result.assert_outcomes(failed=1)
    assert "[REDACTED]" in result.stdout.str()  # the failure was shown, without the token
    (junit,) = (suite.path / "results").glob("*/junit.xml")
    assert "[REDACTED]" in junit.read_text()
    assert TOKEN not in junit.read_text() + written(suite) + result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(("cluster", "message"), [
    ({"node_pool": []}, "*target.aks.cluster.node_pool: not a variable of *azure (it has: cluster_name, deletion_delay, *)*"),
    ({"run_id": "mine"}, "*target.aks.cluster.run_id: set by the plugin for every run, not by a scenario*"),
])
def test_a_cluster_input_the_module_does_not_take_fails_before_any_apply(suite, cluster, message):
    with_aks_target(suite, "iperf3.yaml", "different-node")
    document = yaml.safe_load((suite.path / "iperf3.yaml").read_text())
    document["target"]["aks"]["cluster"].update(cluster)
    (suite.path / "iperf3.yaml").write_text(yaml.safe_dump(document))

    result = suite.runpytest("-m", "aks", "-k", "test_iperf3 and parallel1 and not cross_zone")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])
    assert applies(suite) == []


def test_a_rerun_on_a_kept_target_tries_again_what_failed_before(suite, api):
    ready, not_ready = node_json("n2", labels={"role": "bench"}), node_json("n2", ready=False, labels={"role": "bench"})
    api.nodes = [node_json("n1", labels={"role": "bench"}), not_ready]
    scenario = suite.path / "iperf3.yaml"
    scenario.write_text(scenario.read_text().replace("target:\n", "target:\n  existing: {ready_timeout: 0.1, node_pools: {bench: {count: 2, labels: {role: bench}}}}\n", 1))
    run = ["-m", "existing", "--telescope-kubeconfig", "kubeconfig", "-k", "test_iperf3 and parallel1", "--telescope-run-id", "again-1"]

    suite.runpytest_subprocess(*run, "--telescope-keep-target").assert_outcomes(errors=1)
    api.nodes[1] = ready
    suite.runpytest_subprocess(*run).assert_outcomes(passed=1)


@pytest.mark.parametrize("ini, args, expected", [
    ("", [], None),
    ("telescope_kubeconfig = from-ini\n", [], "from-ini"),
    ("telescope_kubeconfig = from-ini\n", ["--telescope-kubeconfig", "given"], "given"),
    ("", ["--telescope-kubeconfig"], ""),  # the bare option: $KUBECONFIG
])
def test_the_kubeconfig_is_an_option_and_an_ini_key(pytester, ini, args, expected):
    pytester.makeini("[pytest]\n" + ini)

    assert options.kubeconfig(pytester.parseconfig(*args)) == expected

