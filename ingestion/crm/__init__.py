"""CRM API loaded with dlt's ``rest_api`` building block, declared in ``ingestion/sources.yml``.

Endpoints, auth, paginator and incremental cursor are all configuration; this package only
adds what a YAML file cannot hold (response hooks), via ``ingestion.rest``.
"""

from __future__ import annotations

from ingestion.rest import source

__all__ = ["source"]
