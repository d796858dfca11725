"""Attackers reach nothing: other users' rows, server-owned fields, forged tokens, long passwords.

Items 1, 2, 3, 5, 11 and 12 of issue 6 (see docs/reliability.md).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from tests.conftest import PASSWORD, signup_and_login
from vigilante.api import create_app
from vigilante.config import Settings
from vigilante.security import InsecureSecretKey
from vigilante.tables import expenses, users

EXPENSE = {
    "amount": 42.5,
    "category": "alimentação",
    "merchant": "Padaria",
    "account": "cartão-1",
    "external_id": "bank-1",
    "occurred_at": "2026-03-02T12:30:00-03:00",
}
MAX_ID = 2**63 - 1


def _rows(client, **where) -> list:
    with client.app.state.ctx.engine.connect() as conn:
        q = select(expenses)
        for name, value in where.items():
            q = q.where(expenses.c[name] == value)
        return conn.execute(q).mappings().all()


# --- 1. object-level authorization --------------------------------------------------------


def test_every_id_and_filter_of_another_user_gives_404_or_nothing(client):
    ana = signup_and_login(client, "ana")
    bia = signup_and_login(client, "bia")
    key = {"Idempotency-Key": "ana-key-1"}
    mine = client.post("/event", json=EXPENSE, headers=ana | key).json()
    batch = client.post("/events", json=[dict(EXPENSE, external_id=None)] * 3, headers=ana).json()
    ana_ids = [mine["id"]] + [e["id"] for e in batch]

    for expense_id in ana_ids:
        assert client.get(f"/events/{expense_id}", headers=bia).status_code == 404
        r = client.post(f"/events/{expense_id}/feedback", json={"label": "fraud"}, headers=bia)
        assert r.status_code == 404
    assert all(row["feedback"] is None for row in _rows(client))  # nothing changed

    foreign = 0
    for params in [
        {},
        {"after_id": 0},
        {"before_id": MAX_ID},
        {"category": EXPENSE["category"]},
        {"account": EXPENSE["account"]},
        {"anomalies_only": "true"},
        {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        {"limit": 1000},
    ]:
        r = client.get("/events", params=params, headers=bia)
        assert r.status_code == 200
        foreign += len(r.json())
    assert foreign == 0
    stats = client.get("/stats", params={"from": "2026-01-01T00:00:00Z"}, headers=bia).json()
    assert stats["count"] == 0 and stats["total"] == 0 and stats["by_category"] == []

    # Ana's external id and idempotency key mean nothing in Bia's account: a new expense.
    theirs = client.post("/event", json=EXPENSE, headers=bia | key)
    assert theirs.status_code == 201
    assert theirs.json()["id"] not in ana_ids
    assert len(_rows(client, external_id="bank-1")) == 2
    # ...and Ana still sees only her own.
    assert sorted(e["id"] for e in client.get("/events", headers=ana).json()) == sorted(ana_ids)


# --- 2. no mass assignment ----------------------------------------------------------------


SERVER_OWNED = {
    "id": 999,
    "user_id": 2,
    "score": 0.0,
    "is_anomaly": False,
    "severity": "none",
    "received_at": "2020-01-01T00:00:00Z",
    "model_version": "evil",
    "reasons": [],
    "feedback": "legit",
    "features": "AAAA",
}


def test_server_owned_fields_cannot_be_set(client):
    ana = signup_and_login(client, "ana")
    signup_and_login(client, "bia")
    created = client.post("/event", json=EXPENSE, headers=ana).json()
    for field, value in SERVER_OWNED.items():
        body = dict(EXPENSE, external_id=None, **{field: value})
        for path, sent in [("/event", body), ("/events", [body])]:
            r = client.post(path, json=sent, headers=ana)
            assert r.status_code == 422, field
            assert any(e["field"].endswith(field) for e in r.json()["detail"])
        r = client.post(
            f"/events/{created['id']}/feedback", json={"label": "legit", field: value}, headers=ana
        )
        assert r.status_code == 422
    assert len(_rows(client)) == 1
    assert client.get(f"/events/{created['id']}", headers=ana).json() == created


def test_signup_cannot_set_id_or_hash_and_no_response_carries_a_hash(client):
    for extra in [{"id": 7}, {"password_hash": "$argon2id$x"}, {"alert_rate": 0.5}]:
        body = {"username": "eve", "password": PASSWORD} | extra
        assert client.post("/users", json=body).status_code == 422
    auth = signup_and_login(client, "ana")
    created = client.post("/event", json=EXPENSE, headers=auth).json()
    answers = [
        client.post("/users", json={"username": "bia", "password": PASSWORD}),
        client.post("/users", json={"username": "bia", "password": PASSWORD}),
        client.post("/token", data={"username": "ana", "password": PASSWORD}),
        client.post("/token", data={"username": "ana", "password": "wrong-wrong"}),
        client.get("/events", headers=auth),
        client.get(f"/events/{created['id']}", headers=auth),
        client.get("/stats", headers=auth),
        client.get("/model", headers=auth),
        client.get("/health"),
    ]
    for r in answers:
        assert "argon2" not in r.text and "$2b$" not in r.text
        assert "password" not in json.dumps(r.json()).replace("username or password", "")


# --- 3. tokens ----------------------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_every_kind_of_bad_token_is_401(client):
    auth = signup_and_login(client, "ana")
    key = client.app.state.ctx.secret_key
    now = int(time.time())
    good = auth["Authorization"].removeprefix("Bearer ")
    head, body, sig = good.split(".")
    claims = {"sub": "1", "iat": now, "exp": now + 600}
    tampered_body = _b64(dict(claims, sub="2"))
    tokens = {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "alg none, no signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong key": jwt.encode(claims, b"k" * 48, algorithm="HS256"),
        "other HMAC alg, same key": jwt.encode(claims, key, algorithm="HS512"),
        "expired": jwt.encode(dict(claims, exp=now - 60), key, algorithm="HS256"),
        "tampered payload": f"{head}.{tampered_body}.{sig}",
        "tampered signature": f"{head}.{body}.{sig[:-4]}AAAA",
        "missing exp": jwt.encode({"sub": "1", "iat": now}, key, algorithm="HS256"),
        "missing sub": jwt.encode({"iat": now, "exp": now + 600}, key, algorithm="HS256"),
        "missing iat": jwt.encode({"sub": "1", "exp": now + 600}, key, algorithm="HS256"),
        "sub not a number": jwt.encode(dict(claims, sub="ana"), key, algorithm="HS256"),
        "sub of nobody": jwt.encode(dict(claims, sub="999"), key, algorithm="HS256"),
        "sub huge": jwt.encode(dict(claims, sub=str(2**70)), key, algorithm="HS256"),
        "malformed": "not-a-token",
        "empty parts": "..",
        "garbage bytes": "ey" + "\u00e9" * 10,
    }
    for name, token in tokens.items():
        header = f"Bearer {token}".encode("latin-1")
        r = client.get("/events", headers={"Authorization": header})
        assert r.status_code == 401, name
        expected = 'Bearer error="invalid_token"'
        if name == "expired":  # ours, signed with our key: only then is it said to be expired
            expected += ', error_description="expired"'
        assert r.headers["www-authenticate"] == expected, name
    for header in [None, "", "Bearer", "Bearer ", f"Basic {good}", f"bearer{good}", good]:
        headers = {} if header is None else {"Authorization": header}
        assert client.get("/events", headers=headers).status_code == 401, header
    assert client.get("/events", headers=auth).status_code == 200


def test_short_or_placeholder_secret_stops_the_api(tmp_path):
    for secret in ["short", "changeme", "x" * 31]:
        with pytest.raises(InsecureSecretKey):
            create_app(Settings(data_dir=tmp_path, secret_key=secret, _env_file=None))
    create_app(Settings(data_dir=tmp_path, secret_key="s" * 32, _env_file=None))


def test_generated_secret_is_long_and_private(client, settings):
    path = client.app.state.ctx.settings.data_dir / "secret_key"
    assert len(path.read_bytes().strip()) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# --- 5. passwords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "a1b2c3d4" * 9,  # 72 bytes
        "a1b2c3d4" * 9 + "z",  # 73 bytes
        "çãõé-senha-日本語-🔑",  # non-ASCII
        "abcdefgh" * 8 + "1234567ç",  # a two-byte character across bcrypt's 72-byte edge
        "tab\tand\x00nul inside",
    ],
)
def test_long_and_non_ascii_passwords_sign_up_and_log_in(client, password):
    r = client.post("/users", json={"username": "ana", "password": password})
    assert r.status_code == 201, r.text
    r = client.post("/token", data={"username": "ana", "password": password})
    assert r.status_code == 200
    # bcrypt would have accepted this one (it only sees 72 bytes); Argon2 does not.
    near_miss = password[:-1] + ("y" if password[-1] != "y" else "z")
    assert client.post("/token", data={"username": "ana", "password": near_miss}).status_code == 401


def test_over_long_and_odd_passwords_never_500(make_client):
    client = make_client(login_max_failures=100, login_delay_ms=0)
    assert client.post("/users", json={"username": "ana", "password": PASSWORD}).status_code == 201
    for password in ["é" * 1000, "x" * 1000, "x" * 5000, "\\ud800abcdefgh"]:
        raw = '{"username": "bia", "password": "' + password + '"}'
        r = client.post(
            "/users", content=raw.encode(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 422, password[:10]
        assert r.json()["detail"][0]["field"] == "password"
    for raw in [
        {"username": "ana", "password": "x" * 1000},
        {"username": "ana", "password": "é" * 1000},
        {"username": "ana", "password": "x" * 100_000},
        {"username": "a\x00b", "password": PASSWORD},
        {"username": "x" * 10_000, "password": PASSWORD},
        {"username": "ana", "password": ""},
    ]:
        assert client.post("/token", data=raw).status_code in (401, 422)
    # Invalid UTF-8 in the form itself.
    r = client.post(
        "/token",
        content=b"username=ana&password=%FF%FE%80",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (401, 422)
    assert client.post("/token", data={"username": "ana", "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("password", ["b" * 72 + "ignored by bcrypt", "x" * 71 + "çã-more"])
def test_old_bcrypt_hashes_of_long_passwords_still_log_in(client, password):
    import bcrypt

    # passlib fed bcrypt the first 72 bytes, even mid-character.
    legacy = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    with client.app.state.ctx.engine.begin() as conn:
        conn.execute(insert(users).values(username="old", password_hash=legacy, created_ms=0))
    assert client.post("/token", data={"username": "old", "password": password}).status_code == 200
    with client.app.state.ctx.engine.connect() as conn:
        upgraded = conn.execute(select(users.c.password_hash)).scalar()
    assert upgraded.startswith("$argon2id$")
    assert client.post("/token", data={"username": "old", "password": password}).status_code == 200


# --- 11. resource limits -----------------------------------------------------------------


def test_page_batch_stats_and_body_are_bounded(make_client):
    client = make_client(max_page=50, max_batch=20, max_stats_days=400, max_body_bytes=4096)
    auth = signup_and_login(client)
    client.post(
        "/events", json=[{"amount": i + 1, "category": "c"} for i in range(20)], headers=auth
    )
    assert len(client.get("/events?limit=1000", headers=auth).json()) == 20
    assert client.get("/events?limit=1001", headers=auth).status_code == 422
    assert client.get("/events?limit=0", headers=auth).status_code == 422
    r = client.post("/events", json=[{"amount": 1, "category": "c"}] * 21, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
    long_range = {"from": "2020-01-01T00:00:00Z", "to": "2021-03-01T00:00:00Z"}
    r = client.get("/stats", params=long_range, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "from"
    big = [{"amount": 1, "category": "c" * 60}] * 60
    assert client.post("/events", json=big, headers=auth).status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        yield b"["
        for _ in range(300):  # ~9 KB in all
            yield b'{"amount": 1, "category": "c"},'
        yield b'{"amount": 1, "category": "c"}]'

    r = client.post(
        "/events", content=chunks(), headers=auth | {"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json() == {"detail": "request body too large"}
    assert client.get("/events?limit=1000", headers=auth).json()[0]["amount"] == 20


def test_page_size_setting_caps_the_answer(make_client):
    client = make_client(max_page=5)
    auth = signup_and_login(client)
    client.post(
        "/events", json=[{"amount": i + 1, "category": "c"} for i in range(8)], headers=auth
    )
    assert len(client.get("/events?limit=1000", headers=auth).json()) == 5


# --- 12. headers, origins, no stack traces ------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_security_headers_on_every_kind_of_answer(make_client):
    client = make_client(max_body_bytes=2048)
    auth = signup_and_login(client)

    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    client.app.add_api_route("/boom", boom)
    raw = TestClient(client.app, raise_server_exceptions=False)
    answers = {
        200: client.get("/events", headers=auth),
        201: client.post("/event", json={"amount": 1, "category": "c"}, headers=auth),
        401: client.get("/events"),
        404: client.get("/events/12345", headers=auth),
        405: client.delete("/events"),
        413: client.post("/event", content=b"x" * 4096, headers=auth),
        422: client.post("/event", json={}, headers=auth),
        500: raw.get("/boom"),
    }
    for status, r in answers.items():
        assert r.status_code == status
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (status, name)
        assert "default-src 'none'" in r.headers["content-security-policy"]
    boom_body = answers[500]
    assert boom_body.json() == {"detail": "internal error"}
    assert "Traceback" not in boom_body.text and "passwd" not in boom_body.text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_cors_only_for_configured_origins(make_client):
    client = make_client(cors_origins=["http://localhost:8501"])
    auth = signup_and_login(client)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
    }
    ok = client.options("/event", headers=preflight | {"Origin": "http://localhost:8501"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://localhost:8501"
    assert "access-control-allow-credentials" not in ok.headers
    evil = client.options("/event", headers=preflight | {"Origin": "https://evil.example"})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    r = client.get("/events", headers=auth | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/events", headers=auth | {"Origin": "http://localhost:8501"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:8501"


def test_default_origins_are_the_two_streamlit_apps(settings):
    assert {o.rsplit(":", 1)[1] for o in settings.cors_origins} == {"8501", "8502"}
    assert all(
        o.startswith(("http://localhost:", "http://127.0.0.1:")) for o in settings.cors_origins
    )


def test_a_token_verified_before_still_expires_on_time(monkeypatch):
    from vigilante import security

    key = b"k" * 48
    tokens = security.VerifiedTokens(key, size=2)
    token, _ = security.create_access_token(7, key, minutes=1)
    assert tokens.user_id(token) == 7
    assert tokens.user_id(token) == 7  # the second use is answered from what was verified
    others = [security.create_access_token(i, key, minutes=5)[0] for i in (8, 9)]
    assert [tokens.user_id(t) for t in others] == [8, 9]  # the first one was let go...
    assert tokens.user_id(token) == 7  # ...and is verified again, not refused
    forged = security.create_access_token(7, b"x" * 48, minutes=5)[0]
    assert tokens.user_id(forged) is None
    assert tokens.user_id(forged) is None  # a refusal is never remembered as a pass
    real = security.time.time
    monkeypatch.setattr(security.time, "time", lambda: real() + 61)
    assert tokens.user_id(token) is None
    assert tokens.user_id(others[0]) == 8


def test_an_unexpected_error_on_the_ingest_fast_path_is_the_apps_own_500(make_client):
    """POST /event is answered in front of FastAPI's middleware (vigilante.api.fastpath): an
    error nothing handles still gets the app's 500 (no internals, the security headers), and
    still reaches the server's log as an error."""
    client = make_client()
    auth = signup_and_login(client)
    # The first request checks the user through FastAPI's route; later ones take the fast path.
    assert client.post("/event", json={"amount": 9, "category": "mercado"}, headers=auth).is_success

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    client.app.state.ctx.ingestor.ingest_async = broken
    raw = TestClient(client.app, raise_server_exceptions=False)
    r = raw.post("/event", json={"amount": 12.5, "category": "mercado"}, headers=auth)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "passwd" not in r.text
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name
    with pytest.raises(RuntimeError, match="secret internals"):  # raised on to the server
        client.post("/event", json={"amount": 12.5, "category": "mercado"}, headers=auth)


