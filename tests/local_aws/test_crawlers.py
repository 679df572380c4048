"""Glue crawlers against the local AWS: schema inference, partitions, policies, states, metrics, persistence, and
the clients that use them (boto3, AWS CLI, Athena, Airflow's GlueCrawlerSensor)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from local_aws.crawler import schema

AWS_CLI = str(Path(sys.executable).with_name("aws"))

RAW_HEADER = "card_id,customer_id,price,product_id,timestamp\n"


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def processed_day(rows: int, day: int) -> bytes:
    return parquet_bytes(pa.table({
        "card_id": pa.array(range(rows), pa.int64()),
        "customer_id": pa.array([7] * rows, pa.int64()),
        "price": pa.array([Decimal("10.25")] * rows, pa.decimal128(10, 2)),
        "product_id": pa.array([3] * rows, pa.int32()),
        "timestamp": pa.array([dt.datetime(2021, 12, day, 10, 0)] * rows, pa.timestamp("us")),
        "sold_on": pa.array([dt.date(2021, 12, day)] * rows, pa.date32()),
        "paid": pa.array([True] * rows, pa.bool_()),
        "weight": pa.array([1.5] * rows, pa.float64()),
        "note": pa.array(["ok"] * rows, pa.string()),
    }))


class Lake:
    """A bucket, a Glue database and helpers to crawl it; every name is unique so tests can share one server."""

    def __init__(self, boto_client):
        self.s3, self.glue, self.athena = boto_client("s3"), boto_client("glue"), boto_client("athena")
        self.logs = boto_client("logs")
        self.bucket = f"crawl-{uuid.uuid4().hex[:10]}"
        self.db = f"db_{uuid.uuid4().hex[:8]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.glue.create_database(DatabaseInput={"Name": self.db})

    def put(self, key: str, body: bytes | str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)

    def crawler(self, prefix: str, table_prefix: str, policy: dict | None = None) -> str:
        name = f"crawler-{uuid.uuid4().hex[:8]}"
        self.glue.create_crawler(
            Name=name, Role="arn:aws:iam::123456789012:role/glue", DatabaseName=self.db, TablePrefix=table_prefix,
            Targets={"S3Targets": [{"Path": f"s3://{self.bucket}/{prefix}"}]},
            SchemaChangePolicy=policy or {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
        )
        return name

    def wait(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            crawler = self.glue.get_crawler(Name=name)["Crawler"]
            if crawler["State"] == "READY":
                return crawler
            assert crawler["State"] in ("RUNNING", "STOPPING"), crawler["State"]
            assert time.monotonic() < deadline, f"crawler still {crawler['State']}"
            time.sleep(0.05)

    def crawl(self, name: str) -> dict:
        self.glue.start_crawler(Name=name)
        return self.wait(name)

    def table(self, name: str) -> dict:
        return self.glue.get_table(DatabaseName=self.db, Name=name)["Table"]

    def partitions(self, table: str) -> dict[tuple[str, ...], str]:
        parts = self.glue.get_partitions(DatabaseName=self.db, TableName=table)["Partitions"]
        return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in parts}


def columns(table: dict) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


@pytest.fixture(autouse=True)
def quick_startup(monkeypatch):
    # The server runs in this process and reads the start-up delay when a crawl starts.
    monkeypatch.setenv("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "0.05")


@pytest.fixture
def lake(boto_client) -> Lake:
    return Lake(boto_client)


# --- inference (no server) -------------------------------------------------------------------------------------


def test_csv_classifier_types():
    text = "a,b,c,d,e\n1,1.5,x,,12\n-2,3,y,,twelve\n"
    inferred = schema.infer("k.csv", text.encode(), truncated=False, open_file=None)
    assert inferred.classification == "csv"
    assert inferred.columns == [("a", "bigint"), ("b", "double"), ("c", "string"), ("d", "string"), ("e", "string")]
    assert inferred.record_count == 2


def test_truncated_sample_keeps_whole_lines_and_merging_widens():
    text = "a\n1\n2\n3x"  # the cut fell inside the last line: it is not sampled
    assert schema.infer("k", text.encode(), truncated=True, open_file=None).columns == [("a", "bigint")]
    assert schema.merge_types("int", "bigint") == "bigint"
    assert schema.merge_types("bigint", "double") == "double"
    assert schema.merge_types("decimal(10,2)", "decimal(6,4)") == "decimal(12,4)"
    assert schema.merge_types("bigint", "string") == "string"
    assert schema.merge_columns([[("A", "int")], [("a", "double"), ("b", "string")]]) == [
        ("A", "double"), ("b", "string")]


def test_exclusion_patterns_follow_glue_globs():
    from local_aws.crawler.layout import exclusion_matcher

    excluded = exclusion_matcher(["*.tmp", "**/_archive/**", "dt=2021-12-0{1,2}/**"])
    assert excluded("a.tmp") and not excluded("x/a.tmp")  # * stays within a folder
    assert excluded("x/_archive/y/z.csv")
    assert excluded("dt=2021-12-01/a.csv") and excluded("dt=2021-12-02/a.csv")
    assert not excluded("dt=2021-12-03/a.csv")
    # "Include and exclude patterns" (AWS Glue developer guide): its examples, bracket expressions and escapes
    first_week = exclusion_matcher(["2015/01/{[!0],0[8-9]}**", "2015/0[2-9]/**", "2015/1[0-2]/**"])
    assert [d for d in range(1, 32) if not first_week(f"2015/01/{d:02}/a.csv")] == list(range(1, 8))
    assert first_week("2015/02/01/a.csv") and first_week("2015/12/31/a.csv") and not first_week("2016/02/01/a")
    excluded = exclusion_matcher(["*.{csv,avro}", "foo.?", "myfolder**", r"a\*b", "[!a-c]x"])
    assert excluded("a.avro") and not excluded("d/a.csv") and excluded("foo.1") and not excluded("foo.12")
    assert excluded("myfolder") and excluded("myfolder/mydata.txt") and excluded(".hidden.csv")
    assert excluded("a*b") and not excluded("aab") and excluded("dx") and not excluded("bx")
    assert not excluded("d/x")  # a bracket expression matches one character of a name, never '/'


def test_bad_files_are_named_in_the_error():
    with pytest.raises(schema.UnreadableFileError, match="k.json: line 2"):
        schema.infer("k.json", b'{"a": 1}\n{oops\n', truncated=False, open_file=None)
    with pytest.raises(schema.UnreadableFileError, match="not UTF-8"):
        schema.infer("k.bin", b"\xff\xfe\x00garbage", truncated=False, open_file=None)
    with pytest.raises(schema.UnreadableFileError, match="header names a column twice"):
        schema.infer("k.csv", b"a,A,c\n1,2,3\n", truncated=False, open_file=None)


def test_csv_header_only_when_the_data_below_is_not_all_text():
    """AWS Glue developer guide, "Built-in classifiers" (CSV): the first row is a header only if every column of it
    parses as STRING and the other rows are sufficiently different (at least one column parses as other than
    STRING); otherwise the first row stays data and the columns are col0, col1, ..."""
    all_text = b"first_name,last_name,city\nann,lee,paris\nbob,kim,rome\ncy,ng,oslo\n"
    inferred = schema.infer("people.csv", all_text, truncated=False, open_file=None)
    assert inferred.columns == [("col0", "string"), ("col1", "string"), ("col2", "string")]
    assert inferred.record_count == 4 and inferred.properties["header"] == "false"
    # a header cell that is not a string (a number) or is empty: not a header either
    numeric = schema.infer("n.csv", b"id,2021\n1,2\n3,4\n", truncated=False, open_file=None)
    assert [n for n, _ in numeric.columns] == ["col0", "col1"] and numeric.record_count == 3
    empty = schema.infer("k.csv", b"a,,c\n1,2,3\n", truncated=False, open_file=None)
    assert [n for n, _ in empty.columns] == ["col0", "col1", "col2"]
    # a header over typed data; names are lower-cased as the crawler writes them
    typed = schema.infer("t.csv", b"Id;City\n1;paris\n2;rome\n", truncated=False, open_file=None)
    assert typed.columns == [("id", "bigint"), ("city", "string")]
    assert typed.properties == {"delimiter": ";", "quoted": "false", "header": "true"}
    ctrl_a = schema.infer("a.txt", b"id\x01city\n1\x01paris\n", truncated=False, open_file=None)
    assert ctrl_a.properties["delimiter"] == "\x01" and ctrl_a.columns[0] == ("id", "bigint")


# --- crawls through boto3 --------------------------------------------------------------------------------------


def test_csv_raw_layout_table_partitions_and_serde(lake):
    for day in ("2021-12-01", "2021-12-02"):
        lake.put(f"raw/sales/dt={day}/sales.csv",
                 RAW_HEADER + f"41111,cust-9,$10.50,p-1,{day} 10:00:00\n41112,cust-8,$3,p-2,{day} 11:00:00\n")
    # Not data: Spark markers, temporary output, hidden files, folder placeholders, empty objects.
    lake.put("raw/sales/dt=2021-12-01/_SUCCESS", "")
    lake.put("raw/sales/dt=2021-12-01/.sales.csv.crc", "crc")
    lake.put("raw/sales/_temporary/0/part-0.csv", "junk\n")
    lake.put("raw/sales/dt=2021-12-03/empty.csv", "")
    name = lake.crawler("raw/sales/", "raw_")

    crawler = lake.crawl(name)

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers" and crawler["LastCrawl"]["MessagePrefix"]
    table = lake.table("raw_sales")
    assert columns(table) == [("card_id", "bigint"), ("customer_id", "string"), ("price", "string"),
                              ("product_id", "string"), ("timestamp", "string")]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == f"s3://{lake.bucket}/raw/sales/"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert sd["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert table["Parameters"]["classification"] == "csv"
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert table["Parameters"]["recordCount"] == "4"
    assert lake.partitions("raw_sales") == {
        ("2021-12-01",): f"s3://{lake.bucket}/raw/sales/dt=2021-12-01/",
        ("2021-12-02",): f"s3://{lake.bucket}/raw/sales/dt=2021-12-02/",
    }


def test_csv_numeric_columns_are_typed_and_quoted_values_use_opencsvserde(lake):
    lake.put("quoted/t/data.csv", 'id,amount,label\n1,2.5,"a, b"\n2,3,c\n')
    lake.crawl(lake.crawler("quoted/t/", "q_"))
    table = lake.table("q_t")
    assert columns(table) == [("id", "bigint"), ("amount", "double"), ("label", "string")]
    assert table["PartitionKeys"] == []
    serde = table["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    assert serde["Parameters"]["separatorChar"] == ","


def test_parquet_processed_layout_typed_columns(lake):
    for day in (1, 2):
        lake.put(f"processed/sales/year=2021/month=12/day={day}/part-00000.snappy.parquet", processed_day(5, day))
    name = lake.crawler("processed/sales/", "processed_")
    assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = lake.table("processed_sales")
    assert columns(table) == [
        ("card_id", "bigint"), ("customer_id", "bigint"), ("price", "decimal(10,2)"), ("product_id", "int"),
        ("timestamp", "timestamp"), ("sold_on", "date"), ("paid", "boolean"), ("weight", "double"),
        ("note", "string"),
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month", "day"]
    assert {k["Type"] for k in table["PartitionKeys"]} == {"string"}
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    # "How crawlers work": a Parquet file's compression is internal, so Glue does not populate compressionType
    assert table["Parameters"]["compressionType"] == "none"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["recordCount"] == "10"
    assert lake.partitions("processed_sales") == {
        ("2021", "12", str(d)): f"s3://{lake.bucket}/processed/sales/year=2021/month=12/day={d}/" for d in (1, 2)
    }


def test_json_lines_table(lake):
    lake.put("events/clicks/dt=2021-12-01/a.json",
             '{"id": 1, "user": "u1", "score": 1.5, "ok": true, "tags": ["x"], "geo": {"lat": 1.0}}\n'
             '{"id": 2, "user": "u2", "score": 2, "ok": false, "tags": [], "geo": {"lat": 2.0}}\n')
    lake.crawl(lake.crawler("events/clicks/", "ev_"))
    table = lake.table("ev_clicks")
    assert columns(table) == [("id", "bigint"), ("user", "string"), ("score", "double"), ("ok", "boolean"),
                              ("tags", "array<string>"), ("geo", "struct<lat:double>")]
    assert table["Parameters"]["classification"] == "json"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert list(lake.partitions("ev_clicks")) == [("2021-12-01",)]


def test_exclusions_plain_folders_and_escaped_partition_values(lake):
    lake.put("logs/app/2021/12/a.csv", "id\n1\n")
    lake.put("logs/app/2021/11/a.csv", "id\n2\n")
    lake.put("logs/app/2021/12/skip.tmp", "junk")
    name = f"excl-{uuid.uuid4().hex[:8]}"
    lake.glue.create_crawler(Name=name, Role="r", DatabaseName=lake.db, TablePrefix="plain_", Targets={
        "S3Targets": [{"Path": f"s3://{lake.bucket}/logs/app", "Exclusions": ["**.tmp"]}]})
    lake.crawl(name)
    table = lake.table("plain_app")
    assert [k["Name"] for k in table["PartitionKeys"]] == ["partition_0", "partition_1"]
    assert sorted(lake.partitions("plain_app")) == [("2021", "11"), ("2021", "12")]
    assert table["Parameters"]["objectCount"] == "2"

    lake.put("ts/t/hour=2021-12-01 10%3A00/a.csv", "id\n1\n")
    lake.crawl(lake.crawler("ts/t/", "esc_"))
    assert lake.partitions("esc_t") == {("2021-12-01 10:00",): f"s3://{lake.bucket}/ts/t/hour=2021-12-01 10%3A00/"}


def test_second_crawl_adds_the_new_partition_and_delete_behavior(lake):
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    lake.put("raw/sales/dt=2021-12-02/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    keep = lake.crawler("raw/sales/", "keep_", {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"})
    drop = lake.crawler("raw/sales/", "drop_",
                        {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"})
    lake.crawl(keep)
    lake.crawl(drop)
    lake.put("raw/sales/dt=2021-12-03/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    lake.s3.delete_object(Bucket=lake.bucket, Key="raw/sales/dt=2021-12-01/sales.csv")

    lake.crawl(keep)
    lake.crawl(drop)

    assert sorted(lake.partitions("keep_sales")) == [("2021-12-01",), ("2021-12-02",), ("2021-12-03",)]
    assert sorted(lake.partitions("drop_sales")) == [("2021-12-02",), ("2021-12-03",)]
    assert lake.table("keep_sales")["VersionId"] == "1"  # same schema: the table itself is not rewritten

    deprecate = lake.crawler("raw/sales/", "dep_", {"UpdateBehavior": "UPDATE_IN_DATABASE",
                                                    "DeleteBehavior": "DEPRECATE_IN_DATABASE"})
    lake.crawl(deprecate)
    for day in ("2021-12-02", "2021-12-03"):
        lake.s3.delete_object(Bucket=lake.bucket, Key=f"raw/sales/dt={day}/sales.csv")
    lake.crawl(drop)
    lake.crawl(deprecate)
    lake.crawl(keep)
    names = {t["Name"]: t for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]}
    assert "drop_sales" not in names  # its data is all gone
    assert "DEPRECATED_BY_CRAWLER" in names["dep_sales"]["Parameters"]
    assert "DEPRECATED_BY_CRAWLER" not in names["keep_sales"]["Parameters"]


def test_versioned_bucket_delete_markers_are_not_data(lake):
    lake.s3.put_bucket_versioning(Bucket=lake.bucket, VersioningConfiguration={"Status": "Enabled"})
    lake.put("v/t/dt=1/a.csv", "id\n1\n")
    lake.put("v/t/dt=2/a.csv", "id\n2\n")
    lake.s3.delete_object(Bucket=lake.bucket, Key="v/t/dt=2/a.csv")  # leaves a delete marker
    crawler = lake.crawl(lake.crawler("v/t/", "ver_"))
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    assert list(lake.partitions("ver_t")) == [("1",)]


def test_schema_change_policy_update_versus_log(lake):
    lake.put("t/items/dt=1/a.csv", "id,name\n1,x\n")
    update = lake.crawler("t/items/", "upd_")
    log_only = lake.crawler("t/items/", "log_", {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    lake.crawl(update)
    lake.crawl(log_only)
    lake.put("t/items/dt=2/a.csv", "id,name,price\n2,y,3.5\n")

    lake.crawl(update)
    lake.crawl(log_only)

    assert columns(lake.table("upd_items")) == [("id", "bigint"), ("name", "string"), ("price", "double")]
    assert columns(lake.table("log_items")) == [("id", "bigint"), ("name", "string")]
    assert sorted(lake.partitions("log_items")) == [("1",), ("2",)]  # LOG still adds partitions
    metrics = {m["CrawlerName"]: m for m in
               lake.glue.get_crawler_metrics(CrawlerNameList=[update, log_only])["CrawlerMetricsList"]}
    assert (metrics[update]["TablesCreated"], metrics[update]["TablesUpdated"]) == (0, 1)
    assert (metrics[log_only]["TablesCreated"], metrics[log_only]["TablesUpdated"]) == (0, 0)


def test_inherit_from_table_passes_a_schema_change_to_old_partitions(lake):
    lake.put("t/wide/dt=1/a.csv", "id\n1\n")
    name = f"inherit-{uuid.uuid4().hex[:8]}"
    lake.glue.create_crawler(
        Name=name, Role="r", DatabaseName=lake.db, TablePrefix="inh_",
        Targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/t/wide/"}]},
        Configuration=json.dumps({"Version": 1.0,
                                  "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}),
    )
    lake.crawl(name)
    lake.put("t/wide/dt=2/a.csv", "id,extra\n2,x\n")
    lake.crawl(name)
    parts = lake.glue.get_partitions(DatabaseName=lake.db, TableName="inh_wide")["Partitions"]
    assert {tuple(p["Values"]): [c["Name"] for c in p["StorageDescriptor"]["Columns"]] for p in parts} == {
        ("1",): ["id", "extra"], ("2",): ["id", "extra"]}
    assert {p["StorageDescriptor"]["Location"] for p in parts} == {
        f"s3://{lake.bucket}/t/wide/dt=1/", f"s3://{lake.bucket}/t/wide/dt=2/"}


def test_csv_with_json_lines_beside_it_stays_a_csv_table(lake):
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    lake.put("raw/sales/dt=2021-12-01/extra.json", '{"card_id": "a"}\n')
    lake.crawl(lake.crawler("raw/sales/", "mixed_"))
    table = lake.table("mixed_sales")
    assert table["Parameters"]["classification"] == "csv"
    assert [c for c, _ in columns(table)] == ["card_id", "customer_id", "price", "product_id", "timestamp"]


def crawl_log(lake: Lake, crawler: dict) -> list[str]:
    last = crawler["LastCrawl"]
    events = lake.logs.get_log_events(logGroupName=last["LogGroup"], logStreamName=last["LogStream"])["events"]
    return [e["message"] for e in events if e["message"].startswith(f"[{last['MessagePrefix']}]")]


def test_an_unreadable_parquet_file_is_unknown_and_the_good_days_keep_their_table(lake):
    """"Adding classifiers to a crawler in AWS Glue": a file no classifier recognises (here a corrupt Parquet footer)
    is classified UNKNOWN ("If no classifier returns a certainty greater than 0.0, AWS Glue returns the default
    classification string of UNKNOWN"); the crawl succeeds and the good files keep their table."""
    lake.put("processed/sales/year=2021/month=12/day=1/part-0.parquet", processed_day(2, 1))
    lake.put("processed/sales/year=2021/month=12/day=2/part-0.parquet", b"PAR1 this is not parquet")
    crawler = lake.crawl(lake.crawler("processed/sales/", "bad_"))
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    assert "day=2/part-0.parquet: not a readable Parquet file" in "\n".join(crawl_log(lake, crawler))
    assert list(lake.partitions("bad_sales")) == [("2021", "12", "1")]  # day=2 holds no recognised file
    assert lake.table("bad_part_0_parquet")["Parameters"]["classification"] == "UNKNOWN"


def test_missing_database_is_created_and_empty_target_succeeds_without_table(lake):
    name = lake.crawler("nothing/here/", "none_")
    crawler = lake.crawl(name)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert lake.glue.get_tables(DatabaseName=lake.db)["TableList"] == []

    # AWS-recorded behaviour (issue 13): a crawler whose database does not exist creates it and its tables.
    new_db = f"made_by_crawler_{uuid.uuid4().hex[:6]}"
    lake.put("x/things/a.csv", "id,name\n1,ann\n")
    lake.glue.create_crawler(Name=f"{name}-nodb", Role="r", DatabaseName=new_db,
                             Targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/x/things/"}]})
    crawler = lake.crawl(f"{name}-nodb")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert [t["Name"] for t in lake.glue.get_tables(DatabaseName=new_db)["TableList"]] == ["things"]

    lake.glue.create_crawler(Name=f"{name}-nobucket", Role="r", DatabaseName=lake.db,
                             Targets={"S3Targets": [{"Path": "s3://no-such-bucket-here/x/"}]})
    crawler = lake.crawl(f"{name}-nobucket")
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert "no-such-bucket-here" in crawler["LastCrawl"]["ErrorMessage"]


def test_running_crawler_rejects_start_and_stop_cancels(lake, monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "30")
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    name = lake.crawler("raw/sales/", "stop_")
    lake.glue.start_crawler(Name=name)
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "RUNNING"

    with pytest.raises(ClientError) as running:
        lake.glue.start_crawler(Name=name)
    assert running.value.response["Error"]["Code"] == "CrawlerRunningException"

    for refused in (lambda: lake.glue.update_crawler(Name=name, TablePrefix="other_"),
                    lambda: lake.glue.delete_crawler(Name=name)):
        with pytest.raises(ClientError) as error:
            refused()
        assert error.value.response["Error"]["Code"] == "CrawlerRunningException"

    lake.glue.stop_crawler(Name=name)
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "STOPPING"
    crawler = lake.wait(name, timeout=10)
    assert crawler["LastCrawl"]["Status"] == "CANCELLED"
    assert lake.glue.get_tables(DatabaseName=lake.db)["TableList"] == []
    with pytest.raises(ClientError) as idle:
        lake.glue.stop_crawler(Name=name)
    assert idle.value.response["Error"]["Code"] == "CrawlerNotRunningException"
    assert [c["State"] for c in lake.glue.list_crawls(CrawlerName=name)["Crawls"]] == ["STOPPED"]


def test_update_crawler_changes_the_next_crawl(lake):
    lake.put("u/orders/part.csv", "id\n1\n")
    name = lake.crawler("u/orders/", "before_")
    lake.glue.update_crawler(Name=name, TablePrefix="after_")
    crawler = lake.crawl(name)
    assert crawler["TablePrefix"] == "after_" and crawler["Version"] == 2
    assert [t["Name"] for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]] == ["after_orders"]
    lake.glue.delete_crawler(Name=name)
    with pytest.raises(ClientError) as gone:
        lake.glue.get_crawler(Name=name)
    assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_record_count_of_a_sampled_csv_is_estimated(lake):
    row = "4111111111111111,123456,10.25,99,2021-12-01 10:00:00\n"
    rows = 2 * schema.SAMPLE_BYTES // len(row)  # twice what the classifier samples
    lake.put("big/sales/dt=2021-12-01/sales.csv", RAW_HEADER + row * rows)
    lake.crawl(lake.crawler("big/sales/", "big_"))
    estimate = int(lake.table("big_sales")["Parameters"]["recordCount"])
    assert abs(estimate - rows) / rows < 0.01


def test_get_crawler_metrics(lake):
    lake.put("m/orders/part.csv", "id\n1\n")
    name = lake.crawler("m/orders/", "m_")
    lake.crawl(name)
    lake.crawl(name)
    (metrics,) = lake.glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    assert metrics["CrawlerName"] == name
    assert metrics["StillEstimating"] is False and metrics["TimeLeftSeconds"] == 0
    assert metrics["LastRuntimeSeconds"] > 0 and metrics["MedianRuntimeSeconds"] > 0
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (0, 0, 0)
    with pytest.raises(ClientError) as missing:
        lake.glue.get_crawler_metrics(CrawlerNameList=["no-such-crawler"])
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_aws_cli_lists_crawled_tables(lake, local_aws):
    lake.put("cli/things/a.csv", "id\n1\n")
    lake.crawl(lake.crawler("cli/things/", "cli_"))
    result = subprocess.run(
        [AWS_CLI, "--endpoint-url", local_aws.endpoint_url, "--region", "us-east-1", "--output", "json",
         "glue", "get-tables", "--database-name", lake.db],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [t["Name"] for t in json.loads(result.stdout)["TableList"]] == ["cli_things"]


def athena_rows(lake: Lake, sql: str) -> list[list[str]]:
    query_id = lake.athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": lake.db},
        ResultConfiguration={"OutputLocation": f"s3://{lake.bucket}/athena-results/"},
    )["QueryExecutionId"]
    deadline = time.monotonic() + 30
    while True:
        status = lake.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] not in ("QUEUED", "RUNNING"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["State"] == "SUCCEEDED", status
    rows = lake.athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return [[d.get("VarCharValue") for d in row["Data"]] for row in rows[1:]]


def test_athena_reads_crawled_tables(lake):
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,2,10.50,3,2021-12-01 10:00:00\n"
                                                               "4,5,1.25,6,2021-12-01 11:00:00\n")
    lake.put("raw/sales/dt=2021-12-02/sales.csv", RAW_HEADER + "7,8,2.00,9,2021-12-02 10:00:00\n")
    lake.put("processed/sales/year=2021/month=12/day=1/part-0.parquet", processed_day(3, 1))
    lake.put("processed/sales/year=2021/month=12/day=2/part-0.parquet", processed_day(4, 2))
    lake.crawl(lake.crawler("raw/sales/", "raw_"))
    lake.crawl(lake.crawler("processed/sales/", "processed_"))

    assert athena_rows(lake, "select count(*), sum(price) from raw_sales where dt = '2021-12-01'") == [
        ["2", "11.75"]]
    assert athena_rows(lake, "select count(*), sum(price) from processed_sales where day = '2'") == [
        ["4", "41.00"]]


