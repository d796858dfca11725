"""Crash durability and write contention against real uvicorn processes (``make stress``).

``crash``: clients send expenses with unique Idempotency-Keys at concurrency 20; the API is
killed with SIGKILL mid-load, the database checked (``PRAGMA integrity_check``), the API
restarted, and every request that got no answer retried with its key, as a client would. Then:
every acknowledged expense is there with the id it was acknowledged with (lost 0), no key is
stored twice (duplicated 0). Five rounds on the same database.

``contention``: ``uvicorn --workers 2``, 50 concurrent clients, 10,000 writes (plus reads and
one key sent 5 times in parallel): 0 "database is locked", 0 5xx, every write stored once.

Everything listens on 127.0.0.1 on a free port, in a temporary data folder; every loop is
bounded in count and time. Exit status 1 when a check fails. Figures: docs/reliability.md.

    python -m benchmarks.stress [crash|contention|all] [--rounds 5] [--writes 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from benchmarks.servers import ROOT, UVICORN, free_port, wait_ready

PASSWORD = "stress test passphrase 1"
SECRET = "stress-" + "k" * 40


class Api:
    """One uvicorn process group on a fixed port and data folder, restartable."""

    def __init__(self, data: Path, workers: int):
        self.data = data
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = os.environ | {
            "VIGILANTE_DATA_DIR": str(self.data),
            "VIGILANTE_SECRET_KEY": SECRET,
            "VIGILANTE_LOGIN_DELAY_MS": "0",
        }
        cmd = UVICORN + ["--port", str(self.port), "--workers", str(self.workers), "app:app"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        wait_ready(self.url, self.proc)

    def kill(self) -> None:
        """SIGKILL the whole group (master and workers): no shutdown code runs."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def login(url: str, username: str) -> dict:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/users", json={"username": username, "password": PASSWORD})
        assert r.status_code in (201, 409), r.text
        r = c.post("/token", data={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def expense(key: str) -> dict:
    return {
        "amount": round(random.uniform(1, 500), 2),
        "category": random.choice(["mercado", "padaria", "transporte", "farmácia"]),
        "merchant": random.choice(["Feira", "Pão de Mel", "Metrô", "Drogasil"]),
        "description": key,  # the marker: which request stored this row
    }


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def rows_by_marker(db: Path) -> dict[str, list[int]]:
    conn = sqlite3.connect(db)
    try:
        found: dict[str, list[int]] = {}
        for marker, ident in conn.execute("SELECT description, id FROM expenses"):
            found.setdefault(marker, []).append(ident)
        return found
    finally:
        conn.close()


# --- crash ---------------------------------------------------------------------------------


def crash(rounds: int, concurrency: int, deadline: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="vigilante-crash-") as tmp:
        api = Api(Path(tmp), workers=1)
        db = Path(tmp) / "vigilante.db"
        api.start()
        auth = login(api.url, "crash")
        acked: dict[str, int] = {}  # key -> id the API acknowledged
        sent: dict[str, dict] = {}  # key -> body, for every request sent at all
        report = {"rounds": [], "server_errors": 0}
        try:
            for n in range(rounds):
                if time.monotonic() > deadline:
                    raise TimeoutError("crash rounds ran out of time")
                report["rounds"].append(_crash_round(api, db, auth, n, concurrency, acked, sent))
                report["server_errors"] += report["rounds"][-1].pop("server_errors")
        finally:
            api.stop()
        stored = rows_by_marker(db)
        report["acknowledged"] = len(acked)
        report["sent"] = len(sent)
        report["lost"] = sum(1 for k, i in acked.items() if i not in stored.get(k, []))
        report["duplicated"] = sum(1 for ids in stored.values() if len(ids) > 1)
        report["unexpected_rows"] = sum(1 for k in stored if k not in sent)
        report["integrity_check"] = integrity(db)
        report["database_is_locked"] = api.log_text().count("database is locked")
        report["ok"] = (
            report["lost"] == report["duplicated"] == report["unexpected_rows"] == 0
            and report["server_errors"] == 0
            and report["database_is_locked"] == 0
            and report["integrity_check"] == "ok"
            and all(r["integrity_check"] == "ok" for r in report["rounds"])
            and len(acked) == len(sent)
        )
        return report


def _crash_round(api, db, auth, n, concurrency, acked, sent) -> dict:
    lock = threading.Lock()
    unanswered: dict[str, dict] = {}
    errors = Counter()
    stop = threading.Event()

    def client(c: int) -> None:
        with httpx.Client(base_url=api.url, headers=auth, timeout=10) as http:
            for i in range(5_000):
                if stop.is_set():
                    return
                key = f"r{n}-c{c}-{i}"
                body = expense(key)
                with lock:
                    sent[key] = body
                try:
                    r = http.post("/event", json=body, headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    with lock:
                        unanswered[key] = body  # the server died with this one in flight
                    return
                if r.status_code == 201:
                    with lock:
                        acked[key] = r.json()["id"]
                else:
                    errors[r.status_code] += 1
                    with lock:
                        unanswered[key] = body

    acked_at_start = len(acked)
    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(1.5, 3.0))
    acked_before_kill = len(acked) - acked_at_start
    api.kill()
    stop.set()
    for t in threads:
        t.join(30)
    check = integrity(db)  # the database exactly as the crash left it
    before = rows_by_marker(db)
    committed_unanswered = sum(1 for key in unanswered if key in before)
    api.start()
    # What a client does next: retry everything unanswered with the same key...
    retried = Counter()
    with httpx.Client(base_url=api.url, headers=auth, timeout=30) as http:
        for key, body in unanswered.items():
            r = http.post("/event", json=body, headers={"Idempotency-Key": key})
            retried[r.status_code] += 1
            if r.status_code == 201:
                acked[key] = r.json()["id"]
        # ...and a retry of something acknowledged must answer with the same expense.
        for key in random.sample(sorted(acked), min(20, len(acked))):
            r = http.post("/event", json=sent[key], headers={"Idempotency-Key": key})
            if r.status_code != 201 or r.json()["id"] != acked[key]:
                errors["replay-mismatch"] += 1
    stored = rows_by_marker(db)
    return {
        "round": n + 1,
        "acknowledged_before_kill": acked_before_kill,
        "in_flight_at_kill": len(unanswered),
        "stored_but_unanswered": committed_unanswered,
        "retried": dict(retried),
        "lost_so_far": sum(1 for k, i in acked.items() if i not in stored.get(k, [])),
        "duplicated_so_far": sum(1 for ids in stored.values() if len(ids) > 1),
        "integrity_check": check,
        "server_errors": sum(v for k, v in errors.items() if k == "replay-mismatch" or k >= 500),
        "other_statuses": {str(k): v for k, v in errors.items() if k != "replay-mismatch"},
    }


# --- contention ----------------------------------------------------------------------------


def contention(writes: int, clients: int, users: int, deadline: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="vigilante-contention-") as tmp:
        api = Api(Path(tmp), workers=2)
        api.start()
        try:
            auths = [login(api.url, f"user{u}") for u in range(users)]
            started = time.monotonic()
            report = asyncio.run(_contend(api.url, auths, writes, clients, deadline))
            report["seconds"] = round(time.monotonic() - started, 1)
            report["writes_per_second"] = round(report["writes_201"] / report["seconds"])
        finally:
            api.stop()
        stored = rows_by_marker(Path(tmp) / "vigilante.db")
        log = api.log_text()
        report["rows_stored"] = sum(len(ids) for ids in stored.values())
        report["same_key_5x"]["rows"] = len(stored.get("same-key", []))
        report["duplicated"] = sum(1 for ids in stored.values() if len(ids) > 1)
        report["database_is_locked"] = log.count("database is locked") + report.pop("locked_bodies")
        report["tracebacks_in_log"] = log.count("Traceback")
        report["worker_deaths"] = log.count("died") + log.count("Child process")
        if report["tracebacks_in_log"] or report["worker_deaths"]:
            report["log_tail"] = log.splitlines()[-40:]
        expected_rows = writes + 1  # + the one expense of the parallel key
        report["ok"] = (
            report["status_5xx"] == 0
            and report["database_is_locked"] == 0
            and report["tracebacks_in_log"] == 0
            and report["worker_deaths"] == 0
            and report["writes_201"] == writes
            and report["rows_stored"] == expected_rows
            and report["duplicated"] == 0
            and report["same_key_5x"]["rows"] == 1
            and report["same_key_5x"]["identical"]
        )
        return report


async def _contend(url, auths, writes, clients, deadline) -> dict:
    statuses = Counter()
    locked = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(writes):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker(c: int) -> None:
            nonlocal locked
            auth = auths[c % len(auths)]
            while not queue.empty() and time.monotonic() < deadline:
                i = queue.get_nowait()
                key = f"w{i}"
                body = expense(key)
                for _attempt in range(3):
                    try:
                        r = await http.post(
                            "/event", json=body, headers=auth | {"Idempotency-Key": key}
                        )
                        break
                    except httpx.TransportError as exc:
                        # Counted, then retried with the same key as a client would: the
                        # write must still be stored exactly once.
                        statuses[f"transport error {type(exc).__name__}"] += 1
                else:
                    continue
                statuses[r.status_code] += 1
                locked += "database is locked" in r.text
                if i % 10 == 0:  # readers in the mix
                    try:
                        r = await http.get("/events", params={"limit": 50}, headers=auth)
                        statuses[f"read {r.status_code}"] += 1
                    except httpx.TransportError as exc:
                        statuses[f"read transport error {type(exc).__name__}"] += 1

        async def same_key_five_times() -> dict:
            body = expense("same-key")
            headers = auths[0] | {"Idempotency-Key": "same-key-5x"}
            answers = await asyncio.gather(
                *[http.post("/event", json=body, headers=headers) for _ in range(5)]
            )
            return {
                "statuses": [r.status_code for r in answers],
                "identical": len({r.text for r in answers}) == 1,
            }

        results = await asyncio.gather(same_key_five_times(), *[worker(c) for c in range(clients)])
    same = results[0]
    statuses.update(same["statuses"])
    return {
        "writes_201": statuses[201] - same["statuses"].count(201),
        "status_5xx": sum(v for k, v in statuses.items() if str(k)[-3:].startswith("5")),
        "statuses": {str(k): v for k, v in statuses.items()},
        "locked_bodies": locked,
        "same_key_5x": same | {"rows": None},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="?", default="all", choices=["crash", "contention", "all"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=420, help="give up after this")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.max_seconds
    results = {}
    if args.which in ("crash", "all"):
        results["crash"] = crash(args.rounds, args.concurrency, deadline)
        print(json.dumps({"crash": results["crash"]}, indent=1), flush=True)
    if args.which in ("contention", "all"):
        results["contention"] = contention(args.writes, args.clients, args.users, deadline)
        print(json.dumps({"contention": results["contention"]}, indent=1), flush=True)
    failed = [name for name, r in results.items() if not r["ok"]]
    if failed:
        print("stress checks failed:", ", ".join(failed), flush=True)
    print(f"stress: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
