"""Where the time and memory of one `POST /event` go, measured in process (no sockets).

Two views, both CPU time (so they depend little on what else the machine does):

- by layer: the same 32-concurrent stream of requests sent straight to the ASGI app of a trivial
  echo endpoint, of our app with the ingest stubbed out (HTTP layer, auth, validation), of our
  app with retraining off, and of our app as configured (retraining every
  ``VIGILANTE_RETRAIN_EVERY`` expenses);
- by step of the ingest job, timed one by one on a spender with 2,000 expenses of history:
  features, evidence, forest and verdict, folding the expense into the history, building the
  stored row, rendering the answer, the insert.

Memory: the Python allocations one request makes (tracemalloc peak), and the API's RSS.

    python -m benchmarks.profile
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import resource
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

PASSWORD = "load-test-passphrase-42"
CONCURRENCY = 32
RUNS = 3


class Harness:
    """Calls an ASGI app directly, as uvicorn would, and keeps the token of one user."""

    def __init__(self, app):
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = []

    async def call(self, method: str, path: str, body: bytes = b"", headers=(), query=b""):
        sent = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        headers = [(b"host", b"bench"), *self.headers, *headers]
        if not any(name == b"content-type" for name, _ in headers):
            headers.append((b"content-type", b"application/json"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def login(self) -> None:
        user = json.dumps({"username": "profile", "password": PASSWORD}).encode()
        await self.call("POST", "/users", user)
        form = urlencode({"username": "profile", "password": PASSWORD}).encode()
        kind = [(b"content-type", b"application/x-www-form-urlencoded")]
        status, body = await self.call("POST", "/token", form, kind)
        assert status == 200, body
        self.headers = [(b"authorization", b"Bearer " + json.loads(body)["access_token"].encode())]


def _bodies(n: int, seed: int, offset: int = 0) -> list[bytes]:
    from benchmarks.payloads import expense_payload

    rng = random.Random(seed)
    return [json.dumps(expense_payload(offset + i, rng)).encode() for i in range(n)]


@contextmanager
def _env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cpu() -> float:
    """CPU seconds of this process and its children (the trainer's fits count too)."""
    from benchmarks.servers import children, cpu_seconds

    total = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    return total + sum(cpu_seconds(pid) or 0.0 for pid in children(os.getpid()))


async def _stream(app, requests: int, ours: bool, stub: bool, on_start=None) -> float:
    """CPU µs per request for ``requests`` POST /event, 32 at a time."""
    harness = Harness(app)
    lifespan = app.router.lifespan_context(app)
    async with lifespan:
        if ours:
            await harness.login()
            history = json.dumps([json.loads(b) for b in _bodies(2000, 0)]).encode()
            status, _ = await harness.call("POST", "/events", history)
            assert status == 201
            app.state.ctx.detectors.wait()
            if stub:
                ctx, canned = app.state.ctx, []
                real = ctx.ingestor.ingest_async

                async def stubbed(user_id, items, lang, key=None, single=False):
                    if not canned:
                        canned.append(await real(user_id, items, lang, key, single))
                    return canned[0]

                ctx.ingestor.ingest_async = stubbed
        bodies = _bodies(requests, 1, offset=10_000)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(body):
            async with gate:
                status, out = await harness.call("POST", "/event", body)
                assert status in (200, 201), out

        if on_start is not None:
            on_start()
        start = _cpu()
        await asyncio.gather(*(one(b) for b in bodies))
        cpu = _cpu() - start
        if ours:
            app.state.ctx.detectors.wait()  # a retrain it started counts to the stream
            cpu = _cpu() - start
    return cpu / requests * 1e6


def _fresh_app(module: str):
    """A new app (and database) per measurement: ``app`` is built at import."""
    import sys

    for name in (module, "app"):
        sys.modules.pop(name, None)
    return importlib.import_module(module).app


# Inside the server: the ingest job's parts, timed with the thread's own CPU clock.
IN_SERVER = [
    ("vigilante.service", "Ingestor._ingest_in", "the whole ingest job (below, its parts)"),
    ("models.features", "SpenderHistory.features", "features"),
    ("models.detector", "Detector.verdicts", "forest score + verdict"),
    ("models.features", "SpenderHistory.add", "fold into the history"),
    ("vigilante.service", "_insert_rows", "insert (savepoint excluded)"),
    ("vigilante.service", "expense_out", "render the answer (event loop, after the commit)"),
    ("vigilante.service", "Ingestor._user_state", "per-group reads (history, detector, rate)"),
]


@contextmanager
def _timed_parts(spent: dict, parts=IN_SERVER):
    """Wrap the ``parts`` functions to add up their thread CPU time while the block runs."""
    undo = []
    for module, name, label in parts:
        owner = importlib.import_module(module)
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, attr)

        def timed(*args, _original=original, _label=label, **kwargs):
            start = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.thread_time() - start

        setattr(owner, attr, timed)
        undo.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in undo:
            setattr(owner, attr, original)


