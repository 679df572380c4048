"""The job process's side of the local Glue runner (see ../README.md)."""
