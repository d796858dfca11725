from datetime import UTC, datetime, timedelta

from tests.conftest import signup_and_login

EXPENSE = {
    "amount": 42.50,
    "category": "alimentação",
    "merchant": "Padaria",
    "occurred_at": "2026-03-02T12:30:00-03:00",
}


def test_post_event_returns_the_scored_expense_in_utc(client, auth):
    r = client.post("/event", json=EXPENSE, headers=auth)
    assert r.status_code == 201
    body = r.json()
    assert body["amount"] == 42.5
    assert body["currency"] == "BRL"
    assert body["category"] == "alimentação"
    assert body["occurred_at"] == "2026-03-02T15:30:00Z"
    assert 0 <= body["score"] <= 1
    assert body["severity"] in {"low", "medium", "high"}
    assert isinstance(body["reasons"], list)
    assert body["model_version"]
    assert "user_id" not in body and "features" not in body


def test_occurred_at_defaults_to_now(client, auth):
    before = datetime.now(UTC) - timedelta(seconds=5)
    body = client.post("/event", json={"amount": "12.34", "category": "café"}, headers=auth).json()
    assert datetime.fromisoformat(body["occurred_at"]) >= before
    assert body["amount"] == 12.34


def test_batch_is_scored_in_order_and_returned_in_order(client, auth):
    batch = [
        {
            "amount": 30,
            "category": "café",
            "merchant": "Bar do Zé",
            "occurred_at": f"2026-03-02T10:{m:02d}:00-03:00",
        }
        for m in (0, 2)
    ]
    r = client.post("/events", json=batch, headers=auth)
    assert r.status_code == 201
    first, second = r.json()
    assert first["occurred_at"] < second["occurred_at"]
    assert not first["is_anomaly"]
    # The second saw the first: a duplicate two minutes later.
    assert second["is_anomaly"]
    assert second["reasons"][0]["code"] == "duplicate"


def test_batch_answers_carry_the_ids_of_the_rows_stored(client, auth):
    # Batches are inserted with one executemany; the ids answered must be each row's own.
    client.post("/event", json={"amount": 5, "category": "café"}, headers=auth)
    batch = [
        {
            "amount": 10 + i,
            "category": "mercado",
            "merchant": f"Loja {i}",
            "occurred_at": f"2026-03-02T10:{i:02d}:00-03:00",
        }
        for i in range(30)
    ]
    out = client.post("/events", json=batch, headers=auth).json()
    ids = [e["id"] for e in out]
    assert ids == sorted(set(ids)) and len(ids) == 30
    for sent, answered in zip(batch, out, strict=True):
        stored = client.get(f"/events/{answered['id']}", headers=auth).json()
        assert (stored["merchant"], stored["amount"]) == (sent["merchant"], sent["amount"])
        assert stored["score"] == answered["score"]


def test_batch_limits(client, auth):
    assert client.post("/events", json=[], headers=auth).status_code == 422
    big = [{"amount": 1, "category": "x"}] * 10_001
    r = client.post("/events", json=big, headers=auth)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "body"
    assert client.get("/events", headers=auth).json() == []


def test_paging_newest_first_with_before_and_after(client, auth):
    for i in range(5):
        client.post("/event", json={"amount": 10 + i, "category": "café"}, headers=auth)
    page = client.get("/events?limit=2", headers=auth).json()
    assert [e["amount"] for e in page] == [14, 13]
    older = client.get(f"/events?limit=2&before_id={page[-1]['id']}", headers=auth).json()
    assert [e["amount"] for e in older] == [12, 11]
    newer = client.get(f"/events?after_id={older[0]['id']}", headers=auth).json()
    assert [e["amount"] for e in newer] == [14, 13]
    assert client.get("/events?limit=1001", headers=auth).status_code == 422


