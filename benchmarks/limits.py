"""The bare operations the project is measured against, each run as its own process.

``python -m benchmarks.limits <operation> ...`` does one thing with no processing beyond it and
prints a ``BENCH_RESULT {json}`` line with the rows it moved. The harness times the process.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import emit_result

EVENT_FORMATS = {"parquet": "*.parquet", "jsonl": "*.jsonl.gz", "csv": "*.csv"}

# The raw events columns as the contract names them, typed as the loader stores them.
EVENT_COLUMNS_PG = (
    "event_id text, anonymous_id text, customer_id bigint, event_type text, url text, "
    "referrer text, utm_source text, utm_medium text, utm_campaign text, device text, "
    "occurred_at timestamptz, properties text"
)


def event_files(events_dir: Path) -> dict[str, list[str]]:
    """The event drop files under ``events_dir`` by format (only formats that have files)."""
    found = {}
    for fmt, pattern in EVENT_FORMATS.items():
        files = sorted(str(p) for p in events_dir.rglob(pattern))
        if files:
            found[fmt] = files
    return found


def _duckdb_reader(fmt: str, files: list[str]) -> str:
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    if fmt == "parquet":
        return f"read_parquet({listing}, union_by_name = true)"
    if fmt == "jsonl":
        return (
            f"read_json({listing}, format = 'newline_delimited', ignore_errors = true, "
            "union_by_name = true)"
        )
    return f"read_csv({listing}, header = true, ignore_errors = true, union_by_name = true)"


def duckdb_read(events_dir: Path, db_path: Path) -> None:
    """DuckDB's own ``create table as select * from read_*(...)`` of every event file."""
    import duckdb

    db_path.unlink(missing_ok=True)
    con = duckdb.connect(str(db_path))
    rows = 0
    for fmt, files in event_files(events_dir).items():
        con.execute(f"create table events_{fmt} as select * from {_duckdb_reader(fmt, files)}")
        rows += con.execute(f"select count(*) from events_{fmt}").fetchone()[0]
    con.close()
    emit_result(rows=rows)


def _typed(fmt: str, columns: set[str]) -> str:
    """One format's table as the contract's typed columns (JSON objects as text)."""

    def col(name: str, cast: str = "varchar") -> str:
        if name not in columns:
            return f"null::{cast} as {name}"
        if name == "properties" and fmt == "jsonl":
            return "to_json(properties)::varchar as properties"
        return f"try_cast({name} as {cast}) as {name}"

    names = [
        "event_id", "anonymous_id", "customer_id", "event_type", "url", "referrer",
        "utm_source", "utm_medium", "utm_campaign", "device", "occurred_at", "properties",
    ]  # fmt: skip
    casts = {"customer_id": "bigint", "occurred_at": "timestamptz"}
    select = ", ".join(col(n, casts.get(n, "varchar")) for n in names)
    return f"select {select} from events_{fmt}"


def _valid_rows(con: Any) -> str:
    """The query of the rows DuckDB read (see ``duckdb_read``), typed, with their required
    fields present."""
    parts = []
    for (table,) in con.execute(
        "select table_name from information_schema.tables where table_name like 'events_%'"
        " order by 1"
    ).fetchall():
        cols = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_name = ?",
                [table],
            ).fetchall()
        }
        parts.append(_typed(table.removeprefix("events_"), cols))
    query = " union all ".join(parts)
    return f"select * from ({query}) where event_id is not null and occurred_at is not null"


