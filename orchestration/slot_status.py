"""``status``'s table of change-data-capture slots: the WAL each holds back on its source."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingestion.postgres_cdc.health import SlotHealth
from ingestion.redact import redact

log = logging.getLogger(__name__)


def cdc_slots() -> list[SlotHealth]:
    """The slot of every enabled ``postgres_cdc`` source, read on its server."""
    from ingestion import config, rejects
    from ingestion.postgres_cdc.health import slot_health

    found = []
    for cfg in config.load().values():
        if cfg.type != "postgres_cdc" or not cfg.enabled:
            continue
        try:  # builds no connection: resolves the settings and secrets as a load would
            config.build_source(cfg, rejects.RejectCounter())
        except Exception as exc:
            found.append(SlotHealth(cfg.name, "?", problem=redact(f"settings: {exc}")))
            continue
        from ingestion.postgres_cdc.source import SLOTS

        slot = SLOTS[cfg.name]
        found.append(slot_health(cfg.name, slot.url, slot.name, slot.max_retained_wal_bytes))
    return found


def render_slots(console: Console) -> None:
    """Print the table when there are CDC sources; a failure to read them is one line."""
    try:
        slots = cdc_slots()
    except Exception as exc:
        console.print(f"[yellow]CDC slots not read: {escape(redact(str(exc)))}[/yellow]")
        return
    if not slots:
        return
    table = Table(title="Change data capture slots (WAL held back on the source)")
    for column in ("source", "slot", "active", "retained_bytes", "wal_status", "problem"):
        table.add_column(column)
    for s in slots:
        retained = f"{s.retained_bytes:,}" if s.retained_bytes is not None else "—"
        cells = [s.source, s.slot, str(s.active), retained, str(s.wal_status), s.problem or "ok"]
        table.add_row(*(escape(c) for c in cells), style="red" if s.problem else "")
    console.print(table)