def test_the_database_file_is_readable_by_its_owner_only(tmp_path):
    """It holds password hashes and every expense: created 0600 (its -wal too), and an older
    database left readable by others is tightened when the API opens it."""
    from sqlalchemy import text

    from vigilante.db import engine_for_url

    fresh = tmp_path / "new" / "vigilante.db"
    engine = engine_for_url(f"sqlite:///{fresh}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new" / "vigilante.db-wal").stat().st_mode & 0o777 == 0o600
    assert fresh.parent.stat().st_mode & 0o777 == 0o700
    engine.dispose()
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    old.chmod(0o644)
    engine_for_url(f"sqlite:///{old}").dispose()
    assert old.stat().st_mode & 0o777 == 0o600


def test_the_default_stats_window_fits_a_30_day_limit(make_client):
    """With VIGILANTE_MAX_STATS_DAYS=30, the default "last 30 days" (and the day ahead that
    ingest accepts) is answered, not refused as a range over the limit."""
    client = make_client(max_stats_days=30)
    auth = signup_and_login(client)
    assert client.get("/stats", headers=auth).status_code == 200
    assert client.get("/feedback/stats", headers=auth).status_code == 200
    # The dashboard's own request: from the start of its window, no ``to``.
    since = (datetime.now(UTC) - timedelta(days=29, hours=23)).isoformat()
    assert client.get("/stats", params={"from": since}, headers=auth).status_code == 200
    wide = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    assert client.get("/stats", params=wide, headers=auth).status_code == 422


