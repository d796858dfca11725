"""The alert feed: model anomalies become alerts, bursts are grouped, ack flow, filters and
paging, both languages, per-user scoping, and a worker that evaluates each expense once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.pool import NullPool

from tests.alert_helpers import alert_client, receiver, run_worker, user, worker  # noqa: F401
from vigilante.alerts.evaluate import Draft
from vigilante.alerts.worker import AlertWorker
from vigilante.db import write_transaction
from vigilante.migrate import upgrade
from vigilante.tables import alert_cursors, expenses, users
from vigilante.tables import alerts as alerts_table


@pytest.fixture
def app(make_client):
    return alert_client(make_client)


@pytest.fixture
def ana(app):
    return user(app, "ana")


def charge(minute: int, amount=30, merchant="Bar do Zé", **extra) -> dict:
    return {
        "amount": amount,
        "category": "café",
        "merchant": merchant,
        "occurred_at": f"2026-03-02T10:{minute:02d}:00-03:00",
    } | extra


def alerts(app, auth, **params) -> list[dict]:
    r = app.get("/alerts", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_burst_of_six_charges_is_one_alert_with_a_count(app, ana):
    flagged = []
    for minute in range(6):  # live: one request and one worker pass per charge
        body = app.post("/event", json=charge(minute), headers=ana).json()
        if body["is_anomaly"]:
            flagged.append(body["id"])
        run_worker(app)
    assert len(flagged) >= 4  # the detector flags the repeats
    (alert,) = alerts(app, ana, source="model")
    assert alert["count"] == len(flagged)
    assert alert["expense_ids"] == flagged
    assert alert["expense_id"] == flagged[-1]
    assert alert["amount"] == 30 * len(flagged)
    assert alert["title"] == f"{len(flagged)} despesas suspeitas em Bar do Zé"
    assert any("Bar do Zé" in r["message"] for r in alert["reasons"])


def test_an_alert_says_what_raised_it_with_numbers_in_both_languages(app, ana):
    app.post("/events", json=[charge(0, 42.5), charge(2, 42.5)], headers=ana)
    run_worker(app)
    (pt,) = alerts(app, ana)
    assert pt["source"] == "model" and pt["state"] == "open"
    assert pt["cause"]["kind"] == "model" and pt["cause"]["model_version"]
    assert 0 < pt["cause"]["score"] <= 1
    assert pt["severity"] in ("low", "medium", "high")
    assert pt["title"] == "Despesa suspeita em Bar do Zé"
    assert pt["reasons"][0]["code"] == "duplicate"
    assert pt["reasons"][0]["message"] == "mesmo valor em Bar do Zé há 2 min"
    assert pt["first_at"] == pt["last_at"] == "2026-03-02T13:02:00Z"
    (en,) = alerts(app, ana, lang="en")
    assert en["title"] == "Suspicious expense at Bar do Zé"
    assert en["reasons"][0]["message"] == "same amount at Bar do Zé 2 min ago"
    by_header = app.get(f"/alerts/{pt['id']}", headers=ana | {"Accept-Language": "en-US"})
    assert by_header.json()["title"] == en["title"]


def test_acknowledging_an_alert(app, ana):
    app.post("/rules", json={"name": "Grande", "kind": "amount_over", "amount": 100}, headers=ana)
    app.post("/event", json=charge(0, 150), headers=ana)
    run_worker(app)
    (alert,) = alerts(app, ana, source="rule")
    assert app.get("/alerts/summary", headers=ana).json()["open"] >= 1
    before = app.get("/alerts/summary", headers=ana).json()["open"]

    r = app.post(f"/alerts/{alert['id']}/ack", headers=ana)
    assert r.status_code == 200
    acked = r.json()
    assert acked["state"] == "acked" and acked["acked_at"]
    assert (
        app.post(f"/alerts/{alert['id']}/ack", headers=ana).json()["acked_at"]
        == (acked["acked_at"])
    )
    assert app.get("/alerts/summary", headers=ana).json()["open"] == before - 1
    assert alert["id"] not in [a["id"] for a in alerts(app, ana, state="open")]

    app.post("/event", json=charge(1, 160), headers=ana)  # same cause, after the ack
    run_worker(app)
    newest = alerts(app, ana, source="rule")
    assert [a["state"] for a in newest] == ["open", "acked"]
    assert newest[0]["count"] == 1


def test_filters_and_paging(app, ana):
    for name, severity, amount in (("a", "low", 10), ("b", "medium", 20), ("c", "high", 30)):
        rule = {"name": name, "kind": "amount_over", "amount": amount, "severity": severity}
        app.post("/rules", json=rule, headers=ana)
    app.post("/event", json=charge(0, 35, merchant="Loja"), headers=ana)
    run_worker(app)
    rule_alerts = alerts(app, ana, source="rule")
    assert [a["cause"]["rule_name"] for a in rule_alerts] == ["c", "b", "a"]  # newest first
    assert [a["cause"]["rule_name"] for a in alerts(app, ana, severity="high")] == ["c"]
    page = alerts(app, ana, source="rule", limit=2)
    rest = alerts(app, ana, source="rule", limit=2, before_id=page[-1]["id"])
    assert [a["id"] for a in page + rest] == [a["id"] for a in rule_alerts]
    summary = app.get("/alerts/summary", headers=ana).json()
    assert summary["open_by_severity"]["high"] >= 1
    for bad in ({"state": "closed"}, {"source": "bank"}, {"severity": "x"}, {"limit": 201}):
        assert app.get("/alerts", params=bad, headers=ana).status_code == 422


def test_another_users_alerts_do_not_exist_for_you(app, ana):
    app.post("/events", json=[charge(0), charge(1)], headers=ana)
    run_worker(app)
    (alert,) = alerts(app, ana)
    bia = user(app, "bia")
    assert alerts(app, bia) == []
    assert app.get(f"/alerts/{alert['id']}", headers=bia).status_code == 404
    assert app.post(f"/alerts/{alert['id']}/ack", headers=bia).status_code == 404
    assert alerts(app, ana)[0]["state"] == "open"
    assert app.get("/alerts/summary", headers=bia).json()["open"] == 0


def test_each_expense_is_evaluated_once(app, ana):
    app.post("/rules", json={"name": "r", "kind": "amount_over", "amount": 1}, headers=ana)
    app.post("/events", json=[charge(m, 10 + m, merchant=f"m{m}") for m in range(5)], headers=ana)
    assert run_worker(app)["evaluated"] == 5
    assert run_worker(app)["evaluated"] == 0
    (alert,) = alerts(app, ana, source="rule")
    assert alert["count"] == 5


def test_without_rules_every_expense_is_examined_and_only_flagged_ones_alert(app, ana):
    # No rules or budgets: the worker reads ids for all, whole rows for flagged ones only.
    normal = [charge(m, 10 + m, merchant=f"loja {m}") for m in range(8)]
    repeats = [charge(20 + m) for m in range(4)]  # the detector flags the repeats
    out = app.post("/events", json=normal + repeats, headers=ana).json()
    flagged = [e["id"] for e in out if e["is_anomaly"]]
    assert flagged and len(flagged) < len(out)
    assert run_worker(app)["evaluated"] == len(out)
    assert run_worker(app)["evaluated"] == 0
    (alert,) = alerts(app, ana, source="model")
    assert alert["expense_ids"] == flagged


def test_two_workers_on_one_database_never_evaluate_an_expense_twice(app, ana):
    app.post("/rules", json={"name": "r", "kind": "amount_over", "amount": 1}, headers=ana)
    n = 300
    batch = [charge(m % 60, 10, merchant=f"m{m}") for m in range(n)]
    app.post("/events", json=batch, headers=ana)
    first = worker(app)
    second = AlertWorker(first.engine, first.settings.model_copy(update={"alerts_batch": 7}))
    first.settings = first.settings.model_copy(update={"alerts_batch": 5})
    go = threading.Barrier(2)
    done = {}

    def run(name, w):
        go.wait()
        done[name] = w.process_pending()["evaluated"]

    threads = [threading.Thread(target=run, args=p) for p in (("a", first), ("b", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.stop()
    done["again"] = first.process_pending()["evaluated"]
    assert sum(done.values()) == n
    (alert,) = alerts(app, ana, source="rule")
    assert alert["count"] == n


def test_a_user_claimed_by_another_worker_waits_for_its_lease(app, ana):
    app.post("/rules", json={"name": "r", "kind": "amount_over", "amount": 1}, headers=ana)
    app.post("/event", json=charge(0), headers=ana)
    w = worker(app)
    other = AlertWorker(w.engine, w.settings)
    try:
        now = w.clock()
        user_id = app.get("/me", headers=ana).json()["id"]
        assert other._claim(user_id, now)  # another host is on it
        assert w.process_pending(now)["evaluated"] == 0
        assert w.process_pending(now + 61_000)["evaluated"] == 1  # its lease ran out
    finally:
        other.stop()


def test_pending_alerts_and_deliveries_survive_a_restart(make_client, receiver):  # noqa: F811
    first = alert_client(make_client)
    ana = user(first, "ana")
    first.post("/webhooks", json={"url": receiver.url, "min_severity": "low"}, headers=ana)
    first.post("/events", json=[charge(0), charge(1)], headers=ana)
    worker(first).evaluate_pending(worker(first).clock())  # alert stored, delivery queued
    assert receiver.received == []

    second = alert_client(make_client)  # a new process on the same database
    run_worker(second)
    assert len(receiver.received) == 1
    assert receiver.received[0].json()["alert"]["title"] == "Despesa suspeita em Bar do Zé"
    assert run_worker(second) == {"evaluated": 0, "digests": 0, "attempts": 0}


def test_existing_spenders_start_after_their_newest_expense(tmp_path):
    """The migration that adds alerts does not replay years of history into the feed."""
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0001")
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        uid = conn.execute(
            insert(users).values(username="ana", password_hash="x", created_ms=0)
        ).inserted_primary_key[0]
        row = {"user_id": uid, "account": "", "amount_cents": 100, "currency": "BRL",
               "category": "c", "occurred_ms": 0, "received_ms": 0, "score": 0.1,
               "is_anomaly": True, "severity": "high", "reasons": [], "model_version": "v",
               "features": b"", "evidence": 0.0}  # fmt: skip
        conn.execute(insert(expenses), [row, row, row])
    upgrade(url)
    with engine.connect() as conn:
        cursor = conn.execute(select(alert_cursors.c.user_id, alert_cursors.c.last_expense_id))
        assert cursor.all() == [(uid, 3)]
    engine.dispose()


def test_an_alert_acknowledged_while_the_worker_groups_into_it_starts_a_new_one(app, ana):
    """The worker read the alert as open, the user acknowledged it before the write: the hit
    goes to a new open alert, and the acknowledged one stays as the user left it."""
    app.post("/rules", json={"name": "Grande", "kind": "amount_over", "amount": 100}, headers=ana)
    app.post("/event", json=charge(0, 150), headers=ana)
    run_worker(app)
    (first,) = alerts(app, ana, source="rule")
    engine = app.app.state.ctx.engine
    with engine.connect() as conn:
        row = dict(
            conn.execute(select(alerts_table).where(alerts_table.c.id == first["id"]))
            .one()
            ._mapping
        )
    assert app.post(f"/alerts/{first['id']}/ack", headers=ana).status_code == 200
    draft = Draft(row=row | {"hits": 2}, existing_id=row["id"], before_severity=row["severity"])
    with write_transaction(engine) as conn:
        ((stored, event),) = worker(app)._store_all(
            conn, row["user_id"], [draft], row["created_ms"]
        )
    assert event == "alert.created" and stored.existing_id != first["id"]
    states = {a["id"]: a["state"] for a in alerts(app, ana, source="rule")}
    assert states == {first["id"]: "acked", stored.existing_id: "open"}
