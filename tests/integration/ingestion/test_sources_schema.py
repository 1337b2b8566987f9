"""sources.yml is checked against each type's schema before anything runs or imports dlt.

Variants of the shipped file are generated over its keys and kinds of bad value (a wrong type, an
unknown key, a missing required key, a bad enum value), one fault each, then seeded pairs of
faults. Each must be refused by the CLI with exit 2, naming the file, the source and the key,
with dlt never imported.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ingestion import config
from tests.support.paths import REPO_ROOT

SHIPPED: dict[str, Any] = yaml.safe_load(config.DEFAULT_SOURCES_FILE.read_text())

# kinds of setting -> values of the wrong type or out of range (never a valid one)
BAD: dict[str, list[Any]] = {
    "bool": ["yes", 1, [True]],
    "text": [5, ["x"], {"a": "b"}],
    "count": ["many", 1.5, 0, -3, True],
    "seconds": ["soon", -1, [30]],
    "share": ["half", -0.1, 1.5, True],
    "backend": ["arrow", 3],
    "kind": ["integer", "INT64", 7],
    "texts": ["**/*.csv", {"a": 1}, [5]],
    "nonempty texts": ["**/*.csv", [], [5]],
    "names": [5, [], [1]],
    "mapping": [[], "x", 3],
    "nonempty mapping": [[], "x", {}],
    "pattern": ["date=(\\d{4}", "no_group", 5],
    "credentials": [5, ["x"]],
    "declared columns": [["not_declared"]],
}

# (source, key path in the file, kind of setting)
SETTINGS: list[tuple[str, tuple[Any, ...], str]] = [
    ("crm", ("enabled",), "bool"),
    ("crm", ("demo",), "bool"),
    ("crm", ("dataset",), "text"),
    ("crm", ("time_limit_s",), "seconds"),
    ("crm", ("token",), "text"),
    ("crm", ("client",), "mapping"),
    ("crm", ("resource_defaults",), "mapping"),
    ("crm", ("resources",), "nonempty mapping"),
    ("crm", ("resources", 0, "name"), "text"),
    ("crm", ("resources", 1, "materialize"), "bool"),
    ("crm", ("personal_data",), "mapping"),
    ("crm", ("personal_data", "customers", "customer_id"), "text"),
    ("crm", ("personal_data", "customers", "redact"), "texts"),
    ("fx", ("resources", 0, "endpoint", "copy_body_fields"), "texts"),
    ("fx", ("resources", 0, "endpoint", "end_param"), "text"),
    ("shop", ("credentials",), "text"),
    ("shop", ("backend",), "backend"),
    ("shop", ("chunk_size",), "count"),
    ("shop", ("lag_seconds",), "seconds"),
    ("shop", ("tables",), "nonempty mapping"),
    ("shop", ("tables", "orders", "primary_key"), "names"),
    ("shop", ("tables", "orders", "cursor"), "text"),
    ("shop", ("tables", "orders", "lag_seconds"), "seconds"),
    ("shop", ("max_delete_share",), "share"),
    ("shop", ("tables", "orders", "max_delete_share"), "share"),
    ("shop", ("tables", "orders", "detect_hard_deletes"), "bool"),
    ("shop", ("tables", "orders", "schema"), "text"),
    ("shop", ("tables", "orders", "resource_name"), "text"),
    ("events", ("bucket_url",), "text"),
    ("events", ("credentials",), "credentials"),
    ("events", ("table",), "text"),
    ("events", ("primary_key",), "names"),
    ("events", ("globs",), "nonempty texts"),
    ("events", ("partition_pattern",), "pattern"),
    ("events", ("batch_rows",), "count"),
    ("events", ("columns",), "nonempty mapping"),
    ("events", ("columns", "device"), "kind"),
    ("events", ("required",), "declared columns"),
]
UNKNOWN_KEYS = [
    ("crm", ("clinet",)),
    ("crm", ("enabeld",)),
    ("crm", ("personal_data", "customers", "redcat")),
    ("fx", ("resourcez",)),
    ("shop", ("chunk_sise",)),
    ("shop", ("tables", "orders", "primarykey")),
    ("events", ("bucketurl",)),
]
REQUIRED_KEYS = [
    ("crm", ("type",)),
    ("crm", ("client",)),
    ("crm", ("personal_data", "customers", "customer_id")),
    ("fx", ("resources",)),
    ("shop", ("tables",)),
    ("events", ("bucket_url",)),
    ("events", ("columns",)),
]
BAD_TYPES = ["rest", "postgres", 5]

Fault = tuple[str, str, Callable[[dict[str, Any]], None]]  # (source, key as named, change)


def _name(source: str, path: tuple[Any, ...]) -> str:
    return source + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _parent(doc: dict[str, Any], source: str, path: tuple[Any, ...]) -> Any:
    node = doc[source]
    for part in path[:-1]:
        node = node[part]
    return node


def _setter(source: str, path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        _parent(doc, source, path)[path[-1]] = value

    return change


def _deleter(source: str, path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        del _parent(doc, source, path)[path[-1]]

    return change


def faults() -> list[Fault]:
    """Every single fault: settings x bad values, unknown keys, missing keys, bad types."""
    found: list[Fault] = []
    for source, path, kind in SETTINGS:
        found += [(source, _name(source, path), _setter(source, path, v)) for v in BAD[kind]]
    found += [(s, _name(s, p), _setter(s, p, 1)) for s, p in UNKNOWN_KEYS]
    found += [(s, _name(s, p), _deleter(s, p)) for s, p in REQUIRED_KEYS]
    found += [("fx", "fx.type", _setter("fx", ("type",), t)) for t in BAD_TYPES]
    found.append(("shop", "shop", lambda doc: doc.update(shop="not a mapping")))
    return found


def _variants(tmp_path: Path) -> list[dict[str, Any]]:
    """Files with one fault each, then seeded pairs of faults in two different sources."""
    single = faults()
    pairs = []
    rng = random.Random(20261203)
    while len(pairs) < 100:
        first, second = rng.sample(single, 2)
        if first[0] != second[0]:
            pairs.append((first, second))
    variants = []
    for number, combo in enumerate([(f,) for f in single] + pairs):
        doc = copy.deepcopy(SHIPPED)
        for _, _, change in combo:
            change(doc)
        path = tmp_path / f"variant_{number}.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        variants.append({"file": str(path), "keys": [key for _, key, _ in combo]})
    return variants


CLI_IN_ONE_PROCESS = """
import contextlib, io, json, os, sys
from ingestion.__main__ import main
results = []
for variant in json.load(sys.stdin):
    os.environ["INGESTION_SOURCES"] = variant["file"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--quiet"])
    results.append({"code": code, "stderr": err.getvalue()})
print(json.dumps({"results": results, "dlt": [m for m in sys.modules if m.split(".")[0] == "dlt"]}))
"""


def _refusal_problems(variant: dict[str, Any], code: int, output: str) -> list[str]:
    missing = [variant["file"], *variant["keys"]]
    lacking = [text for text in missing if text not in output]
    problems = [] if code == 2 else [f"exit {code}"]
    if lacking:
        problems.append(f"does not name {lacking}")
    return problems


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(WAREHOUSE="duckdb", DUCKDB_PATH=str(tmp_path / "wh.duckdb"))
    return env


def test_the_shipped_sources_file_passes_the_schema() -> None:
    assert sorted(config.load()) == ["crm", "events", "fx", "shop"]


def test_every_broken_variant_is_refused_with_exit_2_naming_file_source_and_key(
    tmp_path: Path,
) -> None:
    variants = _variants(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", CLI_IN_ONE_PROCESS],
        input=json.dumps(variants),
        cwd=REPO_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])

    failures = {}
    for variant, result in zip(variants, report["results"], strict=True):
        problems = _refusal_problems(variant, result["code"], result["stderr"])
        if problems:
            failures[", ".join(variant["keys"])] = (problems, result["stderr"][-400:])
    assert len(variants) > 200
    assert not failures, list(failures.items())[:5]
    assert report["dlt"] == [], "dlt was imported before the refusal"
    assert not (tmp_path / "wh.duckdb").exists()


def test_the_module_cli_refuses_a_broken_file_before_importing_dlt(tmp_path: Path) -> None:
    """`python -m ingestion` itself, its imports listed by `-X importtime`."""
    variants = random.Random(7).sample(_variants(tmp_path), 4)
    for variant in variants:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "ingestion", "--quiet"],
            cwd=REPO_ROOT,
            env={**_env(tmp_path), "INGESTION_SOURCES": variant["file"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
        assert _refusal_problems(variant, proc.returncode, proc.stderr) == [], proc.stderr[-2000:]
        assert "pydantic" in imported  # the listing is complete
        assert [m for m in imported if m.split(".")[0] == "dlt"] == []
