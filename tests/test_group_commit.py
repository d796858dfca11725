"""Group commit: many requests, one transaction, each acknowledged only once durable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select

from vigilante.db import _TURNS, LOCK_SUFFIX, WriterTurn, engine_for_url, write_transaction
from vigilante.tables import metadata, users
from vigilante.writer import GroupCommitWriter, Job

ROOT = Path(__file__).resolve().parent.parent


def _add_user(name):
    def work(conn):
        return conn.execute(
            insert(users)
            .values(username=name, password_hash="x", created_ms=0)
            .returning(users.c.id)
        ).scalar_one()

    return work


def _names(engine):
    with engine.connect() as conn:
        return set(conn.execute(select(users.c.username)).scalars())


def test_a_failing_job_is_undone_alone(client):
    engine = client.app.state.ctx.engine
    writer = GroupCommitWriter(engine)
    undone = []

    def boom(conn):
        _add_user("ghost")(conn)
        raise ValueError("bad job")

    try:
        futures = [
            writer.submit(Job(_add_user("ana"))),
            writer.submit(Job(boom, on_rollback=lambda: undone.append("ghost"))),
            writer.submit(Job(_add_user("bia"))),
        ]
        assert futures[0].result() > 0 and futures[2].result() > 0
        with pytest.raises(ValueError, match="bad job"):
            futures[1].result()
    finally:
        writer.close()
    assert {"ana", "bia"} <= _names(engine)
    assert "ghost" not in _names(engine)
    assert undone == ["ghost"]


def test_when_the_group_fails_nobody_is_acknowledged(client):
    engine = client.app.state.ctx.engine

    def refuse(conn, jobs):
        raise RuntimeError("disk full")

    writer = GroupCommitWriter(engine, before=refuse)
    undone = []
    try:
        future = writer.submit(Job(_add_user("carla"), on_rollback=lambda: undone.append(1)))
        with pytest.raises(RuntimeError, match="disk full"):
            future.result()
    finally:
        writer.close()
    assert "carla" not in _names(engine)
    assert undone == [1]


def test_concurrent_single_expenses_are_all_stored_in_order(make_client):
    client = make_client(auth="off")
    ctx = client.app.state.ctx
    user = ctx.local_user_id
    from vigilante.schemas import ExpenseIn

    items = [
        ExpenseIn(amount=10 + i, category="café", merchant=f"Loja {i}", account=f"c{i % 4}")
        for i in range(40)
    ]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda it: ctx.ingestor.ingest(user, [it], "pt-BR")[0][0], items))
    ids = [r["id"] for r in results]
    assert len(set(ids)) == 40
    assert sorted(r["amount"] for r in results) == [10 + i for i in range(40)]
    assert len(client.get("/events", params={"limit": 100}).json()) == 40


def test_a_duplicate_in_the_same_group_sees_the_first(make_client):
    client = make_client(auth="off")
    body = {
        "amount": 42.5,
        "category": "alimentação",
        "merchant": "Padaria",
        "occurred_at": "2026-03-02T12:30:00-03:00",
    }
    second = dict(body, occurred_at="2026-03-02T12:32:00-03:00")
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda payload: client.post("/event", json=payload), [body, second])
    flagged = [r.json() for r in (a, b) if r.json()["is_anomaly"]]
    codes = [reason["code"] for r in flagged for reason in r["reasons"]]
    assert "duplicate" in codes or "near_duplicate" in codes


def test_the_writer_serves_again_after_close(client):
    engine = client.app.state.ctx.engine
    writer = GroupCommitWriter(engine)
    assert writer.submit(Job(_add_user("before"))).result(timeout=30) > 0
    writer.close()
    # An app whose lifespan ended and started again keeps ingesting.
    assert writer.submit(Job(_add_user("after"))).result(timeout=30) > 0
    writer.close()
    assert {"before", "after"} <= _names(engine)


def test_coroutines_waiting_in_one_group_each_get_their_own_answer(client):
    import asyncio

    engine = client.app.state.ctx.engine
    writer = GroupCommitWriter(engine)

    def boom(conn):
        _add_user("ghost2")(conn)
        raise ValueError("bad job")

    async def main():
        gone = asyncio.ensure_future(writer.run(Job(_add_user("dora"))))
        await asyncio.sleep(0)
        gone.cancel()  # a client that went away: its job still commits, nobody is woken for it
        return await asyncio.gather(
            writer.run(Job(_add_user("eva"))),
            writer.run(Job(boom)),
            writer.run(Job(_add_user("flor"))),
            return_exceptions=True,
        )

    try:
        eva, failed, flor = asyncio.run(main())
    finally:
        writer.close()
    assert isinstance(failed, ValueError)
    assert eva > 0 and flor > 0 and eva != flor
    assert {"dora", "eva", "flor"} <= _names(engine)
    assert "ghost2" not in _names(engine)


def test_writers_of_one_process_take_turns_instead_of_meeting_sqlite_busy(tmp_path):
    """A retrain storing its version beside the group-commit writer: the second writer waits
    on the process's lock and begins only after the first committed. Left to SQLite it would
    begin at once, meet SQLITE_BUSY and sleep in its busy handler (up to 100 ms a try), which
    every request waiting on the group felt."""
    engine = engine_for_url(f"sqlite:///{tmp_path / 'turns.db'}", busy_timeout_ms=5_000)
    metadata.create_all(engine)
    with engine.connect(), engine.connect():
        pass  # two connections ready in the pool: opening one is not what the second waits for
    log = []
    # When a writer takes a connection to begin on (the lock, if any, is taken before), and
    # when it commits (the lock is released after).
    event.listen(
        engine, "checkout", lambda *_: log.append(("connect", threading.current_thread().name))
    )
    event.listen(
        engine, "commit", lambda _: log.append(("commit", threading.current_thread().name))
    )
    first_holds = threading.Event()

    def first():
        with write_transaction(engine) as conn:
            _add_user("first")(conn)
            first_holds.set()
            time.sleep(0.3)

    def second():
        first_holds.wait()
        with write_transaction(engine) as conn:
            _add_user("second")(conn)

    threads = [threading.Thread(target=f, name=f.__name__) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log[:4] == [
        ("connect", "first"),
        ("commit", "first"),
        ("connect", "second"),
        ("commit", "second"),
    ]
    assert {"first", "second"} <= _names(engine)
    engine.dispose()


# A writer in another process (a second uvicorn worker): holds a write transaction until told
# to commit, and says when it holds it and when it committed (monotonic clock: one per machine).
OTHER_WORKER = """
import sys, time
from sqlalchemy import event, insert
from vigilante.db import engine_for_url, write_transaction
from vigilante.tables import users
engine = engine_for_url(sys.argv[1], busy_timeout_ms=5_000)
committing = []
event.listen(engine, "commit", lambda _: committing.append(time.monotonic()))  # before release
with write_transaction(engine) as conn:
    conn.execute(insert(users).values(username="other", password_hash="x", created_ms=0))
    print("holding", flush=True)
    sys.stdin.readline()
