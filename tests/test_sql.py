"""The pipeline's SQL (include/sql): templates render, parse in their engine's dialect, lint clean, and say what
the contract (docs/architecture.md) needs: the right day, the lake's partition layout, no hard-coded account."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import duckdb
import jinja2
import pytest
import sqlglot
from jinja2 import meta, nodes
from sql_context import DAG_PARAMS, SQL_DIR, STACK_OUTPUTS, render, template_context
from sqlfluff.core import FluffConfig, Linter
from sqlglot import exp

REPO = SQL_DIR.parent.parent
LAB_STATEMENTS = Path(__file__).resolve().parent / "data" / "lab_statements.sql"

REDSHIFT = {
    "create_sales_table.sql",
    "create_spectrum_schema.sql",
    "delete_sales_day.sql",
    "copy_sales_day.sql",
    "create_daily_sales_revenue_view.sql",
    "create_sales_all_days_view.sql",
    "unload_daily_sales_revenue.sql",
    "select_day_totals.sql",
    "select_day_load_check.sql",
}
ATHENA = {"aggregated_day_revenue.sql", "processed_day_totals.sql", "raw_day_count.sql", "lab_check.sql"}
# The statements of one run's day; the others (DDL, views, the lab's look) must not depend on the day.
DAY_KEYED = {
    "redshift/delete_sales_day.sql",
    "redshift/copy_sales_day.sql",
    "redshift/unload_daily_sales_revenue.sql",
    "redshift/select_day_totals.sql",
    "redshift/select_day_load_check.sql",
    "athena/aggregated_day_revenue.sql",
    "athena/processed_day_totals.sql",
    "athena/raw_day_count.sql",
}
# sqlglot 30.30 has no structured form for these and keeps them as an opaque exp.Command.
COMMAND_FALLBACK = {"redshift/create_spectrum_schema.sql", "redshift/unload_daily_sales_revenue.sql"}

# One-digit month and day (the lake's partition folders have no leading zeros), year end, leap day.
DAYS = ["2021-01-05", "2021-12-31", "2024-02-29"]
DAY = DAYS[0]

SQL_FILES = sorted(p.relative_to(SQL_DIR).as_posix() for p in SQL_DIR.rglob("*.sql"))
REDSHIFT_FILES = [f for f in SQL_FILES if f.startswith("redshift/")]
ATHENA_FILES = [f for f in SQL_FILES if f.startswith("athena/")]

ALLOWED_NAMES = {"ds", "ds_nodash", "macros", "params", "var"}
ALLOWED_MACROS = {"ds_add", "ds_format"}


def parse_redshift(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="redshift")


def rendered(path: str, ds: str = DAY) -> str:
    return render(path, ds)


def next_day(ds: str) -> str:
    return (dt.date.fromisoformat(ds) + dt.timedelta(days=1)).isoformat()


def day_partition(ds: str) -> str:
    """The Glue job's partition folder for a day, derived independently of the templates' strftime flags."""
    day = dt.date.fromisoformat(ds)
    return f"year={day.year}/month={day.month}/day={day.day}"


def without_comments(sql: str) -> str:
    """The statement on one line, lower case, without its `--` comments: for clause-by-clause regexes."""
    return " ".join(re.sub(r"--[^\n]*", "", sql).split()).lower()


def unload_query(ds: str) -> str:
    """The SELECT inside the day's UNLOAD ('...'), its doubled quotes undone."""
    unload = without_comments(rendered("redshift/unload_daily_sales_revenue.sql", ds))
    return re.search(r"unload \( ?'((?:[^']|'')*)' ?\)", unload).group(1).replace("''", "'")


def dotted_names(template_source: str) -> set[str]:
    """Every attribute chain rooted at a template variable, e.g. 'var.json.sales_pipeline.DataLakeBucket'."""
    tree = jinja2.Environment().parse(template_source)
    chains = set()
    for node in tree.find_all(nodes.Getattr):
        parts = []
        current: nodes.Node = node
        while isinstance(current, nodes.Getattr):
            parts.append(current.attr)
            current = current.node
        if isinstance(current, nodes.Name):
            chains.add(".".join([current.name, *reversed(parts)]))
    # Keep only the longest chains: 'a.b.c' makes 'a.b' redundant.
    return {c for c in chains if not any(other.startswith(c + ".") for other in chains)}


# --- the file set and the template rules -------------------------------------------------------------------


