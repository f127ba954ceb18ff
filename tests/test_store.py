"""chalicelib/store.py: the SQLite store and the DynamoDB store (against a real moto_server) pass the
same suite: keys, atomic counting, the quota inside the write, idempotency, concurrency, one record per
key and month; and what the DynamoDB store's calls cost, counted by chalicelib/capacity.py."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from datetime import datetime, timezone

import pytest

from chalicelib import capacity
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
    assert store.record(frame(), 100, None, 0).outcome == COUNTED
    assert store.record(frame(charged=False), 100, None, 0).outcome == COUNTED
    written = store.record(frame(at=datetime(2026, 11, 26, tzinfo=timezone.utc)), 100, None, 0)
    assert (written.outcome, written.charged) == (COUNTED, 2)
    month = store.totals("key_1", "2026-11")
    assert (month.requests, month.charged, month.not_charged, month.faces) == (3, 2, 1, 2)
    assert (month.bytes_in, month.bytes_out, month.billed_ms) == (3000, 6000, 39)
    assert abs(month.server_ms - 36.9) < 1e-6
    assert month.days == {"2026-11-25": (2, 1), "2026-11-26": (1, 1)}  # (requests, charged) per day
    assert store.totals("key_1", "2026-10") == store.totals("key_9", "2026-11") == type(month)()


def test_quota_is_checked_inside_the_write(store):
    store.add_key(key(1, quota=2))
    written = [store.record(frame(), 2, None, 0) for _ in range(3)]
    assert [(w.outcome, w.charged) for w in written] == [(COUNTED, 1), (COUNTED, 2), (OVER_QUOTA, 2)]
    month = store.totals("key_1", "2026-11")
    assert (month.charged, month.not_charged, month.requests) == (2, 1, 3)  # the refused frame is recorded
    assert month.bytes_out == 2 * 2000  # ... with no answer sent
    assert store.record(frame(charged=False), 2, None, 0).outcome == COUNTED  # free frames are not limited here


def test_idempotency_key_counts_once_until_it_expires(store):
    store.add_key(key(1))
    far = time.time() + 3600
    assert store.record(frame(), 100, "retry-1", far).outcome == COUNTED
    assert store.seen("key_1", "retry-1", time.time())
    replay = store.record(frame(), 100, "retry-1", far)
    assert (replay.outcome, replay.charged, store.totals("key_1", "2026-11").requests) == (REPLAY, 1, 1)
    assert store.record(frame(key_id="key_1"), 100, "retry-2", far).charged == 2
    assert store.totals("key_1", "2026-11").charged == 2
    assert store.record(frame(), 100, "old", time.time() - 1).outcome == COUNTED  # stored already expired
    assert not store.seen("key_1", "old", time.time())
    assert store.record(frame(), 100, "old", far).outcome == COUNTED
    assert store.totals("key_1", "2026-11").charged == 4
    replay = store.record(frame(), 100, "old", far)
    assert (replay.outcome, replay.charged) == (REPLAY, 4)


def test_threads_count_exactly_and_never_pass_the_quota(store):
    store.add_key(key(1, quota=50))
    outcomes = []
    lock = threading.Lock()

    def work(i):
        for j in range(10):
            outcome = store.record(frame(), 50, f"t{i}-{j}", time.time() + 60).outcome
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
    counted = sum(store.record(frame(), 10_000, None, 0).outcome == COUNTED for _ in range(n))
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
    assert store.record(frame(), 100, "idem", time.time() + 60).outcome == COUNTED


def test_dynamodb_down_is_unavailable(tmp_path):
    from chalicelib.errors import StoreUnavailable
    with moto_server() as (endpoint, _):
        store = make_store("dynamodb", tmp_path, endpoint, "meter-down")
        store.add_key(key(1))
        assert store.record(frame(), 100, None, 0).outcome == COUNTED
    with pytest.raises(StoreUnavailable):  # the server is gone
        store.record(frame(), 100, None, 0)
    with pytest.raises(StoreUnavailable):
        store.find_key(f"{1:064x}")


def stored(store) -> dict:
    """What the store holds, by kind of record: {"key": n, "month": n, "idempotency": n}."""
    if isinstance(store, SQLiteStore):
        import sqlite3
        with sqlite3.connect(store.path) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert tables == {"keys", "months", "idempotency"}
            return {kind: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for kind, table in (("key", "keys"), ("month", "months"), ("idempotency", "idempotency"))}
    items = store.client.scan(TableName=store.table)["Items"]
    kinds = {"KEY": "key", "USAGE": "month", "IDEM": "idempotency"}
    found = {"key": 0, "month": 0, "idempotency": 0}
    for item in items:
        found[kinds[item["pk"]["S"].split("#")[0]]] += 1
    return found


def test_the_store_grows_with_keys_and_months_not_frames(store):
    store.add_key(key(1))
    store.add_key(key(2))
    december = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    for n in range(25):
        for key_id in ("key_1", "key_2"):
            store.record(frame(key_id=key_id, charged=n % 3 > 0), 10_000, None, 0)
            store.record(frame(key_id=key_id, at=december), 10_000, None, 0)
    assert stored(store) == {"key": 2, "month": 4, "idempotency": 0}
    assert store.totals("key_2", "2026-12").requests == 25
    store.record(frame(), 10_000, "a-retry-key", time.time() + 60)  # an Idempotency-Key lives 24 h (TTL)
    assert stored(store) == {"key": 2, "month": 4, "idempotency": 1}


def test_sqlite_expired_idempotency_keys_are_deleted_at_most_once_a_minute(tmp_path):
    store = make_store("sqlite", tmp_path)
    store.add_key(key(1))
    store.record(frame(), 100, "gone", time.time() - 1)        # the first write with a key deletes expired ones
    assert stored(store)["idempotency"] == 0
    store.record(frame(), 100, "expired-too", time.time() - 1)
    assert stored(store)["idempotency"] == 1                    # not again within the minute
    store._next_purge = 0.0                                     # a minute later
    store.record(frame(), 100, "fresh", time.time() + 60)
    assert stored(store)["idempotency"] == 1
    assert store.seen("key_1", "fresh", time.time())
    assert store.totals("key_1", "2026-11").charged == 3


def test_sqlite_charged_frame_with_no_quota_left_is_refused(tmp_path):
    store = make_store("sqlite", tmp_path)
    store.add_key(key(1))
    assert (store.record(frame(), 0, None, 0).outcome, store.record(frame(), None, None, 0).outcome) \
        == (OVER_QUOTA, COUNTED)                                # quota None: not limited here
    month = store.totals("key_1", "2026-11")
    assert (month.requests, month.charged, month.not_charged) == (2, 1, 1)


@pytest.fixture
def dynamo(moto):
    return make_store("dynamodb", None, moto, f"meter-units-{time.time_ns()}")


def test_dynamodb_frame_costs_one_write_unit_and_no_read(dynamo):
    dynamo.add_key(key(1, quota=1000))
    dynamo.capacity.reset()
    for n in range(20):
        dynamo.record(frame(charged=n % 4 > 0), 1000, None, 0)
    used = dynamo.capacity.snapshot()
    assert (used.calls, used.write_units, used.read_units) == (20, 20, 0)  # per frame: 1 write unit, 0 reads
    raw = dynamo.client.get_item(TableName=dynamo.table, Key={"pk": {"S": "USAGE#key_1"}, "sk": {"S": "2026-11"}})
    assert 100 < capacity.item_size(raw["Item"]) <= used.largest_item < 1024  # sizes: trailing zeros drop


def test_dynamodb_idempotency_key_costs_a_two_item_transaction(dynamo):
    dynamo.add_key(key(1, quota=1000))
    dynamo.capacity.reset()
    far = time.time() + 3600
    for n in range(10):
        assert dynamo.record(frame(), 1000, f"frame-{n}", far).charged == n + 1
    used = dynamo.capacity.snapshot()
    assert (used.write_units, used.read_units) == (40, 10)  # 2 items x 2 units, and one read for the quota left
    dynamo.capacity.reset()
    assert dynamo.record(frame(), 1000, "frame-3", far).outcome == REPLAY
    used = dynamo.capacity.snapshot()
    assert (used.write_units, used.read_units) == (4, 1)  # a cancelled transaction counted as if written


def test_dynamodb_frame_over_quota_costs_two_write_units(dynamo):
    dynamo.add_key(key(1, quota=1))
    dynamo.record(frame(), 1, None, 0)
    dynamo.capacity.reset()
    assert dynamo.record(frame(), 1, None, 0).outcome == OVER_QUOTA
    used = dynamo.capacity.snapshot()
    assert (used.calls, used.write_units, used.read_units) == (2, 2, 0)  # the failed condition, then the refusal


def test_dynamodb_month_record_stays_under_1kb_all_month(dynamo):
    dynamo.add_key(key(1, quota=10**9))
    dynamo.capacity.reset()
    for day in range(1, 32):  # every day of a 31-day month, with a heavy month's counters
        heavy = FrameEvent(key_id="key_1", at=datetime(2026, 12, day, 23, 59, tzinfo=timezone.utc), status=200,
                           charged=True, faces=10**7, bytes_in=10**12 + 7, bytes_out=10**12 + 3,
                           server_ms=10**8 + 0.123, billed_ms=10**8 + 1)
        dynamo.record(heavy, 10**9, None, 0)
    used = dynamo.capacity.snapshot()
    assert used.write_units == 31 and used.largest_item < 1024
    # the same record with every day at 10 million frames, counters of a 300-million-frame month
    wire = {"pk": {"S": "USAGE#key_0123456789ab"}, "sk": {"S": "2026-12"},
            **{c: {"N": str(10**15 + 1)} for c in ("requests", "charged", "not_charged", "faces", "bytes_in",
                                                  "bytes_out", "billed_ms")},
            "server_ms": {"N": "12345678901.234"}, **{f"{k}{d:02d}": {"N": "12345678"} for k in "rc"
                                                       for d in range(1, 32)}}
    assert capacity.item_size(wire) < 1024
    assert capacity.write_units(capacity.item_size(wire)) == 1


def test_sqlite_file_of_the_first_layout_is_carried_over(tmp_path):
    import sqlite3
    path = str(tmp_path / "old.sqlite3")
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE keys (key_hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, customer TEXT NOT NULL,
                quota INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL,
                apigw_key_id TEXT NOT NULL DEFAULT '');
            CREATE TABLE totals (key_id TEXT NOT NULL, period TEXT NOT NULL, requests INTEGER, charged INTEGER,
                not_charged INTEGER, faces INTEGER, bytes_in INTEGER, bytes_out INTEGER, server_ms REAL,
                billed_ms INTEGER, PRIMARY KEY (key_id, period));
            CREATE TABLE events (event_id TEXT PRIMARY KEY);
            INSERT INTO keys VALUES ('h1', 'key_1', 'old customer', 100, 0, '2026-10-01', '');
            INSERT INTO totals VALUES ('key_1', '2026-10', 5, 4, 1, 4, 500, 900, 61.5, 64);
            INSERT INTO totals VALUES ('key_1', '2026-10-30', 3, 2, 1, 2, 300, 500, 30.5, 32);
            INSERT INTO totals VALUES ('key_1', '2026-10-31', 2, 2, 0, 2, 200, 400, 31.0, 32);
        """)
    store = SQLiteStore(path)
    month = store.totals("key_1", "2026-10")
    assert (month.requests, month.charged, month.bytes_out, month.server_ms) == (5, 4, 900, 61.5)
    assert month.days == {"2026-10-30": (3, 2), "2026-10-31": (2, 2)}
    assert store.find_key("h1").customer == "old customer"
    store.record(frame(at=datetime(2026, 10, 31, 8, 0, tzinfo=timezone.utc)), 100, None, 0)
    assert SQLiteStore(path).totals("key_1", "2026-10").days["2026-10-31"] == (3, 3)  # carried over once
