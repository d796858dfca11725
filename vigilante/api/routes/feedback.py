"""What your feedback says about the alerts: the false-positive rate over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from vigilante.api.deps import Context, CurrentUser
from vigilante.feedback import feedback_stats
from vigilante.schemas import FeedbackStats, Instant

router = APIRouter(tags=["feedback"])


@router.get("/feedback/stats", response_model=FeedbackStats)
def get_feedback_stats(
    ctx: Context,
    user_id: CurrentUser,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    bucket: Literal["day", "week"] = "day",
):
    """Alerts, reviewed, dismissed, confirmed, missed and the false-positive rate, per period."""
    end = end or datetime.now(UTC) + timedelta(minutes=ctx.settings.max_future_minutes)
    start = start or end - timedelta(days=30)
    problem = None
    if start >= end:
        problem = "must be before 'to'"
    elif end - start > timedelta(days=ctx.settings.max_stats_days):
        problem = f"the range may span at most {ctx.settings.max_stats_days} days"
    if problem:
        detail = [{"field": "from", "message": problem, "type": "value_error"}]
        raise HTTPException(status_code=422, detail=detail)
    return feedback_stats(ctx.engine, user_id, start, end, ctx.settings.timezone, bucket)
