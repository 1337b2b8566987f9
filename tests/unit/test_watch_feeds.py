"""The file-drop feed of the watch mode: what a poll hands out, on a real folder."""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.filesystem.listing import LandingZone
from orchestration.feeds import FileDrop


def _feed(folder: Path) -> FileDrop:
    return FileDrop("events", LandingZone(str(folder), ["**/*.parquet", "**/*.csv"]))


def test_first_poll_always_hands_out_a_batch_for_the_registry_to_decide(tmp_path: Path) -> None:
    feed = _feed(tmp_path)

    first = feed.poll()

    assert first is not None and first.source == "events"
    assert feed.poll() is not None  # not committed: handed out again


def test_after_a_commit_only_new_or_changed_files_are_news(tmp_path: Path) -> None:
    (tmp_path / "date=2030-01-01").mkdir()
    old = tmp_path / "date=2030-01-01" / "a.csv"
    old.write_text("event_id\n1\n")
    feed = _feed(tmp_path)
    feed.commit(feed.poll())  # type: ignore[arg-type]
    assert feed.poll() is None

    (tmp_path / "date=2030-01-01" / ".b.csv.tmp").write_text("in flight")
    (tmp_path / "date=2030-01-01" / "notes.txt").write_text("not selected")
    assert feed.poll() is None

    (tmp_path / "date=2030-01-01" / "b.csv").write_text("event_id\n2\n")
    old.write_text("event_id\n1\n3\n")
    os.utime(old, ns=(1, 1))
    batch = feed.poll()
    assert batch is not None
    assert batch.items == ("date=2030-01-01/a.csv", "date=2030-01-01/b.csv")
    assert feed.poll() is not None  # until committed
    feed.commit(batch)
    assert feed.poll() is None


def test_a_removed_file_is_no_news(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_bytes(b"x")
    feed = _feed(tmp_path)
    feed.commit(feed.poll())  # type: ignore[arg-type]

    (tmp_path / "a.parquet").unlink()

    assert feed.poll() is None
    (tmp_path / "a.parquet").write_bytes(b"x")  # back again: new to the feed, the registry decides
    assert feed.poll() is not None
