"""Athena on the local AWS, through boto3 and PyAthena: SQL over Glue tables the way a crawler registers them."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
RAW_COLUMNS = ["card_id", "customer_id", "price", "product_id", "timestamp"]


def client(aws, service: str):
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def aws(local_aws):
    """The suite's shared local AWS (tests/conftest.py)."""
    return local_aws


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class Lake:
    """A fresh bucket, results bucket and Glue database with tables as the project's crawlers create them."""

    def __init__(self, aws):
        self.aws = aws
        self.s3, self.glue, self.athena = client(aws, "s3"), client(aws, "glue"), client(aws, "athena")
        suffix = uuid.uuid4().hex[:8]
        self.bucket, self.results, self.db = f"lake-{suffix}", f"results-{suffix}", f"sales_{suffix}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.create_bucket(Bucket=self.results)
        self.glue.create_database(DatabaseInput={"Name": self.db})
        self.sizes: dict[str, int] = {}

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.sizes[key] = len(body)

    def keys_under(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def create_table(self, name, prefix, columns, classification, partition_keys=(), serde=None, params=None):
        formats = {
            "csv": ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
            "json": ("org.apache.hadoop.mapred.TextInputFormat", "org.openx.data.jsonserde.JsonSerDe"),
            "parquet": (
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            ),
        }
        input_format, library = formats[classification]
        self.glue.create_table(
            DatabaseName=self.db,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": classification, **(params or {})},
                "PartitionKeys": [{"Name": k, "Type": t} for k, t in partition_keys],
                "StorageDescriptor": {
                    "Columns": [{"Name": c, "Type": t} for c, t in columns],
                    "Location": f"s3://{self.bucket}/{prefix}",
                    "InputFormat": input_format,
                    "SerdeInfo": {"SerializationLibrary": serde or library,
                                  "Parameters": {"field.delim": ","} if classification == "csv" else {}},
                },
            },
        )

    def add_partitions(self, table: str, prefix: str, keys: list[str], values: list[list[str]]) -> None:
        self.glue.batch_create_partition(
            DatabaseName=self.db,
            TableName=table,
            PartitionInputList=[
                {
                    "Values": v,
                    "StorageDescriptor": {"Location": f"s3://{self.bucket}/{prefix}" + "".join(
                        f"{k}={x}/" for k, x in zip(keys, v, strict=True)
                    )},
                }
                for v in values
            ],
        )

    def start(self, sql: str, **kwargs) -> str:
        kwargs.setdefault("QueryExecutionContext", {"Database": self.db})
        kwargs.setdefault("ResultConfiguration", {"OutputLocation": f"s3://{self.results}/adhoc/"})
        return self.athena.start_query_execution(QueryString=sql, **kwargs)["QueryExecutionId"]

    def wait(self, query_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            execution = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
                return execution
            assert time.monotonic() < deadline, f"query still {execution['Status']['State']}"
            time.sleep(0.05)

    def run(self, sql: str, **kwargs) -> tuple[dict, dict]:
        execution = self.wait(self.start(sql, **kwargs))
        assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
        return execution, self.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])


def values(results: dict) -> list[list[str | None]]:
    return [[d.get("VarCharValue") for d in row["Data"]] for row in results["ResultSet"]["Rows"]]


def types(results: dict) -> list[str]:
    return [c["Type"] for c in results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]


