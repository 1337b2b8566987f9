"""Which listed files a run reads: the listing against the registry, one set comparison.

A file is taken when its path is not registered or is registered with another size or
modification time (in a backfill: every file of the window). Before reading, its content is
hashed: a registered path whose content did not change is only re-registered (touched), and a
new path whose content was already read under another name is recorded as the same content,
not read again (a renamed or copied file doubles neither rows nor rejects).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Literal

from ingestion.filesystem.listing import LandingZone, Listed, RefusedFile
from ingestion.filesystem.registry import (
    READ,
    REFUSED,
    SAME_CONTENT,
    Registered,
    content_hash,
)

Action = Literal["read", "refuse", "same_content", "touched", "unreadable"]


@dataclass(frozen=True)
class Decision:
    """What a run does with one listed file."""

    entry: Listed
    action: Action
    sha256: str | None = None
    same_as: str | None = None
    previous: Registered | None = None
    reason: str | None = None  # why it is refused or cannot be read


def _known_contents(registered: dict[str, Registered]) -> dict[str, str]:
    """Content hash -> the path it was read under (in full)."""
    known: dict[str, str] = {}
    for location, entry in sorted(registered.items()):
        read_as = entry.same_as or location
        whole = registered.get(read_as)
        if entry.sha256 and entry.outcome in (READ, SAME_CONTENT) and whole is not None \
                and whole.outcome == READ:  # fmt: skip
            known.setdefault(entry.sha256, read_as)
    return known


def plan(
    zone: LandingZone,
    listed: list[Listed],
    registered: dict[str, Registered],
    window: Callable[[Listed], bool] | None = None,
    failed: Collection[str] = (),
) -> Iterator[Decision]:
    """Decide, file by file, what to do with the listing (hashing only the candidates).

    Args:
        zone: the landing zone, to hash candidates.
        listed: this run's listing.
        registered: the registry as the run found it (empty for a full refresh).
        window: a backfill's day filter: its files are read again whatever the registry holds.
        failed: the paths this run failed to read so far (their content is not taken).
    """
    known = _known_contents(registered)
    for entry in listed:
        previous = registered.get(entry.location)
        unchanged = (
            previous is not None
            and previous.size == entry.size
            and previous.mtime_us == entry.mtime_us
        )
        if entry.refused is not None:
            if not (unchanged and previous is not None and previous.outcome == REFUSED):
                yield Decision(entry, "refuse", reason=entry.refused, previous=previous)
            continue
        if window is not None:
            if not window(entry):
                continue
        elif unchanged and previous is not None and previous.outcome in (READ, SAME_CONTENT):
            continue
        try:
            with zone.open_raw(entry.location) as stream:
                sha = content_hash(stream)
        except RefusedFile as exc:
            yield Decision(entry, "refuse", reason=f"{exc}: refused, not read", previous=previous)
            continue
        except Exception as exc:  # the storage's error, whatever its type: tried again next run
            reason = f"cannot open the file, nothing loaded from it ({type(exc).__name__}: {exc})"
            yield Decision(entry, "unreadable", reason=reason, previous=previous)
            continue
        if previous is not None and previous.outcome in (READ, SAME_CONTENT):
            # unchanged content is re-registered only (a backfill re-reads files read before)
            if sha == previous.sha256 and (window is None or previous.outcome == SAME_CONTENT):
                yield Decision(entry, "touched", sha, previous.same_as, previous)
                continue
            known[sha] = entry.location
            yield Decision(entry, "read", sha, previous=previous)
            continue
        first = known.setdefault(sha, entry.location)
        if first != entry.location and first not in failed:
            yield Decision(entry, "same_content", sha, same_as=first, previous=previous)
            continue
        known[sha] = entry.location
        yield Decision(entry, "read", sha, previous=previous)
