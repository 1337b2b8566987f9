"""Shared test support: paths, warehouses, the demo, CLIs, dbt, the battery report."""
