"""Each source type's settings come through dlt's config injection: the sources file, then the
environment and ``.dlt/*.toml`` above it. Real dlt resolution against real files, a real SQLite
database and a real HTTP server; nothing is mocked."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from ingestion import config
from ingestion.rejects import RejectCounter

REPO_ROOT = Path(__file__).resolve().parents[2]
FILE_PROVIDER = "ingestion sources file"
ENV_PROVIDER = "Environment Variables"


def _sources(tmp_path: Path, doc: dict[str, Any]) -> dict[str, config.SourceConfig]:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return config.load(path)


def _shop_db(path: Path, rows: int) -> str:
    with sqlite3.connect(path) as db:
        db.execute("create table orders (order_id integer primary key, updated_at timestamp)")
        db.executemany(
            "insert into orders values (?, ?)", [(i, "2026-11-01 10:00:00") for i in range(rows)]
        )
    return f"sqlite:///{path}"


def _batches(spec: config.SourceConfig, resource: str) -> list[int]:
    """Rows per item the resource yields (extracted without a pipeline)."""
    source = config.build_source(spec, RejectCounter())
    return [item.num_rows for item in source.resources[resource]]


def _resolved(key: str) -> tuple[str, str]:
    """(``sources.<system>.<key>`` as dlt looked it up, provider) of the last resolved ``key``."""
    from dlt.common.configuration.utils import get_resolved_traces

    trace = [t for t in get_resolved_traces().resolved_traces if t.key == key][-1]
    return ".".join([*trace.sections, key]), trace.provider_name


@pytest.fixture(autouse=True)
def _traced() -> Iterator[None]:
    from dlt.common.configuration.utils import get_resolved_traces

    get_resolved_traces().clear()
    yield


def test_a_database_source_reads_its_settings_from_the_file_and_a_sectioned_env_var_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = _shop_db(tmp_path / "declared.sqlite", rows=6)
    shop = {
        "type": "sql_database",
        "credentials": declared,
        "chunk_size": 3,
        "tables": {"orders": {"primary_key": "order_id", "cursor": "updated_at"}},
    }
    spec = _sources(tmp_path, {"shop": shop})["shop"]

    assert _batches(spec, "orders") == [3, 3]
    assert _resolved("chunk_size") == ("sources.shop.chunk_size", FILE_PROVIDER)
    assert _resolved("credentials") == ("sources.shop.credentials", FILE_PROVIDER)

    monkeypatch.setenv("SOURCES__SHOP__CHUNK_SIZE", "2")
    monkeypatch.setenv("CHUNK_SIZE", "1")  # a name without the system's section: not used
    assert _batches(spec, "orders") == [2, 2, 2]
    assert _resolved("chunk_size") == ("sources.shop.chunk_size", ENV_PROVIDER)

    monkeypatch.setenv("SOURCES__SHOP__CREDENTIALS", _shop_db(tmp_path / "env.sqlite", rows=4))
    assert _batches(spec, "orders") == [2, 2]
    assert _resolved("credentials") == ("sources.shop.credentials", ENV_PROVIDER)


def _drop(folder: Path, ids: list[str]) -> None:
    part = folder / "date=2026-11-01"
    part.mkdir(parents=True)
    rows = "".join(f"{i},2026-11-01T10:00:00Z\n" for i in ids)
    (part / "drop.csv").write_text("event_id,occurred_at\n" + rows)


def _event_ids(spec: config.SourceConfig) -> list[str]:
    source = config.build_source(spec, RejectCounter())
    tables = [t for t in source.resources["events"] if "_file_name" in t.column_names]
    return sorted(i for table in tables for i in table.column("event_id").to_pylist())


def test_a_file_source_reads_its_settings_from_the_file_and_a_sectioned_env_var_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop(tmp_path / "declared", ["a", "b"])
    _drop(tmp_path / "from_env", ["c"])
    events = {
        "type": "filesystem",
        "bucket_url": str(tmp_path / "declared"),
        "globs": ["**/*.csv"],
        "columns": {"event_id": "string", "occurred_at": "timestamptz"},
        "required": ["event_id"],
    }
    spec = _sources(tmp_path, {"events": events})["events"]
    monkeypatch.setenv("COLUMNS", "80")  # set by shells: must not replace the declared columns

    assert _event_ids(spec) == ["a", "b"]
    assert _resolved("columns") == ("sources.events.columns", FILE_PROVIDER)

    monkeypatch.setenv("SOURCES__EVENTS__BUCKET_URL", str(tmp_path / "from_env"))
    assert _event_ids(spec) == ["c"]
    assert _resolved("bucket_url") == ("sources.events.bucket_url", ENV_PROVIDER)


class _Api(BaseHTTPRequestHandler):
    """One page of customers; remembers the Authorization header of every request."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"data": [{"id": 1}], "next_cursor": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _crm(api: str, tmp_path: Path, **auth: str) -> dict[str, Any]:
    (tmp_path / "token").write_text("from-the-file\n")
    return {
        "type": "rest_api",
        "token": f"file:{tmp_path / 'token'}",
        "client": {
            "base_url": api,
            "auth": {"type": "bearer", **auth},
            "paginator": "single_page",
        },
        "resources": [{"name": "customers", "endpoint": {"data_selector": "data"}}],
    }


def _bearer(spec: config.SourceConfig) -> str:
    source = config.build_source(spec, RejectCounter())
    assert list(source.resources["customers"]) == [{"id": 1}]
    return _Api.seen[-1]


def test_a_rest_source_reads_its_token_from_the_file_and_the_injected_secret_wins(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _sources(tmp_path, {"crm": _crm(api, tmp_path)})["crm"]
    monkeypatch.setenv("TOKEN", "unsectioned")  # a name without the system's section: not used

    assert _bearer(spec) == "Bearer from-the-file"
    assert _resolved("token") == ("sources.crm.token", FILE_PROVIDER)

    monkeypatch.setenv("SOURCES__CRM__TOKEN", "from-the-env")
    assert _bearer(spec) == "Bearer from-the-env"
    assert _resolved("token") == ("sources.crm.token", ENV_PROVIDER)


def test_dlt_toml_files_win_over_the_sources_file(tmp_path: Path) -> None:
    """``.dlt/config.toml`` and ``.dlt/secrets.toml`` of the working directory, read by dlt."""
    db = _shop_db(tmp_path / "shop.sqlite", rows=6)
    shop = {"type": "sql_database", "credentials": "sqlite:///missing.sqlite", "chunk_size": 6}
    shop["tables"] = {"orders": {"primary_key": "order_id"}}
    _sources(tmp_path, {"shop": shop})
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[sources.shop]\nchunk_size = 4\n")
    (tmp_path / ".dlt" / "secrets.toml").write_text(f'[sources.shop]\ncredentials = "{db}"\n')
    code = (
        "from ingestion import config; from ingestion.rejects import RejectCounter\n"
        "source = config.build_source(config.load()['shop'], RejectCounter())\n"
        "print([t.num_rows for t in source.resources['orders']])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(INGESTION_SOURCES=str(tmp_path / "sources.yml"), PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[4, 2]"