def test_filters(client, auth):
    client.post("/event", json={"amount": 10, "category": "café", "account": "ana"}, headers=auth)
    client.post("/event", json={"amount": 20, "category": "saúde", "account": "bia"}, headers=auth)
    by_cat = client.get("/events", params={"category": "saúde"}, headers=auth).json()
    assert [e["amount"] for e in by_cat] == [20]
    by_acc = client.get("/events", params={"account": "ana"}, headers=auth).json()
    assert [e["account"] for e in by_acc] == ["ana"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get("/events", params={"from": future}, headers=auth).json() == []
    assert client.get("/events?anomalies_only=true", headers=auth).json() == []


def test_get_one_and_404_for_missing(client, auth):
    created = client.post("/event", json=EXPENSE, headers=auth).json()
    assert client.get(f"/events/{created['id']}", headers=auth).json() == created
    assert client.get("/events/999", headers=auth).status_code == 404


def test_users_never_see_each_other(client):
    ana = signup_and_login(client, "ana")
    bia = signup_and_login(client, "bia")
    mine = client.post("/event", json=EXPENSE, headers=ana).json()
    assert client.get(f"/events/{mine['id']}", headers=bia).status_code == 404
    assert client.get("/events", headers=bia).json() == []
    assert (
        client.get("/stats", params={"from": "2026-01-01T00:00:00Z"}, headers=bia).json()["count"]
        == 0
    )
    r = client.post(f"/events/{mine['id']}/feedback", json={"label": "legit"}, headers=bia)
    assert r.status_code == 404
    # Bia's own duplicate-looking expense is not compared with Ana's history.
    theirs = client.post("/event", json=EXPENSE, headers=bia).json()
    assert not theirs["is_anomaly"]


def test_stats_totals_by_category_and_day(client, auth):
    for amount, cat, when in [
        (10, "café", "2026-03-02T10:00:00-03:00"),
        (20.5, "café", "2026-03-02T23:30:00-03:00"),  # still the 2nd in São Paulo
        (100, "saúde", "2026-03-03T09:00:00-03:00"),
    ]:
        client.post(
            "/event", json={"amount": amount, "category": cat, "occurred_at": when}, headers=auth
        )
    s = client.get(
        "/stats",
        params={"from": "2026-03-01T00:00:00-03:00", "to": "2026-04-01T00:00:00-03:00"},
        headers=auth,
    ).json()
    assert s["total"] == 130.5
    assert s["count"] == 3
    assert {c["category"]: c["total"] for c in s["by_category"]} == {"café": 30.5, "saúde": 100}
    assert [(d["day"], d["count"]) for d in s["by_day"]] == [("2026-03-02", 2), ("2026-03-03", 1)]
    bad = client.get(
        "/stats",
        params={"from": "2020-01-01T00:00:00Z", "to": "2019-01-01T00:00:00Z"},
        headers=auth,
    )
    assert bad.status_code == 422


def test_stats_default_to_the_last_30_days(client, auth):
    """Without ``from``/``to``: the 30 days up to now (29 days and 23 hours ago counts), plus
    what ingest accepts as dated a little ahead; the same window for /feedback/stats."""
    now = datetime.now(UTC)
    for days_ago in (29.9, 30.1):
        when = (now - timedelta(days=days_ago)).isoformat()
        client.post("/event", json=dict(EXPENSE, occurred_at=when), headers=auth)
    client.post("/event", json=dict(EXPENSE, occurred_at=(now + timedelta(hours=1)).isoformat()),
                headers=auth)  # fmt: skip
    s = client.get("/stats", headers=auth).json()
    assert s["count"] == 2
    start = datetime.fromisoformat(s["from"])
    assert abs(now - start - timedelta(days=30)) < timedelta(minutes=1)
    assert client.get("/feedback/stats", headers=auth).json()["expenses"] == 2
    # Only ``to``: the 30 days before it.
    s = client.get("/stats", params={"to": now.isoformat()}, headers=auth).json()
    assert s["count"] == 1


def test_stats_count_every_currency_and_keep_other_totals_apart(client, auth):
    for amount, currency, when in [
        (10, None, "2026-03-02T10:00:00-03:00"),
        (5000, "EUR", "2026-03-02T11:00:00-03:00"),
        (7, "USD", "2026-03-03T09:00:00-03:00"),
    ]:
        body = {"amount": amount, "category": "viagem", "occurred_at": when}
        r = client.post("/event", json=body | ({"currency": currency} if currency else {}),
                        headers=auth)  # fmt: skip
        assert r.status_code == 201, r.text
    window = {"from": "2026-03-01T00:00:00-03:00", "to": "2026-04-01T00:00:00-03:00"}
    s = client.get("/stats", params=window, headers=auth).json()
    assert s["currency"] == "BRL" and s["total"] == 10 and s["count"] == 3
    assert s["other_totals"] == {"EUR": 5000, "USD": 7}
    assert [(d["day"], d["count"], d["total"], d["other_totals"]) for d in s["by_day"]] == [
        ("2026-03-02", 2, 10, {"EUR": 5000}),
        ("2026-03-03", 1, 0, {"USD": 7}),
    ]
    [travel] = s["by_category"]
    assert (travel["count"], travel["total"], travel["other_totals"]) == (
        3, 10, {"EUR": 5000, "USD": 7},
    )  # fmt: skip
    in_euros = client.get("/stats", params=window | {"currency": "EUR"}, headers=auth).json()
    assert in_euros["total"] == 5000 and in_euros["other_totals"] == {"BRL": 10, "USD": 7}


def test_feedback_is_stored(client, auth):
    created = client.post("/event", json=EXPENSE, headers=auth).json()
    r = client.post(f"/events/{created['id']}/feedback", json={"label": "legit"}, headers=auth)
    assert r.status_code == 200
    assert r.json()["feedback"] == "legit"
    bad = client.post(f"/events/{created['id']}/feedback", json={"label": "meh"}, headers=auth)
    assert bad.status_code == 422


def test_reasons_follow_the_requested_language(client, auth):
    client.post("/event", json=EXPENSE, headers=auth)
    dup = dict(EXPENSE, occurred_at="2026-03-02T12:33:00-03:00")
    pt = client.post("/event", json=dup, headers=auth).json()
    assert pt["reasons"][0]["message"] == "mesmo valor em Padaria há 3 min"
    en = client.get(f"/events/{pt['id']}?lang=en", headers=auth).json()
    assert en["reasons"][0]["message"] == "same amount at Padaria 3 min ago"
    via_header = client.get(f"/events/{pt['id']}", headers=auth | {"Accept-Language": "en-US"})
    assert via_header.json()["reasons"][0]["message"].startswith("same amount")
    # The most preferred language we speak, not just the header's first one.
    for header, said in (
        ("fr-FR,fr;q=0.9,en;q=0.8", "same amount"),
        ("en;q=0.5, pt-BR;q=0.9", "mesmo valor"),
        ("pt;q=0, en-GB", "same amount"),
        ("de, it", "mesmo valor"),  # none we speak: the deployment's (pt-BR)
        ("pt;q=0, *", "same amount"),  # the deployment's, refused: the other one
    ):
        r = client.get(f"/events/{pt['id']}", headers=auth | {"Accept-Language": header})
        assert r.json()["reasons"][0]["message"].startswith(said), header


def test_health_needs_no_login(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["database"] == "ok"


def test_external_id_is_stored_once(client, auth):
    item = dict(EXPENSE, external_id="bank-123")
    first = client.post("/events", json=[item, item], headers=auth).json()
    again = client.post("/event", json=item, headers=auth).json()
    assert first[0]["id"] == first[1]["id"] == again["id"]
    assert len(client.get("/events", headers=auth).json()) == 1


def test_a_full_batch_sent_again_is_recognised_by_external_id_and_by_key(client, auth):
    # 1,000 ids and rows: more than one IN list's worth for each lookup.
    batch = [dict(EXPENSE, amount=10 + n, external_id=f"bank-{n}") for n in range(1000)]
    first = client.post("/events", json=batch, headers=auth).json()
    again = client.post("/events", json=batch[::-1], headers=auth).json()
    assert [e["id"] for e in again] == [e["id"] for e in first][::-1]
    key = auth | {"Idempotency-Key": "statement-2026-03"}
    fresh = [dict(item, external_id=None) for item in batch]
    stored = client.post("/events", json=fresh, headers=key).json()
    replayed = client.post("/events", json=fresh, headers=key).json()
    assert replayed == stored and len({e["id"] for e in stored}) == 1000
    newest = client.get("/events", params={"limit": 1}, headers=auth).json()
    assert newest[0]["id"] == max(e["id"] for e in stored)  # nothing stored after them


def test_idempotency_key_replays_and_conflicts(client, auth):
    key = {"Idempotency-Key": "abc-123"}
    a = client.post("/event", json=EXPENSE, headers=auth | key)
    b = client.post("/event", json=EXPENSE, headers=auth | key)
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json()
    other = client.post("/event", json=dict(EXPENSE, amount=1), headers=auth | key)
    assert other.status_code == 409
    assert len(client.get("/events", headers=auth).json()) == 1


def test_restart_keeps_data_and_tokens(make_client):
    first = make_client()
    auth = signup_and_login(first)
    created = first.post("/event", json=EXPENSE, headers=auth).json()
    first.__exit__(None, None, None)
    second = make_client()
    assert second.get(f"/events/{created['id']}", headers=auth).json() == created


def test_the_everyday_ingest_answers_exactly_as_the_fastapi_route_does(make_client, tmp_path):
    """POST /event and /events without a query string take a shorter path than FastAPI's
    (vigilante.api.fastpath); a query string sends the same request through the FastAPI route.
    Same history, same expense: the same answer, but for the row ids and the clock."""
    from vigilante.simulate import Simulator

    sim = Simulator(seed=3, accounts=2, start=datetime(2026, 3, 1, tzinfo=UTC))
    history = [e.payload for e in sim.history(days=20)][:60]
    answers, VARY = [], ("id", "received_at")
    for n, query in enumerate(("", "?lang=en")):
        client = make_client(data_dir=tmp_path / f"app{n}", lang="en")
        auth = signup_and_login(client, f"ana{n}")  # one PostgreSQL database: two users
        assert client.get("/model", headers=auth).status_code == 200  # the token's user known
        batch = client.post(f"/events{query}", json=history[:-1], headers=auth)
        one = client.post(
            f"/event{query}", json=history[-1], headers=auth | {"Idempotency-Key": "k-1"}
        )
        again = client.post(
            f"/event{query}", json=history[-1], headers=auth | {"Idempotency-Key": "k-1"}
        )
        bad = client.post(f"/event{query}", json=history[-1] | {"amount": -1}, headers=auth)
        conflict = client.post(  # raised while ingesting: the app's handler answers
            f"/event{query}", json=history[0], headers=auth | {"Idempotency-Key": "k-1"}
        )
        assert (batch.status_code, one.status_code, again.status_code) == (201, 201, 201)
        assert again.json() == one.json()  # the key replays the first answer
        answers.append(
            [
                [{k: v for k, v in e.items() if k not in VARY} for e in batch.json()],
                {k: v for k, v in one.json().items() if k not in VARY},
                (bad.status_code, bad.json()),
                sorted((k, v) for k, v in one.headers.items() if k != "content-length"),
                sorted((k, v) for k, v in bad.headers.items() if k != "content-length"),
                (conflict.status_code, conflict.json(), sorted(conflict.headers.items())),
            ]
        )
    assert answers[0] == answers[1]
    assert answers[0][2][0] == 422 and "amount" in str(answers[0][2][1])


def test_the_fast_ingest_path_reads_headers_as_fastapi_does(client, auth):
    """Unusual headers take FastAPI's route and its answer: a repeated header counts by its
    first value, and only ``application/json`` itself is JSON here (other types: FastAPI's
    rules)."""
    import json

    body = json.dumps({"amount": 12.5, "category": "mercado", "merchant": "Dia"}).encode()
    bearer = auth["Authorization"]
    client.get("/model", headers=auth)  # the token's user is known: the fast path may answer

    def post(headers: list[tuple[str, str]], path: str = "/event"):
        return client.post(path, content=body, headers=headers)

    json_type = ("content-type", "application/json")
    assert (
        post([("authorization", "Bearer forged"), ("authorization", bearer), json_type]).status_code
        == 401
    )
    assert (
        post([("authorization", bearer), ("authorization", "Bearer forged"), json_type]).status_code
        == 201
    )
    bad_key = post(
        [
            ("authorization", bearer),
            ("idempotency-key", "a b"),
            ("idempotency-key", "k2"),
            json_type,
        ]
    )
    assert bad_key.status_code == 422 and "Idempotency-Key" in bad_key.text
    for media_type in ("application/jsonx", "application/json-seq", "text/plain"):
        answer = post([("authorization", bearer), ("content-type", media_type)])
        via_fastapi = post(
            [("authorization", bearer), ("content-type", media_type)], "/event?lang=pt-BR"
        )
        assert answer.status_code == via_fastapi.status_code == 422, media_type
        assert answer.json() == via_fastapi.json()
    for media_type in ("application/json; charset=utf-8", "APPLICATION/JSON"):
        assert post([("authorization", bearer), ("content-type", media_type)]).status_code == 201
