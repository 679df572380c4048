"""``getResolvedOptions``: a job's arguments as AWS Glue resolves them ("Accessing parameters using
getResolvedOptions", AWS Glue developer guide)."""

from __future__ import annotations

import argparse

BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")
_RESERVED = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION")


class GlueArgumentError(Exception):
    """An argument a job asked for is missing or malformed (Glue raises it instead of exiting)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict:
    """``{name: value}`` for each of ``options`` (each required: ``--name value`` in ``args``, ``args[0]`` being
    the script), plus the reserved ``job_bookmark_option`` (default ``job-bookmark-disable``), ``JOB_ID``,
    ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``TempDir``/``RedshiftTempDir`` (None when absent). Unknown
    arguments are ignored. Raises GlueArgumentError for a missing option, RuntimeError for a reserved name."""
    parser = _Parser(add_help=False, allow_abbrev=False)
    for reserved in ("job-bookmark-option", "continuation-option", "job-bookmark-from", "job-bookmark-to",
                     *_RESERVED):
        if reserved in options:
            raise RuntimeError(f"Using reserved arguments --{reserved}")
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_OPTIONS, required=False)
    parser.add_argument("--job-bookmark-from", required=False)
    parser.add_argument("--job-bookmark-to", required=False)
    for name in _RESERVED:
        parser.add_argument(f"--{name}", required=False)
    parser.add_argument("--TempDir", required=False)
    parser.add_argument("--RedshiftTempDir", required=False)
    for name in options:
        if name not in ("TempDir", "RedshiftTempDir"):
            parser.add_argument(f"--{name}", required=True)
    parsed, _extra = parser.parse_known_args(args[1:])
    resolved = vars(parsed)
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]
    if resolved["job_bookmark_option"] is None:
        resolved["job_bookmark_option"] = "job-bookmark-disable"
    ranges = [resolved.pop("job_bookmark_from"), resolved.pop("job_bookmark_to")]
    if any(v is not None for v in ranges):
        raise NotImplementedError("--job-bookmark-from/--job-bookmark-to (bookmark ranges) are not implemented by "
                                  "the local AWS's awsglue library")
    return resolved
