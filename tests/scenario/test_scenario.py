"""Scenario files: the real ones load as documented, and every mistake names the file and the key."""

from pathlib import Path

import pytest

from pytest_telescope import scenario
from pytest_telescope.errors import ScenarioError
from pytest_telescope.samples import Metric
from pytest_telescope.tools import fio, iperf3
from pytest_telescope.verdict.slo import Threshold

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    # scenario.load is lru_cached on the path: every test writes its own file under its own tmp_path.
    path = tmp_path / name
    path.write_text(text)
    return path


def cases_by_id(suite: scenario.Scenario) -> dict[str, dict]:
    return {case.id: case.params for case in suite.cases}


def shipped_thresholds(relative: str, cloud: str, case_id: str) -> list[str]:
    """The thresholds a case of a shipped suite is judged by on ``cloud``, as text."""
    suite = scenario.load(BENCHMARKS / relative)
    return [str(threshold) for threshold in suite.thresholds_for(cloud, cases_by_id(suite)[case_id])]


def tcp_and_udp(tmp_path: Path, slo: str) -> tuple[scenario.Scenario, dict, dict]:
    """An iperf3 suite of a TCP and a UDP case under ``slo``; the suite and the two cases' parameters."""
    suite = scenario.load(write(tmp_path, "benchmark: iperf3\nmatrix: {protocol: [tcp, udp]}\nslo:\n" + slo))
    tcp, udp = (case.params for case in suite.cases)
    return suite, tcp, udp


# The real scenarios


def test_iperf3_scenario_cases():
    suite = scenario.load(BENCHMARKS / "network" / "iperf3.yaml")
    assert suite.benchmark == "iperf3"
    assert suite.clouds == ("local", "aks", "eks", "gke", "existing")
    assert suite.target_settings("local") == {}
    assert suite.target_settings("aks")["node_selectors"] == {"server": {"telescope-role": "server"}, "client": {"telescope-role": "client"}}
    assert [case.id for case in suite.cases] == ["tcp-parallel1", "tcp-parallel4", "tcp-reverse", "udp-200M"]
    assert cases_by_id(suite) == {
        "tcp-parallel1": {"duration": 3, "protocol": "tcp", "parallel": 1},
        "tcp-parallel4": {"duration": 3, "protocol": "tcp", "parallel": 4},
        "tcp-reverse": {"duration": 3, "protocol": "tcp", "reverse": True},
        "udp-200M": {"duration": 3, "protocol": "udp", "bandwidth": "200M"},
    }


@pytest.mark.parametrize(
    ("cloud", "case_id", "expected"),
    [
        ("local", "tcp-parallel1", ["throughput_received >= 500 Mbit/s"]),
        ("local", "tcp-reverse", ["throughput_received >= 500 Mbit/s"]),
        ("aks", "tcp-parallel4", ["throughput_received >= 1 Gbit/s"]),
        ("eks", "tcp-parallel1", ["throughput_received >= 1 Gbit/s"]),
        ("gke", "tcp-reverse", ["throughput_received >= 1 Gbit/s"]),
        ("local", "udp-200M", ["lost_percent <= 20 %"]),
        ("gke", "udp-200M", ["lost_percent <= 20 %"]),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_iperf3_scenario_thresholds_per_cloud_and_when(cloud, case_id, expected):
    assert shipped_thresholds("network/iperf3.yaml", cloud, case_id) == expected


def test_iperf3_scenario_gbit_threshold_is_kept_in_gbit():
    suite = scenario.load(BENCHMARKS / "network" / "iperf3.yaml")
    (threshold,) = suite.thresholds_for("aks", {"protocol": "tcp"})
    assert threshold == Threshold("throughput_received", ">=", 1, "Gbit/s", ("aks", "eks", "gke"), {"protocol": "tcp"})


def test_fio_scenario_cases():
    suite = scenario.load(BENCHMARKS / "storage" / "fio.yaml")
    assert suite.benchmark == "fio"
    assert suite.clouds == scenario.CLOUDS
    base = {"size": "256M", "runtime": 3, "iodepth": 16}
    assert cases_by_id(suite) == {
        "randread-4k": {**base, "rw": "randread", "block_size": "4k"},
        "randwrite-4k": {**base, "rw": "randwrite", "block_size": "4k"},
        "read-128k": {**base, "rw": "read", "block_size": "128k", "iodepth": 8},
    }


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        ("randread-4k", ["read_iops >= 1000 IOPS", "read_clat_p99 <= 50 ms"]),
        ("randwrite-4k", ["write_iops >= 500 IOPS"]),
        ("read-128k", []),
    ],
    ids=["randread-4k", "randwrite-4k", "read-128k"],
)
@pytest.mark.parametrize("cloud", scenario.CLOUDS)
def test_fio_scenario_thresholds(cloud, case_id, expected):
    assert shipped_thresholds("storage/fio.yaml", cloud, case_id) == expected


