"""The one HTTP client the dashboard, the entry app and demo.py use to talk to the API.

It logs in (and logs in again when the token is about to expire or is refused), sends the
reply language, retries what is safe to retry, and turns every failure into a typed error:

>>> api = VigilanteClient("http://127.0.0.1:8000")      # doctest: +SKIP
>>> api.login("ana", "a long passphrase")               # doctest: +SKIP
>>> api.post_event({"amount": "42.50", "category": "padaria"})["score"]  # doctest: +SKIP

``post_event`` and ``post_events`` always send an ``Idempotency-Key`` (a fresh one unless the
caller passes its own), so a retry after a lost answer never stores an expense twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from vigilante.config import get_settings

RETRY_STATUSES = {429, 500, 502, 503, 504}
REFRESH_MARGIN_S = 30.0


class ApiError(Exception):
    """The API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class ApiUnreachable(ApiError):
    """Nothing answered at the API's address (refused, timed out, connection dropped)."""


class AuthError(ApiError):
    """401: not logged in, the token expired, or wrong username or password."""


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: username taken, or an Idempotency-Key reused with a different body."""


class InvalidInput(ApiError):
    """422: ``errors`` lists ``{field, message, type}``, one per problem."""

    @property
    def errors(self) -> list[dict]:
        if isinstance(self.detail, list):
            return [e for e in self.detail if isinstance(e, dict)]
        return [{"field": "body", "message": str(self.detail), "type": "value_error"}]


class ServerError(ApiError):
    """5xx, 413 or 429, or any other answer the client did not expect."""


class RateLimited(ServerError):
    """429: too many attempts (failed logins); ``retry_after`` seconds to wait."""

    retry_after: float = 1.0


def _error_for(response: httpx.Response) -> ApiError:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = response.text[:200]
    status = response.status_code
    if isinstance(detail, list):
        message = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in detail[:5])
    else:
        message = str(detail or response.reason_phrase)
    kind = {401: AuthError, 404: NotFound, 409: Conflict, 422: InvalidInput, 429: RateLimited}
    error = kind.get(status, ServerError)(f"{status} {message}", status=status, detail=detail)
    if isinstance(error, RateLimited):
        with contextlib.suppress(ValueError):
            error.retry_after = max(0.0, float(response.headers.get("Retry-After", 1)))
    return error


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class VigilanteClient:
    """A session with the API: one per user (it holds that user's token).

    ``http`` may be a shared ``httpx.Client`` (a connection pool for many sessions, as the
    Streamlit apps do); ``retries`` > 0 retries network errors, 429 and 5xx with exponential
    backoff, calling ``on_retry(attempt, error, delay)`` before each wait.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        lang: str | None = None,
        timeout: float = 15.0,
        retries: int = 0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        http: httpx.Client | None = None,
        on_retry: Callable[[int, ApiError, float], None] | None = None,
    ):
        settings = get_settings()
        self.base_url = (base_url or settings.api_url).rstrip("/")
        self.lang = lang or settings.lang
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_retry = on_retry
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._credentials: tuple[str, str] | None = None
        self.username: str | None = None

    # -- session -------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> VigilanteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def login(self, username: str, password: str) -> None:
        """Get a token; the credentials are kept in memory to log in again when it expires."""
        form = {"username": username, "password": password}
        body = self._send("POST", "/token", data=form, auth=False)
        self._token = body["access_token"]
        self._token_expires = time.monotonic() + float(body.get("expires_in", 3600))
        self._credentials = (username, password)
        self.username = username

    def logout(self) -> None:
        self._token, self._credentials, self.username = None, None, None

    def signup(self, username: str, password: str) -> dict:
        body = {"username": username, "password": password}
        return self._send("POST", "/users", json=body, auth=False)

    def auth_required(self) -> bool:
        """False when the API runs with ``VIGILANTE_AUTH=off`` (every request is the local user)."""
        try:
            self._send("GET", "/model", auth=False)
        except AuthError:
            return True
        return False

    # -- endpoints -----------------------------------------------------------------------------

    def health(self) -> dict:
        try:
            return self._send("GET", "/health", auth=False)
        except ServerError as exc:
            if isinstance(exc.detail, dict) or exc.status == 503:
                return {"status": "degraded", "database": "error", "model": "?"}
            raise

    def model(self) -> dict:
        return self._send("GET", "/model")

    def post_event(self, expense: dict, idempotency_key: str | None = None) -> dict:
        """Score and store one expense; returns it with score, severity and reasons."""
        key = idempotency_key or uuid.uuid4().hex
        return self._send("POST", "/event", json=expense, idempotency_key=key)

    def post_events(self, expenses: list[dict], idempotency_key: str | None = None) -> list[dict]:
        """Score and store up to 10,000 expenses in order (one transaction)."""
        key = idempotency_key or uuid.uuid4().hex
        return self._send("POST", "/events", json=list(expenses), idempotency_key=key)

    def events(
        self,
        limit: int = 100,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        anomalies_only: bool = False,
        category: str | None = None,
        account: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict]:
        """Newest first; ``after_id`` gives the newest ``limit`` of those after it."""
        params = {
            "limit": limit,
            "before_id": before_id,
            "after_id": after_id,
            "anomalies_only": anomalies_only or None,
            "category": category,
            "account": account,
            "from": start,
            "to": end,
        }
        return self._send("GET", "/events", params=params)

    def event(self, expense_id: int) -> dict:
        return self._send("GET", f"/events/{int(expense_id)}")

    def feedback(self, expense_id: int, label: str) -> dict:
        """``label`` is "legit" (this is fine) or "fraud" (confirmed)."""
        return self._send("POST", f"/events/{int(expense_id)}/feedback", json={"label": label})

    def stats(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        currency: str | None = None,
    ) -> dict:
        return self._send("GET", "/stats", params={"from": start, "to": end, "currency": currency})

    # -- alerts, rules, budgets, webhooks, notification settings (docs/alerts.md) -------------

    def alerts(
        self,
        limit: int = 50,
        *,
        state: str | None = None,
        source: str | None = None,
        severity: str | None = None,
        before_id: int | None = None,
    ) -> list[dict]:
        """Newest first; ``state`` "open" or "acked", ``source`` "model", "rule" or "budget"."""
        params = {"limit": limit, "state": state, "source": source, "severity": severity,
                  "before_id": before_id}  # fmt: skip
        return self._send("GET", "/alerts", params=params)

    def alert(self, alert_id: int) -> dict:
        return self._send("GET", f"/alerts/{int(alert_id)}")

    def alert_summary(self) -> dict:
        """``{"open": n, "open_by_severity": {...}}``."""
        return self._send("GET", "/alerts/summary")

    def ack_alert(self, alert_id: int) -> dict:
        return self._send("POST", f"/alerts/{int(alert_id)}/ack")

    def rules(self) -> list[dict]:
        return self._send("GET", "/rules")

    def add_rule(self, rule: dict) -> dict:
        return self._send("POST", "/rules", json=rule)

    def update_rule(self, rule_id: int, changes: dict) -> dict:
        return self._send("PATCH", f"/rules/{int(rule_id)}", json=changes)

    def delete_rule(self, rule_id: int) -> None:
        self._send("DELETE", f"/rules/{int(rule_id)}")

    def budgets(self, month: str | None = None) -> list[dict]:
        """Each with the month's ``spent``, ``left`` and ``percent``."""
        return self._send("GET", "/budgets", params={"month": month})

    def add_budget(self, budget: dict) -> dict:
        return self._send("POST", "/budgets", json=budget)

    def update_budget(self, budget_id: int, limit: Any) -> dict:
        return self._send("PATCH", f"/budgets/{int(budget_id)}", json={"limit": str(limit)})

    def delete_budget(self, budget_id: int) -> None:
        self._send("DELETE", f"/budgets/{int(budget_id)}")

    def webhooks(self) -> list[dict]:
        return self._send("GET", "/webhooks")

    def add_webhook(self, webhook: dict) -> dict:
        """Returns the webhook with its signing ``secret`` (shown only this once)."""
        return self._send("POST", "/webhooks", json=webhook)

    def test_webhook(self, webhook_id: int) -> dict:
        return self._send("POST", f"/webhooks/{int(webhook_id)}/test")

    def me(self) -> dict:
        return self._send("GET", "/me")

    def update_me(self, changes: dict) -> dict:
        return self._send("PATCH", "/me", json=changes)

    # -- plumbing ------------------------------------------------------------------------------

    def _headers(self, auth: bool, idempotency_key: str | None) -> dict:
        headers = {"Accept-Language": self.lang}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _refresh_if_expiring(self) -> None:
        if self._credentials and time.monotonic() > self._token_expires - REFRESH_MARGIN_S:
            self.login(*self._credentials)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        data: dict | None = None,
        auth: bool = True,
        idempotency_key: str | None = None,
    ) -> Any:
        if auth:
            self._refresh_if_expiring()
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        # A POST is only repeated when a key makes the repeat harmless.
        retryable = method == "GET" or idempotency_key is not None or path == "/token"
        attempt, relogged = 0, False
        while True:
            try:
                return self._once(
                    method, path, clean, json, data, self._headers(auth, idempotency_key)
                )
            except AuthError:
                if auth and self._credentials and not relogged:
                    relogged = True
                    self.login(*self._credentials)
                    continue
                raise
            except (ApiUnreachable, ServerError) as exc:
                retry_ok = isinstance(exc, ApiUnreachable) or exc.status in RETRY_STATUSES
                if not (retryable and retry_ok) or attempt >= self.retries:
                    raise
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                if isinstance(exc, RateLimited):
                    if exc.retry_after > self.max_backoff:
                        raise
                    delay = max(delay, exc.retry_after)
                attempt += 1
                if self.on_retry:
                    self.on_retry(attempt, exc, delay)
                time.sleep(delay)

    def _once(self, method, path, params, json, data, headers) -> Any:
        url = self.base_url + path
        try:
            response = self._http.request(
                method, url, params=params, json=json, data=data, headers=headers
            )
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"API unreachable at {self.base_url} ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            raise _error_for(response)
        if not response.content:
            return None
        return response.json()


