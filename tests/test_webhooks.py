"""Webhooks against a local receiver: signatures, retries with backoff, disabling after repeated
failures, the test button, chat formats, refused URLs, and ingestion that never waits."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.alert_helpers import Receiver, alert_client, receiver, run_worker, user  # noqa: F401
from vigilante.alerts.webhooks import post, verify

T0 = 1_800_000_000_000  # a fixed "now" for the retry schedule


def duplicate_pair(app, auth, merchant="Bar do Zé", minute=0) -> None:
    """Two equal charges two minutes apart: the second is a (high) anomaly."""
    batch = [
        {"amount": 42.5, "category": "café", "merchant": merchant,
         "occurred_at": f"2026-03-02T10:{m:02d}:00-03:00"}
        for m in (minute, minute + 2)
    ]  # fmt: skip
    assert app.post("/events", json=batch, headers=auth).status_code == 201


def documented_verify():
    """The verification snippet of docs/alerts.md, run as written."""
    doc = (Path(__file__).parent.parent / "docs" / "alerts.md").read_text()
    snippet = next(b for b in doc.split("```python")[1:] if "def verify" in b).split("```")[0]
    scope: dict = {}
    exec(snippet, scope)
    return scope["verify"]


def add_hook(app, auth, url, **body) -> dict:
    r = app.post("/webhooks", json={"url": url, "min_severity": "low", **body}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def deliveries(app, auth, hook_id) -> list[dict]:
    return app.get(f"/webhooks/{hook_id}/deliveries", headers=auth).json()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1"),
        ("http://localhost/hook", "loopback, private or reserved"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("http://192.168.0.10/", "192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::1]:8080/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "VIGILANTE_WEBHOOK_ALLOW_PRIVATE"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("ftp://example.com/hook", "https://"),
        ("file:///etc/passwd", "https://"),
        ("https://user:secret@example.com/", "user name or password"),
        ("not a url", "https://"),
    ],
)
def test_urls_that_could_reach_inside_the_network_are_refused(make_client, url, words):
    app = alert_client(make_client, webhook_allow_private=False)
    auth = user(app)
    r = app.post("/webhooks", json={"url": url}, headers=auth)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["field"] == "url" and words in problem["message"]
    assert app.get("/webhooks", headers=auth).json() == []


def test_the_secret_is_shown_once(make_client, receiver):  # noqa: F811
    app = alert_client(make_client)
    auth = user(app)
    created = add_hook(app, auth, receiver.url, description="Meu servidor")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["enabled"] is True and created["format"] == "vigilante"
    assert "secret" not in app.get(f"/webhooks/{created['id']}", headers=auth).json()
    assert all("secret" not in h for h in app.get("/webhooks", headers=auth).json())


def test_each_alert_is_posted_signed_with_the_webhooks_secret(make_client, receiver):  # noqa: F811
    app = alert_client(make_client)
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    duplicate_pair(app, auth)
    run_worker(app)

    (got,) = receiver.received
    header = got.headers["Vigilante-Signature"]
    assert verify(hook["secret"], header, got.body)
    assert documented_verify()(hook["secret"], header, got.body)
    t = header.split(",")[0].removeprefix("t=")
    assert abs(int(t) - time.time()) < 300
    assert not verify("whsec_wrong", header, got.body)
    assert not verify(hook["secret"], header, got.body.replace(b"42.5", b"4.25"))
    assert not verify(hook["secret"], header, got.body, now_s=int(t) + 301)  # replayed later

    assert got.headers["Vigilante-Event"] == "alert.created"
    assert got.headers["Content-Type"] == "application/json"
    body = got.json()
    assert body["type"] == "alert.created"
    alert = app.get(f"/alerts/{body['alert']['id']}", headers=auth).json()
    assert body["alert"] == alert
    (delivery,) = deliveries(app, auth, hook["id"])
    assert got.headers["Vigilante-Delivery"] == str(delivery["id"])
    assert delivery["state"] == "delivered" and delivery["alert_id"] == alert["id"]
    assert delivery["attempt_log"][0]["status_code"] == 200


def test_only_alerts_at_or_above_the_webhooks_severity_are_sent(make_client, receiver):  # noqa: F811
    app = alert_client(make_client)
    auth = user(app)
    add_hook(app, auth, receiver.url, min_severity="high")
    rule = {"name": "baixo", "kind": "amount_over", "amount": 1, "severity": "low"}
    app.post("/rules", json=rule, headers=auth)
    app.post("/event", json={"amount": 5, "category": "café"}, headers=auth)
    run_worker(app)
    assert app.get("/alerts", params={"source": "rule"}, headers=auth).json()
    assert receiver.received == []


def test_failures_are_retried_with_exponential_backoff(make_client, receiver):  # noqa: F811
    app = alert_client(make_client, webhook_retry_base_seconds=30)
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    receiver.statuses = [500, 503]
    duplicate_pair(app, auth)

    run_worker(app, T0)
    (d,) = deliveries(app, auth, hook["id"])
    assert d["state"] == "pending" and d["attempts"] == 1 and d["last_status"] == 500
    assert d["next_attempt_at"] == "2027-01-15T08:00:30Z"  # T0 + 30 s
    assert run_worker(app, T0 + 29_000)["attempts"] == 0  # not yet due
    run_worker(app, T0 + 30_000)
    (d,) = deliveries(app, auth, hook["id"])
    assert d["attempts"] == 2 and d["next_attempt_at"] == "2027-01-15T08:01:30Z"  # + 60 s
    run_worker(app, T0 + 90_000)
    (d,) = deliveries(app, auth, hook["id"])
    assert d["state"] == "delivered"
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 503, 200]
    assert len({r.body for r in receiver.received}) == 1  # the same body every time
    assert {r.headers["Vigilante-Delivery"] for r in receiver.received} == {str(d["id"])}
    assert app.get(f"/webhooks/{hook['id']}", headers=auth).json()["consecutive_failures"] == 0


def test_retrying_stops_after_the_retry_window(make_client, receiver):  # noqa: F811
    app = alert_client(make_client, webhook_retry_base_seconds=30, webhook_retry_hours=0.02)
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    receiver.statuses = [500] * 10
    duplicate_pair(app, auth)
    run_worker(app, T0)
    run_worker(app, T0 + 30_000)  # the next wait (60 s) would end past 72 s: give up
    (d,) = deliveries(app, auth, hook["id"])
    assert d["state"] == "failed" and d["attempts"] == 2
    assert d["last_error"] == "gave up after 2 attempts: HTTP 500"
    assert run_worker(app, T0 + 3_600_000)["attempts"] == 0


def test_an_endpoint_failing_again_and_again_is_disabled_with_the_reason(make_client, receiver):  # noqa: F811
    app = alert_client(make_client, webhook_retry_base_seconds=0, webhook_disable_after=3)
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    receiver.statuses = [500] * 10
    duplicate_pair(app, auth, merchant="A")
    for _ in range(3):
        run_worker(app)
    now = app.get(f"/webhooks/{hook['id']}", headers=auth).json()
    assert now["enabled"] is False
    assert "after 3 failed deliveries in a row" in now["disabled_reason"]
    assert "HTTP 500" in now["disabled_reason"]
    assert len(receiver.received) == 3
    assert {d["state"] for d in deliveries(app, auth, hook["id"])} == {"failed"}

    duplicate_pair(app, auth, merchant="B", minute=30)  # nothing goes to a disabled webhook
    run_worker(app)
    assert len(receiver.received) == 3

    again = app.patch(f"/webhooks/{hook['id']}", json={"enabled": True}, headers=auth).json()
    assert again["enabled"] is True and again["disabled_reason"] is None
    assert again["consecutive_failures"] == 0


def test_send_test_says_what_the_endpoint_answered(make_client, receiver):  # noqa: F811
    app = alert_client(make_client)
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    r = app.post(f"/webhooks/{hook['id']}/test", headers=auth)
    assert r.status_code == 200
    assert r.json()["delivered"] is True and r.json()["status_code"] == 200
    (got,) = receiver.received
    assert got.json()["type"] == "test" and verify(hook["secret"], got.headers[
        "Vigilante-Signature"], got.body)  # fmt: skip

    receiver.statuses = [500]
    failed = app.post(f"/webhooks/{hook['id']}/test", headers=auth).json()
    assert failed == failed | {"delivered": False, "status_code": 500, "error": "HTTP 500"}
    log = deliveries(app, auth, hook["id"])
    assert [(d["event"], d["state"]) for d in log] == [("test", "failed"), ("test", "delivered")]
    assert run_worker(app)["attempts"] == 0  # a failed test is not retried
    assert app.get(f"/webhooks/{hook['id']}", headers=auth).json()["consecutive_failures"] == 0

    bia = user(app, "bia")
    assert app.post(f"/webhooks/{hook['id']}/test", headers=bia).status_code == 404
    assert app.get(f"/webhooks/{hook['id']}/deliveries", headers=bia).status_code == 404
    assert app.delete(f"/webhooks/{hook['id']}", headers=bia).status_code == 404


@pytest.mark.parametrize(("fmt", "field"), [("slack", "text"), ("discord", "content")])
def test_slack_and_discord_get_a_message_they_can_show(make_client, receiver, fmt, field):  # noqa: F811
    app = alert_client(make_client)
    auth = user(app)
    add_hook(app, auth, receiver.url, format=fmt)
    duplicate_pair(app, auth)
    run_worker(app)
    (got,) = receiver.received
    body = got.json()
    assert list(body) == [field]
    assert "Despesa suspeita em Bar do Zé" in body[field]
    assert "mesmo valor em Bar do Zé há 2 min" in body[field]


def test_the_url_is_checked_again_when_sending(make_client, receiver):  # noqa: F811
    lenient = alert_client(make_client)
    auth = user(lenient)
    hook = add_hook(lenient, auth, receiver.url)
    strict = alert_client(make_client, webhook_allow_private=False)
    duplicate_pair(strict, auth)
    run_worker(strict)
    assert receiver.received == []
    (d,) = deliveries(strict, auth, hook["id"])
    assert d["last_error"].startswith("URL refused: resolves to 127.0.0.1")


def test_ingestion_does_not_wait_for_a_hanging_webhook(make_client, receiver):  # noqa: F811
    app = alert_client(
        make_client, alerts_worker="on", alerts_poll_seconds=0.05, webhook_timeout_seconds=60
    )
    auth = user(app)
    hook = add_hook(app, auth, receiver.url)
    receiver.hang()
    try:
        duplicate_pair(app, auth)
        assert receiver.arrived.wait(20), "the worker never sent the alert"
        # The endpoint now holds the delivery open; ingestion goes on regardless.
        stored = []
        for i in range(20):
            body = {"amount": 10 + i, "category": "mercado", "merchant": f"Loja {i}"}
            r = app.post("/event", json=body, headers=auth)
            assert r.status_code == 201
            stored.append(r.json()["id"])
        assert not receiver.release.is_set()
        first = deliveries(app, auth, hook["id"])[-1]
        assert (first["state"], first["attempts"]) == ("pending", 0)  # in flight all along
        assert len(app.get("/events", params={"limit": 100}, headers=auth).json()) == 22
    finally:
        receiver.release.set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if deliveries(app, auth, hook["id"])[-1]["state"] == "delivered":
            break
        time.sleep(0.05)
    assert deliveries(app, auth, hook["id"])[-1]["state"] == "delivered"


def test_https_goes_to_the_checked_address_and_verifies_the_name(tmp_path):
    """The request is pinned to the resolved address; TLS still checks the URL's host name."""
    openssl = shutil.which("openssl") or pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    https = Receiver().start(tls=server_tls)
    port = https.server.server_address[1]
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(cert)))
    try:
        send = partial(post, client, secret="whsec_x", body="{}", event="test", delivery_id=1,
                       allow_private=True, timeout=5)  # fmt: skip
        ok = send(f"https://localhost:{port}/hook")
        assert ok.ok, ok.error
        assert https.received[0].headers["Host"] == f"localhost:{port}"
        wrong_name = send(f"https://127.0.0.1:{port}/hook")  # the certificate is for localhost
        assert not wrong_name.ok and "certificate" in wrong_name.error.lower()
    finally:
        client.close()
        https.stop()
