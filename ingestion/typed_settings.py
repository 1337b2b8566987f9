"""Typed settings shared by the source types: strict pydantic models and readable errors.

Reading ``sources.yml`` must not import dlt (the run lock is taken first, see
``orchestration/lock.py``), so each type's settings are plain pydantic models. Errors name the
key path, never the value: a value may be a secret.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import ErrorDetails

from ingestion.window import check_format


class SourceConfigError(ValueError):
    """A source definition is missing, unknown or invalid."""


class Settings(BaseModel):
    """Base of every settings model: unknown keys are errors and values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _column_names(value: object) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise ValueError("must be a column name or a non-empty list of column names")


def _secret(value: object) -> str | dict[str, Any]:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    raise ValueError("must be a string (a URL, or a `secret:`/`file:` reference) or a mapping")


# One column (``id``) or several (``[date, currency]``).
ColumnNames = Annotated[str | list[str], PlainValidator(_column_names)]
# A credential: a string, a `secret:<key>`/`file:<path>` reference, or a mapping of fields.
SecretValue = Annotated[str | dict[str, Any], PlainValidator(_secret)]
# How a cursor is written, so a backfill window is rendered alike (``ingestion/window.py``).
WindowFormat = Annotated[str, AfterValidator(check_format)]


def bare_entries(value: object) -> object:
    """A mapping whose entries may be bare (``products:`` with nothing under it): empty dicts."""
    if isinstance(value, dict):
        return {name: {} if spec is None else spec for name, spec in value.items()}
    return value


def key_path(parts: tuple[int | str, ...]) -> str:
    """``("tables", "orders", "cursor")`` as ``tables.orders.cursor``; list indexes as ``[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _message(error: ErrorDetails, model: type[BaseModel], also: tuple[str, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        if len(error["loc"]) > 1:
            return "unknown key"
        keys = [field.alias or name for name, field in model.model_fields.items()]
        return f"unknown key; use one of {', '.join(sorted([*also, *keys]))}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "dict_type"):
        return "must be a mapping"
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _described(
    exc: ValidationError, model: type[BaseModel], prefix: str, also: tuple[str, ...] = ()
) -> list[str]:
    return [
        f"{key_path((prefix, *e['loc']))}: {_message(e, model, also)}"
        for e in exc.errors(include_url=False, include_input=False)
    ]


def problems(
    model: type[BaseModel], data: object, prefix: str, also: tuple[str, ...] = ()
) -> list[str]:
    """Each way ``data`` breaks ``model``, as ``<prefix>.<key path>: <message>`` (no values).

    Args:
        model: the settings model.
        data: the settings as given.
        prefix: the source's name, the first part of every key path.
        also: keys allowed beside the model's (named when an unknown key is found).
    """
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return _described(exc, model, prefix, also)
    return []


SettingsT = TypeVar("SettingsT", bound=Settings)


def validated(model: type[SettingsT], source: str, data: dict[str, Any]) -> SettingsT:
    """``data`` as ``model``, the settings one source was given (sources.yml or its overrides).

    Raises:
        SourceConfigError: naming the source and each bad key, never a value.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = "; ".join(_described(exc, model, source))
        raise SourceConfigError(f"source {source!r}: invalid settings: {found}") from None
