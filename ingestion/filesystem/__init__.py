"""The file-drop source type: files in a folder or bucket, read by format into Arrow.

``source.py`` holds the ``@dlt.source`` function. ``listing.py`` lists the landing zone once and
opens its files safely, ``registry.py`` keeps the files taken (in the raw dataset) and
``plan.py`` decides which to read. ``readers.py`` picks a reader per file (``csv_reader.py``,
``jsonl_reader.py`` with ``jsonl_numbers.py``, ``parquet_reader.py``); ``contract.py`` splits
rows into typed rows and rejects, typing declared columns (``columns.py``) and landing or
refusing the others (``extras.py``), with helpers in ``values.py`` and ``rows.py``.
``repeats.py`` tells whether a key repeated within a run, ``scratch.py`` holds the in-memory
DuckDB their vectorised checks share while files are read, and ``settings.py`` holds the typed
settings. Importing this package imports no dlt: the sources file is checked before dlt is
loaded.
"""
