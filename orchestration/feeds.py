"""What the watch mode loads: feeds of new batches, and the file-drop feed.

A feed answers one question cheaply, without the warehouse or dlt: is there anything new for its
source since the last batch it handed out was loaded? ``poll()`` returns that batch (or None),
``commit()`` is called once the batch's load and build committed; a batch that was not committed
is handed out again by the next ``poll()``. A message-broker consumer fits the same protocol:
``poll()`` drains a few messages into a file of the source's landing zone (written under a dot
name, then renamed) and ``commit()`` commits the consumer's offsets (docs/adr/0010-watch-mode.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ingestion.filesystem.listing import LandingZone
from ingestion.filesystem.settings import DEFAULT_GLOBS

if TYPE_CHECKING:
    from ingestion.config import SourceConfig


@dataclass(frozen=True)
class Batch:
    """New input of one source: the items a load will pick up (file paths, offsets, ...)."""

    source: str
    items: tuple[str, ...]
    # the feed's view of its input when it handed the batch out (what commit() keeps)
    marker: object = None

    def describe(self) -> str:
        """One line for the log."""
        shown = ", ".join(self.items[:3]) + (" ..." if len(self.items) > 3 else "")
        return f"{self.source}: {len(self.items)} new ({shown})"


class NewBatches(Protocol):
    """A feed of new input for one source of ``ingestion/sources.yml``."""

    source: str

    def poll(self) -> Batch | None:
        """What is new since the last committed batch; None when nothing is (cheap)."""
        ...

    def commit(self, batch: Batch) -> None:
        """The batch was loaded and built: do not hand it out again."""
        ...


Snapshot = dict[str, tuple[int, int]]


class FileDrop:
    """New or changed files of a ``filesystem`` source's landing zone.

    The zone is listed once per poll (names starting with a dot are in-flight copies and are not
    listed) and compared with the listing of the last committed batch. The first poll always
    hands out a batch: what is new to the warehouse is the file registry's call, which the load
    makes (``ingestion/filesystem/plan.py``); later polls hand out only what changed.
    """

    def __init__(self, source: str, zone: LandingZone) -> None:
        self.source = source
        self.zone = zone
        self._committed: Snapshot | None = None

    @classmethod
    def of(cls, config: SourceConfig) -> FileDrop:
        """The feed of a declared ``filesystem`` source, read as its load reads it (an
        environment variable or ``.dlt/*.toml`` key wins over ``sources.yml``)."""
        import dlt

        from ingestion import config_provider
        from ingestion.config import resolve_secrets

        config_provider.serve(config)
        section = f"sources.{config.name}"
        globs: list[str] = dlt.config.get(f"{section}.globs") or list(DEFAULT_GLOBS)
        credentials = resolve_secrets(config.settings.get("credentials"), section)
        zone = LandingZone(str(dlt.config.get(f"{section}.bucket_url")), list(globs), credentials)
        return cls(config.name, zone)

    def poll(self) -> Batch | None:
        """The files listed now that the last committed listing did not hold as they are."""
        listed = {e.location: (e.size, e.mtime_us) for e in self.zone.listing()}
        if self._committed is None:
            return Batch(self.source, ("first poll: the file registry decides",), listed)
        new = tuple(path for path, seen in listed.items() if self._committed.get(path) != seen)
        if new:
            return Batch(self.source, new, listed)
        self._committed = listed  # files removed since: nothing to load, the listing moves on
        return None

    def commit(self, batch: Batch) -> None:
        """Remember the listing the batch was drawn from."""
        if isinstance(batch.marker, dict):
            self._committed = batch.marker


def feeds_of(configs: list[SourceConfig]) -> list[NewBatches]:
    """A feed per ``filesystem`` and ``postgres_cdc`` source among ``configs`` (the REST and
    cursor-based database sources have none: a scheduled run reads them)."""
    from orchestration.slot_feed import SlotChanges

    found: list[NewBatches] = []
    for config in configs:
        if config.type == "filesystem":
            found.append(FileDrop.of(config))
        elif config.type == "postgres_cdc":
            found.append(SlotChanges.of(config))
    return found
