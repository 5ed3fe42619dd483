"""clusterloader2: command line and overrides, report parsing per measurement family, the run with a test double."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from pytest_telescope import scenario
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Sample
from pytest_telescope.tools import case_parameters, clusterloader2
from pytest_telescope.tools.clusterloader2 import ClusterLoaderFailed
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation

DATA = Path(__file__).parents[1] / "data" / "clusterloader2"
FAKE_CL2 = str(Path(__file__).parents[1] / "doubles" / "fake_clusterloader2")
PERCENTILES = {"p50": "Perc50", "p90": "Perc90", "p99": "Perc99"}
# The CL2 test name in each recorded report's file names.
TEST_NAMES = {"pod-startup": "pod-startup", "load": "load", "job-scheduling": "job-scheduling", "network-policy-soak": "netpol-soak"}


def summary(report: str, name: str) -> dict:
    """The JSON summary ``<name>_<test>_<time>.json`` of a recorded report."""
    (path,) = [p for p in (DATA / report).iterdir() if p.name.startswith(f"{name}_{TEST_NAMES[report]}_")]
    return json.loads(path.read_text())


def of(samples: list[Sample], metric: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.metric == metric and all(s.labels.get(k) == v for k, v in labels.items())]


# Command line


def test_command_minimal():
    assert clusterloader2.command("cl2", "kube.conf", "report", "overrides.yaml", testconfig="load/config.yaml") == [
        "cl2",
        "--testconfig=load/config.yaml",
        "--testoverrides=overrides.yaml",
        "--provider=aks",
        "--kubeconfig=kube.conf",
        "--report-dir=report",
        "--v=2",
        "--enable-exec-service=false",
    ]


def test_command_with_nodes_and_prometheus():
    argv = clusterloader2.command(
        "cl2", "k", "r", "o", testconfig="c.yaml", provider="eks", nodes=100, prometheus=True, prometheus_scrape_kubelets=True
    )
    assert argv[3] == "--provider=eks"
    assert argv[8:] == [
        "--nodes=100",
        "--enable-prometheus-server=true",
        "--tear-down-prometheus-server=true",
        "--prometheus-scrape-kubelets=true",
        "--prometheus-pvc-storage-class=ebs-csi-default-sc",
    ]


def test_command_leaves_overrides_to_the_overrides_file():
    plain = clusterloader2.command("cl2", "k", "r", "o", testconfig="c.yaml")
    assert clusterloader2.command("cl2", "k", "r", "o", testconfig="c.yaml", pods_per_node=30, CL2_REPEATS=2) == plain


def test_command_takes_every_case_parameter_at_its_default():
    defaults = case_parameters(clusterloader2)
    assert clusterloader2.command("cl2", "k", "r", "o", **{**defaults, "testconfig": "c.yaml"})[0] == "cl2"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "testconfig must name"),
        ({"testconfig": "c.yaml", "provider": ""}, "provider must name"),
        ({"testconfig": "c.yaml", "nodes": -1}, "nodes must be an integer >= 0"),
        ({"testconfig": "c.yaml", "pod_per_node": 3}, "unknown parameter 'pod_per_node'"),
    ],
)
def test_command_rejects(params, message):
    with pytest.raises(ValueError, match=message):
        clusterloader2.command("cl2", "k", "r", "o", **params)


# Overrides


def test_render_overrides_writes_set_overrides_as_cl2_names():
    text = clusterloader2.render_overrides(
        {
            "testconfig": "load/config.yaml",
            "provider": "aks",
            "pods_per_node": 30,
            "load_test_throughput": 12.5,
            "pod_startup_latency_threshold": "15s",
            "operation_timeout": "",
            "jobs": 0,
            "CL2_ENABLE_VIOLATIONS": True,
        }
    )
    assert yaml.safe_load(text) == {
        "CL2_PODS_PER_NODE": 30,
        "CL2_LOAD_TEST_THROUGHPUT": 12.5,
        "CL2_POD_STARTUP_LATENCY_THRESHOLD": "15s",
        "CL2_ENABLE_VIOLATIONS": True,
    }
    assert text.splitlines()[0] == "CL2_ENABLE_VIOLATIONS: true"


@pytest.mark.parametrize(
    ("provider", "storage_class", "overrides"),
    [
        ("aks", "managed-csi", {}),
        ("eks", "ebs-csi-default-sc", {"PROMETHEUS_SCRAPE_KUBE_PROXY": False}),
        ("gke", "ssd", {}),
        ("skeleton", None, {"CL2_PROMETHEUS_PVC_ENABLED": False}),
    ],
)
def test_prometheus_gets_a_volume_its_cloud_provisions_or_none(provider, storage_class, overrides):
    case = {"testconfig": "load/config.yaml", "provider": provider, "prometheus": True}
    argv = clusterloader2.command("cl2", "k", "r", "o", **case)
    flags = [arg for arg in argv if arg.startswith("--prometheus-pvc-storage-class=")]
    assert flags == ([f"--prometheus-pvc-storage-class={storage_class}"] if storage_class else [])
    assert (yaml.safe_load(clusterloader2.render_overrides(case)) or {}) == overrides


def test_a_cases_prometheus_storage_class_is_claimed_on_any_provider():
    case = {"testconfig": "c.yaml", "provider": "skeleton", "prometheus": True, "prometheus_storage_class": "fast"}
    assert "--prometheus-pvc-storage-class=fast" in clusterloader2.command("cl2", "k", "r", "o", **case)
    assert clusterloader2.render_overrides(case) == ""


def test_without_prometheus_nothing_is_said_about_it():
    case = {"testconfig": "c.yaml", "provider": "eks", "prometheus": False}
    assert not [arg for arg in clusterloader2.command("cl2", "k", "r", "o", **case) if "prometheus" in arg]
    assert clusterloader2.render_overrides(case) == ""


def test_render_overrides_of_defaults_is_empty():
    assert clusterloader2.render_overrides(case_parameters(clusterloader2)) == ""


def test_every_override_parameter_becomes_its_cl2_name():
    params = {name: 1 for name in clusterloader2.OVERRIDES}
    assert set(yaml.safe_load(clusterloader2.render_overrides(params))) == {"CL2_" + n.upper() for n in clusterloader2.OVERRIDES}
    assert not set(clusterloader2.OVERRIDES) & set(clusterloader2.CL2_OPTIONS)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cl2_repeats": 2}, "written in capitals"),
        ({"pods_per_node": -3}, "pods_per_node must be >= 0"),
        ({"CL2_REPEATS": [1, 2]}, "must be a string, number or boolean"),
    ],
)
def test_render_overrides_rejects(params, message):
    with pytest.raises(ValueError, match=message):
        clusterloader2.render_overrides(params)


# DEFAULT_SLO is in the scenario format


def test_default_slo_loads_as_a_scenario_slo(tmp_path):
    path = tmp_path / "cl2.yaml"
    path.write_text(yaml.safe_dump({"benchmark": "clusterloader2", "slo": clusterloader2.DEFAULT_SLO}))
    thresholds = {str(t) for t in scenario.load(path).thresholds}
    assert thresholds == {
        "api_call_latency_p99_resource <= 1 s",
        "api_call_latency_p99_namespace <= 30 s",
        "api_call_latency_p99_cluster <= 30 s",
        "api_call_latency_p99_nonresource <= 30 s",
        "pod_startup_p99 <= 5 s",
    }


# Parsing, per measurement family


def test_every_sample_is_a_known_metric_in_its_unit():
    for report in ("pod-startup", "load", "job-scheduling", "network-policy-soak", "autoscale"):
        for sample in clusterloader2.parse(DATA / report):
            assert sample.metric in clusterloader2.METRICS, sample
            if sample.metric != "prometheus_query":
                assert sample.unit == clusterloader2.METRICS[sample.metric].unit, sample


@pytest.mark.parametrize(("prefix", "pods"), [("", "all"), ("Stateless", "stateless"), ("Stateful", "stateful")])
def test_pod_startup_latency_per_phase(prefix, pods):
    samples = clusterloader2.parse(DATA / "pod-startup")
    raw = summary("pod-startup", f"{prefix}PodStartupLatency_PodStartupLatency")
    labels = {"measurement": f"{prefix}PodStartupLatency_PodStartupLatency", "pods": pods}
    expected = []
    for item in raw["dataItems"]:
        phase = item["labels"]["Metric"]
        name = "pod_startup" if phase == "pod_startup" else f"pod_{phase}"
        expected += [Sample(f"{name}_{p}", item["data"][key], "ms", labels) for p, key in PERCENTILES.items()]
    assert len(expected) == 18
    assert [s for s in samples if s.labels.get("pods") == pods] == expected


def test_pod_startup_p99_is_the_create_to_running_phase():
    samples = clusterloader2.parse(DATA / "pod-startup")
    raw = summary("pod-startup", "PodStartupLatency_PodStartupLatency")
    (item,) = [i for i in raw["dataItems"] if i["labels"]["Metric"] == "pod_startup"]
    assert [s.value for s in of(samples, "pod_startup_p99", pods="all")] == [item["data"]["Perc99"]]


def test_api_call_latency_per_scope_with_call_labels():
    samples = clusterloader2.parse(DATA / "load")
    raw = summary("load", "APIResponsivenessPrometheus")
    scopes = {"resource": "resource", "namespace": "namespace", "cluster": "cluster", "": "nonresource"}
    expected = []
    for item in raw["dataItems"]:
        call = item["labels"]
        labels = {
            "measurement": "APIResponsivenessPrometheus",
            "verb": call["Verb"],
            "resource": call["Resource"],
            "subresource": call["Subresource"],
            "scope": call["Scope"],
            "count": call["Count"],
            "slow_count": call["SlowCount"],
        }
        metric = "api_call_latency_{}_" + scopes[call["Scope"]]
        expected += [Sample(metric.format(p), item["data"][key], "ms", labels) for p, key in PERCENTILES.items()]
    assert [s for s in samples if s.labels.get("measurement") == "APIResponsivenessPrometheus"] == expected
    resource_p99 = of(samples, "api_call_latency_p99_resource", measurement="APIResponsivenessPrometheus")
    assert {(s.labels["verb"], s.labels["resource"]) for s in resource_p99} == {("POST", "pods"), ("PATCH", "nodes")}


def test_a_second_api_summary_is_told_apart_by_its_measurement_label():
    samples = clusterloader2.parse(DATA / "load")
    simple = of(samples, "api_call_latency_p99_resource", measurement="APIResponsivenessPrometheus_simple")
    assert [(s.labels["verb"], s.labels["subresource"], s.value) for s in simple] == [("POST", "binding", 28.3)]


@pytest.mark.parametrize(
    ("prefix", "family"),
    [("InClusterNetworkLatency", "in_cluster_network_latency"), ("NetworkProgrammingLatency", "network_programming_latency")],
)
def test_network_latencies(prefix, family):
    samples = clusterloader2.parse(DATA / "load")
    (item,) = summary("load", prefix)["dataItems"]
    assert [s for s in samples if s.metric.startswith(family)] == [
        Sample(f"{family}_{p}", item["data"][key], "ms", {"measurement": prefix}) for p, key in PERCENTILES.items()
    ]


def test_generic_prometheus_query_keeps_the_queries_own_unit_and_dimensions():
    samples = clusterloader2.parse(DATA / "load")
    (item,) = summary("load", "GenericPrometheusQuery API Server CPU")["dataItems"]
    labels = {"container": "kube-apiserver", "measurement": "GenericPrometheusQuery API Server CPU"}
    assert of(samples, "prometheus_query") == [
        Sample("prometheus_query", value, "cores", {**labels, "query": query}) for query, value in item["data"].items()
    ]


def test_job_lifecycle_latency():
    samples = clusterloader2.parse(DATA / "job-scheduling")
    raw = summary("job-scheduling", "JobLifecycleLatency_JobLifecycleLatency")
    labels = {"measurement": "JobLifecycleLatency_JobLifecycleLatency"}
    expected = [
        Sample(f"job_{item['labels']['Metric']}_{p}", item["data"][key], "ms", labels)
        for item in raw["dataItems"]
        for p, key in PERCENTILES.items()
    ]
    assert [s for s in samples if s.metric.startswith("job_")] == expected


def test_scheduling_throughput_and_its_prometheus_variant():
    samples = clusterloader2.parse(DATA / "job-scheduling")
    raw = summary("job-scheduling", "SchedulingThroughput")
    prometheus = summary("job-scheduling", "SchedulingThroughputPrometheus")
    labels = {"measurement": "SchedulingThroughput"}
    # Summaries are read in file name order: SchedulingThroughputPrometheus_ sorts first.
    assert [s for s in samples if s.metric.startswith("scheduling_throughput")] == [
        Sample("scheduling_throughput_prometheus_max", prometheus["max"], "pods/s", {"measurement": "SchedulingThroughputPrometheus"}),
        Sample("scheduling_throughput_p50", raw["perc50"], "pods/s", labels),
        Sample("scheduling_throughput_p90", raw["perc90"], "pods/s", labels),
        Sample("scheduling_throughput_p99", raw["perc99"], "pods/s", labels),
        Sample("scheduling_throughput_max", raw["max"], "pods/s", labels),
    ]


@pytest.mark.parametrize(
    ("report", "measurement"),
    [("pod-startup", "ResourceUsageSummary"), ("network-policy-soak", "NetworkPolicySoakMeasurement")],
)
def test_container_resource_usage_per_percentile(report, measurement):
    samples = clusterloader2.parse(DATA / report)
    raw = summary(report, measurement)
    expected = []
    for percentile, containers in raw.items():
        for container in containers:
            labels = {"measurement": measurement, "percentile": percentile, "container": container["Name"]}
            expected += [
                Sample("container_cpu", container["CPU"], "cores", labels),
                Sample("container_memory", container["Mem"], "B", labels),
            ]
    assert [s for s in samples if s.metric.startswith("container_")] == expected


def test_resource_usage_of_older_cl2_spells_cpu_as_cpu(tmp_path):
    report = tmp_path / "report"
    shutil.copytree(DATA / "network-policy-soak", report)
    (path,) = report.glob("NetworkPolicySoakMeasurement_*.json")
    older = {p: [{"Name": c["Name"], "Cpu": c["CPU"], "Mem": c["Mem"]} for c in cs] for p, cs in json.loads(path.read_text()).items()}
    path.write_text(json.dumps(older))
    assert clusterloader2.parse(report) == clusterloader2.parse(DATA / "network-policy-soak")


def test_autoscale_durations_come_from_junit_wait_steps():
    assert clusterloader2.parse(DATA / "autoscale") == [
        Sample("scale_up_pods_time", 248.31, "s"),
        Sample("scale_up_nodes_time", 121.6, "s", {"nodes_percent": "50"}),
        Sample("scale_up_nodes_time", 187.2, "s", {"nodes_percent": "90"}),
        Sample("scale_up_nodes_time", 240.9, "s", {"nodes_percent": "100"}),
        Sample("scale_down_pods_time", 30.2, "s"),
        Sample("scale_down_nodes_time", 842.7, "s", {"nodes_percent": "100"}),
    ]


def test_autoscale_steps_of_a_loop_carry_its_index(tmp_path):
    (tmp_path / "junit.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '  <testsuite name="ClusterLoaderV2" tests="0" failures="0" errors="0" time="130.1">\n'
        '      <testcase name="autoscale overall (config.yaml)" classname="ClusterLoaderV2" time="130.1"></testcase>\n'
        '      <testcase name="autoscale: [step: 02] Measure nodes and pods scale up 1 [01] - WaitForNodesUpPerc50 1" '
        'classname="ClusterLoaderV2" time="121.6"></testcase>\n'
        "  </testsuite>"
    )
    assert clusterloader2.parse(tmp_path) == [Sample("scale_up_nodes_time", 121.6, "s", {"nodes_percent": "50", "loop": "1"})]


def test_junit_failure_raises_with_cl2s_own_text_and_keeps_the_samples():
    with pytest.raises(clusterloader2.ClusterLoaderFailed) as raised:
        clusterloader2.parse(DATA / "failed")
    message = str(raised.value)
    assert "reports 1 failure:" in message
    assert (
        "pod-startup: [step: 03] Wait for pods to be running [00] - WaitForRunningLatencyDeployments: "
        "[measurement call WaitForControlledPodsRunning - WaitForRunningLatencyDeployments error: "
        "1 objects timed out: Deployments: pod-startup-1/resource-consumer-0]"
    ) in message
    assert ":0" not in message
    assert [s.metric for s in raised.value.samples] == ["pod_startup_p50", "pod_startup_p90", "pod_startup_p99"]
    assert isinstance(raised.value, ToolError)


def test_a_failure_outside_steps_is_reported_from_the_overall_testcase(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (report / "junit.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '  <testsuite name="ClusterLoaderV2" tests="0" failures="1" errors="0" time="3.2">\n'
        '      <testcase name="load overall (config.yaml)" classname="ClusterLoaderV2" time="3.2">\n'
        '          <failure type="Failure">:0&#xA;[error while preparing test namespaces: pre-existing automanaged namespaces found]&#xA;:0</failure>\n'
        "      </testcase>\n"
        "  </testsuite>"
    )
    with pytest.raises(clusterloader2.ClusterLoaderFailed, match=r"load overall \(config.yaml\): \[error while preparing"):
        clusterloader2.parse(report)


def test_missing_junit_is_an_error(tmp_path):
    with pytest.raises(ToolError, match="no junit.xml in"):
        clusterloader2.parse(tmp_path)


def test_invalid_junit_is_an_error(tmp_path):
    (tmp_path / "junit.xml").write_text("<testsuite>")
    with pytest.raises(ToolError, match="junit.xml is not valid XML"):
        clusterloader2.parse(tmp_path)


def test_a_summary_of_the_wrong_shape_names_the_file(tmp_path):
    shutil.copy(DATA / "load" / "junit.xml", tmp_path)
    (tmp_path / "SchedulingThroughput_load_2026-11-24T11:42:51Z.json").write_text('{"version": "v1", "dataItems": []}')
    problem = r"SchedulingThroughput_load_2026-11-24T11:42:51Z.json: not the summary CL2 writes for SchedulingThroughput"
    with pytest.raises(ToolError, match=problem):
        clusterloader2.parse(tmp_path)


def test_summary_time_with_a_zone_offset(tmp_path):
    shutil.copy(DATA / "load" / "junit.xml", tmp_path)
    source = DATA / "load" / "SchedulingThroughput_load_2026-11-24T11:42:51Z.json"
    shutil.copy(source, tmp_path / "SchedulingThroughput_load_2026-11-24T13:42:51+02:00.json")
    assert [s.metric for s in clusterloader2.parse(tmp_path)][:1] == ["scheduling_throughput_p50"]


# The run, with fake_clusterloader2 standing in for the binary


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "configs" / "load").mkdir(parents=True)
    (tmp_path / "configs" / "load" / "config.yaml").write_text("name: load\n")
    return tmp_path / "configs"


def fake_run(tmp_path, config_dir, monkeypatch, report: str, status: int, **params):
    monkeypatch.setenv("FAKE_CL2_REPORT", str(DATA / report) if report else "")
    monkeypatch.setenv("FAKE_CL2_EXIT", str(status))
    case = {"testconfig": "load/config.yaml", **params}
    return clusterloader2.run(FAKE_CL2, "kube.conf", tmp_path / "work", case, config_dir=config_dir, timeout=60)


def test_run_passes_the_command_and_overrides_and_returns_the_samples(tmp_path, config_dir, monkeypatch):
    samples = fake_run(tmp_path, config_dir, monkeypatch, "load", 0, pods_per_node=30, provider="gke", prometheus=True)
    assert samples == clusterloader2.parse(DATA / "load")
    call = json.loads((tmp_path / "work" / "report" / "fake-clusterloader2-call.json").read_text())
    assert call["argv"][:5] == [
        f"--testconfig={config_dir / 'load' / 'config.yaml'}",
        f"--testoverrides={tmp_path / 'work' / 'overrides.yaml'}",
        "--provider=gke",
        "--kubeconfig=kube.conf",
        f"--report-dir={tmp_path / 'work' / 'report'}",
    ]
    assert "--enable-prometheus-server=true" in call["argv"]
    assert call["overrides"] == "CL2_PODS_PER_NODE: 30\n"


def test_run_fails_with_cl2s_text_and_exit_status(tmp_path, config_dir, monkeypatch):
    with pytest.raises(clusterloader2.ClusterLoaderFailed) as raised:
        fake_run(tmp_path, config_dir, monkeypatch, "failed", 1)
    message = str(raised.value)
    assert "exited with status 1; " in message
    assert "1 objects timed out: Deployments: pod-startup-1/resource-consumer-0" in message
    assert len(raised.value.samples) == 3


def test_run_never_ignores_a_nonzero_exit(tmp_path, config_dir, monkeypatch):
    with pytest.raises(clusterloader2.ClusterLoaderFailed, match="exited with status 3 although junit.xml reports no failure") as raised:
        fake_run(tmp_path, config_dir, monkeypatch, "load", 3)
    assert raised.value.samples == clusterloader2.parse(DATA / "load")
    assert "fake_clusterloader2: exiting with status 3" in str(raised.value)


def test_run_that_exits_before_a_report_shows_its_last_output(tmp_path, config_dir, monkeypatch):
    with pytest.raises(clusterloader2.ClusterLoaderFailed, match=r"exited with status 1 \(no junit.xml in") as raised:
        fake_run(tmp_path, config_dir, monkeypatch, "", 1)
    assert "fake_clusterloader2: exiting with status 1" in str(raised.value)
    assert raised.value.samples == []


def test_run_without_a_report_is_an_error_even_when_it_exits_0(tmp_path, config_dir, monkeypatch):
    with pytest.raises(ToolError, match="no junit.xml in"):
        fake_run(tmp_path, config_dir, monkeypatch, "", 0)


def test_the_double_rejects_a_flag_cl2_does_not_have(tmp_path):
    completed = os.system(f"{FAKE_CL2} --testconfig=x --kubeconfig=k --report-dir={tmp_path} --no-such-flag=1 2>/dev/null")
    assert os.waitstatus_to_exitcode(completed) == 2


# The Kubernetes suites


SUITES = Path(__file__).resolve().parents[2] / "benchmarks" / "kubernetes"


@pytest.mark.parametrize("name", sorted(p.name for p in SUITES.glob("cl2-*.yaml")))
def test_every_suite_case_names_a_test_config_and_builds_a_command(name, tmp_path):
    suite = scenario.load(SUITES / name)
    assert suite.benchmark == "clusterloader2"
    for case in suite.cases:
        config = SUITES / "clusterloader2" / case.params["testconfig"]
        assert config.is_file(), f"{name}: {case.id}: no {config}"
        assert clusterloader2.command("cl2", "k", "r", "o", **case.params)[1] == f"--testconfig={case.params['testconfig']}"
        clusterloader2.render_overrides(case.params)


@pytest.mark.parametrize(("name", "limit"), [("cl2-pod-startup.yaml", "15"), ("cl2-job-scheduling.yaml", "60"), ("cl2-load.yaml", "5")])
def test_suite_pod_startup_threshold_replaces_the_upstream_default(name, limit):
    suite = scenario.load(SUITES / name)
    for case in suite.cases:
        thresholds = [str(t) for t in suite.thresholds_for("aks", case.params) if t.metric == "pod_startup_p99"]
        assert thresholds == [f"pod_startup_p99 <= {limit} s"], case.id


# Default SLOs judged on a report


def load_case_recorder(case_index: int = 0) -> Recorder:
    """A recorder for a case of the cl2-load suite, whose only own threshold is on network programming latency."""
    suite = scenario.load(SUITES / "cl2-load.yaml")
    case = suite.cases[case_index]
    thresholds = suite.thresholds_for("aks", case.params)
    return Recorder(cloud="aks", benchmark="clusterloader2", case=case.id, params=case.params, thresholds=thresholds)


def test_recorded_load_report_meets_the_defaults_and_pod_startup_is_not_required():
    samples = clusterloader2.parse(DATA / "load")
    assert not of(samples, "pod_startup_p99")
    recorder = load_case_recorder()
    recorder(samples)
    recorder.check()
    judged = {verdict.threshold.metric for verdict in recorder.verdicts()}
    assert judged == {"network_programming_latency_p99", *(m for m in clusterloader2.DEFAULT_SLO if m != "pod_startup_p99")}


def test_api_call_latency_above_1s_for_scope_resource_fails_with_the_numbers(tmp_path):
    report = tmp_path / "report"
    shutil.copytree(DATA / "load", report)
    (path,) = report.glob("APIResponsivenessPrometheus_load_*.json")
    raw = json.loads(path.read_text())
    (binding,) = [item for item in raw["dataItems"] if item["labels"]["Subresource"] == "binding"]
    binding["data"]["Perc99"] = 1532.4
    path.write_text(json.dumps(raw))
    recorder = load_case_recorder()
    recorder(clusterloader2.parse(report))
    with pytest.raises(SLOViolation) as raised:
        recorder.check()
    assert str(raised.value).splitlines() == [
        "1 SLO violation: api_call_latency_p99_resource count=3000 measurement=APIResponsivenessPrometheus resource=pods scope=resource "
        "slow_count=0 subresource=binding verb=POST = 1532.4 ms, expected <= 1 s",
    ]


def test_a_switched_off_default_no_longer_fails_the_case(tmp_path):
    report = tmp_path / "report"
    shutil.copytree(DATA / "load", report)
    (path,) = report.glob("APIResponsivenessPrometheus_load_*.json")
    raw = json.loads(path.read_text())
    for item in raw["dataItems"]:
        item["data"]["Perc99"] = 45000
    path.write_text(json.dumps(raw))
    samples = clusterloader2.parse(report)
    suite_path = tmp_path / "cl2.yaml"
    suite_path.write_text(
        "benchmark: clusterloader2\nslo:\n"
        + "".join(f"  api_call_latency_p99_{scope}: off\n" for scope in ("resource", "namespace", "cluster", "nonresource"))
    )
    suite = scenario.load(suite_path)
    recorder = Recorder(cloud="gke", benchmark="clusterloader2", case="default", params={}, thresholds=suite.thresholds_for("gke", {}))
    recorder(samples)
    recorder.check()
    assert recorder.verdicts() == []
    with_defaults = load_case_recorder()
    with_defaults(samples)
    with pytest.raises(SLOViolation, match=rf"^{len(raw['dataItems'])} SLO violations:"):
        with_defaults.check()


# A report directory of edge cases, as upstream writes them (tests/data/clusterloader2/README.md)

EDGE = DATA / "edge-cases"


def edge_samples() -> tuple[list[Sample], str]:
    """The samples kept, and the problem: the edge-case run failed on an OOM and has a cut-off summary."""
    with pytest.raises(ClusterLoaderFailed) as raised:
        clusterloader2.parse(EDGE)
    return raised.value.samples, raised.value.problem


def test_an_unreadable_summary_is_named_and_the_others_and_cl2_s_failure_are_kept():
    samples, problem = edge_samples()
    assert problem.splitlines() == [
        f"{EDGE / 'junit.xml'} reports 1 failure:",
        "  load: [step: 03] Collect measurements [00] - ClusterOOMsTracker: [measurement call ClusterOOMsTracker -"
        " ClusterOOMsTracker error: OOMs recorded: [{Node:aks-user-31245698-vmss000002 Process:stress"
        " Memory:2097152kB ProcessID:4711 Time:2026-11-27 09:10:03 +0000 UTC}]]",
        f"1 summary in {EDGE} unreadable, the others kept:",
        "  APIResponsivenessPrometheus_load_scenario-a_2026-11-27T09:12:40Z.json: cannot read it as JSON:"
        " Expecting property name enclosed in double quotes: line 7 column 1 (char 84)",
    ]
    assert {s.labels["measurement"] for s in samples} == {
        "PodStartupLatency_PodStartupLatency",
        "GenericPrometheusQuery PodCount",
        "SchedulingMetrics",
        "ClusterOOMsTracker",
    }


def test_the_test_scenario_identifier_stays_out_of_the_measurement_label():
    samples, _ = edge_samples()
    assert not [s for s in samples if "scenario-a" in s.labels["measurement"] or "load" in s.labels["measurement"]]


def test_data_items_null_are_no_samples():
    samples, _ = edge_samples()
    assert json.loads((EDGE / "GenericPrometheusQuery NodeMemory_load_scenario-a_2026-11-27T09:12:40Z.json").read_text())["dataItems"] is None
    assert not [s for s in samples if s.labels["measurement"] == "GenericPrometheusQuery NodeMemory"]


def test_a_query_item_with_an_empty_or_no_unit_is_a_count():
    samples, _ = edge_samples()
    queries = [s for s in samples if s.metric == "prometheus_query"]
    assert [(s.value, s.unit) for s in queries] == [(3000.0, "count"), (2999.0, "count")]


def test_all_zero_stateful_and_stateless_pod_startup_summaries_are_no_samples():
    samples, _ = edge_samples()
    assert {s.labels["pods"] for s in samples if "pods" in s.labels} == {"all"}


def test_scheduling_metrics_in_milliseconds_without_the_empty_histograms():
    samples, _ = edge_samples()
    raw = json.loads((EDGE / "SchedulingMetrics_load_scenario-a_2026-11-27T09:12:40Z.json").read_text())
    scheduling = {(s.metric, s.labels.get("extension_point")): s.value for s in samples if s.metric.startswith("scheduling_")}
    assert scheduling[("scheduling_e2e_latency_p99", None)] == raw["e2eSchedulingLatency"]["Perc99"] / 1e6
    assert scheduling[("scheduling_algorithm_latency_p50", None)] == pytest.approx(1.1)
    assert scheduling[("scheduling_framework_extension_point_latency_p90", "Bind")] == pytest.approx(6.1)
    # Preemption never ran and most extension points saw nothing: CL2 leaves those at 0.
    assert not [key for key in scheduling if "preemption" in key[0]]
    assert {point for _, point in scheduling if point} == {"Filter", "Score", "Bind"}


def test_cluster_oom_kills_counts_the_ooms_of_a_summary_without_an_extension():
    samples, _ = edge_samples()
    assert [(s.metric, s.value) for s in samples if s.labels["measurement"] == "ClusterOOMsTracker"] == [("cluster_oom_kills", 1.0)]
