"""What the Amazon provider lacks for the sales pipeline DAGs: a Redshift statement sensor and a few helpers.

The plugins folder is on Airflow's sys.path, so DAGs import this package as ``sales_pipeline``.
"""
