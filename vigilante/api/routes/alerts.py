"""One alert feed: model anomalies, rule hits and budget crossings; acknowledge what you saw."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from vigilante.alerts import feed
from vigilante.alerts.schemas import AlertOut, AlertSummary
from vigilante.api.deps import Context, CurrentUser, Lang

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NOT_FOUND = HTTPException(status_code=404, detail="alert not found")


@router.get("", response_model=list[AlertOut])
def list_alerts(
    ctx: Context,
    user_id: CurrentUser,
    lang: Lang,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    state: Literal["open", "acked"] | None = None,
    source: Literal["model", "rule", "budget"] | None = None,
    severity: Literal["low", "medium", "high"] | None = None,
):
    """Your alerts, newest first; page with before_id; filter by state, source, severity."""
    f = feed.AlertFilter(
        limit=limit, before_id=before_id, state=state, source=source, severity=severity
    )
    return feed.list_alerts(ctx.engine, user_id, f, lang)


@router.get("/summary", response_model=AlertSummary)
def alert_summary(ctx: Context, user_id: CurrentUser):
    """How many alerts are waiting for you (open), by severity."""
    return feed.summary(ctx.engine, user_id)


@router.get("/{alert_id}", response_model=AlertOut, responses={404: {"description": "Not yours"}})
def get_alert(alert_id: AlertId, ctx: Context, user_id: CurrentUser, lang: Lang):
    """One of your alerts."""
    found = feed.get_alert(ctx.engine, user_id, alert_id, lang)
    if found is None:
        raise NOT_FOUND
    return found


@router.post(
    "/{alert_id}/ack", response_model=AlertOut, responses={404: {"description": "Not yours"}}
)
def ack_alert(alert_id: AlertId, ctx: Context, user_id: CurrentUser, lang: Lang):
    """Acknowledge an alert (seen); later hits of the same cause open a new one."""
    if not feed.ack_alert(ctx.engine, user_id, alert_id):
        raise NOT_FOUND
    return feed.get_alert(ctx.engine, user_id, alert_id, lang)
