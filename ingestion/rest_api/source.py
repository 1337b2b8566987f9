"""The ``@dlt.source`` of the REST API type: a system declared with dlt's ``RESTAPIConfig``."""

from __future__ import annotations

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.extract import DltResource
from dlt.sources.rest_api import rest_api_resources
from dlt.sources.rest_api.typing import ClientConfig, EndpointResource, EndpointResourceBase

from ingestion import rejects
from ingestion.rest_api.helpers import check_declaration, materializers, rest_api_config
from ingestion.rest_api.settings import RestApiSettings
from ingestion.run_options import RunOptions
from ingestion.typed_settings import validated


@dlt.source(name="rest_api", section="rest_api")
def rest_api_source(
    client: ClientConfig = dlt.config.value,
    resources: list[str | EndpointResource] = dlt.config.value,
    resource_defaults: EndpointResourceBase | None = None,
    token: TSecretStrValue | None = None,
    api_key: TSecretStrValue | None = None,
    password: TSecretStrValue | None = None,
    run: RunOptions | None = None,
) -> list[DltResource]:
    """A REST API system: one resource per declared endpoint, plus ``rejected_records``.

    Clone it per system (``rest_api_source.clone(name="crm", section="crm")``): dlt then injects
    ``sources.crm.<argument>`` from the environment, ``.dlt/*.toml`` or the sources file.

    Args:
        client: dlt's ``ClientConfig`` (base URL, auth, paginator).
        resources: dlt's endpoint resources, plus ``materialize: true`` (create the table from
            its declared ``columns`` before the first row) and, on an endpoint,
            ``copy_body_fields`` (top-level body fields copied onto every row) and
            ``end_param`` (query parameter receiving the last day of a backfill window).
        resource_defaults: dlt's defaults for every resource.
        token: the bearer token; wins over ``client.auth.token`` (auth type ``bearer``).
        api_key: the API key; wins over ``client.auth.api_key`` (auth type ``api_key``).
        password: the password; wins over ``client.auth.password`` (auth type ``http_basic``).
        run: this run's reject counter and backfill window (not configuration). REST rows are
            JSON objects, so nothing is rejected: a body that does not parse is retried, then
            fails the run.

    Raises:
        SourceConfigError: a setting is invalid (names the source and the key, never a secret).
    """
    name = dlt.current.source_schema().name
    options = run or RunOptions()
    given = {
        "client": client,
        "resources": resources,
        "resource_defaults": resource_defaults,
        "token": token,
        "api_key": api_key,
        "password": password,
    }
    settings = validated(RestApiSettings, name, {k: v for k, v in given.items() if v is not None})
    check_declaration(name, settings)  # before any secret is read into the config
    endpoints = rest_api_resources(rest_api_config(name, settings, options.start, options.end))
    return [rejects.rejected_records_resource(name), *materializers(name, settings), *endpoints]
