"""The file-drop source type: files in a folder or bucket, read by format into Arrow.

``source.py`` holds the ``@dlt.source`` function, ``readers.py`` picks a reader per file
(``csv_reader.py``, ``jsonl_reader.py``, ``parquet_reader.py``), ``contract.py`` and
``columns.py`` type the rows, ``repeats.py`` tells whether a key repeated within a run and
``settings.py`` holds the typed settings. Importing this package imports no dlt: the sources
file is checked before dlt is loaded.
"""
