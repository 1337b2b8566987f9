"""The dbt step's settings (which project, which selection) and which failures it retries.

The failure texts are dbt 1.11's own, taken from real builds (DuckDB and PostgreSQL); the
integration tests in tests/integration/orchestration/test_dbt_retries.py cause them for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import settings
from orchestration.dbt_failures import retry_can_help, transient_kind

NOT_RETRIED = {
    "undefined macro": (
        None,
        [("error", "Compilation Error in model bad (models/bad.sql)\n  'no_such_macro' is "
                   "undefined. This can happen when calling a macro that does not exist.")],
    ),
    "a column the model's SQL names wrongly": (
        None,
        [("error", 'Runtime Error in model bad (models/bad.sql)\n  Binder Error: Referenced '
                   'column "no_such_column" not found in FROM clause!')],
    ),
    "division by zero": (
        None, [("error", "Database Error in model bad (models/bad.sql)\n  division by zero")]
    ),
    "a failed test": (None, [("fail", "Got 1 result, configured to fail if != 0")]),
    "a ref to nothing": (
        "TargetNotFoundError: Compilation Error Model 'model.exp.bad' (models/bad.sql) depends "
        "on a node named 'nope' which was not found",
        [],
    ),
    "a package not installed": (
        'UninstalledPackagesFoundError: Compilation Error dbt found 1 package(s) specified in '
        'packages.yml, but only 0 package(s) installed in dbt_packages. Run "dbt deps" to '
        "install package dependencies.",
        [],
    ),
    "a YAML error": (
        "YamlLoadError: Parsing Error Error reading exp: bad.yml - Runtime Error Syntax error "
        "near line 4",
        [],
    ),
    "an unknown role": (
        'FailedToConnectError: Database Error connection to server at "127.0.0.1", port 5432 '
        'failed: FATAL: role "nobody" does not exist',
        [],
    ),
    "a lock beside a compile error": (
        None,
        [
            ("error", "Compilation Error in model a (models/a.sql)\n  'x' is undefined."),
            ("error", "Database Error in model b\n  canceling statement due to lock timeout"),
        ],
    ),
}  # fmt: skip

RETRIED = {
    "a refused connection": (
        'FailedToConnectError: Database Error connection to server at "127.0.0.1", port 5999 '
        "failed: Connection refused Is the server running on that host and accepting TCP/IP "
        "connections?",
        [],
    ),
    "a DuckDB file held by another process": (
        'IOException: IO Error: Could not set lock on file "/tmp/w.duckdb": Conflicting lock is '
        "held in /usr/bin/python3 (PID 28261).",
        [],
    ),
    "a killed backend": (
        None,
        [("error", "Database Error in model bad (models/bad.sql)\n  server closed the "
                   "connection unexpectedly\n  \tThis probably means the server terminated "
                   "abnormally")],
    ),
    "a lock timeout": (
        None,
        [("error", "Database Error in model bad (models/bad.sql)\n  canceling statement due "
                   "to lock timeout")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(NOT_RETRIED))
def test_a_failure_a_retry_would_repeat_is_not_retried(case: str) -> None:
    exception, failures = NOT_RETRIED[case]

    assert not retry_can_help([exception] if exception else [], failures)


@pytest.mark.parametrize("case", sorted(RETRIED))
def test_a_failure_of_the_outside_world_is_retried(case: str) -> None:
    exception, failures = RETRIED[case]

    assert retry_can_help([exception] if exception else [], failures)


def test_transient_failures_are_named_by_kind() -> None:
    assert transient_kind("connection to server failed: Connection refused") == "connection"
    assert transient_kind("IO Error: Could not set lock on file") == "lock"
    assert transient_kind("terminating connection due to administrator command") == (
        "killed connection"
    )
    assert transient_kind("Binder Error: column not found") is None


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    return folder


def test_the_dbt_project_and_selection_come_from_the_settings_and_dbt_project_dir_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, dbts_own = _project(tmp_path / "ours"), _project(tmp_path / "dbts")
    monkeypatch.delenv("DBT_PROJECT_DIR", raising=False)
    monkeypatch.setenv("ORCHESTRATION__DBT_PROJECT_DIR", str(configured))
    monkeypatch.setenv("ORCHESTRATION__DBT_SELECT", "tag:daily +fct_orders")

    from_settings = settings.load()
    monkeypatch.setenv("DBT_PROJECT_DIR", str(dbts_own))
    from_dbt_variable = settings.load()

    assert from_settings.dbt_project_dir == configured.resolve()
    assert from_settings.dbt_select == "tag:daily +fct_orders"
    assert from_dbt_variable.dbt_project_dir == dbts_own.resolve()


def test_without_settings_the_run_script_builds_this_repos_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DBT_PROJECT_DIR", raising=False)
    monkeypatch.delenv("ORCHESTRATION__DBT_PROJECT_DIR", raising=False)
    monkeypatch.delenv("ORCHESTRATION__DBT_SELECT", raising=False)

    loaded = settings.load()

    assert loaded.dbt_project_dir == settings.REPO_ROOT
    assert loaded.dbt_select is None


def test_a_project_folder_without_dbt_project_yml_is_a_setting_error_naming_key_and_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_PROJECT_DIR", raising=False)
    monkeypatch.setenv("ORCHESTRATION__DBT_PROJECT_DIR", str(tmp_path))

    with pytest.raises(settings.SettingsError) as raised:
        settings.load()

    message = str(raised.value)
    assert "[orchestration] dbt_project_dir" in message
    assert "ORCHESTRATION__DBT_PROJECT_DIR" in message and "no dbt_project.yml" in message


def test_the_ops_run_uses_dbt_profiles_dir_only_when_it_has_this_repos_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import dbt_step, ops_models

    theirs = tmp_path / "profiles"
    theirs.mkdir()
    (theirs / "profiles.yml").write_text("helpdesk:\n  target: dev\n")
    monkeypatch.setenv("DBT_PROFILES_DIR", str(theirs))

    assert dbt_step.profiles_dir(tmp_path) == theirs  # the project's own build
    assert dbt_step.profiles_dir(settings.REPO_ROOT, ops_models.PROFILE) == settings.REPO_ROOT
    (theirs / "profiles.yml").write_text("helpdesk: {}\ncustomer_analytics: {}\n")
    assert dbt_step.profiles_dir(settings.REPO_ROOT, ops_models.PROFILE) == theirs
