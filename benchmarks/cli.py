"""``python -m benchmarks``: measure the project against this machine's limits in one run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from benchmarks import report
from benchmarks.runner import Bench
from benchmarks.settings import Settings

WAREHOUSES = ("duckdb", "postgres", "spark")
# `--quick`: the after-a-change run (a 1M-event day; the 2× step is left out, since at this scale
# a process's peak memory is mostly its fixed cost and says nothing about growth with volume)
QUICK_SCALE = 100.0
QUICK_NAIVE_ROWS = 100_000
QUICK_NAME = "quick"


def _warehouses(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in WAREHOUSES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"warehouses must be among {WAREHOUSES}, got {text!r}")
    return names


def parse_args(argv: list[str] | None = None) -> Settings:
    """Read the command line into ``Settings``."""
    defaults = Settings()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark a demo day: the project's loaders and dbt build side by side with "
        "DuckDB's own read, PostgreSQL COPY, a bare HTTP loop and a bare SELECT.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"the after-a-change run: scale {QUICK_SCALE:g}, both warehouses, every step but "
        f"the 2× volume, a {QUICK_NAIVE_ROWS:,}-row naive slice, report named {QUICK_NAME!r} "
        "(explicit flags still apply)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=None,
        help=f"demo scale; {defaults.scale:g} = the 10M-event day (default)",
    )
    p.add_argument(
        "--warehouses",
        type=_warehouses,
        default=defaults.warehouses,
        help="comma-separated: duckdb,postgres,spark (default duckdb,postgres; spark runs on a "
        "local two-worker cluster)",
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=0,
        metavar="N",
        help="instead of the day-1/day-2 run: N days of history, then the next day's "
        "incremental build (tests on touched rows, then on the whole history) and a full "
        "refresh of all N + 1 days, from the same state (no limits, naive or 2× steps)",
    )
    p.add_argument("--skip-naive", action="store_true", help="skip the pandas to_sql baseline")
    p.add_argument(
        "--skip-2x",
        action="store_true",
        help="skip loading both days into a second warehouse (peak memory at 2× volume)",
    )
    p.add_argument(
        "--sources",
        type=lambda t: [n.strip() for n in t.split(",") if n.strip()],
        help="only these sources, comma-separated (default: every enabled source)",
    )
    p.add_argument(
        "--skip-next-day",
        action="store_true",
        help="stop after day 1 (no demo advance: no incremental and no 2× measurements)",
    )
    p.add_argument(
        "--demo-from",
        type=Path,
        help="copy this saved one-day demo (same scale and seed) instead of generating one",
    )
    p.add_argument(
        "--rebuild-report",
        type=Path,
        metavar="JSON",
        help="only re-check the targets of a saved run's JSON and rewrite its report",
    )
    p.add_argument(
        "--skip-dbt", action="store_true", help="skip dbt build (loaders and limits only)"
    )
    p.add_argument(
        "--naive-rows",
        type=int,
        default=None,
        help="rows in the naive baseline's slice (default 1,000,000)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=defaults.work_dir,
        help="scratch dir, wiped at the start (default benchmarks/work)",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=defaults.results_dir,
        help="where the report goes (default benchmarks/results)",
    )
    p.add_argument(
        "--name",
        default=None,
        help=f"report file name without extension (default {defaults.name}; "
        f"{QUICK_NAME} with --quick)",
    )
    p.add_argument(
        "--step-timeout",
        type=float,
        default=defaults.step_timeout_s,
        help="seconds before a step is killed (default 1800)",
    )
    a = p.parse_args(argv)
    quick = bool(a.quick)
    return Settings(
        scale=a.scale or (QUICK_SCALE if quick else defaults.scale),
        warehouses=a.warehouses,
        skip_naive=a.skip_naive,
        skip_2x=a.skip_2x or quick,
        skip_dbt=a.skip_dbt,
        demo_from=a.demo_from,
        rebuild_report=a.rebuild_report,
        skip_next_day=a.skip_next_day,
        sources=a.sources,
        naive_rows=a.naive_rows or (QUICK_NAIVE_ROWS if quick else defaults.naive_rows),
        work_dir=a.work_dir,
        results_dir=a.results_dir,
        name=a.name or (QUICK_NAME if quick else defaults.name),
        step_timeout_s=a.step_timeout,
        history_days=a.history_days,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 when every step ran (missed targets are reported, not errors)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = parse_args(argv)
    if settings.rebuild_report is not None:
        _, md_path = report.rebuild(settings.rebuild_report)
        print(md_path.read_text())
        return 0
    bench = Bench(settings)
    json_path, md_path = bench.run()
    print(md_path.read_text())
    failed = [s.id for s in bench.steps.values() if not s.ok]
    if failed:
        logging.getLogger("benchmarks").error("failed steps: %s", ", ".join(failed))
    logging.getLogger("benchmarks").info("report: %s and %s", json_path, md_path)
    return 1 if failed or bench.aborted else 0
