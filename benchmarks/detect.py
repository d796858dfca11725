"""Detection quality through the real API: `make bench-detect`.

For each parameter set and seed, a fresh API (uvicorn on a free 127.0.0.1 port, a temporary
data folder) receives a simulated, labeled history with ``POST /events`` in time order, in
chunks, exactly as a client replaying a bank export would send it. The labels never leave this
process. The scores the API returned are then compared with the ground truth, next to an
IsolationForest on the amount alone computed in the same run, and the results go to stdout and
to the "Detection quality" section of docs/benchmarks.md.

    python -m benchmarks.detect                 # 3 + 2 + 2 + 1 + 9 runs, ~2-3 min on 2 cores
    python -m benchmarks.detect --quick         # one seed of each set
    python -m benchmarks.detect --no-write      # print only
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sklearn

from benchmarks import second_world
from benchmarks.detect_metrics import amount_only_baseline, evaluate, mean_sd
from vigilante.config import Settings
from vigilante.simulate import HARD_NEGATIVES, KINDS, Simulator

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- detect:begin -->", "<!-- detect:end -->"
START = datetime(2026, 6, 1, 12, tzinfo=UTC)
PASSWORD = "quality replay passphrase"


@dataclass
class ParamSet:
    name: str
    seeds: tuple[int, ...]
    days: int
    sim: dict = field(default_factory=dict)
    layout: str = "accounts"  # or "users": see replay()
    world: str = "simulator"  # or "second": benchmarks/second_world.py, configuration sim["config"]

    def describe(self) -> str:
        if self.world == "second":
            config = second_world.CONFIGS[self.sim["config"]]
            shown = ", ".join(f"{k}={v}" for k, v in config.items() if k != "seed")
            return (
                f"benchmarks/second_world.py, configuration {self.sim['config']} ({shown}); "
                "one user, an account each"
            )
        shown = ", ".join(f"{k}={v}" for k, v in self.sim.items())
        layout = "one user per spender" if self.layout == "users" else "one user, an account each"
        return f"{self.days} days, {shown}; {layout}"

    def history(self, seed: int) -> list:
        if self.world == "second":
            return second_world.history(self.sim["config"], seed)
        return Simulator(seed=seed, start=START, **self.sim).history(self.days)


PARAM_SETS = (
    ParamSet("default", (1, 2, 3), 60, {"accounts": 40, "anomaly_rate": 0.03}),
    # Other spenders, another mix and rate, more legitimate surprises, a shorter warm-up:
    # a check that the detector is not tuned to the default stream.
    ParamSet(
        "shifted",
        (11, 12),
        90,
        {
            "accounts": 15,
            "anomaly_rate": 0.015,
            "mix": {
                "spike": 2.0,
                "night": 2.0,
                "new_category": 1.5,
                "new_merchant_amount": 1.5,
                "duplicate": 1.0,
                "split": 0.5,
                "card_testing": 0.3,
            },
            "activity": 0.6,
            "night_owls": 0.4,
            "warmup_days": 3,
            "hard_negative_rate": 2.0,
        },
    ),
    # Held out against overfitting: other seeds, many light spenders (fewer expenses each), a
    # mix led by the new-merchant and card-testing kinds, a longer warm-up, more night owls.
    ParamSet(
        "many",
        (21, 22),
        45,
        {
            "accounts": 80,
            "anomaly_rate": 0.02,
            "mix": {
                "new_merchant_amount": 2.0,
                "card_testing": 1.5,
                "spike": 1.0,
                "new_category": 1.0,
                "split": 1.0,
                "duplicate": 0.7,
                "night": 0.7,
            },
            "activity": 0.45,
            "night_owls": 0.25,
            "warmup_days": 10,
            "hard_negative_rate": 1.5,
        },
    ),
    # The default stream with each spender a user of their own: no household to lean on, and
    # under VIGILANTE_MIN_TRAIN_SAMPLES expenses each, so explicit evidence alone scores.
    ParamSet("users", (1,), 60, {"accounts": 40, "anomaly_rate": 0.03}, layout="users"),
    # A world written apart from the simulator and the detector (benchmarks/second_world.py):
    # its own spenders, prices, hours, bills, trips, annual renewals, and its own anomalies.
    ParamSet("second-A", (101, 102, 103), 60, {"config": "A"}, world="second"),
    ParamSet("second-B", (202, 203, 204), 75, {"config": "B"}, world="second"),
    ParamSet("second-C", (303, 304, 305), 45, {"config": "C"}, world="second"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_server(data_dir: Path):
    """uvicorn app:app on a free local port with its own data folder; stopped on exit."""
    port = free_port()
    env = os.environ | {
        "VIGILANTE_DATA_DIR": str(data_dir),
        "VIGILANTE_DATABASE_URL": f"sqlite:///{data_dir / 'vigilante.db'}",
        "VIGILANTE_SQLITE_SYNCHRONOUS": "NORMAL",  # the quality, not the fsyncs, is measured
    }
    env.pop("VIGILANTE_SECRET_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("API did not start:\n" + proc.stderr.read().decode()[-2000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("API did not answer /health within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _login(client: httpx.Client, username: str) -> dict:
    r = client.post("/users", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    r = client.post("/token", data={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


MIN_TRAIN = Settings.model_fields["min_train_samples"].default
RETRAIN_EVERY = Settings.model_fields["retrain_every"].default


def _post_in_order(client, auth, payloads, chunk) -> list[tuple[float, bool]]:
    """POST in time order; when a retrain is due, wait (up to 60 s) for its version, as live
    traffic would: months of expenses arrive in seconds here, a fit takes about one."""
    out = []
    version, trained_at = "prior-1", 0
    for start in range(0, len(payloads), chunk):
        r = client.post("/events", json=payloads[start : start + chunk], headers=auth)
        if r.status_code != 201:
            raise RuntimeError(f"POST /events: {r.status_code} {r.text[:500]}")
        out.extend((item["score"], item["is_anomaly"]) for item in r.json())
        posted = len(out)
        due = posted >= MIN_TRAIN if version == "prior-1" else posted - trained_at >= RETRAIN_EVERY
        deadline = time.monotonic() + 60
        while due and time.monotonic() < deadline:
            now = client.get("/model", headers=auth).json()["version"]
            if now != version:
                version, trained_at = now, posted
                break
            time.sleep(0.05)
    return out


def replay(
    base: str, payloads: list[dict], chunk: int, layout: str = "accounts"
) -> tuple[list[float], list[bool], dict]:
    """POST the payloads in time order; the API's scores and flags, and one user's GET /model.

    ``accounts``: one user, each spender an ``account`` of it (a family, a company's cards).
    ``users``: each spender a user of their own, without ``account`` (no household to lean on).
    """
    with httpx.Client(base_url=base, timeout=600) as client:
        if layout == "accounts":
            auth = _login(client, "replayer")
            results = _post_in_order(client, auth, payloads, chunk)
        else:
            results = [(0.0, False)] * len(payloads)
            by_account: dict[str, list[int]] = {}
            for i, p in enumerate(payloads):
                by_account.setdefault(p["account"], []).append(i)
            for n, indexes in enumerate(by_account.values()):
                auth = _login(client, f"spender{n}")
                own = [{k: v for k, v in payloads[i].items() if k != "account"} for i in indexes]
                for i, result in zip(
                    indexes, _post_in_order(client, auth, own, chunk), strict=True
                ):
                    results[i] = result
        model = client.get("/model", headers=auth).json()
    return [s for s, _ in results], [f for _, f in results], model


def run_one(params: ParamSet, seed: int, chunk: int) -> dict:
    events = params.history(seed)
    payloads = [e.payload for e in events]
    with (
        tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp,
        api_server(Path(tmp) / "data") as base,
    ):
        t0 = time.perf_counter()
        scores, flags, model = replay(base, payloads, chunk, params.layout)
        seconds = time.perf_counter() - t0
    ours = evaluate(events, scores, flags)
    baseline = evaluate(events, amount_only_baseline(events, seed))
    return {
        "set": params.name,
        "seed": seed,
        "ours": ours,
        "baseline": baseline,
        "seconds": seconds,
        "model": model.get("version"),
    }


HEAD = ["AP", "ROC AUC", "R@1%", "P@1%", "R@3%", "P@3%", "incidents@3%", "hard neg.@3%"]
KEYS = [
    "ap",
    "auc",
    "recall@1%",
    "precision@1%",
    "recall@3%",
    "precision@3%",
    "incident_recall@3%",
    "hard_negatives_flagged@3%",
]


def report(results: list[dict], command: str, elapsed: float) -> str:
    lines = []
    add = lines.append
    add(f"Command: `{command}` — {elapsed:.0f} s in all. {machine()}.")
    add("")
    add(
        "Each expense is scored on arrival through `POST /events` (chunks, time order) by a "
        "fresh API; budgets rank all expenses of a run by score (3 % = the top 3 %). "
        "“hard neg.” = share of legitimate surprises (rent, big purchases, new merchants, trips; "
        "in the second world also late dinners and annual renewals) inside the budget. The "
        "baseline is an IsolationForest on the amount alone, fitted on the whole stream in the "
        "same run. Targets (issue 4): AP ≥ 0.80, recall ≥ 0.90 at the "
        "3 % budget, every kind ≥ 0.80 there, ≤ 2 % of hard negatives flagged. The simulator "
        "and the detector's design are described in docs/detection.md; `second-*` sets come "
        "from benchmarks/second_world.py, written apart from both."
    )
    for params in PARAM_SETS:
        rows = [r for r in results if r["set"] == params.name]
        if not rows:
            continue
        add("")
        add(f"### Parameter set `{params.name}` — {params.describe()}")
        add("")
        add("| run | " + " | ".join(HEAD) + " |")
        add("|---|" + "---|" * len(HEAD))
        for r in rows:
            o = r["ours"]
            n = f"seed {r['seed']} ({o['n']} exp., {o['positives']} anomalous)"
            add(f"| {n} | " + " | ".join(f"{o[k]:.3f}" for k in KEYS) + " |")
        for who, label in (("ours", "**Vigilante, mean ± sd**"), ("baseline", "IF on amount")):
            cells = [mean_sd([r[who][k] for r in rows]) for k in KEYS]
            add(f"| {label} | " + " | ".join(cells) + " |")
        add("")
        add("| recall per kind @3% | " + " | ".join(KINDS) + " |")
        add("|---|" + "---|" * len(KINDS))
        for who, label in (("ours", "Vigilante"), ("baseline", "IF on amount")):
            cells = [mean_sd([r[who][f"kind:{k}@3%"] for r in rows]) for k in KINDS]
            add(f"| {label} | " + " | ".join(cells) + " |")
        add("")
        seen = {
            k[5:-3]  # "hard:<kind>@3%", for the kinds this world has
            for r in rows
            for k, v in r["ours"].items()
            if k.startswith("hard:") and k.endswith("@3%") and not math.isnan(v)
        }
        hard = [k for k in HARD_NEGATIVES if k in seen] + sorted(seen - set(HARD_NEGATIVES))
        if hard:  # a stream without legitimate surprises has no such table
            add("| flagged @3% | " + " | ".join(hard) + " |")
            add("|---|" + "---|" * len(hard))
            for who, label in (("ours", "Vigilante"), ("baseline", "IF on amount")):
                cells = [
                    mean_sd([r[who].get(f"hard:{k}@3%", math.nan) for r in rows]) for k in hard
                ]
                add(f"| {label} | " + " | ".join(cells) + " |")
            add("")
        thr = [
            mean_sd([r["ours"][k] for r in rows])
            for k in (
                "alert_rate",
                "recall@threshold",
                "precision@threshold",
                "hard_negatives_flagged@threshold",
            )
        ]
        add(
            f"With the API's own `is_anomaly` (threshold for a 3 % target): alert rate {thr[0]}, "
            f"recall {thr[1]}, precision {thr[2]}, hard negatives flagged {thr[3]}. "
            f"Replay: {mean_sd([r['seconds'] for r in rows])} s per run."
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, commit {commit or '?'}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


def write_section(body: str) -> None:
    section = f"{BEGIN}\n## Detection quality\n\n{body}\n{END}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed per parameter set")
    parser.add_argument("--sets", nargs="*", default=[p.name for p in PARAM_SETS])
    parser.add_argument("--chunk", type=int, default=500, help="expenses per POST /events")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    results = []
    for params in PARAM_SETS:
        if params.name not in args.sets:
            continue
        for seed in params.seeds[:1] if args.quick else params.seeds:
            r = run_one(params, seed, args.chunk)
            o, b = r["ours"], r["baseline"]
            print(
                f"[{params.name} seed {seed}] n={o['n']} pos={o['positives']} "
                f"AP {o['ap']:.3f} (baseline {b['ap']:.3f})  AUC {o['auc']:.3f}  "
                f"R@3% {o['recall@3%']:.3f}  P@3% {o['precision@3%']:.3f}  "
                f"hard@3% {o['hard_negatives_flagged@3%']:.3f}  "
                f"kinds " + " ".join(f"{k}={o[f'kind:{k}@3%']:.2f}" for k in KINDS) + "  "
                "hard " + " ".join(f"{k}={o[f'hard:{k}@3%']:.2f}" for k in HARD_NEGATIVES) + "  "
                f"thr: rate {o['alert_rate']:.3f} R {o['recall@threshold']:.3f} "
                f"P {o['precision@threshold']:.3f}  ({r['seconds']:.1f} s, {r['model']})",
                flush=True,
            )
            results.append(r)
    command = (
        "make bench-detect"
        if not argv and len(sys.argv) == 1
        else ("python -m benchmarks.detect " + " ".join(argv if argv is not None else sys.argv[1:]))
    )
    text = report(results, command, time.perf_counter() - t0)
    print()
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
