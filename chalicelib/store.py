"""Where API keys and usage live, behind one small interface: SQLite locally, DynamoDB on AWS.

Nothing outside this module knows which store is in use (``open_store`` picks it from the settings).
Every frame is written in one atomic step: the request's event, the month's and the day's totals, and
the Idempotency-Key if one was sent. The monthly quota is checked inside that same step, so it is never
exceeded; a replayed Idempotency-Key is answered but not counted again.
"""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

from .errors import StoreUnavailable
from .settings import Settings

COUNTERS = ("requests", "charged", "not_charged", "faces", "bytes_in", "bytes_out", "server_ms", "billed_ms")
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
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def month(self) -> str:
        return self.at.strftime("%Y-%m")

    @property
    def day(self) -> str:
        return self.at.strftime("%Y-%m-%d")

    def increments(self) -> dict:
        return {"requests": 1, "charged": int(self.charged), "not_charged": int(not self.charged),
                "faces": self.faces, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "server_ms": round(self.server_ms, 3), "billed_ms": self.billed_ms}


class MeterStore:
    """The interface. Methods raise ``StoreUnavailable`` when the store cannot be reached."""

    def add_key(self, record: KeyRecord) -> None: raise NotImplementedError
    def find_key(self, key_hash: str) -> KeyRecord | None: raise NotImplementedError
    def list_keys(self) -> list[KeyRecord]: raise NotImplementedError
    def update_key(self, record: KeyRecord) -> None: raise NotImplementedError
    def totals(self, key_id: str, period: str) -> Totals: raise NotImplementedError
    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool: raise NotImplementedError

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
               expires: float) -> str:
        """Count one frame atomically; returns COUNTED, REPLAY (nothing counted) or OVER_QUOTA (the frame
        was recorded as refused with status 429 and not charged)."""
        raise NotImplementedError

    def find_key_by_id(self, key_id: str) -> KeyRecord | None:
        return next((k for k in self.list_keys() if k.key_id == key_id), None)


# ---------------------------------------------------------------- SQLite
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, customer TEXT NOT NULL, quota INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, apigw_key_id TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS totals (
    key_id TEXT NOT NULL, period TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
    charged INTEGER NOT NULL DEFAULT 0, not_charged INTEGER NOT NULL DEFAULT 0, faces INTEGER NOT NULL DEFAULT 0,
    bytes_in INTEGER NOT NULL DEFAULT 0, bytes_out INTEGER NOT NULL DEFAULT 0, server_ms REAL NOT NULL DEFAULT 0,
    billed_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key_id, period));
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, at TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
    charged INTEGER NOT NULL, faces INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    server_ms REAL NOT NULL, idempotency_key TEXT);
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
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            self._conn().executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
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
        def __init__(self, store: "SQLiteStore", write: bool) -> None:
            self.store, self.write = store, write

        def __enter__(self) -> sqlite3.Connection:
            try:
                self.conn = self.store._conn()
                self.conn.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
            except sqlite3.Error as exc:
                self.store._local.conn = None
                raise StoreUnavailable(f"the meter store is unavailable: {exc}") from None
            return self.conn

        def __exit__(self, kind, exc, tb) -> bool:
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
        return self._Tx(self, write=True)

    def _read(self):
        return self._Tx(self, write=False)

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

    def totals(self, key_id: str, period: str) -> Totals:
        with self._read() as db:
            row = db.execute("SELECT * FROM totals WHERE key_id=? AND period=?", (key_id, period)).fetchone()
        return Totals(**{c: row[c] for c in COUNTERS}) if row else Totals()

    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool:
        with self._read() as db:
            row = db.execute("SELECT expires FROM idempotency WHERE key_id=? AND idempotency_key=?",
                             (key_id, idempotency_key)).fetchone()
        return bool(row) and row["expires"] > now

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None, expires: float) -> str:
        now = time.time()
        with self._write() as db:
            if idempotency_key:
                row = db.execute("SELECT expires FROM idempotency WHERE key_id=? AND idempotency_key=?",
                                 (event.key_id, idempotency_key)).fetchone()
                if row and row["expires"] > now:
                    return REPLAY
            outcome = COUNTED
            if event.charged and quota is not None:
                row = db.execute("SELECT charged FROM totals WHERE key_id=? AND period=?",
                                 (event.key_id, event.month)).fetchone()
                if (row["charged"] if row else 0) >= quota:
                    event, outcome = replace(event, status=429, charged=False, bytes_out=0), OVER_QUOTA
            inc = event.increments()
            for period in (event.month, event.day):
                db.execute(f"INSERT INTO totals (key_id, period, {', '.join(COUNTERS)}) VALUES (?, ?, "
                           f"{', '.join('?' * len(COUNTERS))}) ON CONFLICT (key_id, period) DO UPDATE SET "
                           + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS),
                           (event.key_id, period, *[inc[c] for c in COUNTERS]))
            db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (event.event_id, event.key_id, event.at.isoformat(), event.route, event.status,
                        int(event.charged), event.faces, event.bytes_in, event.bytes_out, event.server_ms,
                        idempotency_key))
            if idempotency_key and outcome == COUNTED:
                db.execute("INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?)",
                           (event.key_id, idempotency_key, expires))
            if int(now) % 64 == 0:
                db.execute("DELETE FROM idempotency WHERE expires < ?", (now,))
        return outcome


