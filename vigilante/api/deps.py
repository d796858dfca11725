"""Dependencies shared by the routes: the app context, the current user, the reply language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from vigilante.config import Settings
from vigilante.detection import DetectorService
from vigilante.security import VerifiedTokens
from vigilante.service import Ingestor
from vigilante.tables import users
from vigilante.throttle import LoginThrottle


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    secret_key: bytes
    detectors: DetectorService
    ingestor: Ingestor
    throttle: LoginThrottle | None = None
    local_user_id: int | None = None
    known_users: set[int] = field(default_factory=set)

    def __post_init__(self):
        self.tokens = VerifiedTokens(self.secret_key)


# The dependencies are async on purpose: a sync dependency costs a thread-pool hop per request,
# which on the ingest hot path is more than the work it does.
async def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Context = Annotated[AppContext, Depends(get_context)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)

UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="not authenticated: log in at POST /token and send 'Authorization: Bearer <token>'",
    headers={"WWW-Authenticate": "Bearer"},
)


async def current_user_id(
    ctx: Context, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> int:
    return await authenticate(ctx, token)


async def authenticate(ctx: AppContext, token: str | None) -> int:
    """The user a bearer token speaks for; 401 for a missing, expired or forged token."""
    if not ctx.settings.auth_enabled:
        return ctx.local_user_id
    if not token:
        raise UNAUTHORIZED
    user_id = ctx.tokens.user_id(token)
    if user_id is None:
        raise UNAUTHORIZED
    if user_id not in ctx.known_users:
        if not await run_in_threadpool(_user_exists, ctx.engine, user_id):
            raise UNAUTHORIZED
        ctx.known_users.add(user_id)
    return user_id


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (OAuth2PasswordBearer's rule)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def _user_exists(engine: Engine, user_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is not None


CurrentUser = Annotated[int, Depends(current_user_id)]


async def reply_language(
    ctx: Context,
    lang: Annotated[
        str | None,
        Query(
            description="Language of reasons: pt-BR (default) or en.", pattern=r"^(pt-BR|pt|en)$"
        ),
    ] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    return choose_language(ctx, lang, accept_language)


def choose_language(ctx: AppContext, lang: str | None, accept_language: str | None) -> str:
    choice = lang or (accept_language or "").split(",")[0].strip()
    if choice.lower().startswith("en"):
        return "en"
    if choice.lower().startswith("pt"):
        return "pt-BR"
    return ctx.settings.lang


Lang = Annotated[str, Depends(reply_language)]


# The ingest and list routes are the hot paths: FastAPI resolving their dependencies (context,
# user, language, key) cost about twice a whole trivial request (measured with py-spy under
# load). They take one dependency instead, which reads the same things with the same rules and
# the same 401/422 answers; CALLER_OPENAPI / INGEST_OPENAPI document them as FastAPI would.
LANG_PATTERN = r"^(pt-BR|pt|en)$"
KEY_PATTERN = r"^[\x21-\x7e]+$"
KEY_MAX = 255
_LANG_RE, _KEY_RE = re.compile(LANG_PATTERN), re.compile(KEY_PATTERN)
LANG_DOC = "Language of reasons: pt-BR (default) or en."
KEY_DOC = "Repeat a request safely: the same key returns the first response."


@dataclass(slots=True)
class Caller:
    ctx: AppContext
    user_id: int
    lang: str
    key: str | None = None  # Idempotency-Key (ingest routes only)


async def _caller(request: Request, with_key: bool) -> Caller:
    ctx: AppContext = request.app.state.ctx
    user_id = await authenticate(ctx, bearer_token(request))
    errors = []
    lang = request.query_params.get("lang")
    if lang is not None and not _LANG_RE.match(lang):
        errors.append(_mismatch(("query", "lang"), LANG_PATTERN))
    key = request.headers.get("idempotency-key") if with_key else None
    if key is not None:
        where = ("header", "Idempotency-Key")
        if not key:
            errors.append(
                _error("string_too_short", where, "String should have at least 1 character")
            )
        elif len(key) > KEY_MAX:
            errors.append(
                _error("string_too_long", where, f"String should have at most {KEY_MAX} characters")
            )
        elif not _KEY_RE.match(key):
            errors.append(_mismatch(where, KEY_PATTERN))
    if errors:
        raise RequestValidationError(errors)
    accept = request.headers.get("accept-language")
    return Caller(ctx, user_id, choose_language(ctx, lang, accept), key)


async def reader(request: Request) -> Caller:
    return await _caller(request, with_key=False)


async def ingest_caller(request: Request) -> Caller:
    return await _caller(request, with_key=True)


def _error(kind: str, loc: tuple, message: str) -> dict:
    return {"type": kind, "loc": loc, "msg": message}


def _mismatch(loc: tuple, pattern: str) -> dict:
    return _error("string_pattern_mismatch", loc, f"String should match pattern '{pattern}'")


def _optional_string(description: str, **rules) -> dict:
    return {"anyOf": [{"type": "string", **rules}, {"type": "null"}], "description": description}


_LANG_PARAM = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": _optional_string(LANG_DOC, pattern=LANG_PATTERN) | {"title": "Lang"},
    "description": LANG_DOC,
}
_KEY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": _optional_string(KEY_DOC, minLength=1, maxLength=KEY_MAX, pattern=KEY_PATTERN)
    | {"title": "Idempotency-Key"},
    "description": KEY_DOC,
}
_SECURITY = [{"OAuth2PasswordBearer": []}]
CALLER_OPENAPI = {"security": _SECURITY, "parameters": [_LANG_PARAM]}
INGEST_OPENAPI = {"security": _SECURITY, "parameters": [_LANG_PARAM, _KEY_PARAM]}

Reader = Annotated[Caller, Depends(reader)]
IngestCaller = Annotated[Caller, Depends(ingest_caller)]


def query_model(model: type[BaseModel]):
    """A dependency validating the query string into ``model`` in one pydantic pass.

    FastAPI's own query models still walk each field in Python per request (~100 µs for eight
    fields); errors keep FastAPI's shape (``loc`` starts with "query"), so the 422 names the
    parameter as before. Document the parameters with :func:`query_openapi`.
    """

    async def parse(request: Request):
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
            raise RequestValidationError(errors) from None

    return parse


def query_openapi(model: type[BaseModel]) -> list[dict]:
    """The OpenAPI query parameters of ``model``'s fields (their JSON schemas, by alias)."""
    schema = model.model_json_schema(by_alias=True)
    assert "$defs" not in schema, "query models hold plain fields only"
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]
