"""Engine creation and transactions; ``VIGILANTE_DATABASE_URL`` picks the backend.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that turns from a read into a write gets
SQLITE_BUSY at once, ignoring the busy timeout, which is exactly the ingest path
(read history, then insert).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

try:
    import fcntl
except ImportError:  # Windows: threads of one process still queue; processes meet SQLite's busy
    fcntl = None
from sqlalchemy.engine import URL, make_url

from vigilante.config import Settings

# A DB-API cursor on a connection, for statements run once per request or group (the ingest's
# savepoints, inserts and per-user reads): SQLAlchemy's execution machinery costs ~30-100 µs a
# statement, more than most of these statements themselves. Set by the group-commit writer.
CURSOR_KEY = "vigilante.cursor"


def create_db_engine(settings: Settings, **pool: Any) -> Engine:
    if not pool and not settings.sqlalchemy_url.startswith("sqlite"):
        pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    return engine_for_url(
        settings.sqlalchemy_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        synchronous=settings.sqlite_synchronous,
        **pool,
    )


def engine_for_url(
    url: str | URL, *, busy_timeout_ms: int = 10_000, synchronous: str = "FULL", **pool: Any
) -> Engine:
    """An engine for ``url``; ``pool`` overrides the pool arguments (e.g. ``poolclass``)."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        pool = pool or {"pool_size": 10, "max_overflow": 20}
        return create_engine(url, pool_pre_ping=True, **pool)

    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        _private_database(Path(url.database))  # (a file: URI names its path its own way)
    # LIFO: the connection used last is warmest (SQLite's page cache is per connection).
    pool = pool or {"pool_size": 8, "max_overflow": 8, "pool_use_lifo": True}
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        **pool,
    )

    on_disk = bool(url.database) and url.database != ":memory:"
    _TURNS[engine] = WriterTurn(
        f"{url.database}{LOCK_SUFFIX}" if on_disk else None, busy_timeout_ms / 1000
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        # Hand transaction control to SQLAlchemy's begin event (pysqlite's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection):
        if conn.get_execution_options().get("immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _private_database(path: Path) -> None:
    """The database file readable by its owner only: it holds password hashes and every
    expense. Created so, and tightened if an older run left it readable by others (SQLite
    gives its -wal and -shm files the database file's permissions)."""
    path = path.resolve()  # a symlink's target, even a missing one, is what SQLite opens
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # absent, or not ours to change
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


LOCK_SUFFIX = ".writer-lock"


class WriterTurn:
    """One SQLite writer at a time, queued where the wait wakes at once.

    Left to SQLite, a second writer meets SQLITE_BUSY and its busy handler, which sleeps
    between tries (up to 100 ms at a time, whatever the holder's pace) and lets the holder
    take the lock again and again meanwhile: a retrain storing its version beside the
    group-commit writer cost every request in flight that long, and two workers' writers
    starved each other (p99 1.6 s). Threads of one process queue on a lock; processes on an
    exclusive ``flock`` of a file beside the database, which the kernel hands over the moment
    its holder lets go (and lets go of for a holder that dies). Past the busy timeout a writer
    goes on to SQLite, which then waits and fails as it always did.
    """

    def __init__(self, path: str | None, timeout: float):
        self.path = path
        self.timeout = timeout
        self._threads = threading.RLock()
        self._local = threading.local()  # re-entry depth in this thread
        # One descriptor of the lock file, kept open for this process's turns: a stat, an open
        # and a close at every group commit were three system calls, each giving up the GIL
        # and waiting behind the event loop to take it back. A forked child closes its copy
        # and opens its own (one open file shares one flock: both would "hold" it).
        self._fd: int | None = None
        self._fd_pid = 0
        _KEPT.add(self)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            yield
            return
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        fd = None
        try:
            if depth == 0 and self.path is not None and fcntl is not None:
                fd = self._lock_file(deadline)
            yield
        finally:
            self._local.depth = depth
            if fd is not None:
                self._let_go(fd)
            self._threads.release()

    def _let_go(self, fd: int) -> None:
        if fd == self._fd:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return
            except OSError:  # unlocking failed: closing the descriptor lets go for certain
                self._fd = None
        os.close(fd)

    def _forget_inherited(self) -> None:
        """In a forked child: the kept descriptor is the parent's open file. Closed (never
        unlocked, which would end the parent's turn), or a parent that dies holding the lock
        would leave it held by this copy for as long as the child lives."""
        if self._fd is not None and self._fd_pid != os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def _kept(self) -> int:
        """This process's open descriptor of the lock file (raises OSError if unusable)."""
        self._forget_inherited()  # (a fork the handler below did not see: os.fork in C code)
        if self._fd is None:
            self._fd, self._fd_pid = self._open(), os.getpid()
        return self._fd

    @staticmethod
    def _deleted(fd: int) -> bool:
        """The kept file was deleted (a clean-up): the others queue on a new one at its path."""
        try:
            return os.fstat(fd).st_nlink == 0
        except OSError:
            return True

    def _open(self) -> int:
        # Read-only is enough to lock; created with the database's own permissions, so every
        # account that may write the database may queue here (SQLite does the same for -wal).
        try:
            mode = os.stat(self.path.removesuffix(LOCK_SUFFIX)).st_mode & 0o666
        except OSError:
            mode = 0o644
        return os.open(self.path, os.O_RDONLY | os.O_CREAT, mode)

    def _lock_file(self, deadline: float, retry: bool = True) -> int | None:
        """A descriptor holding the lock file; None if the deadline passed first, or if the
        file cannot be used (permissions, a filesystem without locks): SQLite's lock alone then
        orders the writers, as it did before the queue."""
        try:
            fd = self._kept()
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except OSError:
            return None
        else:
            if not self._deleted(fd):
                return fd
            self._fd = None
            os.close(fd)
            return self._lock_file(deadline, retry=False) if retry else None
        # Taken by another process: wait for it in the kernel (woken at its release), on a
        # thread of its own so that the wait can end at the deadline. SQLite's own lock stays
        # what guarantees one writer; this only keeps the queue moving.
        mutex, got, outcome = threading.Lock(), threading.Event(), {"state": "waiting"}

        def wait_for_it() -> None:
            try:
                fd = self._open()
            except OSError:
                fd = None
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError:
                    os.close(fd)
                    fd = None
            with mutex:
                if fd is not None and outcome["state"] == "waiting":
                    outcome.update(state="got", fd=fd)
                else:  # too late, or the lock file cannot be used
                    if fd is not None:
                        os.close(fd)
                    outcome["state"] = "gave up"
            got.set()

        threading.Thread(target=wait_for_it, daemon=True, name="sqlite-writer-turn").start()
        interrupted = True
        try:
            got.wait(max(deadline - time.monotonic(), 0.0))
            interrupted = False
        finally:  # interrupted too: a lock got later must not stay held for nobody
            with mutex:
                if outcome["state"] == "got" and interrupted:
                    os.close(outcome.pop("fd"))
                    outcome["state"] = "gave up"
                elif outcome["state"] == "waiting":
                    outcome["state"] = "gave up"
        return outcome["fd"] if outcome["state"] == "got" else None


_TURNS: weakref.WeakKeyDictionary[Engine, WriterTurn] = weakref.WeakKeyDictionary()
_KEPT: weakref.WeakSet[WriterTurn] = weakref.WeakSet()


def _forget_inherited_turns() -> None:
    for turn in list(_KEPT):
        turn._forget_inherited()


os.register_at_fork(after_in_child=_forget_inherited_turns)


# Values per ``IN (...)`` list: far under SQLite's 32,766 bound variables and PostgreSQL's 65,535
# parameters a statement, so a statement with other binds beside the list still fits.
IN_LIST_MAX = 500


def in_chunks(values: list, size: int = IN_LIST_MAX) -> Iterator[list]:
    """``values`` in slices short enough for one ``IN (...)`` list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: takes SQLite's write lock up front, commits on exit."""
    turn = _TURNS.get(engine)
    with turn() if turn is not None else contextlib.nullcontext(), engine.connect() as conn:
        conn.execution_options(immediate=True)
        with conn.begin():
            yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn


def database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class DriverQuery:
    """A Core statement compiled once per dialect, then run straight through the driver.

    For the few reads on the ingest hot path. Binds are named (``bindparam("user_id")``);
    rows come back as plain tuples, without SQLAlchemy's type processing, so use it only for
    columns the driver already returns as wanted (integers, floats, text).
    """

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, tuple[str, list[str] | None, dict]] = {}

    def bound(self, conn: Connection, **params: Any) -> tuple[str, tuple | dict]:
        """The driver's SQL and arguments, for ``cursor.execute(*query.bound(conn, ...))``."""
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            stmt = self.statement.compile(dialect=dialect)
            order = list(stmt.positiontup) if stmt.positional else None
            compiled = self._compiled[dialect.name] = (str(stmt), order, dict(stmt.params))
        sql, order, defaults = compiled
        values = defaults | params  # e.g. a LIMIT's value, compiled as a bind of its own
        args = tuple(values[name] for name in order) if order is not None else values
        return sql, args

    def rows(self, conn: Connection, **params: Any) -> list[tuple]:
        sql, args = self.bound(conn, **params)
        cursor = conn.info.get(CURSOR_KEY)
        if cursor is None:
            return list(conn.exec_driver_sql(sql, args).all())
        cursor.execute(sql, args)
        return cursor.fetchall()
