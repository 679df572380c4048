"""The whole local stack `make ui` and `make backfill` run on: the local AWS with the template deployed, and
Airflow's own components against it, on one state folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from pipeline_tools.airflow_env import REPO, airflow_env, migrate
from pipeline_tools.state_lock import StateLock


@contextmanager
def airflow_on_local_aws(state_dir: Path, console: Console, port: int | None = None) -> Iterator:
    """Yield running ``AirflowServices`` (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor,
    Airflow home ``state_dir/airflow``) against the local AWS (state in ``state_dir/local-aws``) with
    ``infra/cloudformation.json`` deployed. ``port``: the api-server's, None for any free one. ``state_dir`` is held
    (``StateLock``: SystemExit naming the holder when another process has it) until everything has stopped."""
    from local_aws.server import LocalAWS
    from pipeline_tools.airflow_services import AirflowServices
    from pipeline_tools.deploy import deploy_local

    state_dir = state_dir.resolve()
    with StateLock(state_dir), LocalAWS(port=0, state_dir=state_dir / "local-aws") as aws:
        console.print(f"local AWS at {aws.endpoint_url} (state in {aws.state_dir})")
        outputs = deploy_local(aws.endpoint_url, REPO)
        env = airflow_env(state_dir / "airflow", aws.endpoint_url, outputs, poll_seconds=1)
        migrate(env)
        console.print("starting Airflow: api-server, scheduler, dag-processor, triggerer")
        with AirflowServices(env, state_dir / "airflow", port=port) as af:
            yield af
