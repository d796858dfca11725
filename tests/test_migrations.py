"""The schema is made only by migrations, and the migrations make exactly ``tables.py``."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from tests.conftest import BACKENDS, signup_and_login
from vigilante.api import create_app
from vigilante.config import Settings
from vigilante.migrate import (
    SchemaNotReady,
    alembic_config,
    current_revisions,
    head_revision,
    upgrade,
)
from vigilante.tables import metadata


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> str:
    """A database (SQLite file or PostgreSQL schema) with nothing in it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    return request.getfixturevalue("new_postgres_schema")()


@pytest.fixture
def engine(empty_url):
    engine = create_engine(empty_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def test_there_is_one_head():
    # Two heads mean two branches each added a migration: renumber yours on top of the other.
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_migrations_make_exactly_the_tables_in_tables_py(engine):
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # Non-empty: tables.py changed without a migration. Run
    # `python -m vigilante.migrate revision "what changed"` and commit the file it writes.
    assert diff == []


def test_migrations_go_down_and_up_again(engine):
    upgrade(engine)
    from alembic import command

    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert current_revisions(engine) == (head_revision(),)


def test_names_differing_only_in_case_from_before_0005_keep_their_accounts(engine, caplog):
    from sqlalchemy import text

    upgrade(engine, "0004")
    with engine.begin() as conn:
        for name in ("Ana", "ana", "bia"):
            conn.execute(
                text("INSERT INTO users (username, password_hash, created_ms) VALUES (:u, 'x', 0)"),
                {"u": name},
            )
    upgrade(engine)
    assert "usernames that differ only in case: ana" in caplog.text
    with engine.connect() as conn:
        names = conn.execute(text("SELECT username FROM users ORDER BY id")).scalars().all()
    assert names == ["Ana", "ana", "bia"]


def test_a_fresh_database_refuses_a_second_case_of_a_name(engine):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    upgrade(engine)
    insert = text("INSERT INTO users (username, password_hash, created_ms) VALUES (:u, 'x', 0)")
    with engine.begin() as conn:
        conn.execute(insert, {"u": "Ana"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"u": "ana"})  # what two sign-ups at the same moment would do


def test_api_refuses_an_unmigrated_database_and_says_what_to_run(empty_url, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=empty_url,
        migrate_on_start="off",
        _env_file=None,
    )
    with pytest.raises(SchemaNotReady, match="run `make migrate`"):
        create_app(settings)


def test_postgresql_is_never_migrated_behind_the_operators_back(new_postgres_schema, tmp_path):
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL run disabled by VIGILANTE_TEST_BACKENDS")
    url = new_postgres_schema()
    with pytest.raises(SchemaNotReady, match="make migrate"):
        create_app(Settings(data_dir=tmp_path / "data", database_url=url, _env_file=None))


def test_default_sqlite_migrates_itself_and_adopts_a_pre_migration_database(tmp_path):
    from fastapi.testclient import TestClient

    data = tmp_path / "data"
    data.mkdir()
    old = create_engine(f"sqlite:///{data}/vigilante.db")
    # What the API did before migrations existed: create_all of the tables of revision 0001.
    upgrade(old, "0001")
    with old.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    old.dispose()
    with TestClient(create_app(Settings(data_dir=data, _env_file=None))) as client:
        auth = signup_and_login(client)
        r = client.post("/event", json={"amount": 10, "category": "café"}, headers=auth)
        assert r.status_code == 201


def test_api_refuses_a_schema_newer_than_its_code(engine, empty_url, tmp_path):
    from sqlalchemy import text

    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    settings = Settings(data_dir=tmp_path / "data", database_url=empty_url, _env_file=None)
    with pytest.raises(SchemaNotReady, match="newer than this code knows"):
        create_app(settings)
