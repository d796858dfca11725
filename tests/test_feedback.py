"""Feedback changes what comes next: dismissed patterns score lower, confirmed ones higher and
never train the model as normal; and the false-positive rate over time is there to be shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models.features import SpenderHistory
from tests.conftest import signup_and_login
from tests.test_detector import ordinary_life
from vigilante.history import was_repeat
from vigilante.tables import users

START = datetime(2026, 3, 1, tzinfo=UTC)


def payload(ev) -> dict:
    moment = datetime.fromtimestamp(ev.ts / 1000, UTC)
    return {
        "amount": ev.cents / 100,
        "category": ev.category,
        "merchant": ev.merchant.title(),
        "account": ev.account,
        "occurred_at": moment.isoformat(),
    }


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-{3 + day // 31:02d}-{1 + day % 31:02d}T{hour:02d}:{minute:02d}:00-03:00"


def bakery(amount: float, day: int, minute: int = 45) -> dict:
    return {
        "amount": amount,
        "category": "alimentação",
        "merchant": "Padaria Pão De Mel",
        "account": "cartão-1",
        "occurred_at": at(day, 7, minute),
    }


@pytest.fixture
def ana(client):
    auth = signup_and_login(client)
    r = client.post("/events", json=[payload(e) for e in ordinary_life(45)], headers=auth)
    assert r.status_code == 201
    return auth


def test_a_dismissed_pattern_scores_lower_next_time(client, ana):
    first = client.post("/event", json=bakery(160.00, 46), headers=ana).json()
    assert first["is_anomaly"]
    r = client.post(f"/events/{first['id']}/feedback", json={"label": "legit"}, headers=ana)
    assert r.json()["feedback"] == "legit"
    again = client.post("/event", json=bakery(158.00, 48), headers=ana, params={"lang": "en"})
    again = again.json()
    assert again["score"] < first["score"] / 2
    assert again["reasons"][-1]["code"] == "dismissed_pattern"
    assert again["reasons"][-1]["message"] == "similar to 1 expense you marked as fine"
    # Other amounts and other merchants are not excused by it.
    other = client.post("/event", json=bakery(900.00, 49), headers=ana).json()
    assert other["is_anomaly"] and "dismissed_pattern" not in [r["code"] for r in other["reasons"]]


def test_a_dismissed_price_does_not_excuse_a_double_charge(client, ana):
    """A "this is fine" on a dear breakfast excuses that price at that bakery, not the bakery
    charging it twice; a dismissed double charge does excuse the next one. Whether the labels
    are read back from the database (a restarted process) or as they come (a running one)."""
    ctx = client.app.state.ctx
    auths = {"ana": ana}
    for name in ("bia", "caio"):
        auths[name] = signup_and_login(client, name)
        r = client.post(
            "/events", json=[payload(e) for e in ordinary_life(45)], headers=auths[name]
        )
        assert r.status_code == 201
    with ctx.engine.connect() as conn:
        ids = dict(conn.execute(select(users.c.username, users.c.id)).all())

    def double_charges(name, dismiss_the_double, reload):
        auth = auths[name]

        def post(body):
            if reload:
                ctx.ingestor.histories.drop(ids[name])
            return client.post("/event", json=body, headers=auth).json()

        for day in (46, 48, 50):
            flagged = post(bakery(160.00, day))
            client.post(f"/events/{flagged['id']}/feedback", json={"label": "legit"}, headers=auth)
        once = post(bakery(159.00, 52))
        assert not once["is_anomaly"] and once["reasons"][-1]["code"] == "dismissed_pattern"
        twice = post(bakery(159.00, 52, minute=47))
        assert twice["is_anomaly"], name
        assert twice["reasons"][0]["code"] == "duplicate"
        if dismiss_the_double:
            client.post(f"/events/{twice['id']}/feedback", json={"label": "legit"}, headers=auth)
        post(bakery(159.00, 54))
        return post(bakery(159.00, 54, minute=47))["score"]

    not_excused = double_charges("bia", dismiss_the_double=False, reload=False)
    assert double_charges("ana", dismiss_the_double=True, reload=True) < not_excused / 2
    assert double_charges("caio", dismiss_the_double=True, reload=False) < not_excused / 2


def test_only_a_real_repeat_makes_a_dismissal_excuse_repeats():
    """Two visits close together get a weak "burst" reason: dismissing a dear dinner 20 minutes
    after a coffee there is about the dinner's price, not about repeated charges."""
    pair = [{"code": "merchant_amount", "llr": 4.2}, {"code": "burst", "llr": 1.099}]
    double = [{"code": "duplicate", "llr": 5.3}, {"code": "merchant_amount", "llr": 2.0}]
    assert not was_repeat(json.dumps(pair))
    assert was_repeat(json.dumps(double))
    assert not was_repeat(None)


