"""Request and response models of rules, budgets, alerts, webhooks and notification settings.

Amounts are decimals in the API (like expenses) and integer cents in the database. Bodies
refuse unknown fields. What pydantic cannot say (a rule that can never match, a field its kind
does not use) is checked in :mod:`vigilante.alerts.rules`, answered with the same 422 shape.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vigilante.schemas import Account, Amount, Category, Currency, Merchant, _bounded_text

AlertSeverity = Literal["low", "medium", "high"]
RuleKind = Literal[
    "amount_over", "blocked_merchant", "blocked_category", "weekend", "night", "frequency"
]
Name = _bounded_text(64, 1)
Hour = Annotated[int, Field(ge=0, le=23)]


class _RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = Field(
        default=None, description="amount_over: fires above it; weekend/night: only above it."
    )
    currency: Currency | None = Field(
        default=None, description="Of `amount`; default VIGILANTE_CURRENCY."
    )
    category: Category | None = Field(default=None, description="Only expenses in it.")
    merchant: Merchant | None = Field(
        default=None, description="Only merchants whose name contains it (any case)."
    )
    account: Account | None = Field(default=None, description="Only this card or spender.")
    merchants: list[Annotated[Merchant, Field(min_length=1)]] | None = Field(
        default=None, max_length=50, description="blocked_merchant: names contained (any case)."
    )
    categories: list[Category] | None = Field(
        default=None, max_length=50, description="blocked_category: categories (any case)."
    )
    start_hour: Hour | None = Field(default=None, description="night: local hour it starts (22).")
    end_hour: Hour | None = Field(default=None, description="night: local hour it ends (6).")
    count: int | None = Field(default=None, ge=1, le=10_000, description="frequency: more than N")
    minutes: int | None = Field(default=None, ge=1, le=1440, description="frequency: within M")


class RuleIn(_RuleFields):
    """A rule: what it watches (``kind`` and its fields), its name, severity and on/off."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Big purchase", "kind": "amount_over", "amount": 500, "severity": "high"},
                {"name": "No bets", "kind": "blocked_merchant", "merchants": ["bet", "cassino"]},
                {"name": "Card testing", "kind": "frequency", "count": 5, "minutes": 10},
            ]
        },
    )
    name: Name
    kind: RuleKind
    severity: AlertSeverity = "medium"
    enabled: bool = True


class RulePatch(_RuleFields):
    """Change some fields of a rule (send null to clear an optional one); the kind stays."""

    name: Name | None = None
    severity: AlertSeverity | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: int
    name: str
    kind: RuleKind
    severity: AlertSeverity
    enabled: bool
    amount: float | None = None
    currency: str | None = None
    category: str | None = None
    merchant: str | None = None
    account: str | None = None
    merchants: list[str] | None = None
    categories: list[str] | None = None
    start_hour: int | None = None
    end_hour: int | None = None
    count: int | None = None
    minutes: int | None = None
    created_at: datetime
    updated_at: datetime


class BudgetIn(BaseModel):
    """A monthly budget for one category, or for all of them (``category`` null)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"category": "mercado", "limit": 1200}, {"limit": 5000}]},
    )
    category: Category | None = Field(default=None, description="null: every category.")
    limit: Amount = Field(description="Per calendar month (local time), > 0.")
    currency: Currency | None = Field(default=None, description="Default VIGILANTE_CURRENCY.")


class BudgetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: Amount


class BudgetOut(BaseModel):
    id: int
    category: str | None
    currency: str
    limit: float
    month: str = Field(description="YYYY-MM, local time")
    spent: float
    left: float = Field(description="May be negative: over budget by that much.")
    percent: float
    created_at: datetime
    updated_at: datetime


class AlertReason(BaseModel):
    code: str
    message: str
    params: dict


class AlertOut(BaseModel):
    """One alert: what raised it (``cause``), why (``reasons``, with numbers), and on what."""

    id: int
    source: Literal["model", "rule", "budget"]
    severity: AlertSeverity
    state: Literal["open", "acked"]
    title: str
    cause: dict
    reasons: list[AlertReason]
    account: str | None
    currency: str
    count: int = Field(description="Expenses grouped in this alert (a burst is one alert).")
    amount: float = Field(description="Their total.")
    expense_id: int | None = Field(description="The latest expense; null for none.")
    expense_ids: list[int]
    first_at: datetime
    last_at: datetime
    period: str | None = Field(description="Budget alerts: the month, YYYY-MM.")
    created_at: datetime
    updated_at: datetime
    acked_at: datetime | None


class AlertSummary(BaseModel):
    open: int
    open_by_severity: dict[str, int]


WebhookFormat = Literal["vigilante", "slack", "discord"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://example.com/hooks/vigilante", "min_severity": "medium"}]
        },
    )
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    description: _bounded_text(200) | None = None
    min_severity: AlertSeverity = "medium"
    format: WebhookFormat = Field(
        default="vigilante",
        description="vigilante: the full JSON; slack: {text}; discord: {content}.",
    )


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    description: _bounded_text(200) | None = None
    min_severity: AlertSeverity | None = None
    format: WebhookFormat | None = None
    enabled: bool | None = Field(default=None, description="true re-enables a disabled webhook.")


class WebhookOut(BaseModel):
    id: int
    url: str
    description: str | None
    min_severity: AlertSeverity
    format: WebhookFormat
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery. Shown only now: keep it.")


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    event: str
    alert_id: int | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut]


class TestResult(BaseModel):
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value) or not value.isprintable():
        raise ValueError("must be an e-mail address like ana@example.com")
    return value


Email = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_email)]


class MeOut(BaseModel):
    id: int
    username: str
    email: str | None
    lang: Literal["pt-BR", "en"]
    email_min_severity: Literal["low", "medium", "high", "off"]
    daily_digest: bool
    digest_hour: int


class MePatch(BaseModel):
    """Notification settings; send ``"email": null`` to stop all e-mail."""

    model_config = ConfigDict(extra="forbid")
    email: Email | None = None
    lang: Literal["pt-BR", "en"] | None = None
    email_min_severity: Literal["low", "medium", "high", "off"] | None = Field(
        default=None, description="Mail at once for alerts of this severity or higher."
    )
    daily_digest: bool | None = None
    digest_hour: Hour | None = Field(default=None, description="Local hour of the digest.")
