"""Battery fixtures: `figure` records a measured figure (and the test still asserts it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.battery import Figure, record


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/faults/ belongs to the battery (`pytest -m faults`)."""
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def figure() -> Callable[..., Figure]:
    """Record a figure: figure(area, name, value, criterion, passed, warehouse=, detail=)."""

    def _record(
        area: str,
        name: str,
        value: float | int | str,
        criterion: str,
        passed: bool,
        warehouse: str = "-",
        detail: str = "",
    ) -> Figure:
        fig = Figure(area, name, value, criterion, bool(passed), warehouse, detail)
        record(fig)
        return fig

    return _record
