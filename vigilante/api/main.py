"""create_app(): settings -> database -> detector -> routes. ``app.py`` calls it."""

from __future__ import annotations

import gc
import logging
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

import vigilante
from models import detector, evidence, explain, features, forest
from models.priors import PRIORS_CURRENCY
from vigilante.alerts.worker import AlertWorker
from vigilante.api import errors
from vigilante.api.deps import AppContext
from vigilante.api.fastpath import IngestFastPath
from vigilante.api.limits import BodySizeLimit, SecurityHeaders
from vigilante.api.routes import alerts as alerts_routes
from vigilante.api.routes import (
    budgets,
    events,
    feedback,
    me,
    rules,
    stats,
    system,
    users,
    webhooks,
)
from vigilante.config import Settings, get_settings
from vigilante.db import create_db_engine, is_sqlite, write_transaction
from vigilante.detection import DetectorService
from vigilante.history import HistoryCache
from vigilante.migrate import prepare as prepare_schema
from vigilante.security import hash_password, load_secret_key
from vigilante.service import Ingestor, now_ms
from vigilante.tables import users as users_table
from vigilante.throttle import LoginThrottle
from vigilante.trainer import shared_trainer

log = logging.getLogger("vigilante")

DESCRIPTION = """Receives expenses, scores each against its spender's own history, and explains
which ones look wrong. Log in with `POST /token`, then send `Authorization: Bearer <token>`."""


def _local_user(engine, username: str) -> int:
    """The single user every request acts as when auth is off (created by the first worker)."""
    query = select(users_table.c.id).where(users_table.c.username == username)
    try:
        with write_transaction(engine) as conn:
            found = conn.execute(query).scalar()
            if found is not None:
                return found
            # No password can log in as this user: the hash is of a random, discarded secret.
            return conn.execute(
                insert(users_table)
                .values(
                    username=username,
                    password_hash=hash_password(secrets.token_urlsafe(32)),
                    created_ms=now_ms(),
                )
                .returning(users_table.c.id)
            ).scalar_one()
    except IntegrityError:  # another worker created it first (PostgreSQL)
        with engine.connect() as conn:
            return conn.execute(query).scalar_one()


def build_context(settings: Settings) -> AppContext:
    if forest.BACKEND != "c":
        log.warning(
            "models/_walk.so is not built: the forest is walked with numpy (same scores, "
            "~40 µs more per expense); build it with `make models/_walk.so`"
        )
    python = [m.__name__ for m in (features, evidence, detector, explain) if not m.COMPILED]
    if python:
        log.warning(
            "%s run as Python, not compiled (same scores, about twice the CPU per expense); "
            "`make` compiles them when Cython and a C compiler are there",
            ", ".join(python),
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret_key = load_secret_key(settings)
    engine = create_db_engine(settings)
    if settings.secret_key is None and not is_sqlite(engine):
        log.warning(
            "VIGILANTE_SECRET_KEY is not set: tokens are signed with the key in %s/secret_key, "
            "which only this host has; with several API hosts, set the same key on each",
            settings.data_dir,
        )
    try:
        prepare_schema(engine, settings.migrate_on_start)
    except Exception:
        engine.dispose()
        raise
    detectors = DetectorService(
        engine,
        settings.retrain_every,
        settings.min_train_samples,
        shared_trainer(
            settings.train_in == "process", settings.trainer_idle_seconds, settings.trainer_nice
        ),
    )
    detectors.flatten_stored_versions_in_background()
    ingestor = Ingestor(
        engine=engine,
        detectors=detectors,
        histories=HistoryCache(settings.timezone, settings.currency == PRIORS_CURRENCY),
        currency=settings.currency,
        max_future_minutes=settings.max_future_minutes,
        idempotency_ttl_ms=settings.idempotency_hours * 3_600_000,
        default_alert_rate=settings.alert_rate,
    )
    throttle = LoginThrottle(
        engine,
        window_s=settings.login_window_seconds,
        max_failures=settings.login_max_failures,
        max_failures_account=settings.login_max_failures_account,
        max_failures_address=settings.login_max_failures_address,
        slow_after=settings.login_slow_after,
        delay_ms=settings.login_delay_ms,
        delay_max_ms=settings.login_delay_max_ms,
    )
    ctx = AppContext(settings, engine, secret_key, detectors, ingestor, throttle=throttle)
    if not settings.auth_enabled:
        ctx.local_user_id = _local_user(engine, settings.local_username)
    return ctx


def tune_gc() -> None:
    """Garbage collection for a long-running server process (not for tests).

    Measured under load: with the defaults, the cycle collector took ~2 s of every 10 s of
    ingest CPU (330 µs a request), mostly full collections walking the ~240,000 objects that
    numpy, scikit-learn and SQLAlchemy create at import. Freezing what exists once the app is
    built takes those out of every later collection, and larger thresholds make collections
    rarer; reference counting still frees everything that is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    ctx = build_context(settings)
    alert_worker = AlertWorker(ctx.engine, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.alerts_worker == "on":
            alert_worker.start()
        yield
        alert_worker.stop()
        ctx.ingestor.close()
        ctx.detectors.wait(timeout=30)
        ctx.engine.dispose()

    app = FastAPI(
        title="Vigilante de Gastos",
        version=vigilante.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.alerts = alert_worker
    errors.install(app)
    for router in (users.router, events.router, feedback.router, stats.router, system.router):
        app.include_router(router)
    for router in (alerts_routes.router, rules.router, budgets.router, webhooks.router, me.router):
        app.include_router(router)
    errors.document(app)
    # Added last = outermost: the body limit answers before anything reads the body, and every
    # answer (413s and CORS preflights included) carries the security headers.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Accept-Language"],
        expose_headers=["Retry-After"],
        allow_credentials=False,  # bearer tokens, no cookies
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # Outermost of ours: the everyday POST /event and /events skip the rest, FastAPI included.
    app.add_middleware(IngestFastPath, max_bytes=settings.max_body_bytes)
    return app