def test_shaped_scenario_targets_only_local_with_a_rate_limit():
    suite = scenario.load(BENCHMARKS / "network" / "iperf3-shaped.yaml")
    assert suite.clouds == ("local",)
    assert suite.target_settings("local") == {"rate_mbit": 100}
    assert suite.target_settings("aks") == {}
    assert [str(t) for t in suite.thresholds_for("local", suite.cases[0].params)] == [
        "throughput_received >= 85 Mbit/s",
        "throughput_received <= 105 Mbit/s",
    ]


@pytest.mark.parametrize(
    ("relative", "build"),
    [
        ("network/iperf3.yaml", lambda params: iperf3.command("10.0.0.1", 5201, **params)),
        ("network/iperf3-shaped.yaml", lambda params: iperf3.command("10.0.0.1", 5201, **params)),
        ("storage/fio.yaml", lambda params: fio.command("scratch/fio.dat", **params)),
    ],
    ids=["iperf3", "iperf3-shaped", "fio"],
)
def test_every_real_case_builds_a_command(relative, build):
    suite = scenario.load(BENCHMARKS / relative)
    commands = [build(case.params) for case in suite.cases]
    assert len(commands) == len(suite.cases) > 0
    assert all(command[0] == suite.benchmark for command in commands)


# Mistakes: each names the file and the key


