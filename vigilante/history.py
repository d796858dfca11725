"""Per-user detector state, loaded from the database and kept fresh incrementally.

The database is the truth: another worker (or host) may have stored expenses since this
process last looked, so every ingest first reads what is new (``id > last_id``, an index range)
and any feedback given since. A process keeps a small LRU of users so the common case is a
cheap range read rather than a reload.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, namedtuple

from sqlalchemy import Connection, Text, bindparam, case, cast, func, select

from models.evidence import REPEAT_CODES, REPEAT_MIN_LLR
from models.features import Event, SpenderHistory
from vigilante.db import DriverQuery
from vigilante.tables import expenses

LOAD_LIMIT = 20_000
CACHE_USERS = 256

_COLUMNS = (
    expenses.c.id,
    expenses.c.occurred_ms,
    expenses.c.amount_cents,
    expenses.c.category,
    expenses.c.merchant,
    expenses.c.account,
    expenses.c.feedback,
    expenses.c.feedback_ms,
    # What the expense was flagged for, read only where it got feedback: a dismissed repeat
    # excuses repeats, a dismissed price only prices (models.evidence.REPEAT_CODES).
    cast(case((expenses.c.feedback.is_not(None), expenses.c.reasons)), Text).label(
        "feedback_reasons"
    ),
)


_Row = namedtuple("_Row", [c.name for c in _COLUMNS])
# The two reads every ingest group makes per user (through the driver: they run per group).
_NEWER = DriverQuery(
    select(*_COLUMNS)
    .where(expenses.c.user_id == bindparam("user_id"), expenses.c.id > bindparam("last_id"))
    .order_by(expenses.c.id)
)
_FEEDBACK_SINCE = DriverQuery(
    select(*_COLUMNS).where(
        expenses.c.user_id == bindparam("user_id"), expenses.c.feedback_ms > bindparam("since")
    )
)


def event_key(text: str | None) -> str:
    return (text or "").casefold()


def was_repeat(reasons_json: str | None) -> bool:
    """Whether an expense's stored reasons said it repeated another charge."""
    if not reasons_json:
        return False
    return any(
        r.get("code") in REPEAT_CODES and r.get("llr", 0.0) >= REPEAT_MIN_LLR
        for r in json.loads(reasons_json)
    )


def to_event(row) -> Event:
    return Event(
        ts=row.occurred_ms,
        cents=row.amount_cents,
        category=event_key(row.category),
        merchant=event_key(row.merchant),
        account=row.account,
        id=row.id,
        feedback=row.feedback,
        feedback_repeat=was_repeat(row.feedback_reasons),
    )


class HistoryCache:
    def __init__(self, timezone: str, trust_priors: bool = True):
        self.timezone = timezone
        self.trust_priors = trust_priors  # the deployment's currency is the priors' (BRL)
        self._users: OrderedDict[int, tuple[SpenderHistory, int]] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per user: the history is mutated while an ingest scores in order.
        self.user_locks: dict[int, threading.Lock] = {}

    def user_lock(self, user_id: int) -> threading.Lock:
        with self._lock:
            return self.user_locks.setdefault(user_id, threading.Lock())

    def drop(self, user_id: int) -> None:
        with self._lock:
            self._users.pop(user_id, None)

    def fresh(self, conn: Connection, user_id: int) -> SpenderHistory:
        """The user's history including everything committed so far. Hold the user lock."""
        with self._lock:
            cached = self._users.get(user_id)
            if cached:
                self._users.move_to_end(user_id)
        if cached is None:
            history, feedback_ms = self._load(conn, user_id)
        else:
            history, feedback_ms = cached
            # Feedback is read from the old mark: new rows may carry feedback newer than
            # feedback on older rows that this process has not seen yet.
            since = feedback_ms
            for values in _NEWER.rows(conn, user_id=user_id, last_id=history.last_id):
                row = _Row(*values)
                history.add(to_event(row))
                feedback_ms = max(feedback_ms, row.feedback_ms or 0)
            for values in _FEEDBACK_SINCE.rows(conn, user_id=user_id, since=since):
                row = _Row(*values)
                if history.relearns(row.id, row.feedback):
                    # Fraud confirmed on an expense it learnt from (or a fraud label taken
                    # back): "usual" changes, so the history is read again as a new process
                    # would. Labels are rare; this is one read of the user's expenses.
                    history, feedback_ms = self._load(conn, user_id)
                    break
                history.set_feedback(to_event(row), row.feedback)
                feedback_ms = max(feedback_ms, row.feedback_ms)
        self.store(user_id, history, feedback_ms)
        return history

    def _load(self, conn: Connection, user_id: int) -> tuple[SpenderHistory, int]:
        history = SpenderHistory(self.timezone, self.trust_priors)
        rows = conn.execute(
            select(*_COLUMNS)
            .where(expenses.c.user_id == user_id)
            .order_by(expenses.c.id.desc())
            .limit(LOAD_LIMIT)
        ).all()
        feedback_ms = 0
        for row in reversed(rows):
            history.add(to_event(row))
            feedback_ms = max(feedback_ms, row.feedback_ms or 0)
        if len(rows) == LOAD_LIMIT:
            history.first_id = rows[-1].id  # older expenses are not held: nothing to relearn
            history.n_total = conn.execute(
                select(func.count()).select_from(expenses).where(expenses.c.user_id == user_id)
            ).scalar_one()
            # Labels on older expenses still say what is similar to a dismissed or confirmed
            # one; read now, every process holds the same labels from its first ingest on.
            older = conn.execute(
                select(*_COLUMNS).where(
                    expenses.c.user_id == user_id,
                    expenses.c.feedback_ms.is_not(None),
                    expenses.c.id < history.first_id,
                )
            )
            for row in older:
                history.set_feedback(to_event(row), row.feedback)
                feedback_ms = max(feedback_ms, row.feedback_ms)
        return history, feedback_ms

    def store(self, user_id: int, history: SpenderHistory, feedback_ms: int) -> None:
        with self._lock:
            self._users[user_id] = (history, feedback_ms)
            self._users.move_to_end(user_id)
            while len(self._users) > CACHE_USERS:
                self._users.popitem(last=False)
