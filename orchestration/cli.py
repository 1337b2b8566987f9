"""``python -m orchestration run|ingest|build|backfill|replay|watch|status|report|...``.

Exit codes: 0 success, 1 a step failed (the step is named on one line on stderr), 2 bad
arguments or settings (or a ``--reload`` without ``--yes``: it lists what it would forget and
changes nothing), 3 another run holds the lock.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestion.redact import install_on_root_handlers, redact, wrap_standard_streams
from orchestration import runner

if TYPE_CHECKING:
    from orchestration.watch import WatchOptions

log = logging.getLogger("orchestration")

FULL_REFRESH_HELP = (
    "re-read every source from its beginning and merge (rows a source no longer serves are "
    "kept); dbt rebuilds every model (--full-refresh)"
)
RELOAD_HELP = (
    "empty the sources' raw tables and read them again, forgetting rows a source no longer "
    "serves; says what it would forget and runs only with --yes (dbt --full-refresh after it)"
)


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


def add_time_limit(parser: argparse.ArgumentParser) -> None:
    """``--time-limit S``: every source's wall-clock limit for this run."""
    parser.add_argument(
        "--time-limit",
        type=_seconds,
        dest="time_limit_s",
        metavar="S",
        help="seconds each source may read before it fails (default: its time_limit_s setting)",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        dest="sources",
        action="append",
        metavar="NAME",
        help="load only this source (repeatable); default: every enabled source",
    )
    parser.add_argument("--select", help="dbt selection passed to `dbt build --select`")
    parser.add_argument("--full-refresh", action="store_true", help=FULL_REFRESH_HELP)
    parser.add_argument("--reload", action="store_true", help=RELOAD_HELP)
    parser.add_argument("--yes", action="store_true", help="confirm --reload")
    parser.add_argument("--skip-dbt", action="store_true", help="load only, do not run dbt")
    parser.add_argument("--skip-ingest", action="store_true", help="run dbt build only")
    parser.add_argument("--retries", type=int, help="retries per failed step (default 2)")
    parser.add_argument("--backoff", type=float, dest="backoff_s", help="first retry wait, s")
    add_time_limit(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestration",
        description="Run the customer-analytics job (dlt loaders, then dbt build) and inspect it.",
        epilog="Exit codes: 0 success, 1 a step failed (named on one line on stderr), "
        "2 bad arguments or settings, or --reload without --yes (lists what it would forget, "
        "changes nothing), 3 another run holds the lock.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="ingest every enabled source, then dbt build")
    _add_common(run)

    ingest = sub.add_parser("ingest", help="the load step alone (run --skip-dbt)")
    ingest.add_argument("--source", dest="sources", action="append", metavar="NAME")
    ingest.add_argument("--full-refresh", action="store_true", help=FULL_REFRESH_HELP)
    ingest.add_argument("--reload", action="store_true", help=RELOAD_HELP)
    ingest.add_argument("--yes", action="store_true", help="confirm --reload")
    ingest.add_argument("--retries", type=int)
    ingest.add_argument("--backoff", type=float, dest="backoff_s")
    add_time_limit(ingest)

    build = sub.add_parser("build", help="the dbt build step alone (run --skip-ingest)")
    build.add_argument("--select", help="dbt selection passed to `dbt build --select`")
    build.add_argument("--full-refresh", action="store_true", help="dbt build --full-refresh")
    build.add_argument("--retries", type=int)
    build.add_argument("--backoff", type=float, dest="backoff_s")

    backfill = sub.add_parser("backfill", help="load and rebuild a date window")
    _add_common(backfill)
    backfill.add_argument("--start", required=True, type=_iso_date, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", required=True, type=_iso_date, help="last day, YYYY-MM-DD")

    replay = sub.add_parser("replay", help="re-admit rejected records that now parse")
    replay.add_argument("--source", dest="sources", action="append", metavar="NAME")
    replay.add_argument("--select", help="dbt selection for the build after the replay")
    replay.add_argument("--skip-dbt", action="store_true", help="do not run dbt afterwards")
    replay.add_argument("--retries", type=int)
    replay.add_argument("--backoff", type=float, dest="backoff_s")

    watch = sub.add_parser(
        "watch",
        help="load new files as they land, in micro-batches, until SIGTERM",
        description="Every --interval seconds, list the file-drop sources' landing zones; when "
        "a file is new, take the run lock, load it and dbt build what it feeds "
        "(source:<name>+), and record the cycle in the ledger (command 'watch'). SIGTERM or "
        "Ctrl-C lets the running cycle finish, then exits 0.",
    )
    watch.add_argument(
        "--interval",
        type=_seconds,
        default=10.0,
        dest="interval_s",
        metavar="SECONDS",
        help="seconds from one cycle's start to the next (default 10)",
    )
    watch.add_argument("--source", dest="sources", action="append", metavar="NAME")
    watch.add_argument("--select", help="dbt selection of a cycle (default: source:<name>+)")
    watch.add_argument("--retries", type=int)
    watch.add_argument("--backoff", type=float, dest="backoff_s")
    add_time_limit(watch)

    status = sub.add_parser("status", help="last runs, freshness, failing tests, rejects")
    status.add_argument("--limit", type=int, default=10, help="runs to show (default 10)")

    report = sub.add_parser("report", help="write the static HTML health report")
    report.add_argument("--out", type=Path, default=Path("reports/health.html"))
    report.add_argument("--days", type=int, default=30, help="days of history (default 30)")

    roles = sub.add_parser(
        "warehouse-roles",
        help="create/update the loader, transformer and reader roles on PostgreSQL (as admin)",
        description="Connected as an administrator (PG* variables), create or update the roles "
        "loader, transformer and reader (names: LOADER_PGUSER, DBT_PGUSER, READER_PGUSER; "
        "passwords: LOADER_PGPASSWORD, DBT_PGPASSWORD, READER_PGPASSWORD), their schemas and "
        "grants. Idempotent.",
    )
    roles.add_argument(
        "--reader-schema",
        dest="reader_schemas",
        action="append",
        metavar="SCHEMA",
        help="dbt schema the reader may read (repeatable; default: marts)",
    )
    erase = sub.add_parser(
        "erase",
        help="erase a person (GDPR art. 17) from every layer and suppress them in later loads",
        description="Record an erasure request in ops.erasure_requests (a keyed hash of the "
        "subject under ERASURE_SECRET, the time and who asked, never the personal data) and "
        "carry it out under the run lock (docs/privacy.md). Exit 1: not complete, retried by "
        "the next run.",
    )
    subject = erase.add_mutually_exclusive_group(required=True)
    subject.add_argument("--customer-id", help="the CRM customer id")
    subject.add_argument(
        "--email",
        help="the person's email address; `-` reads it from stdin (out of `ps` and shell history)",
    )
    erase.add_argument("--requested-by", help="who asked (default: the OS user)")
    return parser


def request_from_args(args: argparse.Namespace) -> runner.RunRequest:
    """Turn parsed arguments into a run request."""
    reload, confirmed = getattr(args, "reload", False), getattr(args, "yes", False)
    if confirmed and not reload:
        raise argparse.ArgumentTypeError("--yes confirms --reload and means nothing alone")
    request = runner.RunRequest(
        command=args.command,
        sources=getattr(args, "sources", None),
        full_refresh=getattr(args, "full_refresh", False),
        reload=reload,
        confirmed=confirmed,
        select=getattr(args, "select", None),
        skip_ingest=getattr(args, "skip_ingest", False) or args.command == "build",
        skip_dbt=getattr(args, "skip_dbt", False) or args.command == "ingest",
        retries=args.retries,
        backoff_s=args.backoff_s,
        time_limit_s=getattr(args, "time_limit_s", None),
    )
    if args.command == "backfill":
        if args.start > args.end:
            raise argparse.ArgumentTypeError(f"--start {args.start} is after --end {args.end}")
        request.start, request.end = args.start, args.end
        request.dbt_vars = {"start_date": args.start, "end_date": args.end}
    return request


def watch_options(args: argparse.Namespace) -> WatchOptions:
    """The watch mode's options from its arguments."""
    from orchestration.watch import WatchOptions

    return WatchOptions(
        interval_s=args.interval_s,
        sources=args.sources,
        select=args.select,
        retries=args.retries,
        backoff_s=args.backoff_s,
        time_limit_s=args.time_limit_s,
    )


def print_summary(console: Console, result: runner.RunResult) -> None:
    """The closing summary: rows per table, models, tests, warehouse location."""
    run = result.run
    if run is None:
        return
    if run.tables:
        table = Table(title=f"Rows loaded — run {run.run_id}", title_justify="left")
        for column in ("table", "loaded", "new", "updated", "rejected"):
            table.add_column(column, justify="left" if column == "table" else "right")
        for name, counts in sorted(run.tables.items()):
            table.add_row(
                escape(name),
                f"{counts.loaded:,}",
                f"{counts.new:,}",
                f"{counts.updated:,}",
                f"{counts.rejected:,}",
            )
        console.print(table)
    duration = f"{run.duration_s:.1f}s" if run.duration_s is not None else "?"
    console.print(
        f"run {run.run_id} ({run.status}) in {duration}: "
        f"{run.rows_loaded:,} rows loaded, {run.rows_rejected:,} rejected; "
        f"{run.models_built} models built; tests {run.tests_passed} passed, "
        f"{run.tests_warned} warned, {run.tests_failed} failed"
    )
    console.print(f"warehouse: {escape(result.warehouse_location)} (ledger: schema ops)")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    wrap_standard_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        setup_logging(args.verbose)
        if args.command == "status":
            from orchestration import status

            return status.main(limit=args.limit)
        if args.command == "report":
            from orchestration import report

            return report.main(out=args.out, days=args.days)
        if args.command == "warehouse-roles":
            from orchestration import roles

            return roles.main(reader_schemas=args.reader_schemas)
        if args.command == "watch":
            from orchestration import watch

            return watch.main(watch_options(args))
        if args.command == "erase":
            from orchestration import erasure

            email = sys.stdin.readline().strip() if args.email == "-" else args.email
            return erasure.main(args.customer_id, email, args.requested_by)
        request = request_from_args(args)
    except argparse.ArgumentTypeError as exc:
        parser.print_usage(sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return runner.EXIT_CONFIG
    return run_and_report(request)


def run_and_report(request: runner.RunRequest) -> int:
    """Run a request under the lock, print its summary, return the exit code."""
    result = runner.execute(request)
    console = Console(soft_wrap=True)
    print_summary(console, result)
    if result.exit_code == runner.EXIT_OK:
        console.print(f"[green]{escape(result.message)}[/green]")
    else:
        print(redact(result.message), file=sys.stderr)
        for error in result.source_errors:  # one line per failing source
            print(redact(f"ingestion failed: {error}"), file=sys.stderr)
    return result.exit_code


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr, every record and both standard streams masked (``redact``)."""
    wrap_standard_streams()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_on_root_handlers()
