"""Glue job runs on local Spark: argument staging and the script runner."""