def export_csv(db_path: Path, out: Path) -> None:
    """Write the rows DuckDB read as one typed CSV for ``COPY``."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    con.execute("set timezone = 'UTC'")
    valid = _valid_rows(con)
    con.execute(f"copy ({valid}) to '{out}' (header, delimiter ',')")
    rows = con.execute(f"select count(*) from ({valid})").fetchone()[0]
    con.close()
    emit_result(rows=rows)


def dlt_floor(db_path: Path, work: Path) -> None:
    """dlt alone: the rows DuckDB read, as typed Arrow batches, merged on ``event_id`` into a new
    dataset of the environment's warehouse the way the loader asks (its destination settings,
    Parquet files, staged rows declared de-duplicated)."""
    import dlt
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    con.execute("set timezone = 'UTC'")
    batches = con.execute(_valid_rows(con)).to_arrow_reader(200_000)
    events = dlt.resource(
        batches,
        name="events",
        write_disposition="merge",
        primary_key="event_id",
        file_format="parquet",
    )
    events.apply_hints(additional_table_hints={"x-stage-data-deduplicated": True})
    _load_floor("dlt_floor", events, work, ["events"])


def _load_floor(name: str, resources: Any, work: Path, tables: list[str]) -> None:
    """Run ``resources`` with a bare dlt pipeline into dataset ``name`` of the environment's
    warehouse, in the loader's file format; the result is the rows of ``tables``."""
    import dlt

    from ingestion import warehouse
    from ingestion.pipelines import LOADER_FILE_FORMAT

    pipeline = dlt.pipeline(
        name,
        destination=warehouse.destination(warehouse.current(warehouse.LOADER)),
        dataset_name=name,
        pipelines_dir=str(work / f"{name}_pipelines"),
    )
    pipeline.run(resources, loader_file_format=LOADER_FILE_FORMAT)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    emit_result(rows=sum(counts.get(table, 0) for table in tables))


def dlt_shop_floor(work: Path) -> None:
    """dlt alone on the shop: dlt's own ``sql_table`` for each declared table, with the loader's
    backend, chunk size, cursor, lag and key (no hard-delete check, no rejects table)."""
    import dlt
    from dlt.sources.sql_database import sql_table

    from ingestion import config
    from ingestion.sql_database.helpers import engine_url

    shop = config.load()["shop"].settings
    url = engine_url(config.resolve_secret(shop["credentials"]), "shop")
    lag = shop.get("lag_seconds")
    resources = [
        sql_table(
            credentials=url,
            table=table,
            incremental=dlt.sources.incremental(spec["cursor"], lag=spec.get("lag_seconds", lag)),
            chunk_size=shop.get("chunk_size", 50_000),
            backend=shop.get("backend", "pyarrow"),
            reflection_level="full_with_precision",
            write_disposition="merge",
            primary_key=spec["primary_key"],
        )
        for table, spec in shop["tables"].items()
    ]
    _load_floor("dlt_shop_floor", resources, work, list(shop["tables"]))


def dlt_crm_floor(work: Path) -> None:
    """dlt alone on the CRM: dlt's own ``rest_api_source`` with the declared client, defaults
    and resources (no hooks, no declaration checks, no rejects table)."""
    import copy

    from dlt.sources.rest_api import rest_api_source

    from ingestion import config

    crm = copy.deepcopy(config.load()["crm"].settings)
    crm["client"]["auth"] = {"type": "bearer", "token": config.resolve_secret(crm["token"])}
    resources = [{k: v for k, v in r.items() if k != "materialize"} for r in crm["resources"]]
    source = rest_api_source(
        {
            "client": crm["client"],
            "resource_defaults": crm["resource_defaults"],
            "resources": resources,
        },
        name="crm",
    )
    _load_floor("dlt_crm_floor", source, work, [r["name"] for r in resources])


def python_floor() -> None:
    """What every loader process pays before its first row: Python and the loader's imports."""
    import dlt  # noqa: F401
    import pyarrow  # noqa: F401

    import ingestion.pipelines  # noqa: F401
    import orchestration.cli  # noqa: F401

    emit_result(rows=0)


def http_pages(base_url: str, token_file: Path | None, page_size: int, paths: list[str]) -> None:
    """Fetch every page of the given API collections with a bare ``requests`` loop."""
    import requests

    session = requests.Session()
    if token_file is not None:
        session.headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
    rows = pages = waits = 0
    for path in paths:
        params: dict[str, object] = {"limit": page_size}
        while True:
            resp = session.get(f"{base_url.rstrip('/')}{path}", params=params, timeout=60)
            if resp.status_code == 429:  # a bare loop still has to honour the rate limit
                waits += 1
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            resp.raise_for_status()
            body = resp.json()
            rows += len(body["data"])
            pages += 1
            if not body.get("next_cursor"):
                break
            params = {"limit": page_size, "cursor": body["next_cursor"]}
    emit_result(rows=rows, pages=pages, rate_limited=waits)