BAD = [
    pytest.param(
        "benchmark: iperf3\nparams:\n\tduration: 3\n", "", "not valid YAML: line 3, column 1:", id="malformed-yaml"
    ),
    pytest.param("- iperf3\n- fio\n", "", "must be a mapping", id="not-a-mapping"),
    pytest.param("", "", "must be a mapping", id="empty-file"),
    pytest.param("params: {duration: 3}\n", "", "'benchmark' is a required property", id="missing-benchmark"),
    pytest.param("benchmark: iperf3\nduraton: 3\n", "duraton", "unknown key (known here: benchmark,", id="unknown-top-level-key"),
    pytest.param(
        "benchmark: iperf3\ntarget:\n  local: {rate_mbit: 100, jitter_ms: 2}\n",
        "target.local.jitter_ms",
        "unknown key (known here: rate_mbit, delay_ms, loss_percent)",
        id="unknown-key-in-target-local",
    ),
    pytest.param("benchmark: iperf3\ntarget: {azure: {}}\n", "target.azure", "unknown key", id="unknown-target"),
    pytest.param(
        "benchmark: iperf3\ntarget:\n  local: {rate_mbit: fast}\n",
        "target.local.rate_mbit",
        "'fast' is not of type 'number'",
        id="string-for-number-in-target",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {min: fast}\n",
        "slo.throughput_received.min",
        "'fast' is not of type 'number'",
        id="string-for-number-in-slo",
    ),
    pytest.param(
        "benchmark: iperf3\ntarget:\n  local: {loss_percent: 101}\n",
        "target.local.loss_percent",
        "101 is greater than the maximum of 100",
        id="loss-over-100-percent",
    ),
    pytest.param("benchmark: ping\n", "benchmark", "unknown tool 'ping'; known: cluster_crud, clusterloader2, fio, iperf3, kperf", id="unknown-tool"),
    pytest.param(
        "benchmark: iperf3\nparams: {threads: 2}\n",
        "params.threads",
        "unknown parameter (known: protocol, duration, parallel, bandwidth, reverse, bidir, omit)",
        id="unknown-parameter-in-params",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {threads: [1, 2]}\n",
        "matrix.threads",
        "unknown parameter (known: protocol,",
        id="unknown-parameter-in-matrix",
    ),
    pytest.param(
        "benchmark: iperf3\ninclude:\n  - {id: x, threads: 2}\n",
        "include.0.threads",
        "unknown parameter (known: protocol,",
        id="unknown-parameter-in-include",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {duration: -3}\n",
        "params.duration",
        "duration must be a whole number of seconds > 0, got -3",
        id="negative-duration",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {bandwidth: [100M, fast]}\n",
        "matrix.bandwidth",
        'bandwidth must be bits/s as an int >= 0 or a string like "500M", got \'fast\'',
        id="malformed-bandwidth",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {bidir: true}\ninclude:\n  - {id: both, reverse: true}\n",
        "params.bidir",
        "bidir and reverse exclude each other",
        id="bidir-and-reverse",
    ),
    pytest.param(
        "benchmark: fio\ninclude:\n  - {id: short, runtime: -1}\n",
        "include.0.runtime",
        "runtime must be a whole number of seconds > 0, got -1",
        id="negative-runtime",
    ),
    pytest.param(
        "benchmark: iperf3\nmeasurements:\n  syn_drops: {query: 'rate(x[1m])', unit: 1/s}\n",
        "measurements.syn_drops",
        "'better' is a required property",
        id="measurement-without-direction",
    ),
    pytest.param(
        "benchmark: iperf3\nbaseline_metrics: [network_tcp_retransmit]\n",
        "baseline_metrics.0",
        "unknown metric 'network_tcp_retransmit'",
        id="unknown-baseline-metric",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {duration: '3'}\n",
        "params.duration",
        "must be a number, not '3'",
        id="string-for-int-in-params",
    ),
    pytest.param(
        "benchmark: iperf3\ninclude:\n  - {protocol: tcp}\n  - {parallel: '2'}\n",
        "include.1.parallel",
        "must be a number, not '2'",
        id="string-for-int-in-include",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {reverse: 1}\n",
        "params.reverse",
        "must be true or false, not 1",
        id="number-for-bool-in-params",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {reverse: [true, 1]}\n",
        "matrix.reverse",
        "must be true or false, not 1",
        id="number-for-bool-in-matrix",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {parallel: true}\n",
        "params.parallel",
        "must be a number, not True",
        id="bool-for-int",
    ),
    pytest.param(
        "benchmark: fio\nparams: {rw: 1}\n",
        "params.rw",
        "must be a string, not 1",
        id="number-for-string",
    ),
    pytest.param(
        "benchmark: iperf3\nparams: {duration: 2.5}\n",
        "params.duration",
        "",
        id="float-for-int",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  latency: {max: 1}\n",
        "slo.latency",
        "unknown metric (known: throughput_sent, throughput_received,",
        id="unknown-metric",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {unit: Mbit/s}\n",
        "slo.throughput_received",
        "",
        id="threshold-without-min-or-max",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received:\n    - {min: 1}\n    - {unit: Mbit/s}\n",
        "slo.throughput_received.1",
        "",
        id="threshold-without-min-or-max-in-list",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {min: 1, units: Mbit/s}\n",
        "slo.throughput_received.units",
        "unknown key (known here: min, max, unit, clouds, when, labels)",
        id="unknown-key-in-threshold",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {min: 1, unit: ms}\n",
        "slo.throughput_received.unit",
        "'ms' does not measure throughput_received (Mbit/s)",
        id="unit-that-cannot-convert",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received:\n    - {min: 1}\n    - {max: 2, unit: ms}\n",
        "slo.throughput_received.1.unit",
        "'ms' does not measure throughput_received (Mbit/s)",
        id="unit-that-cannot-convert-in-list",
    ),
    pytest.param(
        "benchmark: fio\nslo:\n  read_clat_p99: {max: 1, unit: MiB/s}\n",
        "slo.read_clat_p99.unit",
        "'MiB/s' does not measure read_clat_p99 (us)",
        id="bandwidth-unit-for-latency",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {min: 1, when: {proto: tcp}}\n",
        "slo.throughput_received.when.proto",
        "unknown parameter (known: protocol,",
        id="unknown-parameter-in-when",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {protocol: [tcp, tcp]}\n",
        "matrix",
        "two cases have the id 'tcp'",
        id="duplicate-case-ids-in-matrix",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {protocol: [tcp, udp]}\ninclude:\n  - {protocol: udp}\n",
        "include.0",
        "two cases have the id",
        id="include-without-id-duplicates-matrix",
    ),
    pytest.param(
        "benchmark: iperf3\ninclude:\n  - {id: a, protocol: tcp}\n  - {id: a, protocol: udp}\n",
        "include.1.id",
        "two cases have the id 'a'",
        id="duplicate-include-ids",
    ),
    pytest.param(
        "benchmark: iperf3\nclouds: [local, azure]\n",
        "clouds.1",
        "'azure' is not one of ['local', 'aks', 'eks', 'gke', 'existing']",
        id="unknown-cloud",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  throughput_received: {min: 1, clouds: [azure]}\n",
        "slo.throughput_received.clouds.0",
        "'azure' is not one of",
        id="unknown-cloud-in-threshold",
    ),
    pytest.param(
        "benchmark: iperf3\ninclude:\n  - {id: 'tcp fast', protocol: tcp}\n",
        "include.0.id",
        "does not match",
        id="include-id-with-space",
    ),
    pytest.param(
        "benchmark: iperf3\nmatrix: {parallel: 4}\n", "matrix.parallel", "is not of type 'array'", id="matrix-not-a-list"
    ),
    pytest.param("benchmark: iperf3\nmatrix: {parallel: []}\n", "matrix.parallel", "non-empty", id="empty-matrix-list"),
    pytest.param(
        "benchmark: fio\nslo:\n  read_iops: off\n",
        "slo.read_iops",
        "no default threshold to switch off (defaults: none)",
        id="switch-off-without-a-default",
    ),
    pytest.param(
        "benchmark: clusterloader2\nslo:\n  pod_startup_p90: off\n",
        "slo.pod_startup_p90",
        "no default threshold to switch off (defaults: api_call_latency_p99_resource,",
        id="switch-off-a-metric-the-tool-has-no-default-for",
    ),
    pytest.param(
        "benchmark: kperf\nslo:\n  latency_p99: {max: 30, labels: {verb: [LIST, GET]}}\n",
        "slo.latency_p99.labels.verb",
        "['LIST', 'GET'] is not of type 'string', 'number'",
        id="list-for-a-label-value",
    ),
    pytest.param(
        "benchmark: kperf\nslo:\n  latency_p99:\n    - {max: 30}\n    - {max: 5, labels: {verb: [LIST]}}\n",
        "slo.latency_p99.1.labels.verb",
        "['LIST'] is not of type 'string', 'number'",
        id="list-for-a-label-value-in-list",
    ),
    pytest.param(
        "benchmark: kperf\nslo:\n  latency_p99: {max: 30, labels: [verb, LIST]}\n",
        "slo.latency_p99.labels",
        "['verb', 'LIST'] is not of type 'object'",
        id="list-for-labels",
    ),
    pytest.param(
        "benchmark: iperf3\nslo:\n  cpu_utilization: {max: 80, labels: {role: true}}\n",
        "slo.cpu_utilization.labels.role",
        "True is not of type 'string', 'number'",
        id="bool-for-a-label-value",
    ),
    pytest.param(
        "benchmark: clusterloader2\nslo:\n  pod_startup_p99: on\n",
        "slo.pod_startup_p99",
        "a threshold needs min and/or max",
        id="switch-on-is-not-a-threshold",
    ),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD)
