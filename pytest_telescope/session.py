"""A run of benchmarks: its settings, targets, results files, and the hooks that use them."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from pathlib import Path

import pytest

from pytest_telescope import interrupts, shard
from pytest_telescope import scenario as scenarios
from pytest_telescope.ending import finish_run, shown
from pytest_telescope.errors import TelescopeError
from pytest_telescope.history import baseline
from pytest_telescope.history.baseline import BaselineRegression, Tolerance
from pytest_telescope.measure import Measurements
from pytest_telescope.measure.fingerprint import target_metadata
from pytest_telescope.measure.kernel import KernelWindows
from pytest_telescope.options import PREFLIGHT_MODES, kubeconfig, path_setting, setting, terraform_dir
from pytest_telescope.progress import Progress
from pytest_telescope.provision.pool import TargetPool
from pytest_telescope.provision.runs import parse_duration
from pytest_telescope.provisioning import ProvisioningTests
from pytest_telescope.redact import Redactor
from pytest_telescope.report import publish
from pytest_telescope.report.azure_devops import in_azure_devops, logissue
from pytest_telescope.report.compare import table as compare_table
from pytest_telescope.report.files import ResultsDirectoryError, check_writable
from pytest_telescope.report.jsonl import JsonlWriter
from pytest_telescope.report.junit import JunitReport
from pytest_telescope.report.table import Shown, table
from pytest_telescope.rows import rows, utc_now
from pytest_telescope.shard import parameter
from pytest_telescope.targets import Target, TargetSpec
from pytest_telescope.validate import preflight
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation

TELESCOPE = pytest.StashKey["Telescope"]()
# Set on a test by its record_samples fixture.
RECORDER = pytest.StashKey[Recorder]()
MEASUREMENTS = pytest.StashKey[tuple]()
# Seconds the test waited for its target's lock: another test was measuring on it.
LOCK_WAIT = pytest.StashKey[float]()
# A test's hold on its target, from its call until its fixtures' teardown is done.
HOLD = pytest.StashKey[contextlib.ExitStack]()
PREFLIGHT = pytest.StashKey[str]()
KERNEL = pytest.StashKey[tuple]()  # (the programs its scenario runs,): without, all of them


class Telescope:
    """The state of one run, and the hooks that use it."""

    def __init__(self, config: pytest.Config):
        self.config = config
        worker = getattr(config, "workerinput", None)
        self.is_worker = worker is not None
        self.run_id = (worker or {}).get("telescope_run_id") or setting(config, "run-id") or _new_run_id()
        self.started = utc_now()
        self.redactor = Redactor()
        self.redactor.add_environment(os.environ)
        self.progress = Progress.for_pytest(config, self.redactor)
        self.results_dir = path_setting(config, "results-dir") / self.run_id
        self.pool = TargetPool(
            path_setting(config, "state-dir"),
            self.run_id,
            terraform_dir(config),
            self.progress,
            self.redactor,
            deletion_delay=parse_duration(setting(config, "deletion-delay")),
            owner_pid=(worker or {}).get("telescope_owner_pid", os.getpid()),
            kubeconfig=kubeconfig(config),
        )
        if not self.is_worker:
            self.pool.refuse_if_in_use()
            if setting(config, "preflight") == "only" and getattr(config.option, "numprocesses", None):
                # xdist's workers collect: the report and its exit would come from each of them.
                raise pytest.UsageError("--telescope-preflight only runs without -n (it runs nothing: there is nothing to share)")
        keep = config.getoption("telescope_keep_target")
        self.keep_targets = keep if keep is not None else config.getini("telescope_keep_target")
        self.repeat, self.tolerance, self.baseline_rows = _results_settings(config, self.run_id)
        self.baseline_by_test = baseline.by_test(self.baseline_rows)
        html_setting = setting(config, "html")
        self.html_path = path_setting(config, "html") if html_setting else self.results_dir / "report.html"
        self.shown = Shown()  # this session's rows, as the terminal table needs them
        self.published_rows: list[dict] = []
        self.ran_benchmarks = False
        self.collection_failed = False  # junit.xml then says why the run failed
        self.collected: list[str] = []
        self.running: pytest.Item | None = None
        self.fingerprints: dict[int, dict] = {}  # by id(target): a session's targets live as long as it
        self.provisioning = ProvisioningTests()
        self.junit = JunitReport(self.run_id, self.started)
        self.measurements = Measurements(setting(config, "prometheus"), self.progress.say)
        self.kernel = KernelWindows(setting(config, "kernel"), self.progress.say)
        self.publish_to = None if self.is_worker else _publish_destination(setting(config, "publish"))
        self.in_azure_devops = in_azure_devops()
        self._writer: JsonlWriter | None = None
        self._previous_handlers = {} if self.is_worker else interrupts.install()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        interrupts.restore(self._previous_handlers)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """A results directory that cannot be written stops the run before anything is provisioned."""
        if self.is_worker or self.config.option.collectonly:
            return
        try:
            check_writable(self.results_dir)
        except ResultsDirectoryError as error:
            raise pytest.UsageError(str(error)) from None

    @property
    def writer(self) -> JsonlWriter:
        if self._writer is None:
            self._writer = JsonlWriter(self.results_dir / "results.jsonl", self.redactor.scrub)
        return self._writer

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput["telescope_run_id"] = self.run_id
        node.workerinput["telescope_owner_pid"] = os.getpid()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        if not self.collected:
            self.collected = list(ids)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.is_worker:
            self.collection_failed = True
            self.junit.add(report, [])

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = [item.nodeid for item in session.items]
        if any(_measured_on_local(item) for item in session.items):
            self.measurements.start_early()  # while the targets are provisioned

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """After -m and -k: only one target's tests with --telescope-target-key, then their preflight."""
        if setting(config, "target-key"):
            shard.select(config, items, setting(config, "target-key"))
        self._preflight(config, items)

    def _preflight(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Preflight of the selected tests whose clusters a shipped module would make."""
        mode = setting(config, "preflight")
        if mode not in PREFLIGHT_MODES:
            raise pytest.UsageError(f"telescope_preflight: {mode!r} is not one of {', '.join(PREFLIGHT_MODES)}")
        if mode == "off":
            return
        tests = []
        for item in items:
            spec, marker = parameter(item, "target"), item.get_closest_marker("scenario")
            if isinstance(spec, TargetSpec) and marker and self.asked_for(spec.cloud) and self.pool.ships_module(spec.cloud):
                tests.append((item, scenarios.load(Path(item.path).parent / marker.args[0]), spec.cloud))
        misfits, by_test = preflight.check_tests(tests)
        for item, message in by_test.items():
            item.stash[PREFLIGHT] = message
        if mode == "only":
            pytest.exit(preflight.report([(suite, cloud) for _, suite, cloud in tests], misfits), returncode=1 if misfits else 0)
        if misfits:
            self.progress.say(preflight.report([], misfits))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if PREFLIGHT in item.stash:
            pytest.fail(item.stash[PREFLIGHT], pytrace=False)

    def pytest_report_header(self, config: pytest.Config) -> str:
        return f"telescope: run {self.run_id}, results in {shown(self.results_dir)}"

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        marker = metafunc.definition.get_closest_marker("scenario")
        suite = None
        if marker is not None:
            path = Path(metafunc.definition.path).parent / marker.args[0]
            try:
                suite = scenarios.load(path)
            except TelescopeError as error:
                raise pytest.Collector.CollectError(str(error)) from None
        if "target" in metafunc.fixturenames:
            clouds = suite.clouds if suite else scenarios.CLOUDS
            specs = [TargetSpec.of(cloud, suite.target_settings(cloud) if suite else {}) for cloud in clouds]
            self.provisioning.add_thresholds(suite, specs)
            params = [pytest.param(spec, id=spec.cloud, marks=getattr(pytest.mark, spec.cloud)) for spec in specs]
            metafunc.parametrize("target", params, indirect=True, scope="session")
        if suite is not None and "case" in metafunc.fixturenames:
            metafunc.parametrize("case", [pytest.param(case, id=case.id) for case in suite.cases])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        self.running = item
        result = yield
        self.running = None
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        target = getattr(item, "funcargs", {}).get("target")
        if not isinstance(target, Target):
            return (yield)
        recorder = item.stash.get(RECORDER, None)
        asked = time.monotonic()
        # Released once the test's teardown is done: a fixture that changed the target sets it back
        # (target_terraform) before another test has it.
        hold = item.stash[HOLD] = contextlib.ExitStack()
        hold.enter_context(self.pool.exclusive(parameter(item, "target")))
        item.stash[LOCK_WAIT] = time.monotonic() - asked
        try:
            return (yield)
        finally:
            if recorder is not None:
                recorder.target = target_metadata(target, self.fingerprints)  # after the test: a cluster creates its pods when used

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem):
        try:
            return (yield)
        finally:
            if HOLD in item.stash:
                item.stash[HOLD].close()

    @pytest.hookimpl(tryfirst=True, specname="pytest_pyfunc_call")
    def pytest_pyfunc_call_repeated(self, pyfuncitem: pytest.Function) -> bool | None:
        """Runs a benchmark's body ``--telescope-repeat`` times; its recorder numbers the repeats."""
        recorder = pyfuncitem.stash.get(RECORDER, None)
        if recorder is None or self.repeat == 1:
            return None
        arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        for index in range(self.repeat):
            recorder.repeat = index
            pyfuncitem.obj(**arguments)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function):
        recorder = pyfuncitem.stash.get(RECORDER, None)
        target = pyfuncitem.funcargs.get("target")
        measurements = pyfuncitem.stash.get(MEASUREMENTS, ())
        watched = bool(measurements) and isinstance(target, Target) and self.measurements.available(target)
        traced = recorder is not None and isinstance(target, Target)
        traced = self.kernel.begin(target, *pyfuncitem.stash.get(KERNEL, ())) if traced else None
        start = time.time()
        try:
            result = yield
        finally:
            # Also when the test failed: the window explains a failure best.
            samples, problems = self.kernel.end(traced)
            if watched and recorder is not None:
                found = self.measurements.window(measurements, start, time.time())
                samples, problems = samples + found[0], problems + found[1]
            if recorder is not None:
                recorder(samples)
            if problems:
                pyfuncitem.add_report_section("call", "telescope measurements", "\n".join(problems))
        if recorder is not None:
            recorder.check()
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, (TelescopeError, *_VERDICTS)):
            report.longrepr = self.redactor.scrub(str(call.excinfo.value))
            report.telescope_error = type(call.excinfo.value).__name__
        report.telescope_benchmark = _is_benchmark(item)
        if self.progress.held:  # an xdist worker's lines (provisioning, measurements), for the controller to print
            report.telescope_lines = list(self.progress.held)
            self.progress.held.clear()
        if call.when == "call":
            report.telescope = self._take_samples(item)
            report.telescope_lock_wait = item.stash.get(LOCK_WAIT, 0.0)
        return report

    def _take_samples(self, item: pytest.Item) -> dict | None:
        """The item's samples, once: a test interrupted later is not reported twice."""
        recorder = item.stash.get(RECORDER, None)
        if recorder is None:
            return None
        del item.stash[RECORDER]
        return recorder.to_report()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        self.ran_benchmarks |= getattr(report, "telescope_benchmark", False)
        for line in getattr(report, "telescope_lines", ()):
            self.progress.command(line)  # already said, and scrubbed, by the worker
        data = report.__dict__.pop("telescope", None)  # pytest keeps every report: drop the samples once written
        self.publish_rows(report.nodeid, report.outcome, data)
        if self.in_azure_devops and report.failed and getattr(report, "telescope_error", None) in _ISSUES:
            self.progress.command(logissue("error", f"{report.nodeid}: {report.longrepr}", source=report.location[0]))
        self.junit.add(report, data["samples"] if data else [])

    def publish_rows(self, nodeid: str, outcome: str, data: dict | None) -> None:
        written = rows(self.run_id, nodeid, outcome, data) if data else []
        if written:
            if not self.writer.write(written):
                self.progress.say(
                    f"could not write {len(written)} rows of {nodeid} to {shown(self.writer.path)}: "
                    f"{self.writer.error.strerror}; kept, to write with the next test's"
                )
            self.shown.add(written)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self._publish_interrupted()
        finally:
            self.measurements.stop()  # an exporter inside a namespace would keep it alive
            self.kernel.stop()
            if not self.is_worker:
                finish_run(self, session)

    def _publish_interrupted(self) -> None:
        """Ctrl-C or SIGTERM during a test: pytest makes no report, so write what it measured."""
        item = self.running
        data = self._take_samples(item) if item is not None else None
        if data:
            self.publish_rows(item.nodeid, "interrupted", data)
        if item is not None and _is_benchmark(item):
            self.ran_benchmarks = True  # also when its target was being provisioned: junit.xml says why nothing ran
            if not self.is_worker:
                self.junit.add_interrupted(item.nodeid, data["samples"] if data else [])
        if self.is_worker and self._writer is not None:
            self._writer.close()

    def uses(self, cloud: str) -> bool:
        """A cluster costs money, or is the user's own: used only when asked for by name."""
        return cloud == "local" or self.asked_for(cloud)

    def asked_for(self, cloud: str) -> bool:
        """Named by ``-m``, or (a cluster of one's own) given a kubeconfig."""
        named = cloud in re.findall(r"[\w-]+", self.config.option.markexpr or "")
        return named or (cloud == "existing" and kubeconfig(self.config) is not None)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.is_worker or not self.ran_benchmarks:
            return
        counts = self.junit.counts()
        terminalreporter.write_line(
            f"telescope: {counts['passed']} passed, {counts['failure']} failed (the benchmark: an SLO or baseline missed), "
            f"{counts['error']} errors (the infrastructure: a target that did not provision, validate or clean up)"
        )
        if not self.shown.total:
            return
        terminalreporter.section(f"telescope: {self.shown.total} samples, run {self.run_id}")
        comparisons = baseline.compare(self.published_rows, self.baseline_rows, self.tolerance) if self.baseline_rows else []
        for line in table(self.shown, shown(self.writer.path), comparisons):
            terminalreporter.write_line(self.redactor.scrub(line))
        if self.baseline_rows:
            terminalreporter.section(f"telescope: against the baseline {setting(self.config, 'baseline')}")
            for line in compare_table(comparisons):
                terminalreporter.write_line(self.redactor.scrub(line))
        terminalreporter.write_line(f"report: {shown(self.html_path)}")


