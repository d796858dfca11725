"""Features from the past only, with bounded state: robust windows, limits, recurrence."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from models.features import (
    FEATURE_NAMES,
    KEEP_ACCOUNT,
    KEEP_AT_MERCHANT,
    Event,
    RobustWindow,
    SpenderHistory,
    round_limit,
)
from tests.test_detector import at, event, ordinary_life


def test_robust_window_keeps_the_last_values_sorted():
    rng = random.Random(3)
    window = RobustWindow(50)
    values = [rng.gauss(0, 1) for _ in range(400)]
    for v in values:
        window.add(v)
    last = np.array(values[-50:])
    assert len(window) == 50
    assert window.median() == pytest.approx(np.median(last))
    q1, q3 = np.quantile(last, [0.25, 0.75])
    assert window.spread() == pytest.approx((q3 - q1) / 1.349)
    assert RobustWindow(5).spread() is None


@pytest.mark.parametrize(
    ("amount", "limit"),
    [(489.90, 500), (499.99, 500), (500.00, None), (900.00, 1000), (450.00, 500),
     (449.99, None), (950, 1000), (150, None), (4_800, 5_000)],
)  # fmt: skip
def test_round_limit_is_the_limit_an_amount_sits_just_under(amount, limit):
    assert round_limit(round(amount * 100)) == limit


def test_features_use_only_the_past_and_do_not_change_the_history():
    history = SpenderHistory()
    for e in ordinary_life(20):
        history.add(e)
    probe = event(at(20, 12, 30), 45.0, "alimentação", "Restaurante Sabor")
    before = history.n_total
    v1, _ = history.features(probe)
    v2, _ = history.features(probe)
    assert history.n_total == before
    assert np.array_equal(v1, v2)
    assert v1.shape == (len(FEATURE_NAMES),) and np.isfinite(v1).all()


def test_a_history_rebuilt_from_storage_equals_one_kept_up_to_date():
    # A dismissal is indexed in place. Confirmed fraud changes what was learnt from: the
    # history says so (``relearns``) and its keeper reads it again (vigilante.history).
    events = ordinary_life(40)
    labels = {10: "legit", 20: "fraud"}

    def rebuilt(with_labels: dict) -> SpenderHistory:
        history = SpenderHistory()
        for i, e in enumerate(events):
            labelled = Event(e.ts, e.cents, e.category, e.merchant, e.account, i + 1)
            labelled.feedback = with_labels.get(i)
            history.add(labelled)
        return history

    warm = rebuilt({})
    events[10].id, events[20].id = 11, 21
    assert not warm.relearns(11, "legit")
    warm.set_feedback(events[10], "legit")
    assert warm.relearns(21, "fraud")  # learnt from it: read it again
    probe = event(at(40, 12, 31), 47.0, "alimentação", "Restaurante Sabor")
    dismissed = rebuilt({10: "legit"})
    assert np.array_equal(warm.features(probe)[0], dismissed.features(probe)[0])
    assert warm.features(probe)[1] == dismissed.features(probe)[1]
    confirmed = rebuilt(labels)
    assert not confirmed.relearns(21, "fraud")
    assert confirmed.relearns(21, "legit")  # taken back: learn from it after all
    assert confirmed.features(probe)[1].history_size == warm.features(probe)[1].history_size - 1


def test_state_per_spender_stays_bounded():
    history = SpenderHistory()
    for d in range(400):
        for h in (8, 12, 19):
            history.add(event(at(d, h), 20 + h, "alimentação", "Padaria"))
    acc = history.accounts["cartão-1"]
    assert len(acc.logs) == KEEP_ACCOUNT
    assert len(acc.merchants["padaria"].recent) == KEEP_AT_MERCHANT
    assert history.n_total == 1200


def test_monthly_charges_are_recurring_and_frequent_ones_are_not():
    history = SpenderHistory()
    for month in range(3):
        history.add(event(at(30 * month + 4, 9), 119.90, "assinaturas", "Smart Fit"))
    for d in range(0, 90, 3):
        history.add(event(at(d, 18), 200 + d % 7, "transporte", "Posto Shell"))
    _, gym = history.features(event(at(94, 9), 119.90, "assinaturas", "Smart Fit"))
    _, fuel = history.features(event(at(91, 18), 203.0, "transporte", "Posto Shell"))
    assert gym.recurring
    assert not fuel.recurring


def test_hours_far_from_the_spenders_are_more_surprising_than_neighbouring_ones():
    history = SpenderHistory()
    for e in ordinary_life(60):
        history.add(e)
    _, edge = history.features(event(at(60, 19, 30), 30, "transporte", "Uber"))
    _, night = history.features(event(at(60, 3, 0), 30, "transporte", "Uber"))
    assert night.hour_surprise > edge.hour_surprise + 1
    assert math.exp(night.hour_surprise) > 20  # 20× rarer than a uniform hour
