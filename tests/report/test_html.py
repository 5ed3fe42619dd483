"""The HTML report: its content, and how a real browser (Debian's chromium) renders it."""

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pytest_telescope.report.html import render

DATA = Path(__file__).parents[1] / "data"
RANDREAD = "benchmarks/storage/test_fio.py::test_fio[local-randread-4k]"


def rows_of(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


@pytest.fixture(scope="module")
def current() -> list[dict]:
    return rows_of("rows-current.jsonl")


@pytest.fixture(scope="module")
def baseline() -> list[dict]:
    return rows_of("rows-baseline.jsonl")


def figures(page: str) -> dict[str, str]:
    """Each plot's SVG by its caption, e.g. ``throughput_received (Mbit/s)``."""
    found = re.findall(r"<figure><figcaption>(.*?)</figcaption>(.*?)</figure>", page)
    return dict(found)


def repeated(rows: list[dict], test: str, metric: str, values: list[float], verdict: str) -> list[dict]:
    """Rows of one metric measured once per value, as a run with repeats writes them."""
    (template,) = [r for r in rows if r["test"] == test and r["metric"] == metric]
    return [
        {**template, "value": v, "repeat": i, "slo": {**template["slo"], "verdict": verdict}}
        for i, v in enumerate(values)
    ]


# Content


def test_one_plot_per_metric_of_each_benchmark(current):
    page = render(current)
    assert re.findall(r'<section class="benchmark"><h2>(\w+)</h2>', page) == ["iperf3", "fio"]
    plots = figures(page)
    assert len(plots) == 24  # 10 iperf3 metrics, 14 fio metrics (7 per direction)
    assert all(svg.startswith("<svg") for svg in plots.values())
    assert len(re.findall(r'class="category"', plots["throughput_received (Mbit/s)"])) == 3


def test_the_page_loads_nothing_from_anywhere(current, baseline):
    page = render(current, baseline)
    assert not re.search(r"\b(src|href)=", page)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in page


def test_slo_thresholds_are_drawn_as_lines_and_far_ones_are_named(current):
    plots = figures(render(current))
    received = plots["throughput_received (Mbit/s)"]
    assert len(re.findall(r'<line class="slo"', received)) == 2  # tcp-parallel1 and tcp-parallel4
    assert "SLO &gt;= 500" in received
    p99 = plots["read_clat_p99 (us)"]  # <= 50 ms, while fio measured about 0.5 ms
    assert '<line class="slo"' not in p99
    assert "SLO &lt;= 50000 us: off the scale" in p99


def test_the_baseline_is_a_second_series_with_its_verdicts(current, baseline):
    with_baseline = render(current, baseline)
    plots = figures(with_baseline)
    assert len(re.findall(r'class="median baseline"', plots["read_iops (IOPS)"])) == 1
    assert re.search(r'<text class="change inconclusive"[^>]*>\+29%<title>', plots["rtt_mean (us)"])
    assert re.search(r'<text class="change regression"[^>]*>\+517%<title>', plots["retransmits (count)"])
    assert "<b>1</b> regression</span>" in with_baseline
    # The table shows what was judged: the baseline's median and n, the change, the tolerance, the reason.
    assert re.search(
        r"<td class=\"num\">801 \(n=3\)</td><td class=\"num\">\+516\.9%</td><td class=\"num\">5%</td>"
        r"<td><span class=\"verdict regression\">regression</span> \(n=1, beyond the baseline&#x27;s spread",
        with_baseline,
    )
    without = render(current)
    assert "median baseline" not in without
    assert "Against the baseline" not in without


def test_summary_counts_tests_and_slo_verdicts(current):
    page = render(current)
    assert '<span class="count passed"><b>5</b> passed</span>' in page
    assert '<span class="count pass"><b>6</b> pass</span>' in page


def test_a_failed_slo_is_drawn_red_and_flagged(current):
    rows = [r for r in current if r["test"] != RANDREAD] + repeated(
        current, RANDREAD, "read_iops", [800.0, 900.0, 950.0], "fail"
    )
    page = render(rows)
    assert 'class="median failed"' in figures(page)["read_iops (IOPS)"]
    assert '<span class="count fail"><b>1</b> fail</span>' in page
    assert re.search(
        r'<tr data-attention="1"[^>]*><td>test_fio\[local-randread-4k\]</td><td>read_iops job=telescope</td>', page
    )


def test_a_pass_whose_interval_crosses_the_limit_is_marginal(current):
    # min 1000 IOPS: the median passes, but one repeat of three fell below.
    rows = [r for r in current if r["test"] != RANDREAD] + repeated(
        current, RANDREAD, "read_iops", [950.0, 1100.0, 1200.0], "pass"
    )
    page = render(rows)
    assert '<span class="count marginal"><b>1</b> marginal</span>' in page
    assert '<td class="slo marginal">marginal (&gt;= 1000 IOPS)</td>' in page
    assert "950 – 1200" in page


def test_repeats_show_as_dots_with_the_interval_as_a_whisker(current):
    rows = [r for r in current if r["test"] != RANDREAD] + repeated(
        current, RANDREAD, "read_iops", [58000.0, 60000.0, 61000.0], "pass"
    )
    plot = figures(render(rows))["read_iops (IOPS)"]
    assert len(re.findall(r'class="sample current"', plot)) == 3
    assert 'class="whisker current"' in plot
    assert "median 60000 IOPS of 3, 95% CI 58000 – 61000 (75%)" in plot


def with_value(rows: list[dict], test: str, metric: str, value: float, **changes) -> list[dict]:
    return [{**r, "value": value, **changes} if r["test"] == test and r["metric"] == metric else r for r in rows]


def golden_signal(row: dict, metric: str, value: float, verdict: str = "none", judged: bool = False) -> dict:
    return {**row, "metric": metric, "value": value, "unit": "%", "labels": {"role": "client", "statistic": "avg"},
            "judged": judged, "slo": {"verdict": verdict, "thresholds": [f"{metric} <= 80 %"] if verdict != "none" else []}}


def kernel_sample(row: dict, metric: str, value: float, **fields) -> dict:
    """A kernel histogram's sample of ``row``'s test, as measure/kernel.py gives it: no labels, not judged."""
    return {**row, "metric": metric, "value": value, "unit": "us", "labels": {}, "judged": False,
            "slo": {"verdict": "none", "thresholds": []}, **fields}


def section(page: str, benchmark: str) -> str:
    return page.split(f'<section class="benchmark"><h2>{benchmark}</h2>', 1)[1].split("</section>", 1)[0]


def test_values_an_order_of_magnitude_apart_get_a_log_axis(current):
    # UDP at 200 Mbit/s beside TCP at 14-16 Gbit/s
    plot = figures(render(current))["throughput_received (Mbit/s)"]
    assert "Mbit/s, log scale" in plot
    assert re.findall(r'class="tick"[^>]*>([^<]*)', plot) == ["100", "1000", "10k", "100k"]
    udp = "benchmarks/network/test_iperf3.py::test_iperf3[local-udp-200M]"
    close = figures(render(with_value(current, udp, "throughput_received", 9000.0)))["throughput_received (Mbit/s)"]
    assert "log scale" not in close


def test_thresholds_show_in_the_unit_they_were_written_in(current):
    rows = with_value(current, RANDREAD, "read_clat_p99", 40000.0, slo={"verdict": "pass", "thresholds": ["read_clat_p99 <= 50 ms"]})
    page = render(rows)
    assert "SLO &lt;= 50 ms</text>" in figures(page)["read_clat_p99 (us)"]
    assert '<td class="slo pass">pass (&lt;= 50 ms)</td>' in page


def test_what_no_baseline_judges_is_folded_below_the_tool_s_metrics_unless_one_failed(current):
    (first,) = [r for r in current if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    page = render(current + [golden_signal(first, "cpu_utilization", 40.0), kernel_sample(first, "runqueue_latency_p99", 40.0)])
    fio = section(page, "fio")
    folded = fio.index("<details><summary>Context of fio (not judged)</summary>")
    assert fio.index("read_iops (IOPS)") < folded < fio.index("cpu_utilization (%)")
    assert folded < fio.index("runqueue_latency_p99 (us)")
    assert "<details><summary>Context (not judged): 2 metrics</summary>" in page
    failing = render(current + [golden_signal(first, "cpu_utilization", 95.0, "fail")])
    assert "<details open><summary>Context of fio (not judged): 1 needs attention</summary>" in failing


def test_a_golden_signal_a_baseline_judges_is_plotted_with_the_tool_s_metrics(current):
    (first,) = [r for r in current if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    fio = section(render(current + [golden_signal(first, "cpu_utilization", 40.0, judged=True)]), "fio")
    assert "<details>" not in fio
    assert "cpu_utilization (%)" in fio


def test_many_cases_get_upright_labels_with_room_for_each(current):
    (template,) = [r for r in current if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    rows = [{**template, "test": f"t.py::test_many[local-case-number-{i}]", "value": 1000.0 + i} for i in range(50)]
    plot = figures(render(rows))["read_iops (IOPS)"]
    width, height = map(float, re.search(r'viewBox="0 0 (\S+) (\S+)"', plot).groups())
    assert width >= 50 * 14  # one line of text per case
    assert len(re.findall(r'class="category" transform="translate\([\d.]+,\d+\) rotate\(-90\)"', plot)) == 50
    assert ">case-number-49 job=telescope</text>" in plot
    assert height >= 204 + len("case-number-49 job=telescope") * 6.5  # the longest label fits below the axis


def test_the_legend_names_the_baseline_only_when_there_is_one(current, baseline):
    assert "baseline" in render(current, baseline).split('<p class="legend">', 1)[1].split("</p>", 1)[0]
    assert "baseline" not in render(current).split('<p class="legend">', 1)[1].split("</p>", 1)[0]


def test_a_run_without_samples_still_gives_a_page():
    page = render([])
    assert "<p>Run -: no samples.</p>" in page
    assert "<figure>" not in page


def test_names_from_the_rows_are_escaped(current):
    rows = [{**r, "test": "t.py::test_x[<script>alert(1)</script>]"} for r in current[:1]]
    page = render(rows)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# In a real browser

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)


def chromium(tmp_path: Path, page: Path, *mode: str) -> subprocess.CompletedProcess:
    """Open ``page`` in headless chromium with a fresh profile; console messages go to stderr."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *mode, page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    )


def console_messages(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_a_script_error_shows_in_the_console_messages(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text('<!DOCTYPE html><html><body><script>throw new Error("boom");</script></body></html>')
    (message,) = console_messages(chromium(tmp_path, broken, "--dump-dom"))
    assert "Uncaught Error: boom" in message


@needs_chromium
def test_the_report_renders_in_chromium_without_a_script_error(tmp_path, current, baseline):
    report = tmp_path / "report.html"
    report.write_text(render(current, baseline), encoding="utf-8")
    result = chromium(tmp_path, report, "--dump-dom")
    assert console_messages(result) == []
    dom = result.stdout
    assert (
        '<label><input type="checkbox" id="attention-only">' in dom
    )  # the script ran to its end and showed the filter
    assert len(re.findall(r"<figure>", dom)) == 24
    assert len(re.findall(r"<svg viewBox=", dom)) == 24


@needs_chromium
@pytest.mark.parametrize("width", [1280, 800])
def test_a_screenshot_of_the_report(tmp_path, current, baseline, width):
    report = tmp_path / "report.html"
    report.write_text(render(current, baseline), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    chromium(tmp_path, report, f"--screenshot={screenshot}", f"--window-size={width},2000")
    header = screenshot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (width, 2000)


def test_a_row_with_a_histogram_is_drawn_as_bars_beside_its_benchmarks_plots(current):
    (template,) = [r for r in current if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    buckets = [[16, 31, 4], [32, 63, 180], [64, 127, 20]]
    row = kernel_sample(template, "block_io_latency_count", 204, unit="count", histogram={"unit": "us", "buckets": buckets})
    page = render([*current, row])
    shown = figures(page)
    chart = shown["block io latency of test_fio[local-randread-4k] (204 events)"]
    assert re.findall(r"<title>(.*?)</title>", chart) == ["16–31 us: 4", "32–63 us: 180", "64–127 us: 20"]
    assert "block_io_latency_count (count)" in shown  # its count is a metric like any other
    fio = section(page, "fio")  # the chart beside the tool's plots, the count folded with what is not judged
    assert fio.index("read_iops (IOPS)") < fio.index("block io latency of") < fio.index("<details>") < fio.index("block_io_latency_count (count)")


def test_a_clusters_histograms_are_drawn_per_role_and_node(current):
    (template,) = [r for r in current if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    histograms = {
        ("server", "aks-server-0"): [[16, 31, 7]],
        ("client", "aks-client-0"): [[64, 127, 9]],
    }
    rows = [
        kernel_sample(template, "runqueue_latency_count", buckets[0][2], unit="count", labels={"role": role, "node": node},
                      histogram={"unit": "us", "buckets": buckets})
        for (role, node), buckets in histograms.items()
    ]
    shown = figures(render([*current, *rows]))
    server = shown["runqueue latency of test_fio[local-randread-4k] on server, node aks-server-0 (7 events)"]
    client = shown["runqueue latency of test_fio[local-randread-4k] on client, node aks-client-0 (9 events)"]
    assert re.findall(r"<title>(.*?)</title>", server) == ["16–31 us: 7"]
    assert re.findall(r"<title>(.*?)</title>", client) == ["64–127 us: 9"]
