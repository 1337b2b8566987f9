"""Decode the messages of PostgreSQL's ``pgoutput`` logical decoding plugin (protocol 1).

Only what a change table needs: Begin, Commit, Relation, Insert, Update, Delete, plus Truncate,
Origin and Type so a stream holding them is read, not misread. Values stay as PostgreSQL's
text output (``pgtypes.py`` types them). The layout of each message is PostgreSQL's "Logical
Replication Message Formats" page.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# pgoutput's timestamps count microseconds from 2000-01-01 UTC
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Unchanged:
    """A TOASTed value the update did not touch: pgoutput sends a marker, not the value."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()
Value = str | None | Unchanged


class DecodeError(ValueError):
    """A message that is not what protocol 1 of pgoutput sends."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int  # the LSN of the transaction's commit record
    committed_at: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int  # just past the commit record: where a reader resumes after this transaction
    committed_at: datetime


@dataclass(frozen=True)
class Change:
    """An insert, update or delete; ``old`` is the key (or full row) an update/delete names."""

    op: str  # "insert" | "update" | "delete"
    relation_oid: int
    new: tuple[Value, ...] | None = None
    old: tuple[Value, ...] | None = None


@dataclass(frozen=True)
class Truncate:
    relation_oids: tuple[int, ...]


@dataclass(frozen=True)
class Other:
    """A message a change table does not need (Origin, Type, logical Message)."""

    kind: str


Message = Relation | Begin | Commit | Change | Truncate | Other


@dataclass
class _Reader:
    data: bytes
    pos: int = 0
    _structs: dict[str, struct.Struct] = field(default_factory=dict)

    def take(self, fmt: str) -> int:
        unpack = self._structs.setdefault(fmt, struct.Struct("!" + fmt))
        if self.pos + unpack.size > len(self.data):
            raise DecodeError(f"message ends at byte {len(self.data)}, wanted {fmt} at {self.pos}")
        (value,) = unpack.unpack_from(self.data, self.pos)
        self.pos += unpack.size
        return int(value)

    def byte(self) -> str:
        return chr(self.take("B"))

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError(f"unterminated string at byte {self.pos}")
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"value of {n} bytes runs past the message at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def timestamp(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.take("q"))

    def tuple_data(self) -> tuple[Value, ...]:
        values: list[Value] = []
        for _ in range(self.take("H")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind == "t":
                values.append(self.raw(self.take("I")).decode("utf-8"))
            else:  # "b" (binary) is only sent when asked for; this reader never asks
                raise DecodeError(f"tuple value of kind {kind!r} is not supported")
        return tuple(values)


def decode(payload: bytes) -> Message:
    """One pgoutput message as a typed record.

    Raises:
        DecodeError: the payload is truncated or of a kind protocol 1 does not send.
    """
    r = _Reader(bytes(payload))
    kind = r.byte()
    if kind == "B":
        return Begin(final_lsn=r.take("Q"), committed_at=r.timestamp(), xid=r.take("I"))
    if kind == "C":
        r.take("B")  # flags, unused
        return Commit(commit_lsn=r.take("Q"), end_lsn=r.take("Q"), committed_at=r.timestamp())
    if kind == "R":
        oid, namespace, name = r.take("I"), r.string(), r.string()
        identity = r.byte()
        columns = []
        for _ in range(r.take("H")):
            flags = r.take("B")
            columns.append(Column(r.string(), r.take("I"), r.take("i"), bool(flags & 1)))
        return Relation(oid, namespace, name, identity, tuple(columns))
    if kind == "I":
        oid = r.take("I")
        if r.byte() != "N":
            raise DecodeError("insert without its new tuple")
        return Change("insert", oid, new=r.tuple_data())
    if kind == "U":
        oid = r.take("I")
        marker, old = r.byte(), None
        if marker in ("K", "O"):
            old = r.tuple_data()
            marker = r.byte()
        if marker != "N":
            raise DecodeError("update without its new tuple")
        return Change("update", oid, new=r.tuple_data(), old=old)
    if kind == "D":
        oid = r.take("I")
        if r.byte() not in ("K", "O"):
            raise DecodeError("delete without the key of the deleted row")
        return Change("delete", oid, old=r.tuple_data())
    if kind == "T":
        count = r.take("I")
        r.take("B")  # options (cascade, restart identity), unused
        return Truncate(tuple(r.take("I") for _ in range(count)))
    if kind in ("O", "Y", "M"):
        return Other(kind)
    raise DecodeError(f"unknown pgoutput message kind {kind!r}")


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    """PostgreSQL's ``16/B374D848`` as a number."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)
