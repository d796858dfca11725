"""New expenses -> hits (model anomaly, rule match, budget crossing) -> grouped alerts.

Grouping keeps one alert per cause and spender: hits with the same key join an open alert when
they happened within ``VIGILANTE_ALERT_GROUP_MINUTES`` of its first expense, or arrived in the
same request (an import is one batch). The key of a model anomaly is the spender (account) and
the merchant (else the category), so a burst of six charges is one alert with a count of six;
a rule's key is the rule and the spender; a budget crossing is once per budget, month and
threshold. An alert that is acknowledged takes no more hits: the next one opens a new alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select

from vigilante.alerts import SEVERITY_RANK, budgets, rules
from vigilante.db import IN_LIST_MAX, in_chunks
from vigilante.tables import alerts, expenses

MAX_EXPENSE_IDS = 100
MAX_MODEL_REASONS = 3
_NOT_READ = ("description", "external_id", "features", "evidence", "feedback", "feedback_ms")
EXPENSE_COLUMNS = [c for c in expenses.c if c.name not in _NOT_READ and c.name != "user_id"]


@dataclass
class Hit:
    source: str
    group_key: str
    severity: str
    cause: dict
    reasons: list[dict]
    expense: dict
    rule_id: int | None = None
    budget_id: int | None = None
    dedupe_key: str | None = None
    period: str | None = None


@dataclass
class Draft:
    """An alert to insert (``existing_id`` None) or to update, after this pass's hits."""

    row: dict
    existing_id: int | None = None
    before_severity: str | None = None
    fresh: bool = field(default=False)

    @property
    def escalated(self) -> bool:
        return (
            self.existing_id is not None
            and SEVERITY_RANK[self.row["severity"]] > (SEVERITY_RANK[self.before_severity or "low"])
        )


def _key(*parts) -> str:
    key = "|".join(str(p) for p in parts)
    return key if len(key) <= 400 else key[:330] + "|" + hashlib.sha256(key.encode()).hexdigest()


def model_hit(expense: dict) -> Hit | None:
    if not expense["is_anomaly"]:
        return None
    where = expense["merchant"] or expense["category"]
    kind = "m" if expense["merchant"] else "c"
    severity = expense["severity"] if expense["severity"] in SEVERITY_RANK else "low"
    return Hit(
        source="model",
        group_key=_key("model", expense["account"], kind, rules.fold(where)),
        severity="low" if severity == "none" else severity,
        cause={
            "kind": "model",
            "model_version": expense["model_version"],
            "score": round(float(expense["score"]), 4),
            "merchant": expense["merchant"],
            "category": expense["category"],
        },
        reasons=[
            {"code": r["code"], "params": r.get("params", {})}
            for r in expense["reasons"][:MAX_MODEL_REASONS]
        ],
        expense=expense,
    )


def rule_hits(conn: Connection, user_id: int, rows: list[dict], rule_rows, tz: str) -> list[Hit]:
    zone = ZoneInfo(tz)
    found = []
    for rule in rule_rows:
        params = rule["params"]
        for expense in rows:
            if rule["kind"] == "frequency":
                reason = _frequency(conn, user_id, params, expense)
            else:
                local = datetime.fromtimestamp(expense["occurred_ms"] / 1000, zone)
                reason = rules.match(rule["kind"], params, expense, local)
            if reason is None:
                continue
            found.append(
                Hit(
                    source="rule",
                    group_key=_key("rule", rule["id"], expense["account"]),
                    severity=rule["severity"],
                    cause={
                        "kind": "rule",
                        "rule_id": rule["id"],
                        "rule_name": rule["name"],
                        "rule_kind": rule["kind"],
                    },
                    reasons=[{"code": f"rule_{rule['kind']}", "params": reason}],
                    expense=expense,
                    rule_id=rule["id"],
                )
            )
    return found