def in_server(requests: int) -> list[tuple[str, float]]:
    import uvloop

    spent: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="vigilante-profile-") as tmp,
        _env(VIGILANTE_DATA_DIR=tmp, VIGILANTE_RETRAIN_EVERY=10**9),
    ):
        app = _fresh_app("app")
        with _timed_parts(spent):
            uvloop.run(_stream(app, requests, True, False, on_start=spent.clear))
    return [(label, spent.get(label, 0.0) / requests * 1e6) for _, _, label in IN_SERVER]


# A batch of 1,000 (`POST /events`), part by part: what the whole request costs per expense.
IN_BATCH = [
    ("vigilante.api.fastpath", "_take", "validate the body (pydantic, JSON bytes to models)"),
    ("vigilante.service", "Ingestor._prepare", "build the rows to store"),
    *IN_SERVER[1:5],
    ("vigilante.writer", "GroupCommitWriter._commit_group", "the whole transaction"),
    ("vigilante.service", "Ingestor._ingest_in", "the whole ingest job"),
    IN_SERVER[5],
    ("vigilante.alerts.worker", "AlertWorker._evaluate_user", "alert worker (its own thread)"),
]
BATCHES, BATCH = 20, 1000


def in_server_batches() -> tuple[list[tuple[str, float]], float, float, float]:
    """µs per expense of each part while 20 batches of 1,000 are posted one after another (as
    `make bench` does); then the API process's CPU and the trainer's, µs per expense, and
    expenses per second."""
    import uvloop

    parts = {label: (module, name) for module, name, label in IN_BATCH}

    async def post(app, spent) -> tuple[float, float]:
        harness = Harness(app)
        async with app.router.lifespan_context(app):
            await harness.login()
            bodies = [
                json.dumps([json.loads(b) for b in _bodies(BATCH, 7 + n, n * BATCH)]).encode()
                for n in range(BATCHES)
            ]
            spent.clear()
            start, own, wall = _cpu(), time.process_time(), time.perf_counter()
            for body in bodies:
                status, out = await harness.call("POST", "/events", body)
                assert status == 201, out
            wall = time.perf_counter() - wall
            await asyncio.sleep(2)  # the alert worker's pass over the last batch counts too
            own = time.process_time() - own
            return own, _cpu() - start - own, wall

    spent: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="vigilante-profile-") as tmp,
        _env(VIGILANTE_DATA_DIR=tmp),
    ):
        app = _fresh_app("app")
        with _timed_parts(spent, [(m, n, label) for label, (m, n) in parts.items()]):
            own, trainer, wall = uvloop.run(post(app, spent))
    n = BATCHES * BATCH
    per = {label: spent.get(label, 0.0) / n * 1e6 for label in parts}
    return list(per.items()), own / n * 1e6, trainer / n * 1e6, n / wall


def by_layer(requests: int) -> list[tuple[str, float]]:
    import uvloop

    rows = []
    with tempfile.TemporaryDirectory(prefix="vigilante-profile-") as tmp:
        plans = [
            ("trivial echo endpoint (FastAPI + Pydantic body)", "benchmarks.echo_app", {}, False),
            ("ours, ingest stubbed: HTTP layer, auth, validation, answer", "app", {}, True),
            ("ours, retraining off", "app", {"VIGILANTE_RETRAIN_EVERY": 10**9}, False),
            ("ours, as configured (retraining in the background)", "app", {}, False),
        ]
        for i, (label, module, env, stub) in enumerate(plans):
            runs = []
            for attempt in range(RUNS):  # the least CPU of a few runs: the others had company
                data = os.path.join(tmp, f"{i}-{attempt}")
                with _env(VIGILANTE_DATA_DIR=data, **env):
                    app = _fresh_app(module)
                    runs.append(uvloop.run(_stream(app, requests, module == "app", stub)))
            rows.append((label, min(runs)))
    return rows


