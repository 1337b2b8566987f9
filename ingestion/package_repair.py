"""A repair to dlt's working folder that dlt does not make itself after a killed run.

dlt's normalize step commits a package (renames it into ``load/normalized``) and then deletes
the extracted copy folder by folder ("do not kill this process", its log says). A run killed
(SIGKILL, OOM) in between leaves the copy behind, often partly deleted: the next run normalizes
it again and fails on the missing ``new_jobs`` folder every time (dlt 1.31), so the committed
package is never loaded; a whole copy would be normalized a second time. The committed package
is complete, so the copy is only a leftover.
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
