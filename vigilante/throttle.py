"""Login throttling, kept in the database so every worker and every host agrees.

Each login attempt is written as a failure *before* the password is checked and deleted again
when the password turns out right; so a burst of parallel guesses cannot slip past the count.
Three sliding windows are counted over the recent failures:

- one account from one client address (``login_max_failures``): stops a single guesser fast
  without touching the owner, who logs in from elsewhere;
- one account from anywhere (``login_max_failures_account``): stops a distributed guesser; the
  owner is kept out at most until the oldest counted failure leaves the window;
- one address for any account (``login_max_failures_address``): stops credential stuffing.

Past any limit the answer is 429 with ``Retry-After``; attempts refused that way are not
recorded, so waiting always works. Before the limits, attempts slow down: once an account has
``login_slow_after`` recent failures each further attempt waits ``login_delay_ms``, doubling,
at most ``login_delay_max_ms`` (awaited, so a waiting attempt holds no thread).
Failures older than the window are pruned.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, insert, select, text

from vigilante.db import write_transaction
from vigilante.tables import login_failures

PRUNE_EVERY_MS = 60_000
_PLAIN_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass
class Attempt:
    id: int
    account: str
    address: str
    delay_s: float


def account_key(username: str) -> str:
    """The name failures are counted under; anything odd (NUL, megabytes) becomes a digest."""
    if _PLAIN_USERNAME.match(username):
        return username
    return "#" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclass
class LoginThrottle:
    engine: Engine
    window_s: int = 300
    max_failures: int = 5
    max_failures_account: int = 20
    max_failures_address: int = 50
    slow_after: int = 3
    delay_ms: int = 250
    delay_max_ms: int = 2_000
    clock: Callable[[], int] = now_ms
    _next_prune_ms: int = 0
    _prune_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def window_ms(self) -> int:
        return self.window_s * 1000

    def delay_for(self, recent_failures: int) -> float:
        """Seconds an attempt waits when the account already has ``recent_failures``."""
        extra = recent_failures - self.slow_after
        if extra < 0 or self.delay_ms <= 0:
            return 0.0
        return min(self.delay_ms * 2 ** min(extra, 30), self.delay_max_ms) / 1000

    def begin(self, username: str, address: str) -> Attempt:
        """Record an attempt as failed until proven otherwise; 429 (raise) when over a limit."""
        account, address = account_key(username), address[:64]
        now = self.clock()
        since = now - self.window_ms
        scopes = {
            "pair": (self.max_failures, (login_failures.c.account == account,
                                         login_failures.c.address == address)),
            "account": (self.max_failures_account, (login_failures.c.account == account,)),
            "address": (self.max_failures_address, (login_failures.c.address == address,)),
        }  # fmt: skip
        recent = login_failures.c.at_ms >= since
        counts: dict[str, int] = {}
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # SQLite's BEGIN IMMEDIATE already serialises this; PostgreSQL needs a lock.
                lock = int(hashlib.sha256(account.encode()).hexdigest()[:15], 16)
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            wait_ms = 0
            for name, (limit, where) in scopes.items():
                count = conn.execute(select(func.count()).where(*where, recent)).scalar_one()
                counts[name] = count
                if count >= limit:
                    # Allowed again once enough of these failures have left the window.
                    oldest = conn.execute(
                        select(login_failures.c.at_ms)
                        .where(*where, recent)
                        .order_by(login_failures.c.at_ms)
                        .offset(count - limit)
                        .limit(1)
                    ).scalar_one()
                    wait_ms = max(wait_ms, oldest + self.window_ms - now)
            if wait_ms:
                raise TooManyAttempts(max(1, math.ceil(wait_ms / 1000)))
            attempt_id = conn.execute(
                insert(login_failures)
                .values(account=account, address=address, at_ms=now)
                .returning(login_failures.c.id)
            ).scalar_one()
        self._maybe_prune(now)
        return Attempt(attempt_id, account, address, self.delay_for(counts["account"]))

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget this attempt and this address's failures for it."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(login_failures).where(
                    login_failures.c.account == attempt.account,
                    login_failures.c.address == attempt.address,
                )
            )

    def prune(self, now: int | None = None) -> int:
        """Drop failures that no window counts any more."""
        cutoff = (self.clock() if now is None else now) - self.window_ms
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(login_failures).where(login_failures.c.at_ms < cutoff))
        return gone.rowcount

    def _maybe_prune(self, now: int) -> None:
        with self._prune_lock:
            if now < self._next_prune_ms:
                return
            self._next_prune_ms = now + PRUNE_EVERY_MS
        self.prune(now)