def _results_settings(config: pytest.Config, run_id: str) -> tuple[int, Tolerance, list[dict]]:
    """--telescope-repeat, --telescope-tolerance and the rows of --telescope-baseline, checked."""
    repeat = setting(config, "repeat")
    if not repeat.isdigit() or int(repeat) < 1:
        raise pytest.UsageError(f"--telescope-repeat must be a whole number >= 1, got {repeat!r}")
    try:
        tolerance = Tolerance.parse(setting(config, "tolerance"))
    except ValueError as error:
        raise pytest.UsageError(f"--telescope-tolerance: {error}") from None
    if not setting(config, "baseline"):
        return int(repeat), tolerance, []
    try:
        return int(repeat), tolerance, baseline.load(path_setting(config, "baseline"), exclude_run=run_id)
    except baseline.BaselineError as error:
        raise pytest.UsageError(f"--telescope-baseline: {error}") from None


def _is_benchmark(item: pytest.Item) -> bool:
    return bool({"target", "record_samples"} & set(getattr(item, "fixturenames", ())))


def _measured_on_local(item: pytest.Item) -> bool:
    """A scenario's test on the local target: its windows are read from a Prometheus started here."""
    spec = parameter(item, "target")
    return isinstance(spec, TargetSpec) and spec.cloud == "local" and item.get_closest_marker("scenario") is not None


# A test failing on one of these measured what it should: shown as its message alone, and
# raised as an Azure DevOps issue.
_VERDICTS = (SLOViolation, BaselineRegression)
_ISSUES = {verdict.__name__ for verdict in _VERDICTS}


def _publish_destination(url: str) -> publish.BlobDestination | None:
    """Checked at the start, so that a typo fails before any target is provisioned."""
    try:
        return publish.BlobDestination.parse(url) if url else None
    except publish.PublishError as error:
        raise pytest.UsageError(f"--telescope-publish {error}") from None


def _new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
