"""Reconcile one day's counts and revenue across the lake, Athena and Redshift."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# Revenue is decimal(10,2) everywhere; sums may come back as doubles from some engines.
REVENUE_TOLERANCE = Decimal("0.005")


class ReconciliationError(ValueError):
    """The day's figures disagree between stores; the message lists every mismatch."""


def _money(value: Any) -> Decimal:
    """A revenue figure as Decimal cents; an empty day sums to NULL, which is zero revenue."""
    return Decimal(str(value) if value not in (None, "") else 0).quantize(Decimal("0.01"))


def reconcile_day(
    *,
    manifest: dict[str, Any],
    raw_rows: int,
    processed: dict[str, Any],
    warehouse: dict[str, Any],
    aggregated: dict[str, Any],
) -> dict[str, Any]:
    """Check that every store agrees about the day and return the day's summary.

    manifest: the Glue job's run manifest; raw_rows: rows Athena counts in raw_sales for the day;
    processed / warehouse / aggregated: {"row_count": n, "revenue": x} from Athena over processed_sales, Redshift's
    sales table, and Athena over the unloaded aggregate.
    """
    problems = []
    rows_in, rows_out, rejected = manifest["rows_in"], manifest["rows_out"], manifest["rows_rejected"]
    if rows_in != rows_out + rejected:
        problems.append(f"manifest: rows_in {rows_in} != rows_out {rows_out} + rejected {rejected}")
    if raw_rows != rows_in:
        problems.append(f"raw rows in the catalog {raw_rows} != rows the job read {rows_in}")
    for name, figures in (("processed (Athena)", processed), ("warehouse (Redshift)", warehouse),
                          ("aggregated (Athena)", aggregated)):
        if int(figures["row_count"]) != rows_out:
            problems.append(f"{name} rows {figures['row_count']} != rows the job wrote {rows_out}")
    revenue = _money(warehouse["revenue"])
    for name, figures in (("processed (Athena)", processed), ("aggregated (Athena)", aggregated)):
        if abs(_money(figures["revenue"]) - revenue) > REVENUE_TOLERANCE:
            problems.append(f"{name} revenue {figures['revenue']} != Redshift revenue {revenue}")
    if problems:
        raise ReconciliationError("; ".join(problems))
    return {
        "date": manifest["run_date"],
        "raw_rows": rows_in,
        "processed_rows": rows_out,
        "rejected_rows": rejected,
        "rejected_by_reason": manifest.get("rejected_by_reason", {}),
        "revenue_redshift": str(revenue),
        "revenue_athena": str(_money(aggregated["revenue"])),
    }
