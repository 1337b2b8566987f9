"""Where the repository is: tests run tools from its root and read its shipped files."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROFILES_EXAMPLE = REPO_ROOT / "profiles.example.yml"
SOURCES_FILE = REPO_ROOT / "ingestion" / "sources.yml"