def db_select(sqlite_path: Path, tables: list[str], driver: str) -> None:
    """A bare ``select *`` of the shop tables through the given driver, rows discarded."""
    rows = 0
    if driver == "connectorx":
        import connectorx

        for table in tables:
            result = connectorx.read_sql(
                f"sqlite://{sqlite_path.resolve()}", f"select * from {table}", return_type="arrow"
            )
            rows += result.num_rows
    elif driver == "sqlalchemy":
        import sqlalchemy as sa

        engine = sa.create_engine(f"sqlite:///{sqlite_path.resolve()}")
        with engine.connect() as conn:
            for table in tables:
                result = conn.execution_options(stream_results=True).exec_driver_sql(
                    f"select * from {table}"
                )
                for chunk in result.partitions(50_000):
                    rows += len(chunk)
    else:
        conn = sqlite3.connect(str(sqlite_path))
        for table in tables:
            cur = conn.execute(f"select * from {table}")
            while chunk := cur.fetchmany(50_000):
                rows += len(chunk)
        conn.close()
    emit_result(rows=rows, driver=driver)


def naive_to_sql(events_dir: Path, rows: int, chunksize: int) -> None:
    """The naive baseline: pandas ``DataFrame.to_sql`` in chunks into PostgreSQL (PG* env)."""
    import duckdb
    import sqlalchemy as sa

    files = event_files(events_dir).get("parquet", [])
    if not files:
        raise SystemExit(f"no Parquet event files under {events_dir}")
    listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    frame = duckdb.sql(f"select * from read_parquet({listing}) limit {int(rows)}").df()
    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=os.environ.get("PGUSER"),
        password=os.environ.get("PGPASSWORD") or None,
        host=os.environ.get("PGHOST"),
        port=int(os.environ.get("PGPORT", "5432")),
        database=os.environ.get("PGDATABASE"),
    )
    engine = sa.create_engine(url)
    start = time.perf_counter()
    frame.to_sql("naive_events", engine, if_exists="replace", index=False, chunksize=chunksize)
    emit_result(rows=len(frame), to_sql_s=time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """CLI of the bare operations (used by the harness, one process per measurement)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limits")
    sub = parser.add_subparsers(dest="op", required=True)
    p = sub.add_parser("duckdb-read")
    p.add_argument("--events-dir", type=Path, required=True)
    p.add_argument("--db", type=Path, required=True)
    p = sub.add_parser("export-csv")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("http-pages")
    p.add_argument("--base-url", required=True)
    p.add_argument("--token-file", type=Path)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--path", action="append", required=True)
    p = sub.add_parser("db-select")
    p.add_argument("--sqlite", type=Path, required=True)
    p.add_argument("--table", action="append", required=True)
    p.add_argument("--driver", choices=["sqlite3", "connectorx", "sqlalchemy"], default="sqlite3")
    p = sub.add_parser("dlt-floor")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    for name in ("dlt-shop-floor", "dlt-crm-floor"):
        sub.add_parser(name).add_argument("--work", type=Path, required=True)
    sub.add_parser("python-floor")
    p = sub.add_parser("naive-to-sql")
    p.add_argument("--events-dir", type=Path, required=True)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--chunksize", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.op == "duckdb-read":
        duckdb_read(args.events_dir, args.db)
    elif args.op == "export-csv":
        export_csv(args.db, args.out)
    elif args.op == "http-pages":
        http_pages(args.base_url, args.token_file, args.page_size, args.path)
    elif args.op == "dlt-floor":
        dlt_floor(args.db, args.work)
    elif args.op == "dlt-shop-floor":
        dlt_shop_floor(args.work)
    elif args.op == "dlt-crm-floor":
        dlt_crm_floor(args.work)
    elif args.op == "python-floor":
        python_floor()
    elif args.op == "db-select":
        db_select(args.sqlite, args.table, args.driver)
    else:
        naive_to_sql(args.events_dir, args.rows, args.chunksize)


if __name__ == "__main__":
    main()