def test_bad_scenario_names_file_and_key(tmp_path, text, key, problem):
    path = write(tmp_path, text, "bad-scenario.yaml")
    with pytest.raises(ScenarioError) as raised:
        scenario.load(path)
    error = raised.value
    assert error.path == str(path)
    assert error.key == key
    prefix = f"{path}: {key}: " if key else f"{path}: "
    assert str(error).startswith(prefix), str(error)
    assert problem in str(error)


def test_unreadable_scenario_names_the_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot read: No such file"):
        scenario.load(path)


# Thresholds: units and where they apply


def test_threshold_keeps_the_unit_it_is_written_in(tmp_path):
    path = write(
        tmp_path,
        "benchmark: iperf3\nslo:\n"
        "  throughput_received: {min: 1, max: 2.5, unit: Gbit/s}\n"
        "  rtt_mean: {max: 2, unit: ms}\n",
    )
    suite = scenario.load(path)
    assert [(t.metric, t.op, t.limit, t.unit) for t in suite.thresholds] == [
        ("throughput_received", ">=", 1, "Gbit/s"),
        ("throughput_received", "<=", 2.5, "Gbit/s"),
        ("rtt_mean", "<=", 2, "ms"),
    ]


def test_kernel_metrics_take_slos_unless_their_programs_are_off(tmp_path):
    suite = scenario.load(write(tmp_path, "benchmark: fio\nslo:\n  runqueue_latency_p99: {max: 1, unit: ms}\n"))
    assert suite.kernel == ("runqueue_latency", "block_io_latency", "tcp_retransmits")
    assert suite.thresholds == (Threshold("runqueue_latency_p99", "<=", 1, "ms"),)
    chosen = scenario.load(write(tmp_path, "benchmark: fio\nkernel: [tcp_retransmits]\n", "chosen.yaml"))
    assert chosen.kernel == ("tcp_retransmits",)
    off = write(tmp_path, "benchmark: fio\nkernel: false\nslo:\n  runqueue_latency_p99: {max: 1, unit: ms}\n", "off.yaml")
    with pytest.raises(ScenarioError, match=r"off.yaml: slo.runqueue_latency_p99: unknown metric"):
        scenario.load(off)
    with pytest.raises(ScenarioError, match=r"kernel.0: 'softirqs' is not one of"):
        scenario.load(write(tmp_path, "benchmark: fio\nkernel: [softirqs]\n", "unknown.yaml"))


