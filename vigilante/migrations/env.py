"""Alembic environment: always run through :mod:`vigilante.migrate`, which hands over a locked
connection (``config.attributes["connection"]``) so concurrent starters never race."""

from __future__ import annotations

from alembic import context

from vigilante.tables import metadata

config = context.config

if context.is_offline_mode():
    # `python -m vigilante.migrate sql`: the SQL a DBA can review and apply by hand.
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode does that and is a no-op elsewhere.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
