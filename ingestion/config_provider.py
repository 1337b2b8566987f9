"""The sources file as a dlt config provider: ``sources.<system>.<key>`` from its entry.

A system's key set in the environment or ``.dlt/*.toml`` under its section wins over the file
(``SOURCES__CRM__TOKEN``, ``[sources.shop] chunk_size``, also pipeline-scoped keys). The file
wins over names without a section: dlt's lookup goes on up to ``sources.<key>`` and ``<key>``,
and a shell's ``COLUMNS=80`` must not replace the events' declared columns. So the provider is
consulted first but steps aside whenever another provider holds the sectioned key; it answers
only at exactly ``sources.<system>``, for the keys the entry declares. It holds secret
references, not secrets (it supports secrets only so dlt may read ``credentials`` from it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import ConfigProvider, SecretsTomlProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from ingestion import redact
from ingestion.config import SourceConfig, shown

NAME = "ingestion sources file"
_HIDDEN: ContextVar[bool] = ContextVar("sources_file_hidden", default=False)


class SourcesFileProvider(ConfigProvider):
    """Serves each system's entry of the sources file under ``sources.<system>``."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._paths: dict[str, str] = {}

    def serve(self, spec: SourceConfig) -> None:
        """Serve ``spec.settings`` as ``sources.<spec.name>.*`` (replacing an earlier entry)."""
        self._entries[spec.name] = copy.deepcopy(spec.settings)
        self._paths[spec.name] = shown(spec.path)

    def get_value(
        self, key: str, hint: Any, pipeline_name: str | None, *sections: str
    ) -> tuple[Any | None, str]:
        full_key = ".".join((*sections, key))
        if _HIDDEN.get() or pipeline_name or len(sections) != 2 or sections[0] != "sources":
            return None, full_key
        entry = self._entries.get(sections[1], {})
        if key not in entry or _overridden(self, key, hint, sections[1]):
            return None, full_key
        return copy.deepcopy(entry[key]), full_key

    def get_value_location(self, key: str, pipeline_name: str | None, *sections: str) -> str:
        return self._paths.get(sections[1], "") if len(sections) > 1 else ""

    @property
    def supports_secrets(self) -> bool:
        return True

    @property
    def supports_sections(self) -> bool:
        return True

    @property
    def name(self) -> str:
        return NAME

    @property
    def is_empty(self) -> bool:
        return not self._entries

    @property
    def locations(self) -> list[str]:
        return sorted(set(self._paths.values()))


def _overridden(own: ConfigProvider, key: str, hint: Any, system: str) -> bool:
    """Whether another provider holds ``key`` under the system's own sections."""
    for other in Container()[PluggableRunContext].providers.providers:
        if other is own or other.is_empty or not other.supports_sections:
            continue
        for path in (("sources", system, system), ("sources", system)):
            if other.get_value(key, hint, None, *path)[0] is not None:
                return True
    return False


def provider() -> SourcesFileProvider:
    """The provider registered in dlt's current run context (first, see the module docstring)."""
    providers = Container()[PluggableRunContext].providers
    if NAME in providers:
        found = providers[NAME]
        assert isinstance(found, SourcesFileProvider)
        return found
    created = SourcesFileProvider()
    providers.providers.insert(0, created)
    return created


def serve(spec: SourceConfig) -> None:
    """Serve one system's entry to dlt's configuration; mask ``.dlt/secrets.toml``'s secrets."""
    provider().serve(spec)
    for other in Container()[PluggableRunContext].providers.providers:
        if isinstance(other, SecretsTomlProvider):
            _register_secret_keys(other._config_doc)


def _register_secret_keys(doc: Any) -> None:
    """Register the values under secret-named keys (not hosts or user names beside them)."""
    for key, value in doc.items() if isinstance(doc, dict) else ():
        if isinstance(value, dict):
            _register_secret_keys(value)
        elif redact.is_secret_key(str(key)):
            redact.register(value)


@contextmanager
def sources_file_hidden() -> Iterator[None]:
    """Within the block the provider answers nothing (a ``secret:`` names dlt's secrets)."""
    token = _HIDDEN.set(True)
    try:
        yield
    finally:
        _HIDDEN.reset(token)
