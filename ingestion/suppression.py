"""The suppression list: erased people stay erased whatever the sources still serve.

An erasure (``python -m orchestration erase``, docs/adr/0008-erasure.md) records the keyed
hashes of every identifier of the person in ``ops.erasure_suppressions``: HMAC-SHA256 under
``ERASURE_SECRET`` of ``customer_id:<id>`` and ``email:<trimmed, lower-cased address>``. Every
load then passes the rows of each table a source declares under ``personal_data`` through
:func:`apply`: a row whose customer id or email hashes to a listed value has its personal
columns redacted before it is extracted, so incremental loads, full refreshes, reloads,
replays and backfills land the person redacted. The list holds no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestion import redact, warehouse

if TYPE_CHECKING:
    from ingestion.config import PersonalTable, SourceConfig

log = logging.getLogger(__name__)

SECRET_ENV = "ERASURE_SECRET"
SECRET_KEY = "erasure_secret"  # the same key in .dlt/secrets.toml
MIN_SECRET_CHARS = 16
SCHEMA = "ops"
TABLE = f"{SCHEMA}.erasure_suppressions"
DDL = f"""create table if not exists {TABLE} (
    subject_hash varchar(64) primary key,
    subject_kind varchar(16) not null,
    request_id varchar(64) not null,
    added_at timestamp not null
)"""
ERASED_DOMAIN = "erased.invalid"
# Whitespace and invisible marks a pasted address may carry at either end (BOM, zero widths).
_PADDING = re.compile(r"^[\s\ufeff\u200b-\u200d\u2060]+|[\s\ufeff\u200b-\u200d\u2060]+$")


# An address inside free text (JSON, CSV, a line of anything); JSON's \uXXXX escapes.
EMAIL_IN_TEXT = re.compile(r"[^\s\"'<>,;:()\[\]{}\\|/=]+@[^\s\"'<>,;:()\[\]{}\\|/=]+")
JSON_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")


class SuppressionError(RuntimeError):
    """The suppression list cannot be applied (e.g. it exists but the key is not set)."""


def secret() -> bytes | None:
    """``ERASURE_SECRET`` (or ``erasure_secret`` in .dlt/secrets.toml) as bytes, masked in logs.

    None when it is unset or too short.
    """
    value = os.environ.get(SECRET_ENV) or _from_dlt_secrets()
    if len(value) < MIN_SECRET_CHARS:
        return None
    redact.register(value)
    return value.encode()


def _from_dlt_secrets() -> str:
    """``erasure_secret`` from dlt's secret providers (.dlt/secrets.toml), or empty."""
    import dlt  # lazily: the CLI takes the run lock before it imports dlt

    return str(dlt.secrets.get(SECRET_KEY) or "")


def normalised(kind: str, value: Any) -> str:
    """An identifier as it is hashed: an email trimmed, lower-cased and in Unicode NFKC form
    (composed and decomposed accents alike), an id as an integer (a source's text id trimmed)."""
    if kind == "email":
        text = _PADDING.sub("", unicodedata.normalize("NFKC", str(value)))
        return unicodedata.normalize("NFKC", text.lower())
    try:
        return str(int(value))
    except ValueError:
        return str(value).strip()


def _unescaped(match: re.Match[str]) -> str:
    try:
        return str(json.loads(f'"{match.group(0)}"'))
    except ValueError:  # a lone surrogate: leave the text as it was
        return match.group(0)


def addresses_in(text: str) -> set[str]:
    """Every token of ``text`` that looks like an address, JSON's ``\\uXXXX`` escapes decoded."""
    found: set[str] = set()
    for variant in {text, JSON_ESCAPES.sub(_unescaped, text)}:
        found.update(token.strip(".") for token in EMAIL_IN_TEXT.findall(variant))
    return found


def keyed_hash(key: bytes, kind: str, value: Any) -> str:
    """HMAC-SHA256 of ``<kind>:<normalised value>`` under ``key``, hex."""
    message = f"{kind}:{normalised(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def placeholder_email(customer_id: Any) -> str:
    """What an erased person's email becomes: no personal data, still a well-formed address."""
    return f"erased-{customer_id}@{ERASED_DOMAIN}"


@dataclass
class Suppressions:
    """The listed hashes and the key that made them."""

    key: bytes = field(repr=False)
    hashes: frozenset[str]

    def names(self, row: dict[str, Any], table: PersonalTable) -> bool:
        """Whether ``row`` (a raw record as the source serves it) is an erased person's."""
        for kind, column in (("customer_id", table.customer_id), ("email", table.email)):
            value = _get(row, column) if column else None
            if value is None or value == "":
                continue
            try:
                if keyed_hash(self.key, kind, value) in self.hashes:
                    return True
            except ValueError:  # an id that is not an integer names nobody on the list
                continue
        return False

    def redacted(self, item: Any, table: PersonalTable) -> Any:
        """``item`` (a record, or an Arrow table or batch) with erased people's data removed."""
        if not isinstance(item, dict):
            return self._redacted_arrow(item, table)
        return self._redacted_row(item, table)

    def _redacted_row(self, row: dict[str, Any], table: PersonalTable) -> dict[str, Any]:
        if not self.names(row, table):
            return row
        for column in table.redact:
            _set(row, column, None)
        if table.email:
            _set(row, table.email, placeholder_email(_get(row, table.customer_id)))
        for nested in table.nested:
            if nested in row:
                row[nested] = []
        return row

    def _redacted_arrow(self, data: Any, table: PersonalTable) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        names = list(data.schema.names)
        columns = [c for c in (table.customer_id, table.email) if c and c in names]
        rows = zip(*(data.column(c).to_pylist() for c in columns), strict=True)
        hits = [self.names(dict(zip(columns, values, strict=True)), table) for values in rows]
        if not any(hits):
            return data
        mask = pa.array(hits)
        ids = data.column(table.customer_id).to_pylist() if table.customer_id in names else []
        for column in dict.fromkeys([*table.redact, *table.nested, table.email or ""]):
            if column not in names:
                continue
            position = names.index(column)
            kind = data.schema.field(position).type
            values = pc.if_else(mask, pa.nulls(len(hits), kind), data.column(position))
            if column == table.email and ids:
                erased = pa.array([placeholder_email(i) for i in ids], type=kind)
                values = pc.if_else(mask, erased, data.column(position))
            data = data.set_column(position, data.schema.field(position), values)
        return data


