"""Glue crawlers that really crawl, and the Glue Data Catalog's persistence.

StartCrawler runs the crawl (``local_aws.crawler``) in a background thread: State RUNNING while it reads S3 and
writes the catalog, STOPPING briefly, then READY with ``LastCrawl`` {Status SUCCEEDED | FAILED | CANCELLED,
ErrorMessage on failure, LogGroup, LogStream, MessagePrefix, StartTime}. This replaces moto's crawl state machine
(which advances only on ListCrawlers and ends in COMPLETED). StopCrawler cancels a running crawl before it writes
the catalog. GetCrawlerMetrics and ListCrawls report the crawls; UpdateCrawler (missing in moto) and DeleteCrawler
are refused while a crawl runs, as on AWS.

A crawl starts after a short start-up delay (``LOCAL_AWS_CRAWLER_STARTUP_SECONDS``, default 0.5, scaled by
``LOCAL_AWS_TIME_SCALE``), as a Glue crawler spends its first seconds provisioning: pollers see RUNNING.

Persistence: the whole Glue catalog (databases, tables, partitions, crawlers, job definitions) plus the crawl
history is written to ``<state_dir>/glue/catalog.json`` (atomic), and read back at start. Job runs are persisted by
``glue_jobs``. A crawl still running when the state was saved loads as FAILED.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from moto.core.utils import utcnow
from moto.glue.exceptions import (
    CrawlerNotRunningException,
    CrawlerRunningException,
    EntityNotFoundException,
    GlueClientError,
    InvalidInputException,
)
from moto.glue.models import FakeCrawler, GlueBackend
from moto.glue.responses import GlueResponse

from local_aws.crawler import catalog_state
from local_aws.crawler import logs as crawl_logs
from local_aws.crawler.crawl import CrawlCancelled, CrawlError, crawl
from local_aws.crawler.logs import LOG_GROUP

log = logging.getLogger(__name__)

PRIORITY = 55  # loads the catalog before the CloudFormation stacks are re-applied over it

STOPPING_SECONDS = 0.3  # how long State stays STOPPING after the crawl's work is done
_MAX_METRICS = 100  # GetCrawlerMetrics' MaxResults limit


class CrawlerStoppingException(GlueClientError):
    def __init__(self, msg: str):
        super().__init__("CrawlerStoppingException", msg)


@dataclass
class Crawl:
    """One run of a crawler. ``phase`` drives the crawler's State; ``status`` is LastCrawl.Status once done."""

    crawler_name: str
    crawl_id: str
    start_time: dt.datetime
    phase: str = "RUNNING"  # RUNNING | STOPPING | DONE
    status: str = "RUNNING"  # RUNNING, then SUCCEEDED | FAILED | CANCELLED
    end_time: dt.datetime | None = None
    error_message: str | None = None
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0
    partitions_deleted: int = 0
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def runtime_seconds(self) -> float:
        end = self.end_time or utcnow()
        return max(0.0, (end - self.start_time).total_seconds())

    def last_crawl(self) -> dict:
        info = {
            "Status": self.status,
            "LogGroup": LOG_GROUP,
            "LogStream": self.crawler_name,
            "MessagePrefix": self.crawl_id,
            "StartTime": self.start_time,
        }
        if self.error_message:
            info["ErrorMessage"] = self.error_message
        return info


_CRAWLS: dict[str, list[Crawl]] = {}  # crawler name -> its crawls, oldest first (kept across CFN re-creation)
_LOCK = threading.RLock()
_CATALOG_WRITE = threading.Lock()  # one crawl writes the catalog at a time, and never while it is being saved
_SNAPSHOT_ATTEMPTS = 5
HISTORY_LIMIT = 100  # crawls kept per crawler (ListCrawls, metrics, the saved state)


def _startup_seconds() -> float:
    scale = float(os.environ.get("LOCAL_AWS_TIME_SCALE", "1") or 1)
    return float(os.environ.get("LOCAL_AWS_CRAWLER_STARTUP_SECONDS", "0.5")) * scale


