"""Inputs where SQLite and PostgreSQL differ (NUL bytes, lengths, 64-bit ids, numeric types)
get the same answer on both: these run once per backend like every API test."""

from __future__ import annotations

from tests.conftest import PASSWORD

NUL = "\u0000"


def test_nul_bytes_are_refused_or_ignored_never_a_500(client, auth):
    r = client.post("/event", json={"amount": 1, "category": f"ca{NUL}fé"}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "category"
    for name in ("category", "account"):
        r = client.get("/events", params={name: f"a{NUL}b"}, headers=auth)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == name
    r = client.post("/token", data={"username": f"ana{NUL}", "password": PASSWORD})
    assert r.status_code == 401
    r = client.post("/users", json={"username": f"bia{NUL}", "password": PASSWORD})
    assert r.status_code == 422
    assert client.get("/events", headers=auth).json() == []


def test_longest_values_and_largest_ids_fit(client, auth):
    item = {
        "amount": 1_000_000_000,
        "category": "ç" * 64,
        "merchant": "🍞" * 128,
        "description": "ã" * 500,
        "account": "é" * 64,
        "external_id": "x" * 255,
    }
    r = client.post("/event", json=item, headers=auth, params={"lang": "en"})
    assert r.status_code == 201, r.text
    stored = client.get(f"/events/{r.json()['id']}", headers=auth).json()
    assert {k: stored[k] for k in item} == item
    top = 2**63 - 1
    assert client.get(f"/events/{top}", headers=auth).status_code == 404
    assert client.get(f"/events?after_id={top}", headers=auth).json() == []
    assert client.get(f"/events?before_id={top}", headers=auth).json()[0]["id"] == r.json()["id"]
    assert client.get(f"/events/{top + 1}", headers=auth).status_code == 422


def test_filters_match_the_stored_spelling(client, auth):
    client.post("/event", json={"amount": 5, "category": " cafe\u0301 "}, headers=auth)
    # Stored trimmed and NFC; a filter in the other normal form finds it.
    found = client.get("/events", params={"category": "cafe\u0301"}, headers=auth).json()
    assert [e["category"] for e in found] == ["café"]


def test_stats_numbers_have_the_same_types(client, auth):
    for amount in ("0.10", "0.20", "999999999.99"):
        client.post(
            "/event",
            json={"amount": amount, "category": "café", "occurred_at": "2026-03-02T10:00:00Z"},
            headers=auth,
        )
    s = client.get(
        "/stats",
        params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
        headers=auth,
    ).json()
    assert s["total"] == 1_000_000_000.29 and isinstance(s["total"], float)
    assert isinstance(s["count"], int) and isinstance(s["anomalies"], int)
    assert s["by_category"] == [
        {
            "category": "café",
            "total": 1_000_000_000.29,
            "other_totals": {},
            "count": 3,
            "anomalies": s["anomalies"],
        }
    ]
    assert [d["day"] for d in s["by_day"]] == ["2026-03-02"]
