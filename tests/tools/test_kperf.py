"""kperf: runkperf bench and runner group commands, load profiles, result parsing, the run with test doubles."""

import json
import re
import stat
from pathlib import Path

import pytest
import yaml

from pytest_telescope import scenario
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Sample
from pytest_telescope.tools import case_parameters, kperf

DATA = Path(__file__).parents[1] / "data" / "kperf"
NAMES = {0: "p0", 0.5: "p50", 0.9: "p90", 0.95: "p95", 0.99: "p99", 1: "p100"}
RESULTS = {
    "runkperf-bench-node100_job1_pod3k.json": ("result",),
    "kperf-runner-result.json": (),
    "kperf-runner-result-raw.json": (),
    "kperf-runner-multi-spec-result.json": ("aggregated",),
}


def report_of(name: str) -> dict:
    data = json.loads((DATA / name).read_text())
    for key in RESULTS[name]:
        data = data[key]
    return data


# Commands


def test_bench_command_defaults_leave_runkperfs_own():
    assert kperf.command("runkperf", "kube.conf", "/bench") == [
        "runkperf",
        "bench",
        "--kubeconfig=kube.conf",
        "--runner-image=ghcr.io/azure/kperf:0.3.4",
        "--runner-flowcontrol=workload-low:1000",
        "--result=/bench/result.json",
        "node100_job1_pod3k",
    ]


def test_bench_command_on_eks_with_affinities():
    argv = kperf.command("runkperf", "k", "/w", eks=True, rg_affinity="pool=runners", vc_affinity="pool=kwok")
    assert argv[5:] == ["--result=/w/result.json", "--rg-affinity=pool=runners", "--vc-affinity=pool=kwok", "--eks", "node100_job1_pod3k"]


def test_run_bench_tells_runkperf_it_runs_on_eks(tmp_path):
    recording = DATA / "runkperf-bench-node100_job1_pod3k.json"
    fake_runkperf = write_double(
        tmp_path / "fake_runkperf",
        "result = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--result=')][0]\n"
        f"pathlib.Path(result).write_text(pathlib.Path({str(recording)!r}).read_text())\n",
    )
    kperf.run(fake_runkperf, "unused", "k", tmp_path / "work", {}, eks=True, timeout=60)
    assert "--eks" in calls(tmp_path)[0]


def test_bench_command_with_options():
    argv = kperf.command(
        "runkperf", "k", "/w", bench="node100_pod10k", total=72000, deployments=10, interval="24h", cpu=64, memory=192,
        padding_bytes=16384, content_type="protobuf",
    )
    assert argv[6:] == [
        "node100_pod10k",
        "--total=72000",
        "--content-type=protobuf",
        "--cpu=64",
        "--memory=192",
        "--deployments=10",
        "--interval=24h",
        "--padding-bytes=16384",
    ]


def test_runner_group_commands():
    assert kperf.command("kperf", "k", "/w", bench="", total=1000, requests="staleList pods 1") == [
        "kperf",
        "rg",
        "--kubeconfig=k",
        "run",
        "--runnergroup=file:///w/runnergroup.yaml",
        "--runner-image=ghcr.io/azure/kperf:0.3.4",
        "--runner-flowcontrol=workload-low:1000",
    ]
    assert kperf.runner_group_result_command("kperf", "k") == ["kperf", "rg", "--kubeconfig=k", "result", "--wait"]
    assert kperf.runner_group_delete_command("kperf", "k") == ["kperf", "rg", "--kubeconfig=k", "delete"]


def test_command_takes_every_case_parameter_at_its_default():
    assert kperf.command("runkperf", "k", "/w", **case_parameters(kperf))[1] == "bench"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"requests": "staleList pods 1", "rate": 5.0}, "rate, requests do not apply to runkperf bench node100_job1_pod3k"),
        ({"bench": "", "deployments": 10}, r'deployments do not apply to a runner group \(bench=""\)'),
        ({"content_type": "xml"}, "content_type must be one of json, protobuf"),
        ({"total": -1}, "total must be an integer >= 0"),
    ],
)
def test_command_rejects(params, message):
    with pytest.raises(ValueError, match=message):
        kperf.command("runkperf", "k", "/w", **params)


# Load profiles


