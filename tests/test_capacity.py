"""chalicelib/capacity.py: item sizes and capacity units by DynamoDB's published rules."""
from __future__ import annotations

import pytest

from chalicelib import capacity


@pytest.mark.parametrize("number,size", [
    ("0", 1), ("7", 2), ("12", 2), ("123", 3), ("12.5", 3), ("1000", 2), ("0.001", 2), ("100.001", 4),
    ("-1", 3), ("12345678901.234", 8),
])
def test_number_size_counts_significant_digits(number, size):
    assert capacity.number_size(number) == size


def test_item_size_adds_names_and_values():
    item = {"pk": {"S": "USAGE#key_1"}, "sk": {"S": "2026-11"}, "charged": {"N": "15"}, "ok": {"BOOL": True},
            "tags": {"SS": ["ab", "c"]}, "m": {"M": {"x": {"N": "1"}}}, "l": {"L": [{"S": "é"}]}}
    assert capacity.item_size(item) == (2 + 11) + (2 + 7) + (7 + 2) + (2 + 1) + (4 + 3) + (1 + 3 + 1 + 1 + 2) \
        + (1 + 3 + 1 + 2)
    assert capacity.item_size(None) == 0


def test_units_round_up_by_kilobyte_and_by_four():
    assert capacity.write_units(0) == capacity.write_units(1024) == 1
    assert capacity.write_units(1025) == 2 and capacity.write_units(300, 1100) == 2
    assert capacity.write_units(500, transactional=True) == 2
    assert capacity.read_units(0) == capacity.read_units(4096) == 1.0
    assert capacity.read_units(4097) == 2.0 and capacity.read_units(100, consistent=False) == 0.5


def test_meter_adds_up_and_keeps_what_dynamodb_reported():
    meter = capacity.CapacityMeter()
    meter.add(writes=1, items=(300,), response={"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}})
    meter.add(reads=1, items=(900,), response={"ConsumedCapacity": [{"CapacityUnits": 2.0}]})
    used = meter.snapshot()
    assert (used.write_units, used.read_units, used.calls, used.largest_item, used.reported_units) == \
        (1, 1, 2, 900, 2.5)
    meter.reset()
    assert meter.snapshot().calls == 0
