"""The detector in service: which version scores each user now, and retraining as data arrive.

Each user has a detector of their own, fitted on their own expenses only (one tenant's data
never shapes another's alerts), saved under ``<data>/models/user-<id>/``. Until a user has
``min_samples`` expenses, explicit evidence scores alone (``prior-1``).

Retraining is triggered by the amount of new data — every ``retrain_every`` expenses of a user,
counted from the database (so several workers agree and replayed history trains as live history
does) — and by ``POST /model/retrain``. It runs in a background thread, at most one fit at a
time; the new version replaces the old with one reference assignment, so a request scores wholly
with one version or the other. Other workers notice the new version through ``current.json``
within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, or_, select

from models import store
from models.detector import Detector
from models.features import FEATURE_NAMES
from vigilante.tables import expenses

log = logging.getLogger(__name__)
TRAIN_ROWS = 20_000
CACHE_USERS = 128
POINTER_CHECK_S = 1.0
PRIOR = Detector()


class DetectorService:
    def __init__(self, engine: Engine, folder: Path, retrain_every: int, min_samples: int):
        self.engine = engine
        self.folder = folder
        self.retrain_every = retrain_every
        self.min_samples = min_samples
        self._models: OrderedDict[int, tuple[Detector, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._fit_gate = threading.Lock()  # one fit at a time: they are CPU-bound
        self._training: dict[int, threading.Thread] = {}
        self._attempted: dict[int, int] = {}  # user -> rows when a fit found too little data

    def user_folder(self, user_id: int) -> Path:
        return self.folder / f"user-{user_id}"

    def for_user(self, user_id: int) -> Detector:
        """The version scoring this user now (re-read if another worker trained a newer one)."""
        now = time.monotonic()
        with self._lock:
            cached = self._models.get(user_id)
            if cached is not None:
                self._models.move_to_end(user_id)
                if now - cached[1] < POINTER_CHECK_S:
                    return cached[0]
        detector = cached[0] if cached else None
        on_disk = store.current_version(self.user_folder(user_id))
        if on_disk is not None and (detector is None or detector.version != on_disk):
            detector = store.load_current(self.user_folder(user_id)) or detector
        detector = detector or PRIOR
        with self._lock:
            self._models[user_id] = (detector, now)
            self._models.move_to_end(user_id)
            while len(self._models) > CACHE_USERS:
                self._models.popitem(last=False)
        return detector

    def _install(self, user_id: int, detector: Detector) -> None:
        with self._lock:
            self._models[user_id] = (detector, time.monotonic())

    def due(self, user_id: int, user_rows: int) -> bool:
        detector = self.for_user(user_id)
        if user_rows < self.min_samples:
            return False
        if self._attempted.get(user_id, -1) > user_rows - self.min_samples:
            return False  # tried recently and there was not enough usable history
        if detector.forest is None:
            return True
        return user_rows - detector.user_rows >= self.retrain_every

    def note_stored(self, user_id: int, user_rows: int) -> None:
        """After an ingest: start a background retrain once enough new expenses arrived."""
        if not self.due(user_id, user_rows):
            return
        with self._lock:
            running = self._training.get(user_id)
            if running is not None and running.is_alive():
                return
            thread = threading.Thread(
                target=self._retrain_logged, args=(user_id,), daemon=True, name=f"retrain-{user_id}"
            )
            self._training[user_id] = thread
        thread.start()

    def _retrain_logged(self, user_id: int) -> None:
        try:
            self.retrain(user_id)
        except Exception:  # a failed retrain keeps the current version serving
            log.exception("retraining for user %s failed; keeping the current version", user_id)

    def training_data(self, user_id: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The user's recent feature rows (never confirmed fraud) and their row count."""
        query = (
            select(expenses.c.features, expenses.c.evidence)
            .where(
                expenses.c.user_id == user_id,
                or_(expenses.c.feedback.is_(None), expenses.c.feedback != "fraud"),
            )
            .order_by(expenses.c.id.desc())
            .limit(TRAIN_ROWS)
        )
        width = len(FEATURE_NAMES) * 8
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(expenses).where(expenses.c.user_id == user_id)
            ).scalar_one()
            rows = [r for r in conn.execute(query) if len(r.features) == width]
        if not rows:
            return np.empty((0, len(FEATURE_NAMES))), np.empty(0), total
        X = np.frombuffer(b"".join(r.features for r in rows), dtype=np.float64)
        X = X.reshape(len(rows), len(FEATURE_NAMES))
        return X, np.array([r.evidence for r in rows], dtype=float), total

    def retrain(self, user_id: int) -> Detector | None:
        """Fit a new version on the user's recent history; None when there is too little."""
        with self._fit_gate:
            X, explicit, total = self.training_data(user_id)
            if len(X) < self.min_samples:
                self._attempted[user_id] = total
                return None
            detector = Detector.train(X, explicit, user_rows=total)
            store.save(detector, self.user_folder(user_id))
            self._install(user_id, detector)
        log.info("user %s: detector %s trained on %d expenses", user_id, detector.version, len(X))
        return detector

    def wait(self, timeout: float = 60) -> None:
        """Block until background retrains (if any) have finished: for tests and benchmarks."""
        deadline = time.monotonic() + timeout
        for thread in list(self._training.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
