"""The landing zone's listing and opening, locally and in a bucket (fsspec's memory filesystem)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import fsspec
import pytest

from ingestion.filesystem.listing import (
    LandingReadError,
    LandingZone,
    LandingZoneMissing,
    RefusedFile,
)

GLOBS = ["**/*.jsonl", "**/*.jsonl.gz"]


def test_a_local_listing_skips_hidden_files_and_refuses_links_pipes_and_bad_names(
    tmp_path: Path,
) -> None:
    day = tmp_path / "zone" / "date=2026-11-01"
    day.mkdir(parents=True)
    (day / "a.jsonl").write_text("{}\n")
    (day / ".a.jsonl.tmp123").write_text("{}\n")  # an rsync copy in flight
    (day / "notes.txt").write_text("not selected\n")
    (day / "link.jsonl").symlink_to(day / "a.jsonl")
    os.mkfifo(day / "pipe.jsonl")
    (day / os.fsdecode(b"caf\xe9.jsonl")).write_text("{}\n")

    listed = {e.location: e for e in LandingZone(str(tmp_path / "zone"), GLOBS).listing()}

    assert set(listed) == {
        "date=2026-11-01/a.jsonl",
        "date=2026-11-01/link.jsonl",
        "date=2026-11-01/pipe.jsonl",
        "date=2026-11-01/caf\\xe9.jsonl",
    }
    assert listed["date=2026-11-01/a.jsonl"].refused is None
    assert "symbolic link" in str(listed["date=2026-11-01/link.jsonl"].refused)
    assert "not a regular file" in str(listed["date=2026-11-01/pipe.jsonl"].refused)
    assert "not valid UTF-8" in str(listed["date=2026-11-01/caf\\xe9.jsonl"].refused)


def test_a_file_swapped_for_a_link_after_the_listing_is_not_opened(tmp_path: Path) -> None:
    zone_dir = tmp_path / "zone"
    zone_dir.mkdir()
    (tmp_path / "secret.jsonl").write_text("secret\n")
    (zone_dir / "a.jsonl").write_text("{}\n")
    zone = LandingZone(str(zone_dir), GLOBS)
    assert [e.location for e in zone.listing()] == ["a.jsonl"]
    (zone_dir / "a.jsonl").unlink()
    (zone_dir / "a.jsonl").symlink_to(tmp_path / "secret.jsonl")

    with pytest.raises(RefusedFile):
        zone.open("a.jsonl")


def test_a_missing_local_folder_is_an_error_naming_it_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "not mounted" / "events"
    with pytest.raises(LandingZoneMissing, match="not mounted/events does not exist"):
        LandingZone(missing.as_uri(), GLOBS).listing()
    assert not missing.parent.exists()


def test_a_bucket_is_listed_once_and_a_missing_prefix_is_an_error() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/landing-test/events/date=2026-11-01/a.jsonl", b"{}\n")
    fs.pipe("/landing-test/events/date=2026-11-01/b.jsonl.gz", gzip.compress(b"{}\n"))
    fs.pipe("/landing-test/events/.hidden/c.jsonl", b"{}\n")
    try:
        zone = LandingZone("memory://landing-test/events", GLOBS)
        listed = [e.location for e in zone.listing()]
        assert listed == ["date=2026-11-01/a.jsonl", "date=2026-11-01/b.jsonl.gz"]
        with zone.open("date=2026-11-01/b.jsonl.gz") as stream:
            assert stream.read() == b"{}\n"
        with pytest.raises(LandingZoneMissing, match="memory://landing-test/nothing"):
            LandingZone("memory://landing-test/nothing", GLOBS).listing()
    finally:
        fs.rm("/landing-test", recursive=True)


@pytest.mark.parametrize("bucket", [False, True])
def test_a_file_changed_since_its_listing_or_cut_while_read_is_a_read_error(
    bucket: bool, tmp_path: Path
) -> None:
    name = "date=2026-11-01/a.jsonl"
    if bucket:
        fs = fsspec.filesystem("memory")
        put = lambda data: fs.pipe(f"/landing-check/events/{name}", data)  # noqa: E731
        url = "memory://landing-check/events"
    else:
        (tmp_path / "date=2026-11-01").mkdir()
        put = (tmp_path / name).write_bytes
        url = str(tmp_path)
    try:
        put(b'{"a": 1}\n' * 100)
        zone = LandingZone(url, GLOBS)
        (entry,) = zone.listing()
        zone.check_unchanged(entry)  # as listed
        with zone.open(name) as stream:
            assert stream.read() == b'{"a": 1}\n' * 100

        put(b'{"a": 1}\n' * 50)  # cut since the listing
        with pytest.raises(LandingReadError, match="changed since it was listed"):
            zone.check_unchanged(entry)
    finally:
        if bucket:
            fs.rm("/landing-check", recursive=True)
