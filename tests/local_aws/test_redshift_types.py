"""Redshift's type semantics, and its view binding rules, on the local Redshift's engine (no server: the engine is

Each test names the AWS doc page it follows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from local_aws.redshift.engine import Database
from local_aws.redshift.errors import RedshiftError, UnsupportedError


@pytest.fixture
def sql():
    database = Database("types", "dev", None)
    connection = database.cursor()

    def run(statement: str):
        outcome = connection.run(statement)
        return [(name, kind) for name, kind in outcome.columns], outcome.rows

    yield run
    connection.close()
    database.close()


def error_of(sql, statement: str) -> str:
    with pytest.raises(RedshiftError) as caught:
        sql(statement)
    return str(caught.value)


def test_integer_division_is_integer(sql):
    """"Computations with numeric values" (r_numeric_computations201): INT4 / INT4 is INT4; like PostgreSQL it
    truncates toward zero. Division by zero fails ("divide by zero")."""
    assert sql("select 7/2") == ([("?column?", "INTEGER")], [(3,)])
    assert sql("select -7/2")[1] == [(-3,)]
    assert sql("select cast(7 as bigint) / 2") == ([("?column?", "BIGINT")], [(3,)])
    assert error_of(sql, "select 7/0") == "divide by zero"
    assert error_of(sql, "select cast(1 as decimal(8,2)) / 0") == "divide by zero"


def test_decimal_results_take_redshifts_precision_and_scale(sql):
    """"Precision and scale of computed DECIMAL results" (r_numeric_computations201): + and - scale max(s1,s2);
    * scale s1+s2, precision p1+p2+1; / scale max(4, s1+p2-s2+1), precision p1-s1+s2+scale: the doc's
    DECIMAL(8,2) / DECIMAL(8,2) example is DECIMAL(17,9)."""
    sql("create table money (a decimal(8,2), b decimal(8,2), n int)")
    sql("insert into money values (1, 3, 2)")
    columns, rows = sql("select a / b, a * b, a + b, n * a, a / n from money")
    assert [kind for _, kind in columns] == ["DECIMAL(17,9)", "DECIMAL(17,4)", "DECIMAL(9,2)", "DECIMAL(19,2)",
                                             "DECIMAL(19,13)"]
    assert rows == [(Decimal("0.333333333"), Decimal("3.0000"), Decimal("4.00"), Decimal("2.00"),
                     Decimal("0.5000000000000"))]


def test_avg_and_sum_return_types(sql):
    """"AVG function" (r_AVG): BIGINT for an integer argument (truncated), DECIMAL(38, scale of the argument) for
    a DECIMAL one. "SUM function" (r_SUM): BIGINT for an integer argument, DECIMAL(38, s) for DECIMAL(p, s)."""
    sql("create table figures (n int, d decimal(10,2))")
    sql("insert into figures values (2, 1.25), (3, 1.75)")
    columns, rows = sql("select avg(n), avg(d), sum(n), sum(d) from figures")
    assert columns == [("avg", "BIGINT"), ("avg", "DECIMAL(38,2)"), ("sum", "BIGINT"), ("sum", "DECIMAL(38,2)")]
    assert rows == [(2, Decimal("1.50"), 5, Decimal("3.00"))]
    windowed = sql("select sum(n) over (), avg(n) over (order by n rows unbounded preceding) from figures order by n")
    assert windowed == ([("sum", "BIGINT"), ("avg", "BIGINT")], [(5, 2), (5, 2)])


def test_types_follow_subqueries_and_ctes(sql):
    """The same rules ("AVG function", "Computations with numeric values") for columns of a subquery or a CTE: their
    type is the projection's."""
    assert sql("select avg(x) from (select 1 as x union all select 2) t") == ([("avg", "BIGINT")], [(1,)])
    columns, rows = sql("with s as (select cast(1 as decimal(8,2)) as a, cast(3 as decimal(8,2)) as b) "
                        "select s.a / s.b from s")
    assert (columns, rows) == ([("?column?", "DECIMAL(17,9)")], [(Decimal("0.333333333"),)])


def test_varchar_and_char_lengths_count_bytes(sql):
    """"Character types" (r_Character_types): VARCHAR(n)/CHAR(n) hold n bytes of UTF-8 (a 3-character string of
    2-byte characters needs VARCHAR(6)); a longer value fails INSERT and UPDATE with "value too long for type
    character varying(n)"; VARCHAR defaults to 256 bytes, TEXT is VARCHAR(256), CHAR defaults to 1."""
    sql("create table names (v varchar(5), c char(3), t text, d varchar, one char, m varchar(max))")
    sql("insert into names (v, c) values ('abcde', 'abc'), ('éé', 'x')")
    assert error_of(sql, "insert into names (v) values ('abcdefgh')") == "value too long for type character varying(5)"
    assert error_of(sql, "insert into names (v) values ('ééé')") == "value too long for type character varying(5)"
    assert error_of(sql, "insert into names (c) values ('abcd')") == "value too long for type character(3)"
    assert error_of(sql, "insert into names (t) values (repeat('x', 257))") == \
        "value too long for type character varying(256)"
    assert error_of(sql, "insert into names (one) values ('xy')") == "value too long for type character(1)"
    sql("insert into names (d, m) values (repeat('x', 256), repeat('x', 65535))")
    assert error_of(sql, "update names set v = 'toolong' where v = 'abcde'") == \
        "value too long for type character varying(5)"
    assert sql("select count(*) from names")[1] == [(3,)]