@pytest.fixture(scope="module")
def lake(aws) -> Lake:
    lake = Lake(aws)
    header = ",".join(RAW_COLUMNS) + "\n"
    days = {
        "2021-12-01": "1,10,$3.50,100,2021-12-01 10:00:00\n2,11,7.25,101,2021-12-01 11:30:00\n"
        "3,12,,102,2021-12-01 12:00:00\n",
        "2021-12-02": "4,13,1.00,103,2021-12-02 09:00:00\n",
    }
    for day, rows in days.items():
        lake.put(f"raw/sales/dt={day}/sales.csv", (header + rows).encode())
    lake.create_table(
        "raw_sales", "raw/sales/", [(c, "string") for c in RAW_COLUMNS], "csv",
        partition_keys=[("dt", "string")], params={"skip.header.line.count": "1"},
    )
    lake.add_partitions("raw_sales", "raw/sales/", ["dt"], [[d] for d in days])

    events = [{"id": 1, "Kind": "click", "ok": True, "amount": 2.5}, {"id": 2, "kind": "view", "ok": False}]
    lake.put("events/part-0.json", "\n".join(json.dumps(e) for e in events).encode() + b"\n")
    lake.create_table("events", "events/", [("id", "bigint"), ("kind", "string"), ("ok", "boolean"),
                                             ("amount", "double")], "json")

    schema = pa.schema([("card_id", pa.int64()), ("customer_id", pa.int64()), ("price", pa.decimal128(10, 2)),
                        ("product_id", pa.int64()), ("timestamp", pa.timestamp("us"))])
    for day, n in ((1, 3), (2, 25)):
        rows = pa.table({
            "card_id": list(range(n)), "customer_id": [7] * n,
            "price": pa.array([f"{i}.25" for i in range(n)]).cast(pa.decimal128(10, 2)),
            "product_id": [9] * n,
            "timestamp": pa.array([f"2021-12-0{day} 10:00:{i:02d}" for i in range(n)]).cast(pa.timestamp("us")),
        }, schema=schema)
        lake.put(f"processed/sales/year=2021/month=12/day={day}/part-0.parquet", parquet_bytes(rows))
    lake.create_table(
        "processed_sales", "processed/sales/",
        [("card_id", "bigint"), ("customer_id", "bigint"), ("price", "decimal(10,2)"), ("product_id", "bigint"),
         ("timestamp", "timestamp")], "parquet",
        partition_keys=[("year", "int"), ("month", "int"), ("day", "int")],
    )
    lake.add_partitions("processed_sales", "processed/sales/", ["year", "month", "day"],
                        [["2021", "12", "1"], ["2021", "12", "2"]])
    return lake


def test_csv_table_one_day_reads_only_that_partition(lake):
    execution, results = lake.run(
        "SELECT count(*) AS row_count, sum(TRY_CAST(replace(price, '$', '') AS decimal(10, 2))) AS revenue "
        "FROM raw_sales WHERE dt = '2021-12-01'"
    )
    assert values(results) == [["row_count", "revenue"], ["3", "10.75"]]
    assert types(results) == ["bigint", "decimal"]
    assert execution["Statistics"]["DataScannedInBytes"] == lake.sizes["raw/sales/dt=2021-12-01/sales.csv"]
    assert execution["StatementType"] == "DML"


def test_csv_header_skipped_and_partition_value_as_column(lake):
    _, results = lake.run(f'SELECT card_id, price, dt FROM "{lake.db}"."raw_sales" ORDER BY card_id')
    assert values(results)[1:] == [
        ["1", "$3.50", "2021-12-01"], ["2", "7.25", "2021-12-01"], ["3", "", "2021-12-01"], ["4", "1.00", "2021-12-02"]
    ]


def test_json_lines_table_typed_and_case_insensitive(lake):
    _, results = lake.run("SELECT id, kind, ok, amount FROM events ORDER BY id")
    assert types(results) == ["bigint", "varchar", "boolean", "double"]
    assert values(results)[1:] == [["1", "click", "true", "2.5"], ["2", "view", "false", None]]


