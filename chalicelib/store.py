"""Where API keys and usage live, behind one small interface: SQLite locally, DynamoDB on AWS.

Nothing outside this module knows which store is in use (``open_store`` picks it from the settings).
Both keep the same shape: a record per key, and one record per key and month holding the month's
counters and each day's requests and charged frames (``r01``..``r31``, ``c01``..``c31``), so the
store grows with keys and months, never with frames. A frame is one atomic write to its month record,
with the monthly quota checked inside it, so the quota is never exceeded; with an Idempotency-Key the
write also stores that key (a replay is answered but not counted again). A frame's own details (route,
status, bytes, server time) are not stored: the meter writes them to the log (``metering``).
"""
from __future__ import annotations

import functools
import os
import random
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

from . import capacity
from .errors import StoreUnavailable
from .settings import Settings

COUNTERS = ("requests", "charged", "not_charged", "faces", "bytes_in", "bytes_out", "server_ms", "billed_ms")
DAYS = tuple(f"{d:02d}" for d in range(1, 32))
DAY_COLUMNS = tuple(f"{kind}{d}" for kind in ("r", "c") for d in DAYS)  # requests, charged frames that day
COUNTED = "counted"
REPLAY = "replay"
OVER_QUOTA = "over_quota"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str          # public id (for listing and revoking); not the secret
    key_hash: str        # SHA-256 of the secret key, hex
    customer: str
    quota: int           # charged frames allowed per calendar month (UTC)
    revoked: bool = False
    created: str = ""
    apigw_key_id: str = ""


@dataclass
class Totals:
    requests: int = 0
    charged: int = 0
    not_charged: int = 0
    faces: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    server_ms: float = 0.0
    billed_ms: int = 0
    days: dict = field(default_factory=dict)  # "YYYY-MM-DD" -> (requests, charged frames), days with frames only

    @classmethod
    def from_record(cls, month: str, values: dict) -> "Totals":
        """Totals from a month record's columns or attributes (absent ones count as 0)."""
        days = {f"{month}-{d}": (int(values.get(f"r{d}") or 0), int(values.get(f"c{d}") or 0)) for d in DAYS
                if values.get(f"r{d}")}
        return cls(**{c: (float if c == "server_ms" else int)(values.get(c) or 0) for c in COUNTERS}, days=days)


@dataclass(frozen=True)
class FrameEvent:
    key_id: str
    at: datetime
    status: int
    charged: bool
    faces: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    server_ms: float = 0.0
    billed_ms: int = 0
    route: str = "/v1/tint"

    @property
    def month(self) -> str:
        return f"{self.at.year:04d}-{self.at.month:02d}"   # as strftime("%Y-%m"), at a fraction of its cost

    @property
    def day(self) -> str:
        return f"{self.at.day:02d}"

    def refused(self) -> "FrameEvent":
        """This frame as refused for the quota: recorded with status 429, not charged, no answer sent."""
        return replace(self, status=429, charged=False, bytes_out=0)

    def increments(self) -> dict:
        """What this frame adds to its month record: the counters and its day's two."""
        return {"requests": 1, "charged": int(self.charged), "not_charged": int(not self.charged),
                "faces": self.faces, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "server_ms": round(self.server_ms, 3), "billed_ms": self.billed_ms,
                f"r{self.day}": 1, f"c{self.day}": int(self.charged)}


@dataclass(frozen=True)
class Written:
    outcome: str       # COUNTED, REPLAY (nothing counted) or OVER_QUOTA (recorded as refused, not charged)
    charged: int       # the month's charged frames after this write


class MeterStore:
    """The interface. Methods raise ``StoreUnavailable`` when the store cannot be reached."""

    def add_key(self, record: KeyRecord) -> None: raise NotImplementedError
    def find_key(self, key_hash: str) -> KeyRecord | None: raise NotImplementedError
    def list_keys(self) -> list[KeyRecord]: raise NotImplementedError
    def update_key(self, record: KeyRecord) -> None: raise NotImplementedError
    def totals(self, key_id: str, month: str) -> Totals: raise NotImplementedError
    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool: raise NotImplementedError

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
               expires: float) -> Written:
        """Count one frame in one atomic write: COUNTED; REPLAY (the Idempotency-Key was counted before:
        nothing written); or OVER_QUOTA (the quota was spent: the frame is recorded as refused)."""
        raise NotImplementedError

    def find_key_by_id(self, key_id: str) -> KeyRecord | None:
        return next((k for k in self.list_keys() if k.key_id == key_id), None)


