"""Settings, read once from the environment (prefix ``VIGILANTE_``) and an optional ``.env``.

Every knob a user may want to turn lives here; nothing user-visible is hard-coded elsewhere.
Secrets have no default: the signing key comes from the environment or is generated once and
kept in the data folder (see :mod:`vigilante.security`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    # The project's .env wherever a process starts from (`make run`, `python demo.py` from
    # another folder); one in the folder it starts from, if any, is read after it and wins.
    model_config = SettingsConfigDict(
        env_prefix="VIGILANTE_",
        env_file=(PROJECT_ROOT / ".env", ".env"),
        extra="ignore",
        frozen=True,
    )

    # Storage
    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str | None = Field(
        default=None, description="Default: sqlite:///<data_dir>/vigilante.db"
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # auto: the embedded SQLite migrates itself at start-up; any other database must be
    # migrated with `make migrate` first (the API refuses to start on an older schema).
    migrate_on_start: Literal["auto", "on", "off"] = "auto"
    # Connections per worker process (PostgreSQL): workers x hosts x (size + overflow) must stay
    # under the server's max_connections (100 by default), or put PgBouncer in between.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)

    # Security
    secret_key: SecretStr | None = None
    auth: Literal["on", "off"] = "on"
    local_username: str = "local"
    allow_signup: bool = True
    token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    password_min_length: int = Field(default=8, ge=6)
    password_max_bytes: int = Field(default=128, ge=72, le=1024)
    cors_origins: list[str] = [
        "http://localhost:8501",
        "http://127.0.0.1:8501",
        "http://localhost:8502",
        "http://127.0.0.1:8502",
    ]
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Login throttling (see vigilante/throttle.py): failures counted over a sliding window.
    login_window_seconds: int = Field(default=300, ge=1)
    login_max_failures: int = Field(default=5, ge=1, description="One account, one address")
    login_max_failures_account: int = Field(default=20, ge=1, description="One account")
    login_max_failures_address: int = Field(default=50, ge=1, description="One address")
    login_slow_after: int = Field(default=3, ge=0)
    login_delay_ms: int = Field(default=250, ge=0)
    login_delay_max_ms: int = Field(default=2_000, ge=0)

    # Expenses
    currency: str = "BRL"
    max_amount: int = Field(default=1_000_000_000, ge=1, description="In currency units")
    max_batch: int = Field(default=10_000, ge=1)
    max_page: int = Field(default=1_000, ge=1)
    max_future_minutes: int = Field(default=24 * 60, ge=0)
    timezone: str = "America/Sao_Paulo"
    max_stats_days: int = Field(default=3_660, ge=1)
    idempotency_hours: int = Field(
        default=48, ge=24, description="How long an Idempotency-Key is honoured (at least 24 h)"
    )

    # Detection
    alert_rate: float = Field(default=0.03, gt=0, lt=0.5)
    retrain_every: int = Field(default=2_000, ge=50)
    min_train_samples: int = Field(default=500, ge=50)
    train_in: Literal["process", "thread"] = Field(
        default="process",
        description="Fit detectors in a child process (keeps the API's GIL free) or a thread",
    )
    trainer_idle_seconds: float = Field(
        default=120.0, gt=0, description="The trainer process stops after this long without work"
    )
    trainer_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How far below the API process the trainer's CPU priority sits (nice)",
    )

    # UI and clients (dashboard, entry app, demo.py)
    lang: Literal["pt-BR", "en"] = "pt-BR"
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the dashboard, entry app and demo.py find the API",
    )
    refresh_seconds: float = Field(
        default=2.0, ge=0.5, le=3600, description="Dashboard live refresh"
    )

    # Alerts: rules, budgets, webhooks and e-mail (docs/alerts.md)
    alerts_worker: Literal["on", "off"] = Field(
        default="on", description="Run the alert worker in this API process"
    )
    alerts_poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    alerts_batch: int = Field(default=1_000, ge=1, le=100_000)
    alert_group_minutes: int = Field(
        default=60, ge=0, le=7 * 24 * 60, description="Same cause, same spender: one alert"
    )
    max_rules: int = Field(default=100, ge=1)
    max_budgets: int = Field(default=100, ge=1)
    max_webhooks: int = Field(default=10, ge=1)
    webhook_allow_private: bool = Field(
        default=False, description="Allow webhook URLs on loopback/private networks"
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_concurrency: int = Field(default=4, ge=1, le=64)
    webhook_retry_base_seconds: float = Field(default=30.0, ge=0)
    webhook_retry_max_seconds: float = Field(default=3_600.0, ge=0)
    webhook_retry_hours: float = Field(default=24.0, ge=0)
    webhook_disable_after: int = Field(default=10, ge=1, description="Consecutive failures")
    smtp_host: str | None = Field(default=None, description="Unset: no e-mail is sent")
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_from: str = "Vigilante de Gastos <vigilante@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    digest_hour: int = Field(default=8, ge=0, le=23, description="Local hour of the daily digest")

    @field_validator("data_dir")
    @classmethod
    def _in_the_project(cls, value: Path) -> Path:
        """A relative folder (``VIGILANTE_DATA_DIR=data``, as in .env.example) is the
        project's, as the default is: every process finds the same database wherever it runs."""
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("database_url")
    @classmethod
    def _sqlite_in_the_project(cls, value: str | None) -> str | None:
        """``sqlite:///data/vigilante.db`` (relative) is the project's file too, wherever a
        process starts; absolute paths, ``:memory:``, ``file:`` URIs and servers are as given."""
        if not value or not value.startswith("sqlite"):
            return value
        url = make_url(value)
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return value
        if Path(database).is_absolute():
            return value
        return url.set(database=str(PROJECT_ROOT / database)).render_as_string(hide_password=False)

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'vigilante.db'}"

    @property
    def auth_enabled(self) -> bool:
        return self.auth == "on"


@lru_cache
def get_settings() -> Settings:
    return Settings()
