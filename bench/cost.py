"""The all-in AWS cost of 1,000 camera frames at 640x480, measured.

Sends camera-like 640x480 frames (the clip's close-up shot, forth and back so that there is no cut) the
way the camera page sends them, one after the other with the previous answer's X-Track-State and no
Idempotency-Key, through the Chalice app in process, metering into DynamoDB: a moto_server this script
starts, through the very store code that runs on AWS. Once with full answers (the whole frame as a
JPEG), once with patch answers (only the tinted lips as a WebP: the camera page's default). Then
prints, per 1,000 frames of each:

- Lambda compute: each request's billed duration x the configured memory x the GB-second price. The
  duration is what Lambda (one full vCPU at 1,769 MB) would spend: the handler's CPU time in this
  process (the app, Chalice, and botocore's side of the meter's call) plus the store's own time to
  answer, here moto's CPU time per call (standing in for DynamoDB's latency), rounded up to the
  millisecond. CPU times, unlike wall times, hardly move when other work shares this machine's cores;
  the wall time is printed beside;
- Lambda's request fee, and the front door's: API Gateway REST and HTTP API, a total for each;
- DynamoDB writes and reads: the units the store's own calls used, counted from the sizes of the items
  they wrote and read (chalicelib/capacity.py: moto's ConsumedCapacity is a constant, printed beside);
- data transfer out: the answers' real bytes (body and the app's headers);
- CloudWatch Logs: the bytes the app wrote to its log (the meter's line per frame), and Lambda's own
  START/END/REPORT lines per invocation where the deployed function has them: layers/deploy.py sets its
  system log level to WARN, which leaves them out (what they would add is printed below the table).

Then the same with an Idempotency-Key on every frame (what the Python client sends), for its DynamoDB
units. Prices come from chalicelib/settings.py (dated in docs/metering.md, "Prices and cost").

    .venv/bin/python bench/cost.py [--frames 1000] [--client-frames 200]
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TINTCAM_DB"] = os.path.join(tempfile.mkdtemp(prefix="tintcam-cost-"), "meter.sqlite3")

from bench.frame_api import camera_like, clip_frames, to_jpeg  # noqa: E402
from chalicelib import capacity  # noqa: E402
from layers.deploy import LOGGING_CONFIG  # noqa: E402
from tests.servers import AWS_TEST_ENV, moto_server  # noqa: E402

REKOGNITION_PER_1000 = 1.00
TABLE = "tintcam-cost-meter"
# Lambda writes three lines of its own to the function's log for every invocation (their documented form),
# unless the function's system log level is WARN (layers/deploy.py sets it so)
LAMBDA_LOG_LINES = ("START RequestId: 3f0b5c1e-6a7d-4c1b-9f7e-2b8c1d0e4a5f Version: $LATEST\n"
                    "END RequestId: 3f0b5c1e-6a7d-4c1b-9f7e-2b8c1d0e4a5f\n"
                    "REPORT RequestId: 3f0b5c1e-6a7d-4c1b-9f7e-2b8c1d0e4a5f\tDuration: 30.12 ms\t"
                    "Billed Duration: 31 ms\tMemory Size: 1769 MB\tMax Memory Used: 156 MB\t\n")
SYSTEM_LOG_BYTES = 0 if LOGGING_CONFIG.get("SystemLogLevel") == "WARN" else len(LAMBDA_LOG_LINES)  # per invocation
TARGETS = {"rest": 0.006, "http": 0.0035}
# the answer formats: the first Accept value and the query (the camera page asks for patch answers)
ANSWERS = {"full": ("image/jpeg", ""), "patch": ("image/webp", "?answer=patch")}


class CountingOutput:
    """Standard output during the run: counts the bytes written (the function's log), keeps none."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class Run:
    """What ``frames`` requests cost, as measured."""
    frames: int
    wall_ms: list[float]      # each request's wall time in the handler (for reference)
    cpu_ms: list[float]       # each request's CPU time in this process
    store_ms: float           # the store's own time to answer, per request (moto's CPU time)
    server_ms: list[float]    # the app's X-Processing-Ms
    answer_bytes: int
    log_bytes: int
    units: capacity.Usage

    @property
    def billed_ms(self) -> int:
        return sum(math.ceil(ms + self.store_ms) for ms in self.cpu_ms)

    def cost(self, prices, front_door: str):
        """The whole bill of these frames, line by line (Lambda's own log lines added where it writes them)."""
        return prices.all_in(self.frames, self.billed_ms, self.units.write_units, self.units.read_units,
                             self.answer_bytes, self.log_bytes + self.frames * SYSTEM_LOG_BYTES, front_door)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client, meter, log: CountingOutput, moto_pid: int, key: str, frames: list[bytes], count: int,
            answer: str, idempotency: bool = False) -> Run:
    """``count`` frames in order, each with the previous answer's tracking state, as the camera page sends
    them with ``answer`` answers: what they cost."""
    accept, query = ANSWERS[answer]
    wall_ms, cpu_ms, server_ms, answer_bytes, state = [], [], [], 0, None
    meter.store.capacity.reset()
    log.bytes, moto_cpu = 0, cpu_seconds(moto_pid)
    for i in range(count):
        headers = {"Content-Type": "image/jpeg", "Accept": accept, "x-api-key": key}
        if state:
            headers["X-Track-State"] = state
        if idempotency:
            headers["Idempotency-Key"] = f"cost-{time.time_ns()}-{i}"
        wall, cpu = time.perf_counter(), time.process_time()
        resp = client.http.post("/v1/tint" + query, body=frames[i % len(frames)], headers=headers)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        wall_ms.append((time.perf_counter() - wall) * 1000)
        assert resp.status_code in (200, 204), resp.body
        state = resp.headers.get("X-Track-State")
        server_ms.append(float(resp.headers["X-Processing-Ms"]))
        answer_bytes += len(resp.body) + sum(len(k) + len(v) + 4 for k, v in resp.headers.items()) + 17
    store_ms = (cpu_seconds(moto_pid) - moto_cpu) * 1000 / count
    return Run(count, wall_ms, cpu_ms, store_ms, server_ms, answer_bytes, log.bytes, meter.store.capacity.snapshot())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames per answer format")
    parser.add_argument("--client-frames", type=int, default=200, help="frames sent with an Idempotency-Key")
    args = parser.parse_args()
    out = sys.stdout
    jpegs = [to_jpeg(f) for f in camera_like(clip_frames())]
    frames = jpegs + jpegs[-2:0:-1]  # forth and back: one continuous shot
    with moto_server() as (endpoint, moto):
        os.environ.update({**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "TINTCAM_METER_STORE": "dynamodb",
                           "TINTCAM_METER_TABLE": TABLE})
        import boto3

        from chalicelib import settings
        from chalicelib.store import DynamoStore
        settings.get.cache_clear()  # importing the test helpers loaded the test suite's settings
        DynamoStore.create_table(boto3.client("dynamodb"), TABLE)
        log = CountingOutput()
        sys.stdout = log  # before the app is imported: its logger writes where standard output is then
        try:
            from chalice.test import Client

            import app
            from chalicelib import metering
            meter = metering.get_meter(settings.get())
            key, _ = meter.create_key("cost benchmark", 10_000_000)
            with Client(app.app) as client:
                measure(client, meter, log, moto.pid, key, frames, 5, "full")  # warm: the model loaded, as on Lambda
                runs = {answer: measure(client, meter, log, moto.pid, key, frames, args.frames, answer)
                        for answer in ANSWERS}
                with_key = measure(client, meter, log, moto.pid, key, frames, args.client_frames, "patch",
                                   idempotency=True)
        finally:
            sys.stdout = out
    report(runs, with_key, meter.prices)


