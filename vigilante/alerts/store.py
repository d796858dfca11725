"""Per-user storage of rules, budgets, webhooks and notification settings (what the routes call).

Every read and write is scoped by ``user_id``: another user's id is simply not found (None).
Validation beyond the schemas raises :class:`Invalid` (422, naming the field) or
:class:`Taken` (409).
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from vigilante.alerts import budgets as budget_math
from vigilante.alerts import rules, webhooks
from vigilante.config import Settings
from vigilante.db import write_transaction
from vigilante.rendering import iso_ms
from vigilante.service import now_ms
from vigilante.tables import (
    alert_rules,
    budgets,
    deliveries,
    delivery_attempts,
    notification_settings,
    users,
)
from vigilante.tables import webhooks as webhooks_table


class Invalid(ValueError):
    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


class Taken(ValueError):
    """A unique thing already exists (a budget for that category)."""


def _problem(field: str, message: str) -> Invalid:
    return Invalid([{"field": field, "message": message, "type": "value_error"}])


def _times(row) -> dict:
    return {"created_at": iso_ms(row["created_ms"]), "updated_at": iso_ms(row["updated_ms"])}


def _count(conn, table, user_id: int) -> int:
    return conn.execute(select(func.count()).where(table.c.user_id == user_id)).scalar()


# -- rules -------------------------------------------------------------------------------------


def rule_out(row) -> dict:
    base = {k: row[k] for k in ("id", "name", "kind", "severity", "enabled")}
    return base | rules.to_fields(row["params"]) | _times(row)


def list_rules(engine: Engine, user_id: int) -> list[dict]:
    q = select(alert_rules).where(alert_rules.c.user_id == user_id).order_by(alert_rules.c.id)
    with engine.connect() as conn:
        return [rule_out(r) for r in conn.execute(q).mappings()]


def get_rule(engine: Engine, user_id: int, rule_id: int) -> dict | None:
    with engine.connect() as conn:
        row = _rule_row(conn, user_id, rule_id)
    return rule_out(row) if row else None


def _rule_row(conn, user_id: int, rule_id: int):
    return (
        conn.execute(
            select(alert_rules).where(alert_rules.c.user_id == user_id, alert_rules.c.id == rule_id)
        )
        .mappings()
        .first()
    )


def create_rule(engine: Engine, settings: Settings, user_id: int, fields: dict) -> dict:
    problems = rules.problems(fields["kind"], fields, settings.max_amount)
    if problems:
        raise Invalid(problems)
    now = now_ms()
    with write_transaction(engine) as conn:
        if _count(conn, alert_rules, user_id) >= settings.max_rules:
            raise _problem("body", f"you have {settings.max_rules} rules, the most allowed")
        values = {k: fields[k] for k in ("name", "kind", "severity", "enabled")}
        params = rules.to_params(fields, settings.currency)
        rule_id = conn.execute(
            insert(alert_rules)
            .values(user_id=user_id, params=params, created_ms=now, updated_ms=now, **values)
            .returning(alert_rules.c.id)
        ).scalar_one()
        return rule_out(_rule_row(conn, user_id, rule_id))


def update_rule(
    engine: Engine, settings: Settings, user_id: int, rule_id: int, patch: dict
) -> dict | None:
    with write_transaction(engine) as conn:
        row = _rule_row(conn, user_id, rule_id)
        if row is None:
            return None
        for name in ("name", "severity", "enabled"):
            if name in patch and patch[name] is None:
                raise _problem(name, "may not be null")
        merged = rule_out(row) | patch
        problems = rules.problems(row["kind"], merged, settings.max_amount)
        if problems:
            raise Invalid(problems)
        conn.execute(
            update(alert_rules)
            .where(alert_rules.c.id == rule_id)
            .values(
                name=merged["name"],
                severity=merged["severity"],
                enabled=merged["enabled"],
                params=rules.to_params(merged, settings.currency),
                updated_ms=now_ms(),
            )
        )
        return rule_out(_rule_row(conn, user_id, rule_id))


def delete_owned(engine: Engine, table, user_id: int, item_id: int) -> bool:
    with write_transaction(engine) as conn:
        gone = conn.execute(delete(table).where(table.c.user_id == user_id, table.c.id == item_id))
    return gone.rowcount == 1


# -- budgets -----------------------------------------------------------------------------------


def budget_out(row, spent: list[tuple], month: str) -> dict:
    progress = budget_math.progress(row, budget_math.spent_cents(row, spent), month)
    return {
        "id": row["id"],
        "category": row["category"] or None,
        "currency": row["currency"],
        "limit": row["limit_cents"] / 100,
        "month": month,
        "spent": progress["spent_cents"] / 100,
        "left": progress["left_cents"] / 100,
        "percent": progress["percent"],
    } | _times(row)


def list_budgets(
    engine: Engine, user_id: int, month: str, timezone: str, budget_id: int | None = None
) -> list[dict]:
    q = select(budgets).where(budgets.c.user_id == user_id).order_by(budgets.c.id)
    if budget_id is not None:
        q = q.where(budgets.c.id == budget_id)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
        spent = budget_math.spending(conn, user_id, month, timezone) if rows else []
    return [budget_out(r, spent, month) for r in rows]


def create_budget(engine: Engine, settings: Settings, user_id: int, fields: dict) -> int:
    now = now_ms()
    category = fields.get("category") or ""
    try:
        with write_transaction(engine) as conn:
            if _count(conn, budgets, user_id) >= settings.max_budgets:
                raise _problem("body", f"you have {settings.max_budgets} budgets, the most allowed")
            return conn.execute(
                insert(budgets)
                .values(
                    user_id=user_id,
                    category=category,
                    category_key=rules.fold(category),
                    currency=fields.get("currency") or settings.currency,
                    limit_cents=int(fields["limit"] * 100),
                    created_ms=now,
                    updated_ms=now,
                )
                .returning(budgets.c.id)
            ).scalar_one()
    except IntegrityError:
        raise Taken("there is already a budget for this category and currency") from None


def update_budget(engine: Engine, user_id: int, budget_id: int, limit) -> bool:
    with write_transaction(engine) as conn:
        done = conn.execute(
            update(budgets)
            .where(budgets.c.user_id == user_id, budgets.c.id == budget_id)
            .values(limit_cents=int(limit * 100), updated_ms=now_ms())
        )
    return done.rowcount == 1


# -- webhooks ----------------------------------------------------------------------------------

_HOOK_FIELDS = ("id", "url", "description", "min_severity", "format", "enabled")


def webhook_out(row) -> dict:
    out = {k: row[k] for k in _HOOK_FIELDS}
    out |= {"disabled_reason": row["disabled_reason"]}
    out |= {"consecutive_failures": row["consecutive_failures"]} | _times(row)
    return out


def _hook_row(conn, user_id: int, webhook_id: int):
    w = webhooks_table
    return (
        conn.execute(select(w).where(w.c.user_id == user_id, w.c.id == webhook_id))
        .mappings()
        .first()
    )


def _safe_url(url: str, settings: Settings) -> str:
    try:
        return str(webhooks.check_url(url, settings.webhook_allow_private))
    except webhooks.UnsafeUrl as exc:
        raise _problem("url", str(exc)) from None


def list_webhooks(engine: Engine, user_id: int) -> list[dict]:
    w = webhooks_table
    with engine.connect() as conn:
        rows = conn.execute(select(w).where(w.c.user_id == user_id).order_by(w.c.id)).mappings()
        return [webhook_out(r) for r in rows]


def get_webhook(engine: Engine, user_id: int, webhook_id: int) -> dict | None:
    with engine.connect() as conn:
        row = _hook_row(conn, user_id, webhook_id)
    return webhook_out(row) if row else None


def create_webhook(engine: Engine, settings: Settings, user_id: int, fields: dict) -> dict:
    url = _safe_url(fields["url"], settings)
    now = now_ms()
    secret = webhooks.new_secret()
    with write_transaction(engine) as conn:
        if _count(conn, webhooks_table, user_id) >= settings.max_webhooks:
            raise _problem("body", f"you have {settings.max_webhooks} webhooks, the most allowed")
        webhook_id = conn.execute(
            insert(webhooks_table)
            .values(
                user_id=user_id,
                url=url,
                description=fields.get("description"),
                secret=secret,
                min_severity=fields["min_severity"],
                format=fields["format"],
                enabled=True,
                disabled_reason=None,
                consecutive_failures=0,
                created_ms=now,
                updated_ms=now,
            )
            .returning(webhooks_table.c.id)
        ).scalar_one()
        return webhook_out(_hook_row(conn, user_id, webhook_id)) | {"secret": secret}


def update_webhook(
    engine: Engine, settings: Settings, user_id: int, webhook_id: int, patch: dict
) -> dict | None:
    for name in ("url", "min_severity", "format", "enabled"):
        if name in patch and patch[name] is None:
            raise _problem(name, "may not be null")
    values = dict(patch)
    if "url" in values:
        values["url"] = _safe_url(values["url"], settings)
    if values.get("enabled") is True:
        values |= {"consecutive_failures": 0, "disabled_reason": None}
    with write_transaction(engine) as conn:
        if _hook_row(conn, user_id, webhook_id) is None:
            return None
        w = webhooks_table
        conn.execute(update(w).where(w.c.id == webhook_id).values(updated_ms=now_ms(), **values))
        return webhook_out(_hook_row(conn, user_id, webhook_id))


def webhook_deliveries(
    engine: Engine, user_id: int, webhook_id: int, limit: int, before_id: int | None
) -> list[dict]:
    d, a = deliveries, delivery_attempts
    q = select(d).where(d.c.user_id == user_id, d.c.webhook_id == webhook_id)
    if before_id is not None:
        q = q.where(d.c.id < before_id)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(d.c.id.desc()).limit(limit)).mappings().all()
        ids = [r["id"] for r in rows]
        log: dict[int, list[dict]] = {}
        if ids:
            for att in conn.execute(
                select(a).where(a.c.delivery_id.in_(ids)).order_by(a.c.id)
            ).mappings():
                log.setdefault(att["delivery_id"], []).append(
                    {
                        "attempt": att["attempt"],
                        "at": iso_ms(att["started_ms"]),
                        "duration_ms": att["duration_ms"],
                        "status_code": att["status_code"],
                        "error": att["error"],
                    }
                )
    return [
        {
            "id": r["id"],
            "event": r["event"],
            "alert_id": r["alert_id"],
            "state": r["state"],
            "attempts": r["attempts"],
            "next_attempt_at": iso_ms(r["next_attempt_ms"]) if r["state"] == "pending" else None,
            "last_status": r["last_status"],
            "last_error": r["last_error"],
            "created_at": iso_ms(r["created_ms"]),
            "finished_at": iso_ms(r["finished_ms"]),
            "attempt_log": log.get(r["id"], []),
        }
        for r in rows
    ]


# -- notification settings ---------------------------------------------------------------------


def get_me(engine: Engine, settings: Settings, user_id: int) -> dict:
    n = notification_settings
    with engine.connect() as conn:
        username = conn.execute(select(users.c.username).where(users.c.id == user_id)).scalar()
        row = conn.execute(select(n).where(n.c.user_id == user_id)).mappings().first()
    row = row or {}
    hour = row.get("digest_hour")
    return {
        "id": user_id,
        "username": username,
        "email": row.get("email"),
        "lang": row.get("lang") or settings.lang,
        "email_min_severity": row.get("email_min_severity", "high"),
        "daily_digest": row.get("daily_digest", False),
        "digest_hour": settings.digest_hour if hour is None else hour,
    }


def update_me(engine: Engine, settings: Settings, user_id: int, patch: dict) -> dict:
    for name in ("email_min_severity", "daily_digest", "digest_hour", "lang"):
        if name in patch and patch[name] is None:
            raise _problem(name, "may not be null")
    n = notification_settings
    with write_transaction(engine) as conn:
        if conn.execute(select(n.c.user_id).where(n.c.user_id == user_id)).first() is None:
            conn.execute(
                insert(n).values(
                    user_id=user_id,
                    email=None,
                    lang=None,
                    email_min_severity="high",
                    daily_digest=False,
                    digest_hour=None,
                    last_digest_ms=None,
                    updated_ms=now_ms(),
                )
            )
        conn.execute(update(n).where(n.c.user_id == user_id).values(updated_ms=now_ms(), **patch))
    return get_me(engine, settings, user_id)