print("committed", committing[0], flush=True)
"""


def test_writers_of_two_processes_take_turns_too(tmp_path):
    """Two workers on one SQLite file: the second waits in the kernel for the first's turn to
    end (a lock file beside the database) rather than meeting SQLITE_BUSY, whose sleeps let
    the first take the database again and again (p99 1.6 s with 2 workers, 40 ms with it)."""
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    engine = engine_for_url(url, busy_timeout_ms=5_000)
    metadata.create_all(engine)
    began = []
    event.listen(engine, "checkout", lambda *_: began.append(time.monotonic()))
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_WORKER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert other.stdout.readline().strip() == "holding"
        mine = threading.Thread(target=lambda: _write(engine, "mine"))
        mine.start()
        time.sleep(0.3)  # mine is waiting for its turn by now
        assert began == []  # ... without touching the database
        other.stdin.write("\n")
        other.stdin.flush()
        committed_at = float(other.stdout.readline().split()[1])
        mine.join(10)
        assert other.wait(10) == 0
    finally:
        other.kill()
    assert len(began) == 1 and began[0] >= committed_at
    assert {"other", "mine"} <= _names(engine)
    engine.dispose()


def test_a_held_lock_file_delays_writes_by_the_busy_timeout_at_most(tmp_path):
    """The lock file only orders the queue: held by something that never lets go (a stuck
    process), writers go on to SQLite after the busy timeout and write."""
    db = tmp_path / "turns.db"
    engine = engine_for_url(f"sqlite:///{db}", busy_timeout_ms=300)
    metadata.create_all(engine)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            f"{db}.writer-lock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        _write(engine, "patient")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert "patient" in _names(engine)
    assert waited < 5  # the busy timeout (0.3 s) and some slack, not the holder's 60 s
    engine.dispose()


def _write(engine, name):
    with write_transaction(engine) as conn:
        _add_user(name)(conn)


def test_a_lock_file_that_cannot_be_used_leaves_the_ordering_to_sqlite(tmp_path):
    """Permissions, a filesystem without locks: writes go on, ordered by SQLite alone."""
    db = tmp_path / "turns.db"
    engine = engine_for_url(f"sqlite:///{db}", busy_timeout_ms=5_000)
    metadata.create_all(engine)
    (tmp_path / "turns.db.writer-lock").mkdir()  # cannot be opened as a file
    _write(engine, "unqueued")
    assert "unqueued" in _names(engine)
    engine.dispose()


def test_a_forked_child_does_not_share_its_parents_turn(tmp_path):
    """The lock file's descriptor stays open between turns; a child forked from a process
    that took turns must not inherit it as its own (a shared open file shares its flock, so
    both would "hold" the lock at once): it waits for the parent's turn like anyone else."""
    db = tmp_path / "turns.db"
    engine = engine_for_url(f"sqlite:///{db}", busy_timeout_ms=5_000)
    metadata.create_all(engine)
    turn = _TURNS[engine]
    with turn():  # the descriptor is opened and kept
        pass
    go_r, go_w = os.pipe()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: once the parent holds its turn, how long its own took to come
        os.read(go_r, 1)
        started = time.monotonic()
        with turn():
            os.write(write, f"{time.monotonic() - started:.3f}".encode())
        os._exit(0)
    with turn():
        os.write(go_w, b"x")
        time.sleep(0.5)
    waited = float(os.read(read, 64).decode())
    os.waitpid(pid, 0)
    for fd in (go_r, go_w, read, write):
        os.close(fd)
    assert waited >= 0.4  # it waited for the parent to let go
    with turn():  # and the parent takes turns again afterwards
        pass
    engine.dispose()


