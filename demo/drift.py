"""Schema drift of the demo API: how customer and FX records change shape under a drift kind.

The event files and the shop database drift through `advance --drift` (see `events.py` and
`generator.py`); the API drifts while a server runs with `ApiFaults(drift=...)` or
`serve --drift KIND`, from then on for every record it sends (`KIND` applies to both
resources, `customers:KIND` or `rates:KIND` to one):

| kind | customers | FX rates |
|---|---|---|
| `added` | gain `loyalty_tier` | gain `source` |
| `removed` | lose `signup_channel` | lose `rate` |
| `retyped` | `created_at` as `DD/MM/YYYY HH:MM` text | `rate` as text, decimal comma |

The values themselves stay the truth's: a warehouse must either carry them or fail loudly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

API_DRIFT_KINDS = ("added", "removed", "retyped")


def _customer(record: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    if "added" in kinds:
        record["loyalty_tier"] = ("bronze", "silver", "gold")[int(record["id"]) % 3]
    if "removed" in kinds:
        record.pop("signup_channel", None)
    if "retyped" in kinds and record.get("created_at"):
        moment = datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00"))
        record["created_at"] = moment.strftime("%d/%m/%Y %H:%M")
    return record


def _rate(record: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    if "added" in kinds:
        record["source"] = "demo-central-bank"
    if "removed" in kinds:
        record.pop("rate", None)
    elif "retyped" in kinds and record.get("rate") is not None:
        record["rate"] = f"{float(record['rate']):.6f}".replace(".", ",")
    return record


SHAPERS = {"customers": _customer, "rates": _rate}


def kinds_for(resource: str, drift: tuple[str, ...]) -> tuple[str, ...]:
    """The drift kinds that apply to a resource: `kind` applies to all, `resource:kind` to one."""
    kinds = []
    for entry in drift:
        target, _, kind = entry.rpartition(":")
        if not target or target == resource:
            kinds.append(kind)
    return tuple(kinds)


def check(drift: tuple[str, ...]) -> None:
    """Raise ValueError for an entry that is not `kind` or `customers|rates:kind`."""
    for entry in drift:
        target, _, kind = entry.rpartition(":")
        if kind not in API_DRIFT_KINDS or (target and target not in SHAPERS):
            raise ValueError(
                f"API drift {entry!r}: use one of {API_DRIFT_KINDS}, optionally prefixed by"
                f" one of {sorted(SHAPERS)} and ':'"
            )


def api_record(resource: str, record: dict[str, Any], drift: tuple[str, ...]) -> dict[str, Any]:
    """The record as the API sends it under the drift in effect (unchanged without)."""
    shape = SHAPERS.get(resource)
    kinds = kinds_for(resource, drift) if drift and shape else ()
    return shape(record, kinds) if shape and kinds else record
