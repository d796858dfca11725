"""Monthly budgets: CRUD, progress summed by the database, 80 % and 100 % alerts once a month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.alert_helpers import alert_client, run_worker, user


@pytest.fixture
def app(make_client):
    return alert_client(make_client)


@pytest.fixture
def ana(app):
    return user(app, "ana")


def spend(app, auth, *amounts, category="mercado", **extra) -> None:
    """Expenses of now (this month), a few seconds apart."""
    now = datetime.now(UTC)
    batch = [
        {
            "amount": a,
            "category": category,
            "occurred_at": (now - timedelta(seconds=len(amounts) - i)).isoformat(),
        }
        | extra
        for i, a in enumerate(amounts)
    ]
    assert app.post("/events", json=batch, headers=auth).status_code == 201
    run_worker(app)


def budget_alerts(app, auth, lang="pt-BR") -> list[dict]:
    r = app.get("/alerts", params={"source": "budget", "lang": lang}, headers=auth)
    return sorted(r.json(), key=lambda a: a["id"])


def test_create_list_change_and_delete_budgets(app, ana):
    r = app.post("/budgets", json={"category": "Mercado", "limit": "1000.50"}, headers=ana)
    assert r.status_code == 201, r.text
    food = r.json()
    assert food["category"] == "Mercado" and food["limit"] == 1000.5 and food["currency"] == "BRL"
    assert food["spent"] == 0 and food["left"] == 1000.5 and food["percent"] == 0
    overall = app.post("/budgets", json={"limit": 5000}, headers=ana).json()
    assert overall["category"] is None

    again = app.post("/budgets", json={"category": "mercado", "limit": 10}, headers=ana)
    assert again.status_code == 409  # one budget per category, whatever its spelling
    in_usd = app.post("/budgets", json={"category": "mercado", "limit": 10, "currency": "USD"},
                      headers=ana)  # fmt: skip
    assert in_usd.status_code == 201

    r = app.patch(f"/budgets/{food['id']}", json={"limit": 1200}, headers=ana)
    assert r.status_code == 200 and r.json()["limit"] == 1200
    assert app.delete(f"/budgets/{overall['id']}", headers=ana).status_code == 204
    assert [b["id"] for b in app.get("/budgets", headers=ana).json()] == [
        food["id"],
        in_usd.json()["id"],
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"limit": -100}, "limit", "greater than 0"),
        ({"limit": 0}, "limit", "greater than 0"),
        ({"limit": "NaN"}, "limit", ""),
        ({"category": "", "limit": 10}, "category", "at least 1"),
        ({"limit": 10, "currency": "XYZ"}, "currency", "ISO 4217"),
        ({"limit": 10, "period": "week"}, "period", "not permitted"),
    ],
)
def test_a_bad_budget_gets_422_naming_the_field(app, ana, body, field, words):
    r = app.post("/budgets", json=body, headers=ana)
    assert r.status_code == 422
    problems = {p["field"]: p["message"] for p in r.json()["detail"]}
    assert field in problems and words in problems[field]
    assert app.get("/budgets", headers=ana).json() == []


def test_spent_and_left_come_from_this_months_expenses(app, ana):
    food = app.post("/budgets", json={"category": "mercado", "limit": 200}, headers=ana).json()
    spend(app, ana, 30.25, 19.75)
    spend(app, ana, 40, category="Mercado")  # same budget whatever the case
    spend(app, ana, 500, category="viagem")  # another category
    spend(app, ana, 10, currency="USD")  # another currency
    now = app.get(f"/budgets/{food['id']}", headers=ana).json()
    assert (now["spent"], now["left"], now["percent"]) == (90, 110, 45)
    assert now["month"] == datetime.now(ZoneInfo("America/Sao_Paulo")).strftime("%Y-%m")
    past = app.get(f"/budgets/{food['id']}", params={"month": "2020-01"}, headers=ana).json()
    assert past["spent"] == 0 and past["month"] == "2020-01"
    assert app.get("/budgets", params={"month": "2020-13"}, headers=ana).status_code == 422


def test_80_and_100_percent_alerts_come_once_a_month_each(app, ana):
    app.post("/budgets", json={"category": "mercado", "limit": 100}, headers=ana)
    spend(app, ana, 50)
    assert budget_alerts(app, ana) == []
    spend(app, ana, 35)  # 85 %
    spend(app, ana, 5)  # 90 %: still the same 80 % alert
    (warning,) = budget_alerts(app, ana)
    assert warning["severity"] == "medium"
    assert warning["cause"]["threshold"] == 80
    assert warning["cause"]["spent"] == 85 and warning["cause"]["left"] == 15
    message = warning["reasons"][0]["message"]
    assert message.startswith("mercado: R$ 85,00 de R$ 100,00 gastos em ")
    assert message.endswith("(85%); restam R$ 15,00")
    assert warning["title"].startswith("Orçamento de mercado em 80%")

    spend(app, ana, 20)  # 110 %
    spend(app, ana, 10)  # 120 %
    found = budget_alerts(app, ana, lang="en")
    assert len(found) == 2
    over = found[1]
    assert over["severity"] == "high" and over["cause"]["threshold"] == 100
    assert over["reasons"][0]["message"].endswith("(110%); over by R$10.00")
    assert over["period"] == warning["period"]


def test_jumping_past_both_thresholds_gives_only_the_100_percent_alert(app, ana):
    app.post("/budgets", json={"limit": 100}, headers=ana)  # overall
    spend(app, ana, 60, category="mercado")
    spend(app, ana, 60, category="farmácia")
    spend(app, ana, 5, category="café")
    (alert,) = budget_alerts(app, ana)
    assert alert["cause"]["threshold"] == 100 and alert["cause"]["category"] is None
    assert alert["reasons"][0]["message"].startswith("todas as categorias: R$ 120,00 de R$ 100")


def test_old_months_in_an_import_raise_no_budget_alert(app, ana):
    app.post("/budgets", json={"category": "mercado", "limit": 100}, headers=ana)
    old = [
        {"amount": 300, "category": "mercado", "occurred_at": "2024-05-10T12:00:00-03:00"},
    ]
    app.post("/events", json=old, headers=ana)
    run_worker(app)
    assert budget_alerts(app, ana) == []
    r = app.get("/budgets", params={"month": "2024-05"}, headers=ana).json()
    assert r[0]["spent"] == 300 and r[0]["percent"] == 300


def test_another_users_budget_does_not_exist_for_you(app, ana):
    budget_id = app.post("/budgets", json={"limit": 100}, headers=ana).json()["id"]
    bia = user(app, "bia")
    assert app.get(f"/budgets/{budget_id}", headers=bia).status_code == 404
    assert app.patch(f"/budgets/{budget_id}", json={"limit": 1}, headers=bia).status_code == 404
    assert app.delete(f"/budgets/{budget_id}", headers=bia).status_code == 404
    spend(app, bia, 500)
    assert app.get(f"/budgets/{budget_id}", headers=ana).json()["spent"] == 0
