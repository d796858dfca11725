"""A real API for client tests: uvicorn in a subprocess on a free loopback port, own data folder.

``tests/conftest.py`` registers this module as a plugin, so every test can ask for
``live_api``, ``live_api_auth_off``, ``live_api_usd`` (VIGILANTE_CURRENCY=USD) or ``dead_url``.
``live_api`` is module-scoped (one server per test module, a few seconds to start); tests keep
apart by signing up their own users (``api.new_user()``).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
_users = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**overrides: str) -> dict:
    """The environment minus any VIGILANTE_* of the developer's, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGILANTE_")}
    env.update(overrides)
    return env


@dataclass
class LiveApi:
    data_dir: Path
    auth: str = "on"
    env: dict[str, str] = field(default_factory=dict)  # more VIGILANTE_* settings
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> LiveApi:
        env = clean_env(
            VIGILANTE_DATA_DIR=str(self.data_dir),
            VIGILANTE_DATABASE_URL=f"sqlite:///{self.data_dir / 'vigilante.db'}",
            VIGILANTE_AUTH=self.auth,
            **self.env,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the API did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def new_user(self, prefix: str = "user") -> tuple[str, str]:
        """Sign up a fresh user; returns (username, password)."""
        username = f"{prefix}{next(_users)}"
        r = httpx.post(self.url + "/users", json={"username": username, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return username, PASSWORD

    def token(self, username: str, password: str = PASSWORD) -> dict:
        r = httpx.post(self.url + "/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def events(self, username: str, **params) -> list[dict]:
        r = httpx.get(self.url + "/events", params=params, headers=self.token(username))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    api = LiveApi(tmp_path_factory.mktemp("api-data")).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def live_api_auth_off(tmp_path_factory):
    api = LiveApi(tmp_path_factory.mktemp("api-data-local"), auth="off").start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def live_api_usd(tmp_path_factory):
    """An API whose deployment currency is the US dollar (VIGILANTE_CURRENCY=USD)."""
    data_dir = tmp_path_factory.mktemp("api-data-usd")
    api = LiveApi(data_dir, env={"VIGILANTE_CURRENCY": "USD"}).start()
    yield api
    api.stop()


@pytest.fixture
def dead_url() -> str:
    """An address where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def open_app(monkeypatch):
    """``open_app("dashboard.py", api_url)`` -> a Streamlit AppTest of that script, run once,
    talking to the API at ``api_url``; ``login(at, username)`` fills in and sends the form."""
    from streamlit.testing.v1 import AppTest

    from vigilante.config import get_settings

    def open_(script: str, api_url: str, **env: str) -> AppTest:
        for key in [k for k in os.environ if k.startswith("VIGILANTE_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("VIGILANTE_API_URL", api_url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return AppTest.from_file(str(ROOT / script), default_timeout=60).run()

    yield open_
    get_settings.cache_clear()


def login(at, username: str, password: str = PASSWORD):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()
