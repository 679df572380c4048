"""Reliability of the Glue job against the raw files a landing really holds: nothing lost, nothing doubled.

Every case is a day folder of raw files whose records are known by construction. The job runs on the Glue 5.0
runtime (PySpark 3.5.4, Python 3.11, one Spark session for the module) and each case checks:
  - rows_in equals the records the files hold (lost: records the job never counted; doubled: counted twice),
  - rows_out / rows_rejected / reasons as expected, and the landed Parquet holds exactly those rows, once each,
  - the manifest names every file read and every file skipped,
or, for a day the job must refuse, that it fails naming every file it could not read.
Glue reads "bzip and gzip archives containing CSV files" (Using the CSV format in AWS Glue,
https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-csv-home.html); the JSON format page
says the same for JSON. The figures table in README.md ("Reliability: figures") is checked against these runs.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.spark

pytest.importorskip("pyspark")

from include.glue import sales_job  # noqa: E402
from local_aws.gluejob import runtimes  # noqa: E402
from tests.glue_runtime_session import GlueRuntimeError, GlueRuntimeSession  # noqa: E402

DAY = "2024-01-05"
HEADER = b"card_id,customer_id,price,product_id,timestamp\n"
README = Path(__file__).resolve().parents[2] / "README.md"


def row(card: int, price: str = "1.00", stamp: str = "2024-01-05 10:00:00") -> bytes:
    return f"{card},{100 + card},{price},7,{stamp}\n".encode()


def rows(first: int, count: int) -> bytes:
    return b"".join(row(first + i, stamp=f"2024-01-05 10:{i // 60:02d}:{i % 60:02d}") for i in range(count))


def zipped(name: str, body: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, body)
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    """A raw day: files, the records they hold, and what the job must make of them."""

    name: str
    files: dict[str, bytes]
    records: int  # records the files hold, by construction
    rows_out: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # file names the manifest lists as skipped
    fails: str | None = None  # a pattern the job's error must match: the day is refused
    max_reject_share: str | None = None


ISO = "2024-01-05T10:00:00"
CASES = [
    # The dirty shapes the lab had, which already passed: kept or rejected with a reason.
    Case("BOM", {"a.csv": b"\xef\xbb\xbf" + HEADER + rows(1, 3)}, 3, rows_out=3),
    Case("CRLF", {"a.csv": (HEADER + rows(1, 3)).replace(b"\n", b"\r\n")}, 3, rows_out=3),
    Case("extra column", {"a.csv": b"card_id,customer_id,price,product_id,timestamp,note\n"
                                   b"1,101,1.00,7,2024-01-05 10:00:00,hello\n"
                                   b"2,102,1.00,7,2024-01-05 10:00:01,\n"}, 2, rows_out=2),
    Case("quoted comma", {"a.csv": HEADER + row(1) + b'2,102,"1,200.00",7,2024-01-05 10:00:01\n'
                                   + b'3,103,"2.50",7,2024-01-05 10:00:02\n'}, 3, rows_out=2,
         rejected={"bad_price": 1}),
    Case("1 MB field", {"a.csv": HEADER + row(1) + b"2" + b"9" * 1_000_000 + b",102,1.00,7,2024-01-05 10:00:01\n"},
         2, rows_out=1, rejected={"bad_card_id": 1}),
    Case("latin-1 bytes", {"a.csv": b"card_id,customer_id,price,product_id,timestamp,note\n"
                                    b"1,101,1.00,7,2024-01-05 10:00:00,caf\xe9\n"
                                    b"2,102,1.\xe900,7,2024-01-05 10:00:01,x\n"}, 2, rows_out=1,
         rejected={"bad_price": 1}),
    Case("bad prices", {"a.csv": HEADER + row(1) + row(2, "") + row(3, "abc") + row(4, "-1.00") + row(5, "1e3")
                        + row(6, "$3.00")}, 6, rows_out=2, rejected={"bad_price": 4}),
    Case("bad timestamps", {"a.csv": HEADER + row(1) + row(2, stamp=ISO) + row(3, stamp="05/01/2024 10:00")
                            + row(4, stamp="") + row(5, stamp="2024-01-04 23:59:59")}, 5, rows_out=1,
         rejected={"bad_timestamp": 3, "timestamp_outside_run_date": 1}),
    # Issue 16's cases.
    Case("csv + csv.gz", {"part-0.csv": HEADER + rows(1, 3), "part-1.csv.gz": gzip.compress(HEADER + rows(4, 2))},
         5, rows_out=5),
    Case("only csv.gz", {"part-0.csv.gz": gzip.compress(HEADER + rows(1, 4))}, 4, rows_out=4),
    Case("csv.bz2 + jsonl.gz", {
        "a.csv.bz2": bz2.compress(HEADER + rows(1, 2)),
        "b.jsonl.gz": gzip.compress(b'{"card_id": "9", "customer_id": "109", "price": 4.5, "product_id": "7", '
                                    b'"timestamp": "2024-01-05 11:00:00"}\n')}, 3, rows_out=3),
    Case("empty file beside a good one", {"a.csv": b"", "b.csv": HEADER + rows(1, 2), "c.csv.gz": gzip.compress(b"")},
         2, rows_out=2, skipped=("a.csv", "c.csv.gz")),
    Case("two column orders", {"a.csv": HEADER + rows(1, 2),
                               "b.csv": b"timestamp,price,product_id,customer_id,card_id\n"
                                        b"2024-01-05 12:00:00,2.00,8,104,4\n"}, 3, rows_out=3),
    Case("quoted newline", {"a.csv": b"card_id,customer_id,price,product_id,timestamp,note\n"
                                     b'1,101,1.00,7,2024-01-05 10:00:00,"two\nlines"\n'
                                     b'2,102,1.00,7,2024-01-05 10:00:01,"three\r\nlines\n"\n'}, 2, rows_out=2),
    Case("more than two decimals", {"a.csv": HEADER + row(1, "12.505") + row(2, "12.999") + row(3, "12.500")},
         3, rows_out=1, rejected={"price_scale_exceeded": 2}),
    Case("duplicates across files", {"a.csv": HEADER + rows(1, 2), "b.csv.gz": gzip.compress(HEADER + rows(1, 2))},
         4, rows_out=2, rejected={"duplicate": 2}),
    Case("unreadable file beside good ones", {"a.csv": HEADER + rows(1, 2), "b.csv.zip": zipped("b.csv", HEADER),
                                              "c.csv.zst": b"\x28\xb5\x2f\xfd"}, 2,
         fails=r"2 file\(s\).*b\.csv\.zip.*c\.csv\.zst"),
    Case("every row rejected (ISO timestamps)", {"a.csv": HEADER + row(1, stamp=ISO) + row(2, stamp=ISO)}, 2,
         fails=r"RejectThresholdExceeded: 2024-01-05: 2 of 2 rows rejected.*bad_timestamp 2",
         max_reject_share="0.25"),
]


@pytest.fixture(scope="module")
def glue5(tmp_path_factory):
    session = GlueRuntimeSession(runtimes.RUNTIMES["5.0"].interpreter(), tmp_path_factory.mktemp("glue5-worker"))
    yield session
    session.close()


def run_case(glue5, root: Path, case: Case) -> dict:
    """Run one case; returns its figures: records, rows_in, rows_out, rejected, lost, doubled, outcome."""
    day = root / "raw" / "sales" / f"dt={DAY}"
    day.mkdir(parents=True)
    for name, body in case.files.items():
        (day / name).write_bytes(body)
    args = {"JOB_NAME": "reliability", "run_date": DAY, "raw_path": f"{root}/raw/sales/",
            "processed_path": f"{root}/processed/sales/", "rejected_path": f"{root}/rejected/sales/",
            "manifest_path": f"{root}/manifests/sales/"}
    if case.max_reject_share is not None:
        args["max_reject_share"] = case.max_reject_share
    if case.fails:
        with pytest.raises((sales_job.JobInputError, GlueRuntimeError), match=case.fails):
            glue5.run_sales_job(args)
        # Refused as a whole: nothing of the day was written, so nothing is half there.
        assert not (root / "processed").exists() and not (root / "manifests").exists()
        return {"case": case.name, "records": case.records, "rows_in": "-", "rows_out": 0, "rejected": "-",
                "lost": 0, "doubled": 0, "outcome": "fails naming the cause"}
    manifest = glue5.run_sales_job(args)
    landed = pq.read_table(root / "processed" / "sales" / "year=2024" / "month=1" / "day=5").to_pylist()
    landed_rejects = pq.read_table(root / "rejected" / "sales" / f"dt={DAY}").num_rows
    keys = [tuple(sorted(r.items())) for r in landed]
    figures = {
        "case": case.name, "records": case.records, "rows_in": manifest["rows_in"],
        "rows_out": manifest["rows_out"], "rejected": manifest["rows_rejected"],
        # Lost: records neither landed nor rejected. Doubled: a record landed (or counted) more than once.
        "lost": max(case.records - len(set(keys)) - landed_rejects, 0),
        "doubled": (len(keys) - len(set(keys))) + max(manifest["rows_in"] - case.records, 0),
        "outcome": "loaded",
    }
    assert (figures["lost"], figures["doubled"]) == (0, 0), figures
    assert manifest["rows_in"] == case.records
    assert (manifest["rows_out"], manifest["rejected_by_reason"]) == (case.rows_out, case.rejected)
    assert (len(landed), landed_rejects) == (manifest["rows_out"], manifest["rows_rejected"])
    read = {Path(p).name for p in manifest["source_files"]}
    skipped = {Path(s["path"]).name for s in manifest["skipped_files"]}
    assert skipped == set(case.skipped) and all(s["reason"] == "empty" for s in manifest["skipped_files"])
    assert read | skipped == set(case.files) and not read & skipped
    return figures


@pytest.fixture(scope="module")
def figures() -> dict[str, dict]:
    return {}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nothing_lost_or_doubled(glue5, tmp_path, case, figures):
    figures[case.name] = run_case(glue5, tmp_path, case)


def figures_table(figures: dict[str, dict]) -> str:
    lines = ["| case | records | rows in | rows out | rejected | lost | doubled | outcome |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for case in CASES:
        f = figures[case.name]
        lines.append(f"| {f['case']} | {f['records']} | {f['rows_in']} | {f['rows_out']} | {f['rejected']} "
                     f"| {f['lost']} | {f['doubled']} | {f['outcome']} |")
    return "\n".join(lines)


def test_the_readme_figures_are_these_runs(figures):
    """README.md's table is what the cases above measured (run after them: same module, file order)."""
    if len(figures) != len(CASES):
        pytest.skip("needs every case of this module to have run")
    text = README.read_text()
    match = re.search(r"<!-- reliability-figures -->\n(.*?)\n<!-- /reliability-figures -->", text, re.S)
    assert match, "README.md lacks the reliability figures table"
    assert match.group(1).strip() == figures_table(figures), "\n" + figures_table(figures)