# ---------------------------------------------------------------- DynamoDB
class DynamoStore(MeterStore):
    """One DynamoDB table (pk, sk). Frames are written with TransactWriteItems and conditions:
    the Idempotency-Key item must not exist (unexpired), the month's charged count must be under quota."""

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

    def _call(self, name: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return getattr(self.client, name)(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("TransactionCanceledException",
                                                             "ConditionalCheckFailedException"):
                raise
            raise StoreUnavailable(f"the meter store is unavailable: {exc.response['Error'].get('Code')}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"the meter store is unavailable: {type(exc).__name__}") from None

    def _item(self, values: dict) -> dict:
        return {k: self._ser.serialize(v) for k, v in values.items()}

    def _plain(self, item: dict) -> dict:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    @staticmethod
    def _key_item(record: KeyRecord) -> dict:
        return {"pk": f"KEY#{record.key_hash}", "sk": "KEY", **asdict(record)}

    def _record_from(self, item: dict) -> KeyRecord:
        plain = self._plain(item)
        return KeyRecord(key_id=plain["key_id"], key_hash=plain["key_hash"], customer=plain["customer"],
                         quota=int(plain["quota"]), revoked=bool(plain["revoked"]), created=plain["created"],
                         apigw_key_id=plain.get("apigw_key_id", ""))

    def add_key(self, record: KeyRecord) -> None:
        self._call("put_item", TableName=self.table, Item=self._item(self._key_item(record)),
                   ConditionExpression="attribute_not_exists(pk)")

    def update_key(self, record: KeyRecord) -> None:
        self._call("put_item", TableName=self.table, Item=self._item(self._key_item(record)),
                   ConditionExpression="attribute_exists(pk)")

    def find_key(self, key_hash: str) -> KeyRecord | None:
        resp = self._call("get_item", TableName=self.table, ConsistentRead=True,
                          Key=self._item({"pk": f"KEY#{key_hash}", "sk": "KEY"}))
        return self._record_from(resp["Item"]) if "Item" in resp else None

    def list_keys(self) -> list[KeyRecord]:
        records, start = [], None
        while True:
            kwargs = {"TableName": self.table, "FilterExpression": "sk = :k", "ConsistentRead": True,
                      "ExpressionAttributeValues": {":k": {"S": "KEY"}}}
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self._call("scan", **kwargs)
            records += [self._record_from(i) for i in resp.get("Items", [])]
            start = resp.get("LastEvaluatedKey")
            if not start:
                return sorted(records, key=lambda r: (r.created, r.key_id))

    def totals(self, key_id: str, period: str) -> Totals:
        resp = self._call("get_item", TableName=self.table, ConsistentRead=True,
                          Key=self._item({"pk": f"USAGE#{key_id}", "sk": period}))
        plain = self._plain(resp.get("Item", {}))
        return Totals(**{c: (float(plain[c]) if c == "server_ms" else int(plain[c])) for c in COUNTERS
                         if c in plain})

    def seen(self, key_id: str, idempotency_key: str, now: float) -> bool:
        resp = self._call("get_item", TableName=self.table, ConsistentRead=True,
                          Key=self._item({"pk": f"IDEM#{key_id}#{idempotency_key}", "sk": "IDEM"}))
        return "Item" in resp and float(self._plain(resp["Item"])["expires"]) > now

    def _transaction(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
                     expires: float) -> list[dict]:
        from decimal import Decimal
        inc = event.increments()
        names = {f"#{c}": c for c in COUNTERS}
        values = {f":{c}": self._ser.serialize(Decimal(str(inc[c]))) for c in COUNTERS}
        update = "ADD " + ", ".join(f"#{c} :{c}" for c in COUNTERS)
        items = []
        if idempotency_key:
            items.append({"Put": {
                "TableName": self.table,
                "Item": self._item({"pk": f"IDEM#{event.key_id}#{idempotency_key}", "sk": "IDEM",
                                    "expires": Decimal(str(expires)), "ttl": int(expires)}),
                "ConditionExpression": "attribute_not_exists(pk) OR expires < :now",
                "ExpressionAttributeValues": {":now": {"N": str(time.time())}}}})
        month = {"Update": {"TableName": self.table,
                            "Key": self._item({"pk": f"USAGE#{event.key_id}", "sk": event.month}),
                            "UpdateExpression": update, "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": dict(values)}}
        if event.charged and quota is not None:
            month["Update"]["ConditionExpression"] = "attribute_not_exists(#charged) OR #charged < :quota"
            month["Update"]["ExpressionAttributeValues"][":quota"] = {"N": str(quota)}
        items.append(month)
        items.append({"Update": {"TableName": self.table,
                                 "Key": self._item({"pk": f"USAGE#{event.key_id}", "sk": event.day}),
                                 "UpdateExpression": update, "ExpressionAttributeNames": names,
                                 "ExpressionAttributeValues": dict(values)}})
        items.append({"Put": {"TableName": self.table, "Item": self._item({
            "pk": f"EVENT#{event.key_id}#{event.month}", "sk": f"{event.at.isoformat()}#{event.event_id}",
            "route": event.route, "status": event.status, "charged": event.charged, "faces": event.faces,
            "bytes_in": event.bytes_in, "bytes_out": event.bytes_out,
            "server_ms": Decimal(str(round(event.server_ms, 3))), "idempotency_key": idempotency_key or ""})}})
        return items

    def record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None, expires: float) -> str:
        from botocore.exceptions import ClientError
        for attempt in range(6):
            try:
                self._call("transact_write_items",
                           TransactItems=self._transaction(event, quota, idempotency_key, expires))
                return COUNTED
            except ClientError as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if idempotency_key and reasons and reasons[0] == "ConditionalCheckFailed":
                return REPLAY
            if "ConditionalCheckFailed" in reasons:
                break
            if "TransactionConflict" not in reasons:
                raise StoreUnavailable("the meter store could not be written")
            time.sleep(0.01 * 2 ** attempt * (0.5 + random.random()))  # another writer holds the items
        else:
            raise StoreUnavailable("the meter store is busy", headers={"Retry-After": "1"})
        refused = replace(event, status=429, charged=False, bytes_out=0)
        self._call("transact_write_items", TransactItems=self._transaction(refused, None, None, expires))
        return OVER_QUOTA


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
