"""Response hooks added to every endpoint of a declared REST system."""

from __future__ import annotations

import json
from collections.abc import Callable

from requests import Response
from requests.exceptions import ChunkedEncodingError


class MalformedBodyError(ChunkedEncodingError):
    """A 200 response whose body is not the complete JSON document (retried by dlt)."""


def validate_json_body(response: Response, *args: object, **kwargs: object) -> None:
    """Raise a retryable error when a successful JSON body does not parse.

    dlt's client retries it like a 5xx (``[runtime] request_max_attempts``, backoff); dlt
    alone would fail the run on a truncated body.
    """
    if response.status_code != 200:
        return
    try:
        json.loads(response.content)
    except ValueError as exc:
        raise MalformedBodyError(
            f"truncated or malformed JSON body from {response.request.method} "
            f"{str(response.url).split('?')[0]} ({len(response.content)} bytes): {exc}"
        ) from exc


def copy_body_fields_hook(fields: list[str]) -> Callable[..., None]:
    """A hook that copies top-level body fields onto each row of ``data`` (FX: ``base``)."""

    def hook(response: Response, *args: object, **kwargs: object) -> None:
        if response.status_code != 200:
            return
        body = json.loads(response.content)
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            return
        extra = {f: body.get(f) for f in fields}
        for row in rows:
            if isinstance(row, dict):
                for key, value in extra.items():
                    row.setdefault(key, value)
        response._content = json.dumps(body).encode()

    return hook