def _frequency(conn: Connection, user_id: int, params: dict, expense: dict) -> dict | None:
    """More than ``count`` expenses in scope within ``minutes`` up to this one?"""
    if not rules.in_scope(params, expense):
        return None
    window = params["minutes"] * 60_000
    nearby = conn.execute(
        select(
            expenses.c.category,
            expenses.c.merchant,
            expenses.c.account,
            expenses.c.currency,
            expenses.c.amount_cents,
        )
        .where(
            expenses.c.user_id == user_id,
            expenses.c.occurred_ms > expense["occurred_ms"] - window,
            expenses.c.occurred_ms <= expense["occurred_ms"],
        )
        .limit(params["count"] * 20 + 1000)
    ).mappings()
    count = sum(1 for other in nearby if rules.in_scope(params, other))
    if count <= params["count"]:
        return None
    return {"count": count, "minutes": params["minutes"], "limit": params["count"]}


def budget_hits(
    conn: Connection, user_id: int, rows: list[dict], budget_rows, tz: str, now: int
) -> list[Hit]:
    """Crossings of 80 % / 100 % in the months the new expenses fall in (this and last month)."""
    if not budget_rows:
        return []
    this_month = budgets.month_of(now, tz)
    recent = {this_month, budgets.previous_month(this_month)}
    by_month: dict[str, list[dict]] = {}
    for expense in rows:
        month = budgets.month_of(expense["occurred_ms"], tz)
        if month in recent:
            by_month.setdefault(month, []).append(expense)
    found = []
    for month, in_month in sorted(by_month.items()):
        spent = budgets.spending(conn, user_id, month, tz)
        for budget in budget_rows:
            scoped = [
                e
                for e in in_month
                if e["currency"] == budget["currency"]
                and (
                    not budget["category_key"]
                    or rules.fold(e["category"]) == budget["category_key"]
                )
            ]
            if not scoped:
                continue
            total = budgets.spent_cents(budget, spent)
            threshold = budgets.crossed(total, budget["limit_cents"])
            if threshold is None:
                continue
            done = _budget_keys_done(conn, user_id, budget["id"], month)
            if f"{threshold}" in done or "100" in done:
                continue
            progress = budgets.progress(budget, total, month)
            category = budget["category"] or None
            found.append(
                Hit(
                    source="budget",
                    group_key=_key("budget", budget["id"], month, threshold),
                    dedupe_key=_key("budget", budget["id"], month, threshold),
                    severity=budgets.SEVERITY[threshold],
                    cause={
                        "kind": "budget",
                        "budget_id": budget["id"],
                        "category": category,
                        "threshold": threshold,
                    }
                    | progress,
                    reasons=[
                        {"code": f"budget_{threshold}", "params": {"category": category} | progress}
                    ],
                    expense=max(scoped, key=lambda e: e["id"]),
                    budget_id=budget["id"],
                    period=month,
                )
            )
    return found


def _budget_keys_done(conn: Connection, user_id: int, budget_id: int, month: str) -> set[str]:
    keys = {_key("budget", budget_id, month, t): str(t) for t in budgets.THRESHOLDS}
    found = conn.execute(
        select(alerts.c.dedupe_key).where(
            alerts.c.user_id == user_id, alerts.c.dedupe_key.in_(list(keys))
        )
    ).scalars()
    return {keys[k] for k in found}


