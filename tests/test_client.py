"""vigilante.client against a real API, and the i18n helpers the UIs build on."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import PASSWORD
from vigilante import i18n
from vigilante.client import (
    ApiUnreachable,
    AuthError,
    Conflict,
    InvalidInput,
    NotFound,
    VigilanteClient,
    batches,
    chunked,
)

EXPENSE = {"amount": "42.50", "category": "padaria", "merchant": "Pão de Mel"}


def logged_in(api, **kwargs) -> VigilanteClient:
    client = VigilanteClient(api.url, **kwargs)
    client.login(*api.new_user())
    return client


def test_login_post_read_feedback_and_stats(live_api):
    client = logged_in(live_api)
    assert client.auth_required()
    first = client.post_event(EXPENSE)
    assert first["amount"] == 42.5 and 0 <= first["score"] <= 1
    second = client.post_events([EXPENSE | {"amount": "10"}, EXPENSE | {"amount": "11"}])
    assert [e["amount"] for e in second] == [10, 11]
    assert [e["id"] for e in client.events(after_id=first["id"])] == [
        second[1]["id"],
        second[0]["id"],
    ]
    assert client.event(first["id"])["merchant"] == "Pão de Mel"
    assert client.feedback(first["id"], "legit")["feedback"] == "legit"
    stats = client.stats()
    assert stats["count"] == 3 and stats["total"] == 63.5
    with pytest.raises(NotFound):
        client.event(10**9)


def test_wrong_password_and_missing_login_are_auth_errors(live_api):
    username, _ = live_api.new_user()
    client = VigilanteClient(live_api.url)
    with pytest.raises(AuthError):
        client.login(username, "not the password")
    with pytest.raises(AuthError):
        client.events()


def test_an_expired_or_refused_token_logs_in_again(live_api):
    client = logged_in(live_api)
    client._token = "not-a-token"  # as if the server's key changed or the token expired
    assert client.events() == []
    client._token_expires = 0  # about to expire: refreshed before the call
    client.post_event(EXPENSE)
    assert len(client.events()) == 1


def test_bad_input_raises_invalid_input_with_fields_translated(live_api):
    client = logged_in(live_api)
    with pytest.raises(InvalidInput) as caught:
        client.post_event({"amount": "-5", "category": ""})
    fields = i18n.field_errors(caught.value.errors, "pt-BR")
    assert fields == {"amount": "deve ser maior que 0", "category": "não pode ficar vazio"}
    assert i18n.field_errors(caught.value.errors, "en")["amount"] == "must be greater than 0"
    assert client.events() == []


def test_same_idempotency_key_same_answer_other_body_conflict(live_api):
    client = logged_in(live_api)
    a = client.post_event(EXPENSE, idempotency_key="k-1")
    b = client.post_event(EXPENSE, idempotency_key="k-1")
    assert a["id"] == b["id"]
    with pytest.raises(Conflict):
        client.post_event(EXPENSE | {"amount": "1"}, idempotency_key="k-1")
    assert len(client.events()) == 1


class DropFirstAnswer(httpx.BaseTransport):
    """Forwards every request, but loses the answer to the first POST (the server did store)."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.dropped = 0

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/event" and not self.dropped:
            response.read()
            self.dropped += 1
            raise httpx.ReadError("connection reset", request=request)
        return response


def test_a_lost_answer_is_retried_without_storing_twice(live_api):
    transport = DropFirstAnswer()
    retries = []
    client = logged_in(
        live_api,
        http=httpx.Client(transport=transport),
        retries=3,
        backoff=0.01,
        on_retry=lambda n, err, delay: retries.append(err),
    )
    stored = client.post_event(EXPENSE)
    assert transport.dropped == 1 and len(retries) == 1
    assert isinstance(retries[0], ApiUnreachable)
    assert [e["id"] for e in client.events()] == [stored["id"]]


def test_unreachable_api_is_a_typed_error_naming_the_address(dead_url):
    client = VigilanteClient(dead_url, retries=1, backoff=0.01)
    with pytest.raises(ApiUnreachable) as caught:
        client.health()
    assert dead_url in str(caught.value)


def test_auth_off_needs_no_login(live_api_auth_off):
    client = VigilanteClient(live_api_auth_off.url, lang="en")
    assert not client.auth_required()
    stored = client.post_event(EXPENSE)
    assert client.event(stored["id"])["id"] == stored["id"]


def test_reasons_come_in_the_clients_language(live_api):
    client = logged_in(live_api, lang="en")
    client.post_event(EXPENSE | {"occurred_at": "2026-03-02T12:30:00-03:00"})
    second = client.post_event(EXPENSE | {"occurred_at": "2026-03-02T12:31:00-03:00"})
    assert "same amount" in second["reasons"][0]["message"]
    client.lang = "pt-BR"
    assert "mesmo valor" in client.event(second["id"])["reasons"][0]["message"]


