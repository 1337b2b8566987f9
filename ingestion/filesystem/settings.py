"""Defaults for the event-drop loader (overridden by ``ingestion/sources.yml``)."""

DEFAULT_GLOBS = ["**/*.parquet", "**/*.jsonl.gz", "**/*.jsonl", "**/*.csv"]
DEFAULT_PARTITION_PATTERN = r"date=(\d{4}-\d{2}-\d{2})"
FILES_PER_PAGE = 20
