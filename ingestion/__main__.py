"""CLI: ``python -m ingestion [--source NAME ...] [--full-refresh] [--start D --end D]``.

``python -m ingestion replay [--source NAME ...]`` re-admits rejected records that now parse.
Exits non-zero when a source fails, with one line per failing source.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack
from datetime import date

from rich.console import Console
from rich.table import Table

from ingestion.summary import RunSummary

logger = logging.getLogger("ingestion")

EXIT_CODES = (
    "Exit codes: 0 every source loaded; 1 a source failed (one line per failing source); "
    "2 a configuration error before any source ran; 3 refused: another ingestion run is "
    "writing one of the selected datasets (nothing was loaded; retry later)."
)
EXIT_REFUSED = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m ingestion",
        description=__doc__,
        epilog=EXIT_CODES,
    )
    parser.add_argument("command", nargs="?", choices=["run", "replay"], default="run")
    parser.add_argument(
        "--source", action="append", dest="sources", metavar="NAME", help="run only this source"
    )
    parser.add_argument("--full-refresh", action="store_true", help="drop and reload everything")
    parser.add_argument("--start", type=date.fromisoformat, help="backfill window start (day)")
    parser.add_argument("--end", type=date.fromisoformat, help="backfill window end (day)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    return parser.parse_args(argv)


def render(summary: RunSummary, console: Console) -> None:
    """Print the per-table summary."""
    table = Table(title=f"ingestion: {summary.duration_s:.1f} s, {len(summary.load_ids)} loads")
    for column in ("table", "loaded", "new", "updated", "rejected"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for key, counts in sorted(summary.tables.items()):
        table.add_row(
            key, str(counts.loaded), str(counts.new), str(counts.updated), str(counts.rejected)
        )
    console.print(table)


def lock_first(stack: ExitStack, sources: list[str] | None) -> bool:
    """Take the selected datasets' locks before dlt is imported (~1 s of CPU).

    Of two runs started together the second is then refused at once. Reading and checking
    ``sources.yml`` needs no dlt and no SQL, so a bad setting still fails before the warehouse
    is touched. Returns False (and holds nothing) when a lock could not be taken for another
    reason than a concurrent run: the runner then reports that per source.
    """
    from ingestion import config, warehouse
    from ingestion.locking import lock_datasets

    selected = config.select(config.load(), sources)
    if lock_datasets(stack, warehouse.current(warehouse.LOADER), selected) is None:
        return True
    stack.close()
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    console = Console(stderr=True)
    from ingestion.locking import ConcurrentRunError

    try:
        if args.command == "replay":
            from ingestion.readmit import replay

            summary = replay(args.sources)
        else:
            with ExitStack() as locks:
                held = lock_first(locks, args.sources)
                from ingestion.runner import run

                summary = run(
                    args.sources,
                    full_refresh=args.full_refresh,
                    start=args.start,
                    end=args.end,
                    progress=None if args.quiet else "log",
                    locks_held=held,
                )
    except ConcurrentRunError as exc:
        console.print(f"[red]ingestion refused:[/red] {exc}", soft_wrap=True)
        return EXIT_REFUSED
    except Exception as exc:  # configuration errors before any source ran
        console.print(f"[red]ingestion failed:[/red] {type(exc).__name__}: {exc}", soft_wrap=True)
        return 2
    render(summary, console)
    for error in summary.errors:
        console.print(f"[red]ingestion failed:[/red] {error}", soft_wrap=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
