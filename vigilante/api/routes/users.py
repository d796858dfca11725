"""Sign-up and login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from vigilante.api.deps import Context
from vigilante.schemas import Token, UserCreate, UserPublic
from vigilante.security import (
    create_access_token,
    hash_password,
    password_problem,
    verify_password,
)
from vigilante.service import now_ms
from vigilante.tables import users

router = APIRouter(tags=["users"])

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
        with ctx.engine.begin() as conn:
            user_id = conn.execute(
                insert(users)
                .values(username=body.username, password_hash=password, created_ms=now_ms())
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError:
        raise HTTPException(status_code=409, detail="username already taken") from None
    return {"id": user_id, "username": body.username}


@router.post("/token", response_model=Token, responses={401: {"description": "Bad credentials"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Context):
    """Exchange username and password for a bearer token (OAuth2 password form)."""
    # No username holds a NUL (signup allows [A-Za-z0-9_.@-]), and PostgreSQL refuses one.
    username = "" if "\x00" in form.username else form.username[:64]
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(users.c.id, users.c.password_hash).where(users.c.username == username)
        ).first()
    password = form.password[:4096]
    ok, new_hash = verify_password(password, row.password_hash if row else None)
    if not ok or row is None:
        raise BAD_LOGIN
    if new_hash:  # an old bcrypt hash, or Argon2 parameters that have since been raised
        with ctx.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == row.id).values(password_hash=new_hash))
    token, expires_in = create_access_token(row.id, ctx.secret_key, ctx.settings.token_minutes)
    return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
