"""Webhooks: which URLs may receive alerts, how a delivery is signed, what it carries, sending.

**Server-side request forgery.** Only ``http``/``https`` URLs without credentials are accepted,
and the host must resolve to public addresses only: loopback, private, link-local (cloud
metadata at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges are refused
unless ``VIGILANTE_WEBHOOK_ALLOW_PRIVATE=true``. The check runs again at every attempt and the
request goes to the address that was checked (the name is kept for ``Host`` and TLS), so a DNS
answer that changes after the check cannot redirect a delivery. Redirects are not followed.

**Signature** (the scheme of Stripe's webhooks): ``Vigilante-Signature: t=<unix seconds>,
v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. :func:`verify` is the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass

import httpx

import vigilante
from vigilante.alerts.messages import severity_word
from vigilante.rendering import iso_ms

SIGNATURE_HEADER = "Vigilante-Signature"
EMOJI = {"high": "🔴", "medium": "🟠", "low": "🟡"}
TEST_TEXT = {
    "pt-BR": "Teste do Vigilante de Gastos: este webhook está funcionando.",
    "en": "Vigilante de Gastos test: this webhook works.",
}


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


def check_url(url: str, allow_private: bool) -> httpx.URL:
    """The parsed URL, or :class:`UnsafeUrl`; the host is resolved and every address checked."""
    parsed = _parse(url)
    resolve_allowed(parsed, allow_private)
    return parsed


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeUrl("is not a valid URL") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnsafeUrl("must start with https:// (or http://)")
    if not parsed.host:
        raise UnsafeUrl("has no host name")
    if parsed.userinfo:
        raise UnsafeUrl("must not contain a user name or password")
    return parsed


def resolve_allowed(parsed: httpx.URL, allow_private: bool) -> list[str]:
    """The host's addresses, all checked; :class:`UnsafeUrl` when one may not be reached."""
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host} does not resolve") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            ip = getattr(ip, "ipv4_mapped", None) or ip
            if not ip.is_global or ip.is_multicast:
                raise UnsafeUrl(
                    f"resolves to {address}, a loopback, private or reserved address; "
                    "set VIGILANTE_WEBHOOK_ALLOW_PRIVATE=true to allow local receivers"
                )
    if not addresses:
        raise UnsafeUrl(f"the host {host} does not resolve")
    return addresses


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, tolerance_s: int = 300, now_s: float | None = None
) -> bool:
    """The receiver's check: a valid ``v1`` for this body, signed within ``tolerance_s``."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v for k, v in parts if k.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now_s is None else now_s) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures)


def chat_line(alert: dict | None, lang: str) -> str:
    """One line for Slack/Discord: severity, title, the first reasons."""
    if alert is None:
        return TEST_TEXT["en" if lang == "en" else "pt-BR"]
    reasons = "; ".join(r["message"] for r in alert["reasons"][:3])
    word = severity_word(alert["severity"], lang)
    line = f"{EMOJI.get(alert['severity'], '')} *Vigilante* ({word}) {alert['title']}"
    return f"{line}: {reasons} (#{alert['id']})" if reasons else f"{line} (#{alert['id']})"


def payload(fmt: str, event: str, alert: dict | None, lang: str, created_ms: int) -> str:
    """The JSON body of a delivery in the webhook's format."""
    if fmt == "slack":
        body = {"text": chat_line(alert, lang)}
    elif fmt == "discord":
        body = {"content": chat_line(alert, lang)[:2000]}
    else:
        body = {"type": event, "created_at": iso_ms(created_ms)}
        if alert is None:
            body["message"] = TEST_TEXT["en" if lang == "en" else "pt-BR"]
        else:
            body["alert"] = alert
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    response: str | None
    duration_ms: int


def post(
    client: httpx.Client,
    url: str,
    secret: str,
    body: str,
    *,
    event: str,
    delivery_id: int,
    allow_private: bool,
    timeout: float,
) -> Outcome:
    """One signed POST to the checked address; never raises, says what happened."""
    started = time.monotonic()

    def done(ok: bool, status: int | None, error: str | None, text: str | None = None):
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(ok, status, error, text, elapsed)

    try:
        parsed = _parse(url)
        addresses = resolve_allowed(parsed, allow_private)
    except UnsafeUrl as exc:
        return done(False, None, f"URL refused: {exc}")
    data = body.encode()
    headers = {
        "Host": parsed.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": f"Vigilante-Webhooks/{vigilante.__version__}",
        "Vigilante-Event": event,
        "Vigilante-Delivery": str(delivery_id),
        SIGNATURE_HEADER: sign(secret, int(time.time()), data),
    }
    tls = {"sni_hostname": parsed.raw_host.decode("ascii")} if parsed.scheme == "https" else {}
    error = "no address to connect to"
    for address in addresses:  # in the resolver's order, like any client
        try:
            with client.stream(
                "POST",
                parsed.copy_with(host=address),
                content=data,
                headers=headers,
                timeout=timeout,
                extensions=tls,
            ) as response:
                excerpt = _excerpt(response)
                if 200 <= response.status_code < 300:
                    return done(True, response.status_code, None, excerpt)
                return done(False, response.status_code, f"HTTP {response.status_code}", excerpt)
        except httpx.ConnectError as exc:
            error = f"ConnectError: {exc}"[:300]  # try the next address
        except httpx.TimeoutException:
            return done(False, None, f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return done(False, None, f"{type(exc).__name__}: {exc}"[:300])
    return done(False, None, error)


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    chunk = b""
    for part in response.iter_raw():
        chunk += part
        if len(chunk) >= limit:
            break
    return chunk[:limit].decode("utf-8", "replace")
