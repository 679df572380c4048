"""`make bench`: run the benchmarks, print their figures and record them with the machine in bench/results.md.

    python -m bench.run_all                                   # the full set (about 10 minutes)
    python -m bench.run_all --sizes 20000 --overhead-rows 20000 --backfill-days 2 --backfill-rows 20000  # a smoke run
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from bench import end_to_end, iam_gate, lakeformation_checks, machine, parse_time

RESULTS = Path(__file__).with_name("results.md")


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[100_000, 1_000_000, 5_000_000],
                        help="raw rows of the days run end to end, comma separated")
    parser.add_argument("--overhead-rows", type=int, default=1_000_000, help="rows of the day run three ways")
    parser.add_argument("--backfill-days", type=int, default=7, help="0 skips the backfill")
    parser.add_argument("--backfill-rows", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # A stopped benchmark still stops the Airflow components and the local AWS it started (context managers).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started_load = os.getloadavg()
    lines = ["# Benchmark results", "", machine.describe(), ""]
    lines += end_to_end.main(args.sizes, args.overhead_rows, args.backfill_days, args.backfill_rows)
    lines += parse_time.main()
    lines += ["## 6. What authorization costs per request (CPU time, so a busy machine does not inflate it)", ""]
    lines += iam_gate.measure() + lakeformation_checks.measure()
    # The machine may be shared: the 1-minute load average at both ends says how quiet it was.
    lines.insert(3, f"- load average (1 min) at start / end: {started_load[0]:.2f} / {os.getloadavg()[0]:.2f}")
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.write_text(text)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