def _latest(name: str) -> Crawl | None:
    with _LOCK:
        crawls = _CRAWLS.get(name)
        return crawls[-1] if crawls else None


def _last_finished(name: str) -> Crawl | None:
    with _LOCK:
        return next((c for c in reversed(_CRAWLS.get(name, [])) if c.phase == "DONE"), None)


# --- the crawl thread ------------------------------------------------------------------------------------------


def _run(backend: GlueBackend, crawler: FakeCrawler, run: Crawl) -> None:
    messages: list[str] = []
    try:
        if run.cancel.wait(_startup_seconds()):
            raise CrawlCancelled()
        outcome = crawl(crawler, backend, run.cancel.is_set, write_lock=_CATALOG_WRITE)
        messages = outcome.messages
        run.tables_created, run.tables_updated = outcome.tables_created, outcome.tables_updated
        run.tables_deleted = outcome.tables_deleted
        run.partitions_created, run.partitions_deleted = outcome.partitions_created, outcome.partitions_deleted
        status, error = "SUCCEEDED", None
    except CrawlCancelled:
        status, error = "CANCELLED", None
    except CrawlError as exc:
        status, error = "FAILED", str(exc)
    except Exception as exc:  # a bug must end the crawl FAILED, never leave it RUNNING forever
        log.exception("crawler %s failed", run.crawler_name)
        status, error = "FAILED", f"Internal Service Exception: {type(exc).__name__}: {exc}"
    with _LOCK:
        run.phase = "STOPPING"
    time.sleep(STOPPING_SECONDS)
    with _LOCK:
        run.status, run.error_message, run.end_time, run.phase = status, error, utcnow(), "DONE"
    summary = f"crawl {status} in {run.runtime_seconds:.1f}s" + (f": {error}" if error else "")
    log.info("crawler %s %s", run.crawler_name, summary)
    for message in messages:
        log.info("crawler %s [%s]: %s", run.crawler_name, run.crawl_id, message)
    crawl_logs.write(run.crawler_name, run.crawl_id, [
        f"BENCHMARK : Running Start Crawl for Crawler {run.crawler_name}", *messages,
        f"BENCHMARK : Crawler has finished running and is in state READY ({summary})",
    ])


# --- moto patches ----------------------------------------------------------------------------------------------


def _start_crawler(self: GlueBackend, name: str) -> None:
    crawler = self.get_crawler(name)
    with _LOCK:
        latest = _latest(name)
        if latest is not None and latest.phase != "DONE":
            raise CrawlerRunningException(f"Crawler with name {name} has already started")
        run = Crawl(crawler_name=name, crawl_id=str(uuid.uuid4()), start_time=utcnow())
        history = _CRAWLS.setdefault(name, [])
        history.append(run)
        del history[:-HISTORY_LIMIT]
    threading.Thread(target=_run, args=(self, crawler, run), name=f"crawler-{name}", daemon=True).start()
    log.info("crawler %s crawl %s started", name, run.crawl_id)


def _stop_crawler(self: GlueBackend, name: str) -> None:
    self.get_crawler(name)
    with _LOCK:
        latest = _latest(name)
        if latest is None or latest.phase == "DONE":
            raise CrawlerNotRunningException(f"Crawler with name {name} isn't running")
        if latest.phase == "STOPPING":
            raise CrawlerStoppingException(f"Crawler with name {name} is stopping")
        latest.phase = "STOPPING"
        latest.cancel.set()


def _status(self: FakeCrawler) -> str:
    latest = _latest(self.name)
    if latest is None or latest.phase == "DONE":
        return "READY"
    return latest.phase


_moto_as_dict = FakeCrawler.as_dict


