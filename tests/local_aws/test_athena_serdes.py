"""Athena's text SerDes on the local AWS: each test names the Athena doc page it follows.

Tables are created through Athena DDL (CREATE EXTERNAL TABLE ... ROW FORMAT SERDE ... WITH SERDEPROPERTIES), over
files put in the local S3, and read with SELECT, as a user would on AWS.
"""

from __future__ import annotations

import gzip

import pytest

from tests.local_aws.test_athena import Lake, types, values

OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON = "org.apache.hive.hcatalog.data.JsonSerDe"
LAZY = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


@pytest.fixture(scope="module")
def lake(local_aws) -> Lake:
    return Lake(local_aws)


def table(lake: Lake, name: str, columns: str, files: dict[str, bytes], row_format: str, tblproperties: str = ""):
    """Put ``files`` under ``<name>/`` and CREATE EXTERNAL TABLE ``name`` over them."""
    for file_name, body in files.items():
        lake.put(f"{name}/{file_name}", body)
    props = f" TBLPROPERTIES ({tblproperties})" if tblproperties else ""
    lake.run(f"CREATE EXTERNAL TABLE {name} ({columns}) {row_format} "
             f"LOCATION 's3://{lake.bucket}/{name}/'{props}")


def failure(lake: Lake, sql: str) -> str:
    execution = lake.wait(lake.start(sql))
    assert execution["Status"]["State"] == "FAILED", execution["Status"]
    return execution["Status"]["StateChangeReason"]


def open_csv(properties: str = "'separatorChar'=',', 'quoteChar'='\"'") -> str:
    return f"ROW FORMAT SERDE '{OPEN_CSV}' WITH SERDEPROPERTIES ({properties}) STORED AS TEXTFILE"


QUOTED = b'"id","amount"\n"1","10"\n"2","25"\n'


def test_open_csv_removes_quotes_for_string_columns(lake):
    """Open CSV SerDe for processing CSV (docs.aws.amazon.com/athena/latest/ug/csv-serde.html): quoteChar values
    lose their quotes; every column reads as a string."""
    table(lake, "ocsv_strings", "id string, amount string", {"a.csv": QUOTED}, open_csv(),
          "'skip.header.line.count'='1'")
    _, results = lake.run("SELECT id, amount FROM ocsv_strings ORDER BY id")
    assert values(results)[1:] == [["1", "10"], ["2", "25"]]
    assert types(results) == ["varchar", "varchar"]


def test_open_csv_recognises_int_bigint_double_boolean(lake):
    """csv-serde.html, "Considerations for non-string data": BOOLEAN, BIGINT, INT and DOUBLE are recognised."""
    body = b'"id","amount","ratio","ok"\n"1","10","0.5","TRUE"\n"2","9000000000","1e2","false"\n'
    table(lake, "ocsv_typed", "id int, amount bigint, ratio double, ok boolean", {"a.csv": body}, open_csv(),
          "'skip.header.line.count'='1'")
    _, results = lake.run("SELECT id, amount, ratio, ok, id + 1 AS next FROM ocsv_typed ORDER BY id")
    assert values(results)[1:] == [["1", "10", "0.5", "true", "2"], ["2", "9000000000", "100.0", "false", "3"]]
    assert types(results) == ["integer", "bigint", "double", "boolean", "integer"]


def test_open_csv_empty_numeric_fails_unless_null_for_invalid_data(lake):
    """csv-serde.html: empty values in numeric columns are not recognised (the query fails with HIVE_BAD_DATA);
    "Using NULL for invalid data": the table property use.null.for.invalid.data makes them NULL. An empty string
    column stays an empty string, not NULL."""
    body = b'1,,x\n2,5,\n'
    table(lake, "ocsv_empty", "id int, amount int, note string", {"a.csv": body}, open_csv())
    reason = failure(lake, "SELECT * FROM ocsv_empty")
    assert reason.startswith("HIVE_BAD_DATA: Error parsing field value '' for field 1: For input string: \"\"")
    table(lake, "ocsv_empty_null", "id int, amount int, note string", {"a.csv": body}, open_csv(),
          "'use.null.for.invalid.data'='TRUE'")
    _, results = lake.run("SELECT id, amount, note, note = '' FROM ocsv_empty_null ORDER BY id")
    assert values(results)[1:] == [["1", None, "x", "false"], ["2", "5", "", "true"]]


