"""The ingest routes' everyday request, answered without FastAPI's per-request machinery.

``POST /event`` is the hottest route. Measured in process, FastAPI's routing, request object,
dependency solving, body parsing (``json.loads`` then model validation in Python) and response
handling cost more CPU than a whole trivial request: about as much as the detector itself.
This ASGI middleware answers the common case of ``POST /event`` and ``POST /events`` directly:
a JSON body that validates (pydantic parses and validates the bytes in one pass), a bearer
token already verified by this process, no query string, a well-formed Idempotency-Key if any.

Anything else — a missing or unknown token, a query string, a body that does not validate, a
batch of the wrong size — goes on to the FastAPI route unchanged, with the body replayed, so
errors are exactly the ones FastAPI gives (the fast path never writes an error of its own).
Errors raised while ingesting are answered by the app's own exception handlers. The routes stay
declared in FastAPI, which documents them (OpenAPI) and serves every request not taken here.
"""

from __future__ import annotations

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigilante.api.callers import _KEY
from vigilante.api.deps import AppContext, choose_language
from vigilante.api.limits import SecurityHeaders, declared_too_big
from vigilante.schemas import ExpenseIn

_ONE = TypeAdapter(ExpenseIn)
_MANY = TypeAdapter(list[ExpenseIn])
_PATHS = {"/event": True, "/events": False}  # path -> single


class IngestFastPath:
    """Outermost of the app's own middleware: the common case skips the others too.

    What they would do to this answer, it does itself: the security headers
    (``SecurityHeaders``), ``Vary: Origin`` (Starlette's CORS middleware, for a request without
    an ``Origin``; a request with one goes through CORS), and the body limit (a body over it
    goes on, replayed, to ``BodySizeLimit``, which refuses it as it would have).
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        single = _PATHS.get(scope.get("path")) if scope["type"] == "http" else None
        if single is None or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        if declared_too_big(scope, self.max_bytes):  # BodySizeLimit refuses it unread
            await self.app(scope, receive, send)
            return
        body, receive = await _read_body(receive, self.max_bytes)
        if body is None:  # over the limit (refused further in) or the client left
            await self.app(scope, receive, send)
            return
        ctx: AppContext = scope["app"].state.ctx
        taken = _take(ctx, scope, body, single, self.max_bytes)
        if taken is None:
            await self.app(scope, receive, send)
            return
        user_id, items, lang, key = taken
        try:
            out, _ = await ctx.ingestor.ingest_async(user_id, items, lang, key, single=single)
        except Exception as exc:  # the app's own answer for it (409, 422, ...), or a 500
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, _with_our_headers(send))
            return
        content = orjson.dumps(out[0] if single else out)
        # What FastJSONResponse(content, 201) sends once the middleware has added its headers.
        headers = [(b"content-length", str(len(content)).encode()), *_ANSWER_HEADERS]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": content})


# After content-length: the response's type, CORS's Vary, then the security headers.
_EXTRA_HEADERS = [(b"vary", b"Origin"), *SecurityHeaders.API_HEADERS]
_ANSWER_HEADERS = [(b"content-type", b"application/json"), *_EXTRA_HEADERS]


def _with_our_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name for name, _ in _EXTRA_HEADERS}
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            message["headers"] = kept + _EXTRA_HEADERS
        await send(message)

    return sending


def _take(ctx: AppContext, scope: Scope, body: bytes, single: bool, max_bytes: int):
    """(user, expenses, language, key) when this request is the common case; else None."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:  # lower-case names (ASGI)
        headers.setdefault(name, value)  # a repeated name: the first one, as Starlette reads it
    if b"origin" in headers:  # a browser's request: CORS answers it
        return None
    media_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
    if media_type != b"application/json":  # other JSON types: FastAPI's own rules decide
        return None
    if ctx.settings.auth_enabled:
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        user_id = ctx.tokens.user_id(token)
        if user_id is None or user_id not in ctx.known_users:
            return None  # FastAPI's path answers 401, or checks the user once
    else:
        user_id = ctx.local_user_id
    key = headers.get(b"idempotency-key")
    if key is not None:
        key = key.decode("latin-1")
        try:
            _KEY.validate_python(key)
        except ValidationError:
            return None
    try:
        items = [_ONE.validate_json(body)] if single else _MANY.validate_json(body)
    except ValidationError:
        return None
    if not items or len(items) > ctx.settings.max_batch:
        return None
    accept = headers.get(b"accept-language")
    lang = choose_language(ctx, None, accept.decode("latin-1") if accept else None)
    return user_id, items, lang, key


async def _read_body(receive: Receive, max_bytes: int) -> tuple[bytes | None, Receive]:
    """The whole body, or None (over ``max_bytes``, or the client left); and a ``receive``
    that hands on again what was read, then what follows."""
    messages: list[Message] = []
    seen = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        seen += len(message.get("body", b""))
        if seen > max_bytes or not message.get("more_body", False):
            break
    complete = messages[-1]["type"] == "http.request" and not messages[-1].get("more_body")
    if complete and seen <= max_bytes:
        body = b"".join(m.get("body", b"") for m in messages)
        messages = [{"type": "http.request", "body": body, "more_body": False}]
    else:
        body = None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _handler_for(app, exc: Exception):
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is not Exception and cls in handlers:
            return handlers[cls]
    return None
