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


@router.get("/stats", response_model=Stats)
def get_stats(
    ctx: Context,
    user_id: CurrentUser,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    currency: Annotated[Currency | None, Query()] = None,
):
    """Totals, count, anomalies and rate, by category and by day (default: the last 30 days)."""
    end = end or datetime.now(UTC) + timedelta(minutes=ctx.settings.max_future_minutes)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise _bad("from", "must be before 'to'")
    if end - start > timedelta(days=ctx.settings.max_stats_days):
        raise _bad("from", f"the range may span at most {ctx.settings.max_stats_days} days")
    currency = currency or ctx.settings.currency
    return stats(ctx.engine, user_id, start, end, currency, ctx.settings.timezone)
