"""The outbox: deliveries (webhook POSTs, e-mails) wait in the database until sent.

A sender claims a due delivery by pushing its due time ahead with a guarded ``UPDATE`` (only one
process wins it), sends it without holding any database lock, and records the attempt. A
failure is retried after ``base · 2^(attempt-1)`` seconds (capped at ``max``) until
``VIGILANTE_WEBHOOK_RETRY_HOURS`` after the delivery was queued; then it is marked failed. A
webhook failing ``VIGILANTE_WEBHOOK_DISABLE_AFTER`` times in a row is disabled with the reason,
and its pending deliveries are dropped. A process that dies mid-send leaves the claim to
expire, so the delivery is sent again: receivers de-duplicate by ``Vigilante-Delivery``.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, insert, select, update

from vigilante.alerts import mailer, webhooks
from vigilante.config import Settings
from vigilante.db import write_transaction
from vigilante.rendering import iso_ms
from vigilante.tables import deliveries, delivery_attempts
from vigilante.tables import webhooks as webhooks_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    base_ms: int
    max_ms: int
    window_ms: int
    disable_after: int

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(
            base_ms=int(s.webhook_retry_base_seconds * 1000),
            max_ms=int(s.webhook_retry_max_seconds * 1000),
            window_ms=int(s.webhook_retry_hours * 3_600_000),
            disable_after=s.webhook_disable_after,
        )

    def delay_ms(self, attempts: int) -> int:
        """Wait after the ``attempts``-th failure."""
        return min(self.max_ms, self.base_ms * 2 ** min(attempts - 1, 40))


def enqueue(conn, now: int, **values) -> int:
    """Queue one delivery (``channel``, ``user_id``, ``event``, ``payload``, ...); due now."""
    row = {
        "webhook_id": None,
        "alert_id": None,
        "recipient": None,
        "subject": None,
        "state": "pending",
        "attempts": 0,
        "next_attempt_ms": now,
        "created_ms": now,
    } | values
    return conn.execute(insert(deliveries).values(**row).returning(deliveries.c.id)).scalar_one()


@dataclass
class Sender:
    engine: Engine
    settings: Settings
    http: httpx.Client

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy.from_settings(self.settings)

    @property
    def claim_ms(self) -> int:
        return (
            int(
                max(self.settings.webhook_timeout_seconds, self.settings.smtp_timeout_seconds)
                * 1000
            )
            + 60_000
        )

    def claim_due(self, now: int, limit: int) -> list[int]:
        """Claim up to ``limit`` due deliveries for this process; returns their ids."""
        if limit <= 0:
            return []
        with self.engine.connect() as conn:
            due = conn.execute(
                select(deliveries.c.id, deliveries.c.next_attempt_ms)
                .where(deliveries.c.state == "pending", deliveries.c.next_attempt_ms <= now)
                .order_by(deliveries.c.next_attempt_ms)
                .limit(limit)
            ).all()
        claimed = []
        for delivery_id, due_ms in due:
            with write_transaction(self.engine) as conn:
                won = conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.state == "pending",
                        deliveries.c.next_attempt_ms == due_ms,
                    )
                    .values(next_attempt_ms=now + self.claim_ms)
                ).rowcount
            if won:
                claimed.append(delivery_id)
        return claimed

    def attempt(self, delivery_id: int, now: int) -> dict | None:
        """Send a claimed delivery once and record what happened; returns the attempt."""
        with self.engine.connect() as conn:
            d = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
            hook = None
            if d is not None and d.webhook_id is not None:
                hook = conn.execute(
                    select(webhooks_table).where(webhooks_table.c.id == d.webhook_id)
                ).first()
        if d is None or d.state != "pending":
            return None
        if d.channel == "webhook" and (hook is None or (not hook.enabled and d.event != "test")):
            reason = "webhook disabled" if hook is not None else "webhook deleted"
            self._finish(d, "failed", reason, now)
            return None
        if d.channel == "webhook":
            outcome = webhooks.post(
                self.http,
                hook.url,
                hook.secret,
                d.payload,
                event=d.event,
                delivery_id=d.id,
                allow_private=self.settings.webhook_allow_private,
                timeout=self.settings.webhook_timeout_seconds,
            )
        else:
            outcome = self._mail(d)
        self._record(d, hook, outcome, now)
        return {
            "delivered": outcome.ok,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        }

    def _mail(self, d) -> webhooks.Outcome:
        started = time.monotonic()
        error = None
        if not mailer.configured(self.settings):
            error = "e-mail is not configured on this server (VIGILANTE_SMTP_HOST)"
        else:
            try:
                mailer.send(self.settings, d.recipient, d.subject, d.payload)
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
        elapsed = int((time.monotonic() - started) * 1000)
        return webhooks.Outcome(error is None, None, error, None, elapsed)

    def _finish(self, d, state: str, error: str | None, now: int) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == d.id)
                .values(state=state, last_error=error, finished_ms=now)
            )

    def _record(self, d, hook, outcome: webhooks.Outcome, now: int) -> None:
        policy = self.policy
        attempts = d.attempts + 1
        values = {
            "attempts": attempts,
            "last_status": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values |= {"state": "delivered", "finished_ms": now}
        else:
            next_ms = now + policy.delay_ms(attempts)
            if d.event == "test" or next_ms > d.created_ms + policy.window_ms:
                values |= {"state": "failed", "finished_ms": now}
                if d.event != "test":
                    tries = f"{attempts} attempt" + ("" if attempts == 1 else "s")
                    values["last_error"] = f"gave up after {tries}: {outcome.error}"[:500]
            else:
                values["next_attempt_ms"] = next_ms
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(delivery_attempts).values(
                    delivery_id=d.id,
                    attempt=attempts,
                    started_ms=now,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response=outcome.response,
                )
            )
            conn.execute(update(deliveries).where(deliveries.c.id == d.id).values(**values))
            if hook is not None and d.event != "test":
                self._webhook_health(conn, hook.id, outcome, now)

    def _webhook_health(self, conn, webhook_id: int, outcome: webhooks.Outcome, now: int) -> None:
        w = webhooks_table
        if outcome.ok:
            conn.execute(update(w).where(w.c.id == webhook_id).values(consecutive_failures=0))
            return
        conn.execute(
            update(w)
            .where(w.c.id == webhook_id)
            .values(consecutive_failures=w.c.consecutive_failures + 1)
        )
        failures, enabled = conn.execute(
            select(w.c.consecutive_failures, w.c.enabled).where(w.c.id == webhook_id)
        ).one()
        if not enabled or failures < self.policy.disable_after:
            return
        reason = (
            f"disabled at {iso_ms(now)} after {failures} failed deliveries in a row; "
            f"last: {outcome.error}"
        )[:500]
        conn.execute(
            update(w)
            .where(w.c.id == webhook_id)
            .values(enabled=False, disabled_reason=reason, updated_ms=now)
        )
        conn.execute(
            update(deliveries)
            .where(deliveries.c.webhook_id == webhook_id, deliveries.c.state == "pending")
            .values(state="failed", last_error="webhook disabled", finished_ms=now)
        )
        log.warning("webhook %s %s", webhook_id, reason)
