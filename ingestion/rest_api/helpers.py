"""A declared REST system turned into dlt's ``RESTAPIConfig``: secrets, hooks, backfill window.

dlt takes ``client``, ``resource_defaults`` and the resources as they are declared; this module
fills the auth secrets, resolves ``secret:``/``file:`` references, adds the response hooks, takes
out the keys dlt does not know (``materialize``, ``copy_body_fields``, ``end_param``,
``window_format``) and bounds the incremental cursors by a ``--start/--end`` window written as
the cursor is (``ingestion/window.py``).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns, TWriteDispositionConfig
from dlt.common.validation import DictValidationException, validate_dict
from dlt.extract import DltResource
from dlt.sources.rest_api.typing import RESTAPIConfig

from ingestion.config import SourceConfigError, resolve_secret, resolve_secrets
from ingestion.redact import is_secret_key
from ingestion.rest_api.hooks import copy_body_fields_hook, data_field_hook, validate_json_body
from ingestion.rest_api.paging import guarded
from ingestion.rest_api.settings import (
    AUTH_SECRETS,
    MATERIALIZED_SUFFIX,
    DeclaredResource,
    RestApiSettings,
)
from ingestion.window import bounds, last_day


def _window_format(where: str, declared: str | None, initial_value: object) -> str:
    """The cursor's ``window_format``: declared, else ISO like ``initial_value`` (date or time).

    Raises:
        SourceConfigError: a numeric cursor without one (seconds or milliseconds?).
    """
    if declared:
        return declared
    if isinstance(initial_value, int | float):
        raise SourceConfigError(
            f"{where}.window_format: a numeric cursor needs epoch_s or epoch_ms for --start/--end"
        )
    return "date" if len(str(initial_value or "")) == 10 else "datetime"


def _endpoint(
    name: str,
    settings: RestApiSettings,
    resource: DeclaredResource,
    window: tuple[date | None, date | None],
    live: bool,
) -> dict[str, Any]:
    declared = resource.endpoint
    endpoint = declared.model_dump(exclude_unset=True) if declared else {"path": resource.name}
    where = f"{name}.resources.{resource.name}.endpoint"
    endpoint = _placeholder_safe(endpoint, where) if live else _masked(endpoint)
    endpoint.pop("copy_body_fields", None)
    end_param = endpoint.pop("end_param", None)
    declared_format = endpoint.pop("window_format", None)
    if live:
        defaults = settings.resource_defaults.get("endpoint")
        defaults = defaults if isinstance(defaults, dict) else {}
        inherited = {**settings.client, **defaults, **endpoint}  # dlt's order: the endpoint wins
        path = str(endpoint.get("path") or resource.name)
        endpoint["paginator"] = guarded(name, resource.name, path, inherited.get("paginator"))
        hooks: list[Any] = [validate_json_body]
        if inherited.get("data_selector"):
            hooks.append(data_field_hook(name, resource.name, str(inherited["data_selector"])))
        if declared and declared.copy_body_fields:
            hooks.append(copy_body_fields_hook(list(declared.copy_body_fields)))
        endpoint["response_actions"] = hooks + list(endpoint.get("response_actions") or [])
    start, end = window
    incremental = endpoint.get("incremental")
    if isinstance(incremental, dict) and (start or end):
        kind = _window_format(where, declared_format, incremental.get("initial_value"))
        first, after = bounds(start, end, kind)
        if start:
            incremental["initial_value"] = first
        incremental["end_value"] = after
        incremental["range_end"] = "open"
        if end_param:
            endpoint.setdefault("params", {})[end_param] = last_day(end, kind)
    return endpoint


def _placeholder_safe(value: Any, where: str) -> Any:
    """``resolve_secrets``, the braces of what a reference reads escaped: dlt formats an
    endpoint's path, params, headers and body (``{incremental.start_value}``)."""
    if isinstance(value, dict):
        return {k: _placeholder_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    resolved = resolve_secret(value, where=where)
    if isinstance(resolved, str) and resolved is not value:
        return resolved.replace("{", "{{").replace("}", "}}")
    return resolved


def _masked(value: Any) -> Any:
    """A copy with every secret-named field hidden (dlt's messages print what they check)."""
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: "<hidden>" if is_secret_key(str(k)) else _masked(v) for k, v in value.items()}


