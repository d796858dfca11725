"""The alert worker: evaluates stored expenses into alerts and sends queued deliveries.

Ingestion never waits on it. It reads what ingestion has committed, per user, after a cursor
kept in the database (``alert_cursors.last_expense_id``): a user's expenses commit in id order
(ingestion holds the user's row lock while inserting), so every id up to the cursor has been
seen. A worker claims a user with a lease (``lease_owner``, ``lease_until_ms``); it moves the
cursor in the same transaction that stores the alerts and their deliveries, guarded by the
lease and the old cursor value, so several processes or hosts never evaluate an expense twice,
and a crash in between loses nothing. Deliveries are sent by a thread pool
(:mod:`vigilante.alerts.outbox`) that holds no database lock while a request is in flight.

The app's lifespan runs :meth:`AlertWorker.start` (two daemon threads, one evaluating and one
sending) and :meth:`AlertWorker.stop`. Tests drive one synchronous pass with
:meth:`AlertWorker.process_pending`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, bindparam, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from vigilante.alerts import at_least, mailer, webhooks
from vigilante.alerts import evaluate as ev
from vigilante.alerts.feed import alert_out
from vigilante.alerts.outbox import Sender, enqueue
from vigilante.config import Settings
from vigilante.db import in_chunks, write_transaction
from vigilante.service import now_ms
from vigilante.tables import (
    alert_cursors,
    alert_rules,
    alerts,
    budgets,
    expenses,
    notification_settings,
    users,
)
from vigilante.tables import webhooks as webhooks_table

log = logging.getLogger(__name__)
LEASE_MS = 60_000
DAY_MS = 86_400_000
UPDATED_COLUMNS = (
    "severity", "cause", "reasons", "hits", "amount_cents", "expense_ids", "last_expense_id",
    "first_occurred_ms", "last_occurred_ms", "last_received_ms", "updated_ms",
)  # fmt: skip


_UPDATE_OPEN = update(alerts).where(alerts.c.id == bindparam("alert_id"), alerts.c.state == "open")
_INSERT_MANY = insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True)


class LostLease(Exception):
    """Another worker took this user over (our lease expired): drop this batch."""


class AlertWorker:
    def __init__(
        self, engine: Engine, settings: Settings, *, clock: Callable[[], int] = now_ms
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # No keep-alive: requests go to a checked IP address with the host name as TLS SNI, and a
        # pooled connection (keyed by the IP) must not carry another host's request.
        self.http = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.sender = Sender(engine, settings, self.http)
        self._pool = ThreadPoolExecutor(
            settings.webhook_concurrency, thread_name_prefix="vigilante-delivery"
        )
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._idle_at: int | None = None  # newest expense id when a scan last found no work

    # -- running -------------------------------------------------------------------------------

    def process_pending(self, now: int | None = None) -> dict:
        """One whole pass, synchronously: evaluate, queue digests, send what is due."""
        now = self.clock() if now is None else now
        evaluated = self.evaluate_pending(now)
        digests = self.queue_digests(now)
        attempts = self.deliver_due(now, wait=True)
        return {"evaluated": evaluated, "digests": digests, "attempts": attempts}

    def start(self) -> None:
        self._stop.clear()
        for name, step in (("alerts", self._evaluate_step), ("deliveries", self._deliver_step)):
            thread = threading.Thread(
                target=self._loop, args=(step,), name=f"vigilante-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30) -> None:
        """Stop the loops; a request in flight finishes (bounded by the webhook timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.http.close()

    def _loop(self, step: Callable[[], object]) -> None:
        while not self._stop.is_set():
            try:
                step()
            except Exception:  # the loop must outlive a bad pass (database restarting, ...)
                log.exception("alert worker pass failed")
            self._stop.wait(self.settings.alerts_poll_seconds)

    def _evaluate_step(self) -> None:
        now = self.clock()
        self.evaluate_pending(now)
        self.queue_digests(now)

    def _deliver_step(self) -> None:
        self.deliver_due(self.clock(), wait=False)

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate_pending(self, now: int) -> int:
        """Evaluate every user's new expenses; returns how many expenses were evaluated."""
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(expenses.c.id))).scalar()
            if newest is None or newest == self._idle_at:
                return 0
            last = func.coalesce(alert_cursors.c.last_expense_id, 0)
            pending = (
                select(expenses.c.id)
                .where(expenses.c.user_id == users.c.id, expenses.c.id > last)
                .exists()
            )
            waiting = conn.execute(
                select(users.c.id)
                .select_from(users.outerjoin(alert_cursors, alert_cursors.c.user_id == users.c.id))
                .where(pending)
            ).scalars()
            user_ids = list(waiting)
        if not user_ids:
            self._idle_at = newest
        done = 0
        for user_id in user_ids:
            if self._stop.is_set() and self._threads:
                break
            done += self._evaluate_user(user_id, now)
        return done

    def _claim(self, user_id: int, now: int) -> bool:
        c = alert_cursors
        try:
            with write_transaction(self.engine) as conn:
                if conn.execute(select(c.c.user_id).where(c.c.user_id == user_id)).first() is None:
                    conn.execute(
                        insert(c).values(
                            user_id=user_id,
                            last_expense_id=0,
                            lease_owner=None,
                            lease_until_ms=0,
                            updated_ms=now,
                        )
                    )
                free = or_(
                    c.c.lease_owner.is_(None),
                    c.c.lease_owner == self.owner,
                    c.c.lease_until_ms < now,
                )
                return bool(
                    conn.execute(
                        update(c)
                        .where(c.c.user_id == user_id, free)
                        .values(lease_owner=self.owner, lease_until_ms=now + LEASE_MS)
                    ).rowcount
                )
        except IntegrityError:  # another worker created the cursor at the same moment
            return False

    def _release(self, user_id: int) -> None:
        c = alert_cursors
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(c)
                .where(c.c.user_id == user_id, c.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until_ms=0)
            )

    def _evaluate_user(self, user_id: int, now: int) -> int:
        if not self._claim(user_id, now):
            return 0
        done = 0
        try:
            while True:
                count = self._evaluate_batch(user_id, now)
                done += count
                if count < self.settings.alerts_batch:
                    break
        except LostLease:
            log.warning("lost the lease on user %s; another worker continues", user_id)
        finally:
            self._release(user_id)
        return done

    def _evaluate_batch(self, user_id: int, now: int) -> int:
        tz = self.settings.timezone
        with self.engine.connect() as conn:
            last = conn.execute(
                select(alert_cursors.c.last_expense_id).where(
                    alert_cursors.c.user_id == user_id,
                    alert_cursors.c.lease_owner == self.owner,
                )
            ).scalar()
            if last is None:
                raise LostLease()
            rule_rows = (
                conn.execute(
                    select(alert_rules)
                    .where(alert_rules.c.user_id == user_id, alert_rules.c.enabled.is_(True))
                    .order_by(alert_rules.c.id)
                )
                .mappings()
                .all()
            )
            budget_rows = (
                conn.execute(
                    select(budgets).where(budgets.c.user_id == user_id).order_by(budgets.c.id)
                )
                .mappings()
                .all()
            )
            new = select(*ev.EXPENSE_COLUMNS).where(
                expenses.c.user_id == user_id, expenses.c.id > last
            )
            if rule_rows or budget_rows:  # rules and budgets look at every expense
                rows = [
                    dict(r)
                    for r in conn.execute(
                        new.order_by(expenses.c.id).limit(self.settings.alerts_batch)
                    ).mappings()
                ]
                count, upper = len(rows), (rows[-1]["id"] if rows else None)
            else:
                # Only the model's verdicts can alert. The batch's new ids are counted in the
                # database (no row reaches Python), and whole rows are read only for the few
                # flagged, through the (user_id, is_anomaly, id) index: reading every new id
                # and verdict cost the API process ~20 µs of its GIL per expense at full load.
                window = (
                    select(expenses.c.id)
                    .where(expenses.c.user_id == user_id, expenses.c.id > last)
                    .order_by(expenses.c.id)
                    .limit(self.settings.alerts_batch)
                    .subquery()
                )
                count, upper = conn.execute(select(func.count(), func.max(window.c.id))).one()
                rows = []
                if count:
                    flagged = new.where(expenses.c.id <= upper, expenses.c.is_anomaly == true())
                    rows = [
                        dict(r) for r in conn.execute(flagged.order_by(expenses.c.id)).mappings()
                    ]
            if not count:
                return 0
            hits = [h for e in rows if (h := ev.model_hit(e)) is not None]
            hits += ev.rule_hits(conn, user_id, rows, rule_rows, tz)
            hits += ev.budget_hits(conn, user_id, rows, budget_rows, tz, now)
            order = {"model": 0, "rule": 1, "budget": 2}
            hits.sort(key=lambda h: (h.expense["id"], order[h.source]))
            window_ms = self.settings.alert_group_minutes * 60_000
            existing = ev.open_alerts(conn, user_id, hits, window_ms)
            hooks = (
                conn.execute(
                    select(webhooks_table).where(
                        webhooks_table.c.user_id == user_id, webhooks_table.c.enabled.is_(True)
                    )
                )
                .mappings()
                .all()
            )
            prefs = (
                conn.execute(
                    select(notification_settings).where(notification_settings.c.user_id == user_id)
                )
                .mappings()
                .first()
            )
        drafts = ev.group(hits, existing, window_ms, now)
        c = alert_cursors
        with write_transaction(self.engine) as conn:
            moved = conn.execute(
                update(c)
                .where(
                    c.c.user_id == user_id,
                    c.c.lease_owner == self.owner,
                    c.c.last_expense_id == last,
                )
                .values(last_expense_id=upper, lease_until_ms=now + LEASE_MS, updated_ms=now)
            ).rowcount
            if not moved:
                raise LostLease()
            for draft, event in self._store_all(conn, user_id, drafts, now):
                if event:
                    self._queue_deliveries(conn, user_id, draft, event, hooks, prefs, now)
        return count

    def _store_all(self, conn, user_id: int, drafts: list[ev.Draft], now: int) -> list:
        """Insert or update the drafts' alerts; (draft, event to deliver or None) in order.

        A statement for all updates and one per shape of insert: one statement per alert (~90
        a second for a spender streaming thousands of expenses) held the write lock, which the
        ingest waits for, for tens of milliseconds a pass.
        """
        stored = [d.existing_id for d in drafts if d.existing_id is not None]
        still_open: set[int] = set()
        for chunk in in_chunks(stored):
            still_open.update(
                conn.execute(
                    select(alerts.c.id)
                    .where(alerts.c.id.in_(chunk), alerts.c.state == "open")
                    .with_for_update()  # not acknowledged between this and the update
                ).scalars()
            )
        updates, inserts, events = [], {}, []
        for draft in drafts:
            row = draft.row
            if draft.existing_id in still_open:
                updates.append(
                    {"alert_id": draft.existing_id} | {k: row[k] for k in UPDATED_COLUMNS}
                )
                events.append((draft, "alert.escalated" if draft.escalated else None))
                continue
            if draft.existing_id is not None:  # acknowledged meanwhile: a new alert
                row |= {"created_ms": now, "state": "open", "acked_ms": None}
            values = {"user_id": user_id} | {
                k: v for k, v in row.items() if k not in ("id", "user_id")
            }
            inserts.setdefault(tuple(values), []).append((draft, values))
            events.append((draft, "alert.created"))
        if updates:
            conn.execute(_UPDATE_OPEN, updates)
        for shape in inserts.values():
            ids = conn.execute(_INSERT_MANY, [values for _, values in shape]).scalars().all()
            for (draft, _), alert_id in zip(shape, ids, strict=True):
                draft.row["id"] = alert_id
                draft.existing_id, draft.before_severity = alert_id, draft.row["severity"]
        return events

    def _queue_deliveries(self, conn, user_id, draft, event, hooks, prefs, now) -> None:
        row = draft.row
        email = bool(prefs and prefs["email"] and mailer.configured(self.settings))
        if not (hooks or email):  # nobody to tell: skip rendering the alert (inside the lock)
            return
        lang = (prefs and prefs["lang"]) or self.settings.lang
        alert = alert_out(row, lang)
        for hook in hooks:
            if at_least(row["severity"], hook["min_severity"]):
                body = webhooks.payload(hook["format"], event, alert, lang, now)
                enqueue(
                    conn,
                    now,
                    user_id=user_id,
                    channel="webhook",
                    webhook_id=hook["id"],
                    alert_id=row["id"],
                    event=event,
                    payload=body,
                )
        if email:
            minimum = prefs["email_min_severity"]
            if at_least(row["severity"], minimum):
                subject, body = mailer.immediate(alert, lang)
                enqueue(
                    conn,
                    now,
                    user_id=user_id,
                    channel="email",
                    recipient=prefs["email"],
                    alert_id=row["id"],
                    event=event,
                    subject=subject,
                    payload=body,
                )

    # -- digests -------------------------------------------------------------------------------

    def queue_digests(self, now: int) -> int:
        """Queue each user's daily digest once its local hour has come; returns how many."""
        if not mailer.configured(self.settings):
            return 0
        n = notification_settings
        with self.engine.connect() as conn:
            due = (
                conn.execute(select(n).where(n.c.daily_digest.is_(True), n.c.email.is_not(None)))
                .mappings()
                .all()
            )
        queued = 0
        zone = ZoneInfo(self.settings.timezone)
        for prefs in due:
            hour = (
                self.settings.digest_hour if prefs["digest_hour"] is None else prefs["digest_hour"]
            )
            local_now = datetime.fromtimestamp(now / 1000, zone)
            moment = local_now.replace(hour=hour, minute=0, second=0, microsecond=0)
            if moment > local_now:
                moment -= timedelta(days=1)
            moment_ms = int(moment.timestamp() * 1000)
            previous = prefs["last_digest_ms"]
            if previous is not None and previous >= moment_ms:
                continue
            since = max(previous or 0, moment_ms - DAY_MS)
            queued += self._queue_digest(prefs, previous, since, moment_ms, moment, now)
        return queued

    def _queue_digest(self, prefs, previous, since, moment_ms, moment, now) -> int:
        n = notification_settings
        user_id = prefs["user_id"]
        lang = prefs["lang"] or self.settings.lang
        with write_transaction(self.engine) as conn:
            unchanged = (
                n.c.last_digest_ms.is_(None) if previous is None else n.c.last_digest_ms == previous
            )
            won = conn.execute(
                update(n).where(n.c.user_id == user_id, unchanged).values(last_digest_ms=moment_ms)
            ).rowcount
            if not won:
                return 0
            rows = (
                conn.execute(
                    select(alerts)
                    .where(
                        alerts.c.user_id == user_id,
                        alerts.c.created_ms >= since,
                        alerts.c.created_ms < moment_ms,
                    )
                    .order_by(alerts.c.id.desc())
                    .limit(mailer.DIGEST_MAX + 1)
                )
                .mappings()
                .all()
            )
            if not rows:
                return 0
            total = conn.execute(
                select(func.count()).where(
                    alerts.c.user_id == user_id,
                    alerts.c.created_ms >= since,
                    alerts.c.created_ms < moment_ms,
                )
            ).scalar()
            day = moment.strftime("%d/%m/%Y" if lang != "en" else "%Y-%m-%d")
            subject, body = mailer.digest([alert_out(r, lang) for r in rows], total, lang, day)
            enqueue(
                conn,
                now,
                user_id=user_id,
                channel="email",
                recipient=prefs["email"],
                event="digest",
                subject=subject,
                payload=body,
            )
        return 1

    # -- delivery ------------------------------------------------------------------------------

    def deliver_due(self, now: int, wait: bool = False) -> int:
        """Claim due deliveries up to the free senders and send them; returns how many."""
        with self._lock:
            free = self.settings.webhook_concurrency - self._in_flight
        claimed = self.sender.claim_due(now, free if not wait else max(free, 1) * 50)
        futures = []
        for delivery_id in claimed:
            with self._lock:
                self._in_flight += 1
            futures.append(self._pool.submit(self._attempt, delivery_id, now))
        if wait:
            for future in futures:
                future.result()
        return len(claimed)

    def _attempt(self, delivery_id: int, now: int) -> None:
        try:
            self.sender.attempt(delivery_id, now)
        except Exception:
            log.exception("delivery %s failed unexpectedly", delivery_id)
        finally:
            with self._lock:
                self._in_flight -= 1

    def send_now(self, user_id: int, now: int | None = None, **delivery) -> dict:
        """Queue a delivery already claimed by this process and attempt it once, now."""
        now = self.clock() if now is None else now
        with write_transaction(self.engine) as conn:
            delivery_id = enqueue(
                conn, now, user_id=user_id, next_attempt_ms=now + self.sender.claim_ms, **delivery
            )
        return self.sender.attempt(delivery_id, now) or {}
