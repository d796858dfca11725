"""One detector version: an IsolationForest plus explicit evidence, one 0–1 score, a threshold.

The score is a noisy-OR of the forest's calibrated evidence and the explicit evidence
(:mod:`models.evidence`), damped by the spender's own "this is fine" feedback. ``is_anomaly``
compares it with a threshold calibrated so that the target share of the training expenses
would be flagged; before there is enough history to fit a forest, the prior detector scores on
explicit evidence alone with a fixed threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from models.evidence import Evidence, combine, dismissal_factor, explicit_evidence
from models.features import Context
from models.forest import FlatForest, fit_forest

PRIOR_THRESHOLD = 0.5
MIN_THRESHOLD = 0.3  # never flag on forest noise alone, whatever the target rate
MAX_THRESHOLD = 0.8
MODEL_EVIDENCE_MIN = 0.15  # below this the forest's opinion is not worth a reason
QUANTILES = np.round(np.arange(0.80, 1.0, 0.001), 3)


@dataclass(slots=True)
class Verdict:
    score: float
    is_anomaly: bool
    severity: str
    evidence: list[Evidence]
    model_version: str
    explicit: float  # noisy-OR of the explicit evidence alone, kept for recalibration


def severity_of(score: float) -> str:
    if score >= 0.85:
        return "high"
    if score >= 0.6:
        return "medium"
    return "low"


@dataclass
class Detector:
    version: str = "prior-1"
    trained_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    samples: int = 0
    forest: object | None = None  # fitted sklearn IsolationForest
    forest_quantiles: tuple[float, float, float] = (0.5, 0.6, 0.7)  # q90, q99, q99.9
    score_quantiles: list[float] = field(default_factory=list)  # final score at QUANTILES

    def __post_init__(self):
        self._flat = FlatForest(self.forest) if self.forest is not None else None

    @property
    def kind(self) -> str:
        return "isolation-forest+evidence" if self.forest is not None else "prior-evidence"

    @classmethod
    def train(cls, X: np.ndarray, explicit: np.ndarray, seed: int = 0) -> Detector:
        """Fit the forest on feature rows; ``explicit`` is each row's explicit evidence."""
        forest = fit_forest(X, seed=seed)
        detector = cls(
            version="if-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f"),
            samples=len(X),
            forest=forest,
        )
        anomaly = detector._flat.anomaly(X)
        q90, q99, q999 = np.quantile(anomaly, [0.9, 0.99, 0.999])
        detector.forest_quantiles = (float(q90), float(q99), float(max(q999, q99 + 1e-6)))
        scores = 1 - (1 - detector.forest_evidence(anomaly)) * (1 - explicit)
        detector.score_quantiles = [float(v) for v in np.quantile(scores, QUANTILES)]
        return detector

    def forest_evidence(self, anomaly: np.ndarray) -> np.ndarray:
        q90, q99, q999 = self.forest_quantiles
        low = np.clip((anomaly - q90) / max(q99 - q90, 1e-9), 0, 1)
        high = np.clip((anomaly - q99) / max(q999 - q99, 1e-9), 0, 1)
        return 0.45 * low + 0.45 * high

    def threshold(self, alert_rate: float) -> float:
        if not self.score_quantiles:
            return PRIOR_THRESHOLD
        value = float(np.interp(1 - alert_rate, QUANTILES, self.score_quantiles))
        return min(max(value, MIN_THRESHOLD), MAX_THRESHOLD)

    def verdicts(
        self, vectors: list[np.ndarray], contexts: list[Context], alert_rate: float
    ) -> list[Verdict]:
        """Score expenses whose features are already computed, in one forest pass."""
        if not vectors:
            return []
        if self._flat is not None:
            model_evidence = self.forest_evidence(self._flat.anomaly(np.vstack(vectors)))
        else:
            model_evidence = np.zeros(len(vectors))
        threshold = self.threshold(alert_rate)
        out = []
        for ctx, m in zip(contexts, model_evidence.tolist(), strict=True):
            evidence = explicit_evidence(ctx)
            explicit = combine([e.strength for e in evidence])
            if m >= MODEL_EVIDENCE_MIN:
                evidence.append(Evidence("model", m, {}))
            score = 1 - (1 - explicit) * (1 - m)
            if ctx.dismissed_similar:
                score *= dismissal_factor(ctx.dismissed_similar)
                evidence.append(
                    Evidence("dismissed_pattern", 0.0, {"count": ctx.dismissed_similar})
                )
            score = round(min(max(score, 0.0), 1.0), 6)
            out.append(
                Verdict(
                    score=score,
                    is_anomaly=score >= threshold,
                    severity=severity_of(score),
                    evidence=evidence,
                    model_version=self.version,
                    explicit=explicit,
                )
            )
        return out
