"""Rules: CRUD, validation that says why, and what each kind matches on hand-made expenses."""

from __future__ import annotations

import pytest

from tests.alert_helpers import alert_client, run_worker, user


@pytest.fixture
def app(make_client):
    return alert_client(make_client)


@pytest.fixture
def ana(app):
    return user(app, "ana")


def add_rule(app, auth, **body) -> dict:
    r = app.post("/rules", json={"name": "r", **body}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def rule_alerts(app, auth, expenses: list[dict], lang: str = "pt-BR") -> list[dict]:
    assert app.post("/events", json=expenses, headers=auth).status_code == 201
    run_worker(app)
    r = app.get("/alerts", params={"source": "rule", "lang": lang}, headers=auth)
    return sorted(r.json(), key=lambda a: a["id"])


def at(day: int, hm: str, **extra) -> dict:
    """An expense on 2026-03-<day> at local time hm (Brasília, -03:00)."""
    base = {"amount": 20, "category": "café", "occurred_at": f"2026-03-{day:02d}T{hm}:00-03:00"}
    return base | extra


def test_create_list_change_and_delete_a_rule(app, ana):
    created = add_rule(app, ana, name="Compra grande", kind="amount_over", amount="500.10")
    assert created["amount"] == 500.10
    assert created["currency"] == "BRL"
    assert created["severity"] == "medium" and created["enabled"] is True
    rule_id = created["id"]
    assert [r["id"] for r in app.get("/rules", headers=ana).json()] == [rule_id]

    r = app.patch(f"/rules/{rule_id}", json={"enabled": False, "severity": "high"}, headers=ana)
    assert r.status_code == 200
    assert r.json()["enabled"] is False and r.json()["severity"] == "high"
    assert r.json()["amount"] == 500.10  # untouched fields stay

    assert app.delete(f"/rules/{rule_id}", headers=ana).status_code == 204
    assert app.get(f"/rules/{rule_id}", headers=ana).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"kind": "amount_over", "amount": -5}, "amount", "greater than 0"),
        ({"kind": "amount_over"}, "amount", "required"),
        ({"kind": "amount_over", "amount": 1_000_000_000}, "amount", "never"),
        ({"kind": "amount_over", "amount": "1.234"}, "amount", "decimal"),
        ({"kind": "blocked_merchant", "merchants": []}, "merchants", "never match"),
        ({"kind": "night", "start_hour": 3, "end_hour": 3}, "end_hour", "never match"),
        ({"kind": "night", "start_hour": 24}, "start_hour", "less than or equal"),
        ({"kind": "frequency", "count": 0, "minutes": 5}, "count", "greater than or equal"),
        ({"kind": "frequency", "count": 3}, "minutes", "required"),
        ({"kind": "weekend", "merchants": ["bet"]}, "merchants", "not used by a weekend"),
        ({"kind": "weekend", "currency": "USD"}, "currency", "together with amount"),
        ({"kind": "teleport"}, "kind", "amount_over"),
        ({"kind": "weekend", "id": 3}, "id", "not permitted"),
        ({"kind": "weekend", "name": ""}, "name", "at least 1"),
        ({"kind": "weekend", "severity": "panic"}, "severity", "high"),
    ],
)
def test_a_bad_rule_gets_422_naming_the_field_and_why(app, ana, body, field, words):
    r = app.post("/rules", json={"name": "r"} | body, headers=ana)
    assert r.status_code == 422
    problems = {p["field"]: p["message"] for p in r.json()["detail"]}
    assert field in problems, problems
    assert words in problems[field]
    assert app.get("/rules", headers=ana).json() == []


def test_a_change_is_validated_as_a_whole(app, ana):
    rule_id = add_rule(app, ana, kind="amount_over", amount=100)["id"]
    r = app.patch(f"/rules/{rule_id}", json={"amount": None}, headers=ana)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "amount"
    r = app.patch(f"/rules/{rule_id}", json={"kind": "weekend"}, headers=ana)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "kind"
    assert app.get(f"/rules/{rule_id}", headers=ana).json()["amount"] == 100


def test_another_users_rule_does_not_exist_for_you(app, ana):
    rule_id = add_rule(app, ana, kind="weekend")["id"]
    bia = user(app, "bia")
    assert app.get(f"/rules/{rule_id}", headers=bia).status_code == 404
    assert app.patch(f"/rules/{rule_id}", json={"enabled": False}, headers=bia).status_code == 404
    assert app.delete(f"/rules/{rule_id}", headers=bia).status_code == 404
    assert app.get("/rules", headers=bia).json() == []
    assert app.get(f"/rules/{rule_id}", headers=ana).json()["enabled"] is True


