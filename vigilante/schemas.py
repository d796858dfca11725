"""Request and response models: the API's public contract.

Money arrives as a decimal (a JSON number, or a string such as "12.34", which is accepted so
that clients that keep money as text need not convert it) with at most two decimal places, and
is stored as integer cents. NaN and Infinity are refused. Unknown fields are refused too, so a
body can never set ``id``, ``score`` or any other server-owned field.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from vigilante.currencies import ISO_4217

# Characters a text field refuses (C0/C1 controls, NUL included: it breaks PostgreSQL; the
# bidirectional embeddings, overrides and isolates, which make "Padaria" display as another
# text on the dashboards, as in "Trojan Source") and the blanks trimmed from both ends. Both are
# spelled as regex classes too, so the OpenAPI pattern states exactly what the validator accepts.
_CONTROL = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_BLANK = " \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_BLANK_CHARS = (
    " \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_CHARS = re.compile(f"[{_CONTROL}\ud800-\udfff]")


def _unicode_text(value: str) -> str:
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode text")
    return value


def _currency(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError("must be an ISO 4217 currency code in capitals, such as BRL, USD or EUR")
    return value


def _text_validator(max_length: int, min_length: int):
    def check(value: str) -> str:
        # Length as sent first, so a megabyte string costs nothing more than this comparison.
        if len(value) > max_length:
            raise ValueError(f"must have at most {max_length} characters")
        if _BAD_CHARS.search(value):
            if _SURROGATE.search(value):  # a lone half of a UTF-16 pair, as "\ud800" in JSON
                raise ValueError("must be valid Unicode text")
            raise ValueError("must not contain control characters")
        value = value.strip(_BLANK_CHARS)
        if len(value) < min_length:
            raise ValueError(f"must have at least {min_length} non-blank character(s)")
        normal = unicodedata.normalize("NFC", value)
        # NFC very rarely lengthens a string; keep it as sent rather than pass the limit.
        return normal if len(normal) <= max_length else value

    return check


def _bounded_text(max_length: int, min_length: int = 0):
    pattern = f"^[^{_CONTROL}]*$"
    if min_length:
        pattern = f"^[^{_CONTROL}]*[^{_CONTROL}{_BLANK}][^{_CONTROL}]*$"
    schema = {"type": "string", "maxLength": max_length, "pattern": pattern}
    if min_length:
        schema["minLength"] = min_length
    return Annotated[
        str, AfterValidator(_text_validator(max_length, min_length)), WithJsonSchema(schema)
    ]


# RFC 3339 date-time, what OpenAPI's "format: date-time" means: no bare Unix numbers, no
# missing seconds or offsets. The values themselves are then checked by pydantic.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


_NOT_RFC3339 = "Input should be a date and time with an offset, such as 2026-03-02T12:30:00-03:00"


def _rfc3339(value):
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        message = _NOT_RFC3339
        if isinstance(value, str) and _RFC3339.match(value.replace(" ", "+")):
            # A query string's "+" arrives as a space: every offset east of UTC meets this.
            message += "; in a URL, write the offset's + as %2B"
        raise PydanticCustomError("datetime_parsing", message)
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]

MAX_AMOUNT = 1_000_000_000
CENT = Decimal("0.01")
# "12.34": digits, at most two decimals, > 0 and <= 1,000,000,000; no exponent, sign or spaces.
AMOUNT_PATTERN = r"^([1-9][0-9]{0,8}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?)|1000000000(\.00?)?)$"
_DECIMAL_TEXT = re.compile(r"^-?(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?$")


def _amount_in(value):
    """A JSON number within float noise of a whole cent is that cent; a string must be plain."""
    if isinstance(value, str):
        # A plain signed decimal goes on to the range and decimal-places checks (so "-5" is told
        # "greater than 0"); exponents, spaces, "NaN" and the like are not numbers here.
        if not _DECIMAL_TEXT.match(value):
            raise PydanticCustomError(
                "decimal_parsing", 'Input should be a number or a plain decimal such as "12.34"'
            )
        if "." in value and len(value.rsplit(".", 1)[1]) > 2:  # "1.000" too: as written
            raise PydanticCustomError(
                "decimal_max_places", "Decimal input should have no more than 2 decimal places"
            )
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_AMOUNT:
        cents = round(value * 100)
        # 0.1 + 0.2 arrives as 0.30000000000000004: that is 30 cents, not a third decimal.
        if abs(value * 100 - cents) <= max(1e-6, abs(cents) * 1e-12):
            return Decimal(cents) / 100
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_in),
    Field(gt=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
    # One spelling per amount (42.5, "42.50", 42.50 alike), so equal requests hash alike.
    AfterValidator(lambda value: value.quantize(CENT)),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_AMOUNT,
                    "multipleOf": 0.01,
                },
                {"type": "string", "pattern": AMOUNT_PATTERN},
            ]
        }
    ),
]
Currency = Annotated[
    str, AfterValidator(_currency), WithJsonSchema({"type": "string", "enum": sorted(ISO_4217)})
]
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
    occurred_at: Instant | None = Field(
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


USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[
        str, StringConstraints(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    ]
    password: Annotated[str, StringConstraints(max_length=4096), AfterValidator(_unicode_text)]


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
    other_totals: dict[str, float] = Field(
        default_factory=dict,
        description="Spent in other currencies than `currency`, by code; never converted.",
    )
    count: int
    anomalies: int


class DayStats(BaseModel):
    day: str
    total: float
    other_totals: dict[str, float] = Field(
        default_factory=dict,
        description="Spent in other currencies than `currency`, by code; never converted.",
    )
    count: int
    anomalies: int


class Stats(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    currency: str = Field(description="The currency of every `total`.")
    total: float
    other_totals: dict[str, float] = Field(
        default_factory=dict,
        description="Spent in other currencies than `currency`, by code; never converted.",
    )
    count: int = Field(description="Every expense, whatever its currency.")
    anomalies: int
    anomaly_rate: float
    last_event_at: datetime | None
    by_category: list[CategoryStats]
    by_day: list[DayStats]

    model_config = ConfigDict(populate_by_name=True)


class ModelInfo(BaseModel):
    version: str
    trained_at: datetime | None = Field(
        description="When this version was fitted; null for the built-in prior detector."
    )
    samples: int
    threshold: float
    alert_rate: float = Field(description="Target share of your expenses flagged.")
    kind: str


class AlertRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert_rate: float | None = Field(
        gt=0, lt=0.5, allow_inf_nan=False, description="0 < rate < 0.5; null = the default."
    )


class FeedbackPeriod(BaseModel):
    expenses: int
    alerts: int = Field(description="Expenses flagged as anomalies.")
    reviewed: int = Field(description="Alerts with feedback.")
    dismissed: int = Field(description='Alerts marked "legit" (false positives).')
    confirmed: int = Field(description='Alerts marked "fraud".')
    missed: int = Field(description='Expenses marked "fraud" that were not flagged.')
    false_positive_rate: float | None = Field(description="dismissed / reviewed; null if none.")


class FeedbackBucket(FeedbackPeriod):
    start: str = Field(description="First local day of the period (YYYY-MM-DD).")


class FeedbackStats(FeedbackPeriod):
    from_: datetime = Field(alias="from")
    to: datetime
    bucket: Literal["day", "week"]
    periods: list[FeedbackBucket]

    model_config = ConfigDict(populate_by_name=True)


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    model: str


class EventQuery(BaseModel):
    """The filters of ``GET /events`` (query parameters), validated in one pass."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    limit: int = Field(default=100, ge=1, le=1000)
    before_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    after_id: int | None = Field(default=None, ge=0, le=2**63 - 1)
    anomalies_only: bool = False
    category: Category | None = None
    account: Account | None = None
    start: Instant | None = Field(default=None, alias="from")
    end: Instant | None = Field(default=None, alias="to")
