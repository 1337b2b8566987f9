"""Fixtures for the loader tests: a private copy of the demo shop, its real HTTP API."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import demo


@pytest.fixture
def demo_dir(tiny_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo shop; ``$DEMO_DIR`` points at it."""
    folder = tmp_path / "demo"
    shutil.copytree(tiny_demo, folder)
    monkeypatch.setenv("DEMO_DIR", str(folder))
    return folder


@pytest.fixture
def demo_api(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo API (no faults) serving ``demo_dir``."""
    yield from demo.serve(demo_dir, monkeypatch)


@pytest.fixture
def raw_counts() -> Callable[[], dict[str, int]]:
    """Row counts of the raw tables, keyed like the demo truth's counts."""
    return demo.raw_counts
