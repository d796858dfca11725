"""The entry app (AppTest) against a real API: verdicts, field errors, simulate, import."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

from tests.live_api import login
from vigilante.client import ApiUnreachable, VigilanteClient
from vigilante.ui import escape_md, known_spelling

FIXTURES = Path(__file__).parent / "fixtures"


def logged_in_app(api, open_app, **env):
    username, password = api.new_user("entry")
    client = VigilanteClient(api.url)
    client.login(username, password)
    at = login(open_app("streamlit_app.py", api.url, **env), username)
    assert not at.exception
    return at, client


def red_notes(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(":red[")]


def test_an_invalid_expense_shows_errors_beside_fields_and_stores_nothing(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    at.text_input(key="amount").input("-5")
    at.button(key="submit").click().run()
    assert not at.exception
    assert red_notes(at) == [
        ":red[:material/error: deve ser maior que 0]",
        ":red[:material/error: campo obrigatório]",
    ]
    assert at.error[0].value == "Corrija os campos marcados."
    assert client.events() == []


def test_logging_out_forgets_what_the_last_user_saw_and_typed(live_api, open_app):
    at, _ = logged_in_app(live_api, open_app)
    at.text_input(key="amount").input("4.321,00")
    at.selectbox(key="category").select("casa")
    at.button(key="submit").click().run()
    assert any("R$ 4.321,00" in c.value for c in at.caption)
    at.text_input(key="merchant").input("typed by ana, not sent")
    at.button(key="logout").click().run()
    bia, _ = live_api.new_user("entry")
    at = login(at, bia)
    assert not at.exception
    assert not any("4.321" in c.value for c in at.caption)  # no last verdict of ana's
    assert at.text_input(key="merchant").value == ""


def test_a_valid_expense_gets_its_verdict_at_once(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    at.text_input(key="amount").input("1.234,56")
    at.selectbox(key="category").select("casa")
    at.text_input(key="merchant").input("Leroy Merlin")
    at.text_input(key="account").input("cartão-1")
    at.button(key="submit").click().run()
    assert not at.exception
    assert not red_notes(at)
    stored = client.events()
    assert len(stored) == 1 and stored[0]["amount"] == 1234.56
    assert stored[0]["merchant"] == "Leroy Merlin" and stored[0]["account"] == "cartão-1"
    verdict = {m.label: m.value for m in at.metric}
    assert set(verdict) == {"Pontuação", "Gravidade"}
    assert re.fullmatch(r"\d{1,3}%", verdict["Pontuação"])  # a whole percent, either language
    assert 0 < at.dataframe[0].value.iloc[0]["Pontuação"] <= 100
    assert any(
        f"Despesa nº {stored[0]['id']} registrada: R$ 1.234,56" in c.value for c in at.caption
    )
    assert len(at.dataframe[0].value) == 1  # the recent entries
    assert at.text_input(key="amount").value == ""  # a fresh form for the next one


def test_errors_in_english(live_api, open_app):
    at, _ = logged_in_app(live_api, open_app, VIGILANTE_LANG="en")
    at.text_input(key="amount").input("12.345,678")
    at.button(key="submit").click().run()
    assert red_notes(at) == [
        ":red[:material/error: at most 2 decimal places]",
        ":red[:material/error: required]",
    ]


def test_a_typed_amount_is_read_strictly_not_guessed(live_api, open_app):
    """The form sent "0,001" as 1 (the statement parser's guess); now it is refused beside the
    field, nothing is stored, and the same form then stores "1.234,56" as 1234.56."""
    at, client = logged_in_app(live_api, open_app)
    at.selectbox(key="category").select("casa")
    for typed, message in [
        ("0,001", "no máximo 2 casas decimais"),
        ("1.2.3", "separadores fora do lugar"),
        ("5C", "não é um número"),
        ("12.345", "valor ambíguo: escreva 12.345,00 (ou 12345) se são milhares"),
    ]:
        at.text_input(key="amount").input(typed)
        at.button(key="submit").click().run()
        assert not at.exception
        notes = red_notes(at)
        assert len(notes) == 1 and notes[0].startswith(f":red[:material/error: {message}"), typed
        assert at.error[0].value == "Corrija os campos marcados."
        assert at.text_input(key="amount").value == typed  # kept for the user to fix
        assert client.events() == [], typed
    at.text_input(key="amount").input("1.234,56")
    at.button(key="submit").click().run()
    assert not at.exception
    assert not red_notes(at)
    stored = client.events()
    assert len(stored) == 1 and stored[0]["amount"] == 1234.56


def test_a_refused_amount_in_english(live_api, open_app):
    at, client = logged_in_app(live_api, open_app, VIGILANTE_LANG="en")
    at.text_input(key="amount").input("12.345")
    at.button(key="submit").click().run()
    assert red_notes(at) == [
        ":red[:material/error: ambiguous: write 12,345.00 (or 12345) if you mean thousands; "
        "cents take at most 2 decimal places]",
        ":red[:material/error: required]",
    ]
    assert client.events() == []


def test_simulate_sends_realistic_expenses_with_a_progress_bar(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    at.number_input(key="sim_count").set_value(40)
    at.number_input(key="sim_rate").set_value(10)
    at.button(key="sim_go").click().run()
    assert not at.exception
    assert at.success and "40 despesas enviadas" in at.success[0].value
    assert len(client.events(limit=100)) == 40


def test_a_category_typed_in_another_case_is_the_known_one():
    """ "Saúde " typed where "saúde" is already used files the expense under that one, not
    under a second category differing only in case (the form's own typing cannot be driven
    from AppTest, which only picks listed options)."""
    known = ["saúde", "mercado", "pets"]
    assert known_spelling("Saúde ", known) == "saúde"
    assert known_spelling("MERCADO", known) == "mercado"
    assert known_spelling("Viagem", known) == "Viagem"
    assert known_spelling(None, known) is None


def test_simulating_twice_sends_new_expenses_not_the_same_ones_again(live_api, open_app):
    """Each run takes the next seed: a second click is more of the same life, not a copy of
    the first run minutes later, which read as a flood of duplicate charges."""
    at, client = logged_in_app(live_api, open_app)
    at.number_input(key="sim_count").set_value(40)
    at.number_input(key="sim_rate").set_value(0)
    at.button(key="sim_go").click().run()
    assert "A próxima simulação usa a semente 1." in at.success[0].value
    at.button(key="sim_go").click().run()
    assert not at.exception and at.number_input(key="sim_seed").value == 1
    assert "A próxima simulação usa a semente 2." in at.success[0].value
    stored = client.events(limit=100)
    assert len(stored) == 80
    codes = [r["code"] for e in stored for r in e["reasons"]]
    assert "duplicate" not in codes and "near_duplicate" not in codes


def test_importing_a_statement_twice_adds_nothing_the_second_time(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    data = (FIXTURES / "nubank-fatura.csv").read_bytes()
    at.file_uploader(key="imp_file").upload("fatura.csv", data, "text/csv").run()
    assert not at.exception
    assert "14 despesas a importar, 2 ignoradas, 0 com erro." in at.info[0].value
    preview = at.dataframe[-1].value
    assert set(preview["Situação"]) == {"importar", "ignorar"}
    assert "pagamento da fatura" in set(preview["Observação"])
    at.button(key="imp_go").click().run()
    assert "14 novas, 0 já importadas antes" in at.success[0].value
    at.button(key="imp_go").click().run()
    assert "0 novas, 14 já importadas antes" in at.success[0].value
    assert len(client.events(limit=100)) == 14


def test_any_csv_through_the_column_mapping(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    data = "Data;Histórico;Valor\n01/10/2026;Padaria Real;-12,50\n02/10/2026;Pix recebido;50,00\n"
    at.file_uploader(key="imp_file").upload("banco.csv", data.encode(), "text/csv").run()
    assert not at.exception
    assert at.selectbox(key="map_amount").value == "Valor"
    assert "1 despesa a importar, 1 ignorada," in at.info[0].value
    at.button(key="imp_go").click().run()
    assert client.events()[0]["merchant"] == "Padaria Real"


def test_an_expense_without_an_answer_is_kept_to_send_again_and_never_stored_twice(
    live_api, open_app, monkeypatch
):
    """No answer to the submit: the form says the expense was not confirmed (nothing retries it
    by itself), keeps what was typed, and sending it again stores it once even if the first
    attempt had reached the API."""
    at, client = logged_in_app(live_api, open_app)
    real = VigilanteClient.post_event
    keys = []

    def lost_answer(self, expense, idempotency_key=None):
        keys.append(idempotency_key)
        real(self, expense, idempotency_key)  # stored, but the answer never comes back
        raise ApiUnreachable("timed out")

    monkeypatch.setattr(VigilanteClient, "post_event", lost_answer)
    at.text_input(key="amount").input("42,50")
    at.selectbox(key="category").select("casa")
    # a date without a time: the time is the clock's, which moves between the two attempts
    at.date_input(key="date").set_value(date.today() - timedelta(days=1))
    at.button(key="submit").click().run()
    assert not at.exception
    said = (
        f"Sem resposta da API em {live_api.url}: a despesa não foi confirmada. Envie de novo "
        "quando a API voltar; ela não será registrada duas vezes."
    )
    assert red_notes(at) == [f":red[:material/error: {escape_md(said)}]"]
    assert not at.error  # no "fix the fields": none is wrong
    assert at.text_input(key="amount").value == "42,50"
    monkeypatch.setattr(VigilanteClient, "post_event", real)
    time.sleep(1.1)  # the clock's second has moved on (the body's time is to the second)
    at.button(key="submit").click().run()
    assert not at.exception and not red_notes(at)
    assert [e["amount"] for e in client.events()] == [42.5]
    assert keys[0]
    assert at.text_input(key="amount").value == ""  # stored: a fresh form


def test_a_usd_deployment_asks_and_answers_in_dollars(live_api_usd, open_app):
    at, client = logged_in_app(
        live_api_usd, open_app, VIGILANTE_CURRENCY="USD", VIGILANTE_LANG="en"
    )
    assert at.text_input(key="amount").label == "Amount ($)"
    at.text_input(key="amount").input("12.34")
    at.selectbox(key="category").select("casa")
    at.button(key="submit").click().run()
    assert not at.exception
    [stored] = client.events()
    assert stored["currency"] == "USD"
    assert any(f"Expense #{stored['id']} stored: $12.34" in c.value for c in at.caption)
    assert at.dataframe[0].value.iloc[0]["Amount"] == "$12.34"  # the recent entries


def test_an_expense_in_euros_is_shown_in_euros(live_api, open_app):
    at, client = logged_in_app(live_api, open_app)
    client.post_event({"amount": "5000.00", "currency": "EUR", "category": "viagem"})
    at.run()
    assert not at.exception
    recent = at.dataframe[0].value.iloc[0]
    assert recent["Valor"] == "€ 5.000,00" and recent["Estabelecimento"] == ""


def test_the_import_preview_writes_amounts_and_dates_like_the_rest(live_api, open_app):
    at, _ = logged_in_app(live_api, open_app)
    data = "Data;Histórico;Valor\n01/10/2026;Padaria Real;-37,79\n02/10/2026;Pix recebido;50,00\n"
    at.file_uploader(key="imp_file").upload("banco.csv", data.encode(), "text/csv").run()
    assert not at.exception
    preview = at.dataframe[-1].value
    assert list(preview["Valor"]) == ["-R$ 37,79", "R$ 50,00"]
    assert list(preview["Data"]) == ["01/10/2026", "02/10/2026"]


def test_api_down_banner(dead_url, open_app):
    at = open_app("streamlit_app.py", dead_url)
    assert not at.exception
    assert f"API inacessível em {dead_url}" in at.error[0].value