def test_every_contract_statement_exists_and_nothing_else():
    assert set(REDSHIFT_FILES) == {f"redshift/{name}" for name in REDSHIFT}
    assert set(ATHENA_FILES) == {f"athena/{name}" for name in ATHENA}


def test_context_holds_every_stack_output_of_the_contract():
    doc = (REPO / "docs" / "architecture.md").read_text()
    section = doc.split("## Stack outputs", 1)[1].split("\n## ", 1)[0]
    paragraph = section.split("\n\n", 1)[0]  # the list; the text after it names other things in backticks
    assert set(STACK_OUTPUTS) == set(re.findall(r"`(\w+)`", paragraph))


@pytest.mark.parametrize("path", SQL_FILES)
@pytest.mark.parametrize("ds", DAYS)
def test_renders_completely(path, ds):
    sql = rendered(path, ds)
    assert sql.strip()
    assert "{{" not in sql and "{%" not in sql and "None" not in sql


@pytest.mark.parametrize("path", SQL_FILES)
def test_uses_only_the_allowed_template_variables(path):
    source = (SQL_DIR / path).read_text()
    assert meta.find_undeclared_variables(jinja2.Environment().parse(source)) <= ALLOWED_NAMES
    for chain in dotted_names(source):
        root, _, rest = chain.partition(".")
        if root == "var":
            prefix, _, output = rest.rpartition(".")
            assert prefix == "json.sales_pipeline" and output in STACK_OUTPUTS, chain
        elif root == "macros":
            assert rest in ALLOWED_MACROS, chain
        elif root == "params":
            assert rest in DAG_PARAMS, chain
        else:
            pytest.fail(f"{path}: unexpected attribute chain {chain}")


@pytest.fixture(scope="module")
def airflow_template_env():
    """The Jinja environment Airflow renders a task's fields with, for a DAG searching include/sql."""
    from airflow.sdk import DAG

    return DAG("sql_render_check", schedule=None, template_searchpath=[str(SQL_DIR)]).get_template_env()


@pytest.mark.parametrize("path", SQL_FILES)
def test_airflow_renders_an_include_as_the_tests_do(path, airflow_template_env):
    """The DAGs pass `{% include '<path>' %}` in templated fields: same text as this module's render()."""
    included = airflow_template_env.from_string("{%% include '%s' %%}" % path)
    assert included.render(template_context(DAY)) == render(path, DAY)


def test_a_misspelt_variable_fails_the_render(tmp_path):
    template = tmp_path / "bad.sql"
    template.write_text("select 1 from t where b = '{{ var.json.sales_pipeline.DataLakeBuckett }}'")
    with pytest.raises(jinja2.UndefinedError, match="DataLakeBuckett"):
        render(template, DAY)
    template.write_text("select '{{ dss }}'")
    with pytest.raises(jinja2.UndefinedError, match="dss"):
        render(template, DAY)


def test_a_malformed_day_is_rejected():
    with pytest.raises(ValueError):
        template_context("2021-13-01")


@pytest.mark.parametrize("path", SQL_FILES)
def test_keyed_by_the_run_day_never_the_clock(path):
    source = re.sub(r"--[^\n]*", "", (SQL_DIR / path).read_text())  # comments may say "now"
    clock = re.compile(r"\b(getdate|sysdate|now|current_date|current_timestamp|localtimestamp|timeofday)\b", re.I)
    assert not clock.search(source)
    first, second = rendered(path, DAYS[0]), rendered(path, DAYS[1])
    if path in DAY_KEYED:
        assert first != second, f"{path} does not depend on the run's day"
    else:
        assert first == second, f"{path} is not a day's statement but depends on the day"


@pytest.mark.parametrize("path", SQL_FILES)
def test_nothing_hard_codes_a_bucket_account_or_arn(path):
    source = (SQL_DIR / path).read_text()
    assert not re.search(r"\b\d{12}\b", source), "account id"
    assert "arn:" not in source.lower()
    # Every S3 location starts with the lake bucket output.
    for location in re.findall(r"s3://[^']*", source):
        assert location.startswith("s3://{{ var.json.sales_pipeline.DataLakeBucket }}/"), location
    for value in STACK_OUTPUTS.values():
        if len(value) > 5:  # the short database name ('sales') is also an ordinary word here
            assert value not in source