def test_chunked():
    assert [len(c) for c in chunked(({"i": i} for i in range(7)), 3)] == [3, 3, 1]


def test_imports_and_backfills_keep_within_a_deployments_batch_limits(make_client, monkeypatch):
    """With VIGILANTE_MAX_BATCH=3 and VIGILANTE_MAX_BODY_BYTES=2048 (the API's and the
    clients' configuration), a statement of 14 expenses with long descriptions arrives whole,
    in batches the API takes, instead of "Imported 0 of 14: 413"."""
    from vigilante.config import get_settings
    from vigilante.importers import send_statement

    api = make_client(max_batch=3, max_body_bytes=2048)
    monkeypatch.setenv("VIGILANTE_MAX_BATCH", "3")
    monkeypatch.setenv("VIGILANTE_MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    try:
        client = VigilanteClient(str(api.base_url), http=api)
        client.signup("lia", PASSWORD)
        client.login("lia", PASSWORD)
        expenses = [
            {
                "amount": f"{10 + i}.50",
                "category": "mercado",
                "merchant": "Dia " + "y" * 120,
                "description": "compra do mês " + "x" * 480,  # ~750 bytes: 2 fit in 2,048
                "external_id": f"line-{i}",
                "occurred_at": f"2026-03-{i + 1:02d}T10:00:00-03:00",
            }
            for i in range(14)
        ]
        sent = list(batches(expenses, 500))
        assert [len(b) for b in sent] == [2] * 7  # cut by bytes before the 3 items allowed
        assert all(len(json.dumps(b)) <= 2048 for b in sent)
        result = send_statement(client, expenses)
        assert (result.new, result.known) == (14, 0)
        assert len(client.events(limit=100)) == 14
    finally:
        get_settings.cache_clear()


def test_i18n_formats_money_numbers_and_times():
    assert i18n.money(1234.56, "pt-BR", "BRL") == "R$ 1.234,56"
    assert i18n.money(1234.56, "en", "BRL") == "R$1,234.56"
    assert i18n.money(1234.56, "pt-BR", "USD") == "US$ 1.234,56"
    assert i18n.money(1234.56, "en", "USD") == "$1,234.56"
    assert i18n.money(1234.56, "pt-BR", "EUR") == "€ 1.234,56"
    assert i18n.money(1234.56, "en", "EUR") == "€1,234.56"
    assert i18n.money(-37.79, "pt-BR", "BRL") == "-R$ 37,79"  # the sign before the symbol
    assert i18n.money_and_others(10, {"EUR": 5}, "pt-BR", "BRL") == "R$ 10,00 + € 5,00"
    assert i18n.day("2026-10-01", "pt-BR") == "01/10/2026"
    assert i18n.day("2026-10-01", "en") == "2026-10-01"
    assert i18n.percent(0.034) == "3,4%"
    assert i18n.when("2026-03-02T15:30:00Z") == "02/03/2026 12:30"
    assert i18n.when("2026-03-02T15:30:00Z", "en") == "2026-03-02 12:30"
    assert i18n.t("login", "en") == "Log in"
    assert i18n.resolve_lang("en-US") == "en" and i18n.resolve_lang(None) == "pt-BR"
    unknown = {"field": "amount", "message": "the API's words", "type": "something_new"}
    assert i18n.field_error(unknown, "pt-BR") == "the API's words"


def test_every_ui_string_exists_in_both_languages():
    for key, entry in i18n.STRINGS.items():
        assert set(entry) == set(i18n.LANGS), key


def test_field_errors_keep_the_limit_the_api_named(client, auth):
    """The UIs' words for a refused field keep the API's limit, in the UI's number style:
    "texto longo demais: no máximo 64 caracteres", not a bare "texto longo demais"."""
    from datetime import UTC, datetime, timedelta

    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    errors = []
    for body in (
        {"amount": 9_999_999_999, "category": "x" * 70},
        {"amount": 10, "category": "mercado", "occurred_at": ahead},
    ):
        r = client.post("/event", json=body, headers=auth)
        assert r.status_code == 422
        errors += r.json()["detail"]
    assert i18n.field_errors(errors, "pt-BR") == {
        "amount": "deve ser no máximo 1.000.000.000",
        "category": "texto longo demais: no máximo 64 caracteres",
        "occurred_at": "está mais de 24 h no futuro",
    }
    assert i18n.field_errors(errors, "en") == {
        "amount": "must be at most 1,000,000,000",
        "category": "too long: at most 64 characters",
        "occurred_at": "is more than 24 h in the future",
    }
