"""Bad input is refused with a 4xx naming the field, stores nothing and breaks nothing.

Decisions (docs/reliability.md): ``"12.34"`` as a string is accepted (exact decimal text, no
float rounding) but only in plain form - no exponent, sign, spaces or leading zeros; a JSON
number within float noise of a whole cent (0.1 + 0.2) is that cent; 12.345 is refused.
Server-owned fields (``id``, ``score``...) are refused with 422 rather than silently ignored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import signup_and_login
from vigilante.api import create_app
from vigilante.config import Settings

OK = {"amount": 10, "category": "café"}
JSON = "application/json"


def item(**changes) -> bytes:
    return json.dumps(OK | changes).encode()


def at(moment: str) -> bytes:
    return item(occurred_at=moment)


def batch(*items: dict) -> bytes:
    return json.dumps(list(items)).encode()


TS, MER = "occurred_at", "merchant"
FUTURE = {"occurred_at": "2999-01-01T00:00:00Z"}
IN_TWO_DAYS = (datetime.now(UTC) + timedelta(days=2)).isoformat()


def raw_item(fragment: str) -> bytes:
    """OK with one field spelled literally (for values json.dumps will not write)."""
    return ('{"category": "café", ' + fragment + "}").encode()


# (name, path, body bytes, content type, expected status, field the error must name)
CASES = [
    ("NaN", "/event", raw_item('"amount": NaN'), JSON, 422, "amount"),
    ("Infinity", "/event", raw_item('"amount": Infinity'), JSON, 422, "amount"),
    ("-Infinity", "/event", raw_item('"amount": -Infinity'), JSON, 422, "amount"),
    ("zero", "/event", item(amount=0), JSON, 422, "amount"),
    ("negative", "/event", item(amount=-1), JSON, 422, "amount"),
    ("1e308", "/event", raw_item('"amount": 1e308'), JSON, 422, "amount"),
    ("1e400 (inf)", "/event", raw_item('"amount": 1e400'), JSON, 422, "amount"),
    ("2^63", "/event", item(amount=2**63), JSON, 422, "amount"),
    ("5000-digit int", "/event", raw_item('"amount": ' + "9" * 5000), JSON, 422, "body"),
    ("12.345", "/event", item(amount=12.345), JSON, 422, "amount"),
    ("'12.345' string", "/event", item(amount="12.345"), JSON, 422, "amount"),
    ("'1e3' string", "/event", item(amount="1e3"), JSON, 422, "amount"),
    ("' 12.34' string", "/event", item(amount=" 12.34"), JSON, 422, "amount"),
    ("'-5' string", "/event", item(amount="-5"), JSON, 422, "amount"),
    ("'NaN' string", "/event", item(amount="NaN"), JSON, 422, "amount"),
    ("true as amount", "/event", item(amount=True), JSON, 422, "amount"),
    ("over the maximum", "/event", item(amount=1_000_000_000.01), JSON, 422, "amount"),
    ("unknown currency", "/event", item(currency="XYZ"), JSON, 422, "currency"),
    ("lower-case currency", "/event", item(currency="brl"), JSON, 422, "currency"),
    ("NUL in category", "/event", item(category="caf\x00é"), JSON, 422, "category"),
    ("NUL in merchant", "/event", item(merchant="\x00"), JSON, 422, "merchant"),
    ("escape in account", "/event", item(account="a\x1b[31m"), JSON, 422, "account"),
    ("RTL override in category", "/event", item(category="a\u202eb"), JSON, 422, "category"),
    ("bidi isolate in merchant", "/event", item(merchant="Pad\u2067aria"), JSON, 422, "merchant"),
    ("lone surrogate", "/event", raw_item('"amount": 1, "merchant": "\\ud800"'), JSON, 422, MER),
    ("1 MB category", "/event", item(category="x" * 1_000_000), JSON, 422, "category"),
    ("1 MB description", "/event", item(description="é" * 1_000_000), JSON, 422, "description"),
    ("blank category", "/event", item(category="   "), JSON, 422, "category"),
    ("empty category", "/event", item(category=""), JSON, 422, "category"),
    ("naive timestamp", "/event", at("2026-03-02T12:30:00"), JSON, 422, TS),
    ("far future", "/event", at("9999-12-31T23:59:59Z"), JSON, 422, TS),
    ("two days ahead", "/event", at(IN_TWO_DAYS), JSON, 422, TS),
    ("year 10000", "/event", at("10000-01-01T00:00:00Z"), JSON, 422, TS),
    ("before 1970", "/event", at("0001-01-01T00:00:00+01:00"), JSON, 422, TS),
    ("not a date", "/event", at("yesterday"), JSON, 422, TS),
    ("amount as list", "/event", item(amount=[1]), JSON, 422, "amount"),
    ("category as object", "/event", item(category={"a": 1}), JSON, 422, "category"),
    ("missing amount", "/event", json.dumps({"category": "x"}).encode(), JSON, 422, "amount"),
    ("missing category", "/event", json.dumps({"amount": 1}).encode(), JSON, 422, "category"),
    ("server-owned id", "/event", item(id=1), JSON, 422, "id"),
    ("unknown field", "/event", item(colour="red"), JSON, 422, "colour"),
    ("array for /event", "/event", json.dumps([OK]).encode(), JSON, 422, "body"),
    ("object for /events", "/events", item(), JSON, 422, "body"),
    ("empty batch", "/events", b"[]", JSON, 422, "body"),
    ("10,000 + 1 batch", "/events", json.dumps([OK] * 10_001).encode(), JSON, 422, "body"),
    ("bad item in batch", "/events", batch(OK, OK | {"amount": -1}), JSON, 422, "1.amount"),
    ("future item in batch", "/events", batch(OK, OK | FUTURE), JSON, 422, "1.occurred_at"),
    ("invalid UTF-8", "/event", b'{"amount": 1, "category": "\xff\xfe"}', JSON, 422, "body"),
    ("non-JSON body", "/event", b"amount=1&category=x", JSON, 422, "body"),
    ("truncated JSON", "/event", b'{"amount": 1, "categ', JSON, 422, "body"),
    ("empty body", "/event", b"", JSON, 422, "body"),
    ("JSON null", "/event", b"null", JSON, 422, "body"),
    ("text/plain body", "/event", item(), "text/plain", 422, "body"),
    ("deeply nested", "/event", b"[" * 100_000 + b"]" * 100_000, JSON, 422, "body"),
    ("bad feedback label", "/events/1/feedback", b'{"label": "meh"}', JSON, 422, "label"),
    ("huge body", "/events", b"[" + b" " * (17 * 1024 * 1024) + b"]", JSON, 413, None),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app for the whole table: nothing a case sends may change what the next one sees."""
    data = tmp_path_factory.mktemp("bad-input") / "data"
    with TestClient(create_app(Settings(data_dir=data, _env_file=None))) as client:
        auth = signup_and_login(client)
        assert client.post("/event", json=OK, headers=auth).json()["id"] == 1  # for feedback
        yield client, auth


