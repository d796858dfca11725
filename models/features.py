"""Features of an expense relative to its spender's own past.

A :class:`SpenderHistory` holds what one user's recent expenses say about each account (the
card, employee or person who spent). :meth:`SpenderHistory.features` describes a new expense
against that past only; :meth:`SpenderHistory.add` then folds it in, so a batch scored in order
sees each expense before the next, exactly as live traffic would.

Amounts are compared on a log scale with robust statistics (median and MAD), shrunk towards the
account's, then the user's, then a global prior when there is little history (cold start).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from zoneinfo import ZoneInfo

import numpy as np

FEATURE_NAMES = (
    "amount_z_category",
    "amount_z_account",
    "amount_z_merchant",
    "category_novelty",
    "merchant_novelty",
    "merchant_burst_15m",
    "account_count_1h",
    "duplicate",
    "hour_rarity",
    "recurring",
    "log_amount",
)
FEATURE_SCHEMA = "v1:" + ",".join(FEATURE_NAMES)

# Global priors for a spender with no history: typical expense ~R$ 60, wide spread.
PRIOR_LOG_MEDIAN = math.log(60.0)
PRIOR_LOG_SCALE = 1.0
MIN_SCALE = 0.25  # log units; stops a spender who always pays the same from exploding z
DUPLICATE_WINDOW_MS = 10 * 60_000
BURST_WINDOW_MS = 15 * 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
KEEP_RECENT = 400
KEEP_PER_KEY = 60


@dataclass(slots=True)
class Event:
    """What the detector needs to know of one expense."""

    ts: int  # occurred, epoch ms UTC
    cents: int
    category: str  # case-folded key
    merchant: str  # case-folded key, "" when unknown
    account: str
    id: int = 0
    feedback: str | None = None


@dataclass(slots=True)
class Context:
    """The numbers behind the features, kept for the evidence and the explanations."""

    cents: int
    category: str
    merchant: str
    local_hour: int
    history_size: int
    usual_cents_category: float | None
    ratio_category: float
    z_category: float
    z_account: float
    z_merchant: float
    category_novel: bool
    merchant_novel: bool
    merchant_burst: int
    burst_minutes: float
    burst_max_cents: int
    count_1h: int
    duplicate_of_ms: int | None
    active_hours: tuple[int, int] | None
    hour_rarity: float
    recurring: bool
    dismissed_similar: int
    confirmed_similar: int


def robust_center(values, prior_center: float, prior_scale: float, prior_weight: float = 5.0):
    """Median and MAD-based scale of log amounts, shrunk towards a prior when data are few."""
    n = len(values)
    if n == 0:
        return prior_center, prior_scale
    med = median(values)
    mad = median(abs(v - med) for v in values) * 1.4826 if n >= 3 else prior_scale
    w = n / (n + prior_weight)
    center = w * med + (1 - w) * prior_center
    scale = w * max(mad, MIN_SCALE) + (1 - w) * prior_scale
    return center, max(scale, MIN_SCALE)


@dataclass
class AccountHistory:
    recent: deque = field(default_factory=lambda: deque(maxlen=KEEP_RECENT))
    by_category: dict = field(default_factory=dict)  # key -> deque[log amount]
    by_merchant: dict = field(default_factory=dict)  # key -> deque[(ts, cents)]
    hours: list = field(default_factory=lambda: [0] * 24)
    logs: deque = field(default_factory=lambda: deque(maxlen=KEEP_RECENT))
    n: int = 0


class SpenderHistory:
    """The recent past of one user, per account, updated one expense at a time."""

    def __init__(self, tz: str = "America/Sao_Paulo"):
        self.tz = ZoneInfo(tz)
        self.accounts: dict[str, AccountHistory] = {}
        self.user_logs: deque = deque(maxlen=KEEP_RECENT * 4)
        self.user_by_category: dict = {}
        self.last_id = 0
        self.feedback: dict[int, str] = {}

    def local_hour(self, ts: int) -> int:
        return datetime.fromtimestamp(ts / 1000, UTC).astimezone(self.tz).hour

    def add(self, ev: Event) -> None:
        acc = self.accounts.get(ev.account)
        if acc is None:
            acc = self.accounts[ev.account] = AccountHistory()
        log_amount = math.log(ev.cents / 100)
        acc.recent.append(ev)
        acc.by_category.setdefault(ev.category, deque(maxlen=KEEP_PER_KEY)).append(log_amount)
        if ev.merchant:
            acc.by_merchant.setdefault(ev.merchant, deque(maxlen=KEEP_PER_KEY)).append(
                (ev.ts, ev.cents)
            )
        acc.hours[self.local_hour(ev.ts)] += 1
        acc.logs.append(log_amount)
        acc.n += 1
        self.user_logs.append(log_amount)
        self.user_by_category.setdefault(ev.category, deque(maxlen=KEEP_PER_KEY)).append(log_amount)
        self.last_id = max(self.last_id, ev.id)

    def features(self, ev: Event) -> tuple[np.ndarray, Context]:
        acc = self.accounts.get(ev.account) or AccountHistory()
        log_amount = math.log(ev.cents / 100)
        hour = self.local_hour(ev.ts)

        # Centre for the whole spender, shrunk to the user, shrunk to the global prior.
        user_c, user_s = robust_center(list(self.user_logs), PRIOR_LOG_MEDIAN, PRIOR_LOG_SCALE)
        acc_c, acc_s = robust_center(list(acc.logs), user_c, user_s)
        cat_hist = acc.by_category.get(ev.category)
        if cat_hist:
            cat_c, cat_s = robust_center(list(cat_hist), acc_c, acc_s, prior_weight=3.0)
        else:
            user_cat = self.user_by_category.get(ev.category)
            base = robust_center(list(user_cat), acc_c, acc_s) if user_cat else (acc_c, acc_s)
            cat_c, cat_s = base
        z_cat = (log_amount - cat_c) / cat_s
        z_acc = (log_amount - acc_c) / acc_s

        merchant_hist = acc.by_merchant.get(ev.merchant) if ev.merchant else None
        if merchant_hist:
            m_logs = [math.log(c / 100) for _, c in merchant_hist]
            m_c, m_s = robust_center(m_logs, cat_c, cat_s, prior_weight=2.0)
            z_merchant = (log_amount - m_c) / m_s
        else:
            z_merchant = 0.0

        established = min(1.0, acc.n / 30)
        category_novel = acc.n > 0 and cat_hist is None
        merchant_novel = bool(ev.merchant) and acc.n > 0 and merchant_hist is None

        # Windows over the account's recent expenses (both sides of ev.ts: replays may interleave).
        count_1h = 0
        burst = 0
        burst_first = ev.ts
        burst_max = ev.cents
        duplicate_of = None
        dismissed = confirmed = 0
        for past in reversed(acc.recent):
            dt = ev.ts - past.ts
            if dt > DAY_MS:
                break
            if -HOUR_MS < dt <= HOUR_MS:
                count_1h += 1
            if past.merchant == ev.merchant and 0 <= dt <= BURST_WINDOW_MS:
                burst += 1
                burst_first = min(burst_first, past.ts)
                burst_max = max(burst_max, past.cents)
                if past.cents == ev.cents and dt <= DUPLICATE_WINDOW_MS and duplicate_of is None:
                    duplicate_of = dt
        for past in acc.recent:
            label = self.feedback.get(past.id) or past.feedback
            similar = past.category == ev.category and past.merchant == ev.merchant
            if label and similar and abs(math.log(past.cents / ev.cents)) < 0.5:
                if label == "legit":
                    dismissed += 1
                else:
                    confirmed += 1

        # Hour of day against this account's own hours (±1 h, smoothed).
        near = acc.hours[hour] + 0.5 * (acc.hours[(hour - 1) % 24] + acc.hours[(hour + 1) % 24])
        expected = (acc.n * 2) / 24
        hour_rarity = 0.0
        if acc.n >= 20:
            hour_rarity = -math.log((near + 0.5) / (expected + 0.5)) / math.log(acc.n + 1)
            hour_rarity = max(0.0, hour_rarity)
        active = _active_hours(acc.hours) if acc.n >= 20 else None

        recurring = False
        if merchant_hist:
            for ts, cents in merchant_hist:
                gap_days = (ev.ts - ts) / DAY_MS
                if 26 <= gap_days <= 35 and abs(math.log(cents / ev.cents)) < 0.15:
                    recurring = True
                    break

        usual = math.exp(cat_c) * 100 if (cat_hist or acc.n) else None
        ctx = Context(
            cents=ev.cents,
            category=ev.category,
            merchant=ev.merchant,
            local_hour=hour,
            history_size=acc.n,
            usual_cents_category=usual,
            ratio_category=(ev.cents / usual) if usual else 1.0,
            z_category=z_cat,
            z_account=z_acc,
            z_merchant=z_merchant,
            category_novel=category_novel,
            merchant_novel=merchant_novel,
            merchant_burst=burst,
            burst_minutes=(ev.ts - burst_first) / 60_000,
            burst_max_cents=burst_max,
            count_1h=count_1h,
            duplicate_of_ms=duplicate_of,
            active_hours=active,
            hour_rarity=hour_rarity,
            recurring=recurring,
            dismissed_similar=dismissed,
            confirmed_similar=confirmed,
        )
        vector = np.array(
            [
                z_cat,
                z_acc,
                z_merchant,
                established if category_novel else 0.0,
                established if merchant_novel else 0.0,
                math.log1p(burst),
                math.log1p(count_1h),
                1.0 if duplicate_of is not None else 0.0,
                hour_rarity,
                1.0 if recurring else 0.0,
                log_amount,
            ],
            dtype=np.float64,
        )
        return vector, ctx


def _active_hours(hours: list[int]) -> tuple[int, int] | None:
    """The shortest span of hours (wrapping midnight) holding 95 % of the account's expenses."""
    total = sum(hours)
    if not total:
        return None
    best = None
    for start in range(24):
        acc = 0
        for length in range(1, 25):
            acc += hours[(start + length - 1) % 24]
            if acc >= 0.95 * total:
                if best is None or length < best[1]:
                    best = (start, length)
                break
    start, length = best
    return start, (start + length) % 24
