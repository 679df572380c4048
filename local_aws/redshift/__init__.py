"""Redshift on DuckDB for the local AWS: one database file per cluster and database, Redshift SQL translated per
statement (``translate``), COPY/UNLOAD against the local S3 (``copy_unload``), Spectrum external schemas over the
Glue catalog (``spectrum``), and the Data API's statement lifecycle (``statements``)."""
