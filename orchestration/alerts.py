"""Slack-compatible webhook alerts (``{"text": ..., "blocks": [...]}``).

The URL comes from ``ORCHESTRATION__ALERT_WEBHOOK_URL`` or ``[orchestration] alert_webhook_url``
in ``.dlt/secrets.toml``. Every text is passed through :func:`ingestion.redact.redact`, and
the URL itself is never logged.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from ingestion.redact import redact, register
from orchestration.ledger import RunRecord

log = logging.getLogger(__name__)


def build_payload(run: RunRecord, warehouse_location: str) -> dict[str, Any]:
    """The webhook body describing a finished run."""
    icons = {"failed": ":red_circle:", "success": ":large_green_circle:"}
    icon = icons.get(run.status, ":warning:")
    headline = f"{icon} customer-analytics {run.command} {run.run_id}: {run.status}"
    if run.failed_step:
        headline += f" at step {run.failed_step}"
    facts = [
        f"*Warehouse:* {warehouse_location}",
        f"*Rows loaded:* {run.rows_loaded:,}  *rejected:* {run.rows_rejected:,}",
        f"*Models built:* {run.models_built}  *tests passed/warned/failed:* "
        f"{run.tests_passed}/{run.tests_warned}/{run.tests_failed}",
    ]
    if run.duration_s is not None:
        facts.append(f"*Duration:* {run.duration_s:.1f}s")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": redact(headline)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": redact("\n".join(facts))}},
    ]
    if run.error:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": redact(f"*Error:* ```{run.error[:2500]}```")},
            }
        )
    return {"text": redact(headline), "blocks": blocks}


def send(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> bool:
    """POST the payload; returns True on a 2xx answer. Failures are logged, never raised."""
    register(url)
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        # the exception text can contain the URL: mask it
        log.error("alert webhook could not be reached: %s", redact(str(exc)))
        return False
    if not ok:
        log.error("alert webhook answered HTTP %s", response.status)
    return ok
