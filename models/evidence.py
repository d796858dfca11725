"""Explicit, calibrated evidence for what an IsolationForest cannot learn from normal history.

A forest fitted on normal expenses never splits on a signal that was always zero there (a
duplicate, a burst), so each such signal gets its own strength in [0, 1] here. Strengths are
combined with the forest's evidence by a noisy-OR, so any strong signal alone raises the score
and weak signals add up. Every piece of evidence carries the numbers its explanation needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from models.features import Context


@dataclass(slots=True)
class Evidence:
    code: str
    strength: float
    params: dict = field(default_factory=dict)


def _ramp(value: float, start: float, full: float) -> float:
    """0 at ``start``, 1 at ``full``, linear between."""
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


def explicit_evidence(ctx: Context) -> list[Evidence]:
    found: list[Evidence] = []
    if ctx.duplicate_of_ms is not None:
        minutes = ctx.duplicate_of_ms / 60_000
        found.append(
            Evidence(
                "duplicate",
                0.95 if minutes <= 5 else 0.8,
                {"merchant": ctx.merchant, "cents": ctx.cents, "minutes": minutes},
            )
        )
    if ctx.merchant_burst >= 2:
        n = ctx.merchant_burst + 1
        strength = min(0.97, 0.55 + 0.12 * (n - 3)) if n >= 3 else 0.4
        if ctx.burst_max_cents <= 5_000:  # small test charges are the card-testing signature
            strength = min(0.98, strength + 0.1)
        found.append(
            Evidence(
                "burst",
                strength,
                {"merchant": ctx.merchant, "count": n, "minutes": max(ctx.burst_minutes, 1.0)},
            )
        )
    enough_history = ctx.history_size >= 5
    if enough_history and ctx.z_category > 2.0 and not ctx.recurring:
        strength = 0.9 * _ramp(ctx.z_category, 2.0, 5.0) + 0.05
        found.append(
            Evidence(
                "amount_spike",
                min(strength, 0.95),
                {
                    "cents": ctx.cents,
                    "ratio": ctx.ratio_category,
                    "category": ctx.category,
                    "usual_cents": ctx.usual_cents_category,
                },
            )
        )
    elif enough_history and ctx.z_merchant > 3.0 and not ctx.recurring:
        found.append(
            Evidence(
                "merchant_amount",
                0.3 + 0.5 * _ramp(ctx.z_merchant, 3.0, 6.0),
                {"cents": ctx.cents, "merchant": ctx.merchant},
            )
        )
    if ctx.category_novel and ctx.history_size >= 20:
        found.append(
            Evidence(
                "new_category",
                0.25 + 0.5 * _ramp(ctx.z_account, 0.5, 3.0),
                {"category": ctx.category},
            )
        )
    if ctx.merchant_novel and ctx.history_size >= 20 and ctx.z_category > 1.5:
        found.append(
            Evidence(
                "new_merchant_amount",
                0.2 + 0.5 * _ramp(ctx.z_category, 1.5, 4.0),
                {"merchant": ctx.merchant, "cents": ctx.cents},
            )
        )
    if ctx.hour_rarity > 0.3 and ctx.active_hours is not None:
        start, end = ctx.active_hours
        found.append(
            Evidence(
                "unusual_hour",
                min(0.9, 0.2 + 0.8 * _ramp(ctx.hour_rarity, 0.3, 1.0)),
                {"hour": ctx.local_hour, "start": start, "end": end},
            )
        )
    if ctx.confirmed_similar:
        found.append(Evidence("confirmed_pattern", 0.6, {"count": ctx.confirmed_similar}))
    return found


def combine(strengths: list[float]) -> float:
    """Noisy-OR: the chance that at least one piece of evidence is right."""
    keep = 1.0
    for s in strengths:
        keep *= 1.0 - min(max(s, 0.0), 1.0)
    return 1.0 - keep


def dismissal_factor(dismissed_similar: int) -> float:
    """Each "this is fine" on a similar expense halves what a new one scores, down to 1/8."""
    return math.pow(0.5, min(dismissed_similar, 3))
