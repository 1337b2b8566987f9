"""``--warehouses spark``: the day on a local two-worker Spark cluster, and the Parquet floor.

The cluster (demo/spark_cluster.py) is started once for the run; each step's environment points
dbt at it. The floor of landing raw data in a lake is writing the same rows as Parquet with
pyarrow alone: ``python -m benchmarks.spark parquet-write`` reads what the loaders landed and
writes it again, timing the write.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.measure import emit_result

if TYPE_CHECKING:
    from benchmarks.runner import Bench


def start_cluster(work: Path) -> Any:
    """A master and two one-core workers on 127.0.0.1 for the whole run."""
    from demo import spark_cluster

    return spark_cluster.start(work / "spark_cluster", workers=2, cores=1)


def env(home: Path, cluster: Any) -> dict[str, str]:
    """A step's variables for the Spark warehouse under ``home``."""
    out = {"LAKE_URL": str(home / "lake"), "SPARK_WAREHOUSE_DIR": str(home / "spark")}
    if cluster is not None:
        out.update(cluster.env())
    return out


def parquet_floor(bench: Bench) -> None:
    """Writing the rows the loaders landed in the lake (day 1) as Parquet with pyarrow alone."""
    lake = Path(bench.ws.wh_env("spark")["LAKE_URL"])
    bench.run_step(
        "limit.parquet_write",
        "pyarrow's own Parquet write of the rows landed in the lake",
        "limit",
        [bench.ws.python, "-m", "benchmarks.spark", "parquet-write", "--lake", str(lake),
         "--out", str(bench.ws.work / "limits" / "parquet_floor")],
        bench.ws.base_env(),
        "spark",
    )  # fmt: skip
    step = bench.steps["limit.parquet_write"]
    if step.ok and step.details.get("write_s"):
        step.wall_s = round(float(step.details["write_s"]), 3)
        step.note = "wall = the writes only (reading the landed files excluded)"


def parquet_write(lake: Path, out: Path) -> None:
    """Read every raw table of the lake into Arrow, then time writing each as one Parquet file."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    tables = {}
    for folder in sorted(lake.glob("raw_*/*")):
        files = [str(p) for p in folder.glob("*.parquet")]
        if files and not folder.name.startswith("_dlt"):
            tables[f"{folder.parent.name}.{folder.name}"] = ds.dataset(files).to_table()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    for name, table in tables.items():
        pq.write_table(table, out / f"{name}.parquet")
    write_s = time.perf_counter() - started
    rows = sum(t.num_rows for n, t in tables.items() if not n.endswith(".rejected_records"))
    emit_result(rows=rows, write_s=write_s, tables=len(tables))


def main(argv: list[str] | None = None) -> None:
    """CLI of the floor measurement (one process per measurement)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark")
    sub = parser.add_subparsers(dest="op", required=True)
    p = sub.add_parser("parquet-write")
    p.add_argument("--lake", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    parquet_write(args.lake, args.out)


if __name__ == "__main__":
    main()
