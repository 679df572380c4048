"""Trino date functions and result types on the local Athena engine (no tables, so no server: QueryRun directly).

Source: Trino documentation "Date and time functions and operators" (MySQL date functions: date_parse,
date_format; Java/Joda date functions: parse_datetime, format_datetime), which Athena engine version 3 follows
("Functions in Amazon Athena"); GetQueryResults ColumnInfo (Athena API reference).
"""

from __future__ import annotations

import pytest

from local_aws.athena.engine import QueryRun
from local_aws.athena.errors import AthenaQueryError
from local_aws.athena.functions import joda_to_strftime


def run(sql: str) -> tuple[list[str], list[tuple]]:
    result = QueryRun(sql, None, None).execute()
    return [c.column_info()["Type"] for c in result.columns], result.rows


def failure(sql: str) -> str:
    with pytest.raises(AthenaQueryError) as raised:
        QueryRun(sql, None, None).execute()
    return str(raised.value)


def test_mysql_patterns_of_date_parse_and_date_format():
    """date_parse returns timestamp; date_format's %i is minutes, %s seconds, %W the weekday name, %M the month
    name, %p AM/PM; %D, %U, %u, %V, %w, %X and %x are not supported (Trino's list) and fail."""
    types, rows = run("SELECT date_parse('2021-12-01 10:05:09', '%Y-%m-%d %H:%i:%s') AS a, "
                      "date_format(TIMESTAMP '2021-12-01 10:05:09', '%Y/%m/%d %H:%i:%s %W %M %p') AS b")
    assert types == ["timestamp", "varchar"]
    assert rows == [("2021-12-01 10:05:09.000", "2021/12/01 10:05:09 Wednesday December AM")]
    assert failure("SELECT date_format(TIMESTAMP '2021-12-01 10:05:09', '%Y %U')") == (
        "INVALID_FUNCTION_ARGUMENT: %U not supported in date format string")


def test_joda_patterns_of_parse_datetime_and_format_datetime():
    """parse_datetime(string, format) -> timestamp with time zone, format_datetime(timestamp, format) -> varchar,
    with Joda-Time patterns (yyyy, M, d, H, mm, ss, SSS, EEE, MMM, a, quoted literals)."""
    types, rows = run("SELECT parse_datetime('1/2/2021 7:05', 'd/M/yyyy H:mm') AS a, "
                      "format_datetime(TIMESTAMP '2021-12-01 10:05:09.123', "
                      "'yyyy/MM/dd HH:mm:ss.SSS EEE MMM d ''at'' h a') AS b")
    assert types == ["timestamp with time zone", "varchar"]
    assert rows == [("2021-02-01 07:05:00.000 UTC", "2021/12/01 10:05:09.123 Wed Dec 1 at 10 AM")]


def test_joda_letters_without_an_equivalent_are_refused_by_name():
    assert joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss") == "%Y-%m-%dT%H:%M:%S"
    assert failure("SELECT format_datetime(TIMESTAMP '2021-12-01 10:05:09', 'xxxx-ww')").startswith(
        "NOT_SUPPORTED: Joda pattern 'xxxx'")
    assert "not a string literal" in failure("SELECT parse_datetime('2021', concat('y', 'yyy'))")


def test_result_types_as_athena_names_them():
    """ColumnInfo.Type: integer literals are integer, count and sum of integers bigint, decimal literals decimal
    with their precision and scale, avg double; integer division stays integer."""
    result = QueryRun("SELECT 1 AS i, 3000000000 AS b, count(*) AS c, sum(x) AS s, avg(x) AS a, 7.25 AS d, "
                      "7 / 2 AS half FROM (VALUES 1, 2) t(x)", None, None).execute()
    infos = [c.column_info() for c in result.columns]
    assert [i["Type"] for i in infos] == ["integer", "bigint", "bigint", "bigint", "double", "decimal", "integer"]
    assert (infos[5]["Precision"], infos[5]["Scale"]) == (3, 2)
    assert result.rows == [("1", "3000000000", "2", "3", "1.5", "7.25", "3")]


def test_decimal_and_date_result_types_follow_trino():
    """Trino "Decimal functions and operators" / "Aggregate functions": avg(decimal(p,s)) is decimal(p,s) and a
    decimal quotient is decimal with scale max(s1, s2); "Date and time functions": date_add with a day unit and
    date_trunc keep a date a date (DuckDB would answer double and timestamp)."""
    result = QueryRun(
        "SELECT avg(CAST(x AS decimal(10,2))) AS a, CAST(1.5 AS decimal(10,2)) / CAST(2 AS decimal(10,2)) AS q, "
        "date_add('day', 1, DATE '2021-12-01') AS tomorrow, date_trunc('month', DATE '2021-12-05') AS month, "
        "date_add('hour', 1, TIMESTAMP '2021-12-01 00:00:00') AS later FROM (VALUES 1, 2) t(x)", None, None,
    ).execute()
    infos = [c.column_info() for c in result.columns]
    assert [(i["Type"], i["Precision"], i["Scale"]) for i in infos[:2]] == [("decimal", 10, 2), ("decimal", 12, 2)]
    assert [i["Type"] for i in infos[2:]] == ["date", "date", "timestamp"]
    assert result.rows == [("1.50", "0.75", "2021-12-02", "2021-12-01", "2021-12-01 01:00:00.000")]
