"""The detector in service: which version scores each user now, and retraining as data arrive.

Each user has a detector of their own, fitted on their own expenses only (one tenant's data
never shapes another's alerts). Until a user has ``min_samples`` expenses, explicit evidence
scores alone (``prior-1``).

Versions live in the database (``detector_models``), so every worker and host scores with the
same one: the ingest reads the user's newest version id inside its locked transaction and loads
the forest only when that id changed. Retraining is triggered by the amount of new data — every
``retrain_every`` expenses of a user, counted from the database (so replayed history trains as
live history does) — and by ``POST /model/retrain``. It runs in the background, the fit itself
in a child process (``vigilante.trainer``), at most one fit at a time per process, and once
across workers: a fit first takes the user's lease in ``detector_training``; a worker that
finds it taken leaves the fit to its holder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import store
from models.detector import Detector
from models.features import FEATURE_NAMES
from vigilante.db import DriverQuery, write_transaction
from vigilante.tables import detector_models, detector_training, expenses
from vigilante.trainer import Trainer

log = logging.getLogger(__name__)
TRAIN_ROWS = 20_000
CACHE_USERS = 128
KEEP_VERSIONS = 5  # per user, in the database
LEASE_MS = 10 * 60_000  # a fit takes seconds; a crashed holder's lease lapses after this
PRIOR = Detector()


# Read by every ingest group (through the driver: SQLAlchemy's overhead was most of its cost).
_NEWEST = DriverQuery(
    select(detector_models.c.id)
    .where(detector_models.c.user_id == bindparam("user_id"))
    .order_by(detector_models.c.id.desc())
    .limit(1)
)


_TRAINING_ROWS = DriverQuery(
    select(expenses.c.features, expenses.c.evidence)
    .where(
        expenses.c.user_id == bindparam("user_id"),
        or_(expenses.c.feedback.is_(None), expenses.c.feedback != "fraud"),
    )
    .order_by(expenses.c.id.desc())
    .limit(bindparam("limit"))
)


def training_rows(engine: Engine, user_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The user's most recent feature rows (never confirmed fraud) and their explicit evidence:
    what a version is fitted on. Run by the trainer process (or, failing that, the API)."""
    width = len(FEATURE_NAMES) * 8
    with engine.connect() as conn:
        # Through the driver's own cursor: SQLAlchemy's result rows cost ~90 ms per fit.
        cursor = conn.connection.cursor()
        try:
            cursor.execute(*_TRAINING_ROWS.bound(conn, user_id=user_id, limit=TRAIN_ROWS))
            rows = [r for r in cursor.fetchall() if len(r[0]) == width]
        finally:
            cursor.close()
    if not rows:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0)
    X = np.frombuffer(b"".join(bytes(r[0]) for r in rows), dtype=np.float64)
    return X.reshape(len(rows), len(FEATURE_NAMES)), np.array([r[1] for r in rows], dtype=float)


