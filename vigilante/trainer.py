"""Where a detector is fitted: in a child process, so the fit never holds the API's GIL.

A fit (scikit-learn's IsolationForest, then scoring the training rows for the thresholds)
is ~0.1-0.3 s of CPU, most of it Python that holds the GIL. Run in a thread of the API
process, it stalled every request behind it. Run here, it takes the other core, at a lower
CPU priority; it reads the user's training rows from the database itself (``fit_stored``), and
the API process only stores the answer.

The child is started on first use (a clean interpreter, not a fork of a process with threads
and open database connections) and stops after ``idle_s`` without work, giving
its memory back, or when the API process goes (its pipe closes; a killed parent is noticed
within a second). Results are the same as a fit in the API process: the same function with the
same seed on the same rows. If a child cannot be started or dies, the fit runs in the calling
thread instead and the next fit tries a new child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from models import store
from models.detector import Detector

log = logging.getLogger(__name__)


def fit(X: np.ndarray, explicit: np.ndarray, user_rows: int) -> tuple[dict, bytes]:
    """Fit a version and return it as stored (meta, blob): what crosses the process boundary."""
    return store.dumps(Detector.train(X, explicit, user_rows=user_rows))


_ENGINES: dict[str, object] = {}  # the databases this process read from, by URL


def fit_stored(url: str, user_id: int, user_rows: int, min_samples: int):
    """Read the user's training rows from the database here, then :func:`fit`; None when there
    are fewer than ``min_samples`` of them."""
    from vigilante.db import engine_for_url
    from vigilante.detection import training_rows  # it imports this module

    engine = _ENGINES.get(url)
    if engine is None:
        while len(_ENGINES) >= 8:  # tests point one trainer at many databases
            _ENGINES.pop(next(iter(_ENGINES))).dispose()
        # One connection kept: a fit comes every few seconds at most, from one thread.
        engine = _ENGINES[url] = engine_for_url(url, pool_size=1, max_overflow=0)
    X, explicit = training_rows(engine, user_id)
    if len(X) < min_samples:
        return None
    return fit(X, explicit, user_rows)


def flatten(meta: dict, blob: bytes) -> tuple[dict, bytes] | None:
    """A version stored in an older format (the sklearn forest alone), in the current one:
    the same forest and thresholds, its trees flattened; None if it cannot be used here."""
    detector = store.loads(meta, blob)
    return None if detector is None else store.dumps(detector)


JOBS = {"fit": fit, "fit_stored": fit_stored, "flatten": flatten}


def _serve(conn, parent: int) -> None:
    """The child: fit what arrives on the pipe until it closes (or the API process is gone)."""
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:  # the API process died without closing the pipe
                    return
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        name, args = job
        try:
            answer = (True, JOBS[name](*args))
        except Exception:  # reported to the caller, who logs it and keeps the current version
            answer = (False, traceback.format_exc())
        try:
            conn.send(answer)
        except OSError:  # the API process went away mid-fit
            return


def main() -> None:
    """``python -m vigilante.trainer <fd> <parent pid> [nice]``: what the API process starts."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    # Its own session, and deaf to Ctrl-C: the API process decides when it stops (the pipe
    # closes), so a fit in flight is never cut short under the API's feet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Background work yields the CPU to requests: a spender streaming thousands of expenses a
    # second is refitted every second or so, and at the same priority the fits took a third of
    # a core from the API process. Niced, a fit takes what the API leaves (longer under load,
    # so the next one starts later: fits then come as fast as idle CPU allows).
    if len(sys.argv) > 3:
        os.nice(int(sys.argv[3]))
    _serve(Connection(fd), parent)


class TrainerFailed(RuntimeError):
    pass


