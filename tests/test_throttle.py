"""Login throttling: guessers slow down and then get 429; the owner gets back in after the window.

The throttle's clock is replaced by a hand-moved one, so windows pass without sleeping.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from vigilante.tables import login_failures
from vigilante.throttle import LoginThrottle

WRONG = "wrong-password-1"
T0 = 1_800_000_000_000
LIMITS = dict(
    login_delay_ms=0,
    login_max_failures=3,
    login_max_failures_account=5,
    login_max_failures_address=7,
)


class Clock:
    def __init__(self):
        self.ms = T0

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def site(make_client):
    """An app with a hand clock, no delays, small limits (each login costs an Argon2 check),
    and a way to log in from any address."""
    client = make_client(**LIMITS)
    clock = Clock()
    client.app.state.ctx.throttle.clock = clock
    for name in ("ana", "bia"):
        client.post("/users", json={"username": name, "password": PASSWORD})
    clients: dict[str, TestClient] = {}

    def login(username: str, password: str, address: str = "10.0.0.1"):
        if address not in clients:
            clients[address] = TestClient(client.app, client=(address, 40000))
        return clients[address].post("/token", data={"username": username, "password": password})

    login.clock = clock
    login.app = client.app
    return login


def test_failures_from_one_address_end_in_429_then_the_window_lets_the_owner_in(site):
    for _ in range(3):
        assert site("ana", WRONG).status_code == 401
        site.clock.advance(1)
    blocked = site("ana", PASSWORD)  # even the right password: guessing must not go on
    assert blocked.status_code == 429
    retry = int(blocked.headers["retry-after"])
    assert retry == 300 - 3  # until the first failure leaves the 300 s window
    assert "try again" in blocked.json()["detail"]
    site.clock.advance(retry - 1)
    assert site("ana", PASSWORD).status_code == 429
    site.clock.advance(1)
    assert site("ana", PASSWORD).status_code == 200


def test_the_owner_elsewhere_is_not_locked_out_by_one_guesser(site):
    for _ in range(3):
        site("ana", WRONG, address="203.0.113.9")
    assert site("ana", WRONG, address="203.0.113.9").status_code == 429
    assert site("ana", PASSWORD, address="198.51.100.7").status_code == 200
    assert site("bia", PASSWORD, address="203.0.113.9").status_code == 200


def test_many_addresses_against_one_account_hit_the_account_limit(site):
    for i in range(5):
        assert site("ana", WRONG, address=f"10.1.0.{i}").status_code == 401
    r = site("ana", PASSWORD, address="10.2.0.1")
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 300
    assert site("bia", PASSWORD, address="10.2.0.1").status_code == 200
    site.clock.advance(301)
    assert site("ana", PASSWORD, address="10.2.0.1").status_code == 200


def test_typing_the_account_in_other_cases_does_not_buy_more_guesses(site):
    for i, typed in enumerate(["ana", "Ana", "ANA", "aNa", "anA"]):
        assert site(typed, WRONG, address=f"10.1.0.{i}").status_code == 401
    assert site("ANA", PASSWORD, address="10.2.0.1").status_code == 429


def test_one_address_spraying_many_accounts_hits_the_address_limit(site):
    for i in range(7):
        assert site(f"user{i}", WRONG, address="192.0.2.50").status_code == 401
    assert site("ana", PASSWORD, address="192.0.2.50").status_code == 429
    assert site("ana", PASSWORD, address="192.0.2.51").status_code == 200


def test_a_correct_login_clears_that_addresses_failures(site):
    for _ in range(2):
        site("ana", WRONG)
    assert site("ana", PASSWORD).status_code == 200
    for _ in range(2):
        assert site("ana", WRONG).status_code == 401


def test_limits_and_window_come_from_settings(make_client):
    client = make_client(login_max_failures=2, login_window_seconds=60, login_delay_ms=0)
    client.post("/users", json={"username": "ana", "password": PASSWORD})
    for _ in range(2):
        client.post("/token", data={"username": "ana", "password": WRONG})
    r = client.post("/token", data={"username": "ana", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 60


def test_parallel_guesses_cannot_slip_past_the_count(site):
    site("ana", WRONG)  # opens the TestClient for the address before the threads share it
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: site("ana", WRONG).status_code, range(12)))
    assert codes.count(401) == 2  # 3 allowed in all, one spent above
    assert codes.count(429) == 10


def test_workers_sharing_the_database_share_the_count(make_client, site):
    other = make_client(**LIMITS)  # a second app: another worker on the same database
    other.app.state.ctx.throttle.clock = site.clock
    for _ in range(3):
        other.post("/token", data={"username": "ana", "password": WRONG})
    # TestClient's own address is "testclient"; count from this app at that address too.
    first = TestClient(site.app, client=("testclient", 50000))
    assert first.post("/token", data={"username": "ana", "password": PASSWORD}).status_code == 429


def test_old_failures_are_pruned(site):
    for i in range(3):
        site(f"user{i}", WRONG, address=f"10.9.0.{i}")
    engine = site.app.state.ctx.engine
    throttle = site.app.state.ctx.throttle
    site.clock.advance(301)
    assert throttle.prune() == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(login_failures)).scalar() == 0


def test_attempts_slow_down_before_the_limit():
    throttle = LoginThrottle(engine=None, slow_after=3, delay_ms=250, delay_max_ms=2000)
    delays = [throttle.delay_for(n) for n in range(10)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:7] == [0.25, 0.5, 1.0, 2.0]
    assert max(delays) == 2.0  # never more than the cap
    assert LoginThrottle(engine=None, delay_ms=0).delay_for(50) == 0
