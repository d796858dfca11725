"""Engine creation and transactions; ``VIGILANTE_DATABASE_URL`` picks the backend.

SQLite runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that turns from a read into a write gets
SQLITE_BUSY at once, ignoring the busy timeout, which is exactly the ingest path
(read history, then insert).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
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

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # LIFO: the connection used last is warmest (SQLite's page cache is per connection).
    pool = pool or {"pool_size": 8, "max_overflow": 8, "pool_use_lifo": True}
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        **pool,
    )

    _WRITE_LOCKS[engine] = (threading.RLock(), busy_timeout_ms / 1000)

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


# One SQLite writer at a time: threads of this process queue on a lock, which wakes the next
# one the moment the last commits. Left to SQLite they would meet SQLITE_BUSY and its busy
# handler, which sleeps between tries (up to 100 ms at a time, whatever the holder's pace):
# a retrain storing its version beside the group-commit writer cost every request in flight
# that long. Other processes (a second worker) still meet the busy handler.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: takes SQLite's write lock up front, commits on exit."""
    lock, timeout = _WRITE_LOCKS.get(engine, (None, 0.0))
    # Past the busy timeout, go on to SQLite: it then waits and fails as it would have.
    held = lock is not None and lock.acquire(timeout=timeout)
    try:
        with engine.connect() as conn:
            conn.execution_options(immediate=True)
            with conn.begin():
                yield conn
    finally:
        if held:
            lock.release()


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
