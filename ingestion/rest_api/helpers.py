"""Shared builder for REST API systems declared in the sources file (CRM, FX, your own).

The declaration is dlt's ``RESTAPIConfig`` as YAML, plus three additions handled here:
``secret:<key>`` values (resolved through dlt secrets), ``copy_body_fields`` on an endpoint
(top-level body fields copied onto every row, e.g. FX's ``base``) and ``materialize: true`` on
a resource (its table is created from the declared ``columns`` even before the first row, e.g.
the CRM's deleted records). Every endpoint gets a
response hook that rejects a truncated or malformed JSON body as a retryable error; dlt's
client then retries it like a 5xx (``[runtime] request_max_attempts``, backoff).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_resources
from requests import Response
from requests.exceptions import ChunkedEncodingError

from ingestion import rejects
from ingestion.config import SourceConfig, resolve_secret


class MalformedBodyError(ChunkedEncodingError):
    """A 200 response whose body is not the complete JSON document (retried by dlt)."""


def validate_json_body(response: Response, *args: Any, **kwargs: Any) -> None:
    """Response hook: raise a retryable error when a successful JSON body does not parse."""
    if response.status_code != 200:
        return
    try:
        json.loads(response.content)
    except ValueError as exc:
        raise MalformedBodyError(
            f"truncated or malformed JSON body from {response.request.method} "
            f"{response.url.split('?')[0]} ({len(response.content)} bytes): {exc}"
        ) from exc


def copy_body_fields_hook(fields: list[str]) -> Callable[..., None]:
    """Response hook that copies top-level body fields onto each row of ``data``."""

    def hook(response: Response, *args: Any, **kwargs: Any) -> None:
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


def _resolve_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v) for v in value]
    return resolve_secret(value)


def _iso(day: date, cursor_sample: Any) -> str:
    """Format a window bound like the configured cursor (date or timestamp)."""
    text = str(cursor_sample or "")
    return day.isoformat() if len(text) == 10 else f"{day.isoformat()}T00:00:00Z"


def _prepare_endpoint(
    endpoint: dict[str, Any], start: date | None, end: date | None
) -> dict[str, Any]:
    copy_fields = endpoint.pop("copy_body_fields", None)
    end_param = endpoint.pop("end_param", None)
    hooks: list[Any] = [validate_json_body]
    if copy_fields:
        hooks.append(copy_body_fields_hook(list(copy_fields)))
    endpoint["response_actions"] = hooks + list(endpoint.get("response_actions", []))
    incremental = endpoint.get("incremental")
    if incremental and (start or end):
        sample = incremental.get("initial_value")
        if start:
            incremental["initial_value"] = _iso(start, sample)
        end_day = (end or date.today()) + timedelta(days=1)
        incremental["end_value"] = _iso(end_day, sample)
        incremental["range_end"] = "open"
        if end_param:
            endpoint.setdefault("params", {})[end_param] = (end or date.today()).isoformat()
    return endpoint


MATERIALIZED_SUFFIX = "_materialized"


def materialized_tables(config: SourceConfig) -> list[dict[str, Any]]:
    """The resources declared with ``materialize: true``, with their table hints."""
    defaults = config.settings.get("resource_defaults", {})
    tables = []
    for resource in config.settings.get("resources", []):
        if isinstance(resource, dict) and resource.get("materialize"):
            tables.append(
                {
                    "table_name": resource.get("table_name", resource["name"]),
                    "write_disposition": resource.get(
                        "write_disposition", defaults.get("write_disposition", "append")
                    ),
                    "primary_key": resource.get("primary_key", defaults.get("primary_key")),
                    "columns": resource.get("columns", {}),
                }
            )
    return tables


def materializer(source_name: str, hints: dict[str, Any]) -> Any:
    """A resource that creates a declared table even when its endpoint has sent nothing yet."""

    @dlt.resource(
        name=f"{source_name}_{hints['table_name']}{MATERIALIZED_SUFFIX}",
        table_name=hints["table_name"],
        write_disposition=hints["write_disposition"],
        primary_key=hints["primary_key"],
        columns=hints["columns"],
        file_format="insert_values",  # an empty Parquet job fails dlt's ADBC load
    )
    def empty_table() -> Any:
        yield dlt.mark.materialize_table_schema()

    return empty_table


def build_config(
    config: SourceConfig, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Turn the declaration into a ``RESTAPIConfig`` dict with hooks, secrets and window."""
    settings = _resolve_secrets(copy.deepcopy(config.settings))
    rest_config: dict[str, Any] = {
        "client": settings["client"],
        "resource_defaults": settings.get("resource_defaults", {}),
        "resources": [],
    }
    auth = rest_config["client"].get("auth")
    if isinstance(auth, dict) and auth.get("token") is None and auth.get("type") == "bearer":
        raise ValueError(
            f"source {config.name!r}: bearer token is not set (configure the secret it names)"
        )
    defaults_endpoint = rest_config["resource_defaults"].get("endpoint")
    if isinstance(defaults_endpoint, dict):
        defaults_endpoint.pop("copy_body_fields", None)
    for resource in settings["resources"]:
        if isinstance(resource, str):
            resource = {"name": resource, "endpoint": {"path": resource}}
        endpoint = resource.setdefault("endpoint", {"path": resource["name"]})
        if isinstance(endpoint, str):
            endpoint = resource["endpoint"] = {"path": endpoint}
        resource.pop("materialize", None)
        _prepare_endpoint(endpoint, start, end)
        rest_config["resources"].append(resource)
    return rest_config


def source(
    config: SourceConfig,
    counter: rejects.RejectCounter,
    start: date | None = None,
    end: date | None = None,
) -> Any:
    """Build a REST API source from its declaration.

    Args:
        config: the source's entry of the sources file.
        counter: rejected-record counter (REST rows are JSON objects by construction; a body
            that does not parse is retried, then fails the run, so nothing is rejected here).
        start: with ``end``, a backfill window on the incremental cursor (stateless in dlt).
        end: last day of the window (inclusive).
    """
    rest_config = build_config(config, start, end)

    @dlt.source(name=config.name)
    def rest_source() -> Any:
        resources = list(rest_api_resources(rest_config))  # type: ignore[arg-type]
        empty_tables = [materializer(config.name, t) for t in materialized_tables(config)]
        return [rejects.rejected_records_resource(config.name), *empty_tables, *resources]

    return rest_source()
