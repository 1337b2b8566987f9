"""Backfill windows written as each cursor kind is (``ingestion/window.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ingestion.rest_api.helpers import rest_api_config
from ingestion.rest_api.settings import RestApiSettings
from ingestion.typed_settings import SourceConfigError
from ingestion.window import bounds, check_format, last_day, parse_day

DAY, LAST = date(2026, 3, 8), date(2026, 3, 10)


@pytest.mark.parametrize(
    ("window_format", "first", "after"),
    [
        ("date", "2026-03-08", "2026-03-11"),
        ("datetime", "2026-03-08T00:00:00Z", "2026-03-11T00:00:00Z"),
        ("epoch_s", 1772928000, 1773187200),
        ("epoch_ms", 1772928000000, 1773187200000),
        ("%d/%m/%Y %H:%M", "08/03/2026 00:00", "11/03/2026 00:00"),
    ],
)
def test_a_window_is_its_first_instant_and_the_first_one_after_it_in_the_cursor_format(
    window_format: str, first: object, after: object
) -> None:
    assert bounds(DAY, LAST, window_format) == (first, after)
    assert parse_day(str(first), window_format) == DAY


def test_an_api_end_parameter_gets_the_last_day_or_the_first_instant_after() -> None:
    assert last_day(LAST, "date") == "2026-03-10"
    assert last_day(LAST, "epoch_s") == int(datetime(2026, 3, 11, tzinfo=UTC).timestamp())


def test_a_format_is_a_known_kind_or_a_strftime_text() -> None:
    assert check_format("%Y%m%d") == "%Y%m%d"
    with pytest.raises(ValueError, match="epoch_s"):
        check_format("unix")


def test_an_unreadable_partition_has_no_day() -> None:
    assert parse_day("2026-13-45", "date") is None
    assert parse_day("soon", "epoch_s") is None


def test_a_numeric_rest_cursor_without_a_window_format_is_refused_for_a_backfill() -> None:
    settings = RestApiSettings.model_validate(
        {
            "client": {"base_url": "http://127.0.0.1:9/"},
            "resources": [
                {"name": "t", "endpoint": {"incremental": {"cursor_path": "u", "initial_value": 0}}}
            ],
        }
    )
    with pytest.raises(SourceConfigError, match=r"t\.endpoint\.window_format: .*epoch_s"):
        rest_api_config("api", settings, start=DAY, end=LAST, live=False)
    assert rest_api_config("api", settings, live=False)  # no window: nothing to render