def test_amount_over_with_category_and_account_filters(app, ana):
    add_rule(app, ana, name="Mercado caro", kind="amount_over", amount=100, category="Mercado",
             account="cartão-1")  # fmt: skip
    found = rule_alerts(
        app,
        ana,
        [
            at(2, "10:00", amount=150, category="mercado", account="cartão-1"),  # the only hit
            at(2, "10:01", amount=150, category="mercado", account="cartão-2"),
            at(2, "10:02", amount=90, category="mercado", account="cartão-1"),
            at(2, "10:03", amount=100, category="mercado", account="cartão-1"),  # not *over*
            at(2, "10:04", amount=150, category="farmácia", account="cartão-1"),
            at(2, "10:05", amount=150, category="mercado", account="cartão-1", currency="USD"),
        ],
    )
    assert len(found) == 1
    alert = found[0]
    assert alert["count"] == 1 and alert["amount"] == 150
    assert alert["account"] == "cartão-1"
    assert alert["cause"]["rule_name"] == "Mercado caro"
    assert alert["reasons"][0]["message"] == "R$ 150,00 acima do limite de R$ 100,00"
    assert alert["reasons"][0]["params"] == {"amount": 150, "limit": 100}


def test_blocked_merchants_match_inside_the_name_in_any_case(app, ana):
    add_rule(app, ana, name="Sem apostas", kind="blocked_merchant", merchants=["bet"],
             severity="high")  # fmt: skip
    add_rule(app, ana, name="Sem jogos", kind="blocked_category", categories=["Jogos"])
    found = rule_alerts(
        app,
        ana,
        [
            at(2, "10:00", merchant="SuperBET*1234"),
            at(2, "10:01", merchant="Padaria"),
            at(2, "10:02", category="jogos"),
            at(2, "10:03", category="jogos online"),
        ],
        lang="en",
    )
    assert [a["cause"]["rule_name"] for a in found] == ["Sem apostas", "Sem jogos"]
    bet, games = found
    assert bet["severity"] == "high" and bet["count"] == 1
    assert bet["reasons"][0]["message"] == "purchase at a blocked merchant: SuperBET*1234 " + (
        "(contains “bet”)"
    )
    assert games["count"] == 1
    assert games["reasons"][0]["message"] == "expense in a blocked category: jogos"


def test_weekend_and_night_are_local_time(app, ana):
    add_rule(app, ana, name="Fim de semana", kind="weekend", amount=50)
    add_rule(app, ana, name="Madrugada", kind="night", start_hour=23, end_hour=6)
    found = rule_alerts(
        app,
        ana,
        [
            at(7, "10:00", amount=80),  # Saturday in Brasília
            at(7, "10:30", amount=30),  # Saturday, but not over 50
            at(6, "22:30", amount=80),  # Friday 22:30 local is already Saturday in UTC
            at(3, "23:30"),  # night
            at(4, "05:59"),  # night
            at(4, "06:00"),  # morning
        ],
        lang="en",
    )
    weekend, night = found
    assert weekend["cause"]["rule_name"] == "Fim de semana"
    assert weekend["count"] == 1
    assert weekend["reasons"][0]["message"] == "R$80.00 spent on a weekend (Saturday)"
    assert night["count"] == 2
    assert [r["message"] for r in night["reasons"]] == [
        "R$20.00 spent at 05:59, between 23:00 and 06:00"
    ]


def test_more_than_n_expenses_in_m_minutes(app, ana):
    add_rule(app, ana, name="Muitas compras", kind="frequency", count=3, minutes=10)
    found = rule_alerts(
        app,
        ana,
        [
            at(2, "10:00"),
            at(2, "10:03"),
            at(2, "10:06"),  # 3 in 10 min: allowed
            at(2, "10:08"),  # the 4th: fires
            at(2, "10:09"),  # still more than 3: same alert
            at(2, "12:00"),  # alone
        ],
    )
    assert len(found) == 1
    alert = found[0]
    assert alert["count"] == 2
    assert alert["reasons"][0]["message"] == "5 despesas em 10 min (a regra permite até 3)"


def test_a_disabled_rule_stays_quiet(app, ana):
    rule_id = add_rule(app, ana, kind="amount_over", amount=10)["id"]
    app.patch(f"/rules/{rule_id}", json={"enabled": False}, headers=ana)
    assert rule_alerts(app, ana, [at(2, "10:00", amount=50)]) == []
