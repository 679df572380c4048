"""`make ui`: the Airflow UI on the local stack, without Docker, until Ctrl-C.

Starts the local AWS (the same state as `make run` and `make backfill`), deploys the stack, and runs Airflow's
api-server, scheduler, dag-processor and triggerer (SQLite, LocalExecutor) on the same Airflow home, so the UI shows
every day run so far and can trigger more. Prints the URL and the login the simple auth manager generated.
The daily schedule stays off: runs start only when triggered (from the UI, the REST API or a backfill).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console

from pipeline_tools import cli_args
from pipeline_tools.airflow_env import REPO
from pipeline_tools.local_stack import airflow_on_local_aws

DEFAULT_PORT = 8080


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=cli_args.port, default=DEFAULT_PORT,
                        help=f"the UI's port (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".state")
    parser.add_argument("--time-scale", type=cli_args.positive_float, default=0.1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    from pipeline_tools.airflow_services import port_is_free

    if args.port and not port_is_free(args.port):
        console.print(f"port {args.port} is taken: choose another with PORT=... (make ui PORT=8081; 0: any free port)")
        return 2
    os.environ.setdefault("LOCAL_AWS_TIME_SCALE", str(args.time_scale))
    # Ctrl-C and SIGTERM both leave through the context managers: Airflow's components stop, the local AWS saves.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with airflow_on_local_aws(args.state_dir, console, port=args.port or None) as af:
        console.print(f"\n[bold]{af.login}[/]")
        console.print(f"component logs: {af.home / 'component-logs'}; the daily DAG runs only when triggered")
        console.print("Ctrl-C stops everything", style="dim")
        try:
            while not (stopped := af.exited()):
                time.sleep(1)
            console.print(stopped)
            return 1
        except KeyboardInterrupt:
            console.print("\nstopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
