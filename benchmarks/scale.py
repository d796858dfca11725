"""`POST /event` throughput on SQLite and PostgreSQL, 1 and 2 uvicorn workers, many spenders.

Each configuration gets a fresh database (a temp SQLite file, or a new schema on the
PostgreSQL server, dropped afterwards), ``--users`` spenders with some history each, and a
bounded load (wrk when installed, else asyncio httpx) whose requests rotate over those
spenders. Written to the "PostgreSQL" section of docs/benchmarks.md.

    python -m benchmarks.scale [--seconds 10] [--users 32] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.load import LoadResult, post_load
from benchmarks.payloads import expense_payload
from benchmarks.report import replace_section
from benchmarks.servers import children, cpu_seconds, server
from vigilante.migrate import upgrade
from vigilante.security import create_access_token, hash_password
from vigilante.tables import users

POSTGRES = os.environ.get(
    "VIGILANTE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONNECTIONS = 32
HISTORY = 100  # expenses per spender before the measured run


def make_users(url: str, n: int, key: bytes) -> list[str]:
    """``n`` spenders straight into the database; tokens minted with the server's key."""
    engine = create_engine(url, poolclass=NullPool)
    password = hash_password(secrets.token_urlsafe(16))
    rows = [
        {"username": f"spender{i}", "password_hash": password, "created_ms": 0} for i in range(n)
    ]
    with engine.begin() as conn:
        returning = insert(users).returning(users.c.id, sort_by_parameter_order=True)
        ids = conn.execute(returning, rows).scalars().all()
    engine.dispose()
    return [create_access_token(i, key, 120)[0] for i in ids]


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        # By parent pid: /proc/<pid>/task/<pid>/children needs a kernel option not every
        # machine has (this one has not), and without it the workers went uncounted.
        todo += children(p)
    return pids


class CpuMeter:
    """CPU time spent by a changing set of processes while the block runs, sampled every
    0.2 s so that processes that come and go (pooled database connections) still count.
    CPU time, unlike wall time, barely depends on what else the machine is doing."""

    def __init__(self, pids: Callable[[], list[int]]):
        self.pids = pids
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()

    def _sample(self, initial: bool = False) -> None:
        for pid in self.pids():
            used = cpu_seconds(pid)
            if used is None:
                continue
            self.first.setdefault(pid, used if initial else 0.0)
            self.last[pid] = used

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)


def postgres_backends(admin, app_name: str) -> list[int]:
    with admin.connect() as conn:
        return list(
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                {"a": app_name},
            ).scalars()
        )


