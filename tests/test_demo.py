"""demo.py against a real API: what it stores, and that retries never store twice."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.live_api import PASSWORD, ROOT, clean_env
from vigilante.client import read_demo_credentials, write_demo_credentials


def run_demo(url: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "demo.py", "--url", url, "--interval", "0", "--seed", "7", *args],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


class FlakyProxy(ThreadingHTTPServer):
    """Forwards to the API; for the POST /event calls numbered in ``fail``, the API does store
    the expense but the answer is lost: a 502 for odd numbers, a dropped connection for even."""

    def __init__(self, upstream: str, fail: set[int]):
        self.upstream, self.fail, self.posts, self.failed = upstream, fail, 0, 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _forward(self):
        server: FlakyProxy = self.server
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        answer = httpx.request(
            self.command, server.upstream + self.path, content=body, headers=headers
        )
        lose = None
        if self.command == "POST" and self.path.startswith("/event") and "?" not in self.path:
            with server.lock:
                server.posts += 1
                if server.posts in server.fail:
                    server.failed += 1
                    lose = "502" if server.posts % 2 else "drop"
        if lose == "drop":
            self.close_connection = True
            return
        status = 502 if lose == "502" else answer.status_code
        self.send_response(status)
        content = b'{"detail":"bad gateway"}' if lose else answer.content
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _forward


@pytest.fixture
def flaky(live_api):
    proxy = FlakyProxy(live_api.url, fail={3, 8})
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_twenty_expenses_stored_once_each_despite_lost_answers(live_api, flaky):
    result = run_demo(
        flaky.url,
        *("--count", "20", "--history-days", "0", "--accounts", "3"),
        *("--username", "demo-retry", "--password", PASSWORD),
    )
    assert result.returncode == 0, result.stderr
    assert flaky.failed == 2
    stored = live_api.events("demo-retry", limit=100)
    assert len(stored) == 20
    lines = [ln for ln in result.stdout.splitlines() if "R$" in ln]
    assert len(lines) == 20
    assert "20 despesas enviadas" in result.stdout
    assert "retry" in result.stdout


def test_backfills_an_empty_account_once_and_prints_verdicts_in_english(live_api):
    args = ("--count", "3", "--history-days", "3", "--accounts", "2", "--lang", "en")
    login = ("--username", "demo-backfill", "--password", PASSWORD)
    first = run_demo(live_api.url, *args, *login)
    assert first.returncode == 0, first.stderr
    backfilled = len(live_api.events("demo-backfill", limit=1000)) - 3
    assert backfilled > 0
    assert f"{backfilled} expenses of history (3 days) sent first" in first.stdout
    assert "3 expenses sent" in first.stdout
    second = run_demo(live_api.url, *args, *login)
    assert "history" not in second.stdout.splitlines()[1]
    assert len(live_api.events("demo-backfill", limit=1000)) == backfilled + 6


def test_uses_the_demo_account_from_the_data_folder(live_api, tmp_path):
    username, password = live_api.new_user("demo")
    path = write_demo_credentials(username, password, tmp_path / "demo_credentials.json")
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_demo_credentials(path) == (username, password)
    env = clean_env(VIGILANTE_DATA_DIR=str(tmp_path))
    result = run_demo(live_api.url, "--count", "1", "--history-days", "0", env=env)
    assert result.returncode == 0, result.stderr
    assert len(live_api.events(username)) == 1


def test_wrong_password_and_no_login_are_explained(live_api, tmp_path):
    """In the demo's language (pt-BR by default): a wrong password; one too short to be a new
    account's says both that the login failed and why no account was made; a free name
    becomes a new account, and says so (a typo is not a silent new account)."""
    username, _ = live_api.new_user("demo")
    wrong = run_demo(live_api.url, "--username", username, "--password", "not it at all")
    assert wrong.returncode != 0
    assert wrong.stderr.strip() == f"Senha incorreta para {username!r}."
    short = run_demo(live_api.url, "--username", username, "--password", "wrong")
    assert short.returncode != 0
    assert short.stderr.strip() == (
        f"Não foi possível entrar como {username!r} (senha incorreta?) nem criar essa conta: "
        "Senha: curto demais: pelo menos 8 caracteres"
    )
    env = clean_env(VIGILANTE_DATA_DIR=str(tmp_path))
    none = run_demo(live_api.url, "--count", "1", env=env)
    assert none.returncode != 0 and "--username" in none.stderr
    new = run_demo(live_api.url, "--username", "demo-typo", "--password", PASSWORD, "--count",
                   "1", "--history-days", "0", "--lang", "en")  # fmt: skip
    assert new.returncode == 0 and "Account 'demo-typo' created: the name was free." in new.stdout


def test_an_answer_no_retry_changes_stops_the_demo_with_the_apis_reason(tmp_path):
    """Sign-up disabled (403): said once with the API's own words, not retried for ever."""
    from tests.live_api import LiveApi

    api = LiveApi(tmp_path, env={"VIGILANTE_ALLOW_SIGNUP": "false"}).start()
    try:
        result = run_demo(api.url, "--username", "nobody-here", "--password", PASSWORD)
    finally:
        api.stop()
    assert result.returncode != 0
    assert "tentando de novo" not in result.stdout
    assert result.stderr.strip().startswith(
        "Não foi possível entrar como 'nobody-here' (senha incorreta?) nem criar essa conta: "
        "a API respondeu 403 "
    )


def test_api_down_is_retried_not_a_traceback(dead_url):
    proc = subprocess.Popen(
        [sys.executable, "demo.py", "--url", dead_url, "--count", "1"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert first.startswith(f"… API inacessível em {dead_url}; nova tentativa (1) em")
    assert "Traceback" not in err
