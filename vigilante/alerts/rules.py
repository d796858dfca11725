"""Rules a person writes without code: which fields each kind uses, why a rule is refused, and
whether one expense matches.

Kinds (fields in brackets are optional filters):

- ``amount_over``: ``amount`` [currency, category, merchant, account] — above the amount.
- ``blocked_merchant``: ``merchants`` [account] — a merchant whose name contains one of them.
- ``blocked_category``: ``categories`` [account] — an expense in one of them.
- ``weekend``: [amount, currency, category, merchant, account] — on a local Saturday or Sunday.
- ``night``: [start_hour=22, end_hour=6, amount, ...] — local time in [start, end).
- ``frequency``: ``count``, ``minutes`` [category, merchant, account] — more than ``count``
  expenses within ``minutes`` (the one that tips it over, and those after it, match).

Text compares case-insensitively; ``merchant`` matches any merchant name containing it (bank
statements write "UBER *TRIP 1234"). Rules are stored with amounts in cents.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

FILTERS = ("category", "merchant", "account")
KIND_FIELDS = {
    "amount_over": {"amount", "currency", *FILTERS},
    "blocked_merchant": {"merchants", "account"},
    "blocked_category": {"categories", "account"},
    "weekend": {"amount", "currency", *FILTERS},
    "night": {"start_hour", "end_hour", "amount", "currency", *FILTERS},
    "frequency": {"count", "minutes", *FILTERS},
}
REQUIRED = {
    "amount_over": ("amount",),
    "blocked_merchant": ("merchants",),
    "blocked_category": ("categories",),
    "frequency": ("count", "minutes"),
}
PARAM_FIELDS = (
    "amount", "currency", "category", "merchant", "account",
    "merchants", "categories", "start_hour", "end_hour", "count", "minutes",
)  # fmt: skip
NIGHT_DEFAULT = (22, 6)


def fold(text: str | None) -> str:
    return (text or "").casefold()


def problems(kind: str, fields: dict, max_amount: int) -> list[dict]:
    """Why a rule of ``kind`` with ``fields`` (API names, None = unset) is refused, if at all."""
    found = []

    def bad(field: str, message: str) -> None:
        found.append({"field": field, "message": message, "type": "value_error"})

    allowed = KIND_FIELDS[kind]
    for name in PARAM_FIELDS:
        if fields.get(name) is not None and name not in allowed:
            bad(name, f"is not used by a {kind} rule (it uses: {', '.join(sorted(allowed))})")
    for name in REQUIRED.get(kind, ()):
        if fields.get(name) is None:
            bad(name, f"is required for a {kind} rule")
    for name in ("merchants", "categories"):
        if name in allowed and fields.get(name) is not None and not fields[name]:
            bad(name, "is empty: the rule could never match; list at least one")
    amount = fields.get("amount")
    if amount is not None and amount >= max_amount:
        bad("amount", f"can never be exceeded: an expense is at most {max_amount}")
    if fields.get("currency") is not None and amount is None and "amount" in allowed:
        bad("currency", "only applies together with amount")
    if kind == "night":
        start, end = _night_hours(fields)
        if start == end:
            bad("end_hour", "equals start_hour: the night would be empty and never match")
    return found


def to_params(fields: dict, default_currency: str) -> dict:
    """API fields -> stored params (amounts in cents, no unset fields)."""
    params = {k: v for k, v in fields.items() if k in PARAM_FIELDS and v is not None}
    if "amount" in params:
        params["amount_cents"] = int(Decimal(str(params.pop("amount"))) * 100)
        params.setdefault("currency", default_currency)
    return params


def to_fields(params: dict) -> dict:
    """Stored params -> API fields."""
    fields = dict(params)
    if "amount_cents" in fields:
        fields["amount"] = Decimal(fields.pop("amount_cents")) / 100
    return fields


def _night_hours(params: dict) -> tuple[int, int]:
    start = params.get("start_hour")
    end = params.get("end_hour")
    return (NIGHT_DEFAULT[0] if start is None else start, NIGHT_DEFAULT[1] if end is None else end)


def in_scope(params: dict, expense) -> bool:
    """The optional filters (category, merchant, account, amount) of a rule hold."""
    if "category" in params and fold(params["category"]) != fold(expense["category"]):
        return False
    if "merchant" in params and fold(params["merchant"]) not in fold(expense["merchant"]):
        return False
    if "account" in params and params["account"] != (expense["account"] or ""):
        return False
    if "amount_cents" not in params:
        return True
    return (
        expense["currency"] == params.get("currency")
        and expense["amount_cents"] > params["amount_cents"]
    )


def match(kind: str, params: dict, expense, local: datetime) -> dict | None:
    """Reason params when the expense matches (``frequency`` is counted by the caller)."""
    cents = expense["amount_cents"]
    if kind == "blocked_merchant":
        if "account" in params and params["account"] != (expense["account"] or ""):
            return None
        merchant = fold(expense["merchant"])
        hit = next((m for m in params["merchants"] if merchant and fold(m) in merchant), None)
        return None if hit is None else {"merchant": expense["merchant"], "blocked": hit}
    if kind == "blocked_category":
        if "account" in params and params["account"] != (expense["account"] or ""):
            return None
        blocked = {fold(c) for c in params["categories"]}
        return {"category": expense["category"]} if fold(expense["category"]) in blocked else None
    if not in_scope(params, expense):
        return None
    if kind == "amount_over":
        return {"cents": cents, "limit_cents": params["amount_cents"]}
    if kind == "weekend":
        return {"cents": cents, "weekday": local.weekday()} if local.weekday() >= 5 else None
    if kind == "night":
        start, end = _night_hours(params)
        hour = local.hour
        inside = start <= hour < end if start < end else (hour >= start or hour < end)
        if not inside:
            return None
        return {"cents": cents, "time": local.strftime("%H:%M"), "start": start, "end": end}
    return None
