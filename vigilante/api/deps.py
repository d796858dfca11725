"""Dependencies shared by the routes: the app context, the current user, the reply language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
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
LANG_PATTERN = r"^(pt-BR|pt|en)$"
LANG_DOC = "Language of reasons: pt-BR (default) or en."

UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="not authenticated: log in at POST /token and send 'Authorization: Bearer <token>'",
    headers={"WWW-Authenticate": "Bearer"},
)
# RFC 6750: a token was sent but cannot be used; the client knows to log in again.
EXPIRED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="the token expired: log in again at POST /token",
    headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
)
INVALID = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="invalid token: log in at POST /token and send 'Authorization: Bearer <token>'",
    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
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
        raise EXPIRED if ctx.tokens.expired(token) else INVALID
    if user_id not in ctx.known_users:
        if not await run_in_threadpool(_user_exists, ctx.engine, user_id):
            raise INVALID
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
        Query(description=LANG_DOC, pattern=LANG_PATTERN),
    ] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    return choose_language(ctx, lang, accept_language)


def choose_language(ctx: AppContext, lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` first; else the most preferred language of ``Accept-Language`` that we speak
    ("fr-FR,fr;q=0.9,en;q=0.8" -> English); else the deployment's."""
    if not (lang or accept_language):  # most API clients send neither (every POST /event)
        return ctx.settings.lang
    choices, refused = ([lang.lower()], []) if lang else _by_preference(accept_language or "")
    for choice in choices:
        if choice.startswith("en"):
            return "en"
        if choice.startswith("pt"):
            return "pt-BR"
    default = ctx.settings.lang
    if any(default.lower().startswith(tag[:2]) for tag in refused):  # "pt;q=0, *"
        return "en" if default != "en" else "pt-BR"
    return default


def _by_preference(header: str) -> tuple[list[str], list[str]]:
    """Language tags of an ``Accept-Language`` header, lower-case, most wanted first (ties keep
    the header's order); and those it refuses (q=0)."""
    weighted, refused = [], []
    for position, part in enumerate(header.split(",")[:20]):  # (a header is short; bounded)
        tag, _, params = part.strip().lower().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            weighted.append((-q, position, tag))
        elif tag and tag != "*":
            refused.append(tag)
    return [tag for _, _, tag in sorted(weighted)], refused


Lang = Annotated[str, Depends(reply_language)]
