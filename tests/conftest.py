"""A fresh data folder, database and app per test; the app is driven through its HTTP API.

Every test that builds an app runs twice: on SQLite and on PostgreSQL, each PostgreSQL test
in a schema of its own (migrated like ``make migrate`` would), dropped afterwards, so parallel
runs on one server never see each other. ``VIGILANTE_TEST_BACKENDS=sqlite`` runs one backend;
without a reachable PostgreSQL the second run is skipped, unless
``VIGILANTE_TEST_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import secrets
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vigilante.api import create_app
from vigilante.config import Settings
from vigilante.migrate import upgrade

PASSWORD = "correct horse battery"

POSTGRES_URL = os.environ.get(
    "VIGILANTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = os.environ.get("VIGILANTE_TEST_BACKENDS", "sqlite,postgresql").split(",")
REQUIRE_POSTGRES = os.environ.get("VIGILANTE_TEST_REQUIRE_POSTGRES", "") not in ("", "0")
SCHEMA_PREFIX = "vt_"
STALE_SCHEMA_SECONDS = 6 * 3600

# live_api, live_api_auth_off, dead_url: a real API in a subprocess, for the client tests.
pytest_plugins = ["tests.live_api"]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes():
    """Argon2id at production cost takes ~0.35 s a hash and every API test logs in: tests need
    hashing to be right, not slow. Servers started as subprocesses keep the real cost."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher
    from pwdlib.hashers.bcrypt import BcryptHasher

    from vigilante import security

    saved = security.password_hash, security.DUMMY_HASH
    cheap = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
    security.password_hash = PasswordHash((cheap, BcryptHasher()))
    security.DUMMY_HASH = security.password_hash.hash(secrets.token_urlsafe(16))
    yield
    security.password_hash, security.DUMMY_HASH = saved


def schema_url(schema: str) -> str:
    """The test server's URL with every connection's search_path set to ``schema``."""
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_admin():
    """An autocommit connection to the test server that creates and drops schemas."""
    engine = create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        conn = engine.connect()
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string()}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (VIGILANTE_TEST_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    # Schemas left behind by killed runs; the creation time is in the name.
    for (name,) in conn.execute(
        text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": SCHEMA_PREFIX + "%"}
    ):
        created = name.split("_")[1]
        if created.isdigit() and time.time() - int(created) > STALE_SCHEMA_SECONDS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    yield conn
    conn.close()
    engine.dispose()


@pytest.fixture
def new_postgres_schema(postgres_admin):
    """``make()`` -> URL of a new, empty schema; all are dropped at teardown."""
    made = []

    def make() -> str:
        schema = f"{SCHEMA_PREFIX}{int(time.time())}_{secrets.token_hex(5)}"
        postgres_admin.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        return schema_url(schema)

    yield make
    for schema in made:
        postgres_admin.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str | None:
    """None: the default SQLite file in the test's data folder; else a migrated PG schema."""
    if request.param == "sqlite":
        return None
    url = request.getfixturevalue("new_postgres_schema")()
    upgrade(url)
    return url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, _env_file=None)


@pytest.fixture
def make_client(tmp_path, database_url):
    """Build an app for given settings overrides; every client is closed at teardown."""
    clients = []

    def make(**overrides) -> TestClient:
        values = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "_env_file": None,
        } | overrides
        client = TestClient(create_app(Settings(**values)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def signup_and_login(client: TestClient, username: str = "ana") -> dict:
    r = client.post("/users", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = client.post("/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def auth(client) -> dict:
    return signup_and_login(client)