# --- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SQL_FILES)
def test_one_statement_per_file(path):
    dialect = "redshift" if path.startswith("redshift/") else "trino"
    statements = [s for s in sqlglot.parse(rendered(path), read=dialect) if s is not None]
    assert len(statements) == 1


EXPECTED_REDSHIFT_TYPES = {
    "redshift/create_sales_table.sql": exp.Create,
    "redshift/delete_sales_day.sql": exp.Delete,
    "redshift/copy_sales_day.sql": exp.Copy,
    "redshift/create_daily_sales_revenue_view.sql": exp.Create,
    "redshift/create_sales_all_days_view.sql": exp.Create,
    "redshift/select_day_totals.sql": exp.Select,
    "redshift/select_day_load_check.sql": exp.Select,
}
# What a statement sqlglot keeps opaque must still say, clause by clause (rendered, whitespace-insensitive).
COMMAND_CLAUSES = {
    "redshift/create_spectrum_schema.sql": [
        r"^create external schema if not exists spectrum_sales\b",
        r"\bfrom data catalog\b",
        r"\bdatabase 'sales'",
        r"\biam_role 'arn:aws:iam::\d{12}:role/[\w+=,.@/-]+'",
    ],
    "redshift/unload_daily_sales_revenue.sql": [
        r"^unload \( ?'select .+' ?\)",
        r"\bto 's3://[a-z0-9.-]+/aggregated/daily_sales_revenue/dt=\d{4}-\d{2}-\d{2}/'",
        r"\biam_role 'arn:aws:iam::\d{12}:role/[\w+=,.@/-]+'",
        r"\bformat as parquet\b",
        r"\ballowoverwrite\b",
        r"\bparallel off\b",
    ],
}


@pytest.mark.parametrize("path", REDSHIFT_FILES)
def test_redshift_statement_parses(path, caplog):
    sql = rendered(path)
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        statement = parse_redshift(sql)
    if path in COMMAND_FALLBACK and isinstance(statement, exp.Command):
        text = without_comments(sql)
        for clause in COMMAND_CLAUSES[path]:
            assert re.search(clause, text), f"{path}: missing {clause}"
        return
    assert isinstance(statement, EXPECTED_REDSHIFT_TYPES[path]), type(statement)
    assert "unsupported syntax" not in caplog.text


@pytest.mark.parametrize("path", ATHENA_FILES)
@pytest.mark.parametrize("dialect", ["trino", "athena"])
def test_athena_statement_parses(path, dialect):
    assert isinstance(sqlglot.parse_one(rendered(path), read=dialect), exp.Select)


def test_lab_statements_render_and_parse():
    statements = sqlglot.parse(render(LAB_STATEMENTS, DAY), read="redshift")
    kinds = [type(s) for s in statements]
    assert kinds == [exp.Drop, exp.Create, exp.Copy, exp.Create, exp.Command]
    assert statements[1].kind == "TABLE" and statements[3].kind == "VIEW"
    assert statements[4].name.upper() == "UNLOAD"
    assert f"s3://{STACK_OUTPUTS['DataLakeBucket']}/" in statements[2].sql("redshift")


# --- lint ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linters():
    """One linter per folder, configured by the repository's .sqlfluff and the folder's own."""
    logging.getLogger("sqlfluff").setLevel(logging.WARNING)
    return {folder: Linter(config=FluffConfig.from_path(str(SQL_DIR / folder))) for folder in ("redshift", "athena")}


def test_lint_configuration(linters):
    assert linters["redshift"].config.get("dialect") == "redshift"
    assert linters["athena"].config.get("dialect") == "athena"
    assert linters["redshift"].config.get("max_line_length") == 120


@pytest.mark.parametrize("path", SQL_FILES)
def test_rendered_sql_lints_clean(path, linters):
    # Jinja drops the file's final newline; lint the statement as it would stand in a file.
    result = linters[path.split("/")[0]].lint_string(rendered(path) + "\n")
    violations = [f"L{v.line_no} {v.rule_code()} {v.desc()}" for v in result.get_violations()]
    assert violations == []


def test_lint_enforces_lower_case_keywords(linters):
    result = linters["redshift"].lint_string("SELECT count(*) AS row_count FROM public.sales AS s\n")
    assert "CP01" in {v.rule_code() for v in result.get_violations()}


# --- what the statements mean ----------------------------------------------------------------------------


