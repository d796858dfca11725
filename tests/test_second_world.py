"""The second labelled world `make bench-detect` replays (benchmarks/second_world.py): its
streams must be valid API bodies in time order, reproducible, and labelled as it says."""

from collections import Counter
from datetime import datetime

import pytest

from benchmarks import second_world
from vigilante.schemas import ExpenseIn
from vigilante.simulate import KINDS


@pytest.fixture(scope="module")
def stream():
    return second_world.history("C", 303)


def test_a_stream_is_api_bodies_in_time_order(stream):
    stamps = [datetime.fromisoformat(e.payload["occurred_at"]) for e in stream]
    assert stamps == sorted(stamps)
    for e in stream:
        ExpenseIn.model_validate(e.payload)
        assert not (e.label and e.hard_negative)


def test_every_kind_is_there_near_the_configured_rate_and_bills_are_ordinary(stream):
    kinds = Counter(e.label for e in stream if e.label)
    assert set(kinds) == set(KINDS)
    assert 0.015 < sum(kinds.values()) / len(stream) < 0.04  # configuration C: 2.5 %
    hard = Counter(e.hard_negative for e in stream if e.hard_negative)
    assert "bill" not in hard and {"trip", "new_merchant_normal"} <= set(hard)


def test_same_seed_same_stream_other_seed_other_stream(stream):
    again = second_world.history("C", 303)
    assert [e.payload for e in again] == [e.payload for e in stream]
    assert [e.payload for e in second_world.history("C", 304)][:50] != [e.payload for e in stream][
        :50
    ]
