"""Aggregates over a period, computed by the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from vigilante.api.deps import Context, CurrentUser
from vigilante.queries import stats
from vigilante.schemas import Currency, Instant, Stats

router = APIRouter(tags=["stats"])


def _bad(field: str, message: str) -> HTTPException:
    return HTTPException(
        status_code=422, detail=[{"field": field, "message": message, "type": "value_error"}]
    )


DEFAULT_DAYS = 30


def period(ctx, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """``from`` and ``to`` as asked, checked; by default the last 30 days up to now, and the
    expenses dated a little ahead that ingest accepts (``max_future_minutes``) with them."""
    now = datetime.now(UTC)
    # The span the limit applies to is the caller's: up to ``to``, or up to now without one
    # (the look-ahead added below is ours, and so is the default span).
    asked = (end or now) - start if start is not None else None
    if start is None:
        days = min(DEFAULT_DAYS, ctx.settings.max_stats_days)
        start = (end or now) - timedelta(days=days)
    if end is None:
        end = now + timedelta(minutes=ctx.settings.max_future_minutes)
    if start >= end:
        raise _bad("from", "must be before 'to'")
    if asked is not None and asked > timedelta(days=ctx.settings.max_stats_days):
        raise _bad("from", f"the range may span at most {ctx.settings.max_stats_days} days")
    return start, end


@router.get("/stats", response_model=Stats)
def get_stats(
    ctx: Context,
    user_id: CurrentUser,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    currency: Annotated[Currency | None, Query()] = None,
):
    """Totals, count, anomalies and rate, by category and by day (default: the last 30 days)."""
    start, end = period(ctx, start, end)
    currency = currency or ctx.settings.currency
    return stats(ctx.engine, user_id, start, end, currency, ctx.settings.timezone)
