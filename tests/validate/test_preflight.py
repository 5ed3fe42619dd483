"""The preflight: every shipped suite fits its clusters, and each way a shape can misfit is caught
offline, in well under a second, with a message that names the fix.

The misfit cases are the defects a cloud would have shown only after an apply: no shape at all,
runkperf's default affinities, an autoscale suite without an autoscaled pool, gp2 on EKS without
the EBS CSI driver, CL2's NetworkProgrammingLatency without its threshold, a pool too small."""

from __future__ import annotations

import copy
import re
import shutil
import time
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions

from pytest_telescope import cli, scenario
from pytest_telescope.tools import cluster_crud
from pytest_telescope.validate import preflight

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted(path for directory in ("kubernetes", "network", "storage") for path in (ROOT / "benchmarks" / directory).glob("*.yaml"))
TERRAFORM_DIR = ROOT / "pytest_telescope" / "terraform"
PARSE_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)


def write_suite(tmp_path: Path, document: dict, name: str = "suite.yaml") -> scenario.Scenario:
    """The suite in ``tmp_path``, beside a copy of the shipped CL2 configs."""
    shutil.copytree(ROOT / "benchmarks/kubernetes/clusterloader2", tmp_path / "clusterloader2", dirs_exist_ok=True)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return scenario.load(path)


def timed_check(suite: scenario.Scenario, cloud: str, **options) -> list[preflight.Misfit]:
    start = time.perf_counter()
    misfits = preflight.check(suite, cloud, **options)
    assert time.perf_counter() - start < 0.5, "preflight must take well under a second"
    return misfits


def only(misfits: list[preflight.Misfit]) -> str:
    assert len(misfits) == 1, [str(m) for m in misfits]
    return str(misfits[0])


def shipped(name: str) -> dict:
    """A shipped suite of benchmarks/kubernetes, as a document to change."""
    return yaml.safe_load((ROOT / "benchmarks/kubernetes" / name).read_text())


def cl2_on_one_pool(tmp_path: Path, cloud: str, machine_size: str, params: dict) -> scenario.Scenario:
    """A CL2 suite on three ``machine_size`` nodes of the pool ``bench``, beside the tainted system pool."""
    return write_suite(tmp_path, {
        "benchmark": "clusterloader2", "clouds": [cloud],
        "target": {cloud: {"cluster": {"system_pool": SYSTEM_ONLY, "node_pools": [{"name": "bench", "count": 3, "machine_size": machine_size}]}}},
        "params": params,
    })


# A system pool tainted for the cloud's add-ons, so that CL2 loads the suite's pools only.
SYSTEM_ONLY = {"critical_addons_only": True}
IPERF3 = {
    "benchmark": "iperf3",
    "clouds": ["aks", "eks"],
    "target": {
        "aks": {
            "cluster": {"node_pools": [{"name": "server", "count": 1, "machine_size": "Standard_D4s_v5", "labels": {"role": "server"}},
                                       {"name": "client", "count": 1, "machine_size": "Standard_D4s_v5", "labels": {"role": "client"}}]},
            "node_selectors": {"server": {"role": "server"}, "client": {"role": "client"}},
            "placement": "different-zone",
        },
    },
}


@pytest.mark.parametrize("path", SUITES, ids=lambda path: path.name)
def test_every_shipped_suite_fits_each_of_its_clouds(path):
    suite = scenario.load(path)
    clouds = [cloud for cloud in preflight.CLUSTER_CLOUDS if cloud in suite.clouds]
    for cloud in clouds:
        assert not timed_check(suite, cloud), "\n".join(str(m) for m in preflight.check(suite, cloud))


def test_every_cluster_suite_declares_its_shape_on_aks_eks_and_gke():
    for path in SUITES:
        suite = scenario.load(path)
        for cloud in preflight.CLUSTER_CLOUDS:
            if cloud in suite.clouds and suite.benchmark != "cluster_crud":  # that one makes its pool itself
                assert suite.target_settings(cloud).get("cluster", {}).get("node_pools"), f"{path.name}: no {cloud} node pools"


