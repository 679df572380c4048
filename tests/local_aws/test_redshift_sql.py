"""The project's Redshift SQL (include/sql/redshift) and Redshift's dialect, COPY, UNLOAD and Spectrum on the
local Redshift, through the Data API. The lake is written with pyarrow; the expected figures come from pandas."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)]  # tests/ and this folder
from redshift_support import Warehouse, records_to_rows  # noqa: E402
from sql_context import SQL_DIR, template_context  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/salespipe-redshift-role"
DAYS = ["2021-12-01", "2021-12-02", "2021-12-03"]
PARQUET_SCHEMA = pa.schema([
    ("card_id", pa.int64()), ("customer_id", pa.int64()), ("price", pa.decimal128(10, 2)),
    ("product_id", pa.int64()), ("timestamp", pa.timestamp("us")),
])


def day_frame(day: str, rows: int, seed: int) -> pd.DataFrame:
    start = pd.Timestamp(day)
    return pd.DataFrame({
        "card_id": [seed * 1000 + i for i in range(rows)],
        "customer_id": [i % 7 for i in range(rows)],
        "price": [Decimal(f"{(i * 37 + seed) % 500}.{(i * 13) % 100:02d}") for i in range(rows)],
        "product_id": [None if i % 11 == 0 else i % 5 for i in range(rows)],
        "timestamp": [start + pd.Timedelta(minutes=17 * i) for i in range(rows)],
    })


class Lake:
    """A lake bucket and Glue database laid out as the Glue job and crawler leave them, plus a warehouse."""

    def __init__(self, server):
        self.wh = Warehouse(server)
        suffix = uuid.uuid4().hex[:8]
        self.bucket, self.glue_db = f"lake-rs-{suffix}", f"sales_rs_{suffix}"
        self.s3, self.glue = self.wh.client("s3"), self.wh.client("glue")
        self.s3.create_bucket(Bucket=self.bucket)
        self.glue.create_database(DatabaseInput={"Name": self.glue_db})
        self.catalog_processed(self.glue_db)
        self.frames: dict[str, pd.DataFrame] = {}

    def catalog_processed(self, glue_db: str) -> None:
        """The processed table as the crawler catalogs it (its partitions are added by ``add_day``)."""
        self.glue.create_table(DatabaseName=glue_db, TableInput={
            "Name": "processed_sales",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("year", "month", "day")],
            "StorageDescriptor": {
                "Columns": [{"Name": "card_id", "Type": "bigint"}, {"Name": "customer_id", "Type": "bigint"},
                            {"Name": "price", "Type": "decimal(10,2)"}, {"Name": "product_id", "Type": "bigint"},
                            {"Name": "timestamp", "Type": "timestamp"}],
                "Location": f"s3://{self.bucket}/processed/sales/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            },
        })

    def add_day(self, day: str, rows: int) -> None:
        frame = day_frame(day, rows, seed=len(self.frames) + 1)
        self.frames[day] = frame
        d = dt.date.fromisoformat(day)
        prefix = f"processed/sales/year={d.year}/month={d.month}/day={d.day}/"
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, schema=PARQUET_SCHEMA, preserve_index=False), sink)
        self.s3.put_object(Bucket=self.bucket, Key=f"{prefix}part-00000.snappy.parquet", Body=sink.getvalue())
        self.glue.create_partition(DatabaseName=self.glue_db, TableName="processed_sales", PartitionInput={
            "Values": [str(d.year), str(d.month), str(d.day)],
            "StorageDescriptor": {"Location": f"s3://{self.bucket}/{prefix}"},
        })

    def render(self, name: str, ds: str, glue_db: str | None = None) -> str:
        context = template_context(ds)
        context["var"]["json"]["sales_pipeline"].update(
            DataLakeBucket=self.bucket, GlueDatabaseName=glue_db or self.glue_db, RedshiftRoleArn=ROLE,
        )
        environment = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), undefined=jinja2.StrictUndefined)
        return environment.get_template(f"redshift/{name}.sql").render(context)

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def parquet(self, key: str) -> pd.DataFrame:
        return pq.read_table(io.BytesIO(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())).to_pandas()


@pytest.fixture(scope="module")
def lake(local_aws) -> Lake:
    lake = Lake(local_aws)
    for day, rows in zip(DAYS, (40, 55, 23), strict=True):
        lake.add_day(day, rows)
    return lake


def reload_day(lake: Lake, ds: str) -> dict:
    return lake.wh.batch([lake.render("delete_sales_day", ds), lake.render("copy_sales_day", ds)])


def test_project_sql_loads_days_idempotently_and_views_span_warm_and_cold(lake):
    wh = lake.wh
    for _ in range(2):  # DDL is idempotent
        for ddl in ("create_sales_table", "create_spectrum_schema"):
            described = wh.run(lake.render(ddl, DAYS[0]))
            assert described["Status"] == "FINISHED", described.get("Error")
    for _ in range(2):  # a re-run replaces the day: no duplicates
        for ds in DAYS[:2]:
            reloaded = reload_day(lake, ds)
            assert reloaded["Status"] == "FINISHED", reloaded.get("Error")
            assert reloaded["SubStatements"][1]["ResultRows"] == len(lake.frames[ds])
    for ds in DAYS[:2]:
        frame = lake.frames[ds]
        totals = wh.ok(lake.render("select_day_totals", ds))
        result = wh.data.get_statement_result(Id=totals["Id"])
        assert [c["name"] for c in result["ColumnMetadata"]] == ["row_count", "revenue"]
        row_count, revenue = records_to_rows(result["Records"])[0]
        assert (row_count, Decimal(revenue)) == (len(frame), frame["price"].sum())
    empty = records_to_rows(wh.data.get_statement_result(Id=wh.ok(lake.render("select_day_totals", "2021-11-30"))["Id"])
                            ["Records"])
    assert empty == [[0, "0.00"]]

    for view in ("create_daily_sales_revenue_view", "create_sales_all_days_view"):
        for _ in range(2):
            described = wh.run(lake.render(view, DAYS[0]))
            assert described["Status"] == "FINISHED", described.get("Error")
    revenue = wh.rows("select day, daily_sales_revenue, sales_count from public.daily_sales_revenue order by day")
    expected = [[ds, f"{lake.frames[ds]['price'].sum():.2f}", len(lake.frames[ds])] for ds in DAYS[:2]]
    assert revenue == expected
    tiers = wh.rows("select day, storage_tier, count(*), sum(price) from public.sales_all_days group by 1, 2 "
                    "order by 1")
    assert tiers == [[ds, "warm" if ds in DAYS[:2] else "cold", len(lake.frames[ds]),
                      f"{lake.frames[ds]['price'].sum():.2f}"] for ds in DAYS]

    partitions = wh.rows("select distinct year, month, day from spectrum_sales.processed_sales order by 3")
    assert partitions == [["2021", "12", "1"], ["2021", "12", "2"], ["2021", "12", "3"]]  # typed per PartitionKeys
    lake.add_day("2021-12-04", 9)  # a new partition shows up through Spectrum on the next query
    assert wh.rows("select count(*) from public.sales_all_days where storage_tier = 'cold'") == [[23 + 9]]
    reload_day(lake, DAYS[2])  # day 3 now warm: counted once, from the warm table
    assert wh.rows("select storage_tier, count(*) from public.sales_all_days group by 1 order by 1") == [
        ["cold", 9], ["warm", 40 + 55 + 23]]


def test_project_views_need_only_the_ddl_and_bind_when_queried(lake):
    """The views stage (plugins/sales_pipeline/stages.py) right after the DDL stage, on a fresh cluster whose Glue
    database has no processed table yet (the processed crawl has not run): "CREATE VIEW" (r_CREATE_VIEW.html),
    usage notes "Late-binding views": a late-binding view is created though what it references does not exist and
    is checked when queried; a query before the crawl fails as Redshift's does for a missing relation, and once the
    crawler has catalogued the table the same view reads it through Spectrum. A regular view may not read an
    external table at all ("You can reference Amazon Redshift Spectrum external tables only in a late-binding
    view"; Redshift's wording)."""
    wh = Warehouse(lake.wh.aws)
    glue_db = f"sales_uncrawled_{uuid.uuid4().hex[:8]}"
    lake.glue.create_database(DatabaseInput={"Name": glue_db})
    for stage in (("create_sales_table", "create_spectrum_schema"),  # one batch per stage, as the DAG runs them
                  ("create_daily_sales_revenue_view", "create_sales_all_days_view")):
        described = wh.batch([lake.render(name, DAYS[0], glue_db) for name in stage])
        assert described["Status"] == "FINISHED", described.get("Error")
    failed = wh.run("select count(*) from public.sales_all_days")
    assert failed["Error"] == 'ERROR: relation "spectrum_sales.processed_sales" does not exist'
    assert wh.run("create view public.cold_only as select * from spectrum_sales.processed_sales")["Error"] == (
        "ERROR: External tables are not supported in views")
    lake.catalog_processed(glue_db)  # what the processed crawl catalogs
    lake.glue.batch_create_partition(DatabaseName=glue_db, TableName="processed_sales", PartitionInputList=[
        {"Values": ["2021", "12", day], "StorageDescriptor": {
            "Location": f"s3://{lake.bucket}/processed/sales/year=2021/month=12/day={day}/"}} for day in ("1", "2")])
    assert wh.rows("select storage_tier, count(*) from public.sales_all_days group by 1") == [
        ["cold", len(lake.frames[DAYS[0]]) + len(lake.frames[DAYS[1]])]]


def test_project_unload_writes_one_deterministic_file(lake, request):
    wh = lake.wh
    for name in ("create_sales_table", "create_daily_sales_revenue_view"):
        wh.ok(lake.render(name, DAYS[0]))
    assert reload_day(lake, DAYS[0])["Status"] == "FINISHED"
    prefix = f"aggregated/daily_sales_revenue/dt={DAYS[0]}/"
    for _ in range(2):
        described = wh.run(lake.render("unload_daily_sales_revenue", DAYS[0]))
        assert described["Status"] == "FINISHED", described.get("Error")
        assert described["ResultRows"] == 1
        assert lake.keys(prefix) == [f"{prefix}000.parquet"]
    exported = lake.parquet(f"{prefix}000.parquet")
    frame = lake.frames[DAYS[0]]
    assert list(exported.columns) == ["day", "daily_sales_revenue", "sales_count"]
    assert exported.iloc[0].tolist() == [dt.date(2021, 12, 1), frame["price"].sum(), len(frame)]


def test_copy_failures_name_the_problem(lake):
    wh = lake.wh
    wh.ok("create table if not exists copy_target (a int, b varchar(5))")
    missing = wh.run(f"copy copy_target from 's3://{lake.bucket}/nothing/here/' iam_role '{ROLE}' format as parquet")
    assert missing["Error"] == "ERROR: The specified S3 prefix 'nothing/here/' does not exist"
    bad_role = wh.run(f"copy copy_target from 's3://{lake.bucket}/processed/' iam_role 'not-a-role' csv")
    assert bad_role["Status"] == "FAILED" and "IAM Role" in bad_role["Error"]
    unsupported = wh.run(f"copy copy_target from 's3://{lake.bucket}/x' iam_role '{ROLE}' csv manifest")
    assert "COPY option MANIFEST" in unsupported["Error"]
    wide = wh.run(f"copy copy_target from 's3://{lake.bucket}/processed/sales/year=2021/month=12/day=1/' "
                  f"iam_role '{ROLE}' format as parquet")
    assert wide["Status"] == "FAILED" and "5 columns in the file, 2 in the target" in wide["Error"]


def test_copy_csv_and_json_options(lake):
    wh = lake.wh
    wh.ok("create table loads (id int, name varchar(20), at timestamp, day date)")
    csv_text = "id|name|at|day\n1|ann|2021-12-01 10:00:00|01/12/2021\n2|\\N|2021-12-02 11:30:00|02/12/2021\n"
    lake.s3.put_object(Bucket=lake.bucket, Key="loads/csv/part-1.gz", Body=gzip.compress(csv_text.encode()))
    csv_copy = wh.ok(f"copy loads from 's3://{lake.bucket}/loads/csv/' iam_role '{ROLE}' csv delimiter '|' "
                     "ignoreheader 1 null as '\\N' dateformat 'DD/MM/YYYY' timeformat 'auto' gzip region 'us-east-1'")
    assert csv_copy["ResultRows"] == 2
    lines = [{"ID": 3, "name": "cy", "at": "2021-12-03 09:00:00", "day": "2021-12-03"}, {"id": 4, "name": None}]
    lake.s3.put_object(Bucket=lake.bucket, Key="loads/json-a", Body="\n".join(json.dumps(x) for x in lines).encode())
    lake.s3.put_object(Bucket=lake.bucket, Key="loads/json-b", Body=json.dumps({"id": 5}).encode())
    # "ID" matches column id only with 'auto ignorecase' ("COPY from JSON format": 'auto' matches keys exactly)
    json_copy = wh.ok(f"copy loads from 's3://{lake.bucket}/loads/json' iam_role '{ROLE}' "
                      "format as json 'auto ignorecase'")
    assert json_copy["ResultRows"] == 3  # both objects under the prefix, not only a folder
    assert wh.rows("select id, name, at, day from loads order by id") == [
        [1, "ann", "2021-12-01 10:00:00", "2021-12-01"], [2, None, "2021-12-02 11:30:00", "2021-12-02"],
        [3, "cy", "2021-12-03 09:00:00", "2021-12-03"], [4, None, None, None], [5, None, None, None]]


def test_unload_options(lake):
    wh = lake.wh
    wh.ok("create table if not exists exports (region varchar(5), amount int)")
    wh.ok("insert into exports values ('eu', 1), ('eu', 2), ('us', 3)")
    base = f"s3://{lake.bucket}/exports"
    csv_unload = wh.ok(f"unload ('select * from exports order by amount') to '{base}/csv/run_' iam_role '{ROLE}' "
                       "format as csv header delimiter ';' parallel off")
    assert csv_unload["ResultRows"] == 3
    body = lake.s3.get_object(Bucket=lake.bucket, Key="exports/csv/run_000")["Body"].read().decode()
    assert body.replace('"', "").splitlines() == ["region;amount", "eu;1", "eu;2", "us;3"]
    again = wh.run(f"unload ('select * from exports') to '{base}/csv/run_' iam_role '{ROLE}' csv")
    assert again["Error"].startswith("ERROR: Specified unload destination on S3 is not empty")
    wh.ok(f"unload ('select * from exports where amount > ''1''') to '{base}/parts/' iam_role '{ROLE}' "
          "format as parquet partition by (region) parallel on")
    assert lake.keys("exports/parts/") == ["exports/parts/region=eu/0000_part_00.parquet",
                                           "exports/parts/region=us/0000_part_00.parquet"]
    assert lake.parquet("exports/parts/region=eu/0000_part_00.parquet")["amount"].tolist() == [2]


def test_redshift_functions_translate(lake):
    wh = lake.wh
    wh.ok("create table if not exists words (w varchar(10), n int)")
    wh.ok("insert into words values ('b', 2), ('a', 1), ('c', null)")
    row = wh.rows(
        "select trunc(cast('2021-12-05 13:14:15' as timestamp)), dateadd(day, 2, cast('2021-12-30' as date)), "
        "datediff(day, cast('2021-12-01' as date), cast('2021-12-31' as date)), nvl(null, 'x'), nvl2(1, 'y', 'z'), "
        "decode(2, 1, 'one', 2, 'two', 'many'), len('abcd'), charindex('c', 'abcd'), "
        "date_trunc('month', cast('2021-12-05 13:14:15' as timestamp)), trunc(2.75), "
        "convert_timezone('UTC', 'America/New_York', cast('2021-12-05 12:00:00' as timestamp))"
    )[0]
    assert row[:8] == ["2021-12-05", "2022-01-01 00:00:00", 30, "x", "y", "two", 4, 3]
    assert row[8] == "2021-12-01 00:00:00" and Decimal(row[9]) == 2
    assert row[10].startswith("2021-12-05 07:00:00")
    assert wh.rows("select listagg(w, ',') within group (order by w) from words") == [["a,b,c"]]
    assert wh.rows("select sum(n), nvl(sum(n), 0) from words where n is not null")[0][0] == 3
    named = wh.ok("select count(*), 1 as Mixed_Case, w from words group by w")
    columns = wh.data.get_statement_result(Id=named["Id"])["ColumnMetadata"]
    assert [c["name"] for c in columns] == ["count", "mixed_case", "w"]  # Redshift's names, folded to lower case
    now = wh.rows("select getdate() <= sysdate + interval '1 minute'")
    assert now == [[True]]


def test_strict_semantics_through_the_data_api(lake):
    """What a Data API client sees of Redshift's semantics ("Computations with numeric values", "Character types",
    "STL_LOAD_ERRORS"): 7/2 is the int4 3; an over-long INSERT fails with Redshift's message; a COPY with an
    over-long CSV value fails pointing at stl_load_errors, which names the line and the reason."""
    wh = lake.wh
    division = wh.ok("select 7/2")
    result = wh.data.get_statement_result(Id=division["Id"])
    assert (result["ColumnMetadata"][0]["typeName"], result["Records"]) == ("int4", [[{"longValue": 3}]])
    wh.ok("create table if not exists strict_names (id int, name varchar(5))")
    assert wh.run("insert into strict_names values (1, 'abcdefgh')")["Error"] == \
        "ERROR: value too long for type character varying(5)"
    lake.s3.put_object(Bucket=lake.bucket, Key="strict/names.csv", Body=b"1,short\n2,much too long\n")
    failed = wh.run(f"copy strict_names from 's3://{lake.bucket}/strict/' iam_role '{ROLE}' csv")
    assert failed["Error"] == ("ERROR: Load into table 'strict_names' failed. Check 'stl_load_errors' system table "
                               "for details.")
    assert wh.rows("select line_number, trim(colname), err_code, trim(err_reason) from stl_load_errors "
                   f"where query = {failed['RedshiftQueryId']}") == [[2, "name", 1204,
                                                                      "String length exceeds DDL length"]]
