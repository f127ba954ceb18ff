"""Load on a real `chalice local` over loopback: N concurrent clients x M frames (default 8 x 250),
bounded in count and time. Prints throughput, latency percentiles and errors, then checks that the usage
totals equal the frames sent, exactly, and that every frame left exactly one log line. The meter store
is a throw-away SQLite file, or with ``--store dynamodb`` a table on a moto_server this script starts.

    .venv/bin/python bench/load.py [--clients 8] [--frames 250] [--max-seconds 600] [--store dynamodb]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.frame_api import camera_like, clip_frames, to_jpeg  # noqa: E402
from tests.conftest import frame_log_lines  # noqa: E402
from tests.servers import AWS_TEST_ENV, chalice_local, moto_server  # noqa: E402


def run_load(base: str, key: str, frames: list[bytes], clients: int, per_client: int, max_seconds: float) -> dict:
    latencies, statuses, lock = [], Counter(), threading.Lock()
    deadline = time.monotonic() + max_seconds
    sent = Counter()

    def client(index: int) -> None:
        with requests.Session() as session:
            state = None
            for i in range(per_client):
                if time.monotonic() > deadline:
                    return
                headers = {"Content-Type": "image/jpeg", "Accept": "image/jpeg", "x-api-key": key}
                if state:
                    headers["X-Track-State"] = state
                started = time.perf_counter()
                try:
                    resp = session.post(base + "/v1/tint", data=frames[(index * 7 + i) % len(frames)],
                                        headers=headers, timeout=60)
                    status = resp.status_code
                    state = resp.headers.get("X-Track-State")
                except requests.RequestException:
                    status = "connection error"
                with lock:
                    sent[index] += 1
                    statuses[status] += 1
                    latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    lat = sorted(latencies)
    return {"sent": sum(sent.values()), "seconds": elapsed, "statuses": dict(statuses),
            "throughput": len(lat) / elapsed, "p50": statistics.median(lat),
            "p95": lat[int(0.95 * (len(lat) - 1))], "p99": lat[int(0.99 * (len(lat) - 1))], "max": lat[-1]}


@contextlib.contextmanager
def meter_store(kind: str):
    """The meter's settings for a throw-away store of ``kind``, and the environment the server needs."""
    from chalicelib import settings
    if kind == "sqlite":
        env = {"TINTCAM_DB": os.path.join(tempfile.mkdtemp(prefix="tintcam-load-"), "meter.sqlite3")}
        yield settings.load({**os.environ, **env}), env
        return
    with moto_server() as (endpoint, _):
        import boto3

        from chalicelib.store import DynamoStore
        # chalice local applies the dev stage's environment from .chalice/config.json: its table name
        env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_METER_STORE": "dynamodb",
               "TINTCAM_METER_TABLE": "tintcam-dev-meter"}
        DynamoStore.create_table(boto3.client("dynamodb", endpoint_url=endpoint, **{
            "region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}),
            env["TINTCAM_METER_TABLE"])
        os.environ.update(env)  # this process's own store client finds moto there too
        yield settings.load({**os.environ, **env}), env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--frames", type=int, default=250, help="frames per client")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--store", choices=("sqlite", "dynamodb"), default="sqlite")
    args = parser.parse_args()
    from chalicelib import metering
    frames = [to_jpeg(f) for f in camera_like(clip_frames())]
    with meter_store(args.store) as (settings, env):
        meter = metering.get_meter(settings)
        key, record = meter.create_key("load", 10_000_000)
        with chalice_local(env=env) as (base, proc):
            result = run_load(base, key, frames, args.clients, args.frames, args.max_seconds)
            alive = proc.poll() is None
        usage = meter.usage(record)
    lines = frame_log_lines(proc.log_path, record.key_id)
    print(f"load: {args.clients} clients x {args.frames} frames of 640x480 against chalice local (loopback), "
          f"meter store {args.store}")
    print(f"  sent {result['sent']} in {result['seconds']:.1f} s: {result['throughput']:.1f} frames/s")
    print(f"  latency ms: p50 {result['p50']:.0f}, p95 {result['p95']:.0f}, p99 {result['p99']:.0f}, "
          f"max {result['max']:.0f}")
    print(f"  statuses: {result['statuses']}; server alive afterwards: {alive}")
    exact = usage["requests"] == result["sent"] and usage["frames_charged"] == sum(line["charged"] for line in lines)
    print(f"  usage totals: {usage['requests']} requests ({usage['frames_charged']} charged, "
          f"{usage['frames_not_charged']} not) for {result['sent']} sent: {'exact' if exact else 'MISMATCH'}")
    logged = len(lines) == result["sent"]
    print(f"  log lines: {len(lines)} frame lines for {result['sent']} frames: {'one each' if logged else 'MISMATCH'}")
    if not (exact and logged and alive):
        sys.exit(1)


if __name__ == "__main__":
    main()
