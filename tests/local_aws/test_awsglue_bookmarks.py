"""The local awsglue library's Spark-free parts, in-process: job bookmark state and getResolvedOptions.

Sources: AWS Glue developer guide, "Tracking processed data using job bookmarks" (job-bookmark-enable reads only
new or changed objects and saves on Job.commit; job-bookmark-pause reads only new objects without saving;
job-bookmark-disable reads everything and saves nothing; bookmarks are keyed by transformation_ctx), and
"Accessing parameters using getResolvedOptions" (plus the awslabs/aws-glue-libs utils.py for reserved names).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path

import pytest

_LIB = Path(__file__).resolve().parents[2] / "local_aws" / "gluejob" / "awsglue_lib" / "awsglue"


def _load(name: str):
    """One stdlib-only module of the job process's library, by path: ``awsglue`` must not become importable in
    this process (include/glue/sales_job.py imports it when present)."""
    spec = importlib.util.spec_from_file_location(f"_local_awsglue_{name}", _LIB / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bookmarks = _load("bookmarks")
_utils = _load("utils")
GlueArgumentError, getResolvedOptions = _utils.GlueArgumentError, _utils.getResolvedOptions

OLD = dt.datetime(2021, 12, 1, tzinfo=dt.UTC)
NEW = dt.datetime(2021, 12, 2, tzinfo=dt.UTC)


def _objects(**keys: dt.datetime) -> list[tuple[str, dict]]:
    return [(f"s3://b/{k}.csv", {"LastModified": v}) for k, v in keys.items()]


@pytest.fixture()
def bookmark_files(tmp_path, monkeypatch):
    state_in, state_out = tmp_path / "in.json", tmp_path / "out.json"
    state_in.write_text(json.dumps({"raw": {"s3://b/a.csv": OLD.isoformat()}}))
    monkeypatch.setenv("LOCAL_AWS_GLUE_BOOKMARK", str(state_in))
    monkeypatch.setenv("LOCAL_AWS_GLUE_BOOKMARK_OUT", str(state_out))
    return state_out


def _start(monkeypatch, option: str) -> bookmarks.BookmarkState:
    monkeypatch.setattr(sys, "argv", ["script.py", "--job-bookmark-option", option, "--JOB_NAME", "j"])
    return bookmarks.start()


def test_enable_reads_new_and_changed_objects_and_commit_saves(bookmark_files, monkeypatch):
    state = _start(monkeypatch, "job-bookmark-enable")
    chosen = state.select("raw", _objects(a=OLD, b=NEW))
    assert [uri for uri, _ in chosen] == ["s3://b/b.csv"]
    assert [uri for uri, _ in state.select("raw", _objects(a=NEW))] == ["s3://b/a.csv"]  # modified: read again
    assert [uri for uri, _ in state.select("", _objects(a=OLD))] == ["s3://b/a.csv"]  # no ctx: no bookmark
    state.commit()
    assert json.loads(bookmark_files.read_text()) == {
        "raw": {"s3://b/a.csv": NEW.isoformat(), "s3://b/b.csv": NEW.isoformat()}}


def test_pause_reads_new_objects_but_saves_nothing(bookmark_files, monkeypatch):
    state = _start(monkeypatch, "job-bookmark-pause")
    assert [uri for uri, _ in state.select("raw", _objects(a=OLD, b=NEW))] == ["s3://b/b.csv"]
    state.commit()
    assert not bookmark_files.exists()


def test_disable_reads_everything_and_saves_nothing(bookmark_files, monkeypatch):
    state = _start(monkeypatch, "job-bookmark-disable")
    assert len(state.select("raw", _objects(a=OLD, b=NEW))) == 2
    state.commit()
    assert not bookmark_files.exists()


def test_get_resolved_options():
    argv = ["script.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--job-bookmark-option", "job-bookmark-enable",
            "--JOB_NAME", "sales", "--run_date", "2021-12-01", "--extra", "ignored", "--TempDir", "s3://t/"]
    resolved = getResolvedOptions(argv, ["JOB_NAME", "run_date"])
    assert resolved["JOB_NAME"] == "sales" and resolved["run_date"] == "2021-12-01"
    assert resolved["job_bookmark_option"] == "job-bookmark-enable" and resolved["JOB_RUN_ID"] == "jr_1"
    assert resolved["RedshiftTempDir"] == "s3://t/" and "extra" not in resolved
    assert getResolvedOptions(["s.py", "--JOB_NAME", "x"], ["JOB_NAME"])["job_bookmark_option"] == \
        "job-bookmark-disable"
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --run_date"):
        getResolvedOptions(["s.py", "--JOB_NAME", "x"], ["JOB_NAME", "run_date"])
    with pytest.raises(RuntimeError, match="Using reserved arguments --job-bookmark-option"):
        getResolvedOptions(argv, ["job-bookmark-option"])
    with pytest.raises(GlueArgumentError, match="invalid choice"):
        getResolvedOptions(["s.py", "--job-bookmark-option", "job-bookmark-sometimes"], [])
