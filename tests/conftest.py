"""A fresh data folder, database and app per test; the app is driven through its HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vigilante.api import create_app
from vigilante.config import Settings

PASSWORD = "correct horse battery"

# live_api, live_api_auth_off, dead_url: a real API in a subprocess, for the client tests.
pytest_plugins = ["tests.live_api"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def make_client(tmp_path):
    """Build an app for given settings overrides; every client is closed at teardown."""
    clients = []

    def make(**overrides) -> TestClient:
        values = {"data_dir": tmp_path / "data", "_env_file": None} | overrides
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