def architecture_parquet_columns() -> list[tuple[str, str]]:
    """The processed Parquet schema as docs/architecture.md states it, e.g. [('card_id', 'bigint'), ...]."""
    doc = (REPO / "docs" / "architecture.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `processed/sales/"))
    schema = row.split("Parquet:", 1)[1].strip().strip("|").strip()
    return [tuple(column.split(" ", 1)) for column in re.split(r",\s*(?![^()]*\))", schema)]


def test_sales_table_matches_the_processed_parquet_schema_by_position():
    create = parse_redshift(rendered("redshift/create_sales_table.sql"))
    assert create.kind == "TABLE" and create.args["exists"]
    assert create.this.this.sql() == "public.sales"
    columns = [(c.name, c.args["kind"].sql("redshift").lower().replace(" ", "")) for c in create.this.expressions]
    expected = [(name, kind.replace(" ", "")) for name, kind in architecture_parquet_columns()]
    assert columns == expected
    not_null = {c.name for c in create.this.expressions if any("NOT NULL" in k.sql() for k in c.constraints)}
    assert not_null == {"card_id", "customer_id", "price", "timestamp"}
    properties = {type(p) for p in create.args["properties"].expressions}
    assert exp.SortKeyProperty in properties
    sort_key = next(p for p in create.args["properties"].expressions if isinstance(p, exp.SortKeyProperty))
    assert [c.name for c in sort_key.this] == ["timestamp"]


def day_range(sql: str) -> tuple[str, str]:
    """The [lower, upper) bounds a statement puts on "timestamp"."""
    where = parse_redshift(sql).find(exp.Where)
    bounds = {}
    for comparison in where.find_all(exp.GTE, exp.LT):
        assert comparison.this.name == "timestamp"
        bounds[type(comparison)] = comparison.expression.find(exp.Literal).this
    assert set(bounds) == {exp.GTE, exp.LT}, "needs a half-open range: >= day and < next day"
    return bounds[exp.GTE], bounds[exp.LT]


@pytest.mark.parametrize("ds", DAYS)
def test_delete_and_copy_reload_the_same_day(ds):
    delete_sql = rendered("redshift/delete_sales_day.sql", ds)
    assert parse_redshift(delete_sql).this.sql() == "public.sales"
    assert day_range(delete_sql) == (ds, next_day(ds))

    copy = parse_redshift(rendered("redshift/copy_sales_day.sql", ds))
    assert copy.this.sql() == "public.sales"
    (location,) = [f.this for f in copy.args["files"]]
    assert location == f"s3://{STACK_OUTPUTS['DataLakeBucket']}/processed/sales/{day_partition(ds)}/"
    assert copy.args["credentials"].args["iam_role"].this == STACK_OUTPUTS["RedshiftRoleArn"]
    params = {p.this.name.lower(): p.expression.name.lower() for p in copy.args["params"]}
    assert params == {"format": "parquet"}


def test_copy_path_has_no_leading_zeros():
    assert "/processed/sales/year=2021/month=1/day=5/'" in rendered("redshift/copy_sales_day.sql", "2021-01-05")


@pytest.mark.parametrize("ds", DAYS)
def test_warehouse_totals_cover_the_same_day_as_the_reload(ds):
    sql = rendered("redshift/select_day_totals.sql", ds)
    assert day_range(sql) == (ds, next_day(ds))
    assert parse_redshift(sql).named_selects == ["row_count", "revenue"]


def test_daily_revenue_view_columns():
    view = parse_redshift(rendered("redshift/create_daily_sales_revenue_view.sql"))
    assert view.kind == "VIEW" and view.args["replace"]
    assert view.this.sql() == "public.daily_sales_revenue"
    assert view.expression.named_selects == ["day", "daily_sales_revenue", "sales_count"]


