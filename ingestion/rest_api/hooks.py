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


class MissingDataError(ValueError):
    """A 200 answer without the endpoint's data field (an error or an empty body)."""


def data_field_hook(source: str, resource: str, data_selector: str) -> Callable[..., None]:
    """A hook that refuses a 200 answer whose body lacks ``data_selector`` (or holds null).

    dlt alone reads such a page as empty, so an API answering ``{"error": ...}`` or ``{}`` would
    end the walk as a successful empty load. An empty list under the field is an empty page.
    Not retried: the source fails at once, naming the endpoint.
    """
    from dlt.common.jsonpath import find_values

    def hook(response: Response, *args: object, **kwargs: object) -> None:
        if response.status_code != 200:
            return
        body = json.loads(response.content)
        readable = isinstance(body, dict | list)
        found = find_values(data_selector, body) if readable else []
        if found and any(value is not None for value in found):
            return
        shown = " ".join(response.text.split())[:200]
        raise MissingDataError(
            f"source {source!r}, endpoint {resource!r} ({response.request.method} "
            f"{str(response.url).split('?')[0]}): a 200 answer without its data field "
            f"{data_selector!r}, nothing of this run was loaded; the body: {shown}"
        )

    return hook
