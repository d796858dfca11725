"""Schema migrations (Alembic, configured here; scripts in ``vigilante/migrations/versions``).

``make migrate`` (= ``python -m vigilante.migrate``) brings the database named by
``VIGILANTE_DATABASE_URL`` to the newest revision. The API checks the revision at start-up and
refuses to serve an older (or unknown) schema; the embedded SQLite default migrates itself.

Other commands: ``current``, ``sql`` (print the SQL for a DBA), and
``revision "what changed"`` (autogenerate the next migration from ``vigilante/tables.py``).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vigilante.db import create_db_engine, engine_for_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
# Any constant works; it only has to be the same in every process migrating one database.
_PG_LOCK_KEY = 7_262_024_001
_PROCESS_LOCK = threading.Lock()


class SchemaNotReady(RuntimeError):
    """The database is not at the revision this code expects; the message says what to run."""


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction, holding a lock so only one process does it."""
    engine = target if isinstance(target, Engine) else None
    url = make_url(target.url if engine is not None else target)
    if engine is None or url.database not in (None, "", ":memory:"):
        # A connection of our own: SQLite's BEGIN IMMEDIATE comes from engine_for_url.
        engine = engine_for_url(url, poolclass=NullPool)
    try:
        with _PROCESS_LOCK:  # Alembic's `context` is process-global
            _upgrade_locked(engine, revision)
    finally:
        if engine is not target:
            engine.dispose()


def _upgrade_locked(engine: Engine, revision: str) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # SQLite copies a table to alter it; with foreign keys on, dropping the old copy
            # would cascade. The pragma only takes effect outside a transaction.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            conn.execution_options(immediate=True)  # BEGIN IMMEDIATE: the write lock
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                if not MigrationContext.configure(conn).get_current_heads() and inspect(
                    conn
                ).has_table("users"):
                    # Made by create_all before migrations existed: that schema is revision 0001.
                    log.warning("database predates migrations; marking it %s", FIRST_REVISION)
                    command.stamp(cfg, FIRST_REVISION)
                _refuse_unknown(engine, MigrationContext.configure(conn).get_current_heads())
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaNotReady` unless the database is exactly at this code's head."""
    head = head_revision()
    current = current_revisions(engine)
    if current == (head,):
        return
    _refuse_unknown(engine, current)
    raise SchemaNotReady(
        f"the database at {_shown(engine)} is at revision {', '.join(current) or 'none'}, "
        f"this code needs {head}: run `make migrate` (python -m vigilante.migrate) with the same "
        "VIGILANTE_DATABASE_URL, then start the API again"
    )


def _refuse_unknown(engine: Engine, current) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    known = {s.revision for s in script.walk_revisions()}
    if current and not set(current) <= known:
        raise SchemaNotReady(
            f"the database at {_shown(engine)} is at revision {', '.join(current)}, newer than "
            f"this code knows (head {script.get_current_head()}): deploy the newer code, or "
            "downgrade the database with the code that made it"
        )


def prepare(engine: Engine, mode: str) -> None:
    """At start-up: migrate (``on``; ``auto`` = only the embedded SQLite) or check the revision."""
    if mode == "on" or (mode == "auto" and engine.dialect.name == "sqlite"):
        upgrade(engine)
    require_current(engine)


def new_revision(message: str) -> str:
    """Write the next migration, autogenerated by diffing ``tables.py`` against the head schema.

    The head schema is built in a scratch SQLite file, so no database needs to be configured;
    the script uses batch operations, which SQLite needs and PostgreSQL runs as plain ALTERs.
    Read the generated file before committing it: renames show up as a drop plus an add.
    """
    script = ScriptDirectory.from_config(alembic_config())
    rev_id = f"{int(script.get_current_head()) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/head.db")
        try:
            upgrade(f"sqlite:///{tmp}/head.db")
            with engine.begin() as conn:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                slug = "_".join(message.lower().split())[:40]
                cfg.set_main_option("file_template", f"{rev_id}_{slug}")
                found = command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", found.path], check=False)
    return found.path


def main(argv: list[str] | None = None) -> int:
    from vigilante.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m vigilante.migrate", description=__doc__)
    parser.add_argument("action", nargs="?", default="upgrade",
                        choices=["upgrade", "current", "sql", "revision"])  # fmt: skip
    parser.add_argument("message", nargs="?", help="for `revision`: what the migration does")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.action == "revision":
        if not args.message:
            parser.error('revision needs a message, e.g. revision "add login throttle"')
        print(f"wrote {new_revision(args.message)}")
        return 0
    settings = get_settings()
    if args.action == "sql":
        command.upgrade(alembic_config(settings.sqlalchemy_url), "head", sql=True)
        return 0
    engine = create_db_engine(settings)
    try:
        if args.action == "upgrade":
            upgrade(engine)
        current = ", ".join(current_revisions(engine)) or "none"
        print(f"{_shown(engine)}: revision {current} (head {head_revision()})")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
