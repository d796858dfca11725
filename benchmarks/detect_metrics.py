"""Quality metrics of a scored, labeled stream: what `make bench-detect` prints and records."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from vigilante.simulate import HARD_NEGATIVES, KINDS, SimulatedExpense


def flagged_at_budget(scores: np.ndarray, budget: float) -> np.ndarray:
    """The top ``budget`` share of expenses by score (ties broken by order), as a mask."""
    k = max(1, int(round(budget * len(scores))))
    order = np.argsort(-scores, kind="stable")
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:k]] = True
    return mask


def evaluate(
    events: Sequence[SimulatedExpense], scores: Sequence[float], flags: Sequence[bool] | None = None
) -> dict:
    """AP, ROC AUC, recall/precision at 1 % and 3 % budgets, per kind, per incident, hard negatives.

    With ``flags`` (the API's own ``is_anomaly``), also the recall, precision and alert rate of
    the threshold the product actually applied.
    """
    s = np.asarray(scores, dtype=float)
    y = np.array([e.label is not None for e in events])
    out: dict = {"n": len(events), "positives": int(y.sum())}
    out["ap"] = float(average_precision_score(y, s))
    out["auc"] = float(roc_auc_score(y, s))
    for budget in (0.01, 0.03):
        mask = flagged_at_budget(s, budget)
        tag = f"{round(budget * 100)}%"
        out[f"recall@{tag}"] = float((mask & y).sum() / max(y.sum(), 1))
        out[f"precision@{tag}"] = float((mask & y).sum() / max(mask.sum(), 1))
        if budget == 0.03:
            out.update(_breakdown(events, mask, "@3%"))
    if flags is not None:
        f = np.asarray(flags, dtype=bool)
        out["alert_rate"] = float(f.mean())
        out["recall@threshold"] = float((f & y).sum() / max(y.sum(), 1))
        out["precision@threshold"] = float((f & y).sum() / max(f.sum(), 1))
        hard = np.array([e.hard_negative is not None for e in events])
        out["hard_negatives_flagged@threshold"] = float((f & hard).sum() / max(hard.sum(), 1))
    return out


def _breakdown(events, mask, tag) -> dict:
    out = {}
    per_kind = defaultdict(lambda: [0, 0])
    incidents: dict[int, bool] = {}
    per_hard = defaultdict(lambda: [0, 0])
    for e, hit in zip(events, mask, strict=True):
        if e.label is not None:
            per_kind[e.label][0] += int(hit)
            per_kind[e.label][1] += 1
            incidents[e.incident] = incidents.get(e.incident, False) or bool(hit)
        if e.hard_negative is not None:
            per_hard[e.hard_negative][0] += int(hit)
            per_hard[e.hard_negative][1] += 1
    for kind in KINDS:
        hit, n = per_kind.get(kind, (0, 0))
        out[f"kind:{kind}{tag}"] = hit / n if n else math.nan
    out[f"incident_recall{tag}"] = sum(incidents.values()) / max(len(incidents), 1)
    hard_hit = sum(h for h, _ in per_hard.values())
    hard_n = sum(n for _, n in per_hard.values())
    out[f"hard_negatives_flagged{tag}"] = hard_hit / max(hard_n, 1)
    for name in dict.fromkeys([*HARD_NEGATIVES, *per_hard]):  # another world's kinds too
        hit, n = per_hard.get(name, (0, 0))
        out[f"hard:{name}{tag}"] = hit / n if n else math.nan
    return out


def amount_only_baseline(events: Sequence[SimulatedExpense], seed: int = 0) -> np.ndarray:
    """IsolationForest on the amount alone, fitted on the whole stream: the naive build."""
    from sklearn.ensemble import IsolationForest

    X = np.log([[e.payload["amount"]] for e in events])
    forest = IsolationForest(random_state=seed).fit(X)
    return -forest.score_samples(X)


def mean_sd(values: Sequence[float]) -> str:
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return "n/a"
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"
