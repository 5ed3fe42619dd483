"""The corpus of bad input: each mistake gives one clear line naming the file and key or the command.

docs/errors.md lists these messages for users; a test keeps the two in step.
Each case is a real pytest session on a small suite (the local target,
real tools), so what is checked is what a user sees.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

IPERF3_TEST = '''
import pytest

@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(iperf3_run):
    iperf3_run()
'''

RUN_TEST = '''
import pytest
from pytest_telescope import Sample
from pytest_telescope.tools import fio, iperf3

@pytest.mark.scenario("iperf3.yaml")
def test_it(target, case, record_samples):
    %s
'''

GOOD = "benchmark: iperf3\nclouds: [local]\nparams: {duration: 1}\n"

# (id, scenario YAML, body of the test or None for the iperf3 test, extra pytest args, expected line as a regex)
CORPUS = [
    # Scenario files: collection errors naming the file and the key.
    ("yaml-syntax", "benchmark: iperf3\nparams: {duration: 3\n", None, [], r"iperf3\.yaml: not valid YAML: line 3, column 1: expected ',' or '}'"),
    ("yaml-tab", "benchmark: iperf3\n\tparams: {}\n", None, [], r"iperf3\.yaml: not valid YAML: line 2, column 1: found character '\\t'"),
    ("not-a-mapping", "- iperf3\n", None, [], r"iperf3\.yaml: must be a mapping with at least a 'benchmark' key"),
    ("no-benchmark", "params: {duration: 1}\n", None, [], r"iperf3\.yaml: 'benchmark' is a required property"),
    ("unknown-key", GOOD + "thresholds: {}\n", None, [], r"iperf3\.yaml: thresholds: unknown key \(known here: benchmark,"),
    ("unknown-target-setting", GOOD + "target: {local: {rate: 100}}\n", None, [], r"iperf3\.yaml: target\.local\.rate: unknown key \(known here: rate_mbit, delay_ms, loss_percent\)"),
    ("unknown-cloud", "benchmark: iperf3\nclouds: [azure]\n", None, [], r"iperf3\.yaml: clouds\.0: 'azure' is not one of"),
    ("unknown-tool", "benchmark: ping\n", None, [], r"iperf3\.yaml: benchmark: unknown tool 'ping'; known: cluster_crud, clusterloader2, fio, iperf3, kperf"),
    ("unknown-parameter", GOOD + "matrix: {streams: [1, 2]}\n", None, [], r"iperf3\.yaml: matrix\.streams: unknown parameter \(known: protocol, duration,"),
    ("wrong-type-number", "benchmark: iperf3\nparams: {duration: soon}\n", None, [], r"iperf3\.yaml: params\.duration: must be a number, not 'soon'"),
    ("wrong-type-bool", "benchmark: iperf3\nparams: {reverse: 1}\n", None, [], r"iperf3\.yaml: params\.reverse: must be true or false, not 1"),
    ("wrong-type-whole", "benchmark: iperf3\nparams: {parallel: 1.5}\n", None, [], r"iperf3\.yaml: params\.parallel: must be a whole number, not 1\.5"),
    ("matrix-not-a-list", "benchmark: iperf3\nmatrix: {parallel: 4}\n", None, [], r"iperf3\.yaml: matrix\.parallel: 4 is not of type 'array'"),
    ("slo-unknown-metric", GOOD + "slo: {latency: {max: 1}}\n", None, [], r"iperf3\.yaml: slo\.latency: unknown metric \(known: throughput_sent,"),
    ("slo-no-bound", GOOD + "slo: {jitter: {unit: ms}}\n", None, [], r"iperf3\.yaml: slo\.jitter: a threshold needs min and/or max"),
    ("slo-wrong-unit", GOOD + "slo: {jitter: {max: 1, unit: Mbit/s}}\n", None, [], r"iperf3\.yaml: slo\.jitter\.unit: 'Mbit/s' does not measure jitter \(ms\)"),
    ("slo-when-unknown", GOOD + "slo: {jitter: {max: 1, when: {proto: udp}}}\n", None, [], r"iperf3\.yaml: slo\.jitter\.when\.proto: unknown parameter"),
    ("duplicate-case", GOOD + "include: [{id: a}, {id: a, reverse: true}]\n", None, [], r"iperf3\.yaml: include\.1\.id: two cases have the id 'a'"),
    ("not-utf8", b"benchmark: iperf3\n# caf\xe9\n", None, [], r"iperf3\.yaml: not UTF-8: byte 0xe9 on line 2"),
    ("duplicate-key", GOOD + "params: {duration: 2}\n", None, [], r"iperf3\.yaml: not valid YAML: line 4, column 1: key 'params' given twice in one mapping"),
    ("yaml-alias-bomb", GOOD + "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}' if i else 'lol'] * 9)}]\n" for i in range(9)), None, [], r"iperf3\.yaml: not valid YAML: line 1, column 1: more than 100,000 values once its aliases are expanded"),
    ("yaml-deep", GOOD + "x: " + "[" * 1000 + "]" * 1000 + "\n", None, [], r"iperf3\.yaml: not valid YAML: line 4, column 23: nested deeper than 20 levels"),
    ("nan-threshold", GOOD + "slo: {jitter: {max: .nan}}\n", None, [], r"iperf3\.yaml: slo\.jitter\.max: nan is not a finite number"),
    ("negative-duration", "benchmark: iperf3\nparams: {duration: -3}\n", None, [], r"iperf3\.yaml: params\.duration: duration must be a whole number of seconds > 0, got -3"),
    ("malformed-bandwidth", GOOD + "include: [{id: fast, bandwidth: fast}]\n", None, [], r"iperf3\.yaml: include\.0\.bandwidth: bandwidth must be bits/s as an int >= 0 or a string like \"500M\", got 'fast'"),
    ("inf-parameter", "benchmark: iperf3\nparams: {duration: .inf}\n", None, [], r"iperf3\.yaml: params\.duration: inf is not a finite number"),
    ("huge-integer", "benchmark: iperf3\nparams: {duration: 1" + "0" * 400 + "}\n", None, [], r"iperf3\.yaml: params\.duration: a 401-digit integer is too large \(at most 9223372036854775807\)"),
    ("huge-matrix", "benchmark: iperf3\nmatrix: {duration: [%s], parallel: [%s], omit: [%s]}\n" % ((", ".join(map(str, range(1, 101))),) * 3), None, [], r"iperf3\.yaml: matrix: 1,000,000 cases, more than max_cases \(1000\); set max_cases: 1000000 in the file to run them all"),
    # Measurements: SLO verdicts and tool failures, each one line.
    ("slo-violated", GOOD + "slo: {throughput_received: {min: 1, unit: Pbit/s}}\n", None, [], r"iperf3\.yaml: slo\.throughput_received\.unit: 'Pbit/s' does not measure"),
    ("slo-not-measured", GOOD + "slo: {jitter: {max: 1}}\n", None, [], r"jitter was not measured, expected <= 1 ms"),
    ("slo-missed", GOOD + "slo: {throughput_received: {min: 1000000, unit: Gbit/s}}\n", None, [], r"throughput_received = [\d.e+]+ Mbit/s, expected >= 1e\+06 Gbit/s"),
    ("iperf3-garbage", GOOD, 'record_samples(iperf3.parse("iperf3: parameter error - must either be a client (-c) or server (-s)", ["iperf3"]))', [], r"iperf3: expected iperf3 --json output, got invalid JSON: Expecting value: line 1 column 1"),
    ("iperf3-truncated", GOOD, 'record_samples(iperf3.parse("{\\"start\\": {\\"connected\\": [", ["iperf3"]))', [], r"iperf3: expected iperf3 --json output, got invalid JSON: Expecting value: line 1 column 26"),
    ("iperf3-empty", GOOD, 'record_samples(iperf3.parse("", ["iperf3"]))', [], r"iperf3: .*(empty|no output)"),
    ("iperf3-nan", GOOD, 'record_samples(iperf3.parse(open("%s").read().replace("13455441217.858515", "NaN"), ["iperf3"]))' % (REPO / "tests/data/iperf3-3.12-tcp.json"), [], r"iperf3: end\.sum_received\.bits_per_second is not a finite number in iperf3 --json output: nan"),
    ("sample-nan", GOOD, 'record_samples(Sample("throughput_received", float("nan"), "Mbit/s"))', [], r"sample throughput_received: nan is not a finite number"),
    ("tool-long-line", GOOD, 'target.endpoint("client").run(["python3", "-c", "print(5_000_000 * \'x\'); exit(3)"])', [], r"python3 -c .*: exited with status 3 on client(.|\n)*\[\.\.\. 4,998,000 more characters\]"),
    ("iperf3-no-server", GOOD, 'record_samples(iperf3.parse(target.endpoint("client").run(iperf3.command("127.0.0.1", 1, duration=1), check=False).stdout, ["iperf3", "-c", "127.0.0.1"]))', [], r"iperf3 -c 127\.0\.0\.1: iperf3 reported: .*unable to (connect|send)"),
    ("fio-garbage", GOOD, 'record_samples(fio.parse("fio: failed parsing bs=4q", ["fio"]))', [], r"fio: .*(no JSON|not JSON|expected)"),
    ("fio-job-error", GOOD, 'record_samples(fio.parse(open("%s").read(), ["fio"]))' % (REPO / "tests/data/fio-3.33-job-error.json"), [], r"fio: .*error 22"),
    ("tool-exit-status", GOOD, 'target.endpoint("client").run(["sh", "-c", "echo no space left >&2; exit 28"])', [], r"sh -c echo no space left >&2; exit 28: exited with status 28 on client"),
    ("tool-timeout", GOOD, 'target.endpoint("client").run(["sleep", "5"], timeout=0.5)', [], r"sleep 5: did not finish within 0\.5 s"),
    ("missing-binary", GOOD, 'target.endpoint("client").run(["fio-3000", "--version"])', [], r"fio-3000: not found on PATH; install it first \(the README's setup command does\)"),
    ("server-dies", GOOD, 'e = target.endpoint("server")\n    with e.start(["iperf3", "-s", "-p", "70000"]) as p:\n        e.wait_listening(p, 70000)', [], r"iperf3 -s -p 70000: exited before it listened"),
    ("unknown-endpoint", GOOD, 'target.endpoint("database")', [], r"the local target has no 'database' endpoint \(it has client, server\)"),
    ("not-a-sample", GOOD, 'record_samples({"metric": "x", "value": 1})', [], r"record_samples takes a Sample or Samples, not str"),
    ("incomparable-unit", GOOD, 'record_samples(Sample("throughput_received", 1, "Mbit/s"))\n    record_samples.expect("throughput_received", min=1, unit="ms")', [], r"throughput_received is measured in Mbit/s, which cannot be compared with ms"),
    # Provisioning and options.
    ("failed-apply", GOOD, "pass", [f"--telescope-terraform-dir={REPO / 'tests/data/terraform-broken'}"], r"terraform apply failed \(status 1\) in .*/local"),
    ("terraform-dir-missing", GOOD, "pass", ["--telescope-terraform-dir", "terraform-modulez"], r"--telescope-terraform-dir terraform-modulez: no such directory \(.*/terraform-modulez\)"),
    ("bad-deletion-delay", GOOD, "pass", ["--telescope-deletion-delay", "soon"], r"telescope_deletion_delay: 'soon' is not a duration like 90m, 2h or 1d"),
    ("huge-deletion-delay", GOOD, "pass", ["--telescope-deletion-delay", "9" * 400 + "d"], r"telescope_deletion_delay: longer than 3650 days"),
    ("prometheus-unknown", GOOD, "pass", ["--telescope-prometheus", "lcoal"], r"--telescope-prometheus 'lcoal': expected local, off, cluster, cluster:<namespace>/<service>:<port> or a Prometheus URL \(http:// or https://\)"),
    ("prometheus-unreachable", GOOD, "pass", ["--telescope-prometheus", "http://127.0.0.1:9"], r"--telescope-prometheus http://127\.0\.0\.1:9: cannot reach Prometheus at http://127\.0\.0\.1:9: Connection refused"),
    ("tolerance-nan", GOOD, "pass", ["--telescope-tolerance", "nan%"], r"--telescope-tolerance: tolerance 'nan%': expected a percentage such as 5% or metric=5%"),
    ("tolerance-inf", GOOD, "pass", ["--telescope-tolerance", "read_clat_p99=inf%"], r"--telescope-tolerance: tolerance 'read_clat_p99=inf%': expected a percentage"),
]


@pytest.mark.parametrize("scenario, body, args, expected", [pytest.param(*case[1:], id=case[0]) for case in CORPUS])
def test_bad_input_gives_one_clear_line(local_suite, scenario, body, args, expected):
    pytester = local_suite
    pytester.makepyfile(test_suite=IPERF3_TEST if body is None else RUN_TEST % body)
    yaml_file = pytester.path.joinpath("iperf3.yaml")
    yaml_file.write_bytes(scenario) if isinstance(scenario, bytes) else yaml_file.write_text(scenario)

    result = pytester.runpytest_subprocess("-m", "local", *args)

    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0, output[:10_000]
    assert re.search(expected, output), output[:10_000]
    assert "Traceback" not in output, output[:10_000]
    assert len(output) < 20_000, output[:10_000]  # however large the input or a tool's output
    junit = pytester.path.joinpath("results").glob("*/junit.xml")
    assert all(path.stat().st_size < 20_000 for path in junit)


def test_every_message_of_the_corpus_is_documented_as_it_reads():
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \|", (REPO / "docs/errors.md").read_text(), re.MULTILINE)
    documented = {case_id: message.replace("`", "") for case_id, message in rows}
    missing = [case[0] for case in CORPUS if case[0] not in documented]
    stale = [case[0] for case in CORPUS if case[0] in documented and not re.search(case[4], documented[case[0]])]
    assert (missing, stale) == ([], [])
