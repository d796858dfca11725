"""Usernames told apart without regard to case: a unique index on lower(username).

It makes "Ana" and "ana" one account atomically (two sign-ups at the same moment cannot both
pass) and gives the case-blind login lookup an index. A database that already holds names
differing only in case (made before this revision) keeps them: the index is then not unique,
a warning names them, and sign-up still refuses new ones.

Revision ID: 0005
Revises: 0004
Created: 2026-11-27 11:40:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("vigilante.migrate")
NAME = "ux_users_username_lower"


def upgrade() -> None:
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(username) FROM users GROUP BY lower(username) HAVING count(*) > 1"
            )
        )
        .scalars()
        .all()
    )
    if clashes:
        log.warning(
            "usernames that differ only in case: %s; each keeps its account, and the index on "
            "lower(username) is not unique until they are renamed",
            ", ".join(sorted(clashes)),
        )
    op.create_index(NAME, "users", [sa.text("lower(username)")], unique=not clashes)


def downgrade() -> None:
    op.drop_index(NAME, table_name="users")
