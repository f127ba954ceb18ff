"""Who the caller is, whether they may send another frame, and counting every frame exactly once.

One code path decides the caller: on Lambda behind API Gateway the key arrives in the request context
(``identity.apiKey``, already checked by API Gateway), locally (``chalice local`` checks no keys) in the
``x-api-key`` header; either way it is hashed and looked up in the store. Keys are stored only as
SHA-256 hashes, compared in constant time, and never logged.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from . import billing
from .errors import BadParameter, InvalidApiKey, MissingApiKey, QuotaExceeded, StoreUnavailable, TintcamError
from .settings import Settings
from .store import COUNTED, OVER_QUOTA, REPLAY, FrameEvent, KeyRecord, MeterStore, Totals, open_store, utcnow

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


@dataclass(frozen=True)
class Metered:
    outcome: str            # COUNTED or REPLAY
    quota_remaining: int


class Meter:
    def __init__(self, store: MeterStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.prices = billing.PriceList.from_settings(settings)

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
        if not presented:
            raise MissingApiKey(f"this route needs an API key in the '{KEY_HEADER}' header")
        if not _KEY_SHAPE.match(presented):
            raise InvalidApiKey("the API key is not valid")
        digest = hash_key(presented)
        record = self.store.find_key(digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest):
            raise InvalidApiKey("the API key is not valid")
        if record.revoked:
            raise InvalidApiKey("the API key has been revoked")
        return record

    # -------------------------------------------------------------- frames
    def run(self, caller: KeyRecord, idempotency_key: str | None, route: str, bytes_in: int, work):
        """Run ``work()`` (which returns a pipeline FrameResult) as one metered frame.

        Refuses with 429 before any work when the quota is spent (unless this is a replay of a counted
        request); counts the frame afterwards in one atomic write; a client error is recorded, not charged.
        Returns (result, Metered).
        """
        if idempotency_key is not None and not _IDEMPOTENCY_SHAPE.match(idempotency_key):
            raise BadParameter("Idempotency-Key must be 1-128 printable ASCII characters without spaces",
                               param="Idempotency-Key")
        now = utcnow()
        month = self.store.totals(caller.key_id, now.strftime("%Y-%m"))
        replay = bool(idempotency_key) and self.store.seen(caller.key_id, idempotency_key, time.time())
        if not replay and month.charged >= caller.quota:
            raise self._quota_exceeded(caller, now)
        try:
            result = work()
        except StoreUnavailable:
            raise
        except TintcamError as err:
            self.store.record(FrameEvent(key_id=caller.key_id, at=now, status=err.status, charged=False,
                                         bytes_in=bytes_in, route=route), None, None, 0.0)
            raise
        charged = len(result.faces) > 0
        event = FrameEvent(key_id=caller.key_id, at=now, status=200, charged=charged, faces=len(result.faces),
                           bytes_in=bytes_in, bytes_out=len(result.body), server_ms=result.processing_ms,
                           billed_ms=billing.billed_ms(result.processing_ms), route=route)
        outcome = self.store.record(event, caller.quota, idempotency_key,
                                    time.time() + self.settings.idempotency_ttl_s)
        if outcome == OVER_QUOTA:
            raise self._quota_exceeded(caller, now)
        used = month.charged + (1 if charged and outcome == COUNTED else 0)
        return result, Metered(outcome=outcome if outcome == REPLAY else COUNTED,
                               quota_remaining=max(0, caller.quota - used))

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
            rows.append(row)
        return rows

    def revoke(self, key_id: str) -> KeyRecord:
        record = self.store.find_key_by_id(key_id)
        if record is None:
            raise KeyError(key_id)
        record = replace(record, revoked=True)
        self.store.update_key(record)
        return record


_meters: dict = {}


def get_meter(settings: Settings) -> Meter:
    """The process's meter for these settings (its store opened on first use)."""
    meter = _meters.get(settings)
    if meter is None:
        meter = _meters[settings] = Meter(open_store(settings), settings)
    return meter
