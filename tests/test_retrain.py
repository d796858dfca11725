"""Retraining by amount of data, per user, in the background, swapped atomically, versioned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from models.detector import MIN_THRESHOLD, Detector
from tests.conftest import signup_and_login
from vigilante.simulate import Simulator

SMALL = {"min_train_samples": 50, "retrain_every": 50}


def payloads(n: int, seed: int = 0) -> list[dict]:
    sim = Simulator(seed=seed, accounts=2, start=datetime(2026, 3, 1, tzinfo=UTC))
    events = [e.payload for e in sim.history(days=60)]
    assert len(events) >= n
    return events[:n]


def wait_for_training(client: TestClient) -> None:
    client.app.state.ctx.detectors.wait(timeout=60)


def test_a_new_user_is_scored_by_the_prior_until_enough_data_then_by_a_forest(make_client):
    client = make_client(**SMALL)
    auth = signup_and_login(client)
    info = client.get("/model", headers=auth).json()
    assert info["version"] == "prior-1" and info["kind"] == "prior-evidence"
    assert info["alert_rate"] == 0.03
    assert info["trained_at"] is None  # never fitted

    data = payloads(120)
    first = client.post("/events", json=data[:40], headers=auth).json()
    assert {e["model_version"] for e in first} == {"prior-1"}
    wait_for_training(client)
    assert client.get("/model", headers=auth).json()["version"] == "prior-1"  # 40 < 50

    client.post("/events", json=data[40:60], headers=auth)
    wait_for_training(client)
    trained = client.get("/model", headers=auth).json()
    assert trained["version"].startswith("if-")
    assert trained["kind"] == "isolation-forest+evidence"
    assert trained["samples"] == 60
    assert datetime.fromisoformat(trained["trained_at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert MIN_THRESHOLD <= trained["threshold"] <= 0.9

    later = client.post("/events", json=data[60:70], headers=auth).json()
    assert {e["model_version"] for e in later} == {trained["version"]}
    one = client.get(f"/events/{later[0]['id']}", headers=auth).json()
    assert one["model_version"] == trained["version"]

    # Another user has data of their own only: still the prior.
    bia = signup_and_login(client, "bia")
    assert client.get("/model", headers=bia).json()["version"] == "prior-1"

    # Retrained by data again after another 50 expenses, and kept across a restart.
    client.post("/events", json=data[70:120], headers=auth)
    wait_for_training(client)
    newer = client.get("/model", headers=auth).json()
    assert newer["version"] != trained["version"] and newer["samples"] == 120
    restarted = make_client(**SMALL)
    assert restarted.get("/model", headers=auth).json()["version"] == newer["version"]


def test_retrain_on_request_needs_enough_history(make_client):
    client = make_client(**SMALL)
    auth = signup_and_login(client)
    client.post("/events", json=payloads(20), headers=auth)
    r = client.post("/model/retrain", headers=auth)
    assert r.status_code == 409
    assert "50" in r.json()["detail"]
    client.post("/events", json=payloads(80, seed=1)[20:], headers=auth)
    wait_for_training(client)
    before = client.get("/model", headers=auth).json()["version"]
    r = client.post("/model/retrain", headers=auth)
    assert r.status_code == 200
    assert r.json()["version"] != before
    assert client.get("/model", headers=auth).json() == r.json()


def test_requests_during_retraining_are_scored_wholly_by_one_version(make_client):
    # Only explicit retrains here, so that every version that ever scored is known.
    client = make_client(min_train_samples=50, retrain_every=1_000_000)
    auth = signup_and_login(client)
    data = payloads(400, seed=2)
    client.post("/events", json=data[:100], headers=auth)
    versions = {client.post("/model/retrain", headers=auth).json()["version"]}
    batches, errors = [], []

    swapped = threading.Event()  # set once a retrain has replaced the version in use
    posted = threading.Event()  # set once a batch was scored by the first version

    def post(chunk: list[dict]) -> None:
        worker = TestClient(client.app)  # its own connection; the same app and detectors
        for start in range(0, len(chunk), 5):
            if start == 40:  # the second half only after a swap: both versions must score
                swapped.wait(timeout=120)
            r = worker.post("/events", json=chunk[start : start + 5], headers=auth)
            posted.set()
            if r.status_code != 201:
                errors.append(r.text)
            else:
                batches.append([e["model_version"] for e in r.json()])

    threads = [threading.Thread(target=post, args=(data[100 + 75 * i : 175 + 75 * i],))
               for i in range(4)]  # fmt: skip
    for t in threads:
        t.start()
    posted.wait(timeout=120)
    # Retrain for as long as the posts go on (bounded), so versions change under them.
    for _ in range(30):
        r = client.post("/model/retrain", headers=auth)
        assert r.status_code == 200
        versions.add(r.json()["version"])
        swapped.set()
        if not any(t.is_alive() for t in threads):
            break
    for t in threads:
        t.join()
    assert not errors
    assert len(batches) == 60
    for batch in batches:
        assert len(set(batch)) == 1  # never half one version, half another
    listed = client.get("/events", params={"limit": 1000}, headers=auth).json()
    assert len(listed) == 400
    seen = {e["model_version"] for e in listed}
    assert seen <= versions | {"prior-1"}
    assert len(seen - {"prior-1"}) >= 2


def test_the_alert_rate_is_set_per_user(make_client):
    client = make_client(**SMALL)
    auth = signup_and_login(client)
    bia = signup_and_login(client, "bia")
    client.post("/events", json=payloads(150, seed=3), headers=auth)
    wait_for_training(client)
    default = client.get("/model", headers=auth).json()
    r = client.put("/model/alert_rate", json={"alert_rate": 0.005}, headers=auth)
    assert r.status_code == 200
    strict = r.json()
    assert strict["alert_rate"] == 0.005
    assert strict["threshold"] >= default["threshold"]
    assert client.get("/model", headers=bia).json()["alert_rate"] == 0.03
    for bad in ({"alert_rate": 0.7}, {"alert_rate": 0}, {"alert_rate": "x"}, {}):
        r = client.put("/model/alert_rate", json=bad, headers=auth)
        assert r.status_code == 422, bad
        assert r.json()["detail"][0]["field"].endswith("alert_rate")
    r = client.put("/model/alert_rate", json={"alert_rate": None}, headers=auth)
    assert r.json()["alert_rate"] == 0.03


def test_a_stored_version_that_cannot_be_read_scores_by_the_prior_instead_of_failing(client):
    """After a rollback, a newer worker's format, or damaged bytes: expenses keep flowing."""
    from sqlalchemy import insert

    from models import store
    from vigilante.tables import detector_models

    auth = signup_and_login(client)
    meta = store._meta(Detector(version="if-unreadable", samples=600, user_rows=600))
    with client.app.state.ctx.engine.begin() as conn:
        conn.execute(
            insert(detector_models).values(
                user_id=1,
                version="if-unreadable",
                created_ms=0,
                user_rows=600,
                meta=meta,
                forest=store.FLAT_PREFIX + b"\xff" * 40,
            )
        )
    answer = client.post("/event", json=payloads(1)[0], headers=auth)
    assert answer.status_code == 201
    assert answer.json()["model_version"] == "prior-1"


