"""Errors a statement can end with; the message is what DescribeStatement shows as ``Error``."""


class RedshiftError(Exception):
    """A statement failure worded as Redshift words it (``ERROR: ...`` is added by the Data API layer)."""


class UnsupportedError(RedshiftError):
    """A construct this local Redshift does not implement: the statement fails and names it, never silently."""

    def __init__(self, construct: str):
        super().__init__(f"{construct} is not supported by the local Redshift")
        self.construct = construct
