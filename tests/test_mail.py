"""E-mail through a local SMTP server (aiosmtpd): notification settings, immediate mail for
severe alerts and the daily digest, each in the user's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.alert_helpers import alert_client, run_worker, smtp, user  # noqa: F401

BRT = ZoneInfo("America/Sao_Paulo")


def local_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=BRT).timestamp() * 1000)


@pytest.fixture
def app(make_client, smtp):  # noqa: F811
    return alert_client(make_client, smtp_host="127.0.0.1", smtp_port=smtp.port,
                        smtp_security="none")  # fmt: skip


def big_rule(app, auth, severity="high"):
    rule = {"name": "Compra grande", "kind": "amount_over", "amount": 100, "severity": severity}
    assert app.post("/rules", json=rule, headers=auth).status_code == 201


def spend(app, auth, amount=150, merchant="Loja") -> None:
    body = {"amount": amount, "category": "casa", "merchant": merchant}
    assert app.post("/event", json=body, headers=auth).status_code == 201


def test_notification_settings_are_validated(make_client):
    app = alert_client(make_client)
    auth = user(app)
    me = app.get("/me", headers=auth).json()
    expected = {"username": "ana", "email": None, "lang": "pt-BR", "email_min_severity": "high"}
    assert me == me | expected | {"daily_digest": False, "digest_hour": 8}
    for body, field in (
        ({"email": "ana"}, "email"),
        ({"email": "ana@example"}, "email"),
        ({"email": "ana@exa mple.com"}, "email"),
        ({"email": "ana@example.com\r\nBcc: x@y.z"}, "email"),
        ({"lang": "fr"}, "lang"),
        ({"lang": None}, "lang"),
        ({"digest_hour": 24}, "digest_hour"),
        ({"email_min_severity": "urgent"}, "email_min_severity"),
        ({"username": "bia"}, "username"),
    ):
        r = app.patch("/me", json=body, headers=auth)
        assert r.status_code == 422, body
        assert r.json()["detail"][0]["field"] == field
    r = app.patch("/me", json={"email": " ana@example.com ", "lang": "en", "digest_hour": 7},
                  headers=auth)  # fmt: skip
    assert r.json() == r.json() | {"email": "ana@example.com", "lang": "en", "digest_hour": 7}
    assert app.patch("/me", json={"email": None}, headers=auth).json()["email"] is None
    assert app.get("/me", headers=auth).json()["lang"] == "en"


def test_a_severe_alert_is_mailed_at_once_in_the_users_language(app, smtp):  # noqa: F811
    auth = user(app)
    app.patch("/me", json={"email": "ana@example.com", "lang": "en"}, headers=auth)
    big_rule(app, auth)
    spend(app, auth)
    run_worker(app)
    rule_mails = [m for m in smtp.messages if "Compra grande" in m[1]["Subject"]]
    (to, mail), *_ = rule_mails
    assert to == ["ana@example.com"]
    assert mail["Subject"] == "[Vigilante] high-severity alert: Rule “Compra grande”"
    assert "R$150.00 is over the limit of R$100.00" in mail.get_content()

    app.patch("/me", json={"lang": "pt-BR"}, headers=auth)
    (seen,) = app.get("/alerts", params={"source": "rule"}, headers=auth).json()
    app.post(f"/alerts/{seen['id']}/ack", headers=auth)  # the next hit opens a new alert
    smtp.messages.clear()
    spend(app, auth, 300, merchant="Outra loja")
    run_worker(app)
    subjects = [m["Subject"] for _, m in smtp.messages]
    assert "[Vigilante] Alerta de gravidade alta: Regra “Compra grande”" in subjects


def test_alerts_below_the_chosen_severity_are_not_mailed(app, smtp):  # noqa: F811
    auth = user(app)
    app.patch("/me", json={"email": "ana@example.com"}, headers=auth)
    big_rule(app, auth, severity="medium")
    spend(app, auth)
    run_worker(app)
    assert not [m for _, m in smtp.messages if "Compra grande" in m["Subject"]]
    app.patch("/me", json={"email_min_severity": "off"}, headers=auth)
    big_rule(app, auth, severity="high")
    spend(app, auth, merchant="Outra")
    run_worker(app)
    assert smtp.messages == []


def test_the_daily_digest_comes_once_a_day_at_the_users_hour(app, smtp):  # noqa: F811
    auth = user(app)
    app.patch("/me", json={"email": "ana@example.com", "email_min_severity": "off",
                           "daily_digest": True, "digest_hour": 8}, headers=auth)  # fmt: skip
    big_rule(app, auth)
    spend(app, auth, 150, merchant="Loja A")
    spend(app, auth, 250, merchant="Loja B")
    run_worker(app, local_ms("2027-01-14T12:00"))  # the alerts are made on the 14th

    run_worker(app, local_ms("2027-01-15T07:59"))
    assert smtp.messages == []
    run_worker(app, local_ms("2027-01-15T08:01"))
    ((to, mail),) = smtp.messages
    assert to == ["ana@example.com"]
    assert mail["Subject"] == "[Vigilante] Resumo de 15/01/2027: 1 alerta"
    body = mail.get_content()
    assert "Regra “Compra grande”: 2 despesas" in body
    assert "R$ 250,00 acima do limite de R$ 100,00" in body
    run_worker(app, local_ms("2027-01-15T09:00"))
    run_worker(app, local_ms("2027-01-16T08:30"))  # nothing new: no empty digest
    assert len(smtp.messages) == 1


def test_send_a_test_email(make_client, smtp):  # noqa: F811
    no_smtp = alert_client(make_client)
    auth = user(no_smtp)
    assert no_smtp.post("/me/test-email", headers=auth).status_code == 409
    app = alert_client(make_client, smtp_host="127.0.0.1", smtp_port=smtp.port,
                       smtp_security="none")  # fmt: skip
    assert app.post("/me/test-email", headers=auth).status_code == 409  # no address yet
    app.patch("/me", json={"email": "ana@example.com", "lang": "en"}, headers=auth)
    r = app.post("/me/test-email", headers=auth)
    assert r.status_code == 200 and r.json()["delivered"] is True
    ((to, mail),) = smtp.messages
    assert mail["Subject"] == "[Vigilante] Test e-mail"

    down = alert_client(make_client, smtp_host="127.0.0.1", smtp_port=1, smtp_security="none")
    r = down.post("/me/test-email", headers=auth).json()
    assert r["delivered"] is False and "Connection" in r["error"]
