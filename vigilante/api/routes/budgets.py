"""Monthly budgets per category and overall, with what the month has spent and has left."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from vigilante.alerts import budgets as budget_math
from vigilante.alerts import store
from vigilante.alerts.schemas import BudgetIn, BudgetOut, BudgetPatch
from vigilante.api.deps import Context, CurrentUser
from vigilante.api.routes.rules import invalid
from vigilante.service import now_ms
from vigilante.tables import budgets

router = APIRouter(prefix="/budgets", tags=["budgets"])
BudgetId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Month = Annotated[
    str | None,
    Query(
        pattern=r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$",
        description="YYYY-MM (local time); default this month.",
    ),
]
NOT_FOUND = HTTPException(status_code=404, detail="budget not found")


def _month(ctx: Context, month: str | None) -> str:
    return month or budget_math.month_of(now_ms(), ctx.settings.timezone)


@router.get("", response_model=list[BudgetOut])
def list_budgets(ctx: Context, user_id: CurrentUser, month: Month = None):
    """Your budgets with the month's spent, left and percent (summed by the database)."""
    return store.list_budgets(ctx.engine, user_id, _month(ctx, month), ctx.settings.timezone)


def _one(ctx: Context, user_id: int, budget_id: int, month: str | None) -> dict:
    found = store.list_budgets(
        ctx.engine, user_id, _month(ctx, month), ctx.settings.timezone, budget_id
    )
    if not found:
        raise NOT_FOUND
    return found[0]


@router.post(
    "",
    status_code=201,
    response_model=BudgetOut,
    responses={409: {"description": "A budget for that category and currency exists"}},
)
def create_budget(body: BudgetIn, ctx: Context, user_id: CurrentUser):
    """Add a monthly budget: alerts at 80 % and at 100 %, once a month each."""
    try:
        budget_id = store.create_budget(ctx.engine, ctx.settings, user_id, body.model_dump())
    except store.Invalid as exc:
        raise invalid(exc) from None
    except store.Taken as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return _one(ctx, user_id, budget_id, None)


@router.get("/{budget_id}", response_model=BudgetOut)
def get_budget(budget_id: BudgetId, ctx: Context, user_id: CurrentUser, month: Month = None):
    """One of your budgets and its progress in a month."""
    return _one(ctx, user_id, budget_id, month)


@router.patch("/{budget_id}", response_model=BudgetOut)
def update_budget(budget_id: BudgetId, body: BudgetPatch, ctx: Context, user_id: CurrentUser):
    """Change the monthly limit."""
    if not store.update_budget(ctx.engine, user_id, budget_id, body.limit):
        raise NOT_FOUND
    return _one(ctx, user_id, budget_id, None)


@router.delete("/{budget_id}", status_code=204)
def delete_budget(budget_id: BudgetId, ctx: Context, user_id: CurrentUser):
    """Delete a budget; alerts it raised stay."""
    if not store.delete_owned(ctx.engine, budgets, user_id, budget_id):
        raise NOT_FOUND
    return Response(status_code=204)
