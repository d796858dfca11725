"""Group commit: one writer thread per process turns many concurrent requests into one
transaction, and acknowledges each request only after that transaction has committed.

With SQLite every commit is an fsync (``synchronous=FULL``), and only one writer may hold the
lock at a time anyway; committing 1 request or 50 costs about the same. The writer takes the
first waiting job, drains whatever else is already queued (up to ``max_batch`` jobs), runs each
job in its own savepoint (one bad job never undoes another), commits once, then wakes every
waiting request. A request is answered only after its rows are durable, exactly as with a
commit per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from vigilante.db import CURSOR_KEY, write_transaction

log = logging.getLogger(__name__)
# Jobs of one group may share what they read in ``conn.info[GROUP_KEY]`` (a dict), e.g. a
# user's state read once for all of that user's jobs; it lives exactly as long as the group.
GROUP_KEY = "vigilante.group"


@dataclass
class Job:
    work: Callable[[Connection], Any]  # runs inside the shared transaction
    on_rollback: Callable[[], None] | None = None  # undo in-memory effects if not committed
    key: Any = None  # what the job writes for (a user id), for the ``before`` hook
    # Undo what the job left in the group's shared state (``conn.info[GROUP_KEY]``).
    on_rollback_in_group: Callable[[Connection], None] | None = None
    # Who waits: a thread on ``future`` (submit), or a coroutine on ``waiter`` in ``loop`` (run).
    future: Future | None = None
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future | None = None


class GroupCommitWriter:
    def __init__(self, engine: Engine, max_batch: int = 64, before: Callable | None = None):
        self.engine = engine
        self.max_batch = max_batch
        self.before = before  # called with (conn, jobs) first: e.g. lock rows in a fixed order
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _ensure_thread(self) -> None:
        # Started on demand, so an app whose lifespan ended (and closed the writer) and then
        # starts again (tests, ASGI servers that restart the lifespan) keeps working.
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()

    def submit(self, job: Job) -> Future:
        """Queue ``job``; a thread waits on the returned future."""
        job.future = Future()
        self._queue.put(job)
        self._ensure_thread()
        return job.future

    async def run(self, job: Job) -> Any:
        """Queue ``job`` and wait for it in the event loop, without a thread.

        The writer wakes each event loop once per group, not once per request: the per-request
        thread-safe future and its chained callback cost more than the wake-up itself.
        """
        job.loop = asyncio.get_running_loop()
        job.waiter = job.loop.create_future()
        self._queue.put(job)
        self._ensure_thread()
        return await job.waiter

    def close(self) -> None:
        """Finish what is queued, then stop the thread (a later submit starts a new one)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._queue.put(None)
        thread.join(timeout=30)
        if not self._queue.empty():  # submitted while closing: serve it rather than strand it
            self._ensure_thread()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
            self._commit_group(jobs)
            if stop:
                return

    @staticmethod
    def _run_job(conn: Connection, cursor, job: Job) -> tuple[Job, bool, Any]:
        # Plain SQL savepoints through the cursor: SQLAlchemy's begin_nested() compiles a new
        # statement per call, which costs more than the job itself on the hot path.
        cursor.execute("SAVEPOINT job")
        try:
            value = job.work(conn)
        except Exception as exc:  # this job's own failure: undo it alone
            cursor.execute("ROLLBACK TO SAVEPOINT job")
            cursor.execute("RELEASE SAVEPOINT job")
            if job.on_rollback_in_group is not None:
                job.on_rollback_in_group(conn)
            return job, False, exc
        cursor.execute("RELEASE SAVEPOINT job")
        return job, True, value

    def _commit_group(self, jobs: list[Job]) -> None:
        results: list[tuple[Job, bool, Any]] = []
        try:
            with write_transaction(self.engine) as conn:
                conn.info[GROUP_KEY] = {}
                cursor = conn.info[CURSOR_KEY] = conn.connection.cursor()
                try:
                    if self.before is not None:
                        self.before(conn, jobs)
                    for job in jobs:
                        results.append(self._run_job(conn, cursor, job))
                finally:
                    conn.info.pop(GROUP_KEY, None)
                    conn.info.pop(CURSOR_KEY, None)
                    cursor.close()
        except Exception as exc:  # the commit itself failed: nobody's rows are stored
            log.exception("group commit of %d job(s) failed", len(jobs))
            for job in jobs:
                if job.on_rollback:
                    job.on_rollback()
            _settle([(job, False, exc) for job in jobs])
            return
        for job, ok, _ in results:
            if not ok and job.on_rollback:
                job.on_rollback()
        _settle(results)


def _settle(results: list[tuple[Job, bool, Any]]) -> None:
    """Hand each job its result: threads directly, coroutines with one call per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for job, ok, value in results:
        if job.loop is not None:
            by_loop.setdefault(job.loop, []).append((job.waiter, ok, value))
        elif job.future is not None and not job.future.done():
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
            loop.call_soon_threadsafe(_wake, items)


def _wake(items: list) -> None:
    for waiter, ok, value in items:
        if waiter.done():  # the request was cancelled (client gone)
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)
