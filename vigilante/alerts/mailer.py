"""E-mail: immediate mail for severe alerts and a daily digest, in the user's language.

Optional: nothing is mailed unless ``VIGILANTE_SMTP_HOST`` is set. Mails are plain text and go
through the same retrying outbox as webhooks (:mod:`vigilante.alerts.outbox`).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from models.explain import format_money
from vigilante.alerts.messages import severity_word
from vigilante.config import Settings
from vigilante.i18n import plural

TEXT = {
    "pt-BR": {
        "immediate_subject": "[Vigilante] Alerta de gravidade {severity}: {title}",
        "digest_subject": "[Vigilante] Resumo de {day}: {count} {count|alerta|alertas}",
        "digest_intro": "Alertas das últimas 24 horas ({count}):",
        "more": "… e mais {count}.",
        "footer": "Veja e confirme os alertas no painel do Vigilante de Gastos.",
        "count": "{count} despesa(s), total {amount}",
        "test_subject": "[Vigilante] E-mail de teste",
        "test_body": "Este é um teste: os alertas do Vigilante de Gastos chegarão aqui.",
    },
    "en": {
        "immediate_subject": "[Vigilante] {severity}-severity alert: {title}",
        "digest_subject": "[Vigilante] Digest for {day}: {count} {count|alert|alerts}",
        "digest_intro": "Alerts of the last 24 hours ({count}):",
        "more": "… and {count} more.",
        "footer": "See and acknowledge alerts on the Vigilante de Gastos dashboard.",
        "count": "{count} expense(s), {amount} in total",
        "test_subject": "[Vigilante] Test e-mail",
        "test_body": "This is a test: Vigilante de Gastos alerts will arrive here.",
    },
}
DIGEST_MAX = 50


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _text(lang: str) -> dict:
    return TEXT["en" if lang == "en" else "pt-BR"]


def _alert_block(alert: dict, lang: str) -> list[str]:
    word = severity_word(alert["severity"], lang)
    lines = [f"[{word}] {alert['title']} (#{alert['id']})"]
    lines += [f"  - {r['message']}" for r in alert["reasons"]]
    if alert["count"] > 1:
        amount = format_money(round(alert["amount"] * 100), alert["currency"], lang)
        lines.append("  " + _text(lang)["count"].format(count=alert["count"], amount=amount))
    return lines


def immediate(alert: dict, lang: str) -> tuple[str, str]:
    """(subject, body) of the mail sent at once for a severe alert."""
    t = _text(lang)
    word = severity_word(alert["severity"], lang)
    subject = t["immediate_subject"].format(severity=word, title=alert["title"])
    body = "\n".join([*_alert_block(alert, lang), "", t["footer"]])
    return subject[:200], body


def digest(alerts: list[dict], total: int, lang: str, day: str) -> tuple[str, str]:
    """(subject, body) of the daily digest of ``total`` alerts; ``alerts``: newest, listed."""
    t = _text(lang)
    lines = [t["digest_intro"].format(count=total), ""]
    for alert in alerts[:DIGEST_MAX]:
        lines += [*_alert_block(alert, lang), ""]
    if total > DIGEST_MAX:
        lines += [t["more"].format(count=total - DIGEST_MAX), ""]
    lines.append(t["footer"])
    subject = plural(t["digest_subject"], {"count": total}).format(day=day, count=total)
    return subject[:200], "\n".join(lines)


def test_mail(lang: str) -> tuple[str, str]:
    t = _text(lang)
    return t["test_subject"], t["test_body"]


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail; raises ``smtplib.SMTPException`` or ``OSError`` on failure."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="vigilante.local")
    message.set_content(body)
    timeout = settings.smtp_timeout_seconds
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(message)
