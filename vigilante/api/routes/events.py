"""Expenses: ingest one or many, page through them, read one, give feedback on one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from vigilante.api.callers import (
    CALLER_OPENAPI,
    INGEST_OPENAPI,
    IngestCaller,
    Reader,
    query_model,
    query_openapi,
)
from vigilante.api.deps import Context, CurrentUser, Lang
from vigilante.api.errors import unprocessable
from vigilante.api.responses import FastJSONResponse as JSONResponse
from vigilante.queries import get_event, list_events, set_feedback
from vigilante.schemas import EventQuery, ExpenseIn, ExpenseOut, FeedbackIn

router = APIRouter(tags=["events"])

ExpenseId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NOT_FOUND = HTTPException(status_code=404, detail="expense not found")
CONFLICT = {409: {"description": "Idempotency-Key reused with a different body"}}


@router.post(
    "/event",
    status_code=201,
    response_model=ExpenseOut,
    responses=CONFLICT,
    openapi_extra=INGEST_OPENAPI,
)
async def post_event(caller: IngestCaller, body: ExpenseIn):
    """Score and store one expense; the answer carries its score, severity and reasons."""
    # async: the request waits for the group commit without holding a thread-pool thread.
    out, _ = await caller.ctx.ingestor.ingest_async(
        caller.user_id, [body], caller.lang, caller.key, single=True
    )
    return JSONResponse(out[0], status_code=201)


@router.post(
    "/events",
    status_code=201,
    response_model=list[ExpenseOut],
    responses=CONFLICT,
    openapi_extra=INGEST_OPENAPI,
)
async def post_events(caller: IngestCaller, body: list[ExpenseIn]):
    """Score and store up to 10,000 expenses in order, each seeing the ones before it."""
    ctx = caller.ctx
    if not body or len(body) > ctx.settings.max_batch:
        detail = [
            {
                "field": "body",
                "type": "value_error",
                "message": f"must hold between 1 and {ctx.settings.max_batch} expenses",
            }
        ]
        raise HTTPException(status_code=422, detail=detail)
    out, _ = await ctx.ingestor.ingest_async(caller.user_id, body, caller.lang, caller.key)
    return JSONResponse(out, status_code=201)


EVENTS_OPENAPI = CALLER_OPENAPI | {
    "parameters": query_openapi(EventQuery) + CALLER_OPENAPI["parameters"]
}


@router.get("/events", response_model=list[ExpenseOut], openapi_extra=EVENTS_OPENAPI)
def get_events(caller: Reader, q: Annotated[EventQuery, Depends(query_model(EventQuery))]):
    """Your expenses, newest first; page with before_id, poll for new ones with after_id."""
    # The dashboard polls this every few seconds: one dependency and one model for the
    # filters (FastAPI resolving eleven separate parameters cost more than the query).
    ctx = caller.ctx
    if q.start is not None and q.end is not None and q.start >= q.end:  # as /stats says it
        return unprocessable("from", "must be before 'to'")
    limit = min(q.limit, ctx.settings.max_page)
    return JSONResponse(list_events(ctx.engine, caller.user_id, q, caller.lang, limit))


@router.get(
    "/events/{expense_id}",
    response_model=ExpenseOut,
    responses={404: {"description": "No such expense of yours"}},
)
def get_one_event(expense_id: ExpenseId, ctx: Context, user_id: CurrentUser, lang: Lang):
    """One of your expenses by id."""
    found = get_event(ctx.engine, user_id, expense_id, lang)
    if found is None:
        raise NOT_FOUND
    return JSONResponse(found)


@router.post(
    "/events/{expense_id}/feedback",
    response_model=ExpenseOut,
    responses={404: {"description": "No such expense of yours"}},
)
def post_feedback(
    expense_id: ExpenseId, body: FeedbackIn, ctx: Context, user_id: CurrentUser, lang: Lang
):
    """Mark an expense "legit" (this is fine) or "fraud" (confirmed); similar ones learn from it."""
    if not set_feedback(ctx.engine, user_id, expense_id, body.label):
        raise NOT_FOUND
    return JSONResponse(get_event(ctx.engine, user_id, expense_id, lang))
