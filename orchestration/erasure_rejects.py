"""An erasure's subject in ``rejected_records``: rows of free text no column names.

A malformed row may be the only place a person ever reached (issue 19): its text is searched for
addresses, however the row rendered them (JSON escapes, another case or Unicode form), and each
is hashed like the subject; the rows that name a subject are deleted by their key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ingestion import suppression
from ingestion import warehouse as wh
from ingestion.suppression import addresses_in

if TYPE_CHECKING:
    from orchestration.erasure_steps import Person


def match(
    warehouse: wh.Warehouse, key: bytes, by_hash: dict[str, Person], datasets: Iterable[str]
) -> None:
    """Note, on each subject, the rejected records (and addresses) that name them."""
    from ingestion import rejects  # imports dlt: not at the top (see orchestration/lock.py)

    for dataset in datasets:
        if not wh.table_exists(warehouse, dataset, rejects.TABLE):
            continue
        sql = (
            f'select location, position, raw_text from "{dataset}"."{rejects.TABLE}" '
            "where raw_text like %s"
        )
        for location, position, text in wh.query(warehouse, sql, ("%@%",)):
            for token in addresses_in(text or ""):
                person = by_hash.get(suppression.keyed_hash(key, "email", token))
                if person is not None:
                    person.emails.add(suppression.normalised("email", token))
                    person.rejected.add((dataset, str(location), int(position)))


def delete(cur: Any, warehouse: wh.Warehouse, people: Iterable[Person]) -> list[str]:
    """Delete the rejected records :func:`match` noted; returns the tables touched."""
    from ingestion import rejects

    touched = []
    for dataset, location, position in sorted({r for p in people for r in p.rejected}):
        sql = f'delete from "{dataset}"."{rejects.TABLE}" where location = %s and position = %s'
        cur.execute(wh.placeholders(warehouse, sql), (location, position))
        touched.append(f'"{dataset}"."{rejects.TABLE}"')
    return touched
