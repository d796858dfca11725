"""The dashboard's alerts tab (AppTest) against a real API whose alert worker runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.live_api import login
from vigilante import i18n
from vigilante.client import VigilanteClient
from vigilante.ui import escape_md
from vigilante.ui_alerts import describe


def wait_for(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("the alert worker did not get there in time")


def user_with_alerts(api) -> tuple[str, VigilanteClient]:
    """A rule hit and a budget at 90 %: two open alerts."""
    username, password = api.new_user("alerts")
    client = VigilanteClient(api.url)
    client.login(username, password)
    rule = {"name": "Compra grande", "kind": "amount_over", "amount": "100", "severity": "high"}
    client.add_rule(rule)
    client.add_budget({"category": "mercado", "limit": "200"})
    client.post_event({"amount": "180", "category": "mercado", "merchant": "Dia a Dia"})
    wait_for(lambda: client.alert_summary()["open"] >= 2)
    return username, client


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_open_alerts_budget_bars_and_acknowledging(live_api, open_app):
    username, client = user_with_alerts(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    assert not at.exception
    shown = texts(at)
    open_count = client.alert_summary()["open"]
    word = "alerta" if open_count == 1 else "alertas"
    assert f":red-badge[{open_count}] {word} em aberto" in shown
    assert "**Regra “Compra grande”**" in shown
    assert escape_md("R$ 180,00 acima do limite de R$ 100,00") in shown  # "R\$": no LaTeX
    month = client.budgets()[0]["month"]  # "2026-11" said as "novembro de 2026"
    assert f"**Orçamentos de {i18n.month(month)}**" in shown and "-" not in i18n.month(month)
    (bar,) = at.get("progress")
    assert bar.proto.value == 90
    assert "**mercado** · R$ 180,00 de R$ 200,00 (90,0%) · restam R$ 20,00" in bar.proto.text

    rule_alert = client.alerts(state="open", source="rule")[0]
    at.button(key=f"ack_{rule_alert['id']}").click().run()
    assert not at.exception
    assert client.alert(rule_alert["id"])["state"] == "acked"
    assert "**Regra “Compra grande”**" not in texts(at)


def test_add_switch_off_and_delete_rules_and_budgets(live_api, open_app):
    username, client = user_with_alerts(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    at.selectbox(key="rule_kind").select("frequency").run()
    at.text_input(key="rule_name").input("Teste de cartão")
    at.number_input(key="rule_count").set_value(4)
    at.number_input(key="rule_minutes").set_value(15)
    at.button(key="rule_submit").click().run()
    assert not at.exception
    added = [r for r in client.rules() if r["name"] == "Teste de cartão"]
    assert added and (added[0]["count"], added[0]["minutes"]) == (4, 15)
    assert "mais de 4 em 15 min" in texts(at)

    at.button(key=f"rule_toggle_{added[0]['id']}").click().run()
    assert [r["enabled"] for r in client.rules() if r["id"] == added[0]["id"]] == [False]

    at.text_input(key="rule_name").input("")  # no name: the API says why, in the user's words
    at.button(key="rule_submit").click().run()
    assert [e.value for e in at.error] == ["Nome: não pode ficar vazio"]  # the form's label
    assert len(client.rules()) == 2
    # An amount rule starts with no amount (not a refused 0,00) and asks for one by its label.
    at.selectbox(key="rule_kind").select("amount_over").run()
    assert at.number_input(key="rule_amount").value is None
    at.text_input(key="rule_name").input("Grande")
    at.button(key="rule_submit").click().run()
    assert [e.value for e in at.error] == [escape_md("Acima de (R$): campo obrigatório")]
    assert len(client.rules()) == 2
    at.number_input(key="rule_amount").set_value(500.0)
    at.text_input(key="rule_category").input("c" * 70)  # the rule form's category, by its label
    at.button(key="rule_submit").click().run()
    assert [e.value for e in at.error] == [
        "Só na categoria (opcional): texto longo demais: no máximo 64 caracteres"
    ]
    assert len(client.rules()) == 2

    at.text_input(key="budget_category").input("")
    at.number_input(key="budget_limit").set_value(3000.0)
    at.button(key="budget_submit").click().run()
    assert not at.exception
    overall = [b for b in client.budgets() if b["category"] is None]
    assert overall and overall[0]["limit"] == 3000
    at.button(key=f"budget_del_{overall[0]['id']}").click().run()
    assert [b["category"] for b in client.budgets()] == ["mercado"]


def test_alerts_tab_in_english(live_api, open_app):
    username, _ = user_with_alerts(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    at.selectbox(key="lang").select("en").run()
    assert not at.exception
    shown = texts(at)
    assert "**Rule “Compra grande”**" in shown
    assert escape_md("R$180.00 is over the limit of R$100.00") in shown
    assert "open alerts" in shown  # two of them (user_with_alerts)
    assert "R$180.00 of R$200.00 (90.0%) · R$20.00 left" in at.get("progress")[0].proto.text


def test_rules_read_as_a_sentence():
    rule = {"kind": "night", "amount": 50.0, "account": "cartão-1"}
    assert (
        describe(rule) == "Gasto de madrugada · acima de R$ 50,00 · das 22:00 às 06:00 · cartão-1"
    )


def test_open_alerts_newest_first_by_the_time_they_show(live_api, open_app):
    username, password = live_api.new_user("order")
    client = VigilanteClient(live_api.url)
    client.login(username, password)
    client.add_rule({"name": "Compra grande", "kind": "amount_over", "amount": "100"})
    now = datetime.now(UTC)
    # Each account its own alert; the second alert is about an earlier expense.
    for account, hours_ago in (("Nubank", 1), ("Itaú", 5), ("Inter", 3)):
        client.post_event(
            {"amount": "150", "category": "lazer", "merchant": "Cinema", "account": account,
             "occurred_at": (now - timedelta(hours=hours_ago)).isoformat()}
        )  # fmt: skip
    wait_for(lambda: client.alert_summary()["open"] >= 3)
    by_id = {a["account"]: a["id"] for a in client.alerts(state="open")}
    at = login(open_app("dashboard.py", live_api.url), username)
    assert not at.exception
    shown = [b.key for b in at.button if b.key and b.key.startswith("ack_")]
    assert shown == [f"ack_{by_id[a]}" for a in ("Nubank", "Inter", "Itaú")]
