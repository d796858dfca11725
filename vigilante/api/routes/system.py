"""Health and the detector's state."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, update

from vigilante.api.deps import Context, CurrentUser
from vigilante.db import database_ok
from vigilante.schemas import AlertRateIn, Health, ModelInfo
from vigilante.tables import users

DETECTOR_KIND = "per-user isolation forest + explicit evidence"

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(ctx: Context):
    """Liveness and readiness: database reachable, detector version; no login needed."""
    db_ok = database_ok(ctx.engine)
    body = {
        "status": "ok" if db_ok else "degraded",
        "database": "ok" if db_ok else "error",
        "model": DETECTOR_KIND,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)


def _alert_rate(ctx: Context, user_id: int) -> float:
    with ctx.engine.connect() as conn:
        rate = conn.execute(select(users.c.alert_rate).where(users.c.id == user_id)).scalar()
    return rate or ctx.settings.alert_rate


def _model_info(ctx: Context, user_id: int) -> dict:
    detector = ctx.detectors.for_user(user_id)
    rate = _alert_rate(ctx, user_id)
    return {
        "version": detector.version,
        # The prior detector was never fitted (its own stamp is when this server started).
        "trained_at": detector.trained_at.isoformat() if detector.flat is not None else None,
        "samples": detector.samples,
        "threshold": detector.threshold(rate),
        "alert_rate": rate,
        "kind": detector.kind,
    }


@router.get("/model", response_model=ModelInfo)
def get_model(ctx: Context, user_id: CurrentUser):
    """Your detector: version, when it was trained, on how many expenses, alert rate, threshold."""
    return _model_info(ctx, user_id)


@router.post(
    "/model/retrain",
    response_model=ModelInfo,
    responses={409: {"description": "Not enough history yet"}},
)
def retrain(ctx: Context, user_id: CurrentUser):
    """Retrain your detector now on your recent history and switch to the new version."""
    if ctx.detectors.retrain(user_id) is None:
        return JSONResponse(
            {"detail": f"need at least {ctx.detectors.min_samples} expenses to train"},
            status_code=409,
        )
    return _model_info(ctx, user_id)


@router.put("/model/alert_rate", response_model=ModelInfo)
def set_alert_rate(body: AlertRateIn, ctx: Context, user_id: CurrentUser):
    """Set the share of your expenses to flag (null = the server's default)."""
    with ctx.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(alert_rate=body.alert_rate))
    return _model_info(ctx, user_id)