def _as_dict(self: FakeCrawler) -> dict:
    data = _moto_as_dict(self)
    data.pop("LastCrawl", None)
    latest, finished = _latest(self.name), _last_finished(self.name)
    data["State"] = _status(self)
    data["CrawlElapsedTime"] = int(latest.runtime_seconds * 1000) if latest and latest.phase != "DONE" else 0
    if finished is not None:
        data["LastCrawl"] = finished.last_crawl()
    return {k: v for k, v in data.items() if v is not None}


def get_crawler_metrics(self: GlueResponse) -> str:
    backend = self.glue_backend
    names = self._get_param("CrawlerNameList") or list(backend.crawlers)
    limit = self._get_int_param("MaxResults") or _MAX_METRICS
    if not 0 < limit <= _MAX_METRICS:
        raise InvalidInputException("GetCrawlerMetrics", f"MaxResults must be between 1 and {_MAX_METRICS}")
    token = self._get_param("NextToken") or "0"
    if not token.isdigit():
        raise InvalidInputException("GetCrawlerMetrics", "NextToken is not valid")
    start = int(token)
    metrics = []
    for name in names[start : start + limit]:
        if name not in backend.crawlers:
            raise EntityNotFoundException(f"Crawler entry with name {name} does not exist")
        with _LOCK:
            finished = [c for c in _CRAWLS.get(name, []) if c.phase == "DONE"]
        last = finished[-1] if finished else None
        metrics.append({
            "CrawlerName": name,
            "TimeLeftSeconds": 0.0,
            "StillEstimating": False,
            "LastRuntimeSeconds": round(last.runtime_seconds, 3) if last else 0.0,
            "MedianRuntimeSeconds": round(statistics.median(c.runtime_seconds for c in finished), 3)
            if finished else 0.0,
            "TablesCreated": last.tables_created if last else 0,
            "TablesUpdated": last.tables_updated if last else 0,
            "TablesDeleted": last.tables_deleted if last else 0,
        })
    body: dict = {"CrawlerMetricsList": metrics}
    if start + limit < len(names):
        body["NextToken"] = str(start + limit)
    return json.dumps(body)


def _epoch(moment: dt.datetime) -> float:
    """moto keeps naive UTC datetimes; a naive one must not be read as local time."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


_CRAWL_STATES = {"SUCCEEDED": "COMPLETED", "FAILED": "FAILED", "CANCELLED": "STOPPED", "RUNNING": "RUNNING"}


def list_crawls(self: GlueResponse) -> str:
    name = self._get_param("CrawlerName")
    self.glue_backend.get_crawler(name)
    if self._get_param("Filters"):
        raise InvalidInputException("ListCrawls", "Filters are not supported by the local AWS")
    with _LOCK:
        crawls = list(reversed(_CRAWLS.get(name, [])))
    out = []
    for c in crawls[: self._get_int_param("MaxResults") or 20]:
        item = {
            "CrawlId": c.crawl_id,
            "State": _CRAWL_STATES[c.status] if c.phase == "DONE" else "RUNNING",
            "StartTime": _epoch(c.start_time),
            "LogGroup": LOG_GROUP,
            "LogStream": c.crawler_name,
            "MessagePrefix": c.crawl_id,
            "Summary": json.dumps({"TABLE": {"ADD": {"Count": c.tables_created},
                                             "UPDATE": {"Count": c.tables_updated},
                                             "DELETE": {"Count": c.tables_deleted}},
                                   "PARTITION": {"ADD": {"Count": c.partitions_created},
                                                 "DELETE": {"Count": c.partitions_deleted}}}),
        }
        if c.end_time:
            item["EndTime"] = _epoch(c.end_time)
        if c.error_message:
            item["ErrorMessage"] = c.error_message
        out.append(item)
    return json.dumps({"Crawls": out})


_UPDATABLE = {
    "Role": "role", "DatabaseName": "database_name", "Description": "description", "Targets": "targets",
    "Schedule": "schedule", "Classifiers": "classifiers", "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy", "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration", "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


def _refuse_while_crawling(name: str, action: str) -> None:
    latest = _latest(name)
    if latest is not None and latest.phase != "DONE":
        raise CrawlerRunningException(f"Cannot {action} crawler {name}: it is {latest.phase}")


def update_crawler(self: GlueResponse) -> str:
    """UpdateCrawler (moto has none): the given fields replace the crawler's; refused while it crawls."""
    name = self._get_param("Name")
    crawler = self.glue_backend.get_crawler(name)
    with _LOCK:
        _refuse_while_crawling(name, "update")
        for param, attribute in _UPDATABLE.items():
            value = self._get_param(param)
            if value is not None:
                setattr(crawler, attribute, value)
        crawler.version += 1
        crawler.last_updated = utcnow()
    return "{}"


