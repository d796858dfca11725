"""Stored rows -> the public JSON shape of an expense (``ExpenseOut``), reasons in a language."""

from __future__ import annotations

from datetime import UTC, datetime

from models.explain import render


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def expense_out(row, lang: str) -> dict:
    currency = row["currency"]
    return {
        "id": row["id"],
        "amount": row["amount_cents"] / 100,
        "currency": currency,
        "category": row["category"],
        "merchant": row["merchant"],
        "description": row["description"],
        "occurred_at": iso_ms(row["occurred_ms"]),
        "account": row["account"] or None,
        "external_id": row["external_id"],
        "received_at": iso_ms(row["received_ms"]),
        "score": row["score"],
        "is_anomaly": bool(row["is_anomaly"]),
        "severity": row["severity"],
        "reasons": [
            {"code": r["code"], "message": render(r["code"], r["params"], lang, currency)}
            for r in row["reasons"]
        ],
        "model_version": row["model_version"],
        "feedback": row["feedback"],
    }
