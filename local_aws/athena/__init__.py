"""Athena engine: DuckDB over the Glue catalog."""