def by_step(n: int = 2000) -> list[tuple[str, float]]:
    """µs per expense of each step of the ingest job, on 2,000 expenses of history."""
    from benchmarks.payloads import expense_payload
    from models.detector import Detector, probability
    from models.evidence import weigh
    from models.features import Event, SpenderHistory
    from vigilante.history import event_key
    from vigilante.rendering import expense_out
    from vigilante.schemas import ExpenseIn

    rng = random.Random(0)
    history = SpenderHistory("America/Sao_Paulo")
    rows = [ExpenseIn(**expense_payload(i, rng)) for i in range(2000 + n)]

    def event(item: ExpenseIn) -> Event:
        return Event(
            ts=int(item.occurred_at.timestamp() * 1000),
            cents=int(item.amount * 100),
            category=event_key(item.category),
            merchant=event_key(item.merchant),
            account=item.account or "",
        )

    vectors, explicit = [], []
    for item in rows[:2000]:
        ev = event(item)
        vector, ctx = history.features(ev)
        vectors.append(vector)
        explicit.append(weigh(ctx).llr)
        history.add(ev)
    import numpy as np

    detector = Detector.train(np.array(vectors[::-1]), np.array(explicit[::-1]))  # newest first
    spent = dict.fromkeys(("features", "evidence", "forest", "fold", "row", "answer"), 0.0)
    clock = time.process_time
    for item in rows[2000:]:
        ev = event(item)
        t0 = clock()
        vector, ctx = history.features(ev)
        t1 = clock()
        weighed = weigh(ctx)
        t2 = clock()
        (verdict,) = detector.verdicts([vector], [weighed], 0.03)
        t3 = clock()
        history.add(ev)
        t4 = clock()
        row = {
            "id": 1,
            "amount_cents": ev.cents,
            "currency": "BRL",
            "category": item.category,
            "merchant": item.merchant,
            "description": None,
            "occurred_ms": ev.ts,
            "account": item.account,
            "external_id": None,
            "received_ms": ev.ts,
            "score": verdict.score,
            "is_anomaly": verdict.is_anomaly,
            "severity": verdict.severity,
            "reasons": [
                {"code": e.code, "strength": round(probability(e.llr), 4), "params": e.params}
                for e in verdict.evidence
            ],
            "model_version": verdict.model_version,
            "features": vector.tobytes(),
            "feedback": None,
        }
        t5 = clock()
        expense_out(row, "pt-BR")
        t6 = clock()
        steps = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
        for key, spent_s in zip(spent, steps, strict=True):
            spent[key] += spent_s
    labels = {
        "features": "features of the expense against its spender's past",
        "evidence": "explicit evidence (likelihood ratios)",
        "forest": "forest score + verdict (threshold, severity, reasons ranked)",
        "fold": "fold the expense into the spender's history",
        "row": "build the stored row",
        "answer": "render the answer (reasons in a language)",
    }
    return [(labels[k], v / n * 1e6) for k, v in spent.items()]


def request_memory() -> tuple[float, int]:
    """Peak Python allocation (KB) of one POST /event once warm, and blocks still held."""
    import uvloop

    async def measure(app) -> tuple[float, int]:
        harness = Harness(app)
        async with app.router.lifespan_context(app):
            await harness.login()
            for body in _bodies(300, 2):
                await harness.call("POST", "/event", body)
            (body,) = _bodies(1, 3, offset=50_000)
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            status, _ = await harness.call("POST", "/event", body)
            peak = tracemalloc.get_traced_memory()[1]
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            assert status == 201
            kept = sum(s.count_diff for s in after.compare_to(before, "filename"))
            return peak / 1024, kept

    with (
        tempfile.TemporaryDirectory(prefix="vigilante-profile-") as tmp,
        _env(VIGILANTE_DATA_DIR=tmp),
    ):
        return uvloop.run(measure(_fresh_app("app")))


def render_batches(parts, own, trainer, rate) -> str:
    from models import features
    from models.forest import BACKEND

    detector = sum(us for label, us in parts if label in {p[2] for p in IN_SERVER[1:4]})
    outside = own - detector
    lines = [
        f"`POST /events` with {BATCHES} batches of {BATCH:,} posted one after another (as "
        "`make bench` does), straight to the ASGI app; the thread CPU time of each part, µs per "
        f"expense. Detector modules {'compiled (Cython)' if features.COMPILED else 'as Python'}"
        f", forest walk: {BACKEND}.",
        "",
        "| part | µs per expense |",
        "|---|---|",
        *[f"| {label} | {us:.1f} |" for label, us in parts],
        f"| **the API process, all threads** | **{own:.0f}** |",
        f"| the trainer process (retraining every `VIGILANTE_RETRAIN_EVERY`) | {trainer:.0f} |",
        "",
        f"In process, without sockets: {rate:,.0f} expenses/s. At 30,000 expenses/s each "
        "expense gets 33 µs of the API process; what is not the detector's features, scoring "
        f"and folding (validation, rows, reasons, insert, commit, answer, alerts) takes "
        f"{outside:.0f} µs" + (", more than that budget on its own." if outside > 33 else "."),
    ]
    return "\n".join(lines)