def test_threshold_without_unit_is_in_the_metric_unit(tmp_path):
    suite = scenario.load(write(tmp_path, "benchmark: fio\nslo:\n  read_bandwidth: {min: 100}\n"))
    assert suite.thresholds == (Threshold("read_bandwidth", ">=", 100, "MiB/s"),)


def test_threshold_clouds_and_when_narrow_where_it_applies(tmp_path):
    suite, tcp, udp = tcp_and_udp(tmp_path, "  throughput_received: {min: 100, when: {protocol: tcp}, clouds: [aks]}\n")
    assert len(suite.thresholds_for("aks", tcp)) == 1
    assert suite.thresholds_for("eks", tcp) == []
    assert suite.thresholds_for("aks", udp) == []


def test_when_matches_a_parameter_left_at_its_default(tmp_path):
    path = write(
        tmp_path,
        "benchmark: iperf3\nmatrix: {parallel: [1, 4]}\nslo:\n"
        "  throughput_received: {min: 500, when: {protocol: tcp}}\n",
    )
    suite = scenario.load(path)
    assert [case.id for case in suite.cases] == ["parallel1", "parallel4"]
    for case in suite.cases:
        assert [str(t) for t in suite.thresholds_for("local", case.params)] == ["throughput_received >= 500 Mbit/s"]


