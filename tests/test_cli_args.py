"""The command line: arguments refused with a clear message, and `make help` listing every target."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline_tools import backfill, run_day, ui

REPO = Path(__file__).resolve().parents[1]


def refused(capsys, parse, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_run_day_defaults_and_values():
    args = run_day.parse_args(["--date", "2021-12-03", "--rows", "1_000_000"])
    assert (args.date, args.rows) == (date(2021, 12, 3), 1_000_000)
    assert run_day.parse_args([]).rows == 10_000


@pytest.mark.parametrize(("argv", "message"), [
    (["--date", "2021-13-01"], "argument --date: '2021-13-01' is not a day: write it YYYY-MM-DD, e.g. 2021-12-01"),
    (["--date", "1/12/2021"], "argument --date: '1/12/2021' is not a day"),
    (["--date", ""], "argument --date: '' is not a day"),
    (["--rows", "0"], "argument --rows: 0 rows is out of range: the daily DAG takes 1 to 5,000,000 rows a day"),
    (["--rows", "5000001"], "argument --rows: 5000001 rows is out of range"),
    (["--rows", "1e6"], "argument --rows: '1e6' is not a whole number of rows"),
    (["--port", "70000"], "argument --port: 70000 is not a port number (0 to 65535; 0: any free port)"),
    (["--time-scale", "0"], "argument --time-scale: 0.0 is not more than 0"),
])
def test_run_day_refuses(capsys, argv, message):
    assert message in refused(capsys, run_day.parse_args, argv)


def test_backfill_range(capsys):
    args = backfill.parse_args(["--from-date", "2021-12-01", "--to-date", "2021-12-07"])
    assert (args.to_date - args.from_date).days == 6
    assert "--to-date 2021-12-01 is before --from-date 2021-12-07" in refused(
        capsys, backfill.parse_args, ["--from-date", "2021-12-07", "--to-date", "2021-12-01"])
    today = datetime.now(UTC).date()
    assert f"--to-date {today} is not over yet" in refused(
        capsys, backfill.parse_args, ["--from-date", str(today - timedelta(days=1)), "--to-date", str(today)])
    assert "the following arguments are required: --from-date" in refused(
        capsys, backfill.parse_args, ["--to-date", "2021-12-01"])
    assert "argument --max-active-runs: 0 is not 1 or more" in refused(
        capsys, backfill.parse_args, ["--from-date", "2021-12-01", "--to-date", "2021-12-01",
                                      "--max-active-runs", "0"])


def test_ui_port(capsys):
    assert ui.parse_args([]).port == 8080
    assert "argument --port: 'http' is not a port number" in refused(capsys, ui.parse_args, ["--port", "http"])


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):(?!=)", text, flags=re.MULTILINE))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target_with_a_line():
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = {m.group(1): m.group(2) for m in re.finditer(r"^  make (\S+) +(.+)$", out, flags=re.MULTILINE)}
    assert set(listed) == makefile_targets() >= {"run", "backfill", "ui", "test", "bench", "clean", "help"}
    assert all(len(line) > 3 for line in listed.values())
    phony = re.search(r"^\.PHONY: (.+)$", (REPO / "Makefile").read_text(), flags=re.MULTILINE).group(1).split()
    assert set(phony) == makefile_targets()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_backfill_without_a_range_says_how_to_call_it():
    if subprocess.run(["make", "-q", "venv"], cwd=REPO).returncode != 0:
        pytest.skip("the venv is not installed (make venv): `make backfill` would install it first")
    result = subprocess.run(["make", "-s", "backfill", "TO=2021-12-07"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [ROWS=N]" in result.stderr


def test_the_readme_lists_every_target():
    readme = (REPO / "README.md").read_text()
    assert {t for t in makefile_targets() if f"make {t}" not in readme} == set()