def report(runs: dict[str, Run], with_key: Run, prices) -> None:
    print("tintcam all-in AWS cost per 1,000 camera frames of 640x480, sent as the camera page sends them "
          "(in order, with X-Track-State, no Idempotency-Key)")
    for answer, run in runs.items():
        print(f"  {answer} answers: {run.frames} frames; per request (median) the app's server time "
              f"{statistics.median(run.server_ms):.1f} ms, the handler's CPU time {statistics.median(run.cpu_ms):.1f} "
              f"ms + the store's {run.store_ms:.1f} ms (moto's CPU; the wall time was "
              f"{statistics.median(run.wall_ms):.1f} ms on this shared machine)")
    costs = {(answer, door): run.cost(prices, door) for answer, run in runs.items() for door in ("rest", "http")}
    head = "".join(f"{answer + ' answers: per frame':>30} {'per 1,000':>10}" for answer in runs)
    print(f"  {'':32}{head}")

    def row(name: str, amount, line: str, door: str = "rest") -> None:
        cells = "".join(f"{amount(run):>30} ${getattr(costs[answer, door], line) * 1000 / run.frames:.5f}"
                        for answer, run in runs.items())
        print(f"  {name:32}{cells}")
    row("Lambda compute", lambda r: f"{r.billed_ms / r.frames:.1f} ms billed at {prices.memory_mb} MB",
        "lambda_compute")
    row("Lambda requests", lambda r: "1 request", "lambda_requests")
    row("DynamoDB writes", lambda r: f"{r.units.write_units / r.frames:.2f} write units", "dynamodb_writes")
    row("DynamoDB reads", lambda r: f"{r.units.read_units / r.frames:.3f} read units", "dynamodb_reads")
    row("data transfer out", lambda r: f"{r.answer_bytes / r.frames:,.0f} bytes", "data_out")
    row("CloudWatch Logs", lambda r: f"{r.log_bytes / r.frames + SYSTEM_LOG_BYTES:,.0f} bytes", "logs")
    row("front door: API Gateway REST", lambda r: "1 request", "front_door", "rest")
    row("front door: HTTP API", lambda r: "1 request", "front_door", "http")
    for door, label in (("rest", "REST"), ("http", "the HTTP API")):
        cells = ""
        for answer, run in runs.items():
            total = costs[answer, door].total * 1000 / run.frames
            verdict = f"target <= ${TARGETS[door]}: " + ("met" if total <= TARGETS[door] else "NOT met")
            cells += f"{verdict:>30} ${total:.5f}"
        print(f"  {'total behind ' + label:32}{cells}")
    system = len(LAMBDA_LOG_LINES)
    print(f"  Lambda's own START/END/REPORT lines ({system} bytes an invocation, "
          f"${system / 1e9 * prices.log_ingest_gb * 1000:.5f} per 1,000 frames): "
          + ("not written: the deploy sets the function's system log level to WARN" if not SYSTEM_LOG_BYTES
             else "counted in CloudWatch Logs above"))
    largest = max(run.units.largest_item for run in runs.values())
    reported = sum(run.units.reported_units for run in runs.values()) / sum(run.frames for run in runs.values())
    print(f"  largest item written: {largest} bytes (1 KB = 1 write unit); moto's own ConsumedCapacity said "
          f"{reported:.2f} units per frame (a constant per call, not the item's size)")
    dynamodb = with_key.cost(prices, "rest")
    print(f"with an Idempotency-Key on every frame (as the Python client sends), {with_key.frames} frames: "
          f"{with_key.units.write_units / with_key.frames:.2f} write units + "
          f"{with_key.units.read_units / with_key.frames:.2f} read units per frame, DynamoDB "
          f"${(dynamodb.dynamodb_writes + dynamodb.dynamodb_reads) * 1000 / with_key.frames:.5f} per 1,000")
    cheapest = min(costs[answer, "http"].total * 1000 / run.frames for answer, run in runs.items())
    print(f"Amazon Rekognition DetectFaces, face detection alone: ${REKOGNITION_PER_1000:.2f} per 1,000 images "
          f"({REKOGNITION_PER_1000 / cheapest:.0f}x tintcam's all-in cost with patch answers behind the HTTP API)")


if __name__ == "__main__":
    main()