def test_threshold_labels_select_the_samples_it_judges(tmp_path):
    path = write(
        tmp_path,
        "benchmark: clusterloader2\nslo:\n"
        "  api_call_latency_p99_cluster:\n"
        "    - {max: 30, unit: s}\n"
        "    - {max: 5, unit: s, labels: {verb: LIST, resource: pods}}\n"
        "  scale_up_nodes_time: {max: 600, labels: {nodes_percent: 50}}\n"
        "  cpu_utilization: {max: 80, labels: {role: client}}\n",
    )
    suite = scenario.load(path)
    own = [t for t in suite.thresholds if not t.optional]
    assert own == [
        Threshold("api_call_latency_p99_cluster", "<=", 30, "s"),
        Threshold("api_call_latency_p99_cluster", "<=", 5, "s", labels={"verb": "LIST", "resource": "pods"}),
        Threshold("scale_up_nodes_time", "<=", 600, "s", labels={"nodes_percent": 50}),
        Threshold("cpu_utilization", "<=", 80, "%", labels={"role": "client"}),
    ]
    assert [str(t) for t in own] == [
        "api_call_latency_p99_cluster <= 30 s",
        "api_call_latency_p99_cluster resource=pods verb=LIST <= 5 s",
        "scale_up_nodes_time nodes_percent=50 <= 600 s",
        "cpu_utilization role=client <= 80 %",
    ]


def test_threshold_labels_apply_with_clouds_and_when(tmp_path):
    suite, tcp, udp = tcp_and_udp(tmp_path, "  cpu_utilization: {max: 80, labels: {role: client}, when: {protocol: tcp}, clouds: [local]}\n")
    (threshold,) = suite.thresholds_for("local", tcp)
    assert threshold.labels == {"role": "client"}
    assert suite.thresholds_for("local", udp) == suite.thresholds_for("aks", tcp) == []


# The tool's default SLO


CL2_DEFAULTS = [
    "api_call_latency_p99_resource <= 1 s",
    "api_call_latency_p99_namespace <= 30 s",
    "api_call_latency_p99_cluster <= 30 s",
    "api_call_latency_p99_nonresource <= 30 s",
    "pod_startup_p99 <= 5 s",
]


@pytest.mark.parametrize("cloud", scenario.CLOUDS)
def test_default_slo_applies_as_optional_thresholds_on_every_cloud(tmp_path, cloud):
    suite = scenario.load(write(tmp_path, "benchmark: clusterloader2\nparams: {testconfig: load/config.yaml}\n"))
    thresholds = suite.thresholds_for(cloud, suite.cases[0].params)
    assert [str(t) for t in thresholds] == CL2_DEFAULTS
    assert all(t.optional for t in thresholds)


def test_suite_threshold_replaces_the_default_on_its_metric(tmp_path):
    path = write(tmp_path, "benchmark: clusterloader2\nslo:\n  pod_startup_p99: {max: 15, unit: s, clouds: [aks]}\n")
    suite = scenario.load(path)
    assert [t for t in suite.thresholds if t.metric == "pod_startup_p99"] == [
        Threshold("pod_startup_p99", "<=", 15, "s", ("aks",))
    ]
    assert [str(t) for t in suite.thresholds_for("aks", {})] == ["pod_startup_p99 <= 15 s", *CL2_DEFAULTS[:4]]
    # Replaced entirely: where the suite's threshold does not apply, the default does not come back.
    assert [str(t) for t in suite.thresholds_for("eks", {})] == CL2_DEFAULTS[:4]


def test_suite_list_of_thresholds_replaces_the_default(tmp_path):
    path = write(tmp_path, "benchmark: kperf\nslo:\n  error_rate:\n    - {max: 5}\n    - {max: 0.5, clouds: [aks]}\n")
    suite = scenario.load(path)
    assert [(str(t), t.optional) for t in suite.thresholds_for("aks", {})] == [
        ("error_rate <= 5 %", False),
        ("error_rate <= 0.5 %", False),
        ("latency_p99 <= 30 s", True),
    ]


