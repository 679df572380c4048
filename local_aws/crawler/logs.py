"""A crawl's log in the local CloudWatch Logs, where Glue writes it: group ``/aws-glue/crawlers``, stream = the
crawler's name, every message prefixed with the crawl id (LastCrawl's MessagePrefix)."""

from __future__ import annotations

import logging
import time

from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends

from local_aws import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/crawlers"


def write(crawler_name: str, crawl_id: str, messages: list[str], account_id: str = ACCOUNT_ID,
          region: str = REGION) -> None:
    """Best effort: a logging failure never changes the crawl's outcome. The crawler's account and region."""
    if not messages:
        return
    try:
        backend = logs_backends[account_id][region]
        for create in (lambda: backend.create_log_group(LOG_GROUP, {}),
                       lambda: backend.create_log_stream(LOG_GROUP, crawler_name)):
            try:
                create()
            except ResourceAlreadyExistsException:
                pass
        now = int(time.time() * 1000)
        backend.put_log_events(LOG_GROUP, crawler_name,
                               [{"timestamp": now, "message": f"[{crawl_id}] {m}"} for m in messages])
    except Exception:
        log.warning("could not write the log of crawl %s to CloudWatch Logs", crawl_id, exc_info=True)
