"""Typed settings of the REST API source type.

``client``, ``resource_defaults`` and each resource are dlt's ``RESTAPIConfig`` pieces, which dlt
checks when the source is built. Checked here, before dlt is imported: the keys of the system's
entry, each resource's name and the three keys this type adds to dlt's (``materialize``,
``copy_body_fields``, ``end_param``, ``window_format``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingestion.typed_settings import Settings, WindowFormat

# Suffix of the resources that create a declared table before its first row.
MATERIALIZED_SUFFIX = "_materialized"
# The secret arguments of the source and the auth type whose field each one fills.
AUTH_SECRETS = {"token": "bearer", "api_key": "api_key", "password": "http_basic"}


class DeclaredEndpoint(BaseModel):
    """An endpoint: dlt's ``Endpoint`` keys plus ``copy_body_fields``, ``end_param`` and
    ``window_format``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    path: str | None = None
    # top-level body fields copied onto every row (FX: ``base``)
    copy_body_fields: list[str] = Field(default_factory=list)
    # query parameter that receives the end of a --start/--end window
    end_param: str | None = None
    # how the incremental cursor is written: date, datetime, epoch_s, epoch_ms or a strftime
    # format; a window's bounds are rendered alike (default: like initial_value, ISO)
    window_format: WindowFormat | None = None


class DeclaredResource(BaseModel):
    """A resource: dlt's ``EndpointResource`` keys plus ``materialize``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: str
    # create the table from its declared ``columns`` even before the first row
    materialize: bool = False
    endpoint: DeclaredEndpoint | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: object) -> object:
        """A bare name is a resource whose endpoint path is its name (as in dlt)."""
        return {"name": value, "endpoint": {"path": value}} if isinstance(value, str) else value

    @field_validator("endpoint", mode="before")
    @classmethod
    def _from_path(cls, value: object) -> object:
        return {"path": value} if isinstance(value, str) else value


class RestApiSettings(Settings):
    """One REST system: dlt's ``RESTAPIConfig`` plus its auth secrets."""

    client: dict[str, Any]
    resources: list[DeclaredResource] = Field(min_length=1)
    resource_defaults: dict[str, Any] = Field(default_factory=dict)
    # secrets that fill the declared ``client.auth`` (see AUTH_SECRETS)
    token: str | None = None
    api_key: str | None = None
    password: str | None = None
