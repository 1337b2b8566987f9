"""``secret:<key>`` and ``file:<path>`` references resolve, and a secret never shows in an error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestion import config
from ingestion.rejects import RejectCounter

REPO_ROOT = Path(__file__).resolve().parents[2]


def _secret() -> str:
    return f"s3cr3t-{uuid.uuid4().hex}"


def _load(tmp_path: Path, doc: dict[str, Any]) -> dict[str, config.SourceConfig]:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config.load(path)


def _shop(credentials: str) -> dict[str, Any]:
    return {
        "type": "sql_database",
        "credentials": credentials,
        "tables": {"orders": {"primary_key": "order_id"}},
    }


def _crm(token: str, **resource: Any) -> dict[str, Any]:
    return {
        "type": "rest_api",
        "token": token,
        "client": {"base_url": "http://127.0.0.1:9/", "auth": {"type": "bearer"}},
        "resources": [{"name": "customers", **resource}],
    }


def test_a_file_reference_reads_the_stripped_file_and_a_secret_reference_reads_dlt_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secret()
    (tmp_path / "mounted").write_text(f"  {secret}\n")
    monkeypatch.setenv("SOURCES__CRM__OTHER_TOKEN", "from-env")

    assert config.resolve_secret(f"file:{tmp_path / 'mounted'}") == secret
    assert config.resolve_secret("secret:sources.crm.other_token") == "from-env"
    assert config.resolve_secret("secret:sources.crm.unset", default="d") == "d"
    assert config.resolve_secrets({"a": [f"file:{tmp_path / 'mounted'}"], "n": 1}) == {
        "a": [secret],
        "n": 1,
    }


def test_a_secret_reference_in_the_file_names_dlt_secrets_not_the_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`token: secret:sources.crm.token` in the file is the file's value of that very key: it must
    be read from the environment or .dlt/secrets.toml, not from the file again."""
    spec = _load(tmp_path, {"crm": _crm("secret:sources.crm.token")})["crm"]

    with pytest.raises(config.SourceConfigError, match="bearer token is not set"):
        config.build_source(spec, RejectCounter())

    monkeypatch.setenv("SOURCES__CRM__TOKEN", "from-env")
    source = config.build_source(spec, RejectCounter())
    assert "customers" in source.resources


def test_a_missing_token_file_is_named_and_an_injected_token_makes_it_unneeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _load(tmp_path, {"crm": _crm(f"file:{tmp_path / 'no_such_token'}")})["crm"]

    with pytest.raises(config.SourceConfigError, match="no_such_token") as caught:
        config.build_source(spec, RejectCounter())
    assert "crm.token" in str(caught.value)

    monkeypatch.setenv("SOURCES__CRM__TOKEN", "injected")
    assert "customers" in config.build_source(spec, RejectCounter()).resources


def _message(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    """The error as a user sees it, with everything it chains to."""
    parts, current = [], exc_info.value
    while current is not None:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def test_a_secret_never_shows_in_an_error_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secret()
    token_file = tmp_path / "token"
    token_file.write_text(secret)
    cases: dict[str, str] = {}

    # an injected database URL that is not a URL
    monkeypatch.setenv("SOURCES__SHOP__CREDENTIALS", f"postgresql//loader:{secret}@db/shop")
    spec = _load(tmp_path, {"shop": _shop("sqlite:///x.sqlite")})["shop"]
    with pytest.raises(config.SourceConfigError) as caught:
        config.build_source(spec, RejectCounter())
    cases["database URL from the env"] = _message(caught)
    monkeypatch.delenv("SOURCES__SHOP__CREDENTIALS")

    # dlt refuses a REST declaration while the token from the file is already filled in
    bad_rest = _crm(f"file:{token_file}", endpoint={"path": "customers", "pathh": "typo"})
    spec = _load(tmp_path, {"crm": bad_rest})["crm"]
    with pytest.raises(config.SourceConfigError) as caught:
        config.build_source(spec, RejectCounter())
    cases["dlt's check of the REST pieces"] = _message(caught)

    # a token file that is not text
    token_file.write_bytes(b"\xff\xfe" + secret.encode())
    spec = _load(tmp_path, {"crm": _crm(f"file:{token_file}")})["crm"]
    with pytest.raises(config.SourceConfigError) as caught:
        config.build_source(spec, RejectCounter())
    cases["unreadable token file"] = _message(caught)

    # a secret written into the file by mistake, in a wrongly typed place or unparsable
    for name, text in {
        "wrong type": f"shop: {{type: sql_database, chunk_size: {secret}, tables: {{t: {{}}}}}}",
        "YAML error": f"shop: {{type: sql_database, credentials: '{secret}\n",
    }.items():
        (tmp_path / "typo.yml").write_text(text)
        with pytest.raises(config.SourceConfigError) as caught:
            config.load(tmp_path / "typo.yml")
        cases[name] = _message(caught)

    leaked = [case for case, message in cases.items() if secret in message]
    assert not leaked, {case: cases[case] for case in leaked}
    assert "shop.credentials" in cases["database URL from the env"]
    assert "pathh" in cases["dlt's check of the REST pieces"]
    assert "shop.chunk_size" in cases["wrong type"]


def test_a_wrong_database_url_secret_fails_the_run_without_showing_it(tmp_path: Path) -> None:
    secret = _secret()
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"shop": _shop("sqlite:///x.sqlite")}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        INGESTION_SOURCES=str(path),
        SOURCES__SHOP__CREDENTIALS=f"postgresql//loader:{secret}@db/shop",
        WAREHOUSE="duckdb",
        DUCKDB_PATH=str(tmp_path / "wh.duckdb"),
        DLT_DATA_DIR=str(tmp_path / "dlt"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion", "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 2, proc.stderr  # a setting dlt checks: refused before any source ran
    assert "shop.credentials: not a SQLAlchemy database URL" in proc.stderr
    assert secret not in proc.stdout + proc.stderr
