"""Vectorised timestamps: seconds within a day drawn with the shop's hourly pattern, as text."""

from __future__ import annotations

from datetime import date

import numpy as np

from demo import settings

_HOUR_P = np.array(settings.HOUR_WEIGHTS, dtype=float) / sum(settings.HOUR_WEIGHTS)


def day_seconds(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seconds after midnight UTC for `count` moments of a day, busier in the evening."""
    hours = rng.choice(24, size=count, p=_HOUR_P)
    return hours.astype(np.int64) * 3600 + rng.integers(0, 3600, size=count)


def epoch_seconds(day: date) -> int:
    """Seconds since 1970-01-01 at midnight UTC of `day`."""
    return (day - date(1970, 1, 1)).days * 86_400


def db_timestamps(epoch: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DD HH:MM:SS` text (the shop database's UTC timestamps) for epoch seconds."""
    text = np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s")
    chars = text.view(np.uint32).reshape(len(text), -1)
    chars[:, 10] = ord(" ")  # the "T" between date and time, swapped in place (vectorised)
    return text


def api_timestamps(day: date, seconds: np.ndarray) -> list[str]:
    """`YYYY-MM-DDTHH:MM:SSZ` text (the API's UTC timestamps) for seconds within `day`."""
    epoch = (epoch_seconds(day) + seconds).astype("datetime64[s]")
    return [s + "Z" for s in np.datetime_as_string(epoch, unit="s").tolist()]
