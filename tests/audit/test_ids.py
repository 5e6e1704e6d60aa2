"""ULID run ids: format, time order, monotonic within a millisecond, prefix normalisation."""

from __future__ import annotations

import time

import pytest

from console.audit.ids import CROCKFORD, encode_ulid, new_run_id, normalize_run_id


def test_known_vector_from_the_ulid_spec() -> None:
    # The ULID spec's example id 01ARYZ6S41TSV4RRFFQ69G5FAV has time 1469918176385 ms.
    assert encode_ulid(1469918176385, 0)[:10] == "01ARYZ6S41"
    assert encode_ulid(0, 0) == "0" * 26
    assert encode_ulid((1 << 48) - 1, (1 << 80) - 1) == "7" + "Z" * 25


def test_format_is_26_crockford_characters() -> None:
    for _ in range(200):
        rid = new_run_id()
        assert len(rid) == 26
        assert set(rid) <= set(CROCKFORD)


def test_ids_carry_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    rid = new_run_id()
    after = time.time_ns() // 1_000_000
    millis = 0
    for ch in rid[:10]:
        millis = millis * 32 + CROCKFORD.index(ch)
    assert before <= millis <= after


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    ids = [new_run_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


@pytest.mark.parametrize(("bad_millis", "bad_random"), [(-1, 0), (1 << 48, 0), (0, 1 << 80)])
def test_out_of_range_parts_are_refused(bad_millis: int, bad_random: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_ulid(bad_millis, bad_random)


def test_prefixes_typed_by_a_person_are_normalised() -> None:
    assert normalize_run_id(" 01jx9o ") == "01JX90"
    assert normalize_run_id("0il") == "011"
