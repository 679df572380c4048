"""The local Redshift's errors, as plain exceptions; ``local_aws.services.redshift_data`` maps them to the Data API's
error shapes.

- ``RedshiftError``: a statement failed; the message is what DescribeStatement shows as ``Error`` (``ERROR: `` is
  added by the statement lifecycle).
- ``UnsupportedError``: a construct the local Redshift does not implement: the statement fails and names it.
- ``DataApiRefusal`` and its subclasses: a request refused before any SQL runs (an unknown statement id, an expired
  session, a cancel of a finished statement, too many active statements).
"""


class RedshiftError(Exception):
    """A statement failure worded as Redshift words it (``ERROR: ...`` is added by the Data API layer)."""


class UnsupportedError(RedshiftError):
    """A construct this local Redshift does not implement: the statement fails and names it, never silently."""

    def __init__(self, construct: str):
        super().__init__(f"{construct} is not supported by the local Redshift")
        self.construct = construct


class DataApiRefusal(Exception):
    """A Data API request the statement lifecycle refuses; the message is the one AWS gives."""


class StatementNotFound(DataApiRefusal):
    """No statement (or sub-statement) with that id: never submitted, or older than the retention period."""

    def __init__(self, statement_id: str):
        super().__init__(f"Query does not exist: {statement_id}")
        self.statement_id = statement_id


class SessionUnavailable(DataApiRefusal):
    """The session expired, is unknown, or did not survive a restart of the local AWS."""

    def __init__(self, session_id: str):
        super().__init__(f"Session {session_id} is not available: expired or unknown.")
        self.session_id = session_id


class InvalidStatementRequest(DataApiRefusal):
    """A request that cannot apply to this statement (cancel of a finished one, a token of another statement)."""


class TooManyActiveStatements(DataApiRefusal):
    """The cluster already has the maximum number of SUBMITTED/PICKED/STARTED statements."""

    def __init__(self, cluster: str, limit: int):
        super().__init__(f"Active statements exceeded the allowed quota of {limit} for cluster {cluster}.")
        self.cluster, self.limit = cluster, limit