def run(backend: str, workers: int, n_users: int, seconds: int, tmp: Path) -> dict:
    key = secrets.token_urlsafe(48)
    # The forest is not retrained during the run: this measures ingest, not training.
    env = {
        "VIGILANTE_SECRET_KEY": key,
        "VIGILANTE_MIN_TRAIN_SAMPLES": str(10**9),
        "VIGILANTE_RETRAIN_EVERY": str(10**9),
    }
    schema = None
    if backend == "PostgreSQL":
        schema = f"bench_{int(time.time())}_{secrets.token_hex(3)}"
        admin = create_engine(POSTGRES, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRES).update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": schema}
        )
        url = url.render_as_string(hide_password=False)
        env["VIGILANTE_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{tmp / 'vigilante.db'}"
    try:
        upgrade(url)
        tokens = make_users(url, n_users, key.encode())
        with server("app:app", env=env, workers=workers, data_dir=tmp) as (base, proc, _):
            rng = random.Random(0)
            with httpx.Client(base_url=base, timeout=120) as client:
                for token in tokens:
                    history = [expense_payload(i, rng) for i in range(HISTORY)]
                    r = client.post(
                        "/events", json=history, headers={"Authorization": f"Bearer {token}"}
                    )
                    r.raise_for_status()
            load_before = os.getloadavg()[0]
            api = CpuMeter(lambda: process_tree(proc.pid))
            db = CpuMeter(lambda: postgres_backends(admin, schema) if schema else [])
            with api, db:
                many = post_load(base, seconds, CONNECTIONS, tokens=tokens)
            api_ms = api.seconds * 1000 / max(many.requests, 1)
            db_ms = db.seconds * 1000 / max(many.requests, 1)
            one = post_load(base, seconds, CONNECTIONS, token=tokens[0]) if workers > 1 else None
    finally:
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    return {"many": many, "one": one, "load": load_before, "api_ms": api_ms, "db_ms": db_ms}


def postgres_version() -> str:
    engine = create_engine(POSTGRES, poolclass=NullPool)
    with engine.connect() as conn:
        found = conn.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    return found.split()[0]


def render(results: dict, n_users: int, seconds: int, command: str) -> str:
    first: LoadResult = next(iter(results.values()))["many"]
    lines = [
        f"Command: `{command}` (the defaults, run by `make bench`) — machine: "
        f"{platform.machine()}, {os.cpu_count()} cores shared by "
        f"the API workers, the database and the load generator; Python "
        f"{platform.python_version()}, PostgreSQL {postgres_version()} (local, default config, "
        f"psycopg {version('psycopg')}), SQLAlchemy {version('sqlalchemy')}, uvicorn "
        f"{version('uvicorn')}; load by {first.tool}, {CONNECTIONS} connections, {seconds} s "
        f"per row, requests rotating over {n_users} spenders with {HISTORY} expenses of history "
        "each. Every request is a committed, scored `POST /event`. *load avg* is the machine's "
        "1-minute load average before the row: above 2 the 2 cores were shared with other work "
        "and the row says less. *CPU ms per request* is the CPU time the API processes (and, "
        "on PostgreSQL, the server's backends for this run) spent per request during the run; "
        "it does not depend on what else the machine was doing, and 2,000 ms ÷ it is what 2 "
        "cores could do if nothing else ran there (the load generator excluded).",
        "",
        "| database | workers | `POST /event`/s | p50 | p99 | requests (errors) | load avg | "
        "CPU ms per request: API + database | CPU-bound ceiling, 2 cores |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cells(x: LoadResult) -> str:
        return (
            f"**{x.rps:,.0f}** | {x.p50_ms:.0f} ms | {x.p99_ms:.0f} ms | "
            f"{x.requests:,} ({x.errors})"
        )

    for (backend, workers), r in results.items():
        cpu = r["api_ms"] + r["db_ms"]
        lines.append(
            f"| {backend} | {workers} | {cells(r['many'])} | {r['load']:.1f} | "
            f"{r['api_ms']:.2f} + {r['db_ms']:.2f} | {2000 / cpu:,.0f}/s |"
        )
    for (backend, workers), r in results.items():
        if r["one"] is not None:
            lines.append(f"| {backend}, one spender | {workers} | {cells(r['one'])} | — | — | — |")
    sqlite_cpu = sum(r["api_ms"] for (b, _), r in results.items() if b == "SQLite") / 2
    pg = [r for (b, _), r in results.items() if b == "PostgreSQL"]
    pg_api = sum(r["api_ms"] for r in pg) / len(pg)
    pg_db = sum(r["db_ms"] for r in pg) / len(pg)
    lines += [
        "",
        f"Reading it: on one 2-core box, where API workers, PostgreSQL and the load generator "
        f"share the cores, PostgreSQL is not faster than the embedded SQLite: a request costs "
        f"about {pg_api:.1f} ms of API CPU plus {pg_db:.1f} ms of PostgreSQL CPU, against "
        f"{sqlite_cpu:.1f} ms on SQLite (driver round trips and the server's own work), and a "
        "second worker only adds contention for the same two cores. What PostgreSQL buys is "
        "the next step: API hosts added on other machines each bring their own cores while "
        "sharing one truth (docs/deploy.md), which SQLite cannot do; the database's own "
        "share per request is what its machine must supply. Ingest groups concurrent "
        "requests into one transaction per worker (group commit), so one spender's burst is "
        "cheap: their requests share one lock and one history read.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=32)
    args = parser.parse_args()
    results = {}
    for backend, workers in [("SQLite", 1), ("SQLite", 2), ("PostgreSQL", 1), ("PostgreSQL", 2)]:
        with tempfile.TemporaryDirectory(prefix="vigilante-scale-") as tmp:
            results[(backend, workers)] = run(backend, workers, args.users, args.seconds, Path(tmp))
        print(backend, workers, results[(backend, workers)]["many"].row(), flush=True)
    command = f"python -m benchmarks.scale --seconds {args.seconds} --users {args.users}"
    text_ = render(results, args.users, args.seconds, command)
    print(text_)
    replace_section(Path("docs/benchmarks.md"), "PostgreSQL", text_)


if __name__ == "__main__":
    main()
