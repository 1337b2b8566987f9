"""Command line of the demo source system: `python -m demo <command>`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path

from demo import settings
from demo.faults import ApiFaults, FileFaults

log = logging.getLogger("demo")

DESCRIPTION = """\
A simulated online shop that plays the outside world: a CRM + FX REST API, a shop database
(SQLite, copyable to PostgreSQL) and daily event drops (Parquet, JSONL gzip, CSV).
State lives in $DEMO_DIR (default: demo_data). See demo/README.md and docs/interfaces.md.
"""


def _file_fault_flags(parser: argparse.ArgumentParser, drift: bool) -> None:
    parser.add_argument(
        "--malformed-rate",
        type=float,
        default=0.0,
        help="share of JSONL/CSV event lines written malformed (counted in manifest.json)",
    )
    parser.add_argument(
        "--bad-orders-rate",
        type=float,
        default=0.0,
        help="share of new orders made invalid (currency XXX, negative quantity, no customer)",
    )
    if drift:
        parser.add_argument(
            "--drift",
            choices=settings.DRIFT_KINDS,
            help="start a schema drift: added (events.session_id, orders.sales_channel), "
            "renamed (events.device -> device_type), retyped (events.customer_id as string)",
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo", description=DESCRIPTION)
    parser.add_argument("--demo-dir", help="state directory (default: $DEMO_DIR or demo_data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)  # --demo-dir also after the command
    common.add_argument("--demo-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    gen = commands.add_parser(
        "generate", parents=[common], help="simulate a history of N days (deterministic)"
    )
    gen.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    gen.add_argument("--scale", type=float, default=1.0, help="1 = 10k events, 1k orders a day")
    gen.add_argument("--seed", type=int, default=settings.DEFAULT_SEED, help="default 42")
    gen.add_argument(
        "--end-date", type=date.fromisoformat, help="last day, YYYY-MM-DD (default today UTC)"
    )
    gen.add_argument("--force", action="store_true", help="replace an existing demo")
    _file_fault_flags(gen, drift=False)

    adv = commands.add_parser("advance", parents=[common], help="simulate the next day(s)")
    adv.add_argument("--days", type=int, default=1, help="days to add (default 1)")
    _file_fault_flags(adv, drift=True)

    serve = commands.add_parser(
        "serve", parents=[common], help="run the CRM + FX API until interrupted"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument(
        "--background", action="store_true", help="start detached (pid in $DEMO_DIR/api.pid)"
    )
    serve.add_argument("--rate-limit", type=int, default=100, help="requests per window")
    serve.add_argument("--rate-window", type=float, default=1.0, help="window in seconds")
    for name, text in (
        ("error-rate", "share of requests answered 500/502/503"),
        ("throttle-rate", "share of requests answered 429 with Retry-After"),
        ("truncate-rate", "share of 200 answers with a truncated JSON body"),
        ("slow-rate", "share of requests answered after --slow-seconds"),
        ("duplicate-rate", "share of pages that repeat records of the previous page"),
    ):
        serve.add_argument(f"--{name}", type=float, default=0.0, help=text)
    serve.add_argument("--slow-seconds", type=float, default=2.0)
    serve.add_argument(
        "--empty-last-page",
        action="store_true",
        help="end every cursor walk with an extra empty page (data: [], no cursor)",
    )
    serve.add_argument(
        "--unauthorized-after",
        type=int,
        metavar="N",
        help="answer 401 to every CRM request after N authorised ones (a revoked token)",
    )
    serve.add_argument(
        "--drift",
        action="append",
        default=[],
        metavar="[customers:|rates:]KIND",
        help="send customer and/or FX records with this schema drift: added, removed or"
        " retyped (see demo/drift.py)",
    )
    serve.add_argument("--fault-seed", type=int, default=0, help="seed of the fault dice")
    serve.add_argument("--paging", default="cursor", help="CRM paging style (demo/api_paging.py)")
    serve.add_argument(
        "--loop-after", type=int, metavar="N", help="CRM paging goes back from page N"
    )
    serve.add_argument("--loop-length", type=int, default=1, help="pages the walk goes back")
    serve.add_argument("--missing-data-after", type=int, metavar="N", help="pages without data")
    serve.add_argument("--missing-data-body", default="error", help="error, empty or null")
    serve.add_argument("--drip-seconds", type=float, default=0.0, help="wait between body chunks")
    serve.add_argument("--echo-credentials", action="store_true", help="a 401 names the token")

    commands.add_parser("stop", parents=[common], help="stop the API started with --background")

    truth = commands.add_parser("truth", parents=[common], help="print the ground truth")
    truth.add_argument("--json", action="store_true", help="as JSON (default: a summary)")

    pg = commands.add_parser(
        "load-postgres", parents=[common], help="copy the shop database into PostgreSQL"
    )
    pg.add_argument("--url", required=True, help="postgresql+psycopg2://user:pw@host:port/db")
    pg.add_argument("--schema", default="public", help="target schema (default public)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    demo_dir = settings.demo_dir(args.demo_dir)
    try:
        return _run(args, demo_dir, argv)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        return 2


def _serve_in_background(args: argparse.Namespace, argv: list[str], demo_dir: Path) -> None:
    from demo import background

    if not (demo_dir / "state.json").exists():
        raise FileNotFoundError(
            f"{demo_dir}/state.json does not exist: run `python -m demo generate`"
        )
    rest = argv[argv.index("serve") + 1 :]
    options = [a for a in rest if a != "--background"]
    url = background.start(demo_dir, args.host, args.port, _without_host_port(options))
    log.info("demo API running at %s (stop it with `python -m demo stop`)", url)


def _without_host_port(options: list[str]) -> list[str]:
    out, skip = [], False
    for option in options:
        if skip:
            skip = False
        elif option in ("--host", "--port"):
            skip = True
        elif not option.startswith(("--host=", "--port=")):
            out.append(option)
    return out


def _run(args: argparse.Namespace, demo_dir: Path, argv: list[str]) -> int:
    from demo import generator

    if args.command == "serve" and args.background:
        _serve_in_background(args, argv, demo_dir)
    elif args.command == "stop":
        from demo import background

        log.info("demo API stopped" if background.stop(demo_dir) else "no demo API was running")
    elif args.command == "generate":
        faults = FileFaults(args.malformed_rate, args.bad_orders_rate)
        state = generator.generate(
            demo_dir, args.days, args.scale, args.seed, args.end_date, faults, args.force
        )
        log.info("generated %s .. %s in %s", state.first_day, state.last_day, demo_dir)
    elif args.command == "advance":
        faults = FileFaults(args.malformed_rate, args.bad_orders_rate, args.drift)
        state = generator.advance(demo_dir, args.days, faults)
        log.info("advanced %s to %s", demo_dir, state.last_day)
    elif args.command == "serve":
        from demo.server import make_server

        faults = ApiFaults(
            error_rate=args.error_rate,
            throttle_rate=args.throttle_rate,
            truncate_rate=args.truncate_rate,
            slow_rate=args.slow_rate,
            duplicate_rate=args.duplicate_rate,
            empty_last_page=args.empty_last_page,
            unauthorized_after=args.unauthorized_after,
            drift=tuple(args.drift),
            seed=args.fault_seed,
            slow_seconds=args.slow_seconds,
            loop_after=args.loop_after,
            loop_length=args.loop_length,
            missing_data_after=args.missing_data_after,
            missing_data_body=args.missing_data_body,
            drip_seconds=args.drip_seconds,
            echo_credentials=args.echo_credentials,
        )
        server = make_server(
            demo_dir, args.host, args.port, faults, args.rate_limit, args.rate_window, args.paging
        )
        log.info("demo API on http://%s:%s (faults %s)", args.host, server.server_port, faults)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("stopped")
        finally:
            server.server_close()
    elif args.command == "truth":
        from demo import truth

        result = truth.compute(demo_dir)
        if args.json:
            sys.stdout.write(json.dumps(result, indent=2) + "\n")
        else:
            for key, value in result["counts"].items():
                sys.stdout.write(f"{key:>18}: {value}\n")
            total = sum(float(r["revenue"]) for r in result["revenue_by_day_country"])
            sys.stdout.write(f"{'revenue (USD)':>18}: {total:,.2f}\n")
    elif args.command == "load-postgres":
        from demo.shop import copy_to_postgres

        copied = copy_to_postgres(demo_dir, args.url, args.schema)
        log.info("copied %s", copied)
    return 0