def test_versions_stored_before_the_flat_format_are_rewritten_at_start_and_score_alike(
    make_client, tmp_path
):
    """An upgrade keeps every user's version (same name, same scores) and rewrites it with
    flat trees, so that the API process does not load scikit-learn to use it."""
    import pickle

    import numpy as np
    from sqlalchemy import insert, select

    from models import store
    from models.features import FEATURE_NAMES, FEATURE_SCHEMA
    from vigilante.tables import detector_models

    first = make_client(data_dir=tmp_path / "shared")
    auth = signup_and_login(first)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, len(FEATURE_NAMES)))
    old = Detector.train(X, np.zeros(len(X)), user_rows=600)
    meta = store._meta(old) | {"feature_schema": FEATURE_SCHEMA}  # as the previous code wrote
    blob = store.PICKLE_PREFIX + pickle.dumps(old.forest, protocol=5)
    engine = first.app.state.ctx.engine
    with engine.begin() as conn:
        for version in ("if-kept-beside", old.version):  # an older kept version, the current
            conn.execute(
                insert(detector_models).values(
                    user_id=1, version=version, created_ms=0, user_rows=600, meta=meta, forest=blob
                )
            )

    again = make_client(data_dir=tmp_path / "shared")  # the upgraded API starts
    wait_for_training(again)  # the rewriting runs in the background
    with engine.connect() as conn:
        kept, stored = conn.execute(
            select(detector_models.c.meta, detector_models.c.forest).order_by(detector_models.c.id)
        ).all()
    assert bytes(stored.forest).startswith(store.FLAT_PREFIX)
    assert bytes(kept.forest) == blob  # never loaded: left as it was
    assert again.get("/model", headers=auth).json()["version"] == old.version
    rows = rng.normal(0, 3, size=(30, len(FEATURE_NAMES)))
    loaded = store.loads(stored.meta, bytes(stored.forest))
    assert loaded.forest is None
    assert np.array_equal(loaded.flat.anomaly(rows), -old.forest.score_samples(rows))
    assert loaded.score_quantiles == old.score_quantiles
