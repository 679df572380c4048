"""The weekly revenue report's pieces: the week, the Parquet aggregates it reads, the CSV and the SVG chart."""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sales_pipeline.revenue_report import read_day, svg_chart, to_csv, week_ending  # noqa: E402


def parquet(rows: list[dict]) -> bytes:
    """A file shaped like the UNLOADed aggregate (day date, daily_sales_revenue decimal(38,2), sales_count bigint)."""
    schema = pa.schema([("day", pa.date32()), ("daily_sales_revenue", pa.decimal128(38, 2)),
                        ("sales_count", pa.int64())])
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
    return out.getvalue()


def test_week_ending_spans_seven_days_across_a_month_end():
    assert week_ending("2021-12-03") == ["2021-11-27", "2021-11-28", "2021-11-29", "2021-11-30", "2021-12-01",
                                         "2021-12-02", "2021-12-03"]


def test_read_day_sums_every_file_and_tells_a_missing_day():
    from datetime import date

    files = [parquet([{"day": date(2021, 12, 1), "daily_sales_revenue": Decimal("10.25"), "sales_count": 3}]),
             parquet([])]
    assert read_day(files) == (Decimal("10.25"), 3)
    assert read_day([]) is None and read_day([parquet([])]) is None


def test_csv_and_svg():
    rows = [("2021-11-30", None), ("2021-12-01", (Decimal("10.25"), 3))]
    assert to_csv(rows) == "day,revenue,sales_count\n2021-11-30,,\n2021-12-01,10.25,3\n"
    svg = ET.fromstring(svg_chart(rows, "Revenue <week>"))
    bars = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(bars) == 1 and bars[0].find("{http://www.w3.org/2000/svg}title").text == "2021-12-01: 10.25"
    assert svg.find("{http://www.w3.org/2000/svg}text").text == "Revenue <week>"
