"""chalicelib/store.py: the SQLite store and the DynamoDB store (against a real moto_server) pass the
same suite: keys, atomic counting, the quota inside the write, idempotency, concurrency."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from datetime import datetime, timezone

import pytest

from chalicelib.store import COUNTED, OVER_QUOTA, REPLAY, DynamoStore, FrameEvent, KeyRecord, SQLiteStore
from tests.servers import AWS_TEST_ENV, moto_server

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def moto():
    with moto_server() as (endpoint, proc):
        yield endpoint


def dynamo_client(endpoint):
    import boto3
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def make_store(kind, tmp_path, endpoint=None, table=None):
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "meter.sqlite3"))
    client = dynamo_client(endpoint)
    if table not in client.list_tables()["TableNames"]:
        DynamoStore.create_table(client, table)
    return DynamoStore(table, client=client)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return make_store("sqlite", tmp_path)
    endpoint = request.getfixturevalue("moto")
    return make_store("dynamodb", tmp_path, endpoint, f"meter-{request.node.name[-30:].strip('[]-')}-{time.time_ns()}")


def key(n=1, quota=100):
    return KeyRecord(key_id=f"key_{n}", key_hash=f"{n:064x}", customer=f"customer {n}", quota=quota,
                     created=NOW.isoformat())


def frame(key_id="key_1", charged=True, at=NOW, **kw):
    return FrameEvent(key_id=key_id, at=at, status=200, charged=charged, faces=1 if charged else 0,
                      bytes_in=1000, bytes_out=2000, server_ms=12.3, billed_ms=13, **kw)


def test_keys_round_trip(store):
    store.add_key(key(1))
    store.add_key(key(2, quota=5))
    assert store.find_key(f"{1:064x}") == key(1)
    assert store.find_key("0" * 63 + "9") is None
    assert [k.key_id for k in store.list_keys()] == ["key_1", "key_2"]
    store.update_key(KeyRecord(**{**key(2, quota=5).__dict__, "revoked": True}))
    assert store.find_key_by_id("key_2").revoked is True


def test_counting_totals_per_month_and_day(store):
    store.add_key(key(1))
    assert store.record(frame(), 100, None, 0) == COUNTED
    assert store.record(frame(charged=False), 100, None, 0) == COUNTED
    assert store.record(frame(at=datetime(2026, 11, 26, tzinfo=timezone.utc)), 100, None, 0) == COUNTED
    month = store.totals("key_1", "2026-11")
    assert (month.requests, month.charged, month.not_charged, month.faces) == (3, 2, 1, 2)
    assert (month.bytes_in, month.bytes_out, month.billed_ms) == (3000, 6000, 39)
    assert abs(month.server_ms - 36.9) < 1e-6
    assert store.totals("key_1", "2026-11-25").requests == 2
    assert store.totals("key_1", "2026-11-26").requests == 1
    assert store.totals("key_1", "2026-10").requests == 0


def test_quota_is_checked_inside_the_write(store):
    store.add_key(key(1, quota=2))
    assert [store.record(frame(), 2, None, 0) for _ in range(3)] == [COUNTED, COUNTED, OVER_QUOTA]
    month = store.totals("key_1", "2026-11")
    assert (month.charged, month.not_charged, month.requests) == (2, 1, 3)  # the refused frame is recorded
    assert store.record(frame(charged=False), 2, None, 0) == COUNTED  # free frames are not limited here


def test_idempotency_key_counts_once_until_it_expires(store):
    store.add_key(key(1))
    far = time.time() + 3600
    assert store.record(frame(), 100, "retry-1", far) == COUNTED
    assert store.seen("key_1", "retry-1", time.time())
    assert store.record(frame(), 100, "retry-1", far) == REPLAY
    assert store.record(frame(key_id="key_1"), 100, "retry-2", far) == COUNTED
    assert store.totals("key_1", "2026-11").charged == 2
    assert store.record(frame(), 100, "old", time.time() - 1) == COUNTED  # stored already expired
    assert not store.seen("key_1", "old", time.time())
    assert store.record(frame(), 100, "old", far) == COUNTED
    assert store.totals("key_1", "2026-11").charged == 4


def test_threads_count_exactly_and_never_pass_the_quota(store):
    store.add_key(key(1, quota=50))
    outcomes = []
    lock = threading.Lock()

    def work(i):
        for j in range(10):
            outcome = store.record(frame(), 50, f"t{i}-{j}", time.time() + 60)
            with lock:
                outcomes.append(outcome)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    month = store.totals("key_1", "2026-11")
    assert outcomes.count(COUNTED) == 50 and outcomes.count(OVER_QUOTA) == 30
    assert (month.requests, month.charged, month.not_charged) == (80, 50, 30)


def _process_worker(kind, path, endpoint, table, n, results):
    os.environ.update(AWS_TEST_ENV)
    if kind == "sqlite":
        store = SQLiteStore(path)
    else:
        store = DynamoStore(table, client=dynamo_client(endpoint))
    counted = sum(store.record(frame(), 10_000, None, 0) == COUNTED for _ in range(n))
    results.put(counted)


def test_processes_count_exactly(store, tmp_path):
    store.add_key(key(1, quota=10_000))
    kind = "sqlite" if isinstance(store, SQLiteStore) else "dynamodb"
    path = getattr(store, "path", "")
    endpoint = store.client.meta.endpoint_url if kind == "dynamodb" else ""
    table = getattr(store, "table", "")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(kind, path, endpoint, table, 15, results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert sum(results.get(timeout=5) for _ in procs) == 45
    month = store.totals("key_1", "2026-11")
    assert (month.requests, month.charged) == (45, 45)


def test_sqlite_locked_database_is_unavailable_not_half_counted(tmp_path):
    import sqlite3

    from chalicelib.errors import StoreUnavailable
    path = str(tmp_path / "meter.sqlite3")
    store = SQLiteStore(path, busy_timeout_ms=200)
    store.add_key(key(1))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreUnavailable):
        store.record(frame(), 100, "idem", time.time() + 60)
    blocker.execute("ROLLBACK")
    assert store.totals("key_1", "2026-11").requests == 0
    assert not store.seen("key_1", "idem", time.time())
    assert store.record(frame(), 100, "idem", time.time() + 60) == COUNTED


def test_dynamodb_down_is_unavailable(tmp_path):
    from chalicelib.errors import StoreUnavailable
    with moto_server() as (endpoint, _):
        store = make_store("dynamodb", tmp_path, endpoint, "meter-down")
        store.add_key(key(1))
        assert store.record(frame(), 100, None, 0) == COUNTED
    with pytest.raises(StoreUnavailable):  # the server is gone
        store.record(frame(), 100, None, 0)
    with pytest.raises(StoreUnavailable):
        store.find_key(f"{1:064x}")
