"""Settings of the run script: retries, backoff, alert webhook, dbt project, lock location.

Values come from dlt's config providers, so the same key can be set in three places (first wins):
the environment (``ORCHESTRATION__RETRIES``), ``.dlt/secrets.toml`` or ``.dlt/config.toml``
under ``[orchestration]``. The webhook URL is a secret: keep it in the environment or in the
git-ignored ``.dlt/secrets.toml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.redact import register

DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 10.0
DEFAULT_LOCK_PATH = "warehouse/.run.lock"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An orchestration setting has an invalid value."""


@dataclass(frozen=True)
class Settings:
    """Resolved orchestration settings.

    Attributes:
        retries: extra attempts after a failed step (0 = no retry).
        backoff_s: wait before the first retry; doubled before each further one.
        alert_webhook_url: Slack-compatible incoming webhook, or None to send no alert.
        alert_on_warning: also alert when a run succeeds with warnings (e.g. warned tests).
        dbt_project_dir: the dbt project the dbt step builds (``dbt_project()``).
        dbt_select: the selection of a build when no ``--select`` is given (None: everything).
    """

    retries: int = DEFAULT_RETRIES
    backoff_s: float = DEFAULT_BACKOFF_S
    alert_webhook_url: str | None = None
    alert_on_warning: bool = False
    dbt_project_dir: Path = REPO_ROOT
    dbt_select: str | None = None


def _lookup(key: str, secret: bool = False) -> Any:
    """Read ``orchestration.<key>`` from dlt's providers (env, secrets.toml, config.toml)."""
    import dlt  # here, not at the top: the run lock is checked before dlt's slow import

    accessor = dlt.secrets if secret else dlt.config
    try:
        return accessor.get(f"orchestration.{key}")
    except Exception:  # a provider that cannot be read counts as "not set"
        return None


def _origin(key: str) -> str:
    """Where a setting was read, for error messages: its environment variable or the files."""
    variable = f"ORCHESTRATION__{key.upper()}"
    return variable if variable in os.environ else ".dlt/config.toml or .dlt/secrets.toml"


def dbt_project() -> Path:
    """The dbt project the run script builds: ``DBT_PROJECT_DIR`` (dbt's own variable), else
    ``[orchestration] dbt_project_dir`` (relative to the working directory), else this repo.

    Raises:
        SettingsError: the folder holds no ``dbt_project.yml`` (the setting and its origin named).
    """
    explicit = os.environ.get("DBT_PROJECT_DIR")
    configured = explicit or _lookup("dbt_project_dir")
    if not configured:
        return REPO_ROOT
    project = Path(str(configured)).expanduser().resolve()
    if not (project / "dbt_project.yml").is_file():
        where = "DBT_PROJECT_DIR"
        if not explicit:
            where = f"[orchestration] dbt_project_dir in {_origin('dbt_project_dir')}"
        raise SettingsError(f"{where}: {configured!r} holds no dbt_project.yml")
    return project


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def load(retries: int | None = None, backoff_s: float | None = None) -> Settings:
    """Resolve the settings; explicit arguments (CLI flags) win over configuration.

    Raises:
        SettingsError: a value is not a number or is negative, naming the setting.
    """
    raw_retries = retries if retries is not None else _lookup("retries")
    raw_backoff = backoff_s if backoff_s is not None else _lookup("backoff_s")
    try:
        resolved_retries = DEFAULT_RETRIES if raw_retries is None else int(raw_retries)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"[orchestration] retries={raw_retries!r} is not an integer") from exc
    try:
        resolved_backoff = DEFAULT_BACKOFF_S if raw_backoff is None else float(raw_backoff)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"[orchestration] backoff_s={raw_backoff!r} is not a number") from exc
    if resolved_retries < 0 or resolved_backoff < 0:
        raise SettingsError("[orchestration] retries and backoff_s must not be negative")
    webhook = _lookup("alert_webhook_url", secret=True)
    register(str(webhook) if webhook else None)
    on_warning = _lookup("alert_on_warning")
    select = _lookup("dbt_select")
    if select is not None and not isinstance(select, str):
        raise SettingsError(
            f"[orchestration] dbt_select in {_origin('dbt_select')} must be a string "
            "(a dbt selection such as 'tag:daily +fct_orders')"
        )
    return Settings(
        retries=resolved_retries,
        backoff_s=resolved_backoff,
        alert_webhook_url=str(webhook) if webhook else None,
        alert_on_warning=_as_bool(on_warning) if on_warning is not None else False,
        dbt_project_dir=dbt_project(),
        dbt_select=(select.strip() or None) if select else None,
    )


def lock_path(local_path: Path | None) -> Path:
    """Where the run lock lives: ``ORCHESTRATION__LOCK_PATH``, else next to the DuckDB file
    (or Spark's local lake folder)."""
    explicit = os.environ.get("ORCHESTRATION__LOCK_PATH")
    if explicit:
        return Path(explicit)
    if local_path is not None:
        return local_path.parent / ".run.lock"
    return Path(DEFAULT_LOCK_PATH)
