"""Which engine behind the local Redshift: PostgreSQL 15 (the Debian binaries on these machines) or DuckDB (now).

Prints (1) what each engine answers for the Redshift semantics issue 13 is about, next to what Redshift answers
(AWS docs: "Computations with numeric values", "Character types", "Integer and floating point division"), and
(2) the CPU cost of loading the pipeline's 1M-row Parquet day (the Glue job's types: bigint, bigint,
decimal(10,2), bigint, timestamp) each way: DuckDB reads the Arrow table in-process; PostgreSQL needs the Parquet
turned into text (COPY has no Parquet reader) and parses it in its backend. CPU seconds, not wall time.

    .venv/bin/python -m bench.redshift_engine [rows]
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

PG_BIN = Path("/usr/lib/postgresql/15/bin")
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"] if os.getuid() == 0 else []
TABLE = ("create table sales (card_id bigint not null, customer_id bigint not null, price decimal(10,2) not null, "
         "product_id bigint, \"timestamp\" timestamp not null)")
# (probe, what Redshift answers, per its docs)
PROBES = [
    ("select 7/2", "3 (INT4: integer division)"),
    ("select -7/2", "-3 (truncates toward zero)"),
    ("select avg(x) from (select 1 as x union all select 2) t", "1 (AVG of INT4 is INT8, truncated)"),
    ("select cast(1 as decimal(8,2)) / cast(3 as decimal(8,2))", "0.333333333 as DECIMAL(17,9)"),
    ("select cast(1 as decimal(8,2)) * cast(3 as decimal(8,2))", "3.0000 as DECIMAL(17,4)"),
    ("select 1 + '2'", "3 (an unknown literal is coerced)"),
    ("create temp table v5 (v varchar(5)); insert into v5 values ('abcdefgh')",
     "ERROR: value too long for type character varying(5)"),
    ("create temp table v4 (v varchar(4)); insert into v4 values ('ééé')",
     "ERROR: value too long for type character varying(4) (6 bytes: VARCHAR counts bytes)"),
]


def _pg_start(root: Path) -> tuple[subprocess.Popen, list[str]]:
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    for path in (root, sock):  # initdb and postgres refuse to run as root: run them as the postgres user
        shutil.chown(path, "postgres", "postgres")
    subprocess.run([*AS_POSTGRES, PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "bench", "--no-sync"], check=True,
                   capture_output=True)
    server = subprocess.Popen([*AS_POSTGRES, PG_BIN / "postgres", "-D", data, "-k", sock, "-p", "54399", "-c",
                               "listen_addresses=", "-c", "fsync=off"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    psql = [str(PG_BIN / "psql"), "-h", str(sock), "-p", "54399", "-U", "bench", "-d", "postgres", "-X", "-q",
            "-A", "-t"]
    for _ in range(100):
        if subprocess.run([*psql, "-c", "select 1"], capture_output=True).returncode == 0:
            return server, psql
        time.sleep(0.1)
    raise RuntimeError("postgres did not start")


def _pg(psql: list[str], sql: str) -> str:
    done = subprocess.run([*psql, "-c", sql], capture_output=True, text=True)
    return (done.stdout.strip() or done.stderr.strip()).replace("\n", " | ")


def _duck(connection: duckdb.DuckDBPyConnection, sql: str) -> str:
    try:
        result = None
        for statement in sql.split(";"):
            result = connection.execute(statement)
        rows = result.fetchall() if result.description else []
        types = [str(d[1]) for d in result.description] if result.description else []
        return f"{rows} {types}"
    except duckdb.Error as exc:
        return "ERROR: " + str(exc).splitlines()[0][:90]


def _local_connection():
    from local_aws.redshift.engine import Database

    return Database("probe", "dev", None).cursor()


def _local(connection, sql: str) -> str:
    from local_aws.redshift.errors import RedshiftError

    try:
        outcome = None
        for statement in sql.split(";"):
            outcome = connection.run(statement.replace("temp table", "table"))
        return f"{outcome.rows} {[kind for _, kind in outcome.columns]}"
    except RedshiftError as exc:
        return f"ERROR: {exc}"


def _day(rows: int) -> pa.Table:
    import pyarrow.compute as pc
    ids = pa.array(range(rows), pa.int64())
    return pa.table({
        "card_id": ids, "customer_id": pc.add(ids, 7),
        "price": pa.array([f"{i % 10000}.{i % 100:02d}" for i in range(rows)]).cast(pa.decimal128(10, 2)),
        "product_id": pc.add(ids, 3),
        "timestamp": pc.add(pa.scalar(1609459200_000_000, pa.timestamp("us")),
                            pc.multiply(ids, pa.scalar(1000, pa.int64())).cast(pa.duration("us"))),
    })


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _local_copy_cpu(data: bytes) -> float:
    """CPU seconds of the pipeline's COPY statement on the local Redshift's engine (the object already in S3)."""
    from moto.s3.models import s3_backends

    from local_aws import ACCOUNT_ID, s3io
    from local_aws.redshift.engine import Database

    bucket = "bench-redshift-engine"
    s3_backends[ACCOUNT_ID]["global"].create_bucket(bucket, "us-east-1")
    s3io.put_bytes(bucket, "processed/sales/year=2021/month=1/day=1/part-00000.snappy.parquet", data)
    connection = Database("bench", "dev", None).cursor()
    connection.run(TABLE)
    start = time.process_time()
    connection.run(f"copy public.sales from 's3://{bucket}/processed/sales/year=2021/month=1/day=1/' "
                   "iam_role 'arn:aws:iam::123456789012:role/bench' format as parquet")
    return time.process_time() - start


def main(rows: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server, psql = _pg_start(root)
    try:
        duck = duckdb.connect()
        strict = duckdb.connect()
        strict.execute("SET integer_division = true")
        local = _local_connection()
        print("# Semantics: Redshift (docs) | PostgreSQL 15 | DuckDB | DuckDB integer_division | local Redshift")
        for probe, redshift in PROBES:
            print(f"- {probe}\n    redshift: {redshift}\n    postgres: {_pg(psql, probe)}\n"
                  f"    duckdb:   {_duck(duck, probe)}\n    duckdb+:  {_duck(strict, probe)}\n"
                  f"    local:    {_local(local, probe)}")

        day = _day(rows)
        parquet = io.BytesIO()
        pq.write_table(day, parquet)
        data = parquet.getvalue()
        print(f"\n# COPY of {rows} rows of the pipeline's Parquet day (CPU seconds)")

        start = time.process_time()
        connection = duckdb.connect()
        connection.execute(TABLE)
        table = pq.read_table(io.BytesIO(data))
        connection.register("day", table)
        connection.execute("insert into sales select * from day")
        duck_cpu = time.process_time() - start
        print(f"duckdb:   {duck_cpu:.2f} s CPU  -> {rows / duck_cpu:,.0f} rows/s")

        start = time.process_time()
        text = io.BytesIO()
        pacsv.write_csv(pq.read_table(io.BytesIO(data)), text, pacsv.WriteOptions(include_header=False))
        csv_path = root / "day.csv"
        csv_path.write_bytes(text.getvalue())
        shutil.chown(csv_path, "postgres", "postgres")
        convert_cpu = time.process_time() - start
        _pg(psql, TABLE)
        session = subprocess.Popen([*psql, "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        session.stdin.write("select pg_backend_pid();\n")
        session.stdin.flush()
        backend = int(session.stdout.readline())
        before = _cpu_of(backend)
        session.stdin.write(f"copy sales from '{csv_path}' (format csv);\nselect 'done';\n")
        session.stdin.flush()
        session.stdout.readline()
        copy_cpu = _cpu_of(backend) - before
        session.stdin.close()
        session.wait()
        total = convert_cpu + copy_cpu
        print(f"postgres: {total:.2f} s CPU (Parquet->CSV {convert_cpu:.2f} + backend COPY {copy_cpu:.2f}) "
              f"-> {rows / total:,.0f} rows/s")
        print(f"postgres/duckdb CPU ratio: {total / duck_cpu:.1f}x")
        local_cpu = _local_copy_cpu(data)
        print(f"local Redshift COPY ... FORMAT AS PARQUET (DuckDB engine, in-process S3): {local_cpu:.2f} s CPU "
              f"-> {rows / local_cpu:,.0f} rows/s")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