def test_all_days_view_is_late_binding_over_warm_and_cold_days():
    view = parse_redshift(rendered("redshift/create_sales_all_days_view.sql"))
    assert view.kind == "VIEW" and view.args["replace"] and view.args["no_schema_binding"]
    assert view.this.sql() == "public.sales_all_days"
    tables = {f"{t.db}.{t.name}" for t in view.expression.find_all(exp.Table)}
    assert tables == {"public.sales", "spectrum_sales.processed_sales"}, "late binding needs qualified names"
    union = view.expression
    assert isinstance(union, exp.Union) and not union.args.get("distinct")
    assert union.named_selects[-1] == "storage_tier"
    tiers = {}
    for branch in (union.this, union.expression):
        tier = branch.selects[-1].find(exp.Literal).this
        tiers[tier] = {f"{t.db}.{t.name}" for t in branch.find_all(exp.Table)}
    assert tiers["warm"] == {"public.sales"}
    # The cold branch reads the lake and leaves out the days the warm table holds.
    assert tiers["cold"] == {"spectrum_sales.processed_sales", "public.sales"}
    cold = union.expression if union.expression.selects[-1].find(exp.Literal).this == "cold" else union.this
    exclusion = cold.find(exp.Where).find(exp.Not)
    assert exclusion and exclusion.find(exp.In), "the cold branch must leave out the warm days"
    assert {f"{t.db}.{t.name}" for t in exclusion.find_all(exp.Table)} == {"public.sales"}


@pytest.mark.parametrize("ds", DAYS)
def test_unload_writes_one_file_into_the_days_partition(ds):
    sql = without_comments(rendered("redshift/unload_daily_sales_revenue.sql", ds))
    location = re.search(r"\bto '([^']+)'", sql).group(1)
    assert location == f"s3://{STACK_OUTPUTS['DataLakeBucket']}/aggregated/daily_sales_revenue/dt={ds}/"
    select = parse_redshift(unload_query(ds))
    assert select.named_selects == ["day", "daily_sales_revenue", "sales_count"]
    assert {t.sql() for t in select.find_all(exp.Table)} == {"public.daily_sales_revenue"}
    condition = select.find(exp.Where).this
    assert isinstance(condition, exp.EQ) and condition.this.name == "day" and condition.expression.this == ds


@pytest.mark.parametrize("ds", DAYS)
def test_athena_queries_select_the_days_partitions(ds):
    database = STACK_OUTPUTS["GlueDatabaseName"]
    day = dt.date.fromisoformat(ds)

    raw = sqlglot.parse_one(rendered("athena/raw_day_count.sql", ds), read="trino")
    assert raw.named_selects == ["row_count"]
    assert {t.sql("trino") for t in raw.find_all(exp.Table)} == {f'"{database}"."raw_sales" AS r'}
    assert raw.find(exp.Where).this.sql("trino") == f"r.dt = '{ds}'"

    processed = sqlglot.parse_one(rendered("athena/processed_day_totals.sql", ds), read="trino")
    assert processed.named_selects == ["row_count", "revenue"]
    filters = {eq.this.this.name: eq.expression.this for eq in processed.find(exp.Where).find_all(exp.EQ)}
    assert filters == {"year": str(day.year), "month": str(day.month), "day": str(day.day)}

    aggregated = sqlglot.parse_one(rendered("athena/aggregated_day_revenue.sql", ds), read="trino")
    assert {"row_count", "revenue"} <= set(aggregated.named_selects)
    assert aggregated.find(exp.Where).this.sql("trino") == f"a.dt = '{ds}'"


def test_lab_check_is_the_labs_query():
    sql = without_comments(rendered("athena/lab_check.sql"))
    assert sql == 'select * from "sales"."aggregated_daily_sales_revenue" limit 10'


def as_duckdb(sql: str) -> str:
    """A Redshift statement as DuckDB runs it: trunc(timestamp) becomes a cast to date (DuckDB has no
    trunc(TIMESTAMP)) and the late-binding clause, which only Redshift knows, is dropped."""
    tree = parse_redshift(sql).transform(
        lambda node: exp.cast(node.this, "date") if isinstance(node, exp.Trunc) else node
    )
    if isinstance(tree, exp.Create):
        tree.set("no_schema_binding", None)
    return tree.sql("duckdb")


@pytest.fixture
def warehouse():
    """DuckDB standing in for the cluster: public.sales from the DDL and the lake's table in spectrum_sales."""
    con = duckdb.connect()
    con.execute("create schema public")
    con.execute("create schema spectrum_sales")
    con.execute(as_duckdb(rendered("redshift/create_sales_table.sql")))
    con.execute("create table spectrum_sales.processed_sales as select * from public.sales limit 0")
    yield con
    con.close()


def run_statement(con, path: str, ds: str = DAY) -> list[tuple]:
    return con.execute(as_duckdb(rendered(path, ds))).fetchall()