def chunked(items: Iterable[dict], size: int, max_bytes: int | None = None) -> Iterable[list[dict]]:
    """Successive lists of at most ``size`` items (for ``post_events``), each under
    ``max_bytes`` as a JSON body when given (an item over it alone goes alone: the API says why).

    Callers pass their wish; :func:`batches` keeps it within this deployment's limits."""
    chunk: list[dict] = []
    used = 2  # the brackets
    for item in items:
        # json.dumps' default (spaces, ASCII escapes) is never shorter than what is sent
        cost = len(json.dumps(item)) + 1
        if chunk and max_bytes is not None and used + cost > max_bytes:
            yield chunk
            chunk, used = [], 2
        chunk.append(item)
        used += cost
        if len(chunk) == size:
            yield chunk
            chunk, used = [], 2
    if chunk:
        yield chunk


def batches(items: Iterable[dict], size: int) -> Iterable[list[dict]]:
    """:func:`chunked` within the API's limits on a batch (``VIGILANTE_MAX_BATCH`` expenses,
    ``VIGILANTE_MAX_BODY_BYTES``), read from the configuration the API shares."""
    settings = get_settings()
    return chunked(items, min(size, settings.max_batch), settings.max_body_bytes)


# -- the demo account `make run` creates --------------------------------------------------------

DEMO_CREDENTIALS_FILE = "demo_credentials.json"
# Set by `make run` (vigilante/launcher.py), which binds the apps to this machine only: their
# login form may then come filled in with the demo account it created.
DEMO_CREDENTIALS_ENV = "VIGILANTE_DEMO_CREDENTIALS"


def demo_credentials_path(data_dir: Path | None = None) -> Path:
    return Path(data_dir or get_settings().data_dir) / DEMO_CREDENTIALS_FILE


def read_demo_credentials(path: Path | None = None) -> tuple[str, str] | None:
    """(username, password) of the demo account, if ``make run`` created one here."""
    path = Path(path or demo_credentials_path())
    try:
        found = json.loads(path.read_text())
        return str(found["username"]), str(found["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_demo_credentials(username: str, password: str, path: Path | None = None) -> Path:
    """Kept readable by the owner only (mode 600), like the generated secret key."""
    path = Path(path or demo_credentials_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"username": username, "password": password}, f)
    os.chmod(path, 0o600)
    return path