def _client(name: str, settings: RestApiSettings) -> dict[str, Any]:
    """The client with its auth secrets: an injected secret wins over the declared value."""
    client = copy.deepcopy(settings.client)
    auth = client.get("auth")
    if isinstance(auth, dict):
        kind = auth.get("type", "bearer")
        for secret, auth_type in AUTH_SECRETS.items():
            value = getattr(settings, secret)
            if value is not None and kind == auth_type:
                auth[secret] = resolve_secret(value, where=f"{name}.{secret}")
    client = resolve_secrets(client, f"{name}.client")
    auth = client.get("auth")
    if isinstance(auth, dict) and auth.get("type", "bearer") == "bearer" and not auth.get("token"):
        raise SourceConfigError(
            f"source {name!r}: the bearer token is not set (set the secret sources.{name}.token,"
            f" e.g. SOURCES__{name.upper()}__TOKEN, or client.auth.token in the sources file)"
        )
    return client


def _masked_client(settings: RestApiSettings) -> dict[str, Any]:
    """The client as dlt's validator sees it: secrets hidden, the injected auth secret present
    (``password`` of ``http_basic`` is required there; its value is read when the source runs)."""
    client = _masked(copy.deepcopy(settings.client))
    auth = client.get("auth")
    if isinstance(auth, dict):
        kind = auth.get("type", "bearer")
        for secret, auth_type in AUTH_SECRETS.items():
            if kind == auth_type:
                auth.setdefault(secret, "<hidden>")
    return client


def rest_api_config(
    name: str,
    settings: RestApiSettings,
    start: date | None = None,
    end: date | None = None,
    live: bool = True,
) -> RESTAPIConfig:
    """dlt's ``RESTAPIConfig`` of one declared system, with secrets, hooks and window.

    Args:
        name: the system's name.
        settings: its typed settings.
        start: with ``end``, a backfill window on every incremental cursor (stateless in dlt).
        end: the window's last day (inclusive).
        live: False builds the declaration's shape only (no secret read, auth hidden, no
            hooks), for dlt's validator, whose messages print the values they check.
    """
    defaults = copy.deepcopy(settings.resource_defaults)
    defaults = _placeholder_safe(defaults, f"{name}.defaults") if live else _masked(defaults)
    if isinstance(defaults.get("endpoint"), dict):
        defaults["endpoint"].pop("copy_body_fields", None)
    resources: list[Any] = []
    for resource in settings.resources:
        declared = resource.model_dump(exclude_unset=True, exclude={"materialize", "endpoint"})
        where = f"{name}.resources.{resource.name}"
        declared = resolve_secrets(declared, where) if live else _masked(declared)
        declared["endpoint"] = _endpoint(name, settings, resource, (start, end), live)
        resources.append(declared)
    client = _client(name, settings) if live else _masked_client(settings)
    return {
        "client": client,  # type: ignore[typeddict-item]
        "resource_defaults": defaults,
        "resources": resources,
    }


def check_declaration(name: str, settings: RestApiSettings) -> None:
    """Check the declaration with dlt's own validator of ``RESTAPIConfig``.

    Raises:
        SourceConfigError: dlt's message on the declaration (auth hidden, no secret read).
    """
    try:
        validate_dict(RESTAPIConfig, rest_api_config(name, settings, live=False), path=".")
    except DictValidationException as exc:
        leaf = _deepest(exc)
        where = leaf.path.removeprefix(".").removeprefix("/").replace("/", ".")
        where = f"{name}.{where}" if where else name
        raise SourceConfigError(f"invalid REST settings: {where}: {leaf.msg}") from None


def _deepest(exc: DictValidationException) -> DictValidationException:
    """The most specific of dlt's nested validation errors (a union tries each type)."""
    found = [_deepest(nested) for nested in exc.nested_exceptions or []]
    return max([exc, *found], key=lambda e: len(e.path))


def _materializer(
    source_name: str,
    table_name: str,
    write_disposition: TWriteDispositionConfig,
    primary_key: str | list[str] | None,
    columns: TTableSchemaColumns,
) -> DltResource:
    @dlt.resource(
        name=f"{source_name}_{table_name}{MATERIALIZED_SUFFIX}",
        table_name=table_name,
        write_disposition=write_disposition,
        primary_key=primary_key or [],
        columns=columns,
        file_format="insert_values",  # an empty Parquet job fails dlt's ADBC load
    )
    def empty_table() -> Any:
        yield dlt.mark.materialize_table_schema()

    return empty_table


def materializers(name: str, settings: RestApiSettings) -> list[DltResource]:
    """A resource per ``materialize: true`` resource: its table exists before its first row."""
    defaults = settings.resource_defaults
    tables = []
    for resource in settings.resources:
        if not resource.materialize:
            continue
        extra = resource.model_extra or {}
        tables.append(
            _materializer(
                name,
                extra.get("table_name", resource.name),
                extra.get("write_disposition", defaults.get("write_disposition", "append")),
                extra.get("primary_key", defaults.get("primary_key")),
                extra.get("columns", {}),
            )
        )
    return tables
