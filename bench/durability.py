"""What durable state costs per API call: the same calls against a server in memory and one with a state dir.

    python -m bench.durability [--calls 200]

Each server is a `python -m local_aws serve` subprocess; calls come from boto3 over loopback, one at a time.
Prints the median and 95th percentile latency per call kind for both servers, and the store's own commit count
and time (from /_local_aws/health). Run it on a quiet machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import requests

from local_aws.server import HEALTH_PATH, free_port

MACHINE = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def _serve(state_dir: Path | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "local_aws", "serve", "--port", str(port)]
    if state_dir:
        command += ["--state-dir", str(state_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(url + HEALTH_PATH, timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the local AWS did not start")


def _timed(call, *args) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def measure(url: str, calls: int) -> dict[str, list[float]]:
    def client(name):  # the local AWS takes any credentials
        return boto3.client(name, endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
                            aws_secret_access_key="local")

    s3, glue, sfn = client("s3"), client("glue"), client("stepfunctions")
    s3.create_bucket(Bucket="bench-lake")
    glue.create_database(DatabaseInput={"Name": "bench"})
    machine = sfn.create_state_machine(name="bench", definition=MACHINE,
                                       roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
    body = os.urandom(64 * 1024)
    times: dict[str, list[float]] = {"s3 PutObject 64 KB": [], "s3 GetObject": [], "glue CreateTable": [],
                                     "stepfunctions StartExecution": []}
    def read(key):
        s3.get_object(Bucket="bench-lake", Key=key)["Body"].read()

    for i in range(calls):
        times["s3 PutObject 64 KB"].append(_timed(lambda key: s3.put_object(Bucket="bench-lake", Key=key, Body=body),
                                                  f"k{i}"))
        times["s3 GetObject"].append(_timed(read, f"k{i}"))
        times["glue CreateTable"].append(_timed(lambda name: glue.create_table(
            DatabaseName="bench", TableInput={"Name": name, "StorageDescriptor": {"Columns": []}}), f"t{i}"))
        times["stepfunctions StartExecution"].append(_timed(lambda name: sfn.start_execution(
            stateMachineArn=machine, name=name), f"e{i}"))
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    results = {}
    health = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, state_dir in (("memory", None), ("durable", Path(tmp) / "state")):
            proc, url = _serve(state_dir)
            try:
                results[label] = measure(url, args.calls)
                health[label] = requests.get(url + HEALTH_PATH, timeout=5).json()
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"{args.calls} calls of each kind, one at a time; load average {os.getloadavg()[0]:.1f}")
    print(f"{'call':32} {'memory p50':>11} {'durable p50':>12} {'memory p95':>11} {'durable p95':>12}")
    for kind in results["memory"]:
        memory, durable = sorted(results["memory"][kind]), sorted(results["durable"][kind])
        p95 = int(len(memory) * 0.95)
        print(f"{kind:32} {statistics.median(memory):9.1f}ms {statistics.median(durable):10.1f}ms "
              f"{memory[p95]:9.1f}ms {durable[p95]:10.1f}ms")
    durable = health["durable"]
    print(f"store: {durable['commits']} commits, {durable['commit_seconds']:.2f} s in all "
          f"({1000 * durable['commit_seconds'] / max(1, durable['commits']):.1f} ms each)")


if __name__ == "__main__":
    main()
