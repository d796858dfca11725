"""Several workers, one truth: the same stream gets the same scores through one process or many.

A scripted stream (two users, two cards each, simulated habits with duplicates, bursts and
splits, plus re-sent bank ids, retried idempotency keys and feedback) is played through one
app, and through several processes sharing the database: two apps in this process taking turns,
and ``uvicorn app:app --workers 4`` with a new connection per request. Every answer must match.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, signup_and_login
from tests.live_api import ROOT, clean_env, free_port
from vigilante.migrate import upgrade
from vigilante.simulate import Simulator

USERS = ("ana", "bia")


def stream_script(seed: int) -> list[dict]:
    """Requests for one user, in order: posts of 1-4 expenses, retries, feedback."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    events = [e.payload for e in Simulator(seed, 2, 0.15, start).history(days=10)]
    steps, i = [], 0
    while i < len(events):
        batch = events[i : i + rng.choice((1, 1, 2, 4))]
        i += len(batch)
        if rng.random() < 0.15:
            batch = [dict(e, external_id=f"bank-{i}-{n}") for n, e in enumerate(batch)]
        key = f"k-{i}" if rng.random() < 0.2 else None
        steps.append({"post": batch, "key": key})
        if key and rng.random() < 0.5:
            steps.append({"post": batch, "key": key})  # a client retry: same answer
        elif batch[0].get("external_id"):
            steps.append({"post": batch[:1], "key": None})  # the bank file imported again
        if rng.random() < 0.12:
            steps.append({"feedback": rng.choice(("legit", "fraud"))})
    return steps


def play(client, auth: dict, steps: list[dict]) -> list:
    """Run the steps; answers with ids replaced by their order of first appearance."""
    answers, ordinal, last_id = [], {}, None

    def norm(expense: dict) -> dict:
        out = {k: v for k, v in expense.items() if k not in ("received_at",)}
        out["id"] = ordinal.setdefault(expense["id"], len(ordinal))
        return out

    for step in steps:
        if "feedback" in step:
            label = {"label": step["feedback"]}
            r = client.post(f"/events/{last_id}/feedback", json=label, headers=auth)
            assert r.status_code == 200, r.text
            answers.append(norm(r.json()))
            continue
        headers = auth | ({"Idempotency-Key": step["key"]} if step["key"] else {})
        if len(step["post"]) == 1:
            r = client.post("/event", json=step["post"][0], headers=headers)
            body = [r.json()]
        else:
            r = client.post("/events", json=step["post"], headers=headers)
            body = r.json()
        assert r.status_code == 201, r.text
        last_id = body[-1]["id"]
        answers.append([norm(e) for e in body])
    listed = client.get("/events", params={"limit": 1000}, headers=auth).json()
    answers.append([norm(e) for e in reversed(listed)])
    return answers


@pytest.fixture
def other_database(tmp_path, database_url, request):
    """make_client overrides for a second, empty database on the same backend."""
    if database_url is None:
        return {"data_dir": tmp_path / "other"}
    url = request.getfixturevalue("new_postgres_schema")()
    upgrade(url)
    return {"database_url": url}


def assert_same(got: dict[str, list], expected: dict[str, list]) -> None:
    """Name the first request whose answer differs, rather than dump both streams."""
    for user in expected:
        for n, (a, b) in enumerate(zip(got[user], expected[user], strict=True)):
            assert a == b, f"{user}, request {n}: got {a}\nexpected {b}"


def expected_answers(make_client, other_database) -> dict[str, list]:
    one = make_client(**other_database)
    return {u: play(one, signup_and_login(one, u), stream_script(n)) for n, u in enumerate(USERS)}


class TakeTurns:
    """A client that sends each request to the next of several apps."""

    def __init__(self, clients):
        self.clients, self.n = clients, 0

    def __getattr__(self, method):
        def call(*args, **kwargs):
            self.n += 1
            return getattr(self.clients[self.n % len(self.clients)], method)(*args, **kwargs)

        return call


