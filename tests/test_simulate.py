from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from vigilante.schemas import ExpenseIn
from vigilante.simulate import HARD_NEGATIVES, KINDS, Simulator

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_history_is_ordered_valid_and_ends_at_start():
    events = Simulator(seed=3, accounts=6, start=START).history(days=20)
    stamps = [datetime.fromisoformat(e.payload["occurred_at"]) for e in events]
    assert stamps == sorted(stamps)
    assert START - timedelta(days=20) <= stamps[0] and stamps[-1] < START
    for e in events:
        ExpenseIn.model_validate(e.payload)  # exactly an API body, nothing else
        assert e.payload["amount"] == round(e.payload["amount"], 2)
        assert e.label is None or e.label in KINDS
        assert e.hard_negative is None or e.hard_negative in HARD_NEGATIVES
        assert not (e.label and e.hard_negative)
    assert len({e.payload["account"] for e in events}) == 6


def test_same_seed_same_stream_other_seed_other_stream():
    a = [e.payload for e in Simulator(seed=1, start=START).history(10)]
    b = [e.payload for e in Simulator(seed=1, start=START).history(10)]
    c = [e.payload for e in Simulator(seed=2, start=START).history(10)]
    assert a == b
    assert a != c


def test_every_kind_appears_with_its_incident_and_the_rate_is_near_the_target():
    events = Simulator(seed=5, accounts=30, anomaly_rate=0.05, start=START).history(40)
    kinds = Counter(e.label for e in events if e.label)
    assert set(kinds) == set(KINDS)
    assert 0.025 < sum(kinds.values()) / len(events) < 0.08
    bursts = Counter(e.incident for e in events if e.label == "card_testing")
    assert all(n >= 3 for n in bursts.values())
    assert all(e.incident is not None for e in events if e.label)


def test_kinds_and_mix_choose_the_anomalies():
    sim = Simulator(seed=2, accounts=20, start=START, kinds=["night", "spike"], anomaly_rate=0.1)
    assert {e.label for e in sim.history(20)} == {None, "night", "spike"}
    with pytest.raises(ValueError):
        Simulator(kinds=["teleport"])


def test_rent_comes_every_month_on_the_same_day_with_the_same_amount():
    events = Simulator(seed=4, accounts=3, start=START, anomaly_rate=0).history(95)
    rents = [e for e in events if e.hard_negative == "rent"]
    by_account = {}
    for e in rents:
        by_account.setdefault(e.payload["account"], []).append(e.payload)
    assert len(by_account) == 3
    for payments in by_account.values():
        assert len(payments) >= 3
        assert len({p["amount"] for p in payments}) == 1
        assert len({p["occurred_at"][8:10] for p in payments}) == 1


def live(sim: Simulator, hour: int, n: int) -> tuple[datetime, list]:
    """The first ``n`` expenses of a live stream whose clock stands at ``hour``:17."""
    now = datetime(2026, 3, 2, hour, 17, tzinfo=sim.tz)
    stream = sim.stream(realtime=True, clock=lambda: now)
    return now, [next(stream) for _ in range(n)]


@pytest.mark.parametrize("hour", [10, 20])
def test_a_live_stream_keeps_each_spender_to_their_hours(hour):
    # Stamped with the clock, a live expense must still fall in its spender's usual hours, or
    # the demo's every expense is "at an unusual hour".
    sim = Simulator(seed=4, accounts=40, start=START)
    now, items = live(sim, hour, 300)
    spenders = {s.account: s for s in sim.spenders}
    for item in items:
        assert item.payload["occurred_at"] == now.isoformat(timespec="seconds")
        spender = spenders[item.payload["account"]]
        usual = spender.start_hour <= hour < spender.end_hour
        assert usual or item.label is not None or item.payload["category"] == "moradia"
    assert sum(item.label is None for item in items) > 250


@pytest.mark.parametrize("hour", [1, 3])
def test_a_live_stream_at_night_keeps_the_anomaly_rate(hour):
    # At 03:00 nearly every simulated expense is a night anomaly: passed on as they come, a
    # stream paced by the clock was 95 % anomalies.
    _, items = live(Simulator(seed=5, accounts=150, start=START), hour, 60)
    assert sum(item.label is not None for item in items) <= 6  # 3 % configured


def test_a_live_stream_at_an_hour_nobody_spends_still_flows():
    _, items = live(Simulator(seed=4, accounts=3, start=START, night_owls=0.0), 4, 5)
    assert len(items) == 5


def test_realtime_stream_is_stamped_now():
    before = datetime.now(UTC) - timedelta(seconds=1)
    stream = Simulator(seed=0).stream(realtime=True)
    first = next(stream)
    assert datetime.fromisoformat(first.payload["occurred_at"]) >= before
    ExpenseIn.model_validate(first.payload)
