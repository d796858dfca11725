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
    func,
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
# "Ana" and "ana" are one account (migration 0005).
Index("ux_users_username_lower", func.lower(users.c.username), unique=True)

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

# -- Alerts (docs/alerts.md): rules and budgets a person writes, the alert feed, where alerts
# are delivered, and the worker's per-user cursor over stored expenses.

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("enabled", Boolean, nullable=False),
    # What the kind needs (amounts in cents, lists, hours); see vigilante/alerts/rules.py.
    Column("params", JSON, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_alert_rules_user_id", "user_id", "id"),
)

budgets = Table(
    "budgets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The spender's spelling; "" = every category (the overall budget).
    Column("category", String(64), nullable=False),
    # Case-folded category: one budget per category whatever its spelling.
    Column("category_key", String(256), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("limit_cents", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    UniqueConstraint("user_id", "category_key", "currency", name="uq_budgets_user_category"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(8), nullable=False),  # model | rule | budget
    Column("rule_id", BigId, ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True),
    Column("budget_id", BigId, ForeignKey("budgets.id", ondelete="SET NULL"), nullable=True),
    # Hits with the same key close in time join one alert (no storms).
    Column("group_key", String(400), nullable=False),
    # Budget crossings: at most one alert per budget, month and threshold.
    Column("dedupe_key", String(200), nullable=True),
    Column("severity", String(8), nullable=False),
    Column("state", String(8), nullable=False),  # open | acked
    # What raised it, as it was then (rule name and kind, budget limit), and why, with numbers.
    Column("cause", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("account", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("hits", Integer, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("expense_ids", JSON, nullable=False),  # the first 100
    Column("first_expense_id", BigInteger, nullable=True),
    Column("last_expense_id", BigInteger, nullable=True),
    Column("first_occurred_ms", BigInteger, nullable=False),
    Column("last_occurred_ms", BigInteger, nullable=False),
    Column("last_received_ms", BigInteger, nullable=False),
    Column("period", String(7), nullable=True),  # budget month, YYYY-MM
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("acked_ms", BigInteger, nullable=True),
    Index("ix_alerts_user_id", "user_id", "id"),
    Index("ix_alerts_user_state_id", "user_id", "state", "id"),
    Index("ix_alerts_user_group", "user_id", "group_key", "state"),
    UniqueConstraint("user_id", "dedupe_key", name="uq_alerts_user_dedupe_key"),
)

alert_cursors = Table(
    "alert_cursors",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    # Every expense of the user with an id up to this one has been evaluated.
    Column("last_expense_id", BigInteger, nullable=False),
    # The worker evaluating this user now, and until when its claim holds.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("lang", String(5), nullable=True),  # NULL = the server's VIGILANTE_LANG
    Column("email_min_severity", String(8), nullable=False),  # low | medium | high | off
    Column("daily_digest", Boolean, nullable=False),
    Column("digest_hour", Integer, nullable=True),  # NULL = VIGILANTE_DIGEST_HOUR
    Column("last_digest_ms", BigInteger, nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(200), nullable=True),
    Column("secret", String(128), nullable=False),
    Column("min_severity", String(8), nullable=False),
    Column("format", String(16), nullable=False),  # vigilante | slack | discord
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(500), nullable=True),
    Column("consecutive_failures", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_webhooks_user_id", "user_id", "id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(8), nullable=False),  # webhook | email
    Column("webhook_id", BigId, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=True),
    Column("alert_id", BigId, ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True),
    Column("event", String(32), nullable=False),
    Column("recipient", String(254), nullable=True),
    Column("subject", String(200), nullable=True),
    # The exact body sent on every attempt (a snapshot taken when the delivery was queued).
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    # Due time while pending; pushed ahead while an attempt is in flight (the claim).
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=True),
    Index("ix_deliveries_due", "state", "next_attempt_ms"),
    Index("ix_deliveries_webhook_id", "webhook_id", "id"),
    Index("ix_deliveries_user_id", "user_id", "id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigId, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("response", String(300), nullable=True),
    Index("ix_delivery_attempts_delivery_id", "delivery_id", "id"),
)