CLUSTER_CRUD = {
    "benchmark": "cluster_crud",
    "clouds": ["aks", "gke"],
    "target": {"aks": {"cluster": {"node_pools": [{"name": "crud", "count": 1, "machine_size": "Standard_D4s_v5"}]}}},
    "params": {"gke_machine_size": "e2-giant-7"},
}


def test_the_cluster_crud_pool_needs_a_name_of_its_own_in_the_cluster(tmp_path):
    message = only(timed_check(write_suite(tmp_path, CLUSTER_CRUD), "aks"))
    assert message == (
        "suite.yaml on aks, pool crud: the cluster has a pool of that name, and the test creates and deletes its own; "
        "fix: give the case's pool another name"
    )
    assert not timed_check(write_suite(tmp_path, {**CLUSTER_CRUD, "params": {"pool": "churn"}}, "churn.yaml"), "aks")


def test_the_cluster_crud_pool_needs_a_machine_size_the_facts_know(tmp_path):
    message = only(timed_check(write_suite(tmp_path, CLUSTER_CRUD), "gke"))
    assert message.startswith("suite.yaml on gke, pool crud: machine size e2-giant-7 is not in cluster_facts.yaml; fix: add its vCPUs")


def test_the_cluster_crud_suites_own_cluster_is_checked_too(tmp_path):
    suite = {**CLUSTER_CRUD, "target": {"aks": {"cluster": {"system_pool": {"machine_size": "Standard_Q9"}, "node_pools": []}}}}
    message = only(timed_check(write_suite(tmp_path, suite), "aks"))
    assert message.startswith("suite.yaml on aks, pool system: machine size Standard_Q9 is not in cluster_facts.yaml; fix: add its vCPUs")


def test_a_suite_without_a_shape_misfits(tmp_path):
    """Defect 1: a CL2 suite with no target got the module's single system node."""
    suite = write_suite(tmp_path, {"benchmark": "clusterloader2", "clouds": ["eks"], "params": {"testconfig": "load/config.yaml"}})
    message = only(timed_check(suite, "eks"))
    assert message.startswith("suite.yaml on eks: no node pools declared")
    assert "fix: declare target.eks.cluster.node_pools" in message


def test_a_pool_that_takes_too_few_pods_misfits(tmp_path):
    """30 pods per node on m6i.large, which takes 29 pods with the VPC CNI."""
    suite = cl2_on_one_pool(tmp_path, "eks", "m6i.large", {"testconfig": "load/config.yaml", "pods_per_node": 30})
    message = only(timed_check(suite, "eks"))
    assert "pool bench: 30 pods per node, and a m6i.large node takes 25 besides the system DaemonSets (29 in all)" in message
    assert "fix: fewer pods_per_node or a machine size that takes more pods" in message


def test_a_pool_without_the_cpu_misfits(tmp_path):
    """30 pods of 100m CPU do not fit a 2-vCPU node."""
    suite = cl2_on_one_pool(
        tmp_path, "aks", "Standard_D2s_v5",
        {"testconfig": "pod-startup/config.yaml", "pods_per_node": 30, "load_type": "cpu", "resource_consume_cpu": 100},
    )
    message = only(timed_check(suite, "aks"))
    assert re.search(r"pool bench: 30 pods x 100m CPU, 0Mi exceed what a Standard_D2s_v5 node has left: \d+m CPU", message)
    assert "fix: a larger machine size" in message


def test_different_zone_without_zones_misfits(tmp_path):
    suite = write_suite(tmp_path, IPERF3)
    message = only(timed_check(suite, "aks"))
    assert "placement different-zone needs the server and client pools in two zones, and they are in: no zone" in message
    assert "fix: set zones on the pools" in message
    document = copy.deepcopy(IPERF3)
    for pool, zone in zip(document["target"]["aks"]["cluster"]["node_pools"], ("1", "2")):
        pool["zones"] = [zone]
    assert not timed_check(write_suite(tmp_path, document, "zoned.yaml"), "aks")


