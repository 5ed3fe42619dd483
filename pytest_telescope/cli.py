"""The ``telescope`` command: work on runs outside of pytest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_telescope.errors import ProvisionError
from pytest_telescope.progress import Progress
from pytest_telescope.provision import janitor
from pytest_telescope.provision.runs import check_run_id
from pytest_telescope.redact import Redactor
from pytest_telescope.report import compare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telescope", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    cleanup = commands.add_parser("cleanup", help="destroy targets that crashed runs left behind")
    cleanup.add_argument("--state-dir", type=Path, default=Path(".telescope"), help="the runs' state directory (default: .telescope)")
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be destroyed")
    cleanup.add_argument("--all", action="store_true", help="also destroy targets whose deletion_due_time has not come yet")
    cleanup.add_argument("--run-id", type=_run_id, help="only this run's targets, whatever their deletion_due_time")

    compare.add_arguments(commands.add_parser("compare", help="compare run B with run A; exit 1 if B regressed", description=compare.__doc__))

    args = parser.parse_args(argv)
    if args.command == "compare":
        return compare.run(args)
    progress = Progress(print, Redactor(), verbose=False)
    if args.command == "cleanup":
        errors = janitor.cleanup(
            args.state_dir, progress, dry_run=args.dry_run, ignore_due_time=args.all or bool(args.run_id), run_id=args.run_id
        )
        return 1 if errors else 0
    return 2


def _run_id(text: str) -> str:
    try:
        return check_run_id(text)
    except ProvisionError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--telescope-run-id: ")) from None


if __name__ == "__main__":
    sys.exit(main())
