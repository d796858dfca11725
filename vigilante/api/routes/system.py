"""Health and the detector's state."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vigilante.api.deps import Context, CurrentUser
from vigilante.db import database_ok
from vigilante.schemas import Health, ModelInfo

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health(ctx: Context):
    """Liveness and readiness: database reachable, detector version; no login needed."""
    db_ok = database_ok(ctx.engine)
    body = {
        "status": "ok" if db_ok else "degraded",
        "database": "ok" if db_ok else "error",
        "model": ctx.detectors.current.version,
    }
    return JSONResponse(body, status_code=200 if db_ok else 503)


def _model_info(ctx: Context, user_id: int) -> dict:
    detector = ctx.detectors.current
    return {
        "version": detector.version,
        "trained_at": detector.trained_at.isoformat(),
        "samples": detector.samples,
        "threshold": detector.threshold(ctx.settings.alert_rate),
        "kind": detector.kind,
    }


@router.get("/model", response_model=ModelInfo)
def get_model(ctx: Context, user_id: CurrentUser):
    """The detector now scoring: version, when it was trained, on how many expenses, threshold."""
    return _model_info(ctx, user_id)


@router.post(
    "/model/retrain",
    response_model=ModelInfo,
    responses={409: {"description": "Not enough history yet"}},
)
def retrain(ctx: Context, user_id: CurrentUser):
    """Retrain the detector now on recent history and switch to the new version."""
    if ctx.detectors.retrain() is None:
        return JSONResponse(
            {"detail": f"need at least {ctx.detectors.min_samples} expenses to train"},
            status_code=409,
        )
    return _model_info(ctx, user_id)
