"""Defaults for the shop-database loader (overridden by ``ingestion/sources.yml``)."""

DEFAULT_BACKEND = "pyarrow"
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_LAG_SECONDS = 3600.0