def reachable_url(engine: Engine) -> str | None:
    """The engine's database as another process on this machine reaches it (password and
    all, an absolute SQLite path); None for an in-memory SQLite database."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        url = url.set(database=os.path.abspath(url.database))
    return url.render_as_string(hide_password=False)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DetectorService:
    def __init__(
        self, engine: Engine, retrain_every: int, min_samples: int, trainer: Trainer | None = None
    ):
        self.engine = engine
        self._url = reachable_url(engine)
        self.trainer = trainer or Trainer(in_process=False)
        self.retrain_every = retrain_every
        self.min_samples = min_samples
        # user -> (row id of the version, the loaded detector): a cache of the database.
        self._models: OrderedDict[int, tuple[int, Detector]] = OrderedDict()
        self._lock = threading.Lock()
        self._fit_gate = threading.Lock()  # one fit at a time: they are CPU-bound
        self._training: dict[int, threading.Thread] = {}
        self._attempted: dict[int, int] = {}  # user -> rows when a fit found too little data
        self._upkeep: threading.Thread | None = None  # rewriting stored versions (start-up)

    def for_user(self, user_id: int, conn: Connection | None = None) -> Detector:
        """The newest version stored for this user; pass the ingest's connection to read it
        inside that transaction."""
        if conn is None:
            with self.engine.connect() as own:
                return self._newest(own, user_id)
        return self._newest(conn, user_id)

    def _newest(self, conn: Connection, user_id: int) -> Detector:
        found = _NEWEST.rows(conn, user_id=user_id)
        newest = found[0][0] if found else None
        if newest is None:
            return PRIOR
        with self._lock:
            cached = self._models.get(user_id)
            if cached is not None and cached[0] == newest:
                self._models.move_to_end(user_id)
                return cached[1]
        row = conn.execute(
            select(detector_models.c.meta, detector_models.c.forest).where(
                detector_models.c.id == newest
            )
        ).one()
        # A version made by another scikit-learn or feature schema is not used: retrain. One
        # that cannot be read at all (a newer format after a rollback, damaged bytes) neither:
        # the expense is scored by the prior rather than refused.
        try:
            detector = store.loads(row.meta, row.forest) or PRIOR
        except Exception:
            log.exception("user %s: stored detector %s cannot be loaded", user_id, newest)
            detector = PRIOR
        self._remember(user_id, newest, detector)
        return detector

    def _remember(self, user_id: int, row_id: int, detector: Detector) -> None:
        with self._lock:
            self._models[user_id] = (row_id, detector)
            self._models.move_to_end(user_id)
            while len(self._models) > CACHE_USERS:
                self._models.popitem(last=False)

    def _last_used(self, user_id: int) -> Detector:
        with self._lock:
            cached = self._models.get(user_id)
        return cached[1] if cached else PRIOR

    def due(self, user_id: int, user_rows: int, detector: Detector | None = None) -> bool:
        detector = detector or self._last_used(user_id)
        if user_rows < self.min_samples:
            return False
        if self._attempted.get(user_id, -1) > user_rows - self.min_samples:
            return False  # tried recently and there was not enough usable history
        if detector.flat is None:
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
            self.retrain(user_id, wait=False)
        except Exception:  # a failed retrain keeps the current version serving
            log.exception("retraining for user %s failed; keeping the current version", user_id)

    def training_data(self, user_id: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The user's recent feature rows (never confirmed fraud) and their row count."""
        X, explicit = training_rows(self.engine, user_id)
        return X, explicit, self._count(user_id)

    def _count(self, user_id: int) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(expenses).where(expenses.c.user_id == user_id)
            ).scalar_one()

    def _fit(self, user_id: int, total: int) -> tuple[Detector, dict, bytes] | None:
        """A new version fitted on the user's stored rows; None when there are too few.

        The trainer process reads the rows itself when it can reach the database: 20,000 rows
        cost the API process ~35 ms of its GIL per fit, which every request in flight waited
        out (at a fit a second, a third of POST /event's p99). An in-memory SQLite database
        exists only here, so its rows are read here and sent; so are they when fits run in a
        thread of this process (``VIGILANTE_TRAIN_IN=thread``), with this process's engine.
        """
        if self._url is not None and self.trainer.in_process:  # a trainer process, not a thread
            return self.trainer.train_stored(self._url, user_id, total, self.min_samples)
        X, explicit = training_rows(self.engine, user_id)
        if len(X) < self.min_samples:
            return None
        return self.trainer.train(X, explicit, total)

    def retrain(self, user_id: int, wait: bool = True) -> Detector | None:
        """Fit a new version on the user's recent history; None when there is too little.

        Only the holder of the user's lease fits. Without the lease, ``wait`` (an explicit
        request) waits for the holder and answers with what it stored; the background trigger
        (``wait=False``) leaves it to the holder.
        """
        background = not wait
        holder = self._acquire(user_id)
        if holder is None:
            return None if background else self._after_holder(user_id)
        try:
            with self._fit_gate:
                total = self._count(user_id)
                newest = self.for_user(user_id)
                if background and not self.due(user_id, total, newest):
                    return None  # another worker stored a fresh version a moment ago
                fitted = self._fit(user_id, total)
                if fitted is None:
                    self._attempted[user_id] = total
                    return None
                detector, meta, blob = fitted
                self._store(user_id, detector, meta, blob)
        finally:
            self._release(user_id, holder)
        log.info(
            "user %s: detector %s trained on %d expenses",
            user_id,
            detector.version,
            detector.samples,
        )
        return detector

    def flatten_stored_versions_in_background(self) -> None:
        """At start-up, without delaying it: many users' versions may take a while."""
        self._upkeep = threading.Thread(
            target=self._flatten_logged, daemon=True, name="flatten-versions"
        )
        self._upkeep.start()

    def _flatten_logged(self) -> None:
        try:
            self.flatten_stored_versions()
        except Exception:  # they still load (bringing scikit-learn into this process) and score
            log.exception("could not rewrite stored detector versions with flat trees")

    def flatten_stored_versions(self) -> int:
        """Rewrite each user's current version, if stored before the flat format, in it; the
        number rewritten.

        Same forest, same thresholds, same version name: only the stored form changes, so that
        loading it never brings scikit-learn into this process. The unpickling happens in the
        trainer. A version it cannot use (another scikit-learn) is left to be retrained; older
        versions kept beside the current one are never loaded, so they are left as they are.
        """
        not_flat = func.substr(detector_models.c.forest, 1, 4).not_in(store.FLAT_PREFIXES)
        current = select(func.max(detector_models.c.id)).group_by(detector_models.c.user_id)
        with self.engine.connect() as conn:
            legacy = conn.execute(
                select(detector_models.c.id, detector_models.c.meta, detector_models.c.forest)
                .where(not_flat, detector_models.c.id.in_(current.scalar_subquery()))
                .order_by(detector_models.c.id)
            ).all()
        done = 0
        for row in legacy:
            flat = self.trainer.flatten(row.meta, bytes(row.forest))
            if flat is None:
                continue
            meta, blob = flat
            with write_transaction(self.engine) as conn:
                conn.execute(
                    update(detector_models)
                    .where(detector_models.c.id == row.id, not_flat)  # once across workers
                    .values(meta=meta, forest=blob)
                )
            done += 1
        if done:
            log.info("%d stored detector version(s) rewritten with flat trees", done)
        return done

    def _store(self, user_id: int, detector: Detector, meta: dict, blob: bytes) -> None:
        with write_transaction(self.engine) as conn:
            row_id = conn.execute(
                insert(detector_models)
                .values(
                    user_id=user_id,
                    version=detector.version,
                    created_ms=_now_ms(),
                    user_rows=detector.user_rows,
                    meta=meta,
                    forest=blob,
                )
                .returning(detector_models.c.id)
            ).scalar_one()
            kept = conn.execute(
                select(detector_models.c.id)
                .where(detector_models.c.user_id == user_id)
                .order_by(detector_models.c.id.desc())
                .limit(KEEP_VERSIONS)
            ).scalars()
            conn.execute(
                delete(detector_models).where(
                    detector_models.c.user_id == user_id, detector_models.c.id < min(kept)
                )
            )
        self._remember(user_id, row_id, detector)

    def _acquire(self, user_id: int) -> str | None:
        """Take the user's training lease; None if another live holder has it."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:128]
        now = _now_ms()
        try:
            with write_transaction(self.engine) as conn:
                taken = conn.execute(
                    update(detector_training)
                    .where(
                        detector_training.c.user_id == user_id,
                        detector_training.c.expires_ms <= now,
                    )
                    .values(holder=holder, expires_ms=now + LEASE_MS)
                ).rowcount
                if taken:
                    return holder
                exists = conn.execute(
                    select(func.count())
                    .select_from(detector_training)
                    .where(detector_training.c.user_id == user_id)
                ).scalar_one()
                if exists:
                    return None
                conn.execute(
                    insert(detector_training).values(
                        user_id=user_id, holder=holder, expires_ms=now + LEASE_MS
                    )
                )
            return holder
        except IntegrityError:  # another worker inserted the lease first (PostgreSQL)
            return None

    def _release(self, user_id: int, holder: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(detector_training).where(
                    detector_training.c.user_id == user_id, detector_training.c.holder == holder
                )
            )

    def _after_holder(self, user_id: int, timeout_s: float = 120) -> Detector | None:
        """Wait for another worker's fit to end; then the newest version (None: no forest)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                busy = conn.execute(
                    select(detector_training.c.expires_ms).where(
                        detector_training.c.user_id == user_id
                    )
                ).scalar()
            if busy is None or busy <= _now_ms():
                break
            time.sleep(0.1)
        newest = self.for_user(user_id)
        return newest if newest.flat is not None else None

    def wait(self, timeout: float = 60) -> None:
        """Block until background retrains (if any) have finished: for tests and benchmarks."""
        deadline = time.monotonic() + timeout
        for thread in [*self._training.values(), *filter(None, [self._upkeep])]:
            thread.join(max(0.0, deadline - time.monotonic()))
