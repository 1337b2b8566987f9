"""Fault switches, all off by default, each seeded so a test sees the same faults every run."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

from demo.drift import check as check_api_drift

# What a page without its data field looks like (ApiFaults.missing_data_body).
MISSING_DATA_BODIES = ("error", "empty", "null")


@dataclass(frozen=True)
class ApiFaults:
    """Faults the demo API injects, each a probability per request.

    Attributes:
        error_rate: answer 500/502/503 instead of the page.
        throttle_rate: answer 429 with `Retry-After` although the rate limit is not reached.
        truncate_rate: answer 200 with the JSON body cut in half (invalid JSON).
        slow_rate: wait `slow_seconds` before answering.
        duplicate_rate: start a cursor page with a few records of the previous page again.
        empty_last_page: end every cursor walk with an extra page `{"data": [], "next_cursor":
            null}` (the last full page still carries a cursor), as many real APIs do.
        unauthorized_after: answer 401 to every CRM request after this many authorised ones
            (a token revoked in the middle of a run); None never does.
        drift: schema drift of the records sent: `added`, `removed`, `retyped` for customers
            and FX rates, or `customers:<kind>` / `rates:<kind>` for one (see `demo/drift.py`).
        seed: seed of the fault dice, so a sequential client sees the same faults every run.
        slow_seconds: delay of a slow response.
        retry_after: seconds announced in `Retry-After` of an injected 429.
        loop_after: from this page of a CRM walk on (0-based), paging goes back instead of
            forward, for ever: a cursor or next link points at page n + 1 - `loop_length` (1:
            the same page again); every offset or page number past it gets page
            `loop_after` + 1 - `loop_length` (the API ignores the position).
        loop_length: how far back the walk goes (1 <= loop_length <= loop_after).
        missing_data_after: answer every CRM page after this many with 200 and a body without
            `data` (`missing_data_body`: `error` -> `{"error": ...}`, `empty` -> `{}`, `null`
            -> `{"data": null}`).
        drip_seconds: send each CRM page's body in chunks of `drip_chunk` bytes, waiting this long
            between two chunks (a slow server that never trips a read timeout).
        echo_credentials: a 401 names the credential it was given (as some APIs do).
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    truncate_rate: float = 0.0
    slow_rate: float = 0.0
    duplicate_rate: float = 0.0
    empty_last_page: bool = False
    unauthorized_after: int | None = None
    drift: tuple[str, ...] = ()
    seed: int = 0
    slow_seconds: float = 2.0
    retry_after: int = 1
    loop_after: int | None = None
    loop_length: int = 1
    missing_data_after: int | None = None
    missing_data_body: str = "error"
    drip_seconds: float = 0.0
    drip_chunk: int = 64
    echo_credentials: bool = False

    def __post_init__(self) -> None:
        for name in ("error_rate", "throttle_rate", "truncate_rate", "slow_rate", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ApiFaults.{name} must be between 0 and 1, got {value!r}")
        check_api_drift(self.drift)
        for name in ("unauthorized_after", "missing_data_after"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"ApiFaults.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.loop_after is not None and not 1 <= self.loop_length <= self.loop_after:
            raise ValueError("ApiFaults.loop_length must be between 1 and loop_after")
        if self.missing_data_body not in MISSING_DATA_BODIES:
            raise ValueError(f"ApiFaults.missing_data_body must be one of {MISSING_DATA_BODIES}")
        if self.drip_seconds < 0 or self.drip_chunk < 1:
            raise ValueError("ApiFaults.drip_seconds must be >= 0 and drip_chunk >= 1")

    def as_dict(self) -> dict[str, float | int | bool | tuple[str, ...] | None]:
        """The settings as a plain dict (for logs and state.json)."""
        return asdict(self)


@dataclass
class FaultDice:
    """Thread-safe seeded dice deciding which request gets which fault."""

    faults: ApiFaults
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)

    def roll(self) -> dict[str, bool]:
        """Draw the faults of one request (one draw per kind, always in the same order)."""
        kinds = ("throttle", "error", "slow", "truncate", "duplicate")
        with self._lock:
            draws = [self._rng.random() for _ in kinds]
        f = self.faults
        rates = (f.throttle_rate, f.error_rate, f.slow_rate, f.truncate_rate, f.duplicate_rate)
        return {kind: draw < rate for kind, draw, rate in zip(kinds, draws, rates, strict=True)}

    def pick(self, options: tuple[int, ...]) -> int:
        """Pick one option with the same dice (e.g. which 5xx status)."""
        with self._lock:
            return self._rng.choice(options)


@dataclass(frozen=True)
class FileFaults:
    """Faults written into the files and the shop database by `generate` / `advance`.

    Attributes:
        malformed_rate: share of JSONL and CSV event lines replaced by malformed lines
            (bad JSON, wrong column count, wrong types); counted per file in manifest.json.
        bad_orders_rate: share of new orders a warehouse must quarantine (currency `XXX`,
            a negative quantity, or no customer_id); truth counts them in `orders_bad`.
        drift: schema drift to start with the simulated day: `added`, `renamed` or `retyped`.
    """

    malformed_rate: float = 0.0
    bad_orders_rate: float = 0.0
    drift: str | None = None

    def __post_init__(self) -> None:
        for name in ("malformed_rate", "bad_orders_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.drift not in (None, "added", "renamed", "retyped"):
            raise ValueError(f"drift must be added, renamed or retyped, got {self.drift!r}")
