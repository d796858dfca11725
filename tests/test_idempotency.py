"""Idempotency-Key: retries, even parallel ones and on another worker, store an expense once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from tests.conftest import signup_and_login
from vigilante.tables import expenses, idempotency_keys

EXPENSE = {"amount": 42.5, "category": "mercado", "merchant": "Feira", "account": "c1"}
BATCH = [EXPENSE, dict(EXPENSE, amount=13.2), dict(EXPENSE, amount=99.99, category="saúde")]
HOUR_MS = 3_600_000


def _count(client, table=expenses) -> int:
    with client.app.state.ctx.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _parallel(calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.mark.parametrize("path, body", [("/event", EXPENSE), ("/events", BATCH)])
def test_same_key_five_times_in_parallel_stores_once_and_answers_alike(client, auth, path, body):
    headers = auth | {"Idempotency-Key": "retry-me-1"}
    answers = _parallel([lambda: client.post(path, json=body, headers=headers)] * 5)
    assert [r.status_code for r in answers] == [201] * 5
    assert all(r.json() == answers[0].json() for r in answers)
    assert _count(client) == (1 if path == "/event" else len(BATCH))
    assert _count(client, idempotency_keys) == 1


def test_same_key_in_parallel_on_two_workers_stores_once(make_client):
    first = make_client()
    second = make_client()  # another process on the same database, in all but name
    auth = signup_and_login(first)
    headers = auth | {"Idempotency-Key": "two-workers"}
    answers = _parallel(
        [lambda c=c: c.post("/event", json=EXPENSE, headers=headers) for c in [first, second] * 3]
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.text for r in answers}) == 1
    assert _count(first) == 1


def test_same_key_with_another_body_or_endpoint_is_409_and_stores_nothing(client, auth):
    headers = auth | {"Idempotency-Key": "k-409"}
    assert client.post("/event", json=EXPENSE, headers=headers).status_code == 201
    for path, body in [
        ("/event", dict(EXPENSE, amount=1)),
        ("/event", dict(EXPENSE, merchant="Outra")),
        ("/events", [EXPENSE]),  # same expense, but a batch answer is a different answer
    ]:
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 409
        assert "Idempotency-Key" in r.json()["detail"]
    assert _count(client) == 1
    # The number and the string of the same amount are the same request.
    again = client.post("/event", json=dict(EXPENSE, amount="42.50"), headers=headers)
    assert again.status_code == 201


def test_refused_input_does_not_use_up_the_key(client, auth):
    headers = auth | {"Idempotency-Key": "k-after-422"}
    bad = client.post("/event", json=dict(EXPENSE, amount=-1), headers=headers)
    assert bad.status_code == 422
    assert client.post("/event", json=EXPENSE, headers=headers).status_code == 201
    assert _count(client) == 1


def test_replay_speaks_the_language_asked_now(client, auth):
    headers = auth | {"Idempotency-Key": "k-lang"}
    client.post("/event", json=EXPENSE, headers=headers)
    dup = dict(EXPENSE, external_id=None)
    pt = client.post("/event", json=dup, headers=auth | {"Idempotency-Key": "k-dup"}).json()
    en = client.post("/event?lang=en", json=dup, headers=auth | {"Idempotency-Key": "k-dup"}).json()
    assert pt["id"] == en["id"] and pt["score"] == en["score"]
    assert [r["code"] for r in pt["reasons"]] == [r["code"] for r in en["reasons"]]


@pytest.mark.parametrize("key", ["", "x" * 256, "espaço", "tab\there", "a b"])
def test_malformed_keys_are_422(client, auth, key):
    r = client.post("/event", json=EXPENSE, headers=auth | {"Idempotency-Key": key.encode("utf-8")})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "Idempotency-Key"
    assert _count(client) == 0


def _age_keys(client, hours: float) -> None:
    with client.app.state.ctx.engine.begin() as conn:
        conn.execute(
            update(idempotency_keys).values(
                created_ms=idempotency_keys.c.created_ms - int(hours * HOUR_MS)
            )
        )


def test_keys_are_kept_at_least_24_hours(client, auth):
    headers = auth | {"Idempotency-Key": "day-old"}
    first = client.post("/event", json=EXPENSE, headers=headers).json()
    _age_keys(client, 24)
    assert client.post("/event", json=EXPENSE, headers=headers).json() == first
    assert _count(client) == 1


def test_expired_keys_are_forgotten_and_pruned(make_client):
    client = make_client(idempotency_hours=24)
    auth = signup_and_login(client)
    for i in range(5):
        client.post("/event", json=EXPENSE, headers=auth | {"Idempotency-Key": f"old-{i}"})
    _age_keys(client, 25)
    # An expired key is a new request again.
    r = client.post("/event", json=EXPENSE, headers=auth | {"Idempotency-Key": "old-0"})
    assert r.status_code == 201
    assert _count(client) == 6
    # The next keyed request prunes the rest (at most every few minutes per process).
    client.app.state.ctx.ingestor._next_prune_ms = 0
    client.post("/event", json=EXPENSE, headers=auth | {"Idempotency-Key": "fresh"})
    with client.app.state.ctx.engine.connect() as conn:
        left = conn.execute(select(idempotency_keys.c.key).order_by(idempotency_keys.c.key))
        assert left.scalars().all() == ["fresh", "old-0"]


def test_retention_under_24_hours_is_refused(make_client):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_client(idempotency_hours=23)
