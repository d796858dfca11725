"""Sign-up and login."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from vigilante.api.deps import Context
from vigilante.db import write_transaction
from vigilante.schemas import Token, UserCreate, UserPublic
from vigilante.security import (
    create_access_token,
    hash_password,
    password_problem,
    verify_password,
)
from vigilante.service import now_ms
from vigilante.tables import users
from vigilante.throttle import TooManyAttempts

router = APIRouter(tags=["users"])

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,64}$")
MAX_PASSWORD_CHARS = 4096

TAKEN = HTTPException(status_code=409, detail="username already taken")
BAD_LOGIN = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="incorrect username or password",
    headers={"WWW-Authenticate": "Bearer"},
)


@router.post(
    "/users",
    status_code=201,
    response_model=UserPublic,
    responses={409: {"description": "Username taken"}},
)
def create_user(body: UserCreate, ctx: Context):
    """Create an account; the password must be 8+ characters and not a common one."""
    if not ctx.settings.allow_signup:
        raise HTTPException(status_code=403, detail="sign-up is disabled on this server")
    problem = password_problem(body.password, body.username, ctx.settings)
    if problem:
        detail = [{"field": "password", "message": problem, "type": "value_error"}]
        raise HTTPException(status_code=422, detail=detail)
    password = hash_password(body.password)
    try:
        # The write lock up front: on SQLite a read that turns into a write meets a busy
        # database at once instead of waiting its turn.
        with write_transaction(ctx.engine) as conn:
            # "Ana" and "ana" would be two accounts one could pass off as the other.
            if conn.execute(select(users.c.id).where(_same_name(body.username))).first():
                raise TAKEN
            user_id = conn.execute(
                insert(users)
                .values(username=body.username, password_hash=password, created_ms=now_ms())
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError:  # the same name, signed up at the same moment
        raise TAKEN from None
    return {"id": user_id, "username": body.username}


def _same_name(username: str):
    """Usernames are told apart without regard to case (they are ASCII: see USERNAME)."""
    return func.lower(users.c.username) == username.lower()


def client_address(request: Request) -> str:
    """The peer's address; behind a proxy run uvicorn with --proxy-headers so this is the client."""
    return request.client.host if request.client else "unknown"


def _check_password(ctx: Context, username: str, password: str) -> int | None:
    """The user id when the password is right (upgrading an outdated hash), else None."""
    row = None
    # A name no account can have (NUL bytes, megabytes) is never sent to the database; the
    # dummy hash is still checked so the answer takes as long as for a real account.
    if USERNAME.match(username):
        with ctx.engine.connect() as conn:
            # Any case logs in; an account made before names were told apart case-blind, and
            # sharing this one's letters, is found by its exact spelling first.
            row = conn.execute(
                select(users.c.id, users.c.password_hash)
                .where(_same_name(username))
                .order_by(case((users.c.username == username, 0), else_=1), users.c.id)
            ).first()
    ok, new_hash = verify_password(
        password[:MAX_PASSWORD_CHARS], row.password_hash if row else None
    )
    if not ok or row is None:
        return None
    if new_hash:  # an old bcrypt hash, or Argon2 parameters that have since been raised
        with ctx.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == row.id).values(password_hash=new_hash))
    return row.id


@router.post(
    "/token",
    response_model=Token,
    responses={
        401: {"description": "Bad credentials"},
        429: {"description": "Too many failed logins"},
    },
)
async def login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Context
):
    """Exchange username and password for a bearer token (OAuth2 password form).

    Repeated failures slow down and then get 429 with Retry-After (per account and per client
    address); a correct login works again once the window has passed.
    """
    throttle = ctx.throttle
    try:
        # Per account whatever the case it is typed in, or "ANA" would be a fresh budget of tries.
        account = form.username.lower()
        attempt = await run_in_threadpool(throttle.begin, account, client_address(request))
    except TooManyAttempts as exc:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed logins: try again in {exc.retry_after_s} s",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    if attempt.delay_s:
        await asyncio.sleep(attempt.delay_s)  # awaited: a slowed attempt holds no thread
    user_id = await run_in_threadpool(_check_password, ctx, form.username, form.password)
    if user_id is None:
        raise BAD_LOGIN
    await run_in_threadpool(throttle.succeeded, attempt)
    token, expires_in = create_access_token(user_id, ctx.secret_key, ctx.settings.token_minutes)
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
