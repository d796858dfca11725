"""Database tables (SQLAlchemy Core). Money is integer cents; instants are UTC epoch milliseconds.

Epoch milliseconds keep time arithmetic (windows, day buckets) identical on SQLite and
PostgreSQL and make the indexes small.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Named constraints, so a later migration can drop or alter them by name on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # Per-user target alert rate; NULL means the configured default.
    Column("alert_rate", Float, nullable=True),
)

expenses = Table(
    "expenses",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("account", String(64), nullable=False, default=""),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("category", String(64), nullable=False),
    Column("merchant", String(128), nullable=True),
    Column("description", String(500), nullable=True),
    Column("occurred_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("external_id", String(255), nullable=True),
    Column("score", Float, nullable=False),
    Column("is_anomaly", Boolean, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("model_version", String(64), nullable=False),
    # The detector's feature row and explicit-evidence strength, kept to retrain on.
    Column("features", LargeBinary, nullable=False),
    Column("evidence", Float, nullable=False),
    Column("feedback", String(8), nullable=True),
    Column("feedback_ms", BigInteger, nullable=True),
    Index("ix_expenses_user_id_id", "user_id", "id"),
    Index("ix_expenses_user_occurred", "user_id", "occurred_ms", "amount_cents", "is_anomaly"),
    Index("ix_expenses_user_account_id", "user_id", "account", "id"),
    Index("ix_expenses_user_category_id", "user_id", "category", "id"),
    Index("ix_expenses_user_anomaly_id", "user_id", "is_anomaly", "id"),
    Index("ix_expenses_user_feedback", "user_id", "feedback_ms"),
    UniqueConstraint("user_id", "external_id", name="uq_expenses_user_external_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # Keys older than the retention period are pruned by this range.
    Index("ix_idempotency_keys_created", "created_ms"),
)

# Login attempts that failed (or are being checked) within the throttling window; pruned.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Index("ix_login_failures_account_at", "account", "at_ms"),
    Index("ix_login_failures_address_at", "address", "at_ms"),
    Index("ix_login_failures_at", "at_ms"),
)

# Fitted detector versions, one row each, shared by every worker and host: a user's newest row
# is the version scoring that user (read inside each ingest transaction).
detector_models = Table(
    "detector_models",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("user_rows", BigInteger, nullable=False),
    # models.store's metadata: library versions, feature schema, calibration.
    Column("meta", JSON, nullable=False),
    Column("forest", LargeBinary, nullable=False),  # the fitted forest, joblib bytes
    Index("ix_detector_models_user_id_id", "user_id", "id"),
    UniqueConstraint("user_id", "version", name="uq_detector_models_user_version"),
)

# Who is fitting a user's next version, until when: retraining happens once across workers.
detector_training = Table(
    "detector_training",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)
