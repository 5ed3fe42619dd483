"""The ``telescope`` command: work on runs outside of pytest."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

from pytest_telescope import scenario, shard
from pytest_telescope.errors import ProvisionError, ScenarioError
from pytest_telescope.measure import server
from pytest_telescope.progress import Progress
from pytest_telescope.provision import janitor
from pytest_telescope.provision.runs import check_run_id
from pytest_telescope.redact import Redactor
from pytest_telescope.report import compare, merge
from pytest_telescope.validate import preflight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telescope", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    cleanup = commands.add_parser("cleanup", help="destroy targets that crashed runs left behind")
    cleanup.add_argument("--state-dir", type=Path, default=Path(".telescope"), help="the runs' state directory (default: .telescope)")
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be destroyed")
    cleanup.add_argument("--all", action="store_true", help="also destroy targets whose deletion_due_time has not come yet")
    cleanup.add_argument("--run-id", type=_run_id, help="only this run's targets, whatever their deletion_due_time")

    compare.add_arguments(commands.add_parser("compare", help="compare run B with run A; exit 1 if B regressed", description=compare.__doc__))

    check = commands.add_parser("preflight", help="check, offline, that each suite fits the cluster it declares; exit 1 if one does not",
                                description=preflight.__doc__)
    check.add_argument("paths", nargs="+", type=Path, help="scenario files, or directories searched for them")
    check.add_argument("-m", dest="clouds", default=list(preflight.CLUSTER_CLOUDS), type=_clouds,
                       help="the clouds, joined with 'or' as in pytest's -m (aks, 'eks or gke'); default: every cloud")

    matrix = commands.add_parser("matrix", help="the Azure DevOps job matrix of the selected tests: one job per target", description=shard.__doc__)
    shard.add_arguments(matrix)

    merge.add_arguments(commands.add_parser("merge", help="merge the result folders of a run's jobs into one", description=merge.__doc__))

    args = parser.parse_args(argv)
    if args.command == "compare":
        return compare.run(args)
    if args.command == "preflight":
        return _preflight(args.paths, args.clouds)
    if args.command == "merge":
        return merge.run(args)
    if args.command == "matrix":
        return shard.run(args)
    redactor = Redactor()
    redactor.add_environment(os.environ)
    progress = Progress(print, redactor, verbose=False)
    if args.command == "cleanup":
        errors = janitor.cleanup(
            args.state_dir, progress, dry_run=args.dry_run, ignore_due_time=args.all or bool(args.run_id), run_id=args.run_id
        )
        if not args.run_id:
            prometheus_data = server.directories_left(Path(tempfile.gettempdir()))
            janitor.sweep(prometheus_data, "the Prometheus data", progress, dry_run=args.dry_run)
        return 1 if errors else 0
    return 2


def _clouds(text: str) -> list[str]:
    names = [word for word in text.split() if word != "or"]
    unknown = [name for name in names if name not in scenario.CLOUDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: name clouds ({', '.join(scenario.CLOUDS)}) joined with 'or'")
    return names


def _preflight(paths: list[Path], clouds: list[str]) -> int:
    files = sorted({f for path in paths for f in ([path] if path.is_file() else path.rglob("*.yaml"))})
    pairs = []
    for path in files:
        if not _is_scenario(path):
            continue
        try:
            found = scenario.load(path.resolve())
        except ScenarioError as error:
            print(error)
            return 1
        pairs += [(found, cloud) for cloud in found.clouds if cloud in clouds]
    misfits = preflight.check_all(pairs)
    print(preflight.report(pairs, misfits))
    return 1 if misfits else 0


def _is_scenario(path: Path) -> bool:
    """A YAML file with a benchmark key; not a CL2 config (a Go template) or another tool's file."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return False
    return isinstance(document, dict) and "benchmark" in document


def _run_id(text: str) -> str:
    try:
        return check_run_id(text)
    except ProvisionError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--telescope-run-id: ")) from None


if __name__ == "__main__":
    sys.exit(main())