def test_character_length_limits(sql):
    """"Character types": VARCHAR holds at most 65535 bytes and CHAR 4096."""
    assert error_of(sql, "create table wide (v varchar(65536))") == "length for type varchar cannot exceed 65535"
    assert error_of(sql, "create table wide (c char(4097))") == "length for type char cannot exceed 4096"


def test_a_character_column_added_later_is_refused_by_name(sql):
    """The local engine cannot enforce a byte length on a column added by ALTER TABLE: refused, never unchecked."""
    sql("create table later (n int)")
    with pytest.raises(UnsupportedError, match="ALTER TABLE ADD COLUMN of a CHAR or VARCHAR column"):
        sql("alter table later add column v varchar(5)")
    sql("alter table later add column m int")


def test_sum_of_text_casts_and_fails_on_a_non_number(sql):
    """The original lab's view sums a VARCHAR price on Redshift (recorded behaviour, tests/data/lab_statements.sql):
    the text is cast to a number; a value that is not one fails the query instead of being skipped."""
    sql("create table prices (p varchar(10))")
    sql("insert into prices values ('1.50'), ('2.25')")
    assert sql("select sum(p) from prices")[1] == [(Decimal("3.75"),)]
    sql("insert into prices values ('$3')")
    with pytest.raises(RedshiftError):
        sql("select sum(p) from prices")


def test_quoted_literals_in_arithmetic_take_the_other_operands_type(sql):
    """PostgreSQL 8.0's "unknown" literal type, which Redshift keeps ("Type compatibility and conversion",
    c_Supported_data_types): ``1 + '2'`` is the integer 3; a literal that is no number fails the query with
    "invalid input syntax for integer"."""
    assert sql("select 1 + '2', 7 / '2'") == ([("?column?", "INTEGER"), ("?column?", "INTEGER")], [(3, 3)])
    assert sql("select 1.5 + '2.25'")[1] == [(Decimal("3.75"),)]
    assert error_of(sql, "select 'a' + 1") == 'invalid input syntax for integer: "a"'
    assert error_of(sql, "select cast('1x' as decimal(5,2))") == 'invalid input syntax for type numeric: "1x"'


def test_booleans_and_dates_do_not_mix_with_numbers(sql):
    """"Type compatibility and conversion" (c_Supported_data_types): BOOLEAN and the datetime types have no
    implicit conversion to or from the numeric types; Redshift refuses the operator (PostgreSQL's wording),
    where DuckDB would cast. A date plus an integer stays a date."""
    sql("create table mixed (d date, n int, b boolean, ts timestamp)")
    assert error_of(sql, "select * from mixed where n = b") == "operator does not exist: integer = boolean"
    assert error_of(sql, "select b + 1 from mixed") == "operator does not exist: boolean + integer"
    assert error_of(sql, "select * from mixed where d = 20210101") == "operator does not exist: date = integer"
    assert error_of(sql, "select * from mixed where ts > 5") == \
        "operator does not exist: timestamp without time zone > integer"
    assert sql("select d + 1, b = true from mixed")[1] == []


# --- views: late binding (WITH NO SCHEMA BINDING) and the checks regular views keep --------------------------------

def test_late_binding_view_is_bound_when_queried(sql):
    """"CREATE VIEW" (r_CREATE_VIEW.html), WITH NO SCHEMA BINDING and usage notes "Late-binding views": the view can
    be created though what it references does not exist; Redshift checks it only when the view is queried (and a
    query fails while it is missing); a referenced table can be dropped without CASCADE and re-created, and the
    view reads the new table (the notes' renamed column shows through)."""
    sql("create view public.lbv_days as select trunc(t.ts) as day, t.* from public.lbv_sales as t "
        "with no schema binding")
    sql("create view public.lbv_outer as select day from public.lbv_days with no schema binding")
    for view in ("public.lbv_days", "public.lbv_outer"):
        assert error_of(sql, f"select * from {view}") == 'relation "public.lbv_sales" does not exist'
    sql("create table public.lbv_sales (id int, ts timestamp)")
    sql("insert into public.lbv_sales values (1, '2021-12-01 10:00:00')")
    assert sql("select day, id from public.lbv_days") == ([("day", "DATE"), ("id", "INTEGER")],
                                                         [(date(2021, 12, 1), 1)])
    sql("drop table public.lbv_sales")  # no CASCADE needed: the view depends on nothing
    assert error_of(sql, "select * from public.lbv_outer") == 'relation "public.lbv_sales" does not exist'
    sql("create table public.lbv_sales (title int, ts timestamp)")
    sql("insert into public.lbv_sales values (2, '2021-12-02 00:00:00')")
    columns, rows = sql("select * from public.lbv_days")
    assert [name for name, _ in columns] == ["day", "title", "ts"] and rows[0][:2] == (date(2021, 12, 2), 2)
    assert sql("select * from public.lbv_outer")[1] == [(date(2021, 12, 2),)]
    sql("drop table public.lbv_sales cascade")  # CASCADE drops no late-binding view either
    sql("drop view public.lbv_days")
    assert error_of(sql, "select * from public.lbv_outer") == 'relation "public.lbv_days" does not exist'


