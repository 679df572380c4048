"""Airflow's REST API through the official client (`apache-airflow-client`, version-matched to Airflow).

`connect()` signs in (Airflow 3 hands out a JWT at `POST /auth/token`, which the client does not wrap) and
returns an `ApiClient` for the client's API classes: `DAGRunApi(client).get_dag_run(...)`, and so on.

SQLite lets one writer in at a time: under load the api-server can answer 500 ("database is locked") for a
moment. Reads (GET) are retried by urllib3 under the client; a write is not (it may have been applied), its
caller decides (see bench.dag_runs).
"""

from __future__ import annotations

import json

from airflow_client.client import ApiClient, Configuration
from airflow_client.client.exceptions import ApiException, NotFoundException
from urllib3.util.retry import Retry

__all__ = ["ApiClient", "ApiException", "NotFoundException", "connect", "read_retries"]


def read_retries() -> Retry:
    """GETs answered 500 are tried up to 3 more times, 1, 2 then 4 s apart; the last answer is returned."""
    return Retry(total=3, status_forcelist=[500], allowed_methods=["GET"], backoff_factor=1,
                 raise_on_status=False)


def connect(base_url: str, username: str, password: str) -> ApiClient:
    """An API client signed in as `username` on the api-server at `base_url` (http://host:port)."""
    config = Configuration(host=base_url, retries=read_retries())
    client = ApiClient(config)
    response = client.call_api("POST", f"{base_url}/auth/token", header_params={"Content-Type": "application/json"},
                               body={"username": username, "password": password}, _request_timeout=30)
    body = response.read()
    if response.status >= 400:
        raise ApiException(status=response.status, reason=response.reason, body=body.decode(errors="replace"))
    config.access_token = json.loads(body)["access_token"]
    return client
