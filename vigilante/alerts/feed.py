"""The alert feed: an alert row -> its public JSON, pages of a user's alerts, acknowledging one.

Every query is scoped by ``user_id`` first; another user's alert is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select, update

from vigilante.alerts.messages import render_reason, render_title
from vigilante.db import write_transaction
from vigilante.rendering import iso_ms
from vigilante.service import now_ms
from vigilante.tables import alerts


def money_fields(values: dict) -> dict:
    """``*_cents`` integers -> decimals without the suffix (the API speaks decimals)."""
    out = {}
    for key, value in values.items():
        if key == "cents" or key.endswith("_cents"):
            name = "amount" if key == "cents" else key.removesuffix("_cents")
            out[name] = value / 100 if isinstance(value, int | float) else value
        else:
            out[key] = value
    return out


def alert_out(row, lang: str) -> dict:
    currency = row["currency"]
    return {
        "id": row["id"],
        "source": row["source"],
        "severity": row["severity"],
        "state": row["state"],
        "title": render_title(row, lang),
        "cause": money_fields(row["cause"]),
        "reasons": [
            {
                "code": r["code"],
                "message": render_reason(r["code"], r["params"], lang, currency),
                "params": money_fields(r["params"]),
            }
            for r in row["reasons"]
        ],
        "account": row["account"] or None,
        "currency": currency,
        "count": row["hits"],
        "amount": row["amount_cents"] / 100,
        "expense_id": row["last_expense_id"],
        "expense_ids": list(row["expense_ids"]),
        "first_at": iso_ms(row["first_occurred_ms"]),
        "last_at": iso_ms(row["last_occurred_ms"]),
        "period": row["period"],
        "created_at": iso_ms(row["created_ms"]),
        "updated_at": iso_ms(row["updated_ms"]),
        "acked_at": iso_ms(row["acked_ms"]),
    }


_COLUMNS = [c for c in alerts.c if c.name not in ("user_id", "group_key", "dedupe_key")]


@dataclass
class AlertFilter:
    limit: int = 50
    before_id: int | None = None
    state: str | None = None
    source: str | None = None
    severity: str | None = None


def list_alerts(engine: Engine, user_id: int, f: AlertFilter, lang: str) -> list[dict]:
    """Newest first, ``limit`` at most, older than ``before_id`` when given."""
    q = select(*_COLUMNS).where(alerts.c.user_id == user_id)
    if f.state:
        q = q.where(alerts.c.state == f.state)
    if f.source:
        q = q.where(alerts.c.source == f.source)
    if f.severity:
        q = q.where(alerts.c.severity == f.severity)
    if f.before_id is not None:
        q = q.where(alerts.c.id < f.before_id)
    q = q.order_by(alerts.c.id.desc()).limit(f.limit)
    with engine.connect() as conn:
        return [alert_out(row, lang) for row in conn.execute(q).mappings()]


def get_alert(engine: Engine, user_id: int, alert_id: int, lang: str) -> dict | None:
    q = select(*_COLUMNS).where(alerts.c.user_id == user_id, alerts.c.id == alert_id)
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return alert_out(row, lang) if row else None


def ack_alert(engine: Engine, user_id: int, alert_id: int) -> bool:
    """Mark an alert seen; acknowledging twice keeps the first time. False: not yours."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(alerts)
            .where(alerts.c.user_id == user_id, alerts.c.id == alert_id, alerts.c.state == "open")
            .values(state="acked", acked_ms=now_ms())
        )
        found = conn.execute(
            select(alerts.c.id).where(alerts.c.user_id == user_id, alerts.c.id == alert_id)
        ).first()
    return found is not None


def summary(engine: Engine, user_id: int) -> dict:
    q = (
        select(alerts.c.severity, func.count())
        .where(alerts.c.user_id == user_id, alerts.c.state == "open")
        .group_by(alerts.c.severity)
    )
    with engine.connect() as conn:
        counts = {severity: n for severity, n in conn.execute(q)}
    by_severity = {s: counts.get(s, 0) for s in ("high", "medium", "low")}
    return {"open": sum(by_severity.values()), "open_by_severity": by_severity}
