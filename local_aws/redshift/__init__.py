"""Redshift on DuckDB for the local AWS: one database file per cluster and database, Redshift SQL translated per
statement (``translate``), COPY and UNLOAD against the local S3 (``copy``, ``unload``, with
``columnar`` type checks and ``load_errors``), Redshift's type rules (``types``), Spectrum external schemas over the
Glue catalog (``spectrum``), and the Data API's statement lifecycle (``statements``)."""