def test_late_binding_view_names_relations_with_their_schema(sql):
    """"CREATE VIEW" (r_CREATE_VIEW.html), WITH NO SCHEMA BINDING: referenced tables and views must be qualified
    with a schema, which must exist when the view is created (wording: Redshift's, as dbt users recorded it)."""
    assert error_of(sql, "create view lbv_q as select * from somewhere with no schema binding") == (
        "All the relation names inside should be qualified when creating VIEW WITH NO SCHEMA BINDING.")
    assert error_of(sql, "create view lbv_q as select * from nowhere.t with no schema binding") == (
        'schema "nowhere" does not exist')
    sql("create view lbv_q as with recent as (select * from public.later) select * from recent "
        "with no schema binding")  # a CTE's name needs no schema
    exists = 'Relation "lbv_q" already exists'
    assert error_of(sql, "create view lbv_q as select 1 as x with no schema binding") == exists
    assert error_of(sql, "create table lbv_q (a int)") == exists
    sql("create or replace view lbv_q as select 1 as x with no schema binding")
    assert sql("select x from public.lbv_q")[1] == [(1,)]
    sql("create view lbv_errors as select count(*) as n from pg_catalog.stl_load_errors with no schema binding")
    assert sql("select n from public.lbv_errors")[1] == [(0,)]  # a system table is a relation like any other


def test_late_binding_view_outlives_a_restart(tmp_path):
    """"CREATE VIEW" (r_CREATE_VIEW.html): a late-binding view is part of the database; one created before its
    table, in a database file that is closed and opened again (the local AWS restarting), binds at its first
    query after the table is created."""
    database = Database("types", "dev", tmp_path / "dev.duckdb")
    connection = database.cursor()
    connection.run("create view public.kept as select t.n from public.kept_t as t with no schema binding")
    connection.close()
    database.close()
    database = Database("types", "dev", tmp_path / "dev.duckdb")
    connection = database.cursor()
    try:
        with pytest.raises(RedshiftError, match='relation "public.kept_t" does not exist'):
            connection.run("select * from public.kept")
        connection.run("create table public.kept_t (n int)")
        connection.run("insert into public.kept_t values (7)")
        assert connection.run("select n from public.kept").rows == [(7,)]
    finally:
        connection.close()
        database.close()


def test_regular_views_check_their_relations(sql):
    """"CREATE VIEW" (r_CREATE_VIEW.html): a standard view needs the objects it references, so creating one over a
    missing table fails; "DROP TABLE" (r_DROP_TABLE.html): a table a view depends on is dropped only with CASCADE
    (Redshift: "cannot drop table ... because other objects depend on it"), which drops the view too."""
    assert error_of(sql, "create view reg_v as select * from public.reg_t") == 'relation "reg_t" does not exist'
    sql("create table public.reg_t (a int)")
    sql("create view reg_v as select a from public.reg_t")
    sql("create view public.reg_lbv as select a from public.reg_t with no schema binding")
    assert error_of(sql, "drop table public.reg_t") == (
        "cannot drop table public.reg_t because other objects depend on it")
    sql("drop table public.reg_t cascade")
    assert error_of(sql, "select * from reg_v") == 'relation "reg_v" does not exist'
    assert error_of(sql, "select * from public.reg_lbv") == 'relation "public.reg_t" does not exist'


def test_pg_get_late_binding_view_cols_is_refused_by_name(sql):
    """PG_GET_LATE_BINDING_VIEW_COLS (PG_GET_LATE_BINDING_VIEW_COLS.html) is not emulated: refused by its name."""
    for statement in ("select pg_get_late_binding_view_cols()",
                      "select * from pg_get_late_binding_view_cols() cols(view_schema name, view_name name, "
                      "col_name name, col_type varchar, col_num int)"):
        with pytest.raises(UnsupportedError, match="PG_GET_LATE_BINDING_VIEW_COLS"):
            sql(statement)