def test_open_csv_timestamp_in_unix_milliseconds_and_other_types_refused(lake):
    """csv-serde.html: TIMESTAMP is recognised in UNIX numeric format (milliseconds) only, DATE as days since the
    epoch; a JDBC timestamp string is not. DECIMAL is not among the recognised types: refused by name here."""
    table(lake, "ocsv_time", "ts timestamp, d date", {"a.csv": b'"1579059880000","18275"\n'}, open_csv())
    _, results = lake.run("SELECT ts, d FROM ocsv_time")
    assert values(results)[1] == ["2020-01-15 03:44:40.000", "2020-01-14"]
    table(lake, "ocsv_jdbc_ts", "ts timestamp", {"a.csv": b'"2020-01-15 03:44:40"\n'}, open_csv())
    assert failure(lake, "SELECT ts FROM ocsv_jdbc_ts").startswith("HIVE_BAD_DATA: Error parsing field value")
    table(lake, "ocsv_decimal", "price decimal(10,2)", {"a.csv": b'"1.50"\n'}, open_csv())
    reason = failure(lake, "SELECT price FROM ocsv_decimal")
    assert reason.startswith("NOT_SUPPORTED:") and "price decimal(10,2)" in reason


def test_open_csv_custom_separator_quote_and_escape(lake):
    """csv-serde.html: separatorChar, quoteChar and escapeChar are SerDe properties."""
    body = b"`a;b`;`it\\`s`;plain\n"
    table(lake, "ocsv_custom", "a string, b string, c string", {"a.csv": body},
          open_csv("'separatorChar'=';', 'quoteChar'='`', 'escapeChar'='\\\\'"))
    _, results = lake.run("SELECT a, b, c FROM ocsv_custom")
    assert values(results)[1] == ["a;b", "it`s", "plain"]


def test_lazy_simple_keeps_double_quotes_as_data(lake):
    """Lazy Simple SerDe for CSV, TSV, and custom-delimited files (lazy-simple-serde.html): use it when values are
    not enclosed in quotes; quotes are not interpreted, so they stay part of the value. A value that does not
    parse as its column's type is NULL; serialization.null.format (default \\N) is NULL."""
    body = b'"1","10",\\N\n2,x,y\n'
    table(lake, "lazy_quotes", "id string, amount int, note string", {"a.csv": body},
          "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE")
    _, results = lake.run("SELECT id, amount, note FROM lazy_quotes ORDER BY id")
    assert values(results)[1:] == [['"1"', None, None], ["2", None, "y"]]


def test_lazy_simple_custom_delimiter_null_format_and_header(lake):
    """lazy-simple-serde.html: FIELDS TERMINATED BY for custom delimiters, skip.header.line.count; Hive's
    serialization.null.format SerDe property names the NULL text. Missing trailing fields are NULL."""
    body = b"id|name|score\n1|ann|NA\n2|NA|7\n3\n"
    table(lake, "lazy_pipe", "id bigint, name string, score double", {"a.txt": body},
          "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe' "
          "WITH SERDEPROPERTIES ('field.delim'='|', 'serialization.null.format'='NA') STORED AS TEXTFILE",
          "'skip.header.line.count'='1'")
    _, results = lake.run("SELECT id, name, score FROM lazy_pipe ORDER BY id")
    assert values(results)[1:] == [["1", "ann", None], ["2", None, "7.0"], ["3", None, None]]


def test_gzip_text_files_are_read(lake):
    """Athena compression support (compression-formats.html): the codec is found from the file extension."""
    table(lake, "lazy_gz", "id int, name string", {"a.csv.gz": gzip.compress(b"1,ann\n2,bob\n")},
          "ROW FORMAT DELIMITED FIELDS TERMINATED BY ','")
    _, results = lake.run("SELECT sum(id), max(name) FROM lazy_gz")
    assert values(results)[1] == ["3", "bob"]


def test_location_with_double_slash_reads_the_folder(lake):
    """Specify a table location in Amazon S3 (tables-location-format.html): Athena removes the empty folder of a
    path such as s3://bucket/folder//folder/ and reads s3://bucket/folder/folder/."""
    lake.put("nested/deep/a.csv", b"1,ann\n")
    lake.run(f"CREATE EXTERNAL TABLE slashes (id int, name string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
             f"LOCATION 's3://{lake.bucket}/nested//deep/'")
    _, results = lake.run("SELECT id, name FROM slashes")
    assert values(results)[1:] == [["1", "ann"]]
    stored = lake.glue.get_table(DatabaseName=lake.db, Name="slashes")["Table"]["StorageDescriptor"]["Location"]
    assert stored == f"s3://{lake.bucket}/nested/deep/"
    # a table registered through the Glue API keeps the path as given; Athena still reads the folder
    lake.glue.create_table(DatabaseName=lake.db, TableInput={
        "Name": "slashes_glue", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv"},
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "int"}, {"Name": "name", "Type": "string"}],
                              "Location": f"s3://{lake.bucket}/nested//deep/",
                              "SerdeInfo": {"SerializationLibrary": LAZY, "Parameters": {"field.delim": ","}}}})
    _, results = lake.run("SELECT count(*) FROM slashes_glue")
    assert values(results)[1] == ["1"]