def render(layers, steps, inside, memory) -> str:
    echo, stub, no_retrain, full = (us for _, us in layers)
    peak_kb, kept = memory
    lines = [
        "Command: `python -m benchmarks.profile` (run by `make bench`): requests sent straight "
        f"to the ASGI app in process, {CONCURRENCY} at a time, CPU time per request of the "
        "whole process (all threads) and of the trainer process it starts, the least of "
        f"{RUNS} runs; SQLite, one user with 2,000 expenses of history. "
        f"Load average at the start: {os.getloadavg()[0]:.1f}.",
        "",
        "| what runs | CPU per request | vs the echo endpoint |",
        "|---|---|---|",
    ]
    for label, us in layers:
        lines.append(f"| {label} | {us:,.0f} µs | {us / echo:.1f}× |")
    lines += [
        "",
        "The ingest job step by step (µs per expense, timed one step at a time, no database):",
        "",
        "| step | µs |",
        "|---|---|",
    ]
    lines += [f"| {label} | {us:.1f} |" for label, us in steps]
    detector = sum(us for _, us in steps)
    lines += [
        f"| **all detector steps** | **{detector:.1f}** |",
        "",
        "The same steps inside the server, during the stream of single `POST /event` "
        "(retraining off; the thread's own CPU time per request):",
        "",
        "| part of the ingest job | µs |",
        "|---|---|",
        *[f"| {label} | {us:.1f} |" for label, us in inside],
        "",
        "Reading it: the everyday `POST /event` skips FastAPI's request handling "
        "(`vigilante/api/fastpath.py`: pydantic validates the body bytes in one pass; anything "
        "unusual goes on to the FastAPI route), so our HTTP layer with the ingest stubbed costs "
        f"{stub:.0f} µs against the trivial FastAPI echo's {echo:.0f}. Ingest adds "
        f"~{no_retrain - stub:.0f} µs: the detector's steps (~{detector:.0f} µs alone, more "
        "inside the server, where the event loop, the group-commit thread and the alert worker "
        "share two cores and their caches), the insert (the expense row and its six indexes), "
        "the savepoint, the commit's fsync shared by the group, the hand-off to the writer "
        "thread and back, and the GIL passing between the two threads at every SQLite call. "
        "The answer is rendered on the event loop after the commit, so the writer thread, "
        "which every request waits for, only does what must happen in the transaction. "
        "Retraining (every `VIGILANTE_RETRAIN_EVERY` expenses of a user) runs in the trainer "
        "process (`vigilante/trainer.py`, niced), which reads the training rows from the "
        "database itself; the API process counts the rows, stores the compressed version and "
        f"loads it. With the trainer's own CPU counted it adds {full - no_retrain:+.0f} "
        "µs per request here (6,000 requests after 2,000 expenses: two fits; the runs vary by "
        "about as much, so read the two rows as one).",
        "",
        f"Memory: one warm `POST /event` allocates at most **{peak_kb:.0f} KB** of Python "
        f"objects at once and keeps {kept} blocks (its expense joins the spender's bounded "
        "history). The API process never imports scikit-learn, SciPy's larger parts or pandas "
        "(~120 MB RSS at start, against ~285 MB with them): it scores with the flat trees. "
        "The trainer process holds scikit-learn (~230 MB RSS) while it fits and for "
        "`VIGILANTE_TRAINER_IDLE_SECONDS` after. Per-user state is bounded (an LRU of 256 "
        "users' histories of at most 20,000 expenses, detector versions cached per user).",
    ]
    return "\n".join(lines)


def main() -> None:

    from benchmarks.report import replace_section

    layers = by_layer(6000)
    steps = by_step()
    inside = in_server(6000)
    memory = request_memory()
    text = render(layers, steps, inside, memory)
    print(text)
    replace_section(Path("docs/benchmarks.md"), "Where the time goes (one `POST /event`)", text)
    batches = render_batches(*in_server_batches())
    print(batches)
    replace_section(Path("docs/benchmarks.md"), "Where the time goes (batches)", batches)


if __name__ == "__main__":
    main()