@pytest.mark.parametrize("spelling", ["off", "false"])
def test_a_suite_switches_a_default_off(tmp_path, spelling):
    path = write(tmp_path, f"benchmark: clusterloader2\nslo:\n  pod_startup_p99: {spelling}\n  api_call_latency_p99_cluster: {spelling}\n")
    suite = scenario.load(path)
    assert [str(t) for t in suite.thresholds] == [
        "api_call_latency_p99_resource <= 1 s",
        "api_call_latency_p99_namespace <= 30 s",
        "api_call_latency_p99_nonresource <= 30 s",
    ]


def test_a_tool_without_a_default_slo_adds_no_threshold(tmp_path):
    assert not hasattr(iperf3, "DEFAULT_SLO")
    assert scenario.load(write(tmp_path, "benchmark: iperf3\n")).thresholds == ()


# Case ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        pytest.param("benchmark: iperf3\n", ["default"], id="no-cases"),
        pytest.param("benchmark: iperf3\nparams: {duration: 3}\n", ["default"], id="params-only"),
        pytest.param(
            "benchmark: iperf3\nmatrix: {protocol: [tcp, udp], parallel: [1, 4]}\n",
            ["tcp-parallel1", "tcp-parallel4", "udp-parallel1", "udp-parallel4"],
            id="matrix-product",
        ),
        pytest.param(
            "benchmark: iperf3\nmatrix: {reverse: [true, false]}\n", ["reverse", "no-reverse"], id="booleans"
        ),
        pytest.param(
            "benchmark: iperf3\nmatrix: {protocol: [tcp]}\ninclude:\n"
            "  - {id: tcp-reverse, protocol: tcp, reverse: true}\n"
            "  - {protocol: udp, bandwidth: 200M}\n",
            ["tcp", "tcp-reverse", "udp-200M"],
            id="include-ids",
        ),
    ],
)
def test_case_ids_are_readable(tmp_path, text, ids):
    suite = scenario.load(write(tmp_path, text))
    assert [case.id for case in suite.cases] == ids


def test_include_params_start_from_params(tmp_path):
    path = write(
        tmp_path,
        "benchmark: iperf3\nparams: {duration: 3, parallel: 2}\ninclude:\n  - {id: more, parallel: 8}\n",
    )
    (case,) = scenario.load(path).cases
    assert case == scenario.Case("more", {"duration": 3, "parallel": 8})


def test_distinct_large_numbers_give_distinct_case_ids(tmp_path):
    suite = scenario.load(write(tmp_path, "benchmark: iperf3\nmatrix: {bandwidth: [1000000, 1000001]}\n"))
    assert [case.id for case in suite.cases] == ["bandwidth1000000", "bandwidth1000001"]


def test_load_is_cached_per_path(tmp_path):
    path = write(tmp_path, "benchmark: iperf3\n")
    assert scenario.load(path) is scenario.load(path)


def test_a_scenario_declares_every_metric_s_direction_and_what_a_baseline_judges(tmp_path):
    path = write(
        tmp_path,
        "benchmark: iperf3\n"
        "measurements:\n  syn_drops: {query: 'rate(x[1m])', unit: 1/s, better: lower}\n"
        "baseline_metrics: [syn_drops, network_tcp_retransmits]\n",
        "judged.yaml",
    )
    loaded = scenario.load(path)
    assert loaded.metrics["syn_drops"] == Metric("1/s", "lower")
    assert loaded.metrics["network_tcp_retransmits"] == Metric("segments/s", "lower")
    assert loaded.metrics["throughput_received"] == Metric("Mbit/s", "higher")
    assert loaded.judged == set(iperf3.METRICS) | {"syn_drops", "network_tcp_retransmits"}


def test_by_default_a_baseline_judges_only_the_tool_s_own_metrics(tmp_path):
    loaded = scenario.load(write(tmp_path, "benchmark: fio\n", "fio.yaml"))
    assert loaded.judged == set(fio.METRICS)
    assert "disk_read_latency" in loaded.metrics  # a golden signal: recorded, not judged