def test_parquet_partitions_pruned_and_typed(lake):
    one_day, results = lake.run(
        f"SELECT count(*), sum(price), min(day), max(timestamp) FROM {lake.db}.processed_sales p "
        "WHERE p.year = 2021 AND p.month = 12 AND p.day = 2"
    )
    assert values(results) == [["_col0", "_col1", "_col2", "_col3"], ["25", "306.25", "2", "2021-12-02 10:00:24.000"]]
    assert types(results) == ["bigint", "decimal", "integer", "timestamp"]
    size_day_2 = lake.sizes["processed/sales/year=2021/month=12/day=2/part-0.parquet"]
    assert one_day["Statistics"]["DataScannedInBytes"] == size_day_2
    whole, _ = lake.run("SELECT count(*) FROM processed_sales")
    assert whole["Statistics"]["DataScannedInBytes"] == size_day_2 + lake.sizes[
        "processed/sales/year=2021/month=12/day=1/part-0.parquet"
    ]


def test_same_table_twice_with_different_partitions_and_ctes(lake):
    execution, results = lake.run(
        "WITH d1 AS (SELECT count(*) AS n FROM processed_sales WHERE day = 1), "
        "d2 AS (SELECT count(*) AS n FROM processed_sales WHERE day IN (2)) "
        "SELECT d1.n AS day1, d2.n AS day2, (SELECT 40 + 2) AS answer FROM d1 CROSS JOIN d2"
    )
    assert values(results)[1] == ["3", "25", "42"]
    assert execution["Statistics"]["DataScannedInBytes"] == sum(
        v for k, v in lake.sizes.items() if k.startswith("processed/")
    )


def test_query_without_tables(lake):
    execution, results = lake.run(
        "SELECT 1 AS one, 'x' AS letter, DATE '2021-12-01' AS day, NULL AS nothing, 7 / 2 AS half, 7.0 / 2 AS exact"
    )
    assert values(results) == [
        ["one", "letter", "day", "nothing", "half", "exact"], ["1", "x", "2021-12-01", None, "3", "3.5"]
    ]
    assert types(results)[:3] == ["integer", "varchar", "date"]
    assert execution["Statistics"]["DataScannedInBytes"] == 0


def test_cast_partition_key_to_varchar_still_prunes(lake):
    # The shape of include/sql/athena/processed_day_totals.sql: correct whether the crawler typed keys int or string.
    execution, results = lake.run(
        "SELECT count(*) AS row_count, coalesce(sum(p.price), 0) AS revenue "
        f'FROM "{lake.db}"."processed_sales" AS p '
        "WHERE cast(p.year AS varchar) = '2021' AND cast(p.month AS varchar) = '12' AND cast(p.day AS varchar) = '1'"
    )
    assert values(results) == [["row_count", "revenue"], ["3", "3.75"]]
    assert execution["Statistics"]["DataScannedInBytes"] == lake.sizes[
        "processed/sales/year=2021/month=12/day=1/part-0.parquet"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("raw_day_count", {"row_count": "3"}),
        ("processed_day_totals", {"row_count": "3", "revenue": "3.75"}),
    ],
)
def test_project_athena_sql_runs_here(lake, name, expected):
    """The pipeline's own Athena SQL (include/sql/athena), rendered as Airflow would for 2021-12-01."""
    path = REPO / "include" / "sql" / "athena" / f"{name}.sql"
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO)} has not landed yet")
    jinja2 = pytest.importorskip("jinja2")
    from airflow.sdk.execution_time.macros import ds_format

    sql = jinja2.Template(path.read_text()).render(
        ds="2021-12-01", var={"json": {"sales_pipeline": {"GlueDatabaseName": lake.db}}},
        macros=SimpleNamespace(ds_format=ds_format),
    )
    _, results = lake.run(sql)
    header, row = values(results)
    assert {k: v for k, v in zip(header, row, strict=True) if k in expected} == expected


