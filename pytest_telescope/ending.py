"""The end of a run, in the process that owns it: destroy its targets, then publish its results.

Once begun, a signal does not stop it (``interrupts.finishing``); a second one within a few
seconds abandons it, to ``telescope cleanup``. ``run`` is the run's ``session.Telescope``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_telescope import interrupts
from pytest_telescope.history import baseline
from pytest_telescope.options import setting
from pytest_telescope.report import html, publish
from pytest_telescope.report.files import write_atomically

# The exit status of a run whose benchmarks passed but whose targets could not all be destroyed.
EXIT_CLEANUP_FAILED = 6


def finish_run(run, session: pytest.Session) -> None:
    """Destroy the targets and publish the results; once begun, a signal does not stop it."""
    errors, provisioned, timings = [], run.pool.provisioned(), {}
    try:
        with interrupts.finishing(run.progress.say, run.run_id) as finishing:
            try:
                errors = [] if run.keep_targets else run.pool.destroy_all(timings)
            finally:
                if not run.provisioning.publish(run, provisioned, timings):
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
                if errors:
                    run.junit.add_cleanup_error(_cleanup_failed(run, session, errors))
                _publish_run(run, session)
    except KeyboardInterrupt:
        run.progress.say(f"abandoned: `telescope cleanup --run-id {run.run_id}` removes what is left")
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        return
    if finishing.interrupted:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    if run.keep_targets and run.pool.run_dir.is_dir():
        run.progress.say(
            f"targets kept: rerun cases on them with --telescope-run-id {run.run_id}; "
            f"destroy them with: telescope cleanup --run-id {run.run_id}"
        )


def _cleanup_failed(run, session: pytest.Session, errors: list[str]) -> str:
    """Targets were left: said with the command that destroys them. Benchmarks that all passed
    end with their own exit status, so that a pipeline tells this from a failed benchmark."""
    for error in errors:
        run.progress.say(f"destroy failed: {error}")
    command = f"telescope cleanup --state-dir {shown(run.pool.state_root)} --run-id {run.run_id}"
    passed = session.exitstatus == pytest.ExitCode.OK
    summary = f"{'passed, ' if passed else ''}cleanup failed: targets left behind; destroy them with: {command}"
    run.progress.say(summary)
    session.exitstatus = EXIT_CLEANUP_FAILED if passed else session.exitstatus
    return summary


def _publish_run(run, session: pytest.Session) -> None:
    if run.ran_benchmarks or run.collection_failed:
        with run.progress.phase("publish", shown(run.results_dir)):
            run.junit.mark_not_run(run.collected, "not run: the session ended before this test")
            _write_file(run, session, run.results_dir / "junit.xml", lambda path: run.junit.write(path, run.redactor.scrub))
            if run._writer is not None:
                run._writer.close()
                _say_unwritten(run, session)
            _write_file(run, session, run.html_path, lambda path: _write_report(run, path))
    if run.publish_to is not None and run.ran_benchmarks:
        try:
            with run.progress.phase("upload", run.publish_to.url()):
                publish.upload_run(
                    run.publish_to,
                    run.results_dir,
                    scenario=publish.scenario_name(setting(run.config, "scenario"), {r["benchmark"] for r in run.published_rows}),
                    branch=publish.branch_name(os.environ, run.config.rootpath),
                    run_id=run.run_id,
                    environ=os.environ,
                )
        except publish.PublishError as error:
            run.progress.say(f"upload failed: {error}")
            failed(session)


def _write_file(run, session: pytest.Session, path: Path, write) -> None:
    """A results file that cannot be written (a full disk) is said, and publishing goes on."""
    try:
        write(path)
    except OSError as error:
        run.progress.say(f"could not write {shown(path)}: {error.strerror}")
        failed(session)


def _say_unwritten(run, session: pytest.Session) -> None:
    """Rows the JSONL could not take are not lost silently: each test they belong to is named."""
    unwritten = run._writer.unwritten
    if unwritten:
        tests = ", ".join(dict.fromkeys(row["test"] for row in unwritten))
        run.progress.say(
            f"could not write {len(unwritten)} rows of {tests} to {shown(run._writer.path)}: {run._writer.error.strerror}"
        )
        failed(session)


def _write_report(run, path: Path) -> None:
    """The HTML report of every row of this run id, read back from its results.jsonl, with the rows it could not take."""
    jsonl = run.results_dir / "results.jsonl"
    run.published_rows = (baseline.read_rows(jsonl) if jsonl.exists() else []) + (run._writer.unwritten if run._writer else [])
    against = run.baseline_rows if setting(run.config, "baseline") else None
    report = html.render(run.published_rows, against, tolerance=run.tolerance, errors=run.junit.errors())
    write_atomically(path, run.redactor.scrub(report))


def failed(session: pytest.Session) -> None:
    """The run fails, unless it already failed or was interrupted."""
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