def test_a_parent_that_dies_holding_its_turn_leaves_no_lock_behind_in_its_child(tmp_path):
    """A forked child closes the descriptor it inherited: were it kept, the parent's lock
    would outlive the parent for as long as the child lived, and every writer would wait out
    the busy timeout at each write."""
    db = tmp_path / "turns.db"
    script = (
        "import os, sys, time\n"
        "from vigilante.db import WriterTurn\n"
        "turn = WriterTurn(sys.argv[1], 5)\n"
        "with turn():\n"
        "    pass\n"  # the descriptor is kept from here on
        "if os.fork() == 0:\n"
        "    time.sleep(60)\n"  # a child that never writes, alive while the test looks
        "    os._exit(0)\n"
        "with turn():\n"
        "    print('holding', flush=True)\n"
        "    time.sleep(60)\n"  # killed here, holding its turn
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, f"{db}{LOCK_SUFFIX}"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        assert parent.stdout.readline().strip() == "holding"
        parent.kill()
        parent.wait()
        mine = WriterTurn(f"{db}{LOCK_SUFFIX}", 5)
        started = time.monotonic()
        with mine():
            waited = time.monotonic() - started
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the child too
    assert waited < 1  # the lock died with its holder, though the child lives on


def test_a_deleted_lock_file_is_not_kept_locking_alone(tmp_path):
    """A writer that kept the lock file open, after the file was deleted (a clean-up), queues
    on the new one at the path, as the other processes do: not on a file nobody else sees."""
    path = str(tmp_path / f"turns.db{LOCK_SUFFIX}")
    kept, other = WriterTurn(path, 5), WriterTurn(path, 5)
    with kept():  # opened and kept
        pass
    os.unlink(path)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with other():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    with kept():
        waited = time.monotonic() - started
    holder.join(5)
    assert waited >= 0.4