def open_alerts(
    conn: Connection, user_id: int, hits: list[Hit], window_ms: int
) -> dict[str, list[dict]]:
    """The open alerts these hits could join (see :func:`group`), newest first per key.

    Only those that can fit one of them: first expense within the grouping window of the hits'
    expenses, or last touched by the same ingest. Reading every open alert of the keys instead
    grew with the alerts nobody acknowledged, at every pass of the worker.
    """
    grouped = [h for h in hits if h.dedupe_key is None]
    if not grouped:
        return {}
    occurred = [h.expense["occurred_ms"] for h in grouped]
    received = sorted({h.expense["received_ms"] for h in grouped})
    # A superset is as good (group() decides): past one IN list, their span stands in for them.
    same_ingest = (
        alerts.c.last_received_ms.in_(received)
        if len(received) <= IN_LIST_MAX
        else alerts.c.last_received_ms.between(received[0], received[-1])
    )
    fits = or_(
        alerts.c.first_occurred_ms.between(min(occurred) - window_ms, max(occurred) + window_ms),
        same_ingest,
    )
    found: dict[str, list[dict]] = {}
    wanted = sorted({h.group_key for h in grouped})
    for chunk in in_chunks(wanted):
        query = (
            select(alerts)
            .where(
                alerts.c.user_id == user_id,
                alerts.c.group_key.in_(chunk),
                alerts.c.state == "open",
                fits,
            )
            .order_by(alerts.c.id.desc())
        )
        for row in conn.execute(query).mappings():
            found.setdefault(row["group_key"], []).append(dict(row))
    return found


def group(
    hits: list[Hit], existing: dict[str, list[dict]], window_ms: int, now: int
) -> list[Draft]:
    """Fold hits into drafts: join a fitting open alert (stored or new this pass) or start one."""
    drafts: dict[str, list[Draft]] = {
        key: [Draft(row=dict(r), existing_id=r["id"], before_severity=r["severity"]) for r in rows]
        for key, rows in existing.items()
    }
    touched: list[Draft] = []
    seen: set[int] = set()
    for hit in hits:
        e = hit.expense
        candidates = drafts.setdefault(hit.group_key, [])
        draft = next(
            (
                d
                for d in candidates
                if hit.dedupe_key is None
                and (
                    abs(e["occurred_ms"] - d.row["first_occurred_ms"]) <= window_ms
                    or e["received_ms"] == d.row["last_received_ms"]
                )
            ),
            None,
        )
        if draft is None:
            draft = Draft(row=_new_row(hit, now), fresh=True)
            candidates.insert(0, draft)
        else:
            _add(draft.row, hit, now)
        if id(draft) not in seen:
            seen.add(id(draft))
            touched.append(draft)
    return touched


def _new_row(hit: Hit, now: int) -> dict:
    e = hit.expense
    return {
        "source": hit.source,
        "rule_id": hit.rule_id,
        "budget_id": hit.budget_id,
        "group_key": hit.group_key,
        "dedupe_key": hit.dedupe_key,
        "severity": hit.severity,
        "state": "open",
        "cause": hit.cause,
        "reasons": hit.reasons,
        "account": e["account"] or "",
        "currency": e["currency"],
        "hits": 1,
        # A budget alert's amount is what the month has spent.
        "amount_cents": hit.cause["spent_cents"] if hit.source == "budget" else e["amount_cents"],
        "expense_ids": [e["id"]],
        "first_expense_id": e["id"],
        "last_expense_id": e["id"],
        "first_occurred_ms": e["occurred_ms"],
        "last_occurred_ms": e["occurred_ms"],
        "last_received_ms": e["received_ms"],
        "period": hit.period,
        "created_ms": now,
        "updated_ms": now,
        "acked_ms": None,
    }


def _add(row: dict, hit: Hit, now: int) -> None:
    e = hit.expense
    row["hits"] += 1
    row["amount_cents"] += e["amount_cents"]
    if len(row["expense_ids"]) < MAX_EXPENSE_IDS:
        row["expense_ids"] = [*row["expense_ids"], e["id"]]
    row["last_expense_id"] = max(row["last_expense_id"] or 0, e["id"])
    row["first_occurred_ms"] = min(row["first_occurred_ms"], e["occurred_ms"])
    row["last_occurred_ms"] = max(row["last_occurred_ms"], e["occurred_ms"])
    row["last_received_ms"] = max(row["last_received_ms"], e["received_ms"])
    if SEVERITY_RANK[hit.severity] >= SEVERITY_RANK[row["severity"]]:
        row["severity"] = hit.severity
        row["reasons"] = hit.reasons
        row["cause"] = hit.cause
    row["updated_ms"] = now
