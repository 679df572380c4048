"""The weekly revenue report: the seven days ending on a day, from the daily aggregates in the lake.

Input: the Parquet files Redshift UNLOADs to `aggregated/daily_sales_revenue/dt=<day>/` (day date,
daily_sales_revenue decimal, sales_count bigint). Output: a CSV (day, revenue, sales_count; a day with no aggregate
yet has empty figures) and a bar chart: PNG through matplotlib where it is installed, else an SVG written here
(MWAA's constraints carry no matplotlib).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

AGGREGATE_PREFIX = "aggregated/daily_sales_revenue/dt={day}/"
REPORT_PREFIX = "reports/weekly_revenue/week_ending={day}/"


def week_ending(day: str) -> list[str]:
    """The seven ISO days ending on `day`, oldest first."""
    last = date.fromisoformat(day)
    return [(last - timedelta(days=back)).isoformat() for back in range(6, -1, -1)]


def read_day(parquet_files: list[bytes]) -> tuple[Decimal, int] | None:
    """(revenue, sales_count) of one day from its aggregate's Parquet files; None when the day has none."""
    import pyarrow.parquet as pq

    revenue, count, seen = Decimal(0), 0, False
    for body in parquet_files:
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            seen = True
            revenue += Decimal(str(row["daily_sales_revenue"] or 0))
            count += int(row["sales_count"] or 0)
    return (revenue.quantize(Decimal("0.01")), count) if seen else None


def to_csv(rows: list[tuple[str, tuple[Decimal, int] | None]]) -> str:
    """CSV text: day,revenue,sales_count (empty figures for a day without an aggregate)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", "revenue", "sales_count"])
    for day, figures in rows:
        writer.writerow([day, *(figures if figures else ("", ""))])
    return out.getvalue()


def svg_chart(rows: list[tuple[str, tuple[Decimal, int] | None]], title: str) -> str:
    """A self-contained SVG bar chart of the revenue per day."""
    width, height, left, bottom, top = 640, 320, 70, 60, 40
    peak = max((float(f[0]) for _, f in rows if f), default=0.0) or 1.0
    slot = (width - left - 20) / max(len(rows), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 20}" y2="{height - bottom}" stroke="#333"/>',
             f'<text x="{left - 8}" y="{top + 4}" text-anchor="end">{peak:,.0f}</text>']
    for i, (day, figures) in enumerate(rows):
        x = left + i * slot + slot * 0.15
        bar = (float(figures[0]) / peak) * (height - bottom - top) if figures else 0
        if figures:
            parts.append(f'<rect x="{x:.1f}" y="{height - bottom - bar:.1f}" width="{slot * 0.7:.1f}" '
                         f'height="{bar:.1f}" fill="#3b7dd8"><title>{day}: {figures[0]}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{day[5:]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def chart(rows: list[tuple[str, tuple[Decimal, int] | None]], title: str) -> tuple[str, bytes, str]:
    """(file name, bytes, content type): a PNG when matplotlib is installed, else the SVG."""
    try:
        import matplotlib
    except ImportError:
        return "revenue.svg", svg_chart(rows, title).encode(), "image/svg+xml"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar([day[5:] for day, _ in rows], [float(f[0]) if f else 0 for _, f in rows], color="#3b7dd8")
    ax.set_title(title)
    ax.set_ylabel("revenue")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return "revenue.png", out.getvalue(), "image/png"
