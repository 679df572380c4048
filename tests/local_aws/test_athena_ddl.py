"""Athena DDL on the local AWS against the Glue catalog: CREATE/DROP DATABASE and CREATE TABLE AS.

Each test names the Athena SQL reference page it follows.
"""

from __future__ import annotations

import gzip
import io
import uuid

import pyarrow.parquet as pq
import pytest

from tests.local_aws.test_athena import Lake, values


@pytest.fixture(scope="module")
def lake(local_aws) -> Lake:
    lake = Lake(local_aws)
    lake.put("src/a.csv", b"1,ann,2021-12-01,10.5\n2,bob,2021-12-01,\n3,cy,2021-12-02,7\n")
    lake.run(f"CREATE EXTERNAL TABLE src (id bigint, name string, dt string, amount double) "
             f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://{lake.bucket}/src/'")
    return lake


def failure(lake: Lake, sql: str, **kwargs) -> str:
    execution = lake.wait(lake.start(sql, **kwargs))
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    return execution["Status"]["StateChangeReason"]


def test_create_database_registers_it_in_the_glue_catalog(lake):
    """CREATE DATABASE (Athena SQL reference, create-database.html): COMMENT, LOCATION and WITH DBPROPERTIES become
    the Glue database's Description, LocationUri and Parameters; IF NOT EXISTS makes a repeat a no-op; without it
    a repeat fails with Hive's AlreadyExistsException."""
    name = f"made_{uuid.uuid4().hex[:6]}"
    execution, _ = lake.run(f"CREATE DATABASE {name} COMMENT 'made by athena' LOCATION 's3://{lake.bucket}/db/' "
                            "WITH DBPROPERTIES ('creator'='test', 'team'='lake')")
    assert (execution["StatementType"], execution["SubstatementType"]) == ("DDL", "CREATE_DATABASE")
    database = lake.glue.get_database(Name=name)["Database"]
    assert database["Description"] == "made by athena"
    assert database["LocationUri"] == f"s3://{lake.bucket}/db/"
    assert database["Parameters"] == {"creator": "test", "team": "lake"}
    lake.run(f"CREATE SCHEMA IF NOT EXISTS {name}")
    assert failure(lake, f"CREATE DATABASE {name}") == (
        "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
        f"AlreadyExistsException(message:Database {name} already exists)"
    )
    _, shown = lake.run(f"SHOW DATABASES LIKE '{name}'")
    assert values(shown) == [[name]]


def test_drop_database_restrict_by_default_and_cascade(lake):
    """DROP DATABASE (drop-database.html): RESTRICT, the default, does not drop a database that contains tables;
    CASCADE drops it and its tables (an external table's data stays in S3); IF EXISTS suppresses the error for a
    database that does not exist."""
    name = f"gone_{uuid.uuid4().hex[:6]}"
    lake.run(f"CREATE DATABASE {name}")
    lake.run(f"CREATE EXTERNAL TABLE {name}.t (id bigint) LOCATION 's3://{lake.bucket}/src/'")
    assert failure(lake, f"DROP DATABASE {name}") == (
        "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
        f"InvalidOperationException(message:Database {name} is not empty. One or more tables exist.)"
    )
    execution, _ = lake.run(f"DROP SCHEMA {name} CASCADE")
    assert execution["SubstatementType"] == "DROP_DATABASE"
    assert name not in [d["Name"] for d in lake.glue.get_databases()["DatabaseList"]]
    assert lake.keys_under("src/") == ["src/a.csv"]
    assert failure(lake, f"DROP DATABASE {name}") == (
        f"FAILED: SemanticException [Error 10072]: Database does not exist: {name}"
    )
    lake.run(f"DROP DATABASE IF EXISTS {name}")


def test_ctas_parquet_partitioned_written_and_registered(lake):
    """CREATE TABLE AS (create-table-as.html, "CTAS table properties"): format, external_location and
    partitioned_by; the partition columns come last; the rows are written to S3 and the table and its partitions
    registered in the Glue catalog; UpdateCount is the number of rows written."""
    execution, results = lake.run(
        "CREATE TABLE ctas_parquet WITH (format = 'PARQUET', external_location = "
        f"'s3://{lake.bucket}/ctas/parquet/', partitioned_by = ARRAY['dt']) AS "
        "SELECT id, upper(name) AS name, amount, dt FROM src"
    )
    assert (execution["StatementType"], execution["SubstatementType"]) == ("DDL", "CREATE_TABLE_AS_SELECT")
    assert results["UpdateCount"] == 3
    table = lake.glue.get_table(DatabaseName=lake.db, Name="ctas_parquet")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"), ("name", "string"), ("amount", "double")]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    partitions = lake.glue.get_partitions(DatabaseName=lake.db, TableName="ctas_parquet")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2021-12-01", "2021-12-02"]
    keys = lake.keys_under("ctas/parquet/")
    assert [k.rsplit("/", 2)[1] for k in keys] == ["dt=2021-12-01", "dt=2021-12-02"]
    written = pq.read_table(io.BytesIO(lake.s3.get_object(Bucket=lake.bucket, Key=keys[0])["Body"].read()))
    assert written.column_names == ["id", "name", "amount"]
    _, back = lake.run("SELECT id, name, amount, dt FROM ctas_parquet WHERE dt = '2021-12-01' ORDER BY id")
    assert values(back)[1:] == [["1", "ANN", "10.5", "2021-12-01"], ["2", "BOB", None, "2021-12-01"]]


