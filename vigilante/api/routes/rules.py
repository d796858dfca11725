"""Rules a person writes: amount over X, blocked merchants or categories, weekend or night
spending, more than N expenses in M minutes. Each has a name, a severity and on/off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from vigilante.alerts import store
from vigilante.alerts.schemas import RuleIn, RuleOut, RulePatch
from vigilante.api.deps import Context, CurrentUser
from vigilante.tables import alert_rules

router = APIRouter(prefix="/rules", tags=["rules"])
RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NOT_FOUND = HTTPException(status_code=404, detail="rule not found")
INVALID = {422: {"description": "Invalid, or a rule that could never match: detail says why"}}


def invalid(exc: store.Invalid) -> HTTPException:
    return HTTPException(status_code=422, detail=exc.problems)


@router.get("", response_model=list[RuleOut])
def list_rules(ctx: Context, user_id: CurrentUser):
    """Your rules, oldest first."""
    return store.list_rules(ctx.engine, user_id)


@router.post("", status_code=201, response_model=RuleOut, responses=INVALID)
def create_rule(body: RuleIn, ctx: Context, user_id: CurrentUser):
    """Add a rule; it applies to expenses stored from now on."""
    try:
        return store.create_rule(ctx.engine, ctx.settings, user_id, body.model_dump())
    except store.Invalid as exc:
        raise invalid(exc) from None


@router.get("/{rule_id}", response_model=RuleOut, responses={404: {"description": "Not yours"}})
def get_rule(rule_id: RuleId, ctx: Context, user_id: CurrentUser):
    """One of your rules."""
    found = store.get_rule(ctx.engine, user_id, rule_id)
    if found is None:
        raise NOT_FOUND
    return found


@router.patch("/{rule_id}", response_model=RuleOut, responses=INVALID)
def update_rule(rule_id: RuleId, body: RulePatch, ctx: Context, user_id: CurrentUser):
    """Change some fields (e.g. `{"enabled": false}`); the rule is validated again as a whole."""
    try:
        found = store.update_rule(
            ctx.engine, ctx.settings, user_id, rule_id, body.model_dump(exclude_unset=True)
        )
    except store.Invalid as exc:
        raise invalid(exc) from None
    if found is None:
        raise NOT_FOUND
    return found


@router.delete("/{rule_id}", status_code=204, responses={404: {"description": "Not yours"}})
def delete_rule(rule_id: RuleId, ctx: Context, user_id: CurrentUser):
    """Delete a rule; alerts it raised stay, naming it."""
    if not store.delete_owned(ctx.engine, alert_rules, user_id, rule_id):
        raise NOT_FOUND
    return Response(status_code=204)
