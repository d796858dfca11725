"""What your feedback says about the alerts: the false-positive rate over time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from vigilante.api.deps import Context, CurrentUser
from vigilante.api.routes.stats import period
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
    start, end = period(ctx, start, end)
    return feedback_stats(ctx.engine, user_id, start, end, ctx.settings.timezone, bucket)
