"""CLI: ``python -m ingestion [run|replay] [--source NAME] [--full-refresh | --reload [--yes]]
[--start D --end D] [--time-limit S] [--quiet]``, or ``python -m ingestion --list``.

A thin CLI over the run script's load step (``python -m orchestration ingest``): it takes the
one run lock, loads (or replays rejected records), records the run in the ledger and prints the
summary. One attempt, no retries (the run script's ``run`` retries).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

EXIT_CODES = (
    "Exit codes: 0 every source loaded; 1 a source failed (one line per failing source); "
    "2 a configuration error before any source ran (file and key named), or a --reload not "
    "confirmed with --yes (what it would forget is listed, nothing changed); 3 refused: another "
    "run holds the warehouse's run lock (nothing was loaded; retry later)."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    from orchestration.cli import add_time_limit

    parser = argparse.ArgumentParser(
        prog="python -m ingestion", description=__doc__, epilog=EXIT_CODES
    )
    parser.add_argument("command", nargs="?", choices=["run", "replay"], default="run")
    parser.add_argument(
        "--source", action="append", dest="sources", metavar="NAME", help="run only this source"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="re-read every source from its beginning and merge (rows a source no longer "
        "serves are kept)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="empty the raw tables and read every source again, forgetting rows a source no "
        "longer serves; says what it would forget and runs only with --yes",
    )
    parser.add_argument("--yes", action="store_true", help="confirm --reload")
    parser.add_argument("--start", type=date.fromisoformat, help="backfill window start (day)")
    parser.add_argument("--end", type=date.fromisoformat, help="backfill window end (day)")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (default: a live table per source on a terminal, else plain lines)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the enabled sources (or the --source ones, checked), one a line, and exit",
    )
    add_time_limit(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    from orchestration.cli import run_and_report, setup_logging
    from orchestration.runner import RunRequest

    args = parse_args(argv)
    if args.list:
        return list_sources(args.sources)
    if args.yes and not args.reload:
        print("error: --yes confirms --reload and means nothing alone", file=sys.stderr)
        return 2
    setup_logging()
    replay = args.command == "replay"
    request = RunRequest(
        command="replay" if replay else "ingest",
        sources=args.sources,
        full_refresh=args.full_refresh,
        reload=args.reload,
        confirmed=args.yes,
        start=args.start.isoformat() if args.start else None,
        end=args.end.isoformat() if args.end else None,
        skip_dbt=True,
        retries=0,
        progress=None if args.quiet else ("live" if sys.stderr.isatty() else "lines"),
        time_limit_s=args.time_limit_s,
    )
    return run_and_report(request)


def list_sources(names: list[str] | None) -> int:
    """Print the selected sources' names (every enabled one by default); 2 on a bad file."""
    from ingestion import config

    try:
        selected = config.select(config.load(), names)
    except config.SourceConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(spec.name for spec in selected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
