import time

import jwt

from tests.conftest import PASSWORD, signup_and_login
from vigilante.security import hash_password


def test_signup_returns_id_and_username_without_hash(client):
    r = client.post("/users", json={"username": "ana", "password": PASSWORD})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "username": "ana"}


def test_taken_username_is_409(client):
    client.post("/users", json={"username": "ana", "password": PASSWORD})
    r = client.post("/users", json={"username": "ana", "password": PASSWORD + "x"})
    assert r.status_code == 409


def test_a_username_is_one_account_whatever_its_case(client):
    assert client.post("/users", json={"username": "Ana", "password": PASSWORD}).status_code == 201
    taken = client.post("/users", json={"username": "ana", "password": PASSWORD + "x"})
    assert taken.status_code == 409
    for typed in ("Ana", "ana", "ANA"):
        r = client.post("/token", data={"username": typed, "password": PASSWORD})
        assert r.status_code == 200, typed


def test_sign_up_waits_for_a_writer_instead_of_failing(client):
    import threading
    import time

    from vigilante.db import write_transaction

    held, release = threading.Event(), threading.Event()

    def writer():
        with write_transaction(client.app.state.ctx.engine):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    r = client.post("/users", json={"username": "cida", "password": PASSWORD})
    thread.join()
    assert r.status_code == 201, r.text  # was a 500 "database is locked" on SQLite
    assert time.monotonic() - started >= 0.25


def test_weak_and_overlong_passwords_are_422_naming_password(client):
    for bad in ["short", "password1", "aaaaaaaaaaaa", "ana-secret-1", "x" * 1000]:
        r = client.post("/users", json={"username": "ana", "password": bad})
        assert r.status_code == 422, bad
        assert r.json()["detail"][0]["field"] == "password"


def test_common_words_with_digits_or_symbols_tacked_on_are_refused_but_real_phrases_pass():
    from vigilante.config import Settings
    from vigilante.security import password_problem

    settings = Settings(_env_file=None)
    for bad in ["password123", "Senha2024!", "admin@2026", "qwerty12345", "Brasil#10"]:
        assert password_problem(bad, "ana", settings) == "is one of the most common passwords"
    for good in ["correct horse battery", "passwordless-tea-42", "4829173650192837"]:
        assert password_problem(good, "ana", settings) is None


def test_login_gives_bearer_token_with_expiry(client):
    client.post("/users", json={"username": "ana", "password": PASSWORD})
    r = client.post("/token", data={"username": "ana", "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600


def test_bad_password_and_unknown_user_get_the_same_401(client):
    client.post("/users", json={"username": "ana", "password": PASSWORD})
    wrong = client.post("/token", data={"username": "ana", "password": "nope-nope-nope"})
    unknown = client.post("/token", data={"username": "bia", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_endpoints_need_a_token(client):
    for method, path in [("get", "/events"), ("get", "/stats"), ("post", "/event")]:
        assert getattr(client, method)(path).status_code == 401


def test_expired_and_forged_tokens_are_401(client):
    auth = signup_and_login(client)
    assert client.get("/events", headers=auth).status_code == 200
    key = client.app.state.ctx.secret_key
    now = int(time.time())
    expired = jwt.encode({"sub": "1", "iat": now - 7200, "exp": now - 3600}, key, "HS256")
    forged = jwt.encode({"sub": "1", "iat": now, "exp": now + 60}, b"x" * 48, "HS256")
    said = {}
    for token in [expired, forged, "not-a-token"]:
        for path in ("/events", "/event"):  # (the ingest fast path answers alike)
            call = client.get if path == "/events" else client.post
            r = call(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
            said[token, path] = (r.json()["detail"], r.headers["www-authenticate"])
    # An expired token is said to be one (RFC 6750's invalid_token), so a client logs in again.
    assert said[expired, "/events"] == (
        "the token expired: log in again at POST /token",
        'Bearer error="invalid_token", error_description="expired"',
    )
    assert said[forged, "/events"][1] == said["not-a-token", "/events"][1]
    assert said[forged, "/events"][1] == 'Bearer error="invalid_token"'
    assert all(said[t, "/event"] == said[t, "/events"] for t in (expired, forged))
    missing = client.get("/events")
    assert missing.headers["www-authenticate"] == "Bearer"


def test_token_lifetime_comes_from_settings(make_client):
    client = make_client(token_minutes=5)
    client.post("/users", json={"username": "ana", "password": PASSWORD})
    r = client.post("/token", data={"username": "ana", "password": PASSWORD})
    assert r.json()["expires_in"] == 300


def test_old_bcrypt_hash_logs_in_and_is_upgraded_to_argon2(client):
    import bcrypt
    from sqlalchemy import insert, select

    from vigilante.tables import users

    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    engine = client.app.state.ctx.engine
    with engine.begin() as conn:
        conn.execute(insert(users).values(username="old", password_hash=legacy, created_ms=0))
    r = client.post("/token", data={"username": "old", "password": PASSWORD})
    assert r.status_code == 200
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.username == "old"))
        assert stored.scalar().startswith("$argon2id$")


def test_passwords_hash_with_argon2id():
    assert hash_password("correct horse battery").startswith("$argon2id$")


def test_auth_off_needs_no_login(make_client):
    client = make_client(auth="off")
    r = client.post("/event", json={"amount": 10, "category": "café"})
    assert r.status_code == 201
    assert len(client.get("/events").json()) == 1
