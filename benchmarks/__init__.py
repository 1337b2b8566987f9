"""The benchmark: the project's steps side by side with this machine's limits, on the same data.

``python -m benchmarks`` (or ``make bench``) generates a demo day, measures the bare limits
(DuckDB's own read, PostgreSQL ``COPY``, a bare HTTP loop, a bare ``SELECT``), then the
project's loaders and ``dbt build`` on the same data, and writes ``benchmarks/results/``.
"""
