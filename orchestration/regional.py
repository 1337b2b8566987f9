"""Regional readers: a reader role restricted to one sales region's rows of the marts.

``READER_REGIONS=EU,APAC`` makes ``warehouse-roles`` create one login role per region
(``<reader>_<code>``, e.g. ``reader_eu``; ``READER_<CODE>_PGUSER`` names it otherwise, its
password comes from ``READER_<CODE>_PGPASSWORD``), with the reader's grants, and list it with its
region in ``marts.reader_regions``. The marts' row-level policies (``row_access`` in
``dbt_project/macros/row_access.sql``, created by dbt) show a listed role only its region's rows.
Region codes come from the seed ``sales_regions.csv``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGIONS_SEED = Path("dbt_project") / "seeds" / "sales_regions.csv"
MARTS = "marts"
# the same table and policy as macros/row_access.sql creates (whichever runs first)
REGIONS_TABLE_DDL = """
create table if not exists {schema}.reader_regions (
    role_name text not null,
    region text not null,
    primary key (role_name, region)
);
alter table {schema}.reader_regions enable row level security;
drop policy if exists own_rows on {schema}.reader_regions;
create policy own_rows on {schema}.reader_regions for select using (role_name = current_user);
grant select on {schema}.reader_regions to public;
"""


@dataclass(frozen=True)
class RegionalReader:
    """A reader restricted to one region: its role name, password variable and region."""

    name: str
    password_env: str
    code: str
    region: str


def sales_regions(project_dir: Path) -> dict[str, str]:
    """Region code -> region name, from the dbt project's seed."""
    with (project_dir / REGIONS_SEED).open(newline="") as seed:
        return {row["region_code"]: row["region"] for row in csv.DictReader(seed)}


def from_env(project_dir: Path, reader: str) -> tuple[RegionalReader, ...]:
    """The regional readers ``READER_REGIONS`` asks for (none when unset).

    Raises:
        ValueError: a code is not in the seed (the message lists the known codes).
    """
    codes = [c.strip().upper() for c in os.environ.get("READER_REGIONS", "").split(",")]
    codes = list(dict.fromkeys(c for c in codes if c))
    if not codes:
        return ()
    known = sales_regions(project_dir)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(f"READER_REGIONS: unknown region {unknown}; known: {sorted(known)}")
    return tuple(
        RegionalReader(
            name=os.environ.get(f"READER_{code}_PGUSER") or f"{reader}_{code.lower()}",
            password_env=f"READER_{code}_PGPASSWORD",
            code=code,
            region=known[code],
        )
        for code in codes
    )


def record(cur: Any, readers: tuple[RegionalReader, ...], owner: str) -> None:
    """List each regional reader with its one region (other regions it had are removed).

    Args:
        cur: an administrator's cursor.
        readers: the regional readers.
        owner: the quoted name of the marts' owner (the transformer).
    """
    if not readers:
        return
    cur.execute(REGIONS_TABLE_DDL.format(schema=MARTS))
    cur.execute(f"alter table {MARTS}.reader_regions owner to {owner}")
    for r in readers:
        cur.execute(
            f"delete from {MARTS}.reader_regions where role_name = %s and region <> %s",
            (r.name, r.region),
        )
        cur.execute(
            f"insert into {MARTS}.reader_regions (role_name, region) values (%s, %s) "
            "on conflict do nothing",
            (r.name, r.region),
        )
