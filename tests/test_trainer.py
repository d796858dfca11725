"""Detectors are fitted in a child process: the API scores without scikit-learn, leaves no
orphan behind, and gets the same versions a fit in its own process would give."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select

from models.features import FEATURE_NAMES
from vigilante.detection import reachable_url
from vigilante.tables import users
from vigilante.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, tmp_path: Path, **kwargs) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(ROOT), "VIGILANTE_DATA_DIR": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_the_api_scores_with_a_fitted_forest_without_loading_scikit_learn(tmp_path):
    script = """
        import json, sys
        from datetime import UTC, datetime
        from fastapi.testclient import TestClient
        from vigilante.api.main import create_app
        from vigilante.config import Settings
        from vigilante.simulate import Simulator

        settings = Settings(_env_file=None, min_train_samples=50, retrain_every=50)
        with TestClient(create_app(settings)) as client:
            client.post("/users", json={"username": "ana", "password": "a long passphrase 1"})
            token = client.post(
                "/token", data={"username": "ana", "password": "a long passphrase 1"}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            sim = Simulator(seed=0, accounts=2, start=datetime(2026, 3, 1, tzinfo=UTC))
            history = [e.payload for e in sim.history(days=30)][:80]
            assert client.post("/events", json=history[:60], headers=auth).status_code == 201
            client.app.state.ctx.detectors.wait(60)
            scored = client.post("/event", json=history[60], headers=auth).json()
            model = client.get("/model", headers=auth).json()
        print(json.dumps({
            "scored_by": scored["model_version"],
            "kind": model["kind"],
            "loaded": sorted(m for m in ("sklearn", "pandas", "pyarrow") if m in sys.modules),
        }))
    """
    proc = _run(script, tmp_path)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["kind"] == "isolation-forest+evidence"
    assert result["scored_by"].startswith("if-")
    assert result["loaded"] == []


def test_the_trainer_process_goes_when_the_api_process_is_killed(tmp_path):
    script = """
        import numpy as np
        from models.features import FEATURE_NAMES
        from vigilante.trainer import Trainer
        trainer = Trainer(in_process=True, idle_s=600)
        rng = np.random.default_rng(0)
        trainer.train(rng.normal(size=(300, len(FEATURE_NAMES))), np.zeros(300), 300)
        print(trainer._child.pid, flush=True)
        import time; time.sleep(600)
    """
    proc = _run(script, tmp_path, start_new_session=True)
    child = int(proc.stdout.readline())
    assert _alive(child)
    os.kill(proc.pid, signal.SIGKILL)  # no atexit, no pipe closed politely
    proc.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_a_fit_elsewhere_is_the_fit_here_even_after_the_child_dies():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(800, len(FEATURE_NAMES)))
    explicit = rng.normal(size=800)
    here, _, _ = Trainer(in_process=False).train(X, explicit, 800)
    trainer = Trainer(in_process=True, idle_s=600)
    try:
        first, _, blob = trainer.train(X, explicit, 800)
        os.kill(trainer._child.pid, signal.SIGKILL)
        trainer._child.wait(10)
        again, _, _ = trainer.train(X, explicit, 800)  # a new child takes over
    finally:
        trainer.close()
    rows = rng.normal(0, 3, size=(40, len(FEATURE_NAMES)))
    for fitted in (first, again):
        assert fitted.score_quantiles == here.score_quantiles
        assert fitted.forest_tail == here.forest_tail
        assert np.array_equal(fitted.flat.anomaly(rows), here.flat.anomaly(rows))
    assert len(blob) > 0 and trainer._child is None  # closed: no process left behind


def test_a_stuck_trainer_is_killed_and_the_next_fit_gets_a_new_one():
    import pytest

    from vigilante.trainer import TrainerFailed

    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, len(FEATURE_NAMES)))
    trainer = Trainer(in_process=True, idle_s=600, timeout_s=3)
    try:
        trainer.train(X, np.zeros(400), 400)
        stuck = trainer._child
        os.kill(stuck.pid, signal.SIGSTOP)  # alive, never answering
        started = time.monotonic()
        with pytest.raises(TrainerFailed):
            trainer.train(X, np.zeros(400), 400)
        assert time.monotonic() - started < 30
        assert stuck.wait(10) is not None  # killed, and reaped: no zombie
        fitted, _, _ = trainer.train(X, np.zeros(400), 400)  # a new child answers
        assert fitted.samples == 400 and trainer._child.pid != stuck.pid
    finally:
        trainer.close()


def test_the_trainer_ignores_a_models_folder_where_the_api_was_started(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("raise ImportError('not ours')\n")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    trainer = Trainer(in_process=True, idle_s=600)
    try:
        fitted, _, _ = trainer.train(rng.normal(size=(300, len(FEATURE_NAMES))), np.zeros(300), 300)
        assert fitted.samples == 300
        assert trainer._child is not None and trainer._child.poll() is None  # fitted there
    finally:
        trainer.close()


def test_fits_run_below_the_api_process_in_cpu_priority():
    """Background fits yield the CPU to requests (VIGILANTE_TRAINER_NICE, 10 by default)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, len(FEATURE_NAMES)))
    trainer = Trainer(in_process=True, idle_s=600, nice=10)
    try:
        trainer.train(X, rng.normal(size=300), 300)
        child = trainer._child.pid
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        # Every thread of the child (Linux sets a nice value per thread).
        threads = list(Path(f"/proc/{child}/task").iterdir())
        nice = [int(t.joinpath("stat").read_text().rsplit(")", 1)[1].split()[16]) for t in threads]
        assert nice and set(nice) == {min(mine + 10, 19)}
    finally:
        trainer.close()


def test_the_trainer_reads_the_rows_itself_and_fits_what_the_api_would(client, auth):
    """On SQLite and PostgreSQL: the child reads the user's training rows from the database
    (the API process no longer reads and sends 20,000 of them per fit) and fits the version a
    fit on the rows read here gives."""
    rng = np.random.default_rng(5)
    body = [
        {
            "amount": round(float(rng.lognormal(3, 0.6)), 2),
            "category": ["mercado", "transporte", "lazer"][i % 3],
            "merchant": f"Loja {i % 7}",
            "occurred_at": f"2026-03-{1 + i // 40:02d}T{8 + i % 12:02d}:{i % 60:02d}:00-03:00",
        }
        for i in range(600)
    ]
    assert client.post("/events", json=body, headers=auth).status_code == 201
    ctx = client.app.state.ctx
    with ctx.engine.connect() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.username == "ana")).scalar_one()
    X, explicit, total = ctx.detectors.training_data(user_id)
    here, _, _ = Trainer(in_process=False).train(X, explicit, total)
    trainer = Trainer(in_process=True, idle_s=600)
    try:
        url = reachable_url(ctx.engine)
        there, _, _ = trainer.train_stored(url, user_id, total, 500)
        too_few = trainer.train_stored(url, user_id, total, len(X) + 1)
    finally:
        trainer.close()
    assert there.samples == here.samples == 600
    assert there.score_quantiles == here.score_quantiles
    assert np.array_equal(there.flat.anomaly(X[:50]), here.flat.anomaly(X[:50]))
    assert too_few is None