def test_a_relative_data_folder_is_the_projects_wherever_a_process_starts(tmp_path, monkeypatch):
    """``VIGILANTE_DATA_DIR=data`` (as .env.example has it) from another folder still finds
    the project's database, as the default does, not a new one beside the current folder."""
    from vigilante.config import PROJECT_ROOT

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIGILANTE_DATA_DIR", "data")
    settings = Settings(_env_file=None)
    assert settings.data_dir == PROJECT_ROOT / "data"
    assert settings.sqlalchemy_url == f"sqlite:///{PROJECT_ROOT / 'data' / 'vigilante.db'}"
    assert Settings(data_dir=tmp_path / "x", _env_file=None).data_dir == tmp_path / "x"


def test_a_relative_sqlite_url_is_the_projects_and_uris_are_left_alone(tmp_path, monkeypatch):
    """``sqlite:///data/vigilante.db`` (the README's default, written out) from another folder
    is the project's database; a ``file:`` URI makes no stray file, nor a dangling symlink a
    database others can read."""
    from vigilante.config import PROJECT_ROOT
    from vigilante.db import engine_for_url

    monkeypatch.chdir(tmp_path)
    relative = Settings(database_url="sqlite:///data/vigilante.db", _env_file=None)
    assert relative.sqlalchemy_url == f"sqlite:///{PROJECT_ROOT / 'data' / 'vigilante.db'}"
    memory = "sqlite:///file::memory:?cache=shared&uri=true"
    assert Settings(database_url=memory, _env_file=None).sqlalchemy_url == memory
    engine_for_url(memory).dispose()
    assert list(tmp_path.iterdir()) == []  # no file named "file::memory:"
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "target.db")
    engine_for_url(f"sqlite:///{link}").dispose()
    assert (tmp_path / "target.db").stat().st_mode & 0o777 == 0o600