def test_two_processes_on_one_database_score_like_one(make_client, other_database):
    expected = expected_answers(make_client, other_database)
    first, second = make_client(), make_client()  # two apps, each with its own caches
    turns = TakeTurns([first, second])
    got = {
        u: play(turns, signup_and_login(first, u), stream_script(n)) for n, u in enumerate(USERS)
    }
    assert_same(got, expected)


LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": "pid=%(process)d %(request_line)s %(status_code)s",
            "use_colors": False,
        },
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "pid=%(process)d %(message)s"},
    },
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "access"},
        "default": {"class": "logging.StreamHandler", "formatter": "default"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


class Workers:
    """``uvicorn app:app --workers N`` on a free loopback port; its log tells who served what."""

    def __init__(self, tmp: Path, n: int, database_url: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.n = n
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = tmp / "uvicorn.log"
        (tmp / "log.json").write_text(json.dumps(LOG_CONFIG))
        env = clean_env(VIGILANTE_DATA_DIR=str(tmp / "data"))
        if database_url:
            env["VIGILANTE_DATABASE_URL"] = database_url
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1"]
                + ["--port", str(self.port), "--workers", str(n)]
                + ["--log-config", str(tmp / "log.json")],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.log.read_text().count("Application startup complete") < self.n:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "workers did not start:\n" + self.log.read_text()
            time.sleep(0.2)

    def pids_serving(self, request: str) -> set[str]:
        return set(re.findall(rf"pid=(\d+) {request}", self.log.read_text()))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def four_workers(tmp_path, database_url, request):
    url = None
    if database_url is not None:
        url = request.getfixturevalue("new_postgres_schema")()
        upgrade(url)  # what `make migrate` does before the API hosts start
    # On SQLite the four workers migrate the fresh file at once, and race to make its key.
    workers = Workers(tmp_path / "workers", 4, url)
    try:
        workers.wait_ready()
        yield workers
    finally:
        workers.stop()


def poll(client: httpx.Client, auth: dict, stop: threading.Event, seen: list[list[int]]) -> None:
    """The dashboard's loop: ask for what is newer than the newest id seen so far."""
    after = 0
    while True:
        done = stop.is_set()
        page = client.get("/events", params={"after_id": after, "limit": 1000}, headers=auth)
        ids = [e["id"] for e in reversed(page.json())]
        if ids:
            seen.append(ids)
            after = ids[-1]
        if done:
            return
        time.sleep(0.05)


def test_four_uvicorn_workers_score_like_one(four_workers, make_client, other_database):
    expected = expected_answers(make_client, other_database)
    # No keep-alive: every request is a new connection, accepted by whichever worker is free.
    client = httpx.Client(
        base_url=four_workers.url,
        timeout=60,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    auths, results, polled = {}, {}, {u: [] for u in USERS}
    for user in USERS:
        assert client.post("/users", json={"username": user, "password": PASSWORD}).is_success
        token = client.post("/token", data={"username": user, "password": PASSWORD}).json()
        auths[user] = {"Authorization": f"Bearer {token['access_token']}"}
    stop = threading.Event()

    def post_stream(n: int, user: str) -> None:
        results[user] = play(client, auths[user], stream_script(n))

    threads = [threading.Thread(target=post_stream, args=(n, u)) for n, u in enumerate(USERS)]
    pollers = [
        threading.Thread(target=poll, args=(client, auths[u], stop, polled[u])) for u in USERS
    ]
    for t in threads + pollers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in pollers:
        t.join()

    assert_same(results, expected)
    assert len(four_workers.pids_serving("POST /event")) >= 2, "the stream hit a single worker"
    for user in USERS:
        listed = client.get("/events", params={"limit": 1000}, headers=auths[user]).json()
        stored = [e["id"] for e in listed]
        flat = [i for page in polled[user] for i in page]
        # Polling by after_id, whichever worker answers, saw every expense once and in order.
        assert flat == sorted(stored)


def test_feedback_given_through_another_process_counts(make_client):
    a, b = make_client(), make_client()
    auth = signup_and_login(a)
    coffee = {"amount": 9.5, "category": "café", "merchant": "Café do Ponto"}

    def post(client, day: int) -> dict:
        when = {"occurred_at": f"2026-03-{day:02d}T09:00:00-03:00"}
        return client.post("/event", json=coffee | when, headers=auth).json()

    first = post(a, 1)  # `a` now holds this user's history
    b.post(f"/events/{first['id']}/feedback", json={"label": "legit"}, headers=auth)
    newer = post(b, 2)
    b.post(f"/events/{newer['id']}/feedback", json={"label": "legit"}, headers=auth)
    # `a` must see both labels, though the newer one reached the database last.
    seen_by_a, seen_by_b = post(a, 3)["reasons"], post(b, 4)["reasons"]
    assert seen_by_a == seen_by_b
    assert "dismissed_pattern" in [r["code"] for r in seen_by_a]


TRAINING = {"min_train_samples": 50, "retrain_every": 50, "secret_key": "s" * 48}


@pytest.fixture
def two_hosts(make_client, database_url, tmp_path):
    """Two apps with data folders of their own (two hosts) on one database."""
    shared = database_url or f"sqlite:///{tmp_path}/shared.db"
    return [
        make_client(data_dir=tmp_path / f"host-{name}", database_url=shared, **TRAINING)
        for name in "ab"
    ]


def history(n: int = 90) -> list[dict]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [e.payload for e in Simulator(5, 3, 0.0, start).history(days=10)][:n]


def test_every_host_scores_with_the_newest_version_in_the_database(two_hosts):
    a, b = two_hosts
    auth = signup_and_login(a)
    assert b.get("/model", headers=auth).json()["version"] == "prior-1"
    a.post("/events", json=history(), headers=auth)  # enough to fit: a trains in background
    a.app.state.ctx.detectors.wait()
    trained = a.get("/model", headers=auth).json()["version"]
    assert trained != "prior-1"
    # Host b never trained and has nothing on its disk: it reads the version from the database.
    assert b.get("/model", headers=auth).json()["version"] == trained
    scored = b.post("/event", json={"amount": 20, "category": "café"}, headers=auth).json()
    assert scored["model_version"] == trained
    assert a.get(f"/events/{scored['id']}", headers=auth).json()["model_version"] == trained
    retrained = b.post("/model/retrain", headers=auth).json()["version"]
    assert retrained != trained
    again = a.post("/event", json={"amount": 21, "category": "café"}, headers=auth).json()
    assert again["model_version"] == retrained


def test_a_fit_happens_once_across_workers(two_hosts):
    a, b = two_hosts
    auth = signup_and_login(a)
    a.post("/events", json=history(), headers=auth)
    a.app.state.ctx.detectors.wait()
    first = a.get("/model", headers=auth).json()["version"]
    user_id = 1  # the only user of this fresh database
    on_a, on_b = a.app.state.ctx.detectors, b.app.state.ctx.detectors

    # While a holds the lease, b's background trigger leaves the fit to it...
    holder = on_a._acquire(user_id)
    assert holder is not None and on_b._acquire(user_id) is None
    assert on_b.retrain(user_id, wait=False) is None
    # ...and an explicit retrain on b waits for a and answers with a's new version.
    waiting, answers = threading.Event(), []
    after_holder = on_b._after_holder
    on_b._after_holder = lambda uid: waiting.set() or after_holder(uid)
    asking = threading.Thread(target=lambda: answers.append(b.post("/model/retrain", headers=auth)))
    asking.start()
    assert waiting.wait(60)
    X, explicit, total = on_a.training_data(user_id)
    fitted, meta, blob = on_a.trainer.train(X, explicit, total)
    on_a._store(user_id, fitted, meta, blob)
    on_a._release(user_id, holder)
    asking.join()
    assert answers[0].status_code == 200
    assert answers[0].json()["version"] == fitted.version != first
    # With a fresh version stored, b's background trigger does not fit again.
    assert on_b.retrain(user_id, wait=False) is None
    assert b.get("/model", headers=auth).json()["version"] == fitted.version
