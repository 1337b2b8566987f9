"""Repairs to dlt's working folder that dlt does not make itself after a killed run.

A run killed after normalize committed a package, but before it deleted the extracted copy,
leaves that copy behind; the committed package is complete, so the copy is only a leftover that
would block later runs. A run killed while loading leaves jobs that ran but were not yet marked
done: dlt runs them again and stages their rows twice, so the resumed package must not skip the
de-duplication of staged rows (see docs/loaders.md, "Retries and crash safety").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dlt.common.storages import LoadStorage, NormalizeStorage
from dlt.common.storages.load_package import PackageStorage

DEDUPLICATED_HINT = "x-stage-data-deduplicated"  # dlt's table hint behind "deduplicated"


def drop_normalized_extract_leftovers(working_dir: str | Path) -> list[str]:
    """Delete extracted packages whose load id dlt already committed; return those load ids."""
    root = Path(working_dir)
    extracted = root / "normalize" / NormalizeStorage.EXTRACTED_FOLDER
    if not extracted.is_dir():
        return []
    committed = {
        package.name
        for folder in (LoadStorage.NORMALIZED_FOLDER, LoadStorage.LOADED_FOLDER)
        for package in (root / "load" / folder).glob("*")
    }
    dropped = []
    for package in sorted(extracted.iterdir()):
        if package.is_dir() and package.name in committed:
            shutil.rmtree(package)
            dropped.append(package.name)
    return dropped


def dedupe_resumed_packages(working_dir: str | Path) -> list[str]:
    """Clear the "staged rows are unique" hint in packages whose load began; return their ids."""
    normalized = Path(working_dir) / "load" / LoadStorage.NORMALIZED_FOLDER
    began = (PackageStorage.STARTED_JOBS_FOLDER, PackageStorage.COMPLETED_JOBS_FOLDER)
    repaired = []
    for package in sorted(normalized.glob("*")) if normalized.is_dir() else []:
        if not any(any((package / folder).glob("*")) for folder in began):
            continue
        schema_file = package / PackageStorage.SCHEMA_FILE_NAME
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        hinted = [t for t in schema["tables"].values() if t.get(DEDUPLICATED_HINT)]
        for table in hinted:
            table[DEDUPLICATED_HINT] = False
        if hinted:
            schema_file.write_text(json.dumps(schema), encoding="utf-8")
            repaired.append(package.name)
    return repaired