def test_load_profile_renders_the_case():
    profile = yaml.safe_load(
        kperf.load_profile(
            {
                "bench": "",
                "rate": 20.0,
                "total": 5000,
                "conns": 4,
                "client": 40,
                "content_type": "protobuf",
                "requests": "staleList pods 1000; quorumList pods 100 limit=1000; "
                "quorumList apps/v1/deployments 10 namespace=default seletor=app=web; staleGet v1/configmaps 5 namespace=kube-system name=x",
            }
        )
    )
    assert profile == {
        "version": 1,
        "description": "pytest-telescope load profile",
        "spec": {
            "rate": 20.0,
            "total": 5000,
            "conns": 4,
            "client": 40,
            "contentType": "protobuf",
            "disableHTTP2": False,
            "maxRetries": 0,
            "requests": [
                {"staleList": {"group": "", "version": "v1", "resource": "pods"}, "shares": 1000},
                {"quorumList": {"group": "", "version": "v1", "resource": "pods", "limit": 1000}, "shares": 100},
                {
                    "quorumList": {"group": "apps", "version": "v1", "resource": "deployments", "namespace": "default", "seletor": "app=web"},
                    "shares": 10,
                },
                {"staleGet": {"group": "", "version": "v1", "resource": "configmaps", "namespace": "kube-system", "name": "x"}, "shares": 5},
            ],
        },
    }


def test_load_profile_pod_log_request_has_no_resource():
    profile = yaml.safe_load(kperf.load_profile({"total": 10, "requests": "getPodLog - 3 namespace=default name=hello tailLines=100"}))
    assert profile["spec"]["requests"] == [{"getPodLog": {"namespace": "default", "name": "hello", "tailLines": 100}, "shares": 3}]


def test_runner_group_spec():
    spec = yaml.safe_load(kperf.runner_group_spec({"bench": "", "runners": 5, "total": 100, "requests": "staleList pods 1"}))
    assert spec["count"] == 5
    assert spec["loadProfile"]["spec"]["total"] == 100
    assert spec["loadProfile"]["spec"]["contentType"] == "json"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"requests": "staleList pods 1"}, "total must be an integer > 0 for a load profile"),
        ({"total": 10, "requests": " ; "}, "requests must list at least one request"),
        ({"total": 10, "requests": "staleList pods"}, "expected TYPE RESOURCE SHARES"),
        ({"total": 10, "requests": "list pods 1"}, "unknown type 'list'"),
        ({"total": 10, "requests": "staleWatchList pods 1"}, "unknown type 'staleWatchList'"),
        ({"total": 10, "requests": "staleList pods 1 selector=app=web"}, "staleList has no field 'selector'"),
        ({"total": 10, "requests": "watchList pods 1 seletor=app=web"}, "watchList has no field 'seletor'"),
        ({"total": 10, "requests": "staleList pods many"}, "shares must be a whole number"),
        ({"total": 10, "requests": "staleList a/b/c/d 1"}, "resource must be resource, version/resource or group/version/resource"),
        ({"total": 10, "requests": "staleList pods 1 limit"}, "'limit' is not KEY=VALUE"),
        ({"total": 10, "requests": "getPodLog pods 1"}, "getPodLog has no resource"),
        ({"total": 10, "rate": -1.0, "requests": "staleList pods 1"}, "rate must be a number >= 0"),
    ],
)
def test_load_profile_rejects(params, message):
    with pytest.raises(ValueError, match=message):
        kperf.load_profile(params)


def test_watch_list_selector_is_spelt_correctly_unlike_a_lists():
    profile = yaml.safe_load(kperf.load_profile({"total": 10, "requests": "watchList pods 1 selector=app=web"}))
    assert profile["spec"]["requests"] == [
        {"watchList": {"group": "", "version": "v1", "resource": "pods", "selector": "app=web"}, "shares": 1}
    ]


def go_struct_tags(source: str) -> dict[str, list[str]]:
    """The yaml tags of each struct in Go source, an inline struct's fields in its place."""
    structs: dict[str, list[str]] = {}
    for name, body in re.findall(r"^type (\w+) struct \{\n(.*?)^\}", source, re.MULTILINE | re.DOTALL):
        tags = []
        for line in body.splitlines():
            field = re.match(r"\s*(\w+)\s+\S*\s*`.*yaml:\"([^\"]*)\"", line)
            if field:
                tags += structs[field.group(1)] if field.group(2) == ",inline" else [field.group(2).split(",")[0]]
        structs[name] = tags
    return structs


def test_request_types_and_fields_are_those_of_kperf_0_3_4():
    source = (DATA / "load_traffic-v0.3.4.go").read_text()
    structs = go_struct_tags(source)
    types = {
        tag: go_type
        for go_type, tag in re.findall(r"^\s*\w+\s+\*(\w+)\s+`json:\"(\w+),omitempty\"", source, re.MULTILINE)
    }
    assert kperf.RUNNER_IMAGE.endswith(":0.3.4")
    assert {kind: list(fields) for kind, fields in kperf.REQUEST_FIELDS.items()} == {
        kind: structs[go_type] for kind, go_type in types.items()
    }


def test_runner_group_needs_a_runner():
    with pytest.raises(ValueError, match="runners must be an integer > 0"):
        kperf.runner_group_spec({"runners": 0, "total": 10, "requests": "staleList pods 1"})


