"""Reads of a user's expenses: pages, one expense, statistics, and feedback on one expense.

Every query is scoped by ``user_id`` first, and every list is bounded: a page is at most
``max_page`` rows and statistics are aggregated by the database, never from loaded rows.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, func, select, update

from vigilante.db import write_transaction
from vigilante.rendering import expense_out, iso_ms
from vigilante.schemas import EventQuery
from vigilante.service import now_ms, to_ms
from vigilante.tables import expenses, users

DAY_MS = 86_400_000
_LIST_COLUMNS = [c for c in expenses.c if c.name not in ("features", "evidence", "user_id")]


def list_events(engine: Engine, user_id: int, f: EventQuery, lang: str, limit: int) -> list[dict]:
    """Newest first; with ``after_id``, the newest ``limit`` of those after it."""
    q = select(*_LIST_COLUMNS).where(expenses.c.user_id == user_id)
    if f.before_id is not None:
        q = q.where(expenses.c.id < f.before_id)
    if f.after_id is not None:
        q = q.where(expenses.c.id > f.after_id)
    if f.anomalies_only:
        q = q.where(expenses.c.is_anomaly.is_(True))
    if f.category is not None:
        q = q.where(expenses.c.category == f.category)
    if f.account is not None:
        q = q.where(expenses.c.account == f.account)
    if f.start is not None:
        q = q.where(expenses.c.occurred_ms >= to_ms(f.start))
    if f.end is not None:
        q = q.where(expenses.c.occurred_ms < to_ms(f.end))
    q = q.order_by(expenses.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [expense_out(row, lang) for row in conn.execute(q).mappings()]


def get_event(engine: Engine, user_id: int, expense_id: int, lang: str) -> dict | None:
    q = select(*_LIST_COLUMNS).where(expenses.c.user_id == user_id, expenses.c.id == expense_id)
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return expense_out(row, lang) if row else None


def set_feedback(engine: Engine, user_id: int, expense_id: int, label: str) -> bool:
    """Label one expense. Feedback changes later scores, and every worker's cached history
    picks it up by ``feedback_ms``: so it is written under the user's lock (like an ingest),
    with a ``feedback_ms`` that grows in commit order even across hosts with skewed clocks."""
    with write_transaction(engine) as conn:
        conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())
        last = conn.execute(
            select(func.max(expenses.c.feedback_ms)).where(expenses.c.user_id == user_id)
        ).scalar()
        result = conn.execute(
            update(expenses)
            .where(expenses.c.user_id == user_id, expenses.c.id == expense_id)
            .values(feedback=label, feedback_ms=max(now_ms(), (last or 0) + 1))
        )
    return result.rowcount == 1


def stats(
    engine: Engine, user_id: int, start: datetime, end: datetime, currency: str, timezone: str
) -> dict:
    start_ms, end_ms = to_ms(start), to_ms(end)
    # Days are the user's local days; the offset at the end of the range is used throughout.
    offset_ms = int(ZoneInfo(timezone).utcoffset(end.replace(tzinfo=None)).total_seconds() * 1000)
    scope = (
        expenses.c.user_id == user_id,
        expenses.c.currency == currency,
        expenses.c.occurred_ms >= start_ms,
        expenses.c.occurred_ms < end_ms,
    )
    anomalies = func.sum(case((expenses.c.is_anomaly.is_(True), 1), else_=0))
    total = func.coalesce(func.sum(expenses.c.amount_cents), 0)
    day = ((expenses.c.occurred_ms + offset_ms) // DAY_MS).label("day")
    # One pass over the range, grouped by (category, day): a few hundred groups at most, which
    # add up here into the totals, the categories and the days (three passes cost 3x).
    with engine.connect() as conn:
        groups = conn.execute(
            select(
                expenses.c.category,
                day,
                total,
                func.count(),
                anomalies,
                func.max(expenses.c.occurred_ms),
            )
            .where(*scope)
            .group_by(expenses.c.category, day)
        ).all()
    per_category: dict[str, list[int]] = {}
    per_day: dict[int, list[int]] = {}
    last_ms = None
    for category, d, cents, n, flagged, newest in groups:
        flagged = int(flagged or 0)
        for key, table in ((category, per_category), (int(d), per_day)):
            acc = table.setdefault(key, [0, 0, 0])
            acc[0] += cents
            acc[1] += n
            acc[2] += flagged
        last_ms = newest if last_ms is None else max(last_ms, newest)
    # Largest total first, as before; ties by name so the order never wobbles.
    by_category = sorted(
        ((c, *acc) for c, acc in per_category.items()), key=lambda r: (-r[1], r[0])
    )
    by_day = sorted((d, *acc) for d, acc in per_day.items())
    head = (
        sum(r[2] for r in by_day),
        sum(r[1] for r in by_day),
        sum(r[3] for r in by_day),
        last_ms,
    )
    count = head[0]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": currency,
        "total": head[1] / 100,
        "count": count,
        "anomalies": int(head[2] or 0),
        "anomaly_rate": (int(head[2] or 0) / count) if count else 0.0,
        "last_event_at": iso_ms(head[3]),
        "by_category": [
            {"category": c, "total": t / 100, "count": n, "anomalies": int(a or 0)}
            for c, t, n, a in by_category
        ],
        "by_day": [
            {
                "day": iso_ms(int(d) * DAY_MS)[:10],
                "total": t / 100,
                "count": n,
                "anomalies": int(a or 0),
            }
            for d, t, n, a in by_day
        ],
    }
