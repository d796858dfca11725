"""Detector versions in the database (shared by every host) and training leases.

Revision ID: 0003
Revises: 0002
Created: 2026-11-27 00:13:56.534697
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detector_models",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("user_rows", sa.BigInteger(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("forest", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_detector_models_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detector_models")),
        sa.UniqueConstraint("user_id", "version", name="uq_detector_models_user_version"),
    )
    with op.batch_alter_table("detector_models", schema=None) as batch_op:
        batch_op.create_index("ix_detector_models_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "detector_training",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_detector_training_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_detector_training")),
    )


def downgrade() -> None:
    op.drop_table("detector_training")
    with op.batch_alter_table("detector_models", schema=None) as batch_op:
        batch_op.drop_index("ix_detector_models_user_id_id")

    op.drop_table("detector_models")
