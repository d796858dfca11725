"""One detector version: an IsolationForest plus explicit evidence, one 0–1 score, a threshold.

Every signal speaks as a log-likelihood ratio (anomaly : normal), the forest's included: its
anomaly score becomes a tail probability among the training expenses, weighed like any other
evidence and capped so that it can tip a borderline case but never raise an alert alone on
noise. The sum, added to the prior odds of an anomaly, gives the score — a probability in
[0, 1]. ``is_anomaly`` compares it with a threshold calibrated so that the target share of the
training expenses would be flagged (the per-user alert rate); before there is enough history to
fit a forest, the prior detector scores on explicit evidence alone with a fixed threshold.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from models.compiled import take_over
from models.evidence import Evidence, Weighed, weigh
from models.features import FEATURE_NAMES, Context
from models.forest import FlatForest, fit_forest

PRIOR_RATE = 0.03  # the share of anomalies assumed before any evidence
PRIOR_LOG_ODDS = math.log(PRIOR_RATE / (1 - PRIOR_RATE))
PRIOR_THRESHOLD = 0.3  # before a forest: evidence of about 14 : 1
# The threshold flags the target share of expenses (the user's alert rate); it never goes below
# evidence of 3 : 1 all told, so an expense with nothing against it (the prior alone) or a
# trifle is never flagged to fill a quota. The rate is the user's to choose (PUT
# /model/alert_rate): a cleaner stream at the same rate shows more borderline alerts.
MIN_THRESHOLD = round(1 / (1 + (1 - PRIOR_RATE) / (3 * PRIOR_RATE)), 4)  # ≈ 0.085
MAX_THRESHOLD = 0.9
FOREST_MAX_LLR = math.log(10)
FOREST_FULL_SAMPLES = 5_000  # a forest fitted on fewer expenses speaks proportionally softer
FOREST_ANOMALY_MASS = 0.05  # "anomaly" mass the forest's tail is compared with
MODEL_REASON_LLR = math.log(3)  # below this the forest's opinion is not worth a reason
CALIBRATION_ROWS = 200  # at least this many rows set the threshold (all of them, if fewer)
QUANTILES = np.round(np.arange(0.80, 1.0, 0.001), 3)
TAIL_LEVELS = np.array([0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999])
# What the forest's features speak of, in the words of its reason ("amount and hour").
ASPECT_OF = {
    "z_amount": "amount",
    "z_category": "amount",
    "z_account": "amount",
    "log_amount": "amount",
    "category_novelty": "new_category",
    "merchant_novelty": "new_merchant",
    "burst": "repeats",
    "duplicate": "repeats",
    "split": "repeats",
    "hour_surprise": "hour",
    "count_1h": "pace",
    "recurring": "recurring",
    "weekday": "weekday",
}
# Each aspect with its features' columns: changed together, since they move together (the
# amount against the merchant, the category and the account).
ASPECT_COLUMNS = tuple(
    (aspect, [i for i, name in enumerate(FEATURE_NAMES) if ASPECT_OF[name] == aspect])
    for aspect in dict.fromkeys(ASPECT_OF[name] for name in FEATURE_NAMES)
)
ASPECT_SHARE = 0.5  # an aspect is named when it explains at least half as much as the first


@dataclass(slots=True)
class Verdict:
    score: float
    is_anomaly: bool
    severity: str
    evidence: list[Evidence]  # strongest first
    model_version: str
    explicit: float  # summed log-likelihood ratio of the explicit evidence, kept to retrain


def severity_of(score: float) -> str:
    if score >= 0.9:
        return "high"
    if score >= 0.7:
        return "medium"
    return "low"


def probability(llr: float) -> float:
    """Posterior chance of an anomaly given evidence summing to ``llr``."""
    log_odds = PRIOR_LOG_ODDS + llr
    if log_odds >= 0:
        return 1 / (1 + math.exp(-log_odds))
    e = math.exp(log_odds)
    return e / (1 + e)


@dataclass
class Detector:
    version: str = "prior-1"
    trained_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    samples: int = 0  # expenses the forest was fitted on
    user_rows: int = 0  # the user's stored expenses when it was trained (retrain trigger)
    forest: object | None = None  # fitted sklearn IsolationForest (None where only scoring)
    forest_tail: list[float] = field(default_factory=list)  # anomaly at TAIL_LEVELS
    score_quantiles: list[float] = field(default_factory=list)  # final score at QUANTILES
    flat: FlatForest | None = None  # the forest's trees as flat arrays: what scores
    typical_row: list[float] = field(default_factory=list)  # the training rows' medians

    def __post_init__(self):
        if self.flat is None and self.forest is not None:
            self.flat = FlatForest(self.forest)
        self._flat = self.flat
        self._thresholds: dict[float, float] = {}  # per alert rate: np.interp once, not per call

    @property
    def forest_cap(self) -> float:
        """The most the forest may add: its outliers are noisier when it saw little history."""
        return FOREST_MAX_LLR * min(1.0, self.samples / FOREST_FULL_SAMPLES)

    @property
    def kind(self) -> str:
        return "isolation-forest+evidence" if self.flat is not None else "prior-evidence"

    @classmethod
    def train(
        cls, X: np.ndarray, explicit: np.ndarray, user_rows: int = 0, seed: int = 0
    ) -> Detector:
        """Fit the forest on feature rows, newest first; ``explicit`` is each row's explicit
        evidence (llr)."""
        forest = fit_forest(X, seed=seed)
        now = datetime.now(UTC)
        detector = cls(
            version=f"if-{now:%Y%m%d%H%M%S%f}-{len(X)}",
            trained_at=now,
            samples=len(X),
            user_rows=user_rows or len(X),
            forest=forest,
            typical_row=[float(v) for v in np.median(X, axis=0)],
        )
        anomaly = detector._flat.anomaly(X)
        detector.forest_tail = [float(v) for v in np.quantile(anomaly, TAIL_LEVELS)]
        llr = np.asarray(explicit, dtype=float) + detector.forest_llr(anomaly)
        # The threshold is set on the newest half of the rows (they come newest first): the
        # next expenses resemble them. The oldest hold each card's first expenses, which had
        # nothing to be judged against and scored low; among a young history's rows (a family
        # of cards with a dozen expenses each) they pulled the threshold down and the first
        # fitted version flagged twice the rate asked for.
        newest = llr[: max(len(llr) // 2, min(len(llr), CALIBRATION_ROWS))]
        log_odds = np.clip(PRIOR_LOG_ODDS + newest, -50, 50)
        scores = 1 / (1 + np.exp(-log_odds))
        detector.score_quantiles = [float(v) for v in np.quantile(scores, QUANTILES)]
        return detector

    def forest_llr(self, anomaly: np.ndarray) -> np.ndarray:
        """The forest's anomaly score as evidence: its tail among training expenses."""
        level = np.interp(anomaly, self.forest_tail, TAIL_LEVELS, left=0.0, right=0.9995)
        tail = np.maximum(1 - level, 5e-4)
        return np.clip(np.log(FOREST_ANOMALY_MASS / tail), 0.0, self.forest_cap)

    def _forest_llr_list(self, anomaly: np.ndarray) -> list[float]:
        if len(anomaly) > 8:
            return self.forest_llr(anomaly).tolist()
        # One POST /event: numpy's per-call overhead would dominate; same arithmetic in floats.
        tails, levels = self.forest_tail, TAIL_LEVELS.tolist()
        out = []
        for a in anomaly.tolist():
            if a <= tails[0]:
                level = 0.0 if a < tails[0] else levels[0]
            elif a >= tails[-1]:
                level = 0.9995 if a > tails[-1] else levels[-1]
            else:
                i = bisect_right(tails, a)
                t0, t1 = tails[i - 1], tails[i]
                frac = (a - t0) / (t1 - t0) if t1 > t0 else 0.0
                level = levels[i - 1] + frac * (levels[i] - levels[i - 1])
            tail = max(1 - level, 5e-4)
            out.append(min(max(math.log(FOREST_ANOMALY_MASS / tail), 0.0), self.forest_cap))
        return out

    def aspects(self, row: np.ndarray) -> list[str]:
        """What makes ``row`` odd to the forest, strongest first: each aspect's features in
        turn set to the training rows' medians, the aspects whose change lowers the anomaly
        score most (a counterfactual: "with a usual amount it would not stand out")."""
        if self._flat is None or len(self.typical_row) != len(row):
            return []
        typical = np.asarray(self.typical_row)
        rows = [row]
        for _, columns in ASPECT_COLUMNS:
            variant = row.copy()
            variant[columns] = typical[columns]
            rows.append(variant)
        anomaly = self._flat.anomaly(np.vstack(rows))
        drops = anomaly[0] - anomaly[1:]
        ranked = sorted(
            ((float(d), aspect) for d, (aspect, _) in zip(drops, ASPECT_COLUMNS, strict=True)),
            reverse=True,
        )
        if not ranked or ranked[0][0] <= 0:
            return []
        return [a for d, a in ranked[:2] if d >= ASPECT_SHARE * ranked[0][0]]

    def threshold(self, alert_rate: float) -> float:
        if not self.score_quantiles:
            return PRIOR_THRESHOLD
        value = self._thresholds.get(alert_rate)
        if value is None:
            value = float(np.interp(1 - alert_rate, QUANTILES, self.score_quantiles))
            value = self._thresholds[alert_rate] = min(max(value, MIN_THRESHOLD), MAX_THRESHOLD)
        return value

    def verdicts(
        self, vectors: list[np.ndarray], weighed: list[Weighed], alert_rate: float
    ) -> list[Verdict]:
        """Score expenses whose features and explicit evidence are ready, in one forest pass."""
        if not vectors:
            return []
        if self._flat is not None:
            rows = vectors[0][None, :] if len(vectors) == 1 else np.vstack(vectors)
            model = self._forest_llr_list(self._flat.anomaly(rows))
        else:
            model = [0.0] * len(vectors)
        threshold = self.threshold(alert_rate)
        out = []
        for w, m, row in zip(weighed, model, vectors, strict=True):
            m = min(m, w.model_cap)
            evidence = list(w.evidence)
            if m >= MODEL_REASON_LLR:
                evidence.append(Evidence("model", m, {"aspects": self.aspects(row)}))
            evidence.sort(key=lambda e: -w.counted(e))
            evidence.extend(e for e in w.against if e.code == "dismissed_pattern")
            score = round(probability(w.total(m)), 6)
            out.append(
                Verdict(
                    score=score,
                    is_anomaly=score >= threshold,
                    severity=severity_of(score),
                    evidence=evidence,
                    model_version=self.version,
                    explicit=w.llr,
                )
            )
        return out

    def score_one(self, vector: np.ndarray, ctx: Context, alert_rate: float) -> Verdict:
        """One expense, features already computed (tests and tools)."""
        return self.verdicts([vector], [weigh(ctx)], alert_rate)[0]


# Last: the compiled build of this very source, where make made one, replaces all of the above.
COMPILED = take_over(globals())
