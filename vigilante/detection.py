"""The detector in service: which version scores now, and retraining it as data arrive.

Retraining is triggered by the amount of new data (every ``retrain_every`` stored expenses, and
on ``POST /model/retrain``), not by wall-clock time, so replayed history trains as live history
does. It runs in a background thread; the new version replaces the old with one reference
assignment, so a request scores wholly with one version or the other.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, or_, select

from models import store
from models.detector import Detector
from vigilante.tables import expenses

log = logging.getLogger(__name__)
TRAIN_ROWS = 20_000


class DetectorService:
    def __init__(self, engine: Engine, folder: Path, retrain_every: int, min_samples: int):
        self.engine = engine
        self.folder = folder
        self.retrain_every = retrain_every
        self.min_samples = min_samples
        self.current: Detector = store.load_current(folder) or Detector()
        self._since_training = 0
        self._lock = threading.Lock()
        self._training: threading.Thread | None = None

    def note_stored(self, count: int) -> None:
        """Count new expenses; start a retrain in the background once enough have arrived."""
        with self._lock:
            self._since_training += count
            due = self._since_training >= (
                self.retrain_every if self.current.forest is not None else self.min_samples
            )
            if not due or (self._training and self._training.is_alive()):
                return
            self._since_training = 0
            self._training = threading.Thread(target=self._retrain_logged, daemon=True)
            self._training.start()

    def _retrain_logged(self) -> None:
        try:
            self.retrain()
        except Exception:  # a failed retrain keeps the current version serving
            log.exception("retraining failed; keeping %s", self.current.version)

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        query = (
            select(expenses.c.features, expenses.c.evidence)
            .where(or_(expenses.c.feedback.is_(None), expenses.c.feedback != "fraud"))
            .order_by(expenses.c.id.desc())
            .limit(TRAIN_ROWS)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return np.empty((0, 0)), np.empty(0)
        X = np.vstack([np.frombuffer(r.features, dtype=np.float64) for r in rows])
        return X, np.array([r.evidence for r in rows])

    def retrain(self) -> Detector | None:
        """Fit a new version on recent history; None when there is not enough of it yet."""
        X, explicit = self.training_data()
        if len(X) < self.min_samples:
            return None
        detector = Detector.train(X, explicit)
        store.save(detector, self.folder)
        self.current = detector
        log.info("detector %s trained on %d expenses", detector.version, len(X))
        return detector

    def wait(self, timeout: float = 60) -> None:
        """Block until a background retrain (if any) has finished: for tests and benchmarks."""
        thread = self._training
        if thread is not None:
            thread.join(timeout)
