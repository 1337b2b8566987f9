"""API keys for the secrets battery: generated values, where a key travels and where it comes
from, a CRM-only sources file declaring it, the demo API that takes it, DuckDB as text.

A key travels in the URL query (dlt's ``api_key`` auth, or an endpoint parameter), in a header
(the auth, or a declared header) or in the URL path (``/k/<key>/``); it comes from a ``file:``
reference, a ``secret:`` reference (an environment variable whose name looks like no secret)
or dlt's injection of the source's ``api_key`` argument; a run loads, gets 401 or meets a page
whose error text names the key. Values mix letters with regex and URL metacharacters.
"""

from __future__ import annotations

import json
import random
import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import yaml

from demo.faults import ApiFaults
from tests.support.paths import SOURCES_FILE

PLACEMENTS = ("query, auth", "query, param", "header, auth", "header, param", "path")
ORIGINS = ("file", "secret", "injected")
OUTCOMES = ("loads", "401", "error text")
LOG_LEVELS = ("WARNING", "INFO", "DEBUG")
META = ".^$*+?()[]{}|\\"
ANYWHERE = string.ascii_letters + string.digits + META + "/&=%#~!@:;,'\" "
IN_PATH = string.ascii_letters + string.digits + "-._~!$'()*+,;=@:"  # a path segment's own
# The fast slice: the case (a wrong key in the query, on PostgreSQL; its key has no
# braces, which once broke the declaration before the key was sent) and an error text naming the
# key in DuckDB at debug logging; `make faults` adds generated ones.
FIXED = (
    ("query, param", "secret", "401", "WARNING", "postgres"),
    ("query, param", "secret", "error text", "DEBUG", "duckdb"),
)


@dataclass(frozen=True)
class KeyScenario:
    """One API key: where it travels and comes from, what the run meets, and its value."""

    placement: str
    origin: str
    outcome: str
    log_level: str
    warehouse: str
    key: str

    @property
    def name(self) -> str:
        return (
            f"API key in the {self.placement} from {self.origin}, {self.outcome} "
            f"({self.log_level}, {self.warehouse})"
        )


def key_value(rng: random.Random, placement: str, braces: bool = True) -> str:
    """A random key with metacharacters inside (never at the ends: files and headers strip)."""
    alphabet = IN_PATH if placement == "path" else ANYWHERE
    if placement.startswith("query"):
        alphabet += "é"
    if not braces:
        alphabet = alphabet.replace("{", "").replace("}", "")
    middle = [rng.choice(alphabet) for _ in range(rng.randint(12, 32))]
    middle += rng.sample([c for c in alphabet if not c.isalnum()], 3)
    rng.shuffle(middle)
    edge = string.ascii_letters + string.digits
    return rng.choice(edge) + "".join(middle) + rng.choice(edge)


def scenarios(count: int) -> list[KeyScenario]:
    """``count`` scenarios: the fixed ones first, then placements and origins in turn, the rest
    seeded random."""
    found = []
    for index in range(count):
        rng = random.Random(16_000 + index)
        if index < len(FIXED):
            placement, origin, outcome, level, warehouse = FIXED[index]
        else:
            placement = PLACEMENTS[index % len(PLACEMENTS)]  # each in turn, the rest drawn
            origin, outcome = ORIGINS[index % len(ORIGINS)], rng.choice(OUTCOMES)
            level, warehouse = rng.choice(LOG_LEVELS), rng.choice(("duckdb", "postgres"))
        if placement == "path":
            origin = "env"  # `${CRM_API_KEY}` expanded into the base URL
        elif origin == "injected" and not placement.endswith("auth"):
            origin = "secret"  # dlt injects the `api_key` argument into the auth only
        key = key_value(rng, placement, braces=index != 0)
        found.append(KeyScenario(placement, origin, outcome, level, warehouse, key))
    return found


def declare(scenario: KeyScenario, folder: Path, keys: Path) -> tuple[Path, dict[str, str]]:
    """The CRM alone declared with the key as the scenario says; returns the sources file and
    the environment the key needs (``keys`` holds key files, outside the scanned folders)."""
    entry = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))["crm"]
    entry.pop("token", None)
    entry["demo"] = False
    entry["resource_defaults"]["endpoint"]["params"]["limit"] = 3
    client = entry["client"]
    client.pop("auth", None)
    env: dict[str, str] = {}
    reference = ""
    if scenario.origin == "file":
        keys.mkdir(parents=True, exist_ok=True)
        (keys / "crm_key").write_text(scenario.key + "\n", encoding="utf-8")
        reference = f"file:{keys / 'crm_key'}"
    elif scenario.origin == "secret":
        env["SOURCES__CRM__ACCESS_CODE"] = scenario.key
        reference = "secret:sources.crm.access_code"
    elif scenario.origin == "injected":
        env["SOURCES__CRM__API_KEY"] = scenario.key
    where, how = scenario.placement.split(", ") if ", " in scenario.placement else ("path", "")
    if how == "auth":
        location, name = ("query", "api_key") if where == "query" else ("header", "X-API-Key")
        client["auth"] = {"type": "api_key", "location": location, "name": name}
        if reference:
            client["auth"]["api_key"] = reference
    elif where == "query":
        entry["resource_defaults"]["endpoint"]["params"]["api_key"] = reference
    elif where == "header":
        client["headers"] = {"X-API-Key": reference}
    else:
        env["CRM_API_KEY"] = scenario.key
        client["base_url"] = "${DEMO_API_URL}/k/${CRM_API_KEY}/crm/v1/"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sources.yml"
    path.write_text(yaml.safe_dump({"crm": entry}, sort_keys=False), encoding="utf-8")
    return path, env


def api_folder(scenario: KeyScenario, demo_dir: Path, folder: Path) -> Path:
    """The demo API's data with the token it accepts: the key, or another one for a 401."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_dir / "api.sqlite", folder / "api.sqlite")
    accepted = scenario.key if scenario.outcome != "401" else "another-" + scenario.key[::-1]
    (folder / "api_token").write_text(accepted, encoding="utf-8")
    return folder


def faults(scenario: KeyScenario) -> ApiFaults:
    """Errors name the key given; an `error text` run meets such an error on its second page."""
    missing = 1 if scenario.outcome == "error text" else None
    return ApiFaults(echo_credentials=True, missing_data_after=missing)


def forms(value: str) -> set[str]:
    """How a value is written raw, in a URL (either quoting) and inside a JSON string."""
    return {
        value,
        quote(value, safe=""),
        quote(value, safe="/"),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


def duckdb_text(path: Path) -> str:
    """Every value of every table in a DuckDB file, as text (JSON values as JSON)."""
    import duckdb

    if not path.exists():
        return ""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        chunks = []
        for schema, table in tables:
            for row in conn.execute(f'select * from "{schema}"."{table}"').fetchall():
                chunks.extend(as_text(v) for v in row)
        return "\n".join(chunks)
    finally:
        conn.close()


def as_text(value: Any) -> str:
    """A warehouse value as text: bytes decoded, structures as JSON."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