# Parsing


@pytest.mark.parametrize("name", RESULTS)
def test_totals(name):
    # kperf's total counts the answered requests only; failures are counted apart.
    report = report_of(name)
    samples = {s.metric: s for s in kperf.parse((DATA / name).read_text())}
    errors = samples["errors"].value
    sent = report["total"] + errors
    assert samples["requests"] == Sample("requests", sent, "count")
    assert samples["received_bytes"] == Sample("received_bytes", report["totalReceivedBytes"], "B")
    assert samples["error_rate"] == Sample("error_rate", pytest.approx(100 * errors / sent), "%")
    seconds = samples["duration"].value
    assert samples["request_rate"] == Sample("request_rate", pytest.approx(sent / seconds), "req/s")


def test_the_error_rate_of_a_run_where_every_request_failed_is_100_percent():
    report = json.loads((DATA / "kperf-runner-result.json").read_text())
    report["total"] = 0  # no request was answered; the 4 in errorStats failed
    samples = {s.metric: s.value for s in kperf.parse(json.dumps(report))}
    assert (samples["requests"], samples["error_rate"]) == (4, 100.0)


def test_a_bench_report_holds_every_runner_s_requests():
    report = json.loads((DATA / "runkperf-bench-node100_job1_pod3k.json").read_text())
    spec = report["loadSpec"]
    assert report["result"]["total"] + 7 == spec["count"] * spec["loadProfile"]["spec"]["total"]  # 9993 + 7 errors
    report["result"]["total"] -= 1000  # one runner of ten did not report
    with pytest.raises(ToolError, match="9000 requests answered or failed, expected 10000 .*a runner's report is missing"):
        kperf.parse(json.dumps(report))


def test_a_runner_group_result_short_of_runners_x_total_is_an_error():
    output = (DATA / "kperf-runner-result.json").read_text()
    total = json.loads(output)["total"]
    assert kperf.parse(output, expected=total + 4)  # + its 4 errors: every request accounted for
    with pytest.raises(ToolError, match="a runner's report is missing"):
        kperf.parse(output, expected=2 * (total + 4))


@pytest.mark.parametrize(
    ("name", "errors", "seconds"),
    [
        ("runkperf-bench-node100_job1_pod3k.json", 7, 112.418830212),  # netErrors 2 + responseCodes 5
        ("kperf-runner-result.json", 4, 100.08311547),  # errorStats by type: 3 + 1
        ("kperf-runner-result-raw.json", 4, 100.08311547),  # the raw error list
        ("kperf-runner-multi-spec-result.json", 2, 100.08311547),  # the aggregated report
    ],
)
def test_errors_and_duration_of_each_result_format(name, errors, seconds):
    samples = {s.metric: s.value for s in kperf.parse((DATA / name).read_text())}
    assert samples["errors"] == errors
    assert samples["duration"] == pytest.approx(seconds)


@pytest.mark.parametrize("name", RESULTS)
def test_latency_percentiles_for_all_requests_and_per_url(name):
    report = report_of(name)
    samples = kperf.parse((DATA / name).read_text())
    expected = [Sample(f"latency_{NAMES[q]}", v, "s") for q, v in report["percentileLatencies"]]
    for key in sorted(report["percentileLatenciesByURL"]):
        method, _, url = key.partition(" ") if key.startswith("GET ") else ("", "", key)
        labels = {"method": method, "url": url} if method else {"url": url}
        expected += [Sample(f"url_latency_{NAMES[q]}", v, "s", labels) for q, v in report["percentileLatenciesByURL"][key]]
    assert [s for s in samples if "latency" in s.metric] == expected


def test_url_keys_with_a_method_are_split():
    samples = kperf.parse((DATA / "kperf-runner-result.json").read_text())
    p99 = [s for s in samples if s.metric == "url_latency_p99"]
    assert [s.labels for s in p99] == [
        {"method": "GET", "url": "https://10.0.0.1:443/api/v1/pods?limit=1000&timeout=1m0s"},
        {"method": "GET", "url": "https://10.0.0.1:443/api/v1/pods?resourceVersion=0&timeout=1m0s"},
    ]


def test_every_sample_is_a_known_metric_in_its_unit():
    for name in RESULTS:
        for sample in kperf.parse((DATA / name).read_text()):
            assert kperf.METRICS[sample.metric].unit == sample.unit


def test_log_lines_before_the_json_are_skipped():
    text = "I1124 16:04:01.1 runner.go:12] done\n" + (DATA / "kperf-runner-result.json").read_text()
    assert kperf.parse(text) == kperf.parse((DATA / "kperf-runner-result.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": 0, "errorStats": {}}, r"kperf sent no request \(total and errors are 0\)"),
        ({"duration": "100 seconds"}, "duration is not a Go duration: '100 seconds'"),
        ({"duration": None}, "no duration in kperf result JSON"),
    ],
)
def test_unreadable_results_are_errors(change, message):
    data = json.loads((DATA / "kperf-runner-result.json").read_text())
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ToolError, match=message):
        kperf.parse(json.dumps(data), ["kperf", "rg", "result"])


