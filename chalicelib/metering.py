"""Who the caller is, whether they may send another frame, and counting every frame exactly once.

One code path decides the caller: on Lambda behind API Gateway the key arrives in the request context
(``identity.apiKey``, already checked by API Gateway), locally (``chalice local`` checks no keys) in the
``x-api-key`` header; either way it is hashed and looked up in the store (and the record then
trusted from memory for ``key_cache_s`` seconds). Keys are stored only as SHA-256 hashes, compared in
constant time, and never logged.

Every frame costs the store one write (its month record: see ``store``) and, on a warm instance, no
read; the frame's own details go to one JSON log line instead of the store.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from . import billing
from .errors import BadParameter, InvalidApiKey, MissingApiKey, QuotaExceeded, StoreUnavailable, TintcamError
from .settings import Settings
from .store import (COUNTED, OVER_QUOTA, REPLAY, FrameEvent, KeyRecord, MeterStore, Totals, Written, open_store,
                    utcnow)

KEY_HEADER = "x-api-key"
IDEMPOTENCY_HEADER = "idempotency-key"
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
_IDEMPOTENCY_SHAPE = re.compile(r"^[\x21-\x7e]{1,128}$")


def new_key() -> str:
    """A fresh secret key: 256 random bits, URL-safe (API Gateway accepts 20-128 characters)."""
    return "tc_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key(headers, context: dict | None) -> str | None:
    """The key the caller presented: API Gateway's request context first, else the header."""
    identity = (context or {}).get("identity") or {}
    return identity.get("apiKey") or headers.get(KEY_HEADER) or None


def seconds_to_reset(now: datetime) -> int:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return max(1, int((datetime(year, month, 1, tzinfo=timezone.utc) - now).total_seconds()) + 1)


# by route: the sample count of any of them is the number of requests
_METRICS = [{"Name": "charged", "Unit": "Count"}, {"Name": "server_ms", "Unit": "Milliseconds"},
            {"Name": "bytes_out", "Unit": "Bytes"}]
_stdout_lock = threading.Lock()


def frame_log_line(event: FrameEvent, outcome: str, namespace: str) -> str:
    """One frame as one JSON line: key id (public, never the key), route, status, outcome, charged,
    faces, bytes in and out, server ms. With a namespace it is also in CloudWatch's embedded metric
    format, which turns three fields into metrics by route only (a dimension per key would cost a metric
    per key per month); the key id stays a searchable field of the line."""
    fields = {"route": event.route, "key_id": event.key_id, "status": event.status, "outcome": outcome,
              "charged": int(event.charged), "faces": event.faces, "bytes_in": event.bytes_in,
              "bytes_out": event.bytes_out, "server_ms": round(event.server_ms, 1)}
    stamp = int(event.at.timestamp() * 1000)
    head = {"_aws": {"Timestamp": stamp, "CloudWatchMetrics": [
        {"Namespace": namespace, "Dimensions": [["route"]], "Metrics": _METRICS}]}} if namespace else {"ts": stamp}
    return json.dumps({**head, **fields}, separators=(",", ":"))


def log_frame(event: FrameEvent, outcome: str, settings: Settings) -> None:
    """Write the frame's line to standard output, alone on its line (on Lambda each becomes one
    CloudWatch Logs event, the form the embedded metric format needs; a logging prefix would break it)."""
    line = frame_log_line(event, outcome, settings.metrics_namespace)
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@dataclass(frozen=True)
class Metered:
    outcome: str            # COUNTED or REPLAY
    quota_remaining: int


