"""What the demo API does to a request besides answering it: the rate limit and injected faults.

It also counts every fault injected and every response sent, which `GET /faults` reports so a
test can check that the faults it asked for really happened.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Any, BinaryIO

from demo.api_pages import ApiError
from demo.faults import ApiFaults, FaultDice

DEFAULT_RATE_LIMIT = 100  # requests per window
DEFAULT_RATE_WINDOW = 1.0  # seconds


class RateLimiter:
    """Fixed-window limit on requests across all clients."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._start, self._count = time.monotonic(), 0
        self._lock = threading.Lock()

    def check(self) -> float | None:
        """Count one request; returns seconds to wait when over the limit, else None."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window:
                self._start, self._count = now, 0
            self._count += 1
            if self._count > self.limit:
                return self.window - (now - self._start)
        return None


class FaultInjector:
    """The faults and the rate limit of one server, and what they did so far (thread-safe)."""

    def __init__(
        self,
        faults: ApiFaults | None = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window: float = DEFAULT_RATE_WINDOW,
    ) -> None:
        self.faults = faults or ApiFaults()
        self.dice = FaultDice(self.faults)
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # HTTP status -> responses sent
        self._authorised = 0
        self._pages = 0
        self._lock = threading.Lock()

    def count(self, kind: str) -> None:
        """Count one injected fault of `kind` (reported by `GET /faults`)."""
        with self._lock:
            self.injected[kind] += 1

    def token_revoked(self) -> bool:
        """Whether the `unauthorized_after` fault rejects this (otherwise authorised) request."""
        limit = self.faults.unauthorized_after
        if limit is None:
            return False
        with self._lock:
            self._authorised += 1
            return self._authorised > limit

    def answer(self, status: int) -> None:
        """Count one response by HTTP status (reported by `GET /faults`)."""
        with self._lock:
            self.answered[str(status)] += 1

    def report(self) -> dict[str, Any]:
        """The fault settings, the faults injected and the responses sent so far, by status."""
        with self._lock:
            return {
                "settings": self.faults.as_dict(),
                "injected": dict(self.injected),
                "answered": dict(self.answered),
            }

    def before_page(self, is_crm: bool) -> dict[str, bool]:
        """Apply the faults that come before a page is read; returns the request's dice.

        Raises:
            ApiError: a revoked token (401), the rate limit or an injected throttle (429), or an
                injected server error (5xx).
        """
        if is_crm and self.token_revoked():
            self.count("unauthorized")
            raise ApiError(401, "bearer token revoked", {"WWW-Authenticate": "Bearer"})
        wait = self.limiter.check()
        if wait is not None:
            self.count("rate_limit")
            raise ApiError(429, "rate limit exceeded", {"Retry-After": str(math.ceil(wait))})
        dice = self.dice.roll()
        if dice["throttle"]:
            self.count("throttle")
            raise ApiError(
                429, "rate limit exceeded", {"Retry-After": str(self.faults.retry_after)}
            )
        if dice["error"]:
            self.count("error")
            raise ApiError(self.dice.pick((500, 502, 503)), "injected server error")
        if dice["slow"]:
            self.count("slow")
            time.sleep(self.faults.slow_seconds)
        return dice

    def after_page(
        self, dice: dict[str, bool], is_crm: bool, query: dict[str, str], body: dict[str, Any]
    ) -> None:
        """Count the faults that shaped the page: repeated records and an empty last page."""
        if is_crm and dice["duplicate"] and query.get("cursor"):
            self.count("duplicate")
        if self.faults.empty_last_page and query.get("cursor") and not body["data"]:
            self.count("empty_last_page")

    def strip_data(self, is_crm: bool, body: dict[str, Any], credential: str) -> dict[str, Any]:
        """The page, or an answer without its data field once `missing_data_after` is passed
        (its error names the credential when `echo_credentials` is on)."""
        limit = self.faults.missing_data_after
        if not is_crm or limit is None:
            return body
        with self._lock:
            self._pages += 1
            if self._pages <= limit:
                return body
        self.count("missing_data")
        error = f"quota exceeded for key {credential}" if self.faults.echo_credentials else ""
        bodies = {
            "error": {"error": error or "upstream unavailable"},
            "empty": {},
            "null": {"data": None},
        }
        return bodies[self.faults.missing_data_body]

    def write(self, stream: BinaryIO, payload: bytes) -> None:
        """Write a page's body, drip-fed when `drip_seconds` is set."""
        delay, size = self.faults.drip_seconds, self.faults.drip_chunk
        if not delay:
            stream.write(payload)
            return
        self.count("drip")
        try:
            for start in range(0, len(payload), size):
                stream.write(payload[start : start + size])
                stream.flush()
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up
            return

    def truncate(self, dice: dict[str, bool], payload: bytes) -> bytes:
        """The response body, cut in half when the dice say so."""
        if not dice["truncate"]:
            return payload
        self.count("truncate")
        return payload[: max(1, len(payload) // 2)]