def test_ctas_textfile_with_delimiter_and_default_location(lake):
    """create-table-as.html: format TEXTFILE with field_delimiter (NULL is written \\N, as LazySimpleSerDe reads
    it), write_compression NONE; without external_location the files go under the query result location,
    tables/<query id>/."""
    execution, _ = lake.run(
        "CREATE TABLE ctas_text WITH (format = 'TEXTFILE', field_delimiter = ',', write_compression = 'NONE') AS "
        "SELECT id, amount FROM src WHERE id < 3"
    )
    query_id = execution["QueryExecutionId"]
    listing = lake.s3.list_objects_v2(Bucket=lake.results, Prefix=f"adhoc/tables/{query_id}/")["Contents"]
    body = lake.s3.get_object(Bucket=lake.results, Key=listing[0]["Key"])["Body"].read()
    assert body.decode().splitlines() == ["1,10.5", "2,\\N"]
    table = lake.glue.get_table(DatabaseName=lake.db, Name="ctas_text")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{lake.results}/adhoc/tables/{query_id}/"
    _, back = lake.run("SELECT sum(id), count(amount) FROM ctas_text")
    assert values(back)[1] == ["3", "1"]


def test_ctas_json_gzip_by_default(lake):
    """create-table-as.html: format JSON writes the Hive JSON SerDe's one object per line, GZIP-compressed by
    default."""
    lake.run(f"CREATE TABLE ctas_json WITH (format = 'JSON', external_location = 's3://{lake.bucket}/ctas/json/') "
             "AS SELECT id, name FROM src WHERE id = 3")
    [key] = lake.keys_under("ctas/json/")
    assert key.endswith(".gz")
    body = gzip.decompress(lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read())
    assert body == b'{"id":3,"name":"cy"}\n'
    table = lake.glue.get_table(DatabaseName=lake.db, Name="ctas_json")["Table"]
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"


def test_ctas_refusals(lake):
    """create-table-as.html: the external_location must be empty (HIVE_PATH_ALREADY_EXISTS); partition columns must
    be the last ones (HIVE_COLUMN_ORDER_MISMATCH); an existing table fails (TABLE_ALREADY_EXISTS); a property not
    emulated here (bucketing) is refused by name."""
    reason = failure(lake, f"CREATE TABLE ctas_busy WITH (external_location = 's3://{lake.bucket}/src/') AS "
                           "SELECT 1 AS one")
    assert reason == (f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{lake.db}.ctas_busy' already exists: "
                      f"s3://{lake.bucket}/src/")
    reason = failure(lake, f"CREATE TABLE ctas_order WITH (external_location = 's3://{lake.bucket}/ctas/order/', "
                           "partitioned_by = ARRAY['dt']) AS SELECT dt, id FROM src")
    assert reason.startswith("HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns")
    reason = failure(lake, "CREATE TABLE src AS SELECT 1 AS one")
    assert reason == f"TABLE_ALREADY_EXISTS: Table 'awsdatacatalog.{lake.db}.src' already exists"
    reason = failure(lake, f"CREATE TABLE ctas_bucket WITH (external_location = 's3://{lake.bucket}/ctas/b/', "
                           "bucketed_by = ARRAY['id'], bucket_count = 2) AS SELECT id FROM src")
    assert reason.startswith("NOT_SUPPORTED:") and "bucketed_by" in reason
    assert lake.keys_under("ctas/order/") == [] and lake.keys_under("ctas/b/") == []
