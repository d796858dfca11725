"""Your notification settings: e-mail address, language, immediate mail and daily digest."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from vigilante.alerts import mailer, store
from vigilante.alerts.schemas import MeOut, MePatch, TestResult
from vigilante.api.deps import Context, CurrentUser
from vigilante.api.routes.rules import invalid
from vigilante.api.routes.webhooks import Worker

router = APIRouter(prefix="/me", tags=["me"])


@router.get("", response_model=MeOut)
def get_me(ctx: Context, user_id: CurrentUser):
    """Who you are and how you are told about alerts."""
    return store.get_me(ctx.engine, ctx.settings, user_id)


@router.patch("", response_model=MeOut)
def update_me(body: MePatch, ctx: Context, user_id: CurrentUser):
    """Set your e-mail (null stops e-mail), language, immediate-mail severity, digest."""
    try:
        return store.update_me(
            ctx.engine, ctx.settings, user_id, body.model_dump(exclude_unset=True)
        )
    except store.Invalid as exc:
        raise invalid(exc) from None


@router.post(
    "/test-email",
    response_model=TestResult,
    responses={409: {"description": "No e-mail set, or the server has no SMTP settings"}},
)
def send_test_email(ctx: Context, user_id: CurrentUser, worker: Worker):
    """Send a test e-mail now, in your language, and say whether the mail server took it."""
    if not mailer.configured(ctx.settings):
        raise HTTPException(409, "e-mail is not configured on this server (VIGILANTE_SMTP_HOST)")
    me = store.get_me(ctx.engine, ctx.settings, user_id)
    if not me["email"]:
        raise HTTPException(409, 'set your e-mail first: PATCH /me {"email": ...}')
    subject, body = mailer.test_mail(me["lang"])
    return worker.send_now(
        user_id,
        channel="email",
        recipient=me["email"],
        event="test",
        subject=subject,
        payload=body,
    )
