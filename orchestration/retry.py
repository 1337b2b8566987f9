"""Retry a step with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Attempt(Generic[T]):
    """The outcome of one attempt: a value (even for a failed attempt) and an error or None."""

    value: T | None
    error: str | None = None
    retryable: bool = True
    config_error: bool = False  # a setting is wrong: exit 2, never retried

    @property
    def ok(self) -> bool:
        return self.error is None


def backoff_delays(retries: int, backoff_s: float) -> list[float]:
    """Waits before each retry: ``backoff_s``, then doubling (``[10, 20, 40]`` for 3 retries)."""
    return [backoff_s * (2**i) for i in range(retries)]


def with_retries(
    name: str,
    attempt_fn: Callable[[int], Attempt[T]],
    retries: int,
    backoff_s: float,
    on_attempt: Callable[[int, Attempt[T]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Attempt[T], int]:
    """Call ``attempt_fn(attempt_number)`` until it succeeds, is not retryable or retries run out.

    Returns:
        The last attempt and how many attempts were made.
    """
    delays = backoff_delays(retries, backoff_s)
    number = 0
    while True:
        number += 1
        outcome = attempt_fn(number)
        if on_attempt is not None:
            on_attempt(number, outcome)
        if outcome.ok or number > len(delays):
            return outcome, number
        if not outcome.retryable:
            log.warning("step %s failed; not retried: a retry would fail the same way", name)
            return outcome, number
        delay = delays[number - 1]
        log.warning(
            "step %s failed (attempt %d of %d): %s; retrying in %.1fs",
            name,
            number,
            len(delays) + 1,
            outcome.error,
            delay,
        )
        sleep(delay)