def test_different_node_on_one_node_misfits(tmp_path):
    document = copy.deepcopy(IPERF3)
    document["target"]["aks"] = {"cluster": {"node_pools": [{"name": "bench", "count": 1, "machine_size": "Standard_D4s_v5"}]},
                                 "node_selector": {"kubernetes.azure.com/agentpool": "bench"}}
    message = only(timed_check(write_suite(tmp_path, document), "aks"))
    assert "pool bench: placement different-node needs two nodes" in message and "fix: a second node" in message


def test_fio_checks_no_placement_as_it_asks_for_the_client_only(tmp_path):
    suite = write_suite(tmp_path, {
        "benchmark": "fio", "clouds": ["gke"],
        "target": {"gke": {"cluster": {"node_pools": [{"name": "bench", "count": 1, "machine_size": "n2-standard-4"}]}}},
    })
    assert not timed_check(suite, "gke")


def test_runkperf_default_affinities_match_no_declared_pool(tmp_path):
    """Defect 2: runkperf v0.3.4 requires nodes of its default instance types unless told otherwise."""
    document = {"benchmark": "kperf", "clouds": ["aks", "eks"], "target": shipped("kperf-apiserver.yaml")["target"],
                "include": [{"id": "bench", "bench": "node100_job1_pod3k", "total": 36000}]}
    # The shipped AKS pools are the instance types of runkperf's defaults: those fit.
    assert not timed_check(write_suite(tmp_path, document), "aks")
    document["target"]["aks"]["cluster"]["node_pools"][1]["machine_size"] = "Standard_D16s_v5"
    message = only(timed_check(write_suite(tmp_path, document, "d16v5.yaml"), "aks"))
    assert "--rg-affinity node.kubernetes.io/instance-type=Standard_D16s_v3,m4.4xlarge,n1-standard-16 matches no pool" in message
    assert "fix: set rg_affinity to a label of a declared pool" in message


def test_runkperf_on_eks_needs_its_idle_node(tmp_path):
    document = shipped("kperf-apiserver.yaml")
    eks = document["target"]["eks"]["cluster"]
    eks["node_pools"] = [pool for pool in eks["node_pools"] if pool["name"] != "idle"]
    message = only(timed_check(write_suite(tmp_path, document), "eks"))
    assert "runkperf bench --eks takes the providerID of a node of instance type m4.large" in message
    assert "fix: declare a pool of one m4.large node" in message


def test_autoscale_without_an_autoscaled_pool_misfits(tmp_path):
    """Defect 5: fixed-size pools cannot grow to nodes_after_scale_up."""
    document = shipped("cl2-autoscale.yaml")
    for pool in document["target"]["gke"]["cluster"]["node_pools"]:
        del pool["min_count"], pool["max_count"]
    message = only(timed_check(write_suite(tmp_path, document), "gke"))
    assert "the autoscale config needs an autoscaled pool" in message and "fix: give a node pool min_count and max_count" in message


def test_autoscale_sums_are_checked(tmp_path):
    document = shipped("cl2-autoscale.yaml")
    document["include"] = [{"id": "too-many-pods", "pod_count": 20, "nodes_after_scale_up": 10, "nodes_after_scale_down": 3}]
    message = only(timed_check(write_suite(tmp_path, document), "aks"))
    assert "20 pods at 1 per node make 21 nodes in all, not nodes_after_scale_up 10" in message
    assert "fix: pod_count 9 for 10 nodes" in message


@pytest.mark.parametrize(
    "suite, claimant",
    [
        # Defect 6: EKS's gp2 class provisions through the EBS CSI driver, which the module did not install.
        ("storage/fio.yaml", "storage class"),
        # Defects 4 and 6 together: CL2's Prometheus on EKS claims the EBS CSI class.
        ("kubernetes/cl2-load.yaml", "CL2 Prometheus's storage class"),
    ],
)
def test_a_storage_class_without_its_csi_driver_misfits(suite, claimant):
    before = copy.deepcopy(preflight.load_facts())
    before["csi_drivers"]["eks"] = []
    message = only(timed_check(scenario.load(ROOT / "benchmarks" / suite), "eks", facts=before))
    assert f"{claimant} ebs-csi-default-sc needs the CSI driver ebs.csi.aws.com, which the eks module does not install" in message
    assert "fix: install ebs.csi.aws.com in the cluster module" in message