def test_results_paginated_with_header_on_first_page_only(lake):
    execution, _ = lake.run("SELECT card_id, price FROM processed_sales WHERE day = 2 ORDER BY card_id")
    pages = lake.athena.get_paginator("get_query_results").paginate(
        QueryExecutionId=execution["QueryExecutionId"], PaginationConfig={"PageSize": 10}
    )
    rows = [values(page) for page in pages]
    assert [len(r) for r in rows] == [10, 10, 6]
    assert rows[0][0] == ["card_id", "price"]
    assert rows[0][1] == ["0", "0.25"] and rows[2][-1] == ["24", "24.25"]
    column = lake.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"], MaxResults=1)
    assert column["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][1]["Precision"] == 10
    assert column["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][1]["Scale"] == 2


def test_enforced_workgroup_location_gets_csv_and_metadata(lake):
    workgroup = f"wg-{uuid.uuid4().hex[:6]}"
    lake.athena.create_work_group(Name=workgroup, Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{lake.results}/enforced/"},
        "EnforceWorkGroupConfiguration": True,
    })
    execution, _ = lake.run(
        "SELECT card_id, price FROM raw_sales WHERE dt = '2021-12-01' AND card_id = '3'",
        WorkGroup=workgroup, ResultConfiguration={"OutputLocation": f"s3://{lake.results}/ignored/"},
    )
    query_id = execution["QueryExecutionId"]
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{lake.results}/enforced/{query_id}.csv"
    keys = sorted(o["Key"] for o in lake.s3.list_objects_v2(Bucket=lake.results, Prefix="enforced/")["Contents"])
    assert keys == [f"enforced/{query_id}.csv", f"enforced/{query_id}.csv.metadata"]
    body = lake.s3.get_object(Bucket=lake.results, Key=f"enforced/{query_id}.csv")["Body"].read().decode()
    assert body == '"card_id","price"\n"3",""\n'
    assert list(csv.reader(io.StringIO(body))) == [["card_id", "price"], ["3", ""]]
    assert lake.athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"] == [query_id]


def test_client_request_token_makes_start_idempotent(lake):
    token = uuid.uuid4().hex * 2
    first = lake.start("SELECT 1", ClientRequestToken=token)
    assert lake.start("SELECT 1", ClientRequestToken=token) == first
    assert lake.start("SELECT 1") != first


def test_missing_output_location_is_rejected(lake):
    workgroup = f"wg-{uuid.uuid4().hex[:6]}"
    lake.athena.create_work_group(Name=workgroup, Configuration={"ResultConfiguration": {}})
    with pytest.raises(ClientError, match="No output location provided"):
        lake.athena.start_query_execution(QueryString="SELECT 1", WorkGroup=workgroup)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT * FROM missing", "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{db}.missing' does not exist"),
        ("SELECT nope FROM raw_sales", "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved or requester "
                                       "is not authorized to access requested resources"),
        ("SELECT * FROM nodb.raw_sales", "SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist"),
        ("SELEC 1", "SYNTAX_ERROR: line 1:"),
        ("SELECT count(*) FROM raw_sales WHERE dt = 20211201",
         "TYPE_MISMATCH: line 1:38: Cannot apply operator: varchar = integer"),
        ("SELECT count(*) FROM processed_sales WHERE day IN ('1', '2')",
         "TYPE_MISMATCH: line 1:44: IN value and list items must be the same type: integer"),
        ("SELECT CAST(price AS decimal(10, 2)) FROM raw_sales WHERE card_id = '3'",
         "INVALID_CAST_ARGUMENT: Cannot cast VARCHAR '' to DECIMAL(10,2)"),
    ],
)
def test_bad_query_fails_with_athena_error(lake, sql, reason):
    execution = lake.wait(lake.start(sql))
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(reason.format(db=lake.db))
    assert status["AthenaError"]["ErrorCategory"] == 2
    assert status["AthenaError"]["ErrorMessage"] == status["StateChangeReason"]
    with pytest.raises(ClientError, match="Final query state: FAILED"):
        lake.athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])


