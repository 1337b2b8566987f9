"""Small helpers for the shop-database loader."""

from __future__ import annotations


def engine_url(url: str) -> str:
    """Normalise a database URL for SQLAlchemy 2.1.

    SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; this project ships psycopg2, so the
    driver is named explicitly.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url
