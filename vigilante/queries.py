"""Reads of a user's expenses: pages, one expense, statistics, and feedback on one expense.

Every query is scoped by ``user_id`` first, and every list is bounded: a page is at most
``max_page`` rows and statistics are aggregated by the database, never from loaded rows.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine, Integer, bindparam, case, func, select, update

from vigilante.db import DriverQuery, write_transaction
from vigilante.rendering import expense_out, iso_ms
from vigilante.schemas import EventQuery
from vigilante.service import now_ms, to_ms
from vigilante.tables import expenses, users

DAY_MS = 86_400_000


# What an answer shows of an expense (``expense_out``), in this order.
_OUT = [
    expenses.c[name]
    for name in [
        "id",
        "amount_cents",
        "currency",
        "category",
        "merchant",
        "description",
        "occurred_ms",
        "account",
        "external_id",
        "received_ms",
        "score",
        "is_anomaly",
        "severity",
        "reasons",
        "model_version",
        "feedback",
    ]
]
_OUT_NAMES = [c.name for c in _OUT]
# GET /events filters: name -> condition on a bind of that name.
_FILTERS = {
    "before_id": lambda: expenses.c.id < bindparam("before_id"),
    "after_id": lambda: expenses.c.id > bindparam("after_id"),
    "category": lambda: expenses.c.category == bindparam("category"),
    "account": lambda: expenses.c.account == bindparam("account"),
    "start": lambda: expenses.c.occurred_ms >= bindparam("start"),
    "end": lambda: expenses.c.occurred_ms < bindparam("end"),
}
_PAGES: dict[tuple, DriverQuery] = {}  # one compiled query per combination of filters used


def _page_query(filters: tuple[str, ...], anomalies_only: bool) -> DriverQuery:
    key = (filters, anomalies_only)
    query = _PAGES.get(key)
    if query is None:
        q = select(*_OUT).where(expenses.c.user_id == bindparam("user_id"))
        for name in filters:
            q = q.where(_FILTERS[name]())
        if anomalies_only:
            q = q.where(expenses.c.is_anomaly.is_(True))
        q = q.order_by(expenses.c.id.desc()).limit(bindparam("page_limit", type_=Integer))
        query = _PAGES[key] = DriverQuery(q)
    return query


def _rows_out(conn, query: DriverQuery, lang: str, **params) -> list[dict]:
    """The query's rows as answers, read through the driver's own cursor: SQLAlchemy's result
    rows (a fetch per row, type processing) cost about as much as the page's query itself."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(*query.bound(conn, **params))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    out = []
    for values in rows:
        row = dict(zip(_OUT_NAMES, values, strict=True))
        reasons = row["reasons"]
        if isinstance(reasons, str | bytes):  # SQLite keeps JSON as text; psycopg decodes it
            try:
                row["reasons"] = orjson.loads(reasons)
            except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps writes
                row["reasons"] = json.loads(reasons)
        out.append(expense_out(row, lang))
    return out


def list_events(engine: Engine, user_id: int, f: EventQuery, lang: str, limit: int) -> list[dict]:
    """Newest first; with ``after_id``, the newest ``limit`` of those after it."""
    values = {
        "before_id": f.before_id,
        "after_id": f.after_id,
        "category": f.category,
        "account": f.account,
        "start": to_ms(f.start) if f.start is not None else None,
        "end": to_ms(f.end) if f.end is not None else None,
    }
    used = {name: value for name, value in values.items() if value is not None}
    query = _page_query(tuple(used), f.anomalies_only)
    with engine.connect() as conn:
        return _rows_out(conn, query, lang, user_id=user_id, page_limit=limit, **used)


_ONE = DriverQuery(
    select(*_OUT).where(
        expenses.c.user_id == bindparam("user_id"), expenses.c.id == bindparam("expense_id")
    )
)


def get_event(engine: Engine, user_id: int, expense_id: int, lang: str) -> dict | None:
    with engine.connect() as conn:
        found = _rows_out(conn, _ONE, lang, user_id=user_id, expense_id=expense_id)
    return found[0] if found else None


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
    """Counts and anomalies over every expense; totals in ``currency``, and what was spent in
    other currencies beside them (``other_totals``): amounts are never converted, and an
    expense in another currency is never left out of the counts."""
    start_ms, end_ms = to_ms(start), to_ms(end)
    # Days are the user's local days; the offset at the end of the range is used throughout.
    offset_ms = int(ZoneInfo(timezone).utcoffset(end.replace(tzinfo=None)).total_seconds() * 1000)
    scope = (
        expenses.c.user_id == user_id,
        expenses.c.occurred_ms >= start_ms,
        expenses.c.occurred_ms < end_ms,
    )
    anomalies = func.sum(case((expenses.c.is_anomaly.is_(True), 1), else_=0))
    total = func.coalesce(func.sum(expenses.c.amount_cents), 0)
    day = ((expenses.c.occurred_ms + offset_ms) // DAY_MS).label("day")
    # One pass over the range, grouped by (category, day, currency): a few hundred groups at
    # most, which add up here into the totals, the categories and the days (three passes cost 3x).
    with engine.connect() as conn:
        groups = conn.execute(
            select(
                expenses.c.category,
                day,
                expenses.c.currency,
                total,
                func.count(),
                anomalies,
                func.max(expenses.c.occurred_ms),
            )
            .where(*scope)
            .group_by(expenses.c.category, day, expenses.c.currency)
        ).all()
    # Each accumulator: [cents in `currency`, count, anomalies, {other currency: cents}].
    per_category: dict[str, list] = {}
    per_day: dict[int, list] = {}
    whole: list = [0, 0, 0, {}]
    last_ms = None
    for category, d, code, cents, n, flagged, newest in groups:
        flagged = int(flagged or 0)
        for acc in (
            per_category.setdefault(category, [0, 0, 0, {}]),
            per_day.setdefault(int(d), [0, 0, 0, {}]),
            whole,
        ):
            if code == currency:
                acc[0] += cents
            else:
                acc[3][code] = acc[3].get(code, 0) + cents
            acc[1] += n
            acc[2] += flagged
        last_ms = newest if last_ms is None else max(last_ms, newest)
    # Largest total first, as before; ties by name so the order never wobbles.
    by_category = sorted(
        ((c, *acc) for c, acc in per_category.items()), key=lambda r: (-r[1], r[0])
    )
    by_day = sorted((d, *acc) for d, acc in per_day.items())
    count = whole[1]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": currency,
        "total": whole[0] / 100,
        "other_totals": _units(whole[3]),
        "count": count,
        "anomalies": whole[2],
        "anomaly_rate": (whole[2] / count) if count else 0.0,
        "last_event_at": iso_ms(last_ms),
        "by_category": [
            {"category": c, "total": t / 100, "count": n, "anomalies": a, "other_totals": _units(o)}
            for c, t, n, a, o in by_category
        ],
        "by_day": [
            {
                "day": iso_ms(int(d) * DAY_MS)[:10],
                "total": t / 100,
                "count": n,
                "anomalies": a,
                "other_totals": _units(o),
            }
            for d, t, n, a, o in by_day
        ],
    }


def _units(cents: dict[str, int]) -> dict[str, float]:
    return {code: value / 100 for code, value in sorted(cents.items())}