def test_crawler_created_by_the_backend_directly_crawls(lake):
    """CloudFormation creates crawlers through moto's backend (create_crawler); those crawl the same way."""
    from moto.glue.models import glue_backends

    name = f"cfn-{uuid.uuid4().hex[:8]}"
    glue_backends["123456789012"]["us-east-1"].create_crawler(
        name=name, role="r", database_name=lake.db, description=None,
        targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/aggregated/daily_sales_revenue/"}]},
        schedule=None, classifiers=[], table_prefix="aggregated_", schema_change_policy=None,
        recrawl_policy=None, lineage_configuration=None, configuration=None,
        crawler_security_configuration=None, tags={},
    )
    lake.put("aggregated/daily_sales_revenue/dt=2021-12-01/0000_part_00.parquet", parquet_bytes(pa.table({
        "day": pa.array([dt.date(2021, 12, 1)]), "daily_sales_revenue": pa.array([Decimal("5.00")]),
        "sales_count": pa.array([2], pa.int64())})))
    assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"
    table = lake.table("aggregated_daily_sales_revenue")
    assert columns(table)[0] == ("day", "date") and columns(table)[2] == ("sales_count", "bigint")
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]


def run_glue_crawler_machine(boto_client) -> str:
    """The template's RunGlueCrawler state machine (the contract's polling loop), PollSeconds 1."""
    template = json.loads((Path(__file__).resolve().parents[2] / "infra" / "cloudformation.json").read_text())
    definition = template["Resources"]["RunGlueCrawlerStateMachine"]["Properties"]["Definition"]
    sfn = boto_client("stepfunctions")
    return sfn.create_state_machine(
        name=f"run-crawler-{uuid.uuid4().hex[:8]}", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps(definition).replace("${PollSeconds}", "1"),
    )["stateMachineArn"]


