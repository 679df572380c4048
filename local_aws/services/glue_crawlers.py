"""Glue crawlers that really crawl: declared patches of moto's Glue crawler model and API, a crawl history kept per
account and region, and the ``AWS::Glue::Crawler`` CloudFormation type.

StartCrawler runs the crawl (``local_aws.crawler``) in a background thread: State RUNNING while it reads S3 and
writes the catalog, STOPPING briefly, then READY with ``LastCrawl`` {Status SUCCEEDED | FAILED | CANCELLED,
ErrorMessage on failure, LogGroup, LogStream, MessagePrefix, StartTime}. This replaces moto's crawl state machine
(which advances only on ListCrawls and ends in COMPLETED). StopCrawler cancels a running crawl before it writes
the catalog. GetCrawlerMetrics (missing in moto) and ListCrawls report the crawls; UpdateCrawler (missing in moto)
and DeleteCrawler are refused with CrawlerRunningException while a crawl runs, as on AWS. Sources: AWS Glue API
reference, "StartCrawler", "StopCrawler", "GetCrawler" (Crawler, LastCrawlInfo), "GetCrawlerMetrics",
"ListCrawls", "UpdateCrawler", "DeleteCrawler".

A crawl starts after a short start-up delay (``settings.current().crawler_startup_delay``: the
``LOCAL_AWS_CRAWLER_STARTUP_SECONDS``, default 0.5, times ``LOCAL_AWS_TIME_SCALE``), as a Glue crawler spends its
first seconds provisioning: pollers see RUNNING.

State: the crawls live on ``CrawlHistoryBackend`` (one per account and region, in ``crawl_backends``), saved with
moto's Glue backend by the state store and reset with it. A crawl's thread ends it through
``state_store.finish``, after it wrote the catalog: the catalog, the crawl record and the crawl's CloudWatch log are
on disk together before GetCrawler, ListCrawls or GetCrawlerMetrics can answer the crawl's end. (Tables the crawl
wrote can be read in its last fraction of a second, before that commit; and another Glue request committing
meanwhile may save part of a crawl's writes.) A crawl that was running when the server stopped is restored
FAILED, "the local AWS stopped during the crawl" (its thread died with the server); the catalog is restored as last
committed.

Errors: the crawl engine raises ``CrawlError`` (FAILED, its message as ErrorMessage) and ``CrawlCancelled``
(CANCELLED); a catalog write refused by moto's backend fails the crawl with that error's code and message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import statistics
import threading
import time
import uuid
from dataclasses import dataclass

from moto.core.base_backend import BackendDict
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow
from moto.glue.exceptions import (
    CrawlerNotRunningException,
    CrawlerRunningException,
    EntityNotFoundException,
    GlueClientError,
    InvalidInputException,
)
from moto.glue.models import FakeCrawler, GlueBackend, glue_backends
from moto.glue.responses import GlueResponse

from local_aws import settings
from local_aws.backends import LocalBackend
from local_aws.cfn_resources import LocalResource
from local_aws.crawler import logs as crawl_logs
from local_aws.crawler.crawl import CrawlCancelled, CrawlError, crawl
from local_aws.crawler.logs import LOG_GROUP
from local_aws.iam import service_roles
from local_aws.patches import add, patch
from local_aws.state import store as state_store

log = logging.getLogger(__name__)

STOPPING_SECONDS = 0.3  # how long State stays STOPPING after the crawl's work is done
HISTORY_LIMIT = 100  # crawls kept per crawler (ListCrawls, metrics, the saved state)
INTERRUPTED = "the local AWS stopped during the crawl"
_MAX_METRICS = 100  # GetCrawlerMetrics' MaxResults limit


class CrawlerStoppingException(GlueClientError):
    def __init__(self, msg: str):
        super().__init__("CrawlerStoppingException", msg)


@dataclass
class Crawl:
    """One run of a crawler. ``phase`` drives the crawler's State; ``status`` is LastCrawl.Status once done.
    Times are naive UTC datetimes, as moto keeps them."""

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


class CrawlHistoryBackend(LocalBackend):
    """The crawls of every crawler of one account and region: ``crawls`` maps a crawler name to its crawls,
    oldest first (at most HISTORY_LIMIT). ``lock`` guards it; ``catalog_write`` lets one crawl write the catalog
    at a time; ``cancels`` holds the StopCrawler signal of each running crawl (by crawl id)."""

    SERVICE = "glue"
    RUNTIME = ("lock", "catalog_write", "cancels")

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.crawls: dict[str, list[Crawl]] = {}
        self.lock = threading.RLock()
        self.catalog_write = threading.Lock()
        self.cancels: dict[str, threading.Event] = {}

    def latest(self, name: str) -> Crawl | None:
        with self.lock:
            history = self.crawls.get(name)
            return history[-1] if history else None

    def finished(self, name: str) -> list[Crawl]:
        with self.lock:
            return [c for c in self.crawls.get(name, []) if c.phase == "DONE"]

    def restored(self) -> None:
        """A crawl not done when the state was saved lost its thread with the server: it ends FAILED (at its
        last known time, so restoring twice gives the same record)."""
        for history in self.crawls.values():
            for run in history:
                if run.phase != "DONE":
                    run.phase, run.status, run.error_message = "DONE", "FAILED", INTERRUPTED
                    run.end_time = run.end_time or run.start_time

    def shutdown(self) -> None:
        """Running crawls stop before writing the catalog (the server stops, or moto resets)."""
        with self.lock:
            for cancel in self.cancels.values():
                cancel.set()


crawl_backends = BackendDict(CrawlHistoryBackend, "glue")


def _history(account_id: str, region: str) -> CrawlHistoryBackend:
    return crawl_backends[account_id][region]


def _history_of(crawler: FakeCrawler) -> CrawlHistoryBackend:
    return _history(crawler.backend.account_id, crawler.backend.region_name)


# --- the crawl thread ------------------------------------------------------------------------------------------


def _run(glue: GlueBackend, history: CrawlHistoryBackend, crawler: FakeCrawler, run: Crawl,
         cancel: threading.Event) -> None:
    messages: list[str] = []
    try:
        if cancel.wait(settings.current().crawler_startup_delay):
            raise CrawlCancelled()
        with service_roles.crawler_session(crawler):  # the crawl runs as the crawler's role (issue 15)
            outcome = crawl(crawler, glue, cancel.is_set, write_lock=history.catalog_write)
        messages = outcome.messages
        run.tables_created, run.tables_updated = outcome.tables_created, outcome.tables_updated
        run.tables_deleted = outcome.tables_deleted
        run.partitions_created, run.partitions_deleted = outcome.partitions_created, outcome.partitions_deleted
        status, error = "SUCCEEDED", None
    except CrawlCancelled:
        status, error = "CANCELLED", None
    except (CrawlError, settings.SettingsError, service_roles.RoleRefused) as exc:
        status, error = "FAILED", str(exc)
    except GlueClientError as exc:  # the catalog refused a write (e.g. the database was deleted meanwhile)
        status, error = "FAILED", f"{exc.error_type}: {exc.message}"
    except Exception as exc:  # a bug must end the crawl FAILED, never leave it RUNNING forever
        log.exception("crawler %s failed", run.crawler_name)
        status, error = "FAILED", f"Internal Service Exception: {type(exc).__name__}: {exc}"
    with history.lock:
        run.phase = "STOPPING"
    time.sleep(STOPPING_SECONDS)
    summary = f"crawl {status} in {run.runtime_seconds:.1f}s" + (f": {error}" if error else "")
    log.info("crawler %s %s", run.crawler_name, summary)
    for message in messages:
        log.info("crawler %s [%s]: %s", run.crawler_name, run.crawl_id, message)
    crawl_logs.write(run.crawler_name, run.crawl_id, [
        f"BENCHMARK : Running Start Crawl for Crawler {run.crawler_name}", *messages,
        f"BENCHMARK : Crawler has finished running and is in state READY ({summary})",
    ], glue.account_id, glue.region_name)
    # Durable, then visible (state_store.finish): the crawl shows DONE only once the catalog it wrote, its record
    # and its log are on disk. The lock keeps StopCrawler from acting on the crawl meanwhile.
    end_time = utcnow()

    def end(crawl: Crawl) -> None:
        crawl.status, crawl.error_message, crawl.end_time, crawl.phase = status, error, end_time, "DONE"

    with history.lock:
        state_store.finish([(run, end)], "glue", "logs")
        history.cancels.pop(run.crawl_id, None)


# --- moto's crawler model --------------------------------------------------------------------------------------


@patch("moto.glue.models.GlueBackend.start_crawler", why="crawlers really crawl S3 into the catalog, in a thread "
       "(moto only records a crawl that advances on ListCrawls)")
def start_crawler(self: GlueBackend, name: str) -> None:
    crawler = self.get_crawler(name)
    history = _history(self.account_id, self.region_name)
    with history.lock:
        latest = history.latest(name)
        if latest is not None and latest.phase != "DONE":
            raise CrawlerRunningException(f"Crawler with name {name} has already started")
        run = Crawl(crawler_name=name, crawl_id=str(uuid.uuid4()), start_time=utcnow())
        crawls = history.crawls.setdefault(name, [])
        crawls.append(run)
        del crawls[:-HISTORY_LIMIT]
        cancel = history.cancels[run.crawl_id] = threading.Event()
    threading.Thread(target=_run, args=(self, history, crawler, run, cancel), name=f"crawler-{name}",
                     daemon=True).start()
    log.info("crawler %s crawl %s started", name, run.crawl_id)


@patch("moto.glue.models.GlueBackend.stop_crawler", why="StopCrawler cancels the crawl thread; a crawl already "
       "STOPPING is refused with CrawlerStoppingException, as on AWS")
def stop_crawler(self: GlueBackend, name: str) -> None:
    self.get_crawler(name)
    history = _history(self.account_id, self.region_name)
    with history.lock:
        latest = history.latest(name)
        if latest is None or latest.phase == "DONE":
            raise CrawlerNotRunningException(f"Crawler with name {name} isn't running")
        if latest.phase == "STOPPING":
            raise CrawlerStoppingException(f"Crawler with name {name} is stopping")
        latest.phase = "STOPPING"
        cancel = history.cancels.get(latest.crawl_id)
        if cancel is not None:
            cancel.set()


def _state(crawler: FakeCrawler) -> str:
    latest = _history_of(crawler).latest(crawler.name)
    if latest is None or latest.phase == "DONE":
        return "READY"
    return latest.phase


@patch("moto.glue.models.FakeCrawler.status", why="State comes from the crawl history (READY, RUNNING, STOPPING)",
       wrap=True)
def _status(original: property) -> property:
    return property(_state)


@patch("moto.glue.models.FakeCrawler.as_dict", why="LastCrawl is the last finished crawl, with SUCCEEDED (moto: "
       "COMPLETED) and ErrorMessage; CrawlElapsedTime counts the running crawl", wrap=True)
def _as_dict(original):
    def as_dict(self: FakeCrawler) -> dict:
        data = original(self)
        data.pop("LastCrawl", None)
        history = _history_of(self)
        with history.lock:
            latest = history.latest(self.name)
            finished = history.finished(self.name)
            data["State"] = _state(self)
            running = latest is not None and latest.phase != "DONE"
            data["CrawlElapsedTime"] = int(latest.runtime_seconds * 1000) if running else 0
            if finished:
                data["LastCrawl"] = finished[-1].last_crawl()
        return {k: v for k, v in data.items() if v is not None}

    return as_dict


# --- API actions -----------------------------------------------------------------------------------------------


def _history_for(response: GlueResponse) -> CrawlHistoryBackend:
    return _history(response.current_account, response.region)


@add("moto.glue.responses.GlueResponse.get_crawler_metrics", why="moto has no GetCrawlerMetrics (the SDK call "
     "fails with a 500)")
def get_crawler_metrics(self: GlueResponse) -> str:
    backend, history = self.glue_backend, _history_for(self)
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
        finished = history.finished(name)
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


@patch("moto.glue.responses.GlueResponse.list_crawls", why="the crawls are the crawl history's, newest first, with "
       "EndTime, ErrorMessage and the Summary of what each changed; Filters are refused by name")
def list_crawls(self: GlueResponse) -> str:
    name = self._get_param("CrawlerName")
    self.glue_backend.get_crawler(name)
    if self._get_param("Filters"):
        raise InvalidInputException("ListCrawls", "Filters are not supported by the local AWS")
    history = _history_for(self)
    with history.lock:
        crawls = list(reversed(history.crawls.get(name, [])))
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


def _refuse_while_crawling(history: CrawlHistoryBackend, name: str, action: str) -> None:
    latest = history.latest(name)
    if latest is not None and latest.phase != "DONE":
        raise CrawlerRunningException(f"Cannot {action} crawler {name}: it is {latest.phase}")


@add("moto.glue.responses.GlueResponse.update_crawler", why="moto has no UpdateCrawler")
def update_crawler(self: GlueResponse) -> str:
    """UpdateCrawler: the given fields replace the crawler's, Version goes up by one; refused while it crawls."""
    name = self._get_param("Name")
    crawler = self.glue_backend.get_crawler(name)
    history = _history_for(self)
    with history.lock:
        _refuse_while_crawling(history, name, "update")
        for param, attribute in _UPDATABLE.items():
            value = self._get_param(param)
            if value is not None:
                setattr(crawler, attribute, value)
        crawler.version += 1
        crawler.last_updated = utcnow()
    return "{}"