def test_empty_output_is_an_error():
    with pytest.raises(ToolError, match="no output; expected kperf result JSON"):
        kperf.parse("")


@pytest.mark.parametrize(("text", "seconds"), [("1h2m3.5s", 3723.5), ("250ms", 0.25), ("1.5µs", 1.5e-6), ("40.06311547s", 40.06311547)])
def test_go_durations(text, seconds):
    data = json.loads((DATA / "kperf-runner-result.json").read_text())
    data["duration"] = text
    (duration,) = [s.value for s in kperf.parse(json.dumps(data)) if s.metric == "duration"]
    assert duration == pytest.approx(seconds)


def test_default_slo_loads_as_a_scenario_slo(tmp_path):
    path = tmp_path / "kperf.yaml"
    path.write_text(yaml.safe_dump({"benchmark": "kperf", "slo": kperf.DEFAULT_SLO}))
    assert {str(t) for t in scenario.load(path).thresholds} == {"latency_p99 <= 30 s", "error_rate <= 1 %"}


# The run, with small doubles for runkperf and kperf


def write_double(path: Path, body: str) -> str:
    """An executable Python script standing in for a kperf binary; it logs its argv to calls.log."""
    path.write_text(
        "#!/usr/bin/env python3\nimport json, sys, pathlib\n"
        f"log = pathlib.Path({str(path.parent / 'calls.log')!r})\n"
        "log.open('a').write(json.dumps(sys.argv[1:]) + '\\n')\n" + body
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]


def test_run_bench_reads_the_result_file(tmp_path):
    recording = DATA / "runkperf-bench-node100_job1_pod3k.json"
    fake_runkperf = write_double(
        tmp_path / "fake_runkperf",
        "result = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--result=')][0]\n"
        f"pathlib.Path(result).write_text(pathlib.Path({str(recording)!r}).read_text())\n",
    )
    samples = kperf.run(fake_runkperf, "unused", "k", tmp_path / "work", {"total": 1000}, eks=False, timeout=60)
    assert samples == kperf.parse(recording.read_text())
    assert calls(tmp_path)[0][-2:] == ["node100_job1_pod3k", "--total=1000"]


def test_run_bench_that_fails_is_an_error(tmp_path):
    fake_runkperf = write_double(tmp_path / "fake_runkperf", "print('failed to deploy virtual node', file=sys.stderr)\nsys.exit(1)\n")
    with pytest.raises(ToolError, match="exited with status 1") as raised:
        kperf.run(fake_runkperf, "unused", "k", tmp_path / "work", {}, eks=False, timeout=60)
    assert "failed to deploy virtual node" in str(raised.value)


def test_run_runner_group_runs_waits_and_deletes(tmp_path):
    recording = DATA / "kperf-runner-result.json"
    fake_kperf = write_double(
        tmp_path / "fake_kperf", f"if 'result' in sys.argv:\n    print(pathlib.Path({str(recording)!r}).read_text())\n"
    )
    params = {"bench": "", "runners": 2, "total": 500, "requests": "staleList pods 1"}
    samples = kperf.run("unused", fake_kperf, "k", tmp_path / "work", params, eks=False, timeout=60)
    assert samples == kperf.parse(recording.read_text())
    assert [call[2] for call in calls(tmp_path)] == ["run", "result", "delete"]
    spec = yaml.safe_load((tmp_path / "work" / "runnergroup.yaml").read_text())
    assert (spec["count"], spec["loadProfile"]["spec"]["total"]) == (2, 500)


def test_run_runner_group_deletes_it_when_the_run_fails(tmp_path):
    fake_kperf = write_double(tmp_path / "fake_kperf", "if 'run' in sys.argv:\n    sys.exit(2)\n")
    params = {"bench": "", "total": 500, "requests": "staleList pods 1"}
    with pytest.raises(ToolError, match="exited with status 2"):
        kperf.run("unused", fake_kperf, "k", tmp_path / "work", params, eks=False, timeout=60)
    assert [call[2] for call in calls(tmp_path)] == ["run", "delete"]


def test_every_suite_case_builds_its_commands():
    suite = scenario.load(Path(__file__).resolve().parents[2] / "benchmarks" / "kubernetes" / "kperf-apiserver.yaml")
    for case in suite.cases:
        assert kperf.command("kperf", "k", "/w", **case.params)
        if case.params.get("bench") == "":
            assert yaml.safe_load(kperf.runner_group_spec(case.params))["loadProfile"]["spec"]["requests"]
