"""Fixtures for the demo source system: tiny real demo shops on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.demo import make_demo


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo shop (4 days, scale 0.5, malformed lines and bad orders), made once."""
    folder = tmp_path_factory.mktemp("demo") / "shop"
    return make_demo(folder, days=4, scale=0.5, malformed_rate=0.02, bad_orders_rate=0.02)


@pytest.fixture
def demo_copy(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the template, free to be advanced or changed."""
    folder = tmp_path / "shop"
    shutil.copytree(demo_template, folder)
    return folder
