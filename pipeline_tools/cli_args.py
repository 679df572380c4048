"""Argument types for the command line tools: each refuses a bad value with a message that says what it wants.

argparse shows an `ArgumentTypeError`'s message as `argument --date: <message>`.
"""

from __future__ import annotations

import argparse
from datetime import date

# The daily DAG's `rows` Param (dags/sales_pipeline_daily.py): minimum 1, maximum 5,000,000.
MIN_ROWS, MAX_ROWS = 1, 5_000_000


def day(text: str) -> date:
    """A calendar day written YYYY-MM-DD."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a day: write it YYYY-MM-DD, e.g. 2021-12-01") from None


def rows(text: str) -> int:
    """Raw rows for a day: a whole number the DAG's `rows` Param accepts."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows") from None
    if not MIN_ROWS <= value <= MAX_ROWS:
        raise argparse.ArgumentTypeError(
            f"{value} rows is out of range: the daily DAG takes {MIN_ROWS} to {MAX_ROWS:,} rows a day")
    return value


def port(text: str) -> int:
    """A TCP port to listen on (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535; 0: any free port)")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not more than 0")
    return value
