"""`make bench`: run the benchmarks, print their figures and record them with the machine in bench/results.md."""

from __future__ import annotations

from pathlib import Path

from bench import machine, parse_time

RESULTS = Path(__file__).with_name("results.md")


def main() -> None:
    lines = ["# Benchmark results", "", machine.describe(), ""]
    lines += parse_time.main()
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
