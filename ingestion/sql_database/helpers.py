"""Small helpers for the database source type."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from ingestion.typed_settings import SourceConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

SQLITE_IN_MEMORY = ("", ":memory:")


class DatabaseFileMissing(FileNotFoundError):
    """A SQLite source's database file does not exist (an unmounted share, a wrong path)."""


class TableMissing(LookupError):
    """A declared table does not exist in the source database."""


def engine_url(url: object, source: str = "") -> str:
    """A database URL as SQLAlchemy 2.1 should read it; a SQLite file is opened read-only.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; this project ships psycopg2, so the
    driver is named explicitly. SQLite creates a missing database file when it opens one, so a
    SQLite file is checked first and then opened in read-only URI mode (``mode=ro``).

    Raises:
        SourceConfigError: the value is not a URL (the message never holds the value).
        DatabaseFileMissing: a SQLite database file does not exist (the path is named).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    where = f"{source}.credentials" if source else "credentials"
    if not isinstance(url, str) or not url:
        raise SourceConfigError(f"{where}: the database URL is not set")
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceConfigError(f"{where}: not a SQLAlchemy database URL (value hidden)") from None
    if parsed.get_backend_name() == "sqlite":
        return read_only_sqlite(parsed, where)
    return url


def read_only_sqlite(url: URL, where: str = "credentials") -> str:
    """A SQLite URL opening its existing file read-only (in-memory databases as they are).

    Raises:
        DatabaseFileMissing: the file does not exist or is not a file.
    """
    database = url.database or ""
    if database in SQLITE_IN_MEMORY or database.startswith("file::memory:"):
        return url.render_as_string(hide_password=False)
    is_uri = database.startswith("file:")
    path = unquote(database[len("file:") :].split("?", 1)[0]) if is_uri else database
    if not Path(path).is_file():
        raise DatabaseFileMissing(
            f"{where}: the SQLite database file {path} does not exist; a source database is "
            "opened read-only and never created (is the file's share mounted?)"
        )
    query = {**url.query, "mode": "ro", "uri": "true"}
    file_uri = database if is_uri else "file:" + quote(path)
    return url.set(database=file_uri, query=query).render_as_string(hide_password=False)