class KeyCache:
    """Key records read from the store, trusted from memory for ``ttl`` seconds so that a warm instance
    reads a key at most once per ``ttl`` (0 = read it for every request). A key revoked in the store
    therefore keeps working for at most ``ttl`` seconds on an instance that read it just before."""

    def __init__(self, ttl: float, clock=time.monotonic, size: int = 1024) -> None:
        self.ttl, self.clock, self.size = ttl, clock, size
        self._records: OrderedDict[str, tuple[KeyRecord, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> KeyRecord | None:
        with self._lock:
            found = self._records.get(digest)
            if found is None or self.clock() >= found[1]:
                self._records.pop(digest, None)
                return None
            self._records.move_to_end(digest)
            return found[0]

    def put(self, digest: str, record: KeyRecord) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._records[digest] = (record, self.clock() + self.ttl)
            self._records.move_to_end(digest)
            while len(self._records) > self.size:
                self._records.popitem(last=False)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._records.pop(digest, None)


class Meter:
    def __init__(self, store: MeterStore, settings: Settings, clock=time.monotonic) -> None:
        self.store = store
        self.settings = settings
        self.prices = billing.PriceList.from_settings(settings)
        self.keys = KeyCache(settings.key_cache_s, clock)
        self._charged: dict[tuple[str, str], int] = {}  # (key id, month) -> charged frames last seen

    # -------------------------------------------------------------- keys
    def create_key(self, customer: str, quota: int, apigw_key_id: str = "", key: str | None = None) \
            -> tuple[str, KeyRecord]:
        """Store a new key (hashed); returns the secret (shown once) and its record."""
        if not customer.strip():
            raise ValueError("customer name is empty")
        if quota < 1:
            raise ValueError("quota must be at least 1 frame a month")
        key = key or new_key()
        record = KeyRecord(key_id="key_" + secrets.token_hex(6), key_hash=hash_key(key), customer=customer.strip(),
                           quota=quota, created=utcnow().isoformat(timespec="seconds"), apigw_key_id=apigw_key_id)
        self.store.add_key(record)
        return key, record

    def authenticate(self, presented: str | None) -> KeyRecord:
        """The caller's key record: from memory when read less than ``key_cache_s`` ago, else the store."""
        if not presented:
            raise MissingApiKey(f"this route needs an API key in the '{KEY_HEADER}' header")
        if not _KEY_SHAPE.match(presented):
            raise InvalidApiKey("the API key is not valid")
        digest = hash_key(presented)
        record = self.keys.get(digest)
        if record is None:
            record = self.store.find_key(digest)
            if record is not None:
                self.keys.put(digest, record)
        if record is None or not hmac.compare_digest(record.key_hash, digest):
            raise InvalidApiKey("the API key is not valid")
        if record.revoked:
            raise InvalidApiKey("the API key has been revoked")
        return record

    # -------------------------------------------------------------- frames
    def run(self, caller: KeyRecord, idempotency_key: str | None, route: str, bytes_in: int, work):
        """Run ``work()`` (which returns a pipeline FrameResult) as one metered frame.

        Refuses with 429 before any work when this process already saw the quota spent (unless this is a
        replay of a counted request); counts the frame afterwards in one atomic write, which checks the
        quota exactly; a client error (or a fault of ours) is recorded, not charged. Every frame leaves one log
        line.
        Returns (result, Metered).
        """
        if idempotency_key is not None and not _IDEMPOTENCY_SHAPE.match(idempotency_key):
            raise BadParameter("Idempotency-Key must be 1-128 printable ASCII characters without spaces",
                               param="Idempotency-Key")
        now = utcnow()
        event = FrameEvent(key_id=caller.key_id, at=now, status=0, charged=False, bytes_in=bytes_in, route=route)
        if self._charged.get((caller.key_id, event.month), 0) >= caller.quota and not (
                idempotency_key and self.store.seen(caller.key_id, idempotency_key, time.time())):
            log_frame(replace(event, status=429), "refused", self.settings)
            raise self._quota_exceeded(caller, now)
        try:
            result = work()
        except StoreUnavailable:
            raise
        except TintcamError as err:
            self._record(replace(event, status=err.status), None, None, 0.0)
            raise
        except Exception:  # a fault of ours (answered 500): still a request, recorded, never charged
            self._record(replace(event, status=500), None, None, 0.0)
            raise
        charged = len(result.faces) > 0
        event = replace(event, status=result.status, charged=charged, faces=len(result.faces),
                        bytes_out=len(result.body), server_ms=result.processing_ms,
                        billed_ms=billing.billed_ms(result.processing_ms))
        written = self._record(event, caller.quota, idempotency_key, time.time() + self.settings.idempotency_ttl_s)
        if written.outcome == OVER_QUOTA:
            raise self._quota_exceeded(caller, now)
        return result, Metered(outcome=REPLAY if written.outcome == REPLAY else COUNTED,
                               quota_remaining=max(0, caller.quota - written.charged))

    def _record(self, event: FrameEvent, quota: int | None, idempotency_key: str | None,
                expires: float) -> Written:
        """One write to the store, remembered (the month's charged frames) and logged."""
        try:
            written = self.store.record(event, quota, idempotency_key, expires)
        except StoreUnavailable:
            log_frame(replace(event, charged=False), "unavailable", self.settings)
            raise
        self._seen_charged(event.key_id, event.month, written.charged)
        log_frame(event.refused() if written.outcome == OVER_QUOTA else
                  replace(event, charged=False) if written.outcome == REPLAY else event,
                  written.outcome, self.settings)
        return written

    def _seen_charged(self, key_id: str, month: str, charged: int) -> None:
        if len(self._charged) > 4096:
            self._charged.clear()
        self._charged[(key_id, month)] = max(charged, self._charged.get((key_id, month), 0))

    @staticmethod
    def _quota_exceeded(caller: KeyRecord, now: datetime) -> QuotaExceeded:
        wait = seconds_to_reset(now)
        return QuotaExceeded(f"the monthly quota of {caller.quota} frames is used up; it resets at the start of "
                             f"next month (UTC), in {wait} s", headers={"Retry-After": str(wait)})

    # -------------------------------------------------------------- reports
    def usage(self, caller: KeyRecord, month: str | None = None) -> dict:
        now = utcnow()
        month = month or now.strftime("%Y-%m")
        totals = self.store.totals(caller.key_id, month)
        self._seen_charged(caller.key_id, month, totals.charged)
        return self.usage_document(caller, month, totals)

    def usage_document(self, caller: KeyRecord, month: str, totals: Totals) -> dict:
        return {
            "month": month,
            "customer": caller.customer,
            "key_id": caller.key_id,
            "frames_charged": totals.charged,
            "frames_not_charged": totals.not_charged,
            "requests": totals.requests,
            "faces": totals.faces,
            "server_seconds": round(totals.server_ms / 1000.0, 3),
            "bytes_in": totals.bytes_in,
            "bytes_out": totals.bytes_out,
            "charge_usd": round(self.prices.charge(totals.charged), 6),
            "price_per_1000_frames_usd": self.settings.price_per_1000_frames,
            "quota": caller.quota,
            "quota_remaining": max(0, caller.quota - totals.charged),
        }

    def report(self, month: str) -> list[dict]:
        """One row per key for a month: usage, the customer's charge and the estimated AWS cost."""
        rows = []
        for record in self.store.list_keys():
            totals = self.store.totals(record.key_id, month)
            row = self.usage_document(record, month, totals)
            row["revoked"] = record.revoked
            row["aws_cost_usd"] = round(self.prices.aws_cost(totals.billed_ms, totals.requests), 6)
            row["days"] = totals.days
            rows.append(row)
        return rows

    def daily(self, month: str) -> list[dict]:
        """One row per key and day with frames in a month: requests and charged frames (the day figures
        the month record keeps; the rest of a frame's details are in the log lines)."""
        return [{"key_id": row["key_id"], "customer": row["customer"], "day": day, "requests": requests,
                 "frames_charged": charged}
                for row in self.report(month) for day, (requests, charged) in sorted(row["days"].items())]

    def revoke(self, key_id: str) -> KeyRecord:
        record = self.store.find_key_by_id(key_id)
        if record is None:
            raise KeyError(key_id)
        record = replace(record, revoked=True)
        self.store.update_key(record)
        self.keys.drop(record.key_hash)
        return record


_meters: dict = {}


def get_meter(settings: Settings) -> Meter:
    """The process's meter for these settings (its store opened on first use)."""
    meter = _meters.get(settings)
    if meter is None:
        meter = _meters[settings] = Meter(open_store(settings), settings)
    return meter