def delete_crawler(self: GlueResponse) -> str:
    name = self._get_param("Name")
    self.glue_backend.get_crawler(name)
    with _LOCK:
        _refuse_while_crawling(name, "delete")
        self.glue_backend.delete_crawler(name)
        _CRAWLS.pop(name, None)
    return "{}"


def install(server) -> None:
    GlueBackend.start_crawler = _start_crawler
    GlueBackend.stop_crawler = _stop_crawler
    FakeCrawler.status = property(_status)
    FakeCrawler.as_dict = _as_dict
    GlueResponse.get_crawler_metrics = get_crawler_metrics
    GlueResponse.list_crawls = list_crawls
    GlueResponse.update_crawler = update_crawler
    GlueResponse.delete_crawler = delete_crawler


# --- persistence -----------------------------------------------------------------------------------------------

_SAVED_CRAWL_FIELDS = (
    "crawler_name", "crawl_id", "status", "error_message", "tables_created", "tables_updated", "tables_deleted",
    "partitions_created", "partitions_deleted",
)


def _state_file(server) -> Path | None:
    state_dir = getattr(server, "state_dir", None)
    return Path(state_dir) / "glue" / "catalog.json" if state_dir else None


def _consistent_snapshot() -> dict:
    """A crawl's writes are excluded by the lock; an API call changing the catalog mid-copy makes a retry."""
    for attempt in range(_SNAPSHOT_ATTEMPTS):
        try:
            with _CATALOG_WRITE:
                return catalog_state.snapshot()
        except RuntimeError:  # "dictionary changed size during iteration"
            if attempt == _SNAPSHOT_ATTEMPTS - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def save_state(server) -> None:
    path = _state_file(server)
    if path is None:
        return
    data = _consistent_snapshot()
    with _LOCK:
        data["crawls"] = [
            {**{k: getattr(c, k) for k in _SAVED_CRAWL_FIELDS},
             "phase": c.phase, "start_time": c.start_time.isoformat(),
             "end_time": c.end_time.isoformat() if c.end_time else None}
            for crawls in _CRAWLS.values() for c in crawls
        ]
    catalog_state.write(path, data)


def load_state(server) -> None:
    path = _state_file(server)
    if path is None or not path.exists():
        return
    data = catalog_state.read(path)
    catalog_state.restore(data)
    with _LOCK:
        for record in data.get("crawls", []):
            run = Crawl(**{k: record[k] for k in _SAVED_CRAWL_FIELDS},
                        start_time=dt.datetime.fromisoformat(record["start_time"]),
                        end_time=dt.datetime.fromisoformat(record["end_time"]) if record["end_time"] else None,
                        phase=record["phase"])
            if run.phase != "DONE":  # the crawl's thread died with the previous server
                run.phase, run.status = "DONE", "FAILED"
                run.error_message = "the local AWS stopped during the crawl"
                run.end_time = run.end_time or run.start_time
            known = {c.crawl_id for c in _CRAWLS.get(run.crawler_name, [])}
            if run.crawl_id not in known:
                _CRAWLS.setdefault(run.crawler_name, []).append(run)
    log.info("Glue catalog loaded from %s", path)
