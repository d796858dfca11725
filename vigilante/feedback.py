"""How the alerts fare with their owner: reviewed, dismissed ("this is fine"), confirmed, missed.

The false-positive rate of a period is dismissed / reviewed alerts: alerts nobody looked at do
not count either way. A "missed" expense is one confirmed as fraud that was not flagged.
Computed by the database, bucketed by the user's local day (or week, starting on Monday).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, case, func, select

from vigilante.rendering import iso_ms
from vigilante.service import to_ms
from vigilante.tables import expenses

DAY_MS = 86_400_000
THURSDAY_TO_MONDAY = 3  # epoch day 0 was a Thursday


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def feedback_stats(
    engine: Engine, user_id: int, start: datetime, end: datetime, timezone: str, bucket: str
) -> dict:
    offset_ms = int(ZoneInfo(timezone).utcoffset(end.replace(tzinfo=None)).total_seconds() * 1000)
    day = (expenses.c.occurred_ms + offset_ms) // DAY_MS
    key = day if bucket == "day" else (day + THURSDAY_TO_MONDAY) // 7
    flagged = expenses.c.is_anomaly.is_(True)
    columns = (
        func.count(),
        _count(flagged),
        _count(and_(flagged, expenses.c.feedback.is_not(None))),
        _count(and_(flagged, expenses.c.feedback == "legit")),
        _count(and_(flagged, expenses.c.feedback == "fraud")),
        _count(and_(expenses.c.is_anomaly.is_(False), expenses.c.feedback == "fraud")),
    )
    scope = (
        expenses.c.user_id == user_id,
        expenses.c.occurred_ms >= to_ms(start),
        expenses.c.occurred_ms < to_ms(end),
    )
    with engine.connect() as conn:
        total = conn.execute(select(*columns).where(*scope)).one()
        rows = conn.execute(
            select(key.label("k"), *columns).where(*scope).group_by("k").order_by("k")
        ).all()

    def period(values) -> dict:
        count, alerts, reviewed, dismissed, confirmed, missed = (int(v or 0) for v in values)
        return {
            "expenses": count,
            "alerts": alerts,
            "reviewed": reviewed,
            "dismissed": dismissed,
            "confirmed": confirmed,
            "missed": missed,
            "false_positive_rate": dismissed / reviewed if reviewed else None,
        }

    def label(k: int) -> str:
        first_day = k if bucket == "day" else k * 7 - THURSDAY_TO_MONDAY
        return iso_ms(int(first_day) * DAY_MS)[:10]

    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bucket": bucket,
        **period(total),
        "periods": [{"start": label(r[0]), **period(r[1:])} for r in rows],
    }
