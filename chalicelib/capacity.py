"""DynamoDB capacity units, counted from item sizes the way DynamoDB bills on-demand tables.

moto (the AWS stand-in the tests and benchmarks use) does not report what a call really consumes: it
answers every GetItem and UpdateItem with 0.5 units whatever the item or the read's consistency, and
nothing for a transaction. So the meter store counts its own calls here, from the items it writes and
reads, with DynamoDB's published rules:

- an item's size is the sum over its attributes of the name's UTF-8 length plus the value's size: a
  string's UTF-8 length, a number's (significant digits / 2, rounded up) + 1 byte (+1 if negative), a
  binary's length, 1 byte for a boolean or null, 3 bytes plus 1 per element (and the elements) for a
  list or map;
- a write costs 1 unit per KB (1,024 bytes, rounded up) of the larger of the item before and after it;
  in a transaction, 2 units per KB per item; a conditional write whose condition fails still costs the
  units of the item it left in place (at least 1);
- a strongly consistent read costs 1 unit per 4 KB of the item (rounded up; a missing item 1 unit), an
  eventually consistent read half that.

What DynamoDB itself reports (``ReturnConsumedCapacity``) is kept beside the count: on AWS it is the
bill's own figure, against moto it shows moto's constants.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from decimal import Decimal

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def number_size(value: str) -> int:
    """Bytes DynamoDB counts for a number given as its wire string ("12.500" -> 2 significant digits)."""
    digits = format(abs(Decimal(value)), "f").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1 + (1 if value.lstrip().startswith("-") else 0)


def value_size(value: dict) -> int:
    """Bytes of one attribute value in DynamoDB's wire form ({"S": ...}, {"N": ...}, ...)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict | None) -> int:
    """Bytes of an item in DynamoDB's wire form (0 for no item)."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def write_units(*sizes: int, transactional: bool = False) -> int:
    """Units of one item write, from the sizes of the item before and after it (at least 1 KB)."""
    units = max(1, math.ceil(max(sizes, default=0) / WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


def read_units(size: int, consistent: bool = True) -> float:
    """Units of reading ``size`` bytes (one item, or a query's items together; at least 4 KB)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass
class Usage:
    """What the store's calls have cost so far."""
    read_units: float = 0.0
    write_units: float = 0.0
    calls: int = 0
    largest_item: int = 0        # bytes of the largest item read or written
    reported_units: float = 0.0  # the sum of what DynamoDB said it consumed (ReturnConsumedCapacity)


class CapacityMeter:
    """A thread-safe running count of capacity units, by the rules above."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage = Usage()

    def add(self, reads: float = 0.0, writes: float = 0.0, items: tuple[int, ...] = (),
            response: dict | None = None) -> None:
        reported = consumed(response)
        with self._lock:
            u = self._usage
            u.read_units += reads
            u.write_units += writes
            u.calls += 1
            u.largest_item = max([u.largest_item, *items])
            u.reported_units += reported

    def snapshot(self) -> Usage:
        with self._lock:
            return Usage(**vars(self._usage))

    def reset(self) -> None:
        with self._lock:
            self._usage = Usage()


def consumed(response: dict | None) -> float:
    """The capacity units a DynamoDB answer (or a cancelled transaction's error) says it consumed."""
    found = (response or {}).get("ConsumedCapacity") or []
    if isinstance(found, dict):
        found = [found]
    return float(sum(c.get("CapacityUnits", 0) for c in found))
