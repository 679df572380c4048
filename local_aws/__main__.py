"""python -m local_aws serve --port 4566 --state-dir DIR"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading

from local_aws.patches import PatchError
from local_aws.server import LocalAWS
from local_aws.settings import SettingsError
from local_aws.state.journal import JournalError
from local_aws.state.store import StateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description="The project's local AWS")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the AWS APIs on one port until SIGTERM or Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4566)
    serve.add_argument("--state-dir", default=None, help="keep state here across restarts")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack: a hung call
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    aws = LocalAWS(port=args.port, state_dir=args.state_dir, host=args.host)
    try:
        aws.start()
    except (SettingsError, PatchError, StateError, JournalError) as exc:
        print(f"local AWS cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        print(f"local AWS ready at {aws.endpoint_url}", flush=True)
        stop.wait()
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