# ---------------------------------------------------------------- SQLite
_MONTH_COLUMNS = ", ".join([f"{c} INTEGER NOT NULL DEFAULT 0" for c in COUNTERS if c != "server_ms"]
                           + ["server_ms REAL NOT NULL DEFAULT 0"]
                           + [f"{c} INTEGER NOT NULL DEFAULT 0" for c in DAY_COLUMNS])
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS keys (
    key_hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, customer TEXT NOT NULL, quota INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, apigw_key_id TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS months (
    key_id TEXT NOT NULL, month TEXT NOT NULL, {_MONTH_COLUMNS}, PRIMARY KEY (key_id, month));
CREATE TABLE IF NOT EXISTS idempotency (
    key_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (key_id, idempotency_key));
"""


class SQLiteStore(MeterStore):
    """An embedded SQLite file; safe across threads (a connection each) and processes (write locks)."""

    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._next_purge = 0.0  # when expired Idempotency-Keys are next deleted
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            with self._write() as db:
                fresh = not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'months'").fetchone()
                for statement in _SCHEMA.split(";"):
                    db.execute(statement)
                if fresh:
                    _carry_over_first_layout(db)
        except OSError as exc:
            raise StoreUnavailable(f"the meter store cannot be opened: {type(exc).__name__}") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                                   check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    class _Tx:
        """A transaction (``begin``: BEGIN or BEGIN IMMEDIATE), or with ``begin=None`` statements that are
        each their own transaction (SQLite's autocommit); SQLite errors become StoreUnavailable and drop the
        connection."""

        def __init__(self, store: "SQLiteStore", begin: str | None) -> None:
            self.store, self.begin = store, begin

        def __enter__(self) -> sqlite3.Connection:
            try:
                self.conn = self.store._conn()
                if self.begin:
                    self.conn.execute(self.begin)
            except sqlite3.Error as exc:
                self.store._local.conn = None
                raise StoreUnavailable(f"the meter store is unavailable: {exc}") from None
            return self.conn

        def __exit__(self, kind, exc, tb) -> bool:
            if self.begin:
                try:
                    self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
                except sqlite3.Error as err:
                    try:
                        self.conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    self.store._local.conn = None
                    raise StoreUnavailable(f"the meter store could not be written: {err}") from None
            if isinstance(exc, sqlite3.Error):
                self.store._local.conn = None
                raise StoreUnavailable(f"the meter store is unavailable: {exc}") from None
            return False

    def _write(self):
        return self._Tx(self, "BEGIN IMMEDIATE")

    def _read(self):
        return self._Tx(self, "BEGIN")

    def _statement(self):
        """One statement, atomic on its own: no BEGIN/COMMIT round trips around it."""
        return self._Tx(self, None)

    @staticmethod
    def _key(row) -> KeyRecord:
        return KeyRecord(key_id=row["key_id"], key_hash=row["key_hash"], customer=row["customer"],
                         quota=row["quota"], revoked=bool(row["revoked"]), created=row["created"],
                         apigw_key_id=row["apigw_key_id"])

    def add_key(self, record: KeyRecord) -> None:
        with self._write() as db:
            db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (record.key_hash, record.key_id, record.customer, record.quota, int(record.revoked),
                        record.created, record.apigw_key_id))

    def update_key(self, record: KeyRecord) -> None:
        with self._write() as db:
            db.execute("UPDATE keys SET customer=?, quota=?, revoked=?, apigw_key_id=? WHERE key_id=?",
                       (record.customer, record.quota, int(record.revoked), record.apigw_key_id, record.key_id))

    def find_key(self, key_hash: str) -> KeyRecord | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM keys WHERE key_hash=?", (key_hash,)).fetchone()
        return self._key(row) if row else None

    def list_keys(self) -> list[KeyRecord]:
        with self._read() as db:
            return [self._key(r) for r in db.execute("SELECT * FROM keys ORDER BY created, key_id")]

    def totals(self, key_id: str, month: str) -> Totals:
        with self._read() as db:
            row = db.execute("SELECT * FROM months WHERE key_id=? AND month=?", (key_id, month)).fetchone()
        return Totals.from_record(month, dict(row) if row else {})

    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool:
        with self._read() as db:
            return self._seen(db, key_id, idempotency_key, now)

    @staticmethod
    def _seen(db, key_id: str, idempotency_key: str, now: float) -> bool:
        row = db.execute("SELECT expires FROM idempotency WHERE key_id=? AND idempotency_key=?",
                         (key_id, idempotency_key)).fetchone()
        return bool(row) and row["expires"] > now

    @staticmethod
    def _charged(db, key_id: str, month: str) -> int:
        row = db.execute("SELECT charged FROM months WHERE key_id=? AND month=?", (key_id, month)).fetchone()
        return row["charged"] if row else 0

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
               expires: float) -> Written:
        """Without an Idempotency-Key a frame is one statement (``_count``), atomic on its own; with one,
        a transaction: the replay check, the count and the Idempotency-Key (expired ones are deleted
        there, at most once a minute per process)."""
        if not idempotency_key:
            with self._statement() as db:
                return self._count(db, event, quota)
        now = time.time()
        with self._write() as db:
            if self._seen(db, event.key_id, idempotency_key, now):
                return Written(REPLAY, self._charged(db, event.key_id, event.month))
            written = self._count(db, event, quota)
            if written.outcome == COUNTED:
                db.execute("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?)",
                           (event.key_id, idempotency_key, expires))
            if now >= self._next_purge:
                db.execute("DELETE FROM idempotency WHERE expires < ?", (now,))
                self._next_purge = now + 60
            return written

    @staticmethod
    def _count(db, event: FrameEvent, quota: int | None) -> Written:
        """Add the frame to its month record in one upsert that returns the month's charged frames. A
        charged frame with a quota updates the record only while its charged frames are under the quota;
        when it does not (nothing returned), the frame is recorded as refused instead (OVER_QUOTA)."""
        limited = event.charged and quota is not None
        if not limited or quota > 0:
            inc = event.increments()
            rows = db.execute(_upsert(tuple(inc), limited),
                              (event.key_id, event.month, *inc.values(), *((quota,) if limited else ()))).fetchall()
            if rows:
                return Written(COUNTED, rows[0][0])
        refused = event.refused()
        inc = refused.increments()
        rows = db.execute(_upsert(tuple(inc), False), (refused.key_id, refused.month, *inc.values())).fetchall()
        return Written(OVER_QUOTA, rows[0][0])


@functools.lru_cache(maxsize=256)
def _upsert(columns: tuple[str, ...], limited: bool) -> str:
    """The month record's upsert adding ``columns``, returning its charged frames; ``limited``: the update
    happens only while ``charged`` is under the quota (the statement's last parameter)."""
    return (f"INSERT INTO months (key_id, month, {', '.join(columns)}) VALUES (?, ?, {', '.join('?' * len(columns))})"
            f" ON CONFLICT (key_id, month) DO UPDATE SET {', '.join(f'{c} = {c} + excluded.{c}' for c in columns)}"
            + (" WHERE months.charged < ?" if limited else "") + " RETURNING charged")


def _carry_over_first_layout(db) -> None:
    """A file from the first layout (a ``totals`` row per key and month and per key and day, and an
    ``events`` row per frame) gets its month and day figures copied into ``months``; the old tables are
    left as they were and no longer written."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'totals'").fetchone():
        return
    db.execute(f"INSERT INTO months (key_id, month, {', '.join(COUNTERS)}) SELECT key_id, period, "
               f"{', '.join(COUNTERS)} FROM totals WHERE length(period) = 7")
    for row in db.execute("SELECT key_id, period, requests, charged FROM totals WHERE length(period) = 10"
                          ).fetchall():
        day = row["period"][8:10]
        db.execute(f"UPDATE months SET r{day} = ?, c{day} = ? WHERE key_id = ? AND month = ?",
                   (row["requests"], row["charged"], row["key_id"], row["period"][:7]))


# ---------------------------------------------------------------- DynamoDB
class DynamoStore(MeterStore):
    """One DynamoDB table (pk, sk): a key's record (``KEY#<hash>``/``KEY``), its month records
    (``USAGE#<key id>``/``YYYY-MM``) and, for 24 h, the Idempotency-Keys it sent
    (``IDEM#<key id>#<idempotency key>``/``IDEM``, removed by DynamoDB's TTL).

    A frame is one ``UpdateItem`` of its month record (counters with ``ADD``, the quota in the
    ``ConditionExpression``): 1 write unit while the record is under 1 KB, which it stays all month.
    With an Idempotency-Key, a transaction of two items (the Idempotency-Key, which must not exist
    unexpired, and the same update): 4 write units, then one consistent read of the month record for
    the quota left. ``capacity`` counts the units every call costs (``chalicelib.capacity``)."""

    @staticmethod
    def create_table(client, table: str) -> None:
        """The table's definition (used by the deploy command and the tests): pk/sk strings, on demand,
        expired Idempotency-Key items removed by DynamoDB's TTL."""
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        client.get_waiter("table_exists").wait(TableName=table)
        client.update_time_to_live(TableName=table,
                                   TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})

    def __init__(self, table: str, client=None) -> None:
        import boto3  # only the AWS store needs it
        from botocore.config import Config
        self.table = table
        self.client = client or boto3.client(
            "dynamodb", config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}))
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
        self._ser, self._de = TypeSerializer(), TypeDeserializer()
        self.capacity = capacity.CapacityMeter()

    _PASSED_ON = ("TransactionCanceledException", "ConditionalCheckFailedException", "TransactionConflictException")

    def _call(self, name: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return getattr(self.client, name)(ReturnConsumedCapacity="TOTAL", **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in self._PASSED_ON:
                raise
            raise StoreUnavailable(f"the meter store is unavailable: {exc.response['Error'].get('Code')}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"the meter store is unavailable: {type(exc).__name__}") from None

    def _item(self, values: dict) -> dict:
        return {k: self._ser.serialize(v) for k, v in values.items()}

    def _plain(self, item: dict) -> dict:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    def _get(self, key: dict) -> dict | None:
        """One consistent GetItem, its units counted; the item in wire form or None."""
        resp = self._call("get_item", TableName=self.table, ConsistentRead=True, Key=self._item(key))
        size = capacity.item_size(resp.get("Item"))
        self.capacity.add(reads=capacity.read_units(size), items=(size,), response=resp)
        return resp.get("Item")

    def _put(self, item: dict, condition: str) -> None:
        wire = self._item(item)
        resp = self._call("put_item", TableName=self.table, Item=wire, ConditionExpression=condition)
        size = capacity.item_size(wire)
        self.capacity.add(writes=capacity.write_units(size), items=(size,), response=resp)

    @staticmethod
    def _key_item(record: KeyRecord) -> dict:
        return {"pk": f"KEY#{record.key_hash}", "sk": "KEY", **asdict(record)}

    def _record_from(self, item: dict) -> KeyRecord:
        plain = self._plain(item)
        return KeyRecord(key_id=plain["key_id"], key_hash=plain["key_hash"], customer=plain["customer"],
                         quota=int(plain["quota"]), revoked=bool(plain["revoked"]), created=plain["created"],
                         apigw_key_id=plain.get("apigw_key_id", ""))

    def add_key(self, record: KeyRecord) -> None:
        self._put(self._key_item(record), "attribute_not_exists(pk)")

    def update_key(self, record: KeyRecord) -> None:
        self._put(self._key_item(record), "attribute_exists(pk)")

    def find_key(self, key_hash: str) -> KeyRecord | None:
        item = self._get({"pk": f"KEY#{key_hash}", "sk": "KEY"})
        return self._record_from(item) if item else None

    def list_keys(self) -> list[KeyRecord]:
        """Every key record (a Scan: for the admin command, not for frames; its units are counted from
        the records it returns, a lower bound, as a Scan also pays for the items it passes over)."""
        records, start = [], None
        while True:
            kwargs = {"TableName": self.table, "FilterExpression": "sk = :k", "ConsistentRead": True,
                      "ExpressionAttributeValues": {":k": {"S": "KEY"}}}
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self._call("scan", **kwargs)
            sizes = [capacity.item_size(i) for i in resp.get("Items", [])]
            self.capacity.add(reads=capacity.read_units(sum(sizes)), items=tuple(sizes), response=resp)
            records += [self._record_from(i) for i in resp.get("Items", [])]
            start = resp.get("LastEvaluatedKey")
            if not start:
                return sorted(records, key=lambda r: (r.created, r.key_id))

    @staticmethod
    def _month_key(key_id: str, month: str) -> dict:
        return {"pk": f"USAGE#{key_id}", "sk": month}

    def _month(self, key_id: str, month: str) -> dict:
        item = self._get(self._month_key(key_id, month))
        return self._plain(item) if item else {}

    def totals(self, key_id: str, month: str) -> Totals:
        return Totals.from_record(month, self._month(key_id, month))

    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool:
        item = self._get({"pk": f"IDEM#{key_id}#{idempotency_key}", "sk": "IDEM"})
        return bool(item) and float(self._plain(item)["expires"]) > now

    def _month_update(self, event: FrameEvent, quota: int | None) -> dict:
        """The month record's update for one frame: every counter with ADD, the quota as its condition
        when the frame is to be charged."""
        inc = event.increments()
        update = {"TableName": self.table, "Key": self._item(self._month_key(event.key_id, event.month)),
                  "UpdateExpression": "ADD " + ", ".join(f"#{c} :{c}" for c in inc),
                  "ExpressionAttributeNames": {f"#{c}": c for c in inc},
                  "ExpressionAttributeValues": {f":{c}": {"N": str(v)} for c, v in inc.items()}}
        if event.charged and quota is not None:
            update["ConditionExpression"] = "attribute_not_exists(#charged) OR #charged < :quota"
            update["ExpressionAttributeValues"][":quota"] = {"N": str(quota)}
        return update

    def _update_month(self, event: FrameEvent, quota: int | None) -> int:
        """One conditional UpdateItem; the month's charged frames after it. Raises ClientError
        ConditionalCheckFailedException when the quota is spent (its units counted all the same)."""
        from botocore.exceptions import ClientError
        try:
            resp = self._call("update_item", **self._month_update(event, quota), ReturnValues="ALL_NEW",
                              ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                size = capacity.item_size(exc.response.get("Item"))
                self.capacity.add(writes=capacity.write_units(size), items=(size,), response=exc.response)
            raise
        size = capacity.item_size(resp["Attributes"])  # the record after ADD: never smaller than before
        self.capacity.add(writes=capacity.write_units(size), items=(size,), response=resp)
        return int(resp["Attributes"]["charged"]["N"])

    def _update_with_idempotency_key(self, event: FrameEvent, quota: int | None, idempotency_key: str,
                                     expires: float) -> int:
        """The Idempotency-Key and the month update in one transaction; the month's charged frames after
        it (one consistent read: a transaction returns no values)."""
        from decimal import Decimal
        idem = self._item({"pk": f"IDEM#{event.key_id}#{idempotency_key}", "sk": "IDEM",
                           "expires": Decimal(str(expires)), "ttl": int(expires)})
        items = [{"Put": {"TableName": self.table, "Item": idem,
                          "ConditionExpression": "attribute_not_exists(pk) OR expires < :now",
                          "ExpressionAttributeValues": {":now": {"N": str(time.time())}}}},
                 {"Update": {**self._month_update(event, quota), "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
        from botocore.exceptions import ClientError
        try:
            resp = self._call("transact_write_items", TransactItems=items)
        except ClientError as exc:  # counted as if it had been written: an upper bound for a cancelled one
            reasons = exc.response.get("CancellationReasons") or [{}, {}]
            self._count_transaction(idem, reasons[1].get("Item"), exc.response)
            raise
        month = self._get(self._month_key(event.key_id, event.month))
        self._count_transaction(idem, month, resp)
        return int((month or {}).get("charged", {}).get("N", 0))

    def _count_transaction(self, idem: dict, month: dict | None, response: dict) -> None:
        sizes = (capacity.item_size(idem), capacity.item_size(month))
        self.capacity.add(writes=sum(capacity.write_units(s, transactional=True) for s in sizes), items=sizes,
                          response=response)

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
               expires: float) -> Written:
        from botocore.exceptions import ClientError
        for attempt in range(6):
            try:
                if idempotency_key:
                    return Written(COUNTED, self._update_with_idempotency_key(event, quota, idempotency_key,
                                                                              expires))
                return Written(COUNTED, self._update_month(event, quota))
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":  # the Idempotency-Key was counted before
                return Written(REPLAY, int(self._month(event.key_id, event.month).get("charged", 0)))
            if code == "ConditionalCheckFailedException" or "ConditionalCheckFailed" in reasons:
                break  # the quota is spent
            if code != "TransactionConflictException" and "TransactionConflict" not in reasons:
                raise StoreUnavailable("the meter store could not be written")
            time.sleep(0.01 * 2 ** attempt * (0.5 + random.random()))  # another writer holds the record
        else:
            raise StoreUnavailable("the meter store is busy", headers={"Retry-After": "1"})
        return Written(OVER_QUOTA, self._update_month(event.refused(), None))


_stores: dict = {}
_stores_lock = threading.Lock()


def open_store(settings: Settings) -> MeterStore:
    """The store the settings name, opened once per process."""
    ident = (settings.meter_store, settings.db if settings.meter_store == "sqlite" else settings.meter_table)
    with _stores_lock:
        if ident not in _stores:
            _stores[ident] = SQLiteStore(settings.db, settings.db_busy_timeout_ms) \
                if settings.meter_store == "sqlite" \
                else DynamoStore(settings.meter_table)
        return _stores[ident]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
