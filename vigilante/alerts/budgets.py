"""Monthly budgets: local calendar months, spent amounts summed by the database, thresholds.

Spending is aggregated with one ``GROUP BY category, currency`` over the user's month (the
``user_id, occurred_ms`` index bounds it to that month); category names are then compared
case-insensitively here, so "Mercado" and "mercado" fill the same budget.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from vigilante.alerts.rules import fold
from vigilante.tables import expenses

THRESHOLDS = (80, 100)
SEVERITY = {80: "medium", 100: "high"}


def month_of(ms: int, timezone: str) -> str:
    """The local month of an instant, ``YYYY-MM``."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m")


def month_bounds(month: str, timezone: str) -> tuple[int, int]:
    """UTC epoch ms of the first instant of ``month`` and of the next month (local time)."""
    year, mon = (int(p) for p in month.split("-"))
    tz = ZoneInfo(timezone)
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def previous_month(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def current_month(now_ms: int, timezone: str) -> str:
    return month_of(now_ms, timezone)


def spending(conn: Connection, user_id: int, month: str, timezone: str) -> list[tuple]:
    """``[(category, currency, cents)]`` spent in ``month``, summed by the database."""
    start, end = month_bounds(month, timezone)
    total = func.sum(expenses.c.amount_cents)
    query = (
        select(expenses.c.category, expenses.c.currency, total)
        .where(
            expenses.c.user_id == user_id,
            expenses.c.occurred_ms >= start,
            expenses.c.occurred_ms < end,
        )
        .group_by(expenses.c.category, expenses.c.currency)
    )
    return [(c, cur, int(cents or 0)) for c, cur, cents in conn.execute(query)]


def spent_cents(budget, spent: list[tuple]) -> int:
    """What ``budget`` (a row with category_key, currency) has spent, from :func:`spending`."""
    key = budget["category_key"]
    return sum(
        cents
        for category, currency, cents in spent
        if currency == budget["currency"] and (not key or fold(category) == key)
    )


def progress(budget, spent_total: int, month: str) -> dict:
    limit = budget["limit_cents"]
    return {
        "month": month,
        "spent_cents": spent_total,
        "left_cents": limit - spent_total,
        "limit_cents": limit,
        "percent": round(spent_total * 100 / limit, 1) if limit else 0.0,
    }


def crossed(spent_total: int, limit: int) -> int | None:
    """The highest threshold reached (80 or 100), or None."""
    reached = [t for t in THRESHOLDS if spent_total * 100 >= t * limit]
    return reached[-1] if reached else None


def now_month(timezone: str) -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(timezone)).strftime("%Y-%m")
