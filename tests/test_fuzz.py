"""Schemathesis against /openapi.json with a logged-in user and every check, bounded examples.

``response_schema_conformance`` passing means the OpenAPI document is exact: every status an
operation can answer is declared with its real body. A few rules cannot be written in JSON
Schema (an expense at most 24 h in the future and after 1970, a password that is not common,
a range that runs forwards, a stats range of at most ``max_stats_days``); ``map_case`` below keeps
*positive* cases inside them, so ``positive_data_acceptance`` stays strict about everything
else. Those rules have tests of their own in tests/test_bad_input.py and tests/test_auth.py.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import PASSWORD
from vigilante.api import create_app
from vigilante.config import Settings
from vigilante.security import password_problem

MAX_EXAMPLES = int(os.environ.get("VIGILANTE_FUZZ_EXAMPLES", "15"))  # more: a deeper local run

# pytest-9 breaks schemathesis.pytest.from_fixture, so the app is built at import, lazily
# logged in on first use (when the suite's cheap password hashing is in force).
_DATA = Path(tempfile.mkdtemp(prefix="vigilante-fuzz-"))
_SETTINGS = Settings(data_dir=_DATA / "data", _env_file=None, login_delay_ms=0)
app = create_app(_SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
_auth: dict = {}


def auth() -> dict:
    if not _auth:
        # No `with`: leaving a TestClient block would run the app's shutdown (closing its
        # writer) under schemathesis, which started the app once and keeps it running.
        client = TestClient(app)
        client.post("/users", json={"username": "fuzz", "password": PASSWORD})
        r = client.post("/token", data={"username": "fuzz", "password": PASSWORD})
        _auth["Authorization"] = f"Bearer {r.json()['access_token']}"
        # Something to find, page through and give feedback on.
        r = client.post("/event", json={"amount": 10, "category": "café"}, headers=_auth)
        assert r.status_code == 201, r.text
    return _auth


def _moment(text) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _in_range(text):
    """A timestamp outside 1970 .. now+24h moved to a year inside it (same month, day, time)."""
    moment = _moment(text)
    if moment is None:
        return text
    limit = datetime.now(UTC) + timedelta(hours=23)
    if datetime(1970, 1, 2, tzinfo=UTC) <= moment <= limit:
        return text
    try:
        return moment.replace(year=2020).isoformat()
    except ValueError:  # 29 February
        return moment.replace(year=2020, day=28).isoformat()


def _expense_in_range(item):
    if isinstance(item, dict) and "occurred_at" in item and item["occurred_at"] is not None:
        return dict(item, occurred_at=_in_range(item["occurred_at"]))
    return item


@schema.hook("map_case")
def keep_positive_cases_inside_the_unwritable_rules(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    label = f"{case.method} {case.path}"
    if label == "POST /event":
        case.body = _expense_in_range(case.body)
    elif label == "POST /events" and isinstance(case.body, list):
        case.body = [_expense_in_range(item) for item in case.body]
    elif label == "POST /users" and isinstance(case.body, dict):
        password, username = case.body.get("password"), case.body.get("username")
        strings = isinstance(password, str) and isinstance(username, str)
        if strings and password_problem(password, username, _SETTINGS):
            case.body = dict(case.body, password=PASSWORD)
    elif label in ("GET /stats", "GET /feedback/stats") and isinstance(case.query, dict):
        start, end = _moment(case.query.get("from")), _moment(case.query.get("to"))
        now = datetime.now(UTC)
        end = end or now + timedelta(days=1)
        start = start or end - timedelta(days=30)
        if not (timedelta(0) < end - start <= timedelta(days=_SETTINGS.max_stats_days)):
            case.query = {k: v for k, v in case.query.items() if k not in ("from", "to")}
    elif label == "GET /events" and isinstance(case.query, dict):
        start, end = _moment(case.query.get("from")), _moment(case.query.get("to"))
        if start is not None and end is not None and start >= end:  # a range runs forwards
            case.query = {k: v for k, v in case.query.items() if k != "to"}
    return case


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: CI failures reproduce
)
def test_api_conforms_to_its_openapi_schema(case):
    if case.path.startswith(SEMANTIC_422):
        case.call_and_validate(
            headers=auth(),
            excluded_checks=[positive_data_acceptance],
            additional_checks=[positive_data_acceptance_but_semantic_422],
        )
    else:
        case.call_and_validate(headers=auth())


# The alerts surface (issue: alerts, rules, budgets, webhooks) refuses some schema-valid bodies
# with a 422 naming the field, for rules JSON Schema cannot say: fields a rule kind does not
# use, at most 100 budgets, a webhook host that does not resolve, null in a PATCH meaning "no
# change" only for some fields, an empty e-mail. Every other check, and positive acceptance for
# every other status, still applies to them.
SEMANTIC_422 = ("/rules", "/budgets", "/webhooks", "/me")


def positive_data_acceptance_but_semantic_422(ctx, response, case):
    if response.status_code == 422:
        return None
    return positive_data_acceptance(ctx, response, case)