def execute(boto_client, arn: str, payload: dict) -> dict:
    sfn = boto_client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.1)


def test_template_run_glue_crawler_state_machine(lake, boto_client, monkeypatch):
    monkeypatch.setenv("LOCAL_AWS_TIME_SCALE", "0.2")
    monkeypatch.setenv("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "2")  # scaled: 0.4 s, so the machine polls RUNNING
    arn = run_glue_crawler_machine(boto_client)
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    good = lake.crawler("raw/sales/", "sfn_")
    bad = f"sfnbad-{uuid.uuid4().hex[:8]}"  # a crawl that fails: its bucket does not exist
    lake.glue.create_crawler(Name=bad, Role="r", DatabaseName=lake.db,
                             Targets={"S3Targets": [{"Path": "s3://no-such-bucket-for-sfn/t/"}]})

    succeeded = execute(boto_client, arn, {"Name": good})
    failed = execute(boto_client, arn, {"Name": bad})

    assert succeeded["status"] == "SUCCEEDED", succeeded
    output = json.loads(succeeded["output"])
    assert output["GetCrawler"]["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert list(lake.partitions("sfn_sales")) == [("2021-12-01",)]
    assert failed["status"] == "FAILED" and failed["error"] == "CrawlFailed"
    assert "no-such-bucket-for-sfn" in failed["cause"]


# --- persistence and Airflow -----------------------------------------------------------------------------------


def test_catalog_survives_a_clean_stop_and_restart(tmp_path):
    """A SIGTERM'd server comes back with the catalog and crawl history it acknowledged, and keeps crawling (AWS
    keeps them: Glue API reference, "GetCrawler" LastCrawl, "GetTable"). SIGKILL: test_glue_restart.py."""
    import boto3
    from server_process import start_server, stop_server

    from local_aws.server import free_port

    state, port = tmp_path / "state", free_port()
    proc, url = start_server(state, port)
    try:
        lake = Lake(lambda service: boto3.client(service, endpoint_url=url, region_name="us-east-1"))
        lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
        lake.put("raw/sales/dt=2021-12-02/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
        name = lake.crawler("raw/sales/", "raw_")
        before = lake.crawl(name)
        lake.glue.create_job(Name=f"{name}-job", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"},
                             DefaultArguments={"--run_date": "2021-12-01"}, GlueVersion="5.0")
        table_before = lake.table("raw_sales")
    finally:
        stop_server(proc)
    assert not (state / "glue").exists()  # no catalog file of our own: the state store holds moto's catalog

    proc, url = start_server(state, port)
    try:
        lake.glue = boto3.client("glue", endpoint_url=url, region_name="us-east-1")
        after = lake.glue.get_crawler(Name=name)["Crawler"]
        assert after["State"] == "READY"
        assert after["LastCrawl"] == before["LastCrawl"]
        assert after["Targets"] == before["Targets"] and after["TablePrefix"] == "raw_"
        table_after = lake.table("raw_sales")
        assert table_after["StorageDescriptor"] == table_before["StorageDescriptor"]
        assert table_after["CreateTime"] == table_before["CreateTime"]
        assert sorted(lake.partitions("raw_sales")) == [("2021-12-01",), ("2021-12-02",)]
        job = lake.glue.get_job(JobName=f"{name}-job")["Job"]
        assert job["DefaultArguments"] == {"--run_date": "2021-12-01"}
        # The restored crawler and catalog keep working: a new day is added to the restored table.
        lake.s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        lake.put("raw/sales/dt=2021-12-03/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
        assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"
        assert len(lake.partitions("raw_sales")) == 3
    finally:
        stop_server(proc)


def test_crawl_history_is_state_and_an_interrupted_crawl_fails_on_restore(lake):
    """Crawls are state of the Glue backends (saved without their locks and stop signals); a crawl that was
    running when the local AWS died is restored FAILED with a message (AWS's LastCrawl of a crawl that could not
    finish: Status FAILED with ErrorMessage, Glue API reference "LastCrawlInfo")."""
    from local_aws.services.glue_crawlers import CrawlHistoryBackend, crawl_backends
    from local_aws.state import pickling

    lake.put("h/orders/part.csv", "id\n1\n")
    name = lake.crawler("h/orders/", "h_")
    first = lake.crawl(name)["LastCrawl"]
    saved = pickling.loads(pickling.dumps(crawl_backends["123456789012"]["us-east-1"].saved_state()), resolve=None)
    assert not {"lock", "catalog_write", "cancels"} & set(saved)
    (crawl,) = saved["crawls"][name]
    assert (crawl.crawl_id, crawl.status) == (first["MessagePrefix"], "SUCCEEDED")

    crawl.phase, crawl.status, crawl.end_time = "RUNNING", "RUNNING", None  # as a crash left it
    fresh = CrawlHistoryBackend("us-east-1", "123456789012")
    fresh.restore_state(saved)
    restored = fresh.latest(name)
    assert (restored.phase, restored.status) == ("DONE", "FAILED")
    assert restored.error_message == "the local AWS stopped during the crawl"
    assert restored.end_time == restored.start_time  # its last known moment: restoring twice is the same


SENSOR_DAG = '''
from datetime import datetime

from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.sdk import DAG

with DAG(dag_id="local_crawler_check", start_date=datetime(2021, 12, 1), schedule=None, catchup=False):
    start = GlueCrawlerRunOperator(task_id="start_crawler", crawler_name="{crawler}", wait_for_completion=False)
    wait = GlueCrawlerSensor(task_id="wait_for_crawler", crawler_name="{crawler}", poke_interval=1, timeout=120)
    start >> wait
'''


@pytest.mark.e2e
def test_glue_crawler_sensor_in_airflow_dags_test(lake, local_aws, tmp_path, monkeypatch):
    from tiny_airflow import TinyAirflow

    monkeypatch.setenv("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "2")  # the sensor pokes while it is RUNNING
    lake.put("raw/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    name = lake.crawler("raw/sales/", "airflow_")
    airflow = TinyAirflow(tmp_path, local_aws.endpoint_url, "local_crawler_check.py",
                          SENSOR_DAG.format(crawler=name))
    returncode, _, output = airflow.dags_test("local_crawler_check")
    assert returncode == 0, output[-8000:]
    assert output.count("Poking for AWS Glue crawler") >= 2  # it poked while the crawl was RUNNING...
    assert "Status: SUCCEEDED" in output  # ...then saw READY with LastCrawl SUCCEEDED
    assert lake.glue.get_crawler(Name=name)["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert lake.partitions("airflow_sales") == {("2021-12-01",): f"s3://{lake.bucket}/raw/sales/dt=2021-12-01/"}


def test_all_text_csv_keeps_its_first_line_as_data_through_athena(lake):
    """AWS Glue developer guide, "Built-in classifiers" (CSV): when every column is a string, the first row is not
    sufficiently different to be a header: columns are col0, col1, ... and Athena reads the first line as a row."""
    lake.put("people/all/a.csv", "first_name,last_name,city\nann,lee,paris\nbob,kim,rome\ncy,ng,oslo\n")
    lake.crawl(lake.crawler("people/all/", "text_"))
    table = lake.table("text_all")
    assert columns(table) == [("col0", "string"), ("col1", "string"), ("col2", "string")]
    assert "skip.header.line.count" not in table["Parameters"]
    assert athena_rows(lake, "select col0, col2 from text_all order by col0") == [
        ["ann", "paris"], ["bob", "rome"], ["cy", "oslo"], ["first_name", "city"]]


def json_crawler(lake: Lake, prefix: str, configuration: dict | None = None) -> str:
    name = f"group-{uuid.uuid4().hex[:8]}"
    extra = {"Configuration": json.dumps(configuration)} if configuration else {}
    lake.glue.create_crawler(Name=name, Role="r", DatabaseName=lake.db,
                             Targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/{prefix}"}]}, **extra)
    return name


def test_dissimilar_folders_become_separate_tables(lake):
    """AWS Glue developer guide, "Creating a single schema for each Amazon S3 include path": files {"A","B"} under
    year=2017/ and {"C","D"} under year=2018/ are not similar enough, so by default the crawler creates two tables,
    year_2017 and year_2018; with Grouping.TableGroupingPolicy CombineCompatibleSchemas it creates one table with
    the schema A, B, C, D and the partition key year."""
    lake.put("grp/table1/year=2017/data1.json", '{"A": 1, "B": 2}\n')
    lake.put("grp/table1/year=2018/data2.json", '{"C": 3, "D": 4}\n')
    assert lake.crawl(json_crawler(lake, "grp/table1/"))["LastCrawl"]["Status"] == "SUCCEEDED"
    tables = {t["Name"]: t for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]}
    assert sorted(tables) == ["year_2017", "year_2018"]
    assert columns(tables["year_2017"]) == [("a", "bigint"), ("b", "bigint")]
    assert tables["year_2018"]["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/grp/table1/year=2018/"
    assert tables["year_2018"]["PartitionKeys"] == []

    lake.put("grp2/table1/year=2017/data1.json", '{"A": 1, "B": 2}\n')
    lake.put("grp2/table1/year=2018/data2.json", '{"C": 3, "D": 4}\n')
    combine = {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}}
    lake.crawl(json_crawler(lake, "grp2/table1/", combine))
    table = lake.table("table1")
    assert columns(table) == [("a", "bigint"), ("b", "bigint"), ("c", "bigint"), ("d", "bigint")]
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "string"}]


def test_similar_folders_are_partitions_of_one_table(lake):
    """"How does a crawler determine when to create partitions?": with include path folder1/ over table1/ and
    table2/ whose files have similar schemas, the crawler creates one table with two partition columns. Similar:
    70% of the smaller schema's columns in common (AWS Support's 70% threshold; the measure is ours)."""
    for folder, part in (("table1", "partition1"), ("table1", "partition2"), ("table2", "partition4")):
        lake.put(f"folder1/{folder}/{part}/file.csv", "id,name,city\n1,ann,paris\n")
    lake.put("folder1/table2/partition5/file.csv", "id,name,city,zip\n2,bob,rome,7\n")  # an added column
    lake.crawl(json_crawler(lake, "folder1/"))
    tables = lake.glue.get_tables(DatabaseName=lake.db)["TableList"]
    assert [t["Name"] for t in tables] == ["folder1"]
    assert [k["Name"] for k in tables[0]["PartitionKeys"]] == ["partition_0", "partition_1"]
    assert sorted(lake.partitions("folder1")) == [
        ("table1", "partition1"), ("table1", "partition2"), ("table2", "partition4"), ("table2", "partition5")]


def test_table_level_configuration_is_refused(lake):
    lake.put("lvl/t/a.csv", "id\n1\n")
    name = json_crawler(lake, "lvl/t/", {"Version": 1.0, "Grouping": {"TableLevelConfiguration": 2}})
    crawler = lake.crawl(name)
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert "TableLevelConfiguration" in crawler["LastCrawl"]["ErrorMessage"]


def test_header_only_file_of_an_empty_day_does_not_decide_the_schema(lake):
    """"Built-in classifiers" (CSV): a file needs two rows to be classified; a header-only file (an empty day)
    leaves the table's schema to the other files, and Athena reads it as no rows."""
    lake.put("quiet/sales/dt=2021-12-01/sales.csv", RAW_HEADER + "1,b,c,d,e\n")
    lake.put("quiet/sales/dt=2021-12-02/sales.csv", RAW_HEADER)
    lake.crawl(lake.crawler("quiet/sales/", "quiet_"))
    table = lake.table("quiet_sales")
    assert [c for c, _ in columns(table)] == ["card_id", "customer_id", "price", "product_id", "timestamp"]
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert athena_rows(lake, "select dt, count(*) from quiet_sales group by dt") == [["2021-12-01", "1"]]


def test_a_day_of_csv_csv_gz_and_an_empty_file_crawls_and_counts_every_record(lake):
    """"Built-in classifiers" (AWS Glue developer guide): gzip files are classified like their plain form and the
    table's compressionType names the codec; a 0-byte file is skipped. Athena reads .gz by extension ("Athena
    compression support"), so raw_day_count.sql counts the records of both files."""
    import gzip

    lake.put("raw/sales/dt=2021-12-01/part-0.csv", RAW_HEADER + "1,2,10.50,3,2021-12-01 10:00:00\n"
                                                                "4,5,1.25,6,2021-12-01 11:00:00\n")
    lake.put("raw/sales/dt=2021-12-01/part-1.csv.gz", gzip.compress((
        RAW_HEADER + "7,8,2.00,9,2021-12-01 12:00:00\n8,8,3.00,9,2021-12-01 13:00:00\n"
                     "9,8,4.00,9,2021-12-01 14:00:00\n").encode()))
    lake.put("raw/sales/dt=2021-12-01/part-2.csv", b"")
    crawler = lake.crawl(lake.crawler("raw/sales/", "raw_"))
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    assert columns(lake.table("raw_sales"))[0] == ("card_id", "bigint")
    assert athena_rows(lake, "select count(*) from raw_sales where dt = '2021-12-01'") == [["5"]]


def test_a_zip_of_one_csv_is_classified_csv(lake):
    """"Built-in classifiers" (AWS Glue developer guide): "Files in the following compressed formats can be
    classified: ZIP (supported for archives containing only a single file) ..."."""
    import zipfile

    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("part-0.csv", RAW_HEADER + "1,2,10.50,3,2021-12-01 10:00:00\n4,5,1.25,6,2021-12-01 11:00:00\n")
    lake.put("zipped/sales/dt=2021-12-01/part-0.csv.zip", sink.getvalue())
    crawler = lake.crawl(lake.crawler("zipped/sales/", "zip_"))
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    table = lake.table("zip_sales")
    assert table["Parameters"]["classification"] == "csv"
    assert columns(table) == [("card_id", "bigint"), ("customer_id", "bigint"), ("price", "double"),
                              ("product_id", "bigint"), ("timestamp", "string")]


def test_an_unknown_file_beside_good_csvs_and_an_exclusion_keeping_it_out(lake):
    """A binary file no classifier recognises, beside a day's good CSVs, is classified UNKNOWN ("Adding classifiers
    to a crawler in AWS Glue"); the crawler makes it a table of its own, named after the file ("The AWS Glue crawler
    creates multiple tables when your source data files don't use these same configurations: Format ...", AWS
    Knowledge Center "How can I prevent the AWS Glue crawler from creating multiple tables?"), and the CSVs keep
    their table, updated by the next day's crawl. "With this option [CombineCompatibleSchemas], the crawler still
    considers data compatibility" (format), so the pipeline's raw crawler configuration does the same. An exclude
    pattern keeps the file out of the crawl altogether ("Include and exclude patterns", S3Targets Exclusions); once
    the file is gone, DeleteBehavior applies to its table ("Setting crawler configuration options")."""
    for day in ("2021-12-01", "2021-12-02"):
        lake.put(f"raw/sales/dt={day}/part-0.csv", RAW_HEADER + f"1,2,10.50,3,{day} 10:00:00\n")
    lake.put("raw/sales/dt=2021-12-02/export.bin", bytes(range(256)) * 4)
    name = f"raw-{uuid.uuid4().hex[:8]}"
    lake.glue.create_crawler(  # the pipeline's RawCrawler (infra/cloudformation.json), deleting what is gone
        Name=name, Role="r", DatabaseName=lake.db, TablePrefix="raw_",
        Targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/raw/sales/"}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        Configuration=json.dumps({"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                                  "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}))
    crawler = lake.crawl(name)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    log = "\n".join(crawl_log(lake, crawler))
    assert "dt=2021-12-02/export.bin: not a CSV, JSON or Parquet file" in log and "classification UNKNOWN" in log
    sales = lake.table("raw_sales")
    assert sales["Parameters"]["classification"] == "csv" and sales["Parameters"]["objectCount"] == "2"
    assert sorted(lake.partitions("raw_sales")) == [("2021-12-01",), ("2021-12-02",)]
    unknown = lake.table("raw_export_bin")
    assert unknown["Parameters"]["classification"] == "UNKNOWN"
    assert unknown["StorageDescriptor"]["Columns"] == []
    assert unknown["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/raw/sales/dt=2021-12-02/export.bin"

    lake.put("raw/sales/dt=2021-12-03/part-0.csv", RAW_HEADER + "1,2,10.50,3,2021-12-03 10:00:00\n")
    assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"  # the next day is not failed by the bad file
    assert ("2021-12-03",) in lake.partitions("raw_sales")

    excluding = f"excl-{uuid.uuid4().hex[:8]}"
    lake.glue.create_crawler(Name=excluding, Role="r", DatabaseName=lake.db, TablePrefix="clean_", Targets={
        "S3Targets": [{"Path": f"s3://{lake.bucket}/raw/sales/", "Exclusions": ["**.bin"]}]})
    crawler = lake.crawl(excluding)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "export.bin" not in "\n".join(crawl_log(lake, crawler))
    assert sorted(t["Name"] for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]
                  if t["Name"].startswith("clean_")) == ["clean_sales"]

    lake.s3.delete_object(Bucket=lake.bucket, Key="raw/sales/dt=2021-12-02/export.bin")
    assert lake.crawl(name)["LastCrawl"]["Status"] == "SUCCEEDED"
    assert sorted(t["Name"] for t in lake.glue.get_tables(DatabaseName=lake.db)["TableList"]
                  if t["Name"].startswith("raw_")) == ["raw_sales"]
