"""Small helpers for the database source type."""

from __future__ import annotations

from ingestion.typed_settings import SourceConfigError


def engine_url(url: object, source: str = "") -> str:
    """A database URL as SQLAlchemy 2.1 should read it.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; this project ships psycopg2, so the
    driver is named explicitly.

    Raises:
        SourceConfigError: the value is not a URL (the message never holds the value).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    where = f"{source}.credentials" if source else "credentials"
    if not isinstance(url, str) or not url:
        raise SourceConfigError(f"{where}: the database URL is not set")
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    try:
        make_url(url)
    except ArgumentError:
        raise SourceConfigError(f"{where}: not a SQLAlchemy database URL (value hidden)") from None
    return url
