"""Login throttling table (login_failures) and an index to prune old idempotency keys.

Revision ID: 0002
Revises: 0001
Created: 2026-11-27 00:06:02.820486
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_account_at", ["account", "at_ms"], unique=False)
        batch_op.create_index("ix_login_failures_address_at", ["address", "at_ms"], unique=False)
        batch_op.create_index("ix_login_failures_at", ["at_ms"], unique=False)

    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_created", ["created_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created")

    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_at")
        batch_op.drop_index("ix_login_failures_address_at")
        batch_op.drop_index("ix_login_failures_account_at")

    op.drop_table("login_failures")