def test_a_cl2_measurement_without_its_required_parameter_misfits(tmp_path):
    """Defect 3: NetworkProgrammingLatency reads threshold as a required duration."""
    (tmp_path / "clusterloader2/net").mkdir(parents=True)
    (tmp_path / "clusterloader2/net/config.yaml").write_text(
        "{{$qps := DefaultParam .CL2_LOAD_TEST_THROUGHPUT 10}}\nname: net\nsteps:\n- name: start\n  measurements:\n"
        "  - Identifier: NetworkProgrammingLatency\n    Method: NetworkProgrammingLatency\n    Params:\n      action: start\n"
    )
    suite = cl2_on_one_pool(tmp_path, "aks", "Standard_D4s_v5", {"testconfig": "net/config.yaml", "prometheus": True})
    message = only(timed_check(suite, "aks"))
    assert "CL2 config net/config.yaml: step 'start', measurement 'NetworkProgrammingLatency' (NetworkProgrammingLatency, action start): CL2 requires threshold" in message
    assert "fix: set it in the measurement's Params" in message


def test_an_unknown_machine_size_names_the_facts_file(tmp_path):
    suite = write_suite(tmp_path, {
        "benchmark": "fio", "clouds": ["gke"],
        "target": {"gke": {"cluster": {"node_pools": [{"name": "bench", "count": 1, "machine_size": "c3-standard-4"}]}}},
    })
    assert "add its vCPUs, memory and max pods to pytest_telescope/validate/cluster_facts.yaml" in only(timed_check(suite, "gke"))


def test_the_cli_lists_every_misfit_and_exits_1(tmp_path, capsys):
    write_suite(tmp_path, {"benchmark": "fio", "clouds": ["aks", "eks"]})
    (tmp_path / "clusterloader2/template.yaml").write_text("{{$a := DefaultParam .CL2_A 1}}\n")  # not a scenario
    assert cli.main(["preflight", str(tmp_path), "-m", "aks or eks"]) == 1
    out = capsys.readouterr().out
    assert "suite.yaml on aks: no node pools declared" in out and "suite.yaml on eks: no node pools declared" in out


def test_the_cli_passes_the_shipped_suites(capsys):
    assert cli.main(["preflight", str(ROOT / "benchmarks"), "-m", "aks or eks or gke"]) == 0, capsys.readouterr().out


# --- the facts agree with the modules ------------------------------------------------------


def parse(module: str) -> dict:
    blocks: dict = {}
    for path in sorted((TERRAFORM_DIR / module).glob("*.tf")):
        with path.open() as handle:
            for kind, entries in hcl2.load(handle, serialization_options=PARSE_OPTIONS).items():
                blocks.setdefault(kind, []).extend(entries)
    return blocks


@pytest.mark.parametrize("cloud, module", [("aks", "azure"), ("eks", "aws"), ("gke", "gcp")])
def test_the_system_pool_size_is_the_modules_default(cloud, module):
    system_pool = {name: body for entry in parse(module)["variable"] for name, body in entry.items()}["system_pool"]
    assert f'machine_size = optional(string, "{cluster_crud.SYSTEM_POOL_SIZES[cloud]}")' in re.sub(r"\s+", " ", system_pool["type"])


def _raw(module: str, name: str) -> str:
    return (TERRAFORM_DIR / module / name).read_text()