def _get(row: dict[str, Any], column: str) -> Any:
    """A column of a raw record; ``a__b`` reads the nested field ``b`` of ``a``, as dlt flattens."""
    if column in row:
        return row[column]
    head, _, rest = column.partition("__")
    inner = row.get(head) if rest else None
    return _get(inner, rest) if isinstance(inner, dict) else None


def _set(row: dict[str, Any], column: str, value: Any) -> None:
    if column in row:
        row[column] = value
        return
    head, _, rest = column.partition("__")
    inner = row.get(head) if rest else None
    if isinstance(inner, dict):
        _set(inner, rest, value)


def listed(wh: warehouse.Warehouse, sources: Iterable[SourceConfig] = ()) -> Suppressions | None:
    """The suppression list of the warehouse; None when it is empty or does not exist.

    The customer ids of ``sources``' rows that landed redacted (the placeholder address) join
    it: someone erased by an address before being loaded stays suppressed by id once the
    source serves them under another address.

    Raises:
        SuppressionError: the list holds people but ``ERASURE_SECRET`` is not set, so no row
            could be matched: loading now would bring erased people back.
    """
    if wh.kind == "spark":  # no erasure on the lake (docs/adr/0011-erasure-as-built.md)
        return None
    found = warehouse.query(
        wh,
        "select count(*) from information_schema.tables "
        "where table_schema = %s and table_name = %s",
        (SCHEMA, TABLE.split(".")[1]),
    )
    if not found or not found[0][0]:  # no list yet: nobody was erased
        return None
    rows = warehouse.query(wh, f"select subject_hash from {TABLE}")
    if not rows:
        return None
    key = secret()
    if key is None:
        raise SuppressionError(
            f"{len(rows)} erased identifier(s) must be suppressed but {SECRET_ENV} is not set "
            f"(at least {MIN_SECRET_CHARS} characters): nothing loaded"
        )
    hashes = {str(r[0]) for r in rows}
    for cfg in sources:
        for name, table in cfg.personal_data.items():
            for customer_id in _redacted_ids(wh, cfg.dataset, name, table):
                hashes.add(keyed_hash(key, "customer_id", customer_id))
    return Suppressions(key, frozenset(hashes))


def _redacted_ids(
    wh: warehouse.Warehouse, dataset: str, name: str, table: PersonalTable
) -> list[Any]:
    """Customer ids of ``dataset.name``'s rows whose address is the erasure's placeholder."""
    if not table.email:
        return []
    found = warehouse.query(
        wh,
        "select count(*) from information_schema.columns where table_schema = %s "
        "and table_name = %s and column_name in (%s, %s)",
        (dataset, name, table.customer_id, table.email),
    )
    if not found or found[0][0] != 2:  # not loaded yet
        return []
    sql = f'select "{table.customer_id}" from "{dataset}"."{name}" where "{table.email}" like %s'
    return [r[0] for r in warehouse.query(wh, sql, (f"%@{ERASED_DOMAIN}",)) if r[0] is not None]


def apply(source: Any, cfg: SourceConfig, suppressions: Suppressions | None) -> int:
    """Redact erased people in every declared personal table of ``source``; tables covered."""
    if suppressions is None or not cfg.personal_data:
        return 0
    covered = 0
    for name, table in cfg.personal_data.items():
        resource = source.resources.get(name)
        if resource is None:
            continue
        resource.add_map(_mapper(suppressions, table))
        covered += 1
    return covered


def _mapper(suppressions: Suppressions, table: PersonalTable) -> Any:
    """A one-argument map step (dlt passes a second argument to functions that take one)."""
    return lambda item: suppressions.redacted(item, table)


_active: Suppressions | None = None  # the list of the load running in this process


@contextmanager
def applied(suppressions: Suppressions | None) -> Iterator[None]:
    """Make ``suppressions`` the list :func:`withholds` reads while a load runs."""
    global _active
    _active = suppressions
    try:
        yield
    finally:
        _active = None


def withholds(raw_text: str) -> bool:
    """Whether a rejected record's text names an erased person by address (so it is not kept)."""
    if _active is None or "@" not in raw_text:
        return False
    return any(
        keyed_hash(_active.key, "email", t) in _active.hashes for t in addresses_in(raw_text)
    )