@patch("moto.glue.responses.GlueResponse.delete_crawler", why="DeleteCrawler is refused while a crawl runs, and "
       "takes the crawler's crawl history with it")
def delete_crawler(self: GlueResponse) -> str:
    name = self._get_param("Name")
    self.glue_backend.get_crawler(name)
    history = _history_for(self)
    with history.lock:
        _refuse_while_crawling(history, name, "delete")
        self.glue_backend.delete_crawler(name)
        history.crawls.pop(name, None)
    return "{}"


# --- CloudFormation --------------------------------------------------------------------------------------------


class GlueCrawler(LocalResource, CloudFormationModel):
    """``AWS::Glue::Crawler`` (Ref: the crawler name), created through moto's Glue backend. An update re-creates
    the crawler with the template's settings; its crawl history and the tables it wrote stay."""

    TYPE = "AWS::Glue::Crawler"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.crawlers:
            backend.delete_crawler(name)
        backend.create_crawler(
            name=name, role=props["Role"], database_name=props.get("DatabaseName"),
            description=props.get("Description"), targets=props.get("Targets", {}),
            schedule=(props.get("Schedule") or {}).get("ScheduleExpression"),
            classifiers=props.get("Classifiers", []), table_prefix=props.get("TablePrefix"),
            schema_change_policy=props.get("SchemaChangePolicy"), recrawl_policy=props.get("RecrawlPolicy"),
            lineage_configuration=props.get("LineageConfiguration"), configuration=props.get("Configuration"),
            crawler_security_configuration=props.get("CrawlerSecurityConfiguration"),
            tags=props.get("Tags") or {},
        )
        return cls(name)

    @classmethod
    def remove(cls, name, props, account_id, region):
        backend = glue_backends[account_id][region]
        if name in backend.crawlers:
            backend.delete_crawler(name)
        history = _history(account_id, region)
        with history.lock:
            history.crawls.pop(name, None)