def test_the_eks_csi_driver_and_storage_class_are_the_modules():
    facts = preflight.load_facts()
    addons = {
        name: body
        for entry in parse("aws")["resource"]
        for kind, instances in entry.items() if kind == "aws_eks_addon"
        for name, body in instances.items()
    }
    assert any(body["addon_name"] == "aws-ebs-csi-driver" for body in addons.values())
    assert facts["csi_drivers"]["eks"] == ["ebs.csi.aws.com"]
    assert 'ebs_storage_class = "ebs-csi-default-sc"' in _raw("aws", "addons.tf")
    assert facts["storage_classes"]["eks"]["classes"]["ebs-csi-default-sc"] == "ebs.csi.aws.com"


def test_the_cl2_pod_requests_are_the_configs():
    deployment = (ROOT / "benchmarks/kubernetes/clusterloader2/load/deployment.yaml").read_text()
    assert "cpu: 10m" in deployment and "memory: 10Mi" in deployment
    assert preflight.CL2_POD_REQUESTS["load"]({}) == (10, 10)


# --- in a pytest run ---------------------------------------------------------------------------


@pytest.fixture
def fio_suite(pytester):
    """benchmarks/storage as it is (its test file renamed: tests/ has a module of that name)."""
    shutil.copytree(ROOT / "benchmarks/storage", pytester.path, dirs_exist_ok=True)
    (pytester.path / "test_fio.py").rename(pytester.path / "test_suite_fio.py")
    pytester.makeini("[pytest]\naddopts = -p no:terraform -p no:cacheprovider\ntelescope_prometheus = off\n")
    return pytester


def misfit_storage_class(pytester) -> None:
    path = pytester.path / "fio.yaml"
    path.write_text(path.read_text().replace("storage_class: managed-csi-premium", "storage_class: gp3"))


def test_collect_only_preflight_passes_the_shipped_suite(fio_suite):
    result = fio_suite.runpytest("-m", "aks or eks or gke", "--collect-only", "--telescope-preflight")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*preflight: 3 suite and cloud pairs fit their clusters*"])


def test_collect_only_preflight_lists_a_misfit_and_exits_1(fio_suite):
    misfit_storage_class(fio_suite)
    result = fio_suite.runpytest("-m", "aks", "--collect-only", "--telescope-preflight")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fio.yaml on aks: storage class gp3 is not one a aks cluster of this module has; fix: use one of managed-csi*"])


def test_a_misfit_fails_its_tests_before_any_apply(fio_suite):
    misfit_storage_class(fio_suite)
    result = fio_suite.runpytest("-m", "aks", "-k", "randread")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*preflight: the suite does not fit its cluster, so nothing is applied:*", "*storage class gp3*"])
    assert not list((fio_suite.path / ".telescope").rglob("terraform.tfstate")) and "terraform apply" not in result.stdout.str()


def test_a_module_of_the_users_own_is_not_checked(fio_suite):
    """The facts are about the shipped modules: a cloud whose module is the user's is left to it."""
    misfit_storage_class(fio_suite)
    (fio_suite.path / "terraform/azure").mkdir(parents=True)
    (fio_suite.path / "terraform/azure/main.tf").write_text("")
    result = fio_suite.runpytest("-m", "aks", "--collect-only", "--telescope-preflight")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*preflight: 0 suite and cloud pairs fit their clusters*"])


def test_the_preflight_alone_is_refused_under_xdist(pytester):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")

    result = pytester.runpytest_subprocess("-n", "2", "--telescope-preflight", "-p", "no:cacheprovider")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--telescope-preflight only runs without -n*"])


def test_two_suites_of_one_name_in_two_folders_are_judged_apart(tmp_path):
    fits, misfits = (tmp_path / "fits" / "suite.yaml", tmp_path / "misfits" / "suite.yaml")
    for path in (fits, misfits):
        path.parent.mkdir()
    shutil.copy(ROOT / "benchmarks" / "network" / "iperf3.yaml", fits)
    misfits.write_text("benchmark: iperf3\nclouds: [aks]\n")  # no cluster declared
    tests = [("fitting", scenario.load(fits), "aks"), ("misfitting", scenario.load(misfits), "aks")]

    _, by_test = preflight.check_tests(tests)

    assert set(by_test) == {"misfitting"}