@pytest.mark.parametrize(
    "name, path, body, content_type, status, field", CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    shared, name, path, body, content_type, status, field
):
    client, auth = shared
    before = client.get("/events", headers=auth).json()
    r = client.post(path, content=body, headers=auth | {"content-type": content_type})
    assert r.status_code == status, r.text[:300]
    if field is not None:
        detail = r.json()["detail"]
        assert isinstance(detail, list) and detail, detail
        assert field in [e["field"] for e in detail], detail
        for e in detail:
            assert set(e) == {"field", "message", "type"} and e["message"]
    assert len(r.content) < 10_000  # the input is never echoed back
    after = client.get("/events", headers=auth)
    assert after.status_code == 200
    assert after.json() == before


@pytest.mark.parametrize("path", ["/event", "/events"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_json_sent_without_its_content_type_is_told_which_header_is_missing(
    shared, path, content_type
):
    # What `curl -d '{...}'` does without -H 'content-type: application/json'.
    client, auth = shared
    headers = auth | ({"content-type": content_type} if content_type else {})
    body = b'{"amount": 1, "category": "x"}' if path == "/event" else b'[{"amount": 1}]'
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["field"] == "body"
    assert "content-type: application/json" in error["message"]
    assert (content_type or "none") in error["message"]


BAD_QUERIES = [
    ("/events/9223372036854775808", "expense_id"),
    ("/events/0", "expense_id"),
    ("/events/-1", "expense_id"),
    ("/events/abc", "expense_id"),
    ("/events?after_id=9223372036854775808", "after_id"),
    ("/events?before_id=99999999999999999999999", "before_id"),
    ("/events?limit=1001", "limit"),
    ("/events?limit=ten", "limit"),
    ("/events?category=%00", "category"),
    ("/events?account=a%00b", "account"),
    ("/events?from=2026-01-01T00:00:00", "from"),
    ("/events?to=not-a-date", "to"),
    ("/events?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
    ("/events?lang=xx", "lang"),
    ("/stats?currency=brl", "currency"),
    ("/stats?currency=%00%00%00", "currency"),
    ("/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ("/stats?from=1900-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
]


@pytest.mark.parametrize("url, field", BAD_QUERIES)
def test_bad_ids_and_queries_are_422_naming_the_parameter(shared, url, field):
    client, auth = shared
    r = client.get(url, headers=auth)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["detail"]]


def test_an_offset_east_of_utc_whose_plus_became_a_space_is_told_to_write_it_as_2b(shared):
    client, auth = shared
    r = client.get("/events?from=2026-03-01T00:00:00+03:00", headers=auth)  # "+" unescaped
    assert r.status_code == 422
    assert "%2B" in r.json()["detail"][0]["message"]
    ok = client.get("/events?from=2026-03-01T00:00:00%2B03:00", headers=auth)
    assert ok.status_code == 200


def test_an_impossible_time_and_a_broken_character_are_told_for_what_they_are(shared):
    client, auth = shared
    for when in ("2026-03-02T25:00:00Z", "2026-03-02T12:61:00Z", "2026-03-02T23:59:60Z"):
        r = client.post("/event", json={"amount": 1, "category": "x", "occurred_at": when},
                        headers=auth)  # fmt: skip
        (error,) = r.json()["detail"]
        assert error["message"].startswith("Input should be a date and time with an offset")
    body = b'{"amount": 1, "category": "caf\\ud800"}'  # a lone surrogate, escaped in JSON
    r = client.post("/event", content=body, headers=auth | {"content-type": "application/json"})
    (error,) = r.json()["detail"]
    assert (error["field"], error["message"]) == ("category", "must be valid Unicode text")


def test_a_null_amount_is_missing_and_a_wrong_type_is_said_without_python_words(shared):
    client, auth = shared
    for amount, expected in (
        (None, ("missing", "Field required")),
        (True, ("decimal_type", 'must be a number (as 42.5 or "42.50")')),
        ([1], ("decimal_type", 'must be a number (as 42.5 or "42.50")')),
    ):
        r = client.post("/event", json={"amount": amount, "category": "x"}, headers=auth)
        (error,) = r.json()["detail"]
        assert (error["field"], error["type"], error["message"]) == ("amount", *expected)


def test_a_login_sent_as_json_is_told_to_send_a_form(shared):
    client, _ = shared
    r = client.post("/token", json={"username": "ana", "password": "correct horse battery"})
    assert r.status_code == 422
    for error in r.json()["detail"]:
        assert error["field"] in ("username", "password")
        assert "application/x-www-form-urlencoded" in error["message"], error
    # A form missing a field is told plainly.
    r = client.post("/token", data={"username": "ana"})
    (error,) = r.json()["detail"]
    assert (error["field"], error["message"]) == ("password", "Field required")


def test_a_pattern_is_explained_in_words_not_shown_as_a_regex(shared):
    client, auth = shared
    lang = client.get("/events?lang=xx", headers=auth).json()["detail"][0]
    assert (lang["field"], lang["message"]) == ("lang", "should be pt-BR, pt or en")
    user = client.post("/users", json={"username": "ana maria", "password": "x" * 20})
    (error,) = [e for e in user.json()["detail"] if e["field"] == "username"]
    assert "letters" in error["message"] and "^" not in error["message"]


def test_the_largest_id_is_just_not_found(shared):
    client, auth = shared
    assert client.get(f"/events/{2**63 - 1}", headers=auth).status_code == 404
    r = client.post(f"/events/{2**63 - 1}/feedback", json={"label": "legit"}, headers=auth)
    assert r.status_code == 404
    assert client.get(f"/events?after_id={2**63 - 1}", headers=auth).json() == []


@pytest.mark.parametrize(
    "amount, stored",
    [
        ("12.34", 12.34),  # a plain decimal string: accepted, exact
        ("0.01", 0.01),
        ("1000000000", 1_000_000_000),
        (12.34, 12.34),
        (0.1 + 0.2, 0.3),  # float noise around a whole cent is that cent
        (7, 7),
        (1e2, 100),
    ],
)
def test_good_amounts_in_every_accepted_form(shared, amount, stored):
    client, auth = shared
    r = client.post("/event", json={"amount": amount, "category": "x"}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == stored


def test_text_is_trimmed_and_normalised_and_any_language_is_fine(shared):
    client, auth = shared
    body = {
        "amount": 5,
        "category": "  cafe\u0301  ",  # decomposed é, padded
        "merchant": "東京 ラーメン 🍜",
        "description": "línea\u2028two",
        "currency": "EUR",
    }
    r = client.post("/event", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["category"] == "café"
    assert r.json()["merchant"] == "東京 ラーメン 🍜"


@pytest.mark.parametrize("path", ["/event", "/events"])
def test_ingest_checks_token_first_then_language_and_key(shared, path):
    # The ingest routes read these by hand (hot path); they must answer as every other route.
    client, auth = shared
    body = OK if path == "/event" else [OK]
    before = client.get("/events?limit=1000", headers=auth).json()
    assert client.post(path, json={"amount": "x"}).status_code == 401  # no token, bad body
    bad = {"Authorization": auth["Authorization"].replace("Bearer ", "Bearer x")}
    assert client.post(path, json=body, headers=bad).status_code == 401
    assert client.post(path, json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    r = client.post(path + "?lang=xx", json=body, headers=auth)
    assert r.status_code == 422 and [e["field"] for e in r.json()["detail"]] == ["lang"]
    r = client.post(path + "?lang=x", json=body, headers=auth | {"Idempotency-Key": "a b"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]} == {"lang", "Idempotency-Key"}
    assert client.get("/events?limit=1000", headers=auth).json() == before
    r = client.post(path + "?lang=en", json=body, headers=auth | {"Accept-Language": "pt-BR"})
    assert r.status_code == 201
