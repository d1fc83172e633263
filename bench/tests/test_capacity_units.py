"""AWS's item-size and unit rules as bench/capacity_units.py applies them to the items the
score path reads and writes (the sizes worked out by hand from "DynamoDB item sizes and
formats", DynamoDB Developer Guide)."""

from __future__ import annotations

import pytest

from bench.capacity_units import item_size, number_size, read_units, write_units


@pytest.mark.parametrize(
    ("text", "size"),
    [("712", 3), ("0.0420", 2), ("1700000000", 2), ("-12345", 4), ("0", 1)],
)
def test_if_a_number_is_sized_then_it_takes_a_byte_per_two_significant_digits_and_one(text, size):
    assert number_size(text) == size


def test_if_an_item_is_sized_then_it_is_its_names_and_values_with_lists_overhead():
    item = {
        "pk": {"S": "a" * 64},  # 2 + 64
        "score": {"N": "712"},  # 5 + 3
        "probability_of_default": {"N": "0.0420"},  # 22 + 2
        "reason_codes": {"L": [{"S": "R01"}, {"S": "R02"}]},  # 12 + 3 + 2 * (1 + 3)
        "under_dispute": {"BOOL": False},  # 13 + 1
        "m": {"M": {"a": {"S": "xy"}}},  # 1 + 3 + (1 + 1 + 2)
        "nome": {"S": "ação"},  # 4 + 6 (UTF-8)
    }

    assert item_size(item) == 66 + 8 + 24 + 23 + 14 + 8 + 10
    assert item_size(None) == 0


def test_if_units_are_counted_then_reads_round_items_to_4_kb_and_writes_to_1_kb():
    # A missing item (0 bytes) still takes a read's minimum; 5,000 bytes take two blocks.
    assert read_units([0, 100, 5000], consistent=True) == 4
    assert read_units([0, 100, 5000], consistent=False) == 2
    assert write_units(900, 1100) == 2
    assert write_units(0, 200) == 1
    assert write_units(300, 0) == 1  # a failed condition: the existing item, at least one