def test_a_confirmed_pattern_scores_higher_and_never_trains_as_normal(client, ana):
    ctx = client.app.state.ctx
    first = client.post("/event", json=bakery(140.00, 46), headers=ana).json()
    client.post(f"/events/{first['id']}/feedback", json={"label": "fraud"}, headers=ana)
    again = client.post("/event", json=bakery(138.00, 48), headers=ana).json()
    assert again["is_anomaly"]
    assert again["score"] > first["score"]
    assert "confirmed_pattern" in [r["code"] for r in again["reasons"]]
    with ctx.engine.connect() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.username == "ana")).scalar_one()
    X, _, total = ctx.detectors.training_data(user_id)
    assert total == len(X) + 1  # every stored expense but the confirmed fraud


def test_confirmed_fraud_does_not_teach_what_is_usual(client, ana):
    """A thief's R$ 900 dinner, once confirmed, is no longer part of what ana pays for meals:
    the next dear new restaurant stands out as if it had never happened. Taking the label back
    makes it hers again, exactly as for a spender who never labelled it."""
    bia = signup_and_login(client, "bia")
    r = client.post("/events", json=[payload(e) for e in ordinary_life(45)], headers=bia)
    assert r.status_code == 201

    def dinner(amount: float, merchant: str, day: int) -> dict:
        return {
            "amount": amount,
            "category": "alimentação",
            "merchant": merchant,
            "account": "cartão-1",
            "occurred_at": at(day, 20, 30),
        }

    thief = {}
    for name, auth in (("ana", ana), ("bia", bia)):
        thief[name] = client.post("/event", json=dinner(900.00, "Churrascaria Gaúcha", 46),
                                  headers=auth).json()  # fmt: skip
        assert thief[name]["is_anomaly"]
    r = client.post(f"/events/{thief['ana']['id']}/feedback", json={"label": "fraud"}, headers=ana)
    assert r.status_code == 200

    def next_dinner(amount, merchant, day):
        return [
            client.post("/event", json=dinner(amount, merchant, day), headers=auth).json()
            for auth in (ana, bia)
        ]

    for_ana, for_bia = next_dinner(850.00, "Cantina Nova", 48)
    assert for_ana["is_anomaly"]
    assert for_ana["score"] > 2 * for_bia["score"]

    # Taken back ("it was me after all"): the dinner is ana's again, as it always was bia's.
    r = client.post(f"/events/{thief['ana']['id']}/feedback", json={"label": "legit"}, headers=ana)
    assert r.status_code == 200
    for_ana, for_bia = next_dinner(820.00, "Bistrô Novo", 50)
    assert for_ana["score"] == for_bia["score"]


def test_a_thiefs_next_charge_still_repeats_the_confirmed_ones(client, ana):
    """Confirmed fraud leaves "usual" alone, but it happened: two charges just under R$ 500 at
    a web shop, confirmed at once, make the third minutes later a split and a burst."""

    def web(amount: float, minute: int) -> dict:
        return {
            "amount": amount,
            "category": "compras online",
            "merchant": "Loja Web 77",
            "account": "cartão-1",
            "occurred_at": at(46, 15, minute),
        }

    for minute, amount in ((2, 490.00), (6, 495.00)):
        charge = client.post("/event", json=web(amount, minute), headers=ana).json()
        client.post(f"/events/{charge['id']}/feedback", json={"label": "fraud"}, headers=ana)
    third = client.post("/event", json=web(480.00, 11), headers=ana).json()
    found = [r["code"] for r in third["reasons"]]
    assert third["is_anomaly"]
    assert {"split", "burst", "confirmed_pattern"} <= set(found)


def test_a_thiefs_charge_a_month_ago_is_not_a_monthly_bill(client, ana):
    """A confirmed fraud is not the spender's monthly charge: the thief's same R$ 89,90 at the
    same shop a month later is no subscription coming round again."""

    def shop(day: int) -> dict:
        return {
            "amount": 89.90,
            "category": "compras online",
            "merchant": "Loja Web 77",
            "account": "cartão-1",
            "occurred_at": at(day, 15, 10),
        }

    first = client.post("/event", json=shop(46), headers=ana).json()
    r = client.post(f"/events/{first['id']}/feedback", json={"label": "fraud"}, headers=ana)
    assert r.status_code == 200
    again = client.post("/event", json=shop(76), headers=ana).json()
    assert again["is_anomaly"]
    assert {"confirmed_pattern", "new_category"} <= {r["code"] for r in again["reasons"]}


