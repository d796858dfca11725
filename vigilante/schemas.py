"""Request and response models: the API's public contract.

Money arrives as a decimal (a JSON number, or a string such as "12.34", which is accepted so
that clients that keep money as text need not convert it) with at most two decimal places, and
is stored as integer cents. NaN and Infinity are refused. Unknown fields are refused too, so a
body can never set ``id``, ``score`` or any other server-owned field.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from vigilante.currencies import ISO_4217


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def clean_filter(value: str | None) -> str | None:
    """A filter compares with stored text, so it is normalised the same way (and PostgreSQL
    refuses a NUL byte in a parameter: it gets a 422 here rather than a 500 there)."""
    return None if value is None else _clean_text(value)


def _currency(value: str) -> str:
    value = value.upper()
    if value not in ISO_4217:
        raise ValueError("must be an ISO 4217 currency code such as BRL, USD or EUR")
    return value


def _bounded_text(max_length: int, min_length: int = 0):
    def check(value: str) -> str:
        if len(value) < min_length:
            raise ValueError(f"must have at least {min_length} character(s)")
        if len(value) > max_length:
            raise ValueError(f"must have at most {max_length} characters")
        return value

    return Annotated[
        str,
        StringConstraints(max_length=max_length * 4),
        AfterValidator(_clean_text),
        AfterValidator(check),
    ]


Amount = Annotated[
    Decimal,
    Field(gt=0, le=Decimal(1_000_000_000), decimal_places=2, allow_inf_nan=False),
]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3), AfterValidator(_currency)]
Category = _bounded_text(64, 1)
Merchant = _bounded_text(128)
Description = _bounded_text(500)
Account = _bounded_text(64)
ExternalId = _bounded_text(255, 1)
Severity = Literal["none", "low", "medium", "high"]


class ExpenseIn(BaseModel):
    """One expense as a client sends it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 42.50,
                    "category": "alimentação",
                    "merchant": "Padaria",
                    "occurred_at": "2026-03-02T12:30:00-03:00",
                    "account": "cartão-1234",
                }
            ]
        },
    )

    amount: Amount = Field(description="Amount spent, > 0, at most 2 decimal places.")
    currency: Currency | None = Field(default=None, description="ISO 4217; default from settings.")
    category: Category = Field(description="1–64 characters, any language.")
    merchant: Merchant | None = None
    description: Description | None = None
    occurred_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with an offset; default now. Stored in UTC."
    )
    account: Account | None = Field(
        default=None, description="The card, employee or person who spent (optional)."
    )
    external_id: ExternalId | None = Field(
        default=None,
        description="The bank's own transaction id: an expense with a known id is stored once.",
    )


class Reason(BaseModel):
    code: str
    message: str


class ExpenseOut(BaseModel):
    """A stored, scored expense."""

    id: int
    amount: float
    currency: str
    category: str
    merchant: str | None
    description: str | None
    occurred_at: datetime
    account: str | None
    external_id: str | None
    received_at: datetime
    score: float = Field(ge=0, le=1, description="0–1, higher = more anomalous.")
    is_anomaly: bool
    severity: Severity
    reasons: list[Reason]
    model_version: str
    feedback: Literal["legit", "fraud"] | None


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Literal["legit", "fraud"] = Field(
        description='"legit" dismisses the alert ("this is fine"); "fraud" confirms it.'
    )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[
        str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    ]
    password: Annotated[str, StringConstraints(max_length=4096)]


class UserPublic(BaseModel):
    id: int
    username: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class CategoryStats(BaseModel):
    category: str
    total: float
    count: int
    anomalies: int


class DayStats(BaseModel):
    day: str
    total: float
    count: int
    anomalies: int


class Stats(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    currency: str
    total: float
    count: int
    anomalies: int
    anomaly_rate: float
    last_event_at: datetime | None
    by_category: list[CategoryStats]
    by_day: list[DayStats]

    model_config = ConfigDict(populate_by_name=True)


class ModelInfo(BaseModel):
    version: str
    trained_at: datetime
    samples: int
    threshold: float
    alert_rate: float = Field(description="Target share of your expenses flagged.")
    kind: str


class AlertRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert_rate: float | None = Field(
        gt=0, lt=0.5, allow_inf_nan=False, description="0 < rate < 0.5; null = the default."
    )


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    model: str
