"""The ingest pipeline: validate -> features -> score -> store, in one transaction per request.

Expenses of one user are scored strictly in order, each seeing the ones before it: the user's
history is refreshed from the database inside the write transaction (SQLite's write lock, or a
row lock on the user in PostgreSQL), so several workers still agree on every feature.
An expense is acknowledged only after its transaction has committed.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import Engine, bindparam, delete, insert, select

from models.detector import probability
from models.evidence import weigh
from models.features import Event
from vigilante.db import CURSOR_KEY, DriverQuery, in_chunks, write_transaction
from vigilante.detection import DetectorService
from vigilante.history import HistoryCache, event_key
from vigilante.rendering import expense_out
from vigilante.schemas import ExpenseIn
from vigilante.tables import expenses, idempotency_keys, users
from vigilante.writer import GROUP_KEY, GroupCommitWriter, Job

PRUNE_EVERY_MS = 10 * 60_000


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was sent before with a different body."""


class InvalidExpense(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def request_hash(items: list[ExpenseIn], single: bool) -> str:
    """What a key promises to repeat: the parsed expenses and which endpoint (one or a batch)."""
    body = json.dumps(
        {"single": single, "items": [i.model_dump(mode="json") for i in items]}, sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def prune_idempotency_keys(engine: Engine, older_than_ms: int) -> int:
    """Forget keys created before ``older_than_ms`` (an index range on ``created_ms``)."""
    with write_transaction(engine) as conn:
        return _prune_keys(older_than_ms, conn)


@dataclass
class Ingestor:
    engine: Engine
    detectors: DetectorService
    histories: HistoryCache
    currency: str
    max_future_minutes: int
    default_alert_rate: float
    # A key is honoured for this long after its first use (Stripe: 24 h), then forgotten.
    idempotency_ttl_ms: int = 48 * 3_600_000
    _next_prune_ms: int = 0

    def _row(self, user_id: int, item: ExpenseIn, received: int, index: int | None) -> dict:
        occurred = to_ms(item.occurred_at) if item.occurred_at else received
        if occurred > received + self.max_future_minutes * 60_000:
            prefix = f"{index}." if index is not None else ""
            raise InvalidExpense(
                f"{prefix}occurred_at",
                f"is more than {self.max_future_minutes} minutes in the future",
            )
        if occurred < 0:
            raise InvalidExpense("occurred_at", "must not be before 1970-01-01")
        return {
            "user_id": user_id,
            "account": item.account or "",
            "amount_cents": int(item.amount * 100),
            "currency": item.currency or self.currency,
            "category": item.category,
            "merchant": item.merchant or None,
            "description": item.description or None,
            "occurred_ms": occurred,
            "received_ms": received,
            "external_id": item.external_id,
        }

    def __post_init__(self):
        self.writer = GroupCommitWriter(self.engine, before=self._lock_users)

    def close(self) -> None:
        self.writer.close()

    def _prepare(self, user_id, items, single):
        received = now_ms()
        rows = [
            self._row(user_id, item, received, None if single else i)
            for i, item in enumerate(items)
        ]
        return rows

    def _job(self, user_id, items, lang, idempotency_key, single) -> Job:
        rows = self._prepare(user_id, items, single)
        digest = request_hash(items, single) if idempotency_key else ""
        prune_before = None
        now = now_ms()
        if idempotency_key and now >= self._next_prune_ms:
            # Expired keys go in the same transaction, at most every PRUNE_EVERY_MS per process.
            self._next_prune_ms = now + PRUNE_EVERY_MS
            prune_before = now - self.idempotency_ttl_ms
        return Job(
            work=partial(self._ingest_in, user_id, rows, idempotency_key, digest, prune_before),
            # The cached history may hold expenses that were rolled back.
            on_rollback=partial(self.histories.drop, user_id),
            on_rollback_in_group=partial(_forget_in_group, self.histories, user_id),
            key=user_id,
        )

    def ingest(
        self,
        user_id: int,
        items: list[ExpenseIn],
        lang: str,
        idempotency_key: str | None = None,
        single: bool = False,
    ) -> tuple[list[dict], bool]:
        """Store and score ``items`` in order; returns (expenses out, replayed from a key)."""
        job = self._job(user_id, items, lang, idempotency_key, single)
        rows, replayed, stored = self.writer.submit(job).result()
        self._after(user_id, replayed, stored, idempotency_key)
        return [expense_out(row, lang) for row in rows], replayed

    async def ingest_async(
        self,
        user_id: int,
        items: list[ExpenseIn],
        lang: str,
        idempotency_key: str | None = None,
        single: bool = False,
    ) -> tuple[list[dict], bool]:
        """:meth:`ingest` for the event loop: waits for the group commit without a thread."""
        job = self._job(user_id, items, lang, idempotency_key, single)
        rows, replayed, stored = await self.writer.run(job)
        self._after(user_id, replayed, stored, idempotency_key)
        # Rendered here, after the commit: the writer thread, which every request waits for,
        # only does what must happen inside the transaction.
        return [expense_out(row, lang) for row in rows], replayed

    def _after(self, user_id, replayed, stored, idempotency_key) -> None:
        if not replayed:
            self.detectors.note_stored(user_id, stored)

    def _lock_users(self, conn, jobs: list[Job]) -> None:
        """Lock every user of a group in id order, so two hosts' groups never deadlock."""
        if conn.dialect.name == "sqlite":  # BEGIN IMMEDIATE already holds the only write lock
            return
        ids = sorted({job.key for job in jobs})
        conn.execute(
            select(users.c.id).where(users.c.id.in_(ids)).order_by(users.c.id).with_for_update()
        )

    def _ingest_in(self, user_id, rows, idempotency_key, digest, prune_before, conn):
        """One request's work inside the writer's transaction (its own savepoint): the stored
        rows, whether they were replayed from an Idempotency-Key, and the user's row count."""
        if prune_before is not None:
            _prune_keys(prune_before, conn)
        if idempotency_key:
            previous = conn.execute(
                select(
                    idempotency_keys.c.request_hash,
                    idempotency_keys.c.response,
                    idempotency_keys.c.created_ms,
                ).where(
                    idempotency_keys.c.user_id == user_id,
                    idempotency_keys.c.key == idempotency_key,
                )
            ).first()
            expired = previous is not None and previous.created_ms < (
                now_ms() - self.idempotency_ttl_ms
            )
            if expired:
                conn.execute(
                    delete(idempotency_keys).where(
                        idempotency_keys.c.user_id == user_id,
                        idempotency_keys.c.key == idempotency_key,
                    )
                )
            elif previous is not None:
                if previous.request_hash != digest:
                    raise IdempotencyConflict()
                replayed = self._replay(conn, user_id, json.loads(previous.response))
                return replayed, True, 0

        known = self._known_external_ids(conn, user_id, rows)
        alert_rate, history, detector = self._user_state(conn, user_id)
        new_rows, events, vectors, weighed_all = [], [], [], []
        slots: list[int | dict] = []  # per input: index into new_rows, or an existing id
        for row in rows:
            ext = row["external_id"]
            if ext is not None and ext in known:
                slots.append({"id": known[ext]})
                continue
            event = Event(
                ts=row["occurred_ms"],
                cents=row["amount_cents"],
                category=event_key(row["category"]),
                merchant=event_key(row["merchant"]),
                account=row["account"],
            )
            vector, ctx = history.features(event)
            weighed = weigh(ctx)
            history.add(event)
            slots.append(len(new_rows))
            if ext is not None:
                known[ext] = None  # a repeat later in this batch maps to this new row
            new_rows.append(row)
            events.append(event)
            vectors.append(vector)
            weighed_all.append(weighed)

        verdicts = detector.verdicts(vectors, weighed_all, alert_rate)
        for row, vector, verdict in zip(new_rows, vectors, verdicts, strict=True):
            row.update(
                score=verdict.score,
                is_anomaly=verdict.is_anomaly,
                severity=verdict.severity,
                reasons=[
                    {
                        "code": e.code,
                        "strength": round(probability(e.llr), 4),
                        "llr": round(e.llr, 3),
                        "params": _display(e.params, row),
                    }
                    for e in verdict.evidence
                ],
                model_version=verdict.model_version,
                features=vector.tobytes(),
                evidence=verdict.explicit,
                feedback=None,
                feedback_ms=None,
            )
        ids = _insert_rows(conn, new_rows)
        for row, event, new_id in zip(new_rows, events, ids, strict=True):
            row["id"] = new_id
            event.id = new_id
            history.last_id = max(history.last_id, new_id)

        ids_in_order, pending_external = [], {}
        for slot, row in zip(slots, rows, strict=True):
            if isinstance(slot, int):
                ids_in_order.append(new_rows[slot]["id"])
                if row["external_id"] is not None:
                    pending_external[row["external_id"]] = new_rows[slot]["id"]
            elif slot["id"] is None:
                ids_in_order.append(pending_external[row["external_id"]])
            else:
                ids_in_order.append(slot["id"])

        if idempotency_key:
            conn.execute(
                insert(idempotency_keys).values(
                    user_id=user_id,
                    key=idempotency_key,
                    request_hash=digest,
                    status_code=201,
                    response=json.dumps(ids_in_order),
                    created_ms=now_ms(),
                )
            )
        by_id = {row["id"]: row for row in new_rows}
        missing = [i for i in ids_in_order if i not in by_id]
        if missing:
            by_id.update(self._rows_by_id(conn, user_id, missing))
        return [by_id[i] for i in ids_in_order], False, history.n_total

    def _user_state(self, conn, user_id):
        """Alert rate, fresh history and newest detector of a user, read once per group.

        Within one group transaction nobody else can write this user's expenses (SQLite's
        write lock, or the user's row lock in PostgreSQL), so what the first job read stays
        true for the next ones; each job's own additions are already in the history.
        """
        group = conn.info.get(GROUP_KEY)
        state = group.get(user_id) if group is not None else None
        if state is None:
            found = _ALERT_RATE.rows(conn, user_id=user_id)
            rate = found[0][0] if found else None
            state = (
                rate or self.default_alert_rate,
                self.histories.fresh(conn, user_id),
                self.detectors.for_user(user_id, conn),  # the newest, for every worker
            )
            if group is not None:
                group[user_id] = state
        return state

    def _known_external_ids(self, conn, user_id, rows) -> dict:
        wanted = list({r["external_id"] for r in rows if r["external_id"] is not None})
        known = {}
        for chunk in in_chunks(wanted):
            for ext, ident in conn.execute(
                select(expenses.c.external_id, expenses.c.id).where(
                    expenses.c.user_id == user_id, expenses.c.external_id.in_(chunk)
                )
            ):
                known[ext] = ident
        return known

    def _rows_by_id(self, conn, user_id, ids) -> dict:
        found = {}
        for chunk in in_chunks(ids):
            for row in conn.execute(
                select(expenses).where(expenses.c.user_id == user_id, expenses.c.id.in_(chunk))
            ).mappings():
                found[row["id"]] = dict(row)
        return found

    def _replay(self, conn, user_id, ids) -> list[dict]:
        by_id = self._rows_by_id(conn, user_id, ids)
        return [by_id[i] for i in ids]


_ALERT_RATE = DriverQuery(select(users.c.alert_rate).where(users.c.id == bindparam("user_id")))


_INSERT_SQL: dict[tuple[str, bool], tuple[str, list[str]]] = {}


def _insert_sql(dialect, keys: list[str], returning: bool) -> tuple[str, list[str]]:
    """The expense INSERT for this driver, compiled once per dialect: (SQL, parameter order)."""
    compiled = _INSERT_SQL.get((dialect.name, returning))
    if compiled is None:
        stmt = insert(expenses).returning(expenses.c.id) if returning else insert(expenses)
        stmt = stmt.compile(dialect=dialect, column_keys=keys)
        order = list(stmt.positiontup) if stmt.positional else keys
        compiled = _INSERT_SQL[(dialect.name, returning)] = (str(stmt), order)
    return compiled


def _driver_params(dialect, row: dict, order: list[str]):
    values = dict(row, reasons=json.dumps(row["reasons"]))
    return tuple(values[k] for k in order) if dialect.positional else values


def _insert_rows(conn, rows: list[dict]) -> list[int]:
    """Insert expense rows in order and return their ids, straight through the driver.

    SQLAlchemy's executemany with RETURNING spent ~25 µs a row building parameters; here a
    batch is one ``executemany``. SQLite cannot return rows from it, but the group holds the
    only write lock, so a batch's rowids are consecutive and end at ``last_insert_rowid()``
    (checked). PostgreSQL returns them, in order, per parameter set.
    """
    if not rows:
        return []
    if len(rows) == 1:
        return [_insert_one(conn, rows[0])]
    cursor = conn.info.get(CURSOR_KEY)  # the writer's, inside a group
    if cursor is None:
        stmt = insert(expenses).returning(expenses.c.id, sort_by_parameter_order=True)
        return conn.execute(stmt, rows).scalars().all()
    dialect = conn.dialect
    sqlite = dialect.name == "sqlite"
    sql, order = _insert_sql(dialect, list(rows[0]), returning=not sqlite)
    params = [_driver_params(dialect, row, order) for row in rows]
    if sqlite:
        cursor.executemany(sql, params)
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
        first = last - len(rows) + 1
        stored = cursor.execute(
            "SELECT count(*) FROM expenses WHERE id BETWEEN ? AND ? AND user_id = ?",
            (first, last, rows[0]["user_id"]),
        ).fetchone()[0]
        if stored != len(rows):  # never expected: the ids would not be these rows'
            raise RuntimeError("expense ids of a batch are not consecutive")
        return list(range(first, last + 1))
    cursor.executemany(sql, params, returning=True)
    ids = []
    while True:
        ids.append(cursor.fetchone()[0])
        if not cursor.nextset():
            break
    return ids


def _insert_one(conn, row: dict) -> int:
    """One expense row through the driver: the common single-expense case without
    SQLAlchemy's per-statement bookkeeping (the statement is compiled once per dialect)."""
    dialect = conn.dialect
    cursor = conn.info.get(CURSOR_KEY)  # the writer's, inside a group
    if cursor is not None and dialect.name == "sqlite":
        # The row id straight from the connection: RETURNING costs SQLite a result row to
        # build and fetch (~5 µs of the insert's ~20 alone, more amid the server's work).
        # ``id`` is the table's INTEGER PRIMARY KEY, the rowid itself.
        sql, order = _insert_sql(dialect, list(row), returning=False)
        cursor.execute(sql, _driver_params(dialect, row, order))
        return cursor.lastrowid
    sql, order = _insert_sql(dialect, list(row), returning=True)
    params = _driver_params(dialect, row, order)
    if cursor is None:
        return conn.exec_driver_sql(sql, params).scalar_one()
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def _forget_in_group(histories: HistoryCache, user_id: int, conn) -> None:
    """A job was undone inside its group: the next job of this user must reload from the
    database, not reuse a history that still holds the undone expenses."""
    histories.drop(user_id)
    group = conn.info.get(GROUP_KEY)
    if group is not None:
        group.pop(user_id, None)


def _prune_keys(older_than_ms: int, conn) -> int:
    result = conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_ms < older_than_ms)
    )
    return result.rowcount


def _display(params: dict, row: dict) -> dict:
    """Evidence speaks of case-folded keys; show the spender's own spelling instead."""
    shown = dict(params)
    if "merchant" in shown and row.get("merchant"):
        shown["merchant"] = row["merchant"]
    if "category" in shown:
        shown["category"] = row["category"]
    return shown