def test_stop_running_query_and_list_and_batch_get(lake):
    # A hundred million recursion steps: it runs until stopped.
    query_id = lake.start(
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100000000) SELECT count(*) FROM t"
    )
    deadline = time.monotonic() + 10
    while lake.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] != (
        "RUNNING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    lake.athena.stop_query_execution(QueryExecutionId=query_id)
    assert lake.wait(query_id, timeout=10)["Status"]["State"] == "CANCELLED"

    listed = lake.athena.list_query_executions(WorkGroup="primary", MaxResults=50)["QueryExecutionIds"]
    assert listed[0] == query_id
    batch = lake.athena.batch_get_query_execution(QueryExecutionIds=[query_id, "no-such-id"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [query_id]
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == ["no-such-id"]


def test_msck_repair_registers_partitions_found_in_s3(lake):
    for day in ("2021-12-03", "2021-12-04"):
        lake.put(f"aggregated/dt={day}/part-0.parquet", parquet_bytes(pa.table({"sales_count": [5]})))
    lake.create_table("aggregated", "aggregated/", [("sales_count", "bigint")], "parquet",
                      partition_keys=[("dt", "string")])
    _, before = lake.run("SELECT count(*) FROM aggregated")
    assert values(before)[1] == ["0"]  # like Athena: unregistered partitions are not read

    _, repair = lake.run("MSCK REPAIR TABLE aggregated")
    assert "Repair: Added partition to metastore aggregated:dt=2021-12-03" in [r[0] for r in values(repair)]
    partitions = lake.glue.get_partitions(DatabaseName=lake.db, TableName="aggregated")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2021-12-03", "2021-12-04"]
    _, shown = lake.run("SHOW PARTITIONS aggregated")
    assert values(shown) == [["dt=2021-12-03"], ["dt=2021-12-04"]]
    _, after = lake.run("SELECT sum(sales_count) FROM aggregated WHERE dt >= '2021-12-04'")
    assert values(after)[1] == ["5"]


def test_create_external_table_add_partition_and_drop(lake):
    lake.put("ddl/dt=2021-12-05/data.csv", b"id,name\n1,ann\n2,bob\n")
    lake.run(
        "CREATE EXTERNAL TABLE ddl_people (id bigint, name string) PARTITIONED BY (dt string) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE "
        f"LOCATION 's3://{lake.bucket}/ddl/' TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    table = lake.glue.get_table(DatabaseName=lake.db, Name="ddl_people")["Table"]
    assert table["Parameters"]["classification"] == "csv"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    lake.run("ALTER TABLE ddl_people ADD IF NOT EXISTS PARTITION (dt = '2021-12-05')")
    _, results = lake.run("SELECT name, dt FROM ddl_people WHERE id = 2")
    assert values(results)[1:] == [["bob", "2021-12-05"]]

    again = lake.wait(lake.start(f"CREATE EXTERNAL TABLE ddl_people (id bigint) LOCATION 's3://{lake.bucket}/ddl/'"))
    assert again["Status"]["StateChangeReason"] == (
        f"TABLE_ALREADY_EXISTS: Table 'awsdatacatalog.{lake.db}.ddl_people' already exists"
    )
    lake.run("DROP TABLE ddl_people")
    assert "ddl_people" not in [t["Name"] for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]]
    assert lake.keys_under("ddl/") == ["ddl/dt=2021-12-05/data.csv"]  # an external table's data stays


def test_show_tables_and_describe(lake):
    _, tables = lake.run("SHOW TABLES IN " + lake.db)
    assert {"raw_sales", "events", "processed_sales"} <= {r[0] for r in values(tables)}
    _, described = lake.run(f"DESCRIBE {lake.db}.processed_sales")
    rows = values(described)
    assert rows[0] == ["card_id", "bigint", ""]
    assert ["day", "int", ""] in rows


def test_pyathena_cursor_and_pandas_cursor(lake, monkeypatch):
    pyathena = pytest.importorskip("pyathena")
    from pyathena.pandas.cursor import PandasCursor

    # The pandas cursor reads the result CSV with its own S3 client: point every client at the local AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", lake.aws.endpoint_url)

    connection = pyathena.connect(
        s3_staging_dir=f"s3://{lake.results}/pyathena/", region_name="us-east-1", work_group="primary",
        schema_name=lake.db, endpoint_url=lake.aws.endpoint_url,
    )
    cursor = connection.cursor()
    cursor.execute("SELECT day, count(*) AS n, sum(price) AS revenue FROM processed_sales GROUP BY day ORDER BY day")
    assert [d[:2] for d in cursor.description] == [("day", "integer"), ("n", "bigint"), ("revenue", "decimal")]
    assert cursor.fetchall() == [(1, 3, pytest.approx(3.75)), (2, 25, pytest.approx(306.25))]

    with pytest.raises(pyathena.error.OperationalError, match="TABLE_NOT_FOUND"):
        cursor.execute("SELECT * FROM no_such_table")

    frame = connection.cursor(PandasCursor).execute(
        "SELECT card_id, price FROM raw_sales WHERE dt = %(dt)s ORDER BY card_id", {"dt": "2021-12-01"}
    ).as_pandas()
    assert frame["card_id"].tolist() == ["1", "2", "3"]


ATHENA_DAGS = '''
from datetime import datetime

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import DAG, chain

DB = "{db}"
OUTPUT = "s3://{results}/airflow/"

with DAG(dag_id="local_athena_checks", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    chain(
        AthenaOperator(
            task_id="count_day", database=DB, output_location=OUTPUT, sleep_time=1,
            query="SELECT count(*) AS row_count FROM raw_sales WHERE dt = '{{{{ ds }}}}'",
        ),
        SQLCheckOperator(
            task_id="day_has_rows", conn_id="athena_local",
            sql="SELECT count(*) FROM raw_sales WHERE dt = '{{{{ ds }}}}'",
        ),
        SQLColumnCheckOperator(
            task_id="processed_columns", conn_id="athena_local", table=DB + ".processed_sales",
            column_mapping={{
                "price": {{"null_check": {{"equal_to": 0}}, "min": {{"geq_to": 0}}}},
                "customer_id": {{"distinct_check": {{"equal_to": 1}}}},
            }},
        ),
        SQLTableCheckOperator(
            task_id="processed_table", conn_id="athena_local", table=DB + ".processed_sales",
            checks={{"rows": {{"check_statement": "COUNT(*) = 28"}}}},
        ),
    )

with DAG(dag_id="local_athena_bad_query", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    AthenaOperator(
        task_id="bad_query", database=DB, output_location=OUTPUT, sleep_time=1,
        query="SELECT * FROM no_such_table",
    )
'''


@pytest.mark.e2e
def test_athena_operator_and_sql_checks_in_airflow_dags_test(lake, tmp_path):
    from tiny_airflow import TinyAirflow

    airflow = TinyAirflow(tmp_path, lake.aws.endpoint_url, "local_athena_dags.py",
                          ATHENA_DAGS.format(db=lake.db, results=lake.results),
                          AIRFLOW_CONN_ATHENA_LOCAL=json.dumps({
                              "conn_type": "athena", "login": "local", "password": "local", "schema": lake.db,
                              "extra": {"region_name": "us-east-1", "s3_staging_dir": f"s3://{lake.results}/checks/",
                                        "work_group": "primary", "endpoint_url": lake.aws.endpoint_url},
                          }))

    def dags_test(dag_id: str) -> tuple[dict[str, str], str]:
        _, states, output = airflow.dags_test(dag_id)
        return states, output

    states, output = dags_test("local_athena_checks")
    assert states == dict.fromkeys(
        ["count_day", "day_has_rows", "processed_columns", "processed_table"], "success"
    ), output[-6000:]
    states, output = dags_test("local_athena_bad_query")
    assert states == {"bad_query": "failed"}, output[-6000:]
    assert f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{lake.db}.no_such_table' does not exist" in output
