"""COPY and UNLOAD parameters, STL_LOAD_ERRORS and columnar type compatibility on the local Redshift's engine, over
the in-process local S3 (no server: the engine decides these). Each test names the AWS doc page it follows."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import json
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
from moto.s3.models import s3_backends

from local_aws import ACCOUNT_ID, s3io
from local_aws.redshift.engine import Database
from local_aws.redshift.errors import RedshiftError, UnsupportedError

ROLE = "arn:aws:iam::123456789012:role/loader"
FAILED = "Load into table '{}' failed. Check 'stl_load_errors' system table for details."


class Engine:
    def __init__(self):
        self.bucket = f"copy-{uuid.uuid4().hex[:10]}"
        s3_backends[ACCOUNT_ID]["global"].create_bucket(self.bucket, "us-east-1")
        self.database = Database("copy", "dev", None)
        self.connection = self.database.cursor()

    def put(self, key: str, body: bytes | str) -> str:
        s3io.put_bytes(self.bucket, key, body.encode() if isinstance(body, str) else body)
        return f"s3://{self.bucket}/{key}"

    def run(self, statement: str):
        return self.connection.run(statement)

    def rows(self, statement: str) -> list[tuple]:
        return self.run(statement).rows

    def error(self, statement: str) -> str:
        with pytest.raises(RedshiftError) as caught:
            self.run(statement)
        return str(caught.value)

    def load_errors(self) -> list[tuple]:
        return self.rows("select trim(filename), line_number, trim(colname), err_code, trim(err_reason), "
                         "trim(raw_line), trim(raw_field_value) from stl_load_errors order by starttime, line_number")


@pytest.fixture
def engine():
    made = Engine()
    yield made
    made.connection.close()
    made.database.close()


def test_emptyasnull_blanksasnull(engine):
    """"Data conversion parameters" (copy-parameters-data-conversion): EMPTYASNULL loads empty CHAR/VARCHAR fields
    as NULL, BLANKSASNULL white-space-only ones; without them they stay '' and '   '; empty fields of other
    types always load as NULL."""
    source = engine.put("e/rows.csv", "1,,x\n2,   ,y\n,z,w\n")
    engine.run("create table e (id int, name varchar(10), tag varchar(3))")
    assert engine.run(f"copy e from '{source}' iam_role '{ROLE}' csv").result_rows == 3
    assert engine.rows("select id, name from e order by id nulls last") == [(1, ""), (2, "   "), (None, "z")]
    engine.run("delete from e")
    engine.run(f"copy e from '{source}' iam_role '{ROLE}' csv emptyasnull blanksasnull")
    assert engine.rows("select id, name from e order by id nulls last") == [(1, None), (2, None), (None, "z")]


def test_string_length_exceeds_ddl_length_and_maxerror(engine):
    """"STL_LOAD_ERRORS" (r_STL_LOAD_ERRORS) and "Load error reference": a field longer (in bytes) than its column
    is rejected with 1204 "String length exceeds DDL length"; more rejected lines than MAXERROR (default 0) fail
    the COPY ("Load into table ... failed. Check 'stl_load_errors' ..."), within MAXERROR they are skipped."""
    source = engine.put("l/rows.txt", "1|short\n2|much too long\n3|ééé\n")
    engine.run("create table l (id int, word varchar(5))")
    assert engine.error(f"copy l from '{source}' iam_role '{ROLE}'") == FAILED.format("l")
    assert engine.rows("select count(*) from l") == [(0,)]
    assert engine.load_errors() == [
        (source, 2, "word", 1204, "String length exceeds DDL length", "2|much too long", "much too long"),
        (source, 3, "word", 1204, "String length exceeds DDL length", "3|...", "ééé"),  # multibyte: a period each
    ]
    assert engine.rows("select trim(file_name), line_number, trim(column_name), trim(column_type), "
                       "trim(column_length), error_code, trim(error_message), database_name "
                       "from sys_load_error_detail order by line_number") == [
        (source, 2, "word", "varchar", "5", 1204, "String length exceeds DDL length", "dev"),
        (source, 3, "word", "varchar", "5", 1204, "String length exceeds DDL length", "dev")]
    assert engine.run(f"copy l from '{source}' iam_role '{ROLE}' maxerror 2").result_rows == 1
    assert engine.run(f"copy l from '{source}' iam_role '{ROLE}' truncatecolumns").result_rows == 3
    assert engine.rows("select word from l order by id, word") == [("short",), ("short",), ("much ",), ("éé",)]


def test_conversion_errors_name_line_column_and_reason(engine):
    """"Load error reference": invalid digits (1207), missing columns ("Delimiter not found", 1214), extra
    columns (1202), NULL into NOT NULL (1213), bad timestamps (1206); each with its line number and column."""
    source = engine.put("c/rows.csv", "id,amount,at\n1,2.50,2021-01-01 10:00:00\nx1,3,2021-01-01\n2,4\n"
                                      "3,5,2021-01-01,9\n,6,2021-01-01\n4,7,not a time\n")
    engine.run("create table c (id int not null, amount decimal(10,2), at timestamp)")
    assert engine.error(f"copy c from '{source}' iam_role '{ROLE}' csv ignoreheader 1 maxerror 4") == \
        FAILED.format("c")
    assert [row[1:5] for row in engine.load_errors()] == [
        (3, "id", 1207, "Invalid digit, Value 'x', Pos 0, Type: Integer"),
        (4, "at", 1214, "Delimiter not found"),
        (5, "at", 1202, "Extra column(s) found"),
        (6, "id", 1213, "Missing data for not-null field"),
        (7, "at", 1206, "Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]"),
    ]
    assert engine.run(f"copy c from '{source}' iam_role '{ROLE}' csv ignoreheader 1 maxerror 5").result_rows == 1
    assert engine.rows("select id, amount from c") == [(1, Decimal("2.50"))]


def test_decimals_truncate_unless_roundec_and_formats(engine):
    """"Data conversion parameters": COPY truncates digits beyond the column's scale unless ROUNDEC; DATEFORMAT
    and TIMEFORMAT read the given layout, 'epochsecs' seconds since 1970; NULL AS names the null string (default
    '\\N'); FILLRECORD loads missing trailing columns as NULL; ACCEPTANYDATE loads a date it cannot read as NULL."""
    source = engine.put("d/rows.txt", "1.239|05/01/2021|1609459200\n2.5|\\N|0\n3.001\n4|99/99/2021|0\n")
    engine.run("create table d (amount decimal(10,2), day date, at timestamp)")
    common = f"copy d from '{source}' iam_role '{ROLE}' dateformat 'DD/MM/YYYY' timeformat 'epochsecs' fillrecord"
    assert engine.run(f"{common} acceptanydate").result_rows == 4
    assert engine.rows("select * from d order by amount") == [
        (Decimal("1.23"), dt.date(2021, 1, 5), dt.datetime(2021, 1, 1)),
        (Decimal("2.50"), None, dt.datetime(1970, 1, 1)), (Decimal("3.00"), None, None),
        (Decimal("4.00"), None, dt.datetime(1970, 1, 1))]
    engine.run("delete from d")
    assert engine.error(f"{common} roundec") == FAILED.format("d")  # 99/99/2021 is no date
    engine.run(f"{common} roundec maxerror 1")
    assert engine.rows("select amount from d order by amount")[0] == (Decimal("1.24"),)


def test_text_options_and_compression(engine):
    """"Data format parameters" and "File compression parameters": REMOVEQUOTES, TRIMBLANKS, IGNOREBLANKLINES,
    ACCEPTINVCHARS (each invalid byte becomes the replacement character), ENCODING, BZIP2 and ZSTD; GZIP only
    when named (a .gz text object is not decompressed by its extension)."""
    engine.run("create table t (id int, word varchar(10))")
    quoted = engine.put("t/quoted.txt", '1|"a|b"\n\n2|"c"  \n')
    assert engine.run(f"copy t from '{quoted}' iam_role '{ROLE}' removequotes trimblanks ignoreblanklines"
                      ).result_rows == 2
    invalid = engine.put("t/invalid.txt", b"3|caf\xe9\n")
    assert engine.error(f"copy t from '{invalid}' iam_role '{ROLE}'") == FAILED.format("t")
    assert engine.load_errors()[-1][3:5] == (1220, "String contains invalid or unsupported UTF8 codepoints. "
                                                   "Bad UTF8 hex sequence: e9")
    engine.run(f"copy t from '{invalid}' iam_role '{ROLE}' acceptinvchars as '^'")
    utf16 = engine.put("t/utf16.txt", "4|wide\n".encode("utf-16"))
    engine.run(f"copy t from '{utf16}' iam_role '{ROLE}' encoding utf16")
    engine.run(f"copy t from '{engine.put('t/b.bz2', bz2.compress(b'5|bz'))}' iam_role '{ROLE}' bzip2")
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as stream:
        stream.write(b"6|zs\n")
    engine.run(f"copy t from '{engine.put('t/z.zst', sink.getvalue().to_pybytes())}' iam_role '{ROLE}' zstd")
    assert engine.rows("select id, word from t order by id") == [
        (1, "a|b"), (2, "c"), (3, "caf^"), (4, "wide"), (5, "bz"), (6, "zs")]
    gz = engine.put("t/g/x.gz", gzip.compress(b"7|gz\n"))
    assert engine.error(f"copy t from '{gz}' iam_role '{ROLE}'") == FAILED.format("t")


def test_json_auto_matches_keys_exactly(engine):
    """"COPY from JSON format" (copy-usage_notes-copy-from-json): 'auto' matches keys to the (lower-case) column
    names exactly; 'auto ignorecase' ignores case."""
    source = engine.put("j/rows.json", json.dumps({"ID": 1, "name": "a"}) + "\n")
    engine.run("create table j (id int, name varchar(5))")
    engine.run(f"copy j from '{source}' iam_role '{ROLE}' format as json 'auto'")
    engine.run(f"copy j from '{source}' iam_role '{ROLE}' format as json 'auto ignorecase'")
    assert engine.rows("select id, name from j order by id nulls first") == [(None, "a"), (1, "a")]


def test_unknown_and_unsupported_parameters_are_refused_by_name(engine):
    """"COPY parameter reference" and "COPY from columnar data formats": a parameter the local COPY does not
    implement is refused naming it; columnar COPY takes only a few parameters (REGION, MAXERROR ... fail)."""
    source = engine.put("u/x.txt", "1\n")
    engine.run("create table u (id int)")
    for option in ("manifest", "escape", "explicit_ids", "fixedwidth 'id:1'", "lzop", "encrypted", "bogus"):
        with pytest.raises(UnsupportedError, match=f"COPY option {option.split()[0].upper()}"):
            engine.run(f"copy u from '{source}' iam_role '{ROLE}' {option}")
    with pytest.raises(UnsupportedError, match="COPY FORMAT AVRO"):
        engine.run(f"copy u from '{source}' iam_role '{ROLE}' format as avro 'auto'")
    assert engine.error(f"copy u from '{source}' iam_role '{ROLE}' format as parquet region 'us-east-1'") == \
        "REGION argument is not supported for PARQUET based COPY"
    assert engine.error(f"copy u from '{source}' iam_role '{ROLE}' format as parquet maxerror 10") == \
        "MAXERROR argument is not supported for PARQUET based COPY"
    assert engine.error(f"copy u from '{source}' iam_role '{ROLE}' quote as '%'") == \
        "QUOTE argument is only supported for CSV based COPY"
    assert engine.error(f"copy u from '{source}' iam_role '{ROLE}' region 'eu-west-1'").startswith(
        "S3ServiceException:The bucket you are attempting to access must be addressed using the specified endpoint")


def test_authorization_parameters(engine):
    """"Authorization parameters" (copy-parameters-authorization): IAM_ROLE, CREDENTIALS 'aws_iam_role=...' or
    'aws_access_key_id=...;aws_secret_access_key=...[;token=...]', ACCESS_KEY_ID/SECRET_ACCESS_KEY[/SESSION_TOKEN];
    one of them, exactly."""
    source = engine.put("a/x.txt", "1\n")
    engine.run("create table a (id int)")
    for auth in (f"credentials 'aws_iam_role={ROLE}'", "credentials 'aws_access_key_id=AKIA1;aws_secret_access_key=s'",
                 "with credentials as 'aws_access_key_id=AKIA1;aws_secret_access_key=s;token=t'",
                 "access_key_id 'AKIA1' secret_access_key 's' session_token 't'", "iam_role default"):
        assert engine.run(f"copy a from '{source}' {auth}").result_rows == 1
    assert engine.error(f"copy a from '{source}' credentials 'aws_access_key_id=AKIA1'").startswith(
        "Invalid credentials. Must be of the format: credentials 'aws_iam_role=...' or")
    assert engine.error(f"copy a from '{source}' access_key_id 'AKIA1'").startswith("Invalid credentials.")
    assert engine.error(f"copy a from '{source}' iam_role '{ROLE}' access_key_id 'A' secret_access_key 's'") == \
        "conflicting or redundant options"
    assert engine.error(f"copy a from '{source}'").startswith("Missing credentials")


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_parquet_string_into_decimal_fails_the_copy(engine):
    """"COPY from columnar data formats" and the Spectrum type mapping: a Parquet string column does not load into a
    DECIMAL(10,2) column; the COPY fails with Spectrum's "incompatible Parquet schema" error (AWS knowledge center
    "How do I resolve data incompatibility errors in Redshift Spectrum?") instead of casting."""
    engine.run("create table p (id bigint, price decimal(10,2))")
    source = engine.put("p/bad/part-0.parquet", parquet(pa.table({"id": pa.array([1], pa.int64()),
                                                                   "price": pa.array(["9.99"])})))
    message = engine.error(f"copy p from '{source}' iam_role '{ROLE}' format as parquet")
    assert message.startswith(f"Spectrum Scan Error: File '{source}' has an incompatible Parquet schema for column "
                              f"'{source}.price'. Column type: DECIMAL(10,2), Parquet schema:\noptional byte_array")
    for arrow, ok in ((pa.decimal128(10, 2), True), (pa.decimal128(8, 2), True), (pa.decimal128(10, 3), False),
                      (pa.float64(), False), (pa.int32(), False)):
        body = parquet(pa.table({"id": pa.array([2], pa.int32()), "price": pa.array([Decimal("1.00")]).cast(arrow)
                                 if pa.types.is_decimal(arrow) else pa.array([1], arrow)}))
        uri = engine.put(f"p/{uuid.uuid4().hex}.parquet", body)
        outcome = "ok" if ok else "incompatible"
        try:
            engine.run(f"copy p from '{uri}' iam_role '{ROLE}' format as parquet")
            assert outcome == "ok", arrow
        except RedshiftError as exc:
            assert outcome == "incompatible" and "incompatible Parquet schema" in str(exc), (arrow, exc)
    assert engine.rows("select count(*) from p") == [(2,)]


def test_columnar_lengths_fillrecord_and_orc(engine):
    """"COPY from columnar data formats": a string longer than its column fails the COPY (STL_LOAD_ERRORS 1204);
    FILLRECORD lets a file lack trailing columns; ORC files load like Parquet ones."""
    engine.run("create table o (id bigint, word varchar(3), extra int)")
    long = engine.put("o/long.parquet", parquet(pa.table({"id": [1], "word": ["toolong"], "extra": pa.array([1],
                                                                                                            pa.int32())})))
    assert engine.error(f"copy o from '{long}' iam_role '{ROLE}' format as parquet") == FAILED.format("o")
    assert engine.load_errors()[-1][2:5] == ("word", 1204, "String length exceeds DDL length")
    short = engine.put("o/short.parquet", parquet(pa.table({"id": [2], "word": ["ok"]})))
    assert "2 columns in the file, 3 in the target" in engine.error(
        f"copy o from '{short}' iam_role '{ROLE}' format as parquet")
    engine.run(f"copy o from '{short}' iam_role '{ROLE}' format as parquet fillrecord")
    sink = io.BytesIO()
    orc.write_table(pa.table({"id": [3], "word": ["orc"], "extra": pa.array([7], pa.int32())}), sink)
    engine.run(f"copy o from '{engine.put('o/x.orc', sink.getvalue())}' iam_role '{ROLE}' format as orc")
    assert engine.rows("select * from o order by id") == [(2, "ok", None), (3, "orc", 7)]


def test_unload_options(engine):
    """"UNLOAD" (r_UNLOAD): a dollar-quoted query; ADDQUOTES, NULL AS, ESCAPE, MANIFEST, EXTENSION, BZIP2,
    CREDENTIALS; refused by name what is not implemented."""
    engine.run("create table x (id int, word varchar(10))")
    engine.run("insert into x values (1, 'a|b'), (2, null)")
    base = f"s3://{engine.bucket}/unload"
    engine.run(f"unload ($$select * from x where word is null or word <> 'z' order by id$$) to '{base}/q/' "
               "credentials 'aws_access_key_id=AKIA1;aws_secret_access_key=s' addquotes escape "
               "parallel off manifest")
    assert s3io.get_bytes(engine.bucket, "unload/q/000").decode().splitlines()[0] == '"1"|"a\\|b"'
    engine.run(f"unload ('select * from x order by id') to '{base}/n/' iam_role '{ROLE}' null as 'NULL'")
    assert s3io.get_bytes(engine.bucket, "unload/n/0000_part_00").decode() == "1|a|b\n2|NULL\n"
    manifest = json.loads(s3io.get_bytes(engine.bucket, "unload/q/manifest"))
    assert manifest == {"entries": [{"url": f"{base}/q/000"}]}
    engine.run(f"unload ('select id from x') to '{base}/b/' iam_role '{ROLE}' bzip2 extension 'txt.bz2'")
    assert bz2.decompress(s3io.get_bytes(engine.bucket, "unload/b/0000_part_00.txt.bz2")).decode() == "1\n2\n"
    for option in ("fixedwidth 'id:1'", "encrypted", "rowgroupsize 128 mb", "manifest verbose"):
        with pytest.raises(UnsupportedError, match="UNLOAD option"):
            engine.run(f"unload ('select 1') to '{base}/r/' iam_role '{ROLE}' {option}")
    assert engine.error(f"unload ('select 1') to '{base}/r/' iam_role '{ROLE}' format parquet header") == \
        "PARQUET format can't be used with HEADER"


def test_the_amazon_providers_transfer_operators_statements_run():
    """The Amazon provider's S3ToRedshiftOperator and RedshiftToS3Operator build COPY/UNLOAD with a CREDENTIALS key
    pair and (UNLOAD) a dollar-quoted query (airflow/providers/amazon/aws/transfers); both run here as on Redshift."""
    from airflow.providers.amazon.aws.transfers.redshift_to_s3 import RedshiftToS3Operator
    from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator

    engine = Engine()
    engine.put("in/data.csv", "id,word\n1,a\n")
    engine.run("create table public.words (id int, word varchar(5))")
    load = S3ToRedshiftOperator(task_id="load", s3_bucket=engine.bucket, s3_key="in", schema="public",
                                table="words", copy_options=["csv", "ignoreheader 1"])
    credentials = "aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=secret;token=session"
    copy_sql = load._build_copy_query("public.words", credentials, "region 'us-east-1'", "csv\n\t\t\tignoreheader 1")
    assert engine.run(copy_sql).result_rows == 1
    unload = RedshiftToS3Operator(task_id="unload", s3_bucket=engine.bucket, s3_key="out/words_",
                                  select_query="select * from public.words where word = 'a'",
                                  unload_options=["csv", "header", "allowoverwrite"])
    unload_sql = unload._build_unload_query(credentials, unload.select_query, "out/words_", "csv\n\theader\n"
                                            "\tallowoverwrite")
    assert engine.run(unload_sql).result_rows == 1
    assert s3io.get_bytes(engine.bucket, "out/words_0000_part_00").decode() == "id,word\n1,a\n"
