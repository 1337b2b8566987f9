"""``warehouse.cursor`` is one transaction on each SQL warehouse: a block that dies leaves none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ingestion import warehouse as wh

pytestmark = pytest.mark.usefixtures("warehouse_env")

# Deletes the row, then dies by SIGKILL before inserting it again (a kill mid-save_run).
KILLED_BETWEEN_STATEMENTS = """
import os, signal
from ingestion import warehouse as wh
with wh.cursor(wh.current()) as cur:
    cur.execute(wh.placeholders(wh.current(), "delete from ledger_probe where id = %s"), (1,))
    os.kill(os.getpid(), signal.SIGKILL)
"""


INSERT = "insert into ledger_probe values (%s, %s)"


def _seed() -> wh.Warehouse:
    warehouse = wh.current()
    wh.execute(warehouse, "create table ledger_probe (id integer, note varchar)")
    wh.execute(warehouse, "insert into ledger_probe values (%s, %s)", [(1, "kept")])
    return warehouse


def test_an_error_inside_the_block_rolls_every_statement_back() -> None:
    warehouse = _seed()
    with pytest.raises(RuntimeError, match="mid-block"), wh.cursor(warehouse) as cur:
        cur.execute(wh.placeholders(warehouse, "delete from ledger_probe where id = %s"), (1,))
        cur.execute(wh.placeholders(warehouse, INSERT), (2, "x"))
        raise RuntimeError("mid-block")
    assert wh.query(warehouse, "select id, note from ledger_probe") == [(1, "kept")]


def test_a_process_killed_between_two_statements_leaves_the_first_undone() -> None:
    warehouse = _seed()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_STATEMENTS], env=dict(os.environ), check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert wh.query(warehouse, "select id, note from ledger_probe") == [(1, "kept")]


def test_a_block_that_succeeds_commits_all_of_it() -> None:
    warehouse = _seed()
    with wh.cursor(warehouse) as cur:
        cur.execute(wh.placeholders(warehouse, "delete from ledger_probe where id = %s"), (1,))
        cur.execute(wh.placeholders(warehouse, INSERT), (2, "x"))
    assert wh.query(warehouse, "select id, note from ledger_probe") == [(2, "x")]