def test_labels_on_expenses_older_than_a_loaded_history_count_without_reloading(
    client, ana, monkeypatch
):
    """A long history is loaded newest first (LOAD_LIMIT): a dismissal on an older expense is
    read with it, and a fraud label there (on nothing the history learnt) reloads nothing."""
    from vigilante import history as history_module

    ctx = client.app.state.ctx
    with ctx.engine.connect() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.username == "ana")).scalar_one()
    first = client.post("/event", json=bakery(160.00, 46), headers=ana).json()
    client.post(f"/events/{first['id']}/feedback", json={"label": "legit"}, headers=ana)
    oldest = client.get("/events", params={"limit": 1000}, headers=ana).json()[-1]
    client.post(f"/events/{oldest['id']}/feedback", json={"label": "fraud"}, headers=ana)
    # 60+ breakfasts after it (days that ``at`` can write as dates)
    later = [bakery(15.00 + day % 4, day) for day in range(47, 120) if day % 31 < 28]
    assert client.post("/events", json=later, headers=ana).status_code == 201
    monkeypatch.setattr(history_module, "LOAD_LIMIT", 50)
    loads = []
    real_load = history_module.HistoryCache._load
    monkeypatch.setattr(
        history_module.HistoryCache,
        "_load",
        lambda self, conn, uid: loads.append(uid) or real_load(self, conn, uid),
    )
    ctx.ingestor.histories.drop(user_id)  # as a process starting now
    again = client.post("/event", json=bakery(158.00, 125), headers=ana).json()
    assert again["reasons"][-1]["code"] == "dismissed_pattern"
    for day in range(126, 129):
        client.post("/event", json=bakery(16.00, day), headers=ana)
    assert loads == [user_id]


def test_cards_seen_only_in_fraud_are_not_the_households():
    """Three thieves' cards, each confirmed fraud, do not make a household whose categories a
    first expense is weighed against."""
    from tests.test_detector import event as detector_event
    from tests.test_detector import ordinary_life as life_of

    history = SpenderHistory()
    for n, ev in enumerate(life_of(30)):
        ev.id = n + 1
        history.add(ev)
    for n, card in enumerate(("cartão-x", "cartão-y", "cartão-z")):
        stolen = detector_event(life_of(1)[0].ts + n, 900.00, "joalheria", "Vivara", card)
        stolen.id, stolen.feedback = 1000 + n, "fraud"
        history.add(stolen)
    _, ctx = history.features(detector_event(life_of(31)[-1].ts + 1, 300.0, "pets", "Cobasi"))
    assert ctx.other_accounts == 0 and ctx.category_share == 0.0


def test_false_positive_rate_over_time(client, ana):
    flagged = []
    for day, amount in ((46, 150.0), (46, 990.0), (47, 170.0), (53, 600.0)):
        body = client.post("/event", json=bakery(amount, day, minute=50), headers=ana).json()
        assert body["is_anomaly"]
        flagged.append(body["id"])
    for ident, label in zip(flagged[:3], ("legit", "fraud", "legit"), strict=True):
        client.post(f"/events/{ident}/feedback", json={"label": label}, headers=ana)
    normal = client.post("/event", json=bakery(15.0, 47, minute=55), headers=ana).json()
    assert not normal["is_anomaly"]
    client.post(f"/events/{normal['id']}/feedback", json={"label": "fraud"}, headers=ana)

    params = {"from": "2026-04-15T00:00:00-03:00", "to": "2026-04-30T00:00:00-03:00"}
    days = client.get("/feedback/stats", params=params, headers=ana).json()
    assert (days["alerts"], days["reviewed"], days["dismissed"], days["confirmed"]) == (4, 3, 2, 1)
    assert days["missed"] == 1
    assert days["false_positive_rate"] == pytest.approx(2 / 3)
    by_day = {p["start"]: p for p in days["periods"]}
    assert by_day["2026-04-16"]["false_positive_rate"] == pytest.approx(1 / 2)
    assert by_day["2026-04-17"]["false_positive_rate"] == 1.0
    assert by_day["2026-04-23"]["reviewed"] == 0
    assert by_day["2026-04-23"]["false_positive_rate"] is None

    weeks = client.get("/feedback/stats", params=params | {"bucket": "week"}, headers=ana).json()
    assert [w["start"] for w in weeks["periods"]] == ["2026-04-13", "2026-04-20"]
    assert sum(w["alerts"] for w in weeks["periods"]) == 4

    bad = client.get("/feedback/stats", params={"bucket": "year"}, headers=ana)
    assert bad.status_code == 422
    backwards = {"from": params["to"], "to": params["from"]}
    assert client.get("/feedback/stats", params=backwards, headers=ana).status_code == 422
    bia = signup_and_login(client, "bia")
    assert client.get("/feedback/stats", params=params, headers=bia).json()["alerts"] == 0