def test_reload_and_totals_run_on_a_sql_engine(warehouse):
    """Delete + totals: the half-open range keeps the day's edges and nothing else."""
    rows = [
        (1, 10, "1.00", 100, "2021-01-04 23:59:59.999999"),
        (2, 20, "2.50", 200, "2021-01-05 00:00:00"),
        (3, 30, "4.25", None, "2021-01-05 23:59:59.999999"),
        (4, 40, "8.00", 400, "2021-01-06 00:00:00"),
    ]
    warehouse.executemany("insert into public.sales values (?, ?, ?, ?, ?)", rows)

    row_count, revenue = run_statement(warehouse, "redshift/select_day_totals.sql")[0]
    assert (row_count, str(revenue)) == (2, "6.75")
    run_statement(warehouse, "redshift/delete_sales_day.sql")
    remaining = [r[0] for r in warehouse.execute("select card_id from public.sales order by card_id").fetchall()]
    assert remaining == [1, 4]
    row_count, revenue = run_statement(warehouse, "redshift/select_day_totals.sql")[0]
    assert (row_count, revenue) == (0, 0)


def test_load_check_counts_the_day_in_the_warehouse_and_in_the_lake(warehouse):
    """The state machine's gate: the day's rows in public.sales (half-open range) against the rows of the day's
    processed partition (year/month/day without leading zeros; other days' partitions are not counted)."""
    warehouse.execute("drop table spectrum_sales.processed_sales")
    warehouse.execute("create table spectrum_sales.processed_sales as select *, '' as year, '' as month, '' as day "
                      "from public.sales limit 0")
    day_5 = [(2, 20, "2.50", 200, "2021-01-05 00:00:00"), (3, 30, "4.25", None, "2021-01-05 23:59:59")]
    warehouse.executemany("insert into public.sales values (?, ?, ?, ?, ?)",
                          day_5[:1] + [(1, 10, "1.00", 100, "2021-01-06 00:00:00")])
    other_days = [(4, 40, "8.00", 400, "2021-11-05 10:00:00", "2021", "11", "5"),
                  (5, 50, "9.00", 500, "2021-01-15 10:00:00", "2021", "1", "15")]
    lake = [(*row, "2021", "1", "5") for row in day_5] + other_days
    warehouse.executemany("insert into spectrum_sales.processed_sales values (?, ?, ?, ?, ?, ?, ?, ?)", lake)
    assert parse_redshift(rendered("redshift/select_day_load_check.sql")).named_selects == ["loaded", "landed"]
    assert run_statement(warehouse, "redshift/select_day_load_check.sql") == [(1, 2)]


def test_views_run_on_a_sql_engine(warehouse):
    """Daily revenue per day; the all-days view takes a day from the warm table when loaded, else from the lake."""
    day_5 = [(2, 20, "2.50", 200, "2021-01-05 00:00:00"), (3, 30, "4.25", None, "2021-01-05 23:59:59")]
    day_4 = [(1, 10, "1.00", 100, "2021-01-04 12:00:00")]
    warehouse.executemany("insert into public.sales values (?, ?, ?, ?, ?)", day_5)
    # The lake holds every processed day, the loaded one included.
    warehouse.executemany("insert into spectrum_sales.processed_sales values (?, ?, ?, ?, ?)", day_4 + day_5)
    run_statement(warehouse, "redshift/create_daily_sales_revenue_view.sql")
    run_statement(warehouse, "redshift/create_sales_all_days_view.sql")

    revenue = warehouse.execute("select * from public.daily_sales_revenue").fetchall()
    assert [(str(d), str(r), n) for d, r, n in revenue] == [("2021-01-05", "6.75", 2)]
    tiers = warehouse.execute(
        "select storage_tier, cast(day as varchar), count(*), sum(price) from public.sales_all_days"
        " group by all order by 2"
    ).fetchall()
    assert [(t, d, n, str(r)) for t, d, n, r in tiers] == [
        ("cold", "2021-01-04", 1, "1.00"),
        ("warm", "2021-01-05", 2, "6.75"),
    ]

    # The UNLOAD's query selects exactly the run's day from the view.
    query = unload_query(DAY)
    exported = warehouse.execute(as_duckdb(query)).fetchall()
    assert [(str(d), str(r), n) for d, r, n in exported] == [("2021-01-05", "6.75", 2)]
    assert warehouse.execute(as_duckdb(query.replace(DAY, "2021-01-04"))).fetchall() == []
