"""A loaded event file rewritten in place: the one exception to "files are never rewritten"."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from demo.changes import common
from demo.state import load_manifest, save_manifest

DEVICES = ("desktop", "mobile", "tablet")


def rewrite_event_file(demo_dir: Path, share: float, seed: int = 1) -> dict[str, Any]:
    """Rewrite the first day's main Parquet event file in place with `share` of rows changed.

    The changed rows keep their `event_id` and get another `device`; no row is added or
    removed, so the ground truth's counts stay. The manifest entry records `rewritten_rows`.

    Returns:
        `{"file": <path relative to DEMO_DIR>, "changed": {event_id: new device}}`.
    """
    demo_dir = Path(demo_dir)
    manifest = load_manifest(demo_dir)
    entry = next(
        e for e in manifest["files"] if e["format"] == "parquet" and "late" not in e["file"]
    )
    path = demo_dir / entry["file"]
    table = pq.read_table(path)
    rng = common.rng(seed, 5)
    rows = common.pick(rng, list(range(table.num_rows)), common.count(share, table.num_rows))
    devices = table.column("device").to_pylist()
    event_ids = table.column("event_id").to_pylist()
    changed = {}
    for row in rows:
        devices[row] = next(d for d in DEVICES if d != devices[row])
        changed[event_ids[row]] = devices[row]
    index = table.schema.get_field_index("device")
    table = table.set_column(index, "device", pa.array(devices, table.schema.field(index).type))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    entry["rewritten_rows"] = entry.get("rewritten_rows", 0) + len(changed)
    save_manifest(demo_dir, manifest)
    return {"file": entry["file"], "changed": changed}
