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

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigilante.api.callers import _KEY
from vigilante.api.deps import AppContext, choose_language
from vigilante.api.responses import FastJSONResponse
from vigilante.schemas import ExpenseIn

_ONE = TypeAdapter(ExpenseIn)
_MANY = TypeAdapter(list[ExpenseIn])
_PATHS = {"/event": True, "/events": False}  # path -> single


class IngestFastPath:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        single = _PATHS.get(scope.get("path")) if scope["type"] == "http" else None
        if single is None or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        body, receive = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body: no one to answer
        ctx: AppContext = scope["app"].state.ctx
        taken = _take(ctx, scope, body, single)
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
        else:
            response = FastJSONResponse(out[0] if single else out, status_code=201)
        await response(scope, receive, send)


def _take(ctx: AppContext, scope: Scope, body: bytes, single: bool):
    """(user, expenses, language, key) when this request is the common case; else None."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:  # lower-case names (ASGI)
        headers.setdefault(name, value)  # a repeated name: the first one, as Starlette reads it
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


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None if the client left), and a ``receive`` that hands it on again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _handler_for(app, exc: Exception):
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is not Exception and cls in handlers:
            return handlers[cls]
    return None