class Trainer:
    """Runs :func:`fit` in one child process, started on demand and stopped when idle."""

    def __init__(
        self,
        in_process: bool = True,
        idle_s: float = 120.0,
        timeout_s: float = 600.0,
        nice: int = 0,
    ):
        self.in_process = in_process
        self.idle_s = idle_s
        self.nice = nice  # the child's CPU priority below the API process's (``nice`` levels)
        # A fit of 20,000 expenses takes well under a second; a child silent this long is
        # stuck (stopped, swapping): it is killed so that fits do not wait behind it forever.
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # one fit at a time through the pipe
        self._child: subprocess.Popen | None = None
        self._conn = None
        self._idle_timer: threading.Timer | None = None

    def train(
        self, X: np.ndarray, explicit: np.ndarray, user_rows: int
    ) -> tuple[Detector, dict, bytes]:
        """Fit and return the detector with its stored form; blocks the caller, not the GIL."""
        meta, blob = self._call("fit", X, explicit, user_rows)
        detector = store.loads(meta, blob)
        if detector is None:  # the child runs this very code: its versions always load here
            raise TrainerFailed("the trainer returned a version this process cannot load")
        return detector, meta, blob

    def train_stored(
        self, url: str, user_id: int, user_rows: int, min_samples: int
    ) -> tuple[Detector, dict, bytes] | None:
        """:func:`fit_stored`: the child reads the rows from the database itself."""
        stored = self._call("fit_stored", url, user_id, user_rows, min_samples)
        if stored is None:
            return None
        meta, blob = stored
        detector = store.loads(meta, blob)
        if detector is None:
            raise TrainerFailed("the trainer returned a version this process cannot load")
        return detector, meta, blob

    def flatten(self, meta: dict, blob: bytes) -> tuple[dict, bytes] | None:
        """:func:`flatten` in the child, so this process never unpickles an sklearn forest."""
        return self._call("flatten", meta, blob)

    def _call(self, name: str, *args):
        if not self.in_process:
            return JOBS[name](*args)
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            try:
                conn = self._started()
                conn.send((name, args))
                if not conn.poll(self.timeout_s):  # waits without the GIL
                    self._stop(kill=True)
                    raise TrainerFailed(f"no answer from the trainer in {self.timeout_s:.0f} s")
                ok, answer = conn.recv()
            except TrainerFailed:
                raise
            except Exception as exc:  # no child (cannot start, died mid-fit): fit here
                log.warning("trainer process unavailable (%r); working in this process", exc)
                self._stop()
                return JOBS[name](*args)
            except BaseException:
                # Interrupted between the question and its answer: that answer must never
                # reach the next caller (it would be another user's version).
                self._stop(kill=True)
                raise
            self._idle_timer = threading.Timer(self.idle_s, self._stop_if_idle)
            self._idle_timer.daemon = True
            self._idle_timer.start()
        if not ok:
            raise TrainerFailed(f"{name} failed in the trainer process:\n{answer}")
        return answer

    def _started(self) -> Connection:
        if self._child is not None and self._child.poll() is None:
            return self._conn
        self._stop()
        # A fresh interpreter on a socket pair: not multiprocessing's spawn, which re-imports
        # the parent's __main__ (a script without a main guard would start itself again).
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parent.parent)
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
            # One BLAS thread: a fit gains nothing from more, and threads numpy starts at import
            # would keep the priority of that moment (Linux nices one thread), not the child's.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        try:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vigilante.trainer",
                    str(theirs.fileno()),
                    str(os.getpid()),
                    str(self.nice),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=root,  # -m puts the working directory first on sys.path: ours, not a user's
                start_new_session=True,
            )
        finally:
            theirs.close()  # only the child holds its end: it sees EOF when we go
        self._child, self._conn = child, Connection(ours.detach())
        return self._conn

    def _stop(self, kill: bool = False) -> None:
        child, conn, self._child, self._conn = self._child, self._conn, None, None
        if conn is not None:
            if not kill:
                with contextlib.suppress(OSError):
                    conn.send(None)
            conn.close()
        if child is not None:
            if kill:
                child.kill()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _stop_if_idle(self) -> None:
        if self._lock.acquire(blocking=False):  # busy: the fit re-arms the timer
            try:
                self._stop()
            finally:
                self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._stop()


_shared: dict[tuple[bool, float, int], Trainer] = {}
_shared_lock = threading.Lock()


def shared_trainer(in_process: bool, idle_s: float, nice: int = 0) -> Trainer:
    """One trainer per API process (apps built in one process, as in tests, share its child)."""
    key = (in_process, idle_s, nice)
    with _shared_lock:
        trainer = _shared.get(key)
        if trainer is None:
            trainer = _shared[key] = Trainer(in_process, idle_s, nice=nice)
        return trainer


if __name__ == "__main__":
    main()
