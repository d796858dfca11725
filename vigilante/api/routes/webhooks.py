"""Webhooks: URLs that receive your alerts as signed JSON (docs/alerts.md), with a test button
and the log of every delivery attempt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from vigilante.alerts import store
from vigilante.alerts import webhooks as hooks
from vigilante.alerts.schemas import (
    DeliveryOut,
    TestResult,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from vigilante.alerts.worker import AlertWorker
from vigilante.api.deps import Context, CurrentUser, Lang
from vigilante.api.routes.rules import invalid
from vigilante.tables import webhooks as webhooks_table

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=2**63 - 1)]
NOT_FOUND = HTTPException(status_code=404, detail="webhook not found")


def alert_worker(request: Request) -> AlertWorker:
    return request.app.state.alerts


Worker = Annotated[AlertWorker, Depends(alert_worker)]


@router.get("", response_model=list[WebhookOut])
def list_webhooks(ctx: Context, user_id: CurrentUser):
    """Your webhooks (secrets are never shown again)."""
    return store.list_webhooks(ctx.engine, user_id)


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookIn, ctx: Context, user_id: CurrentUser):
    """Register a URL; the answer holds the signing secret, shown this once."""
    try:
        return store.create_webhook(ctx.engine, ctx.settings, user_id, body.model_dump())
    except store.Invalid as exc:
        raise invalid(exc) from None


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: WebhookId, ctx: Context, user_id: CurrentUser):
    """One webhook: enabled, or disabled with the reason."""
    found = store.get_webhook(ctx.engine, user_id, webhook_id)
    if found is None:
        raise NOT_FOUND
    return found


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: WebhookId, body: WebhookPatch, ctx: Context, user_id: CurrentUser):
    """Change fields; `{"enabled": true}` re-enables a webhook disabled after failures."""
    try:
        found = store.update_webhook(
            ctx.engine, ctx.settings, user_id, webhook_id, body.model_dump(exclude_unset=True)
        )
    except store.Invalid as exc:
        raise invalid(exc) from None
    if found is None:
        raise NOT_FOUND
    return found


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: WebhookId, ctx: Context, user_id: CurrentUser):
    """Delete a webhook and its delivery log."""
    if not store.delete_owned(ctx.engine, webhooks_table, user_id, webhook_id):
        raise NOT_FOUND
    return Response(status_code=204)


@router.post("/{webhook_id}/test", response_model=TestResult)
def send_test(
    webhook_id: WebhookId, ctx: Context, user_id: CurrentUser, lang: Lang, worker: Worker
):
    """Send a signed test event now and say what the endpoint answered (recorded, not retried)."""
    hook = store.get_webhook(ctx.engine, user_id, webhook_id)
    if hook is None:
        raise NOT_FOUND
    now = worker.clock()
    body = hooks.payload(hook["format"], "test", None, lang, now)
    return worker.send_now(
        user_id, now, channel="webhook", webhook_id=webhook_id, event="test", payload=body
    )


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    webhook_id: WebhookId,
    ctx: Context,
    user_id: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
):
    """Deliveries to this webhook, newest first, each with every attempt it took."""
    if store.get_webhook(ctx.engine, user_id, webhook_id) is None:
        raise NOT_FOUND
    return store.webhook_deliveries(ctx.engine, user_id, webhook_id, limit, before_id)