EVENTS = (b'{"Id": 1, "UserName": "ann", "a.b": "x"}\n'
          b'{"id": 2, "username": "bob", "a.b": "y"}\n')


def test_openx_case_insensitive_by_default_and_dots_in_keys(lake):
    """OpenX JSON SerDe (openx-json-serde.html): case.insensitive defaults to TRUE (keys are matched lower-cased);
    dots.in.keys=TRUE turns the dots of key names into underscores."""
    table(lake, "openx_default", "id int, username string, a_b string", {"e.json": EVENTS},
          f"ROW FORMAT SERDE '{OPENX}' WITH SERDEPROPERTIES ('dots.in.keys'='TRUE')")
    _, results = lake.run("SELECT id, username, a_b FROM openx_default ORDER BY id")
    assert values(results)[1:] == [["1", "ann", "x"], ["2", "bob", "y"]]


def test_openx_case_sensitive_with_mapping(lake):
    """openx-json-serde.html: with case.insensitive=FALSE keys match exactly, and mapping.<column> names the key a
    column reads (Athena column names are lower case)."""
    table(lake, "openx_mapped", "id int, username string", {"e.json": EVENTS},
          f"ROW FORMAT SERDE '{OPENX}' WITH SERDEPROPERTIES ('case.insensitive'='FALSE', "
          "'mapping.username'='UserName')")
    _, results = lake.run("SELECT id, username FROM openx_mapped ORDER BY id NULLS LAST")
    assert values(results)[1:] == [["2", None], [None, "ann"]]


def test_openx_malformed_json_fails_or_is_ignored(lake):
    """openx-json-serde.html: a line that is not a JSON object fails the query (HIVE_CURSOR_ERROR: Row is not a
    valid JSON Object); ignore.malformed.json=TRUE skips the malformed syntax (the row reads as NULLs)."""
    body = b'{"id": 1}\n{"id": 2\n'
    table(lake, "openx_bad", "id int", {"e.json": body}, f"ROW FORMAT SERDE '{OPENX}'")
    assert failure(lake, "SELECT * FROM openx_bad").startswith(
        "HIVE_CURSOR_ERROR: Row is not a valid JSON Object")
    table(lake, "openx_ignored", "id int", {"e.json": body},
          f"ROW FORMAT SERDE '{OPENX}' WITH SERDEPROPERTIES ('ignore.malformed.json'='TRUE')")
    _, results = lake.run("SELECT count(*), count(id) FROM openx_ignored")
    assert values(results)[1] == ["2", "1"]


def test_hive_json_serde_reads_and_refuses_openx_properties(lake):
    """Hive JSON SerDe (hive-json-serde.html): one JSON object per line. ignore.malformed.json is an OpenX property
    ("Unlike the Hive JSON SerDe, the OpenX JSON SerDe also has..."): refused here by name."""
    table(lake, "hive_json", "id int, username string", {"e.json": EVENTS}, f"ROW FORMAT SERDE '{HIVE_JSON}'")
    _, results = lake.run("SELECT id, username FROM hive_json ORDER BY id")
    assert values(results)[1:] == [["1", "ann"], ["2", "bob"]]
    table(lake, "hive_json_prop", "id int", {"e.json": EVENTS},
          f"ROW FORMAT SERDE '{HIVE_JSON}' WITH SERDEPROPERTIES ('ignore.malformed.json'='TRUE')")
    reason = failure(lake, "SELECT id FROM hive_json_prop")
    assert reason.startswith("NOT_SUPPORTED:") and "'ignore.malformed.json'" in reason


def test_serde_not_emulated_is_refused_by_name(lake):
    """What is not emulated is refused naming it (a RegexSerDe table; an unknown SerDe property)."""
    regex = "org.apache.hadoop.hive.serde2.RegexSerDe"
    table(lake, "regex_logs", "line string", {"a.log": b"x\n"},
          f"ROW FORMAT SERDE '{regex}' WITH SERDEPROPERTIES ('input.regex'='(.*)')")
    reason = failure(lake, "SELECT * FROM regex_logs")
    assert reason.startswith("NOT_SUPPORTED:") and regex in reason
    table(lake, "ocsv_prop", "a string", {"a.csv": b"x\n"}, open_csv("'separatorChar'=',', 'strictQuotes'='true'"))
    reason = failure(lake, "SELECT * FROM ocsv_prop")
    assert "'strictQuotes'" in reason and OPEN_CSV in reason
