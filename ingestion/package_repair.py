"""A repair to dlt's working folder that dlt does not make itself after a killed run.

A run killed after normalize committed a package, but before it deleted the extracted copy,
leaves that copy behind; the committed package is complete, so the copy is only a leftover that
would block later runs (see docs/loaders.md, "Retries and crash safety").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dlt.common.storages import LoadStorage, NormalizeStorage


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
