"""The watch mode's CDC feed peeks a real replication slot: news only for published tables."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from ingestion import config
from orchestration.feeds import FileDrop, feeds_of
from orchestration.slot_feed import SlotChanges

SLOT, PUBLICATION = "feed_test_cdc", "feed_test_pub"


def _url(env: dict[str, str]) -> str:
    return f"postgresql://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}"


def _run(env: dict[str, str], *statements: str) -> None:
    with closing(psycopg2.connect(_url(env))) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            # the harness server commits asynchronously; decoding reads flushed WAL only
            cur.execute("set synchronous_commit = on")
            for statement in statements:
                cur.execute(statement)


@pytest.mark.postgres
def test_the_feed_hands_out_a_batch_only_when_a_published_change_waits(
    pg_database: dict[str, str],
) -> None:
    _run(
        pg_database,
        "create table published (id int primary key, note text)",
        "create table other (id int primary key)",
        f"create publication {PUBLICATION} for table published",
        f"select pg_create_logical_replication_slot('{SLOT}', 'pgoutput')",
    )
    feed = SlotChanges("shop", _url(pg_database), SLOT, PUBLICATION)
    first = feed.poll()
    assert first is not None  # the first poll is the load's call (a new slot, its snapshot)
    feed.commit(first)
    assert feed.poll() is None

    _run(pg_database, "insert into other values (1)", "insert into other values (2)")
    assert feed.poll() is None  # a transaction on an unpublished table is no news
    eager = SlotChanges("shop", _url(pg_database), SLOT, PUBLICATION, move_on_bytes=1)
    eager.commit(eager.poll())  # type: ignore[arg-type]
    moved_on = eager.poll()  # but WAL held back past the bound is: a load moves the slot on
    assert moved_on is not None and "to move on" in moved_on.items[0]

    _run(pg_database, "insert into published values (1, 'a')")
    waiting = feed.poll()
    assert waiting is not None and "changes waiting" in waiting.items[0]
    assert feed.poll() is not None  # peeked, not consumed: news until the load confirms it

    _run(pg_database, f"select pg_replication_slot_advance('{SLOT}', pg_current_wal_lsn())")
    assert feed.poll() is None  # the load confirmed the slot: nothing waits any more

    _run(pg_database, f"select pg_drop_replication_slot('{SLOT}')")
    gone = feed.poll()
    assert gone is not None and "not peeked" in gone.items[0]  # the load reports the lost slot
    _run(pg_database, f"drop publication {PUBLICATION}")


def test_the_watch_feeds_every_file_drop_and_cdc_source_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "shop:\n  type: postgres_cdc\n  dataset: raw_shop\n"
        "  credentials: postgresql://cdc@127.0.0.1:1/shop\n"
        "  publication: shop_pub\n  tables: {orders: {primary_key: order_id}}\n"
        f"events:\n  type: filesystem\n  dataset: raw_events\n  bucket_url: {tmp_path}\n"
        "  table: events\n  columns: {event_id: string}\n"
        "fx:\n  type: rest_api\n  dataset: raw_fx\n"
        "  client: {base_url: 'http://127.0.0.1:1/'}\n  resources: [rates]\n"
    )
    monkeypatch.setenv("SOURCES__SHOP__SLOT", "shop_slot_from_env")  # as the load reads it

    feeds = feeds_of(list(config.load(sources).values()))

    by_source = {f.source: f for f in feeds}
    assert sorted(by_source) == ["events", "shop"]
    assert isinstance(by_source["events"], FileDrop)
    shop = by_source["shop"]
    assert isinstance(shop, SlotChanges)
    assert (shop.slot, shop.publication) == ("shop_slot_from_env", "shop_pub")
