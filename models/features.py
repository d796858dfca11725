"""Features of an expense relative to its spender's own past, computed in O(1) per expense.

A :class:`SpenderHistory` holds what one user's recent expenses say about each ``account`` (the
card, employee or person who spent). :meth:`SpenderHistory.features` describes a new expense
against that past only; :meth:`SpenderHistory.add` then folds it in, so a batch scored in order
sees each expense before the next, exactly as live traffic would.

Amounts are compared on a log scale with robust statistics (median, inter-quartile spread) of
bounded windows kept sorted as they change, so no long history is scanned per expense. Each
estimate is shrunk towards a broader one when data are few: merchant -> category of this
account -> the category in this household (all of the user's accounts) -> the built-in prior
of the category (:mod:`models.priors`) -> a generic prior. That is the cold start.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from models.compiled import take_over
from models.priors import GENERIC, category_concept, category_prior, risky_category

FEATURE_NAMES = (
    "z_amount",  # against the most specific history: merchant, else category, else priors
    "z_category",
    "z_account",
    "log_amount",
    "category_novelty",
    "merchant_novelty",
    "burst",  # log(1 + earlier charges at this merchant within 30 min)
    "duplicate",  # 1 same amount, 0.5 nearly the same, within 15 min
    "split",  # log(1 + earlier charges just under the same round limit within 2 h)
    "hour_surprise",  # log-ratio of uniform to this account's own chance of this hour
    "count_1h",  # log(1 + the account's charges in the hour before)
    "recurring",  # same merchant and amount about a month (or two) ago
    "weekday",
)
FEATURE_SCHEMA = "v2:" + ",".join(FEATURE_NAMES)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
DUPLICATE_WINDOW_MS = 15 * MINUTE_MS
# Nearly the same charge: within 2 % (a re-run with a tip, a rounding, a fee), or a cent.
NEAR_DUPLICATE = 0.02
BURST_WINDOW_MS = 30 * MINUTE_MS
SPLIT_WINDOW_MS = 2 * HOUR_MS
KEEP_ACCOUNT = 200
KEEP_USER = 400
KEEP_CATEGORY = 60
KEEP_USER_CATEGORY = 120
KEEP_MERCHANT = 30
KEEP_USER_MERCHANT = 60
KEEP_AT_MERCHANT = 24  # recent (time, amount) pairs per merchant, for windows and recurrence
KEEP_RECENT = 64
ESTABLISHED = 30  # expenses after which an account's own statistics speak for it
MIN_SCALE = 0.15  # log units: a spender who always pays the same must not explode z
MERCHANT_SCALE = 0.5  # prior spread of amounts at one merchant, log units
RESIDUAL_AFTER = 4  # visits to a merchant before its prices say how far a visit strays
KEEP_RESIDUALS = 60
HOUSEHOLD_WEIGHT = 0.25
KEEP_FIRST_VISITS = 8
STREAK_MS = 3 * 24 * 60 * 60_000  # a trip: several new merchants within a few days
# Approval limits people split a purchase to stay under.
ROUND_LIMITS = (200, 500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000)
JUST_UNDER = 0.9
_WEIGHTS = [math.exp(-d * d / 2) for d in range(-3, 4)]
HOUR_KERNEL = tuple((d, w / sum(_WEIGHTS)) for d, w in zip(range(-3, 4), _WEIGHTS, strict=True))
# A subscription or premium paid a year at a time: 10 to 12 times its monthly price (some
# plans give a month or two free), with some slack for the usual's own uncertainty.
ANNUAL_MONTHS = (8.5, 14.0)
ANNUAL_SHARE = 0.05  # of a service's charges, one is a switch to its yearly plan
# ... but a first charge is where a plan starts: monthly or yearly, chosen at sign-up.
ANNUAL_SHARE_NEW = 0.2
LOG_YEAR = math.log(12)
HOUR_PRIOR = 2.0  # pseudo-expenses: what an account's hours are before its own expenses
# When people pay by card, hour by hour (local time; shares of a day's card payments, the usual
# daily curve of retail payments: few between 01:00 and 05:00, peaks at lunch and early
# evening), a fifth spread evenly over the day: the global prior of an account's hours.
_PEOPLE = (1.5, 0.8, 0.5, 0.4, 0.4, 0.7, 1.5, 3.0, 4.5, 5.5, 6.5, 7.5,
           8.5, 7.5, 6.5, 6.0, 6.0, 6.5, 7.0, 7.0, 5.5, 4.0, 3.0, 2.0)  # fmt: skip
PEOPLES_HOURS = tuple(0.8 * v / sum(_PEOPLE) + 0.2 / 24 for v in _PEOPLE)
HOUSEHOLD_HOURS = 50  # the household's expenses before its hours shape that prior ...
HOUSEHOLD_HOUR_SHARE = 0.5  # ... for this share of it (the rest: PEOPLES_HOURS)


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
    # The feedback was on a repeat (a duplicate, burst or split was among its reasons): only then
    # does "this is fine" excuse repeats too, not just the price at that merchant.
    feedback_repeat: bool = False


class RobustWindow:
    """The last ``maxlen`` values, also kept sorted: median and quartiles in O(1)."""

    __slots__ = ("_fifo", "_sorted", "_stats")

    def __init__(self, maxlen: int):
        self._fifo: deque[float] = deque(maxlen=maxlen)
        self._sorted: list[float] = []
        self._stats: tuple[float, float | None] | None = None

    def __len__(self) -> int:
        return len(self._fifo)

    def add(self, value: float) -> None:
        if len(self._fifo) == self._fifo.maxlen:
            old = self._fifo[0]
            i = bisect_left(self._sorted, old)
            if i < len(self._sorted) and self._sorted[i] == old:
                del self._sorted[i]
        self._fifo.append(value)
        insort(self._sorted, value)
        self._stats = None

    def quantile(self, q: float) -> float:
        s = self._sorted
        pos = q * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    def stats(self) -> tuple[float, float | None]:
        """(median, spread), computed once per change: most windows are read far more often."""
        if self._stats is None:
            s = self._sorted
            n = len(s)
            if not n:
                return math.nan, None
            half, odd = divmod(n - 1, 2)
            median = s[half] if not odd else (s[half] + s[half + 1]) / 2
            spread = None
            if n >= 4:  # quartiles inline: this runs for every window each expense touches
                pos = 0.25 * (n - 1)
                lo = int(pos)
                q1 = s[lo] + (s[lo + 1] - s[lo]) * (pos - lo)
                pos = 0.75 * (n - 1)
                lo = int(pos)
                q3 = s[lo] + (s[lo + 1] - s[lo]) * (pos - lo) if lo + 1 < n else s[lo]
                spread = (q3 - q1) / 1.349
            self._stats = (median, spread)
        return self._stats

    def median(self) -> float:
        return self.stats()[0]

    def spread(self) -> float | None:
        """Inter-quartile range as a normal-equivalent standard deviation; None under 4 values."""
        return self.stats()[1]


@dataclass(slots=True)
class Estimate:
    """Where log amounts of a context sit: centre, spread, own observations behind it."""

    center: float
    scale: float
    n: int = 0

    def z(self, value: float) -> float:
        # Predictive spread: the centre itself is uncertain when it rests on few observations.
        return (value - self.center) / (self.scale * math.sqrt(1 + 1 / (self.n + 1)))


def shrink(
    window: RobustWindow | None, prior: Estimate, center_weight: float, scale_weight: float
) -> Estimate:
    """The window's median and spread, each pulled towards ``prior`` as if it held that many
    values. A centre is learnt from a couple of expenses (one merchant charges alike); a spread
    needs more, so its weight is larger."""
    if window is None:
        return prior
    n = len(window._fifo)
    if n == 0:
        return prior
    median, own = window.stats()
    wc = n / (n + center_weight)
    ws = n / (n + scale_weight)
    if own is None or own < MIN_SCALE:
        own = prior.scale if own is None else MIN_SCALE
        own = max(own, MIN_SCALE)
    center = wc * median + (1 - wc) * prior.center
    scale = math.sqrt(ws * own * own + (1 - ws) * prior.scale * prior.scale)
    return Estimate(center, max(scale, MIN_SCALE), prior.n + n)


class MerchantState:
    __slots__ = (
        "logs",
        "recent",
        "visits",
        "quick_repeats",
        "same_amount_repeats",
        "last_cents",
        "stolen",
    )

    def __init__(self):
        self.logs = RobustWindow(KEEP_MERCHANT)
        self.recent: deque[tuple[int, int]] = deque(maxlen=KEEP_AT_MERCHANT)  # a thief's too
        self.last_cents = 0  # the spender's own last charge here
        self.visits = 0
        self.quick_repeats = 0  # visits with another one here in the 30 min before
        self.same_amount_repeats = 0  # ... of the very same amount within 15 min
        self.stolen: set[int] | None = None  # when the thief's charges in ``recent`` were made


class AccountState:
    __slots__ = (
        "n",
        "logs",
        "by_category",
        "category_counts",
        "single_categories",
        "merchants",
        "category_merchants",
        "hours",
        "hour_density",
        "hour_count",
        "recent_ts",
        "first_visits",
        "single_merchants",
        "feedback",
    )

    def __init__(self):
        self.n = 0
        self.logs = RobustWindow(KEEP_ACCOUNT)
        self.by_category: dict[str, RobustWindow] = {}
        self.category_counts: dict[str, int] = {}
        self.single_categories = 0
        self.merchants: dict[str, MerchantState] = {}
        self.category_merchants: dict[str, set[str]] = {}
        self.hours = [0] * 24
        self.hour_density = [0.0] * 24  # hours smoothed over neighbouring hours
        self.hour_count = 0  # expenses in those hours (bills are not: see _learn)
        self.recent_ts: deque[int] = deque(maxlen=KEEP_RECENT)
        self.first_visits: deque[int] = deque(maxlen=KEEP_FIRST_VISITS)  # new merchants, when
        self.single_merchants = 0  # merchants visited exactly once (how often a new one comes)
        # (category, merchant) -> expense id -> (log amount, "legit" | "fraud", was a repeat)
        self.feedback: dict[tuple[str, str], dict[int, tuple[float, str, bool]]] = {}


_EMPTY = AccountState()


@dataclass(slots=True)
class Context:
    """The numbers behind the features: what the evidence weighs and the reasons quote."""

    cents: int
    category: str
    merchant: str
    local_hour: int
    local_minute: int
    history_size: int  # the account's expenses so far
    categories_seen: int
    single_categories: int
    merchants_seen: int
    new_merchant_rate: float  # chance the next expense is at a new merchant (Good-Turing)
    novel_streak: int  # new merchants in the last 3 days beyond the account's usual rate of them
    amount_level: str  # "merchant", "category" or "prior": what the amount is compared with
    usual_cents: float  # typical amount at that level
    z_amount: float
    amount_density: float  # of this amount under the spender's usual, on the z scale
    usual_cents_category: float
    z_category: float
    usual_cents_account: float
    z_account: float
    share_below: float  # of the account's recent amounts at or below this one (new merchants)
    z_household: float | None  # against the household's price at a merchant new to the account
    household_visits: int  # ... which rests on this many visits of the other accounts
    category_novel: bool
    category_count: int  # this account's expenses in the category so far (recent window)
    category_share: float  # share of the user's other accounts that use this category
    other_accounts: int  # the user's accounts besides this one
    category_essential: bool  # rent, utilities, subscriptions: paid by nearly everyone
    category_known: bool  # one of the common household categories of the built-in priors
    category_risky: bool  # where stolen cards are spent (jewellery, betting, crypto, gift cards)
    z_category_prior: float  # amount against the household / built-in prior of the category
    annual_prior: float  # density of a year of that price (a category sold yearly too), or 0
    typical_known: bool  # that yardstick rests on the household's expenses, or priors that apply
    merchant_novel: bool
    merchant_visits: int
    merchant_quick_repeats: int
    merchant_same_amount_repeats: int
    burst: int  # earlier charges at this merchant within 30 min
    burst_minutes: float
    burst_max_cents: int
    burst_new_merchant: bool  # the merchant was unknown before the burst began
    duplicate_minutes: float | None
    duplicate_exact: bool
    duplicate_of_cents: int  # the earlier charge's amount (the same, for an exact duplicate)
    merchant_scale: float  # spread of this spender's prices at the merchant (log units)
    merchant_last_cents: int  # the last charge at this merchant (0: none)
    split: int  # earlier charges just under the same limit within 2 h
    split_limit: int  # in currency units
    split_total_cents: int
    split_minutes: float
    hour_surprise: float
    hour_known: bool  # enough history to judge the hour
    count_1h: int
    recurring: bool
    dismissed_similar: int
    dismissed_repeats: int  # ... of which the dismissed expense was itself a repeat
    confirmed_similar: int
    hours: list[int]  # the account's expenses per local hour, for the explanation (read only)


# log of the Student-t normalising constant for 0..7 degrees of freedom (computed once: the
# density is evaluated several times per expense).
_T_LOG_C = [0.0] + [
    math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    for nu in range(1, 8)
]


def t_density(z: float, df: int) -> float:
    """Student-t density; at most 7 degrees of freedom, as spending has heavy tails."""
    nu = min(max(df, 1), 5) + 2
    return math.exp(_T_LOG_C[nu] - (nu + 1) / 2 * math.log1p(z * z / nu))


def t_quantile_of_density(density: float, df: int) -> float:
    """The |z| at which :func:`t_density` equals ``density`` (0 at or above the peak)."""
    nu = min(max(df, 1), 5) + 2
    ratio = math.exp(_T_LOG_C[nu]) / max(density, 1e-300)
    return math.sqrt(nu * max(ratio ** (2 / (nu + 1)) - 1, 0.0))


def a_year_of(x: float, center: float) -> bool:
    """The log amount ``x`` is about a year of the monthly price ``center`` (an annual plan)."""
    return ANNUAL_MONTHS[0] <= math.exp(x - center) <= ANNUAL_MONTHS[1]


def with_annual_plan(density: float, plan: float, share: float) -> float:
    """An amount's density under the usual, with a year paid at once (density ``plan``, for a
    ``share`` of such charges) as a second reading."""
    return (1 - share) * density + share * plan


def round_limit(cents: int) -> int | None:
    """The round limit this amount sits just under (>= 90 % of it), if any; in units."""
    units = cents / 100
    i = bisect_left(ROUND_LIMITS, units + 0.001)
    if i == len(ROUND_LIMITS):
        return None
    limit = ROUND_LIMITS[i]
    return limit if units >= JUST_UNDER * limit else None


class SpenderHistory:
    """The recent past of one user, per account, updated one expense at a time."""

    def __init__(self, tz: str = "America/Sao_Paulo", trust_priors: bool = True):
        self.tz = ZoneInfo(tz)
        # The built-in priors are prices in BRL: in another currency they say what a category
        # costs only once the household's own expenses have moved them (typical_known).
        self.trust_priors = trust_priors
        self.accounts: dict[str, AccountState] = {}
        self.user_logs = RobustWindow(KEEP_USER)
        self.user_by_category: dict[str, RobustWindow] = {}
        self.category_accounts: dict[str, set[str]] = {}  # kind of spending -> accounts
        self.user_by_merchant: dict[str, RobustWindow] = {}
        self.merchant_visits: dict[str, int] = {}  # all accounts' visits, not only those kept
        # category -> how far visits land from their merchant's usual price (log units): the
        # spread within one merchant, pooled over the household's merchants of the category.
        self.merchant_residuals: dict[str, RobustWindow] = {}
        # All accounts' hours, smoothed like each account's: a new card's hours are unknown,
        # not anything at all; its household's say when people here spend.
        self.hour_density = [0.0] * 24
        self.hour_count = 0
        self.last_id = 0
        self.n_total = 0  # all the user's expenses, not only those kept here
        self.unlearned: set[int] = set()  # confirmed fraud, kept out of "usual" (ids)
        self.first_id = 0  # expenses before this one are not held (a long history's oldest)
        self.spending_accounts = 0  # accounts with an expense learnt
        self._local_ts: int | None = None
        self._local_dt: datetime | None = None

    def _local(self, ts: int) -> datetime:
        # features() and then add() ask for the same expense's local time: convert it once.
        if ts != self._local_ts:
            self._local_ts, self._local_dt = ts, datetime.fromtimestamp(ts / 1000, self.tz)
        return self._local_dt

    # -- learning ----------------------------------------------------------------------------

    def add(self, ev: Event) -> None:
        self.n_total += 1
        self.last_id = max(self.last_id, ev.id)
        acc = self.accounts.get(ev.account)
        if acc is None:
            acc = self.accounts[ev.account] = AccountState()
        x = math.log(ev.cents / 100)
        acc.recent_ts.append(ev.ts)
        if ev.feedback == "fraud" and ev.id:
            # Confirmed fraud is not this spender's: it shapes no "usual" (prices, merchants,
            # categories, hours), only "confirmed_pattern" on similar expenses. It still
            # happened, minutes ago: the thief's next charges there are repeats of it (bursts,
            # duplicates, splits). A history that learnt it before the label is reloaded
            # (vigilante.history), so that both are equal.
            if ev.merchant:
                m = acc.merchants.get(ev.merchant)
                if m is None:
                    m = acc.merchants[ev.merchant] = MerchantState()
                m.recent.append((ev.ts, ev.cents))
                if m.stolen is None:
                    m.stolen = set()
                m.stolen.add(ev.ts)
            self._index_label(ev.id, ev.account, (ev.category, ev.merchant), x, "fraud", False)
            self.unlearned.add(ev.id)
            return
        m = None
        if ev.merchant:
            m = acc.merchants.get(ev.merchant)
            if m is None:
                m = acc.merchants[ev.merchant] = MerchantState()
            if not m.visits:  # (a merchant met through a thief's charges is still new)
                acc.first_visits.append(ev.ts)
            if m.recent and abs(ev.ts - m.recent[-1][0]) <= BURST_WINDOW_MS:
                m.quick_repeats += 1
                last_ts, last_cents = m.recent[-1]
                if last_cents == ev.cents and abs(ev.ts - last_ts) <= DUPLICATE_WINDOW_MS:
                    m.same_amount_repeats += 1
            m.recent.append((ev.ts, ev.cents))
            m.last_cents = ev.cents
            m.visits += 1
            acc.single_merchants += 1 if m.visits == 1 else (-1 if m.visits == 2 else 0)
        if ev.feedback and ev.id:
            key = (ev.category, ev.merchant)
            self._index_label(ev.id, ev.account, key, x, ev.feedback, ev.feedback_repeat)
        self._learn(acc, m, ev, x)

    def _learn(self, acc: AccountState, m: MerchantState | None, ev: Event, x: float) -> None:
        acc.n += 1
        self.spending_accounts += acc.n == 1
        acc.logs.add(x)
        window = acc.by_category.get(ev.category)
        if window is None:
            window = acc.by_category[ev.category] = RobustWindow(KEEP_CATEGORY)
        window.add(x)
        count = acc.category_counts.get(ev.category, 0) + 1
        acc.category_counts[ev.category] = count
        prior = category_prior(ev.category)
        if not (prior and prior.essential):  # a bill is new once a month, not a new habit
            acc.single_categories += 1 if count == 1 else (-1 if count == 2 else 0)
        if m is not None:
            k = len(m.logs._fifo)  # (the deque itself: this runs for every expense)
            if k >= RESIDUAL_AFTER:
                residuals = self.merchant_residuals.get(ev.category)
                if residuals is None:
                    residuals = self.merchant_residuals[ev.category] = RobustWindow(KEEP_RESIDUALS)
                # A median of k visits is itself off by ~sqrt(pi / 2k) spreads: take it out.
                residuals.add((x - m.logs.median()) / math.sqrt(1 + 1.571 / k))
            m.logs.add(x)
            acc.category_merchants.setdefault(ev.category, set()).add(ev.merchant)
            household = self.user_by_merchant.get(ev.merchant)
            if household is None:
                household = self.user_by_merchant[ev.merchant] = RobustWindow(KEEP_USER_MERCHANT)
            household.add(x)
            self.merchant_visits[ev.merchant] = self.merchant_visits.get(ev.merchant, 0) + 1
        if not (prior and prior.essential):
            # The hour a biller debits rent or a subscription says nothing of when the spender
            # is awake: a 06:00 debit would make 05:00 look like their morning.
            hour = self._local(ev.ts).hour
            acc.hours[hour] += 1
            acc.hour_count += 1
            density, household = acc.hour_density, self.hour_density
            self.hour_count += 1
            for d, w in HOUR_KERNEL:
                density[(hour + d) % 24] += w
                household[(hour + d) % 24] += w
        self.user_logs.add(x)
        user_window = self.user_by_category.get(ev.category)
        if user_window is None:
            user_window = self.user_by_category[ev.category] = RobustWindow(KEEP_USER_CATEGORY)
        user_window.add(x)
        # By kind of spending, not by name: in one household "saúde" and "health" are one habit.
        self.category_accounts.setdefault(category_concept(ev.category), set()).add(ev.account)

    def relearns(self, ident: int, label: str) -> bool:
        """Whether a label on expense ``ident`` changes what this history learnt: fraud newly
        confirmed on an expense it holds, or a fraud label taken back. Reload it then."""
        return ident >= self.first_id and (label == "fraud") != (ident in self.unlearned)

    def set_feedback(self, ev: Event, label: str) -> None:
        """Feedback given on an expense already in this history (or older than it)."""
        key, x = (ev.category, ev.merchant), math.log(ev.cents / 100)
        self._index_label(ev.id, ev.account, key, x, label, ev.feedback_repeat)

    def _index_label(self, ident, account, key, x, label, repeat) -> None:
        acc = self.accounts.get(account)
        if acc is None:
            acc = self.accounts[account] = AccountState()
        acc.feedback.setdefault(key, {})[ident] = (x, label, repeat)

    # -- describing --------------------------------------------------------------------------

    def _dearness(self, acc: AccountState, category: str) -> float:
        """How much dearer (log units) this account pays than the other accounts at the merchants
        of ``category`` they share, shrunk towards none when they share little.

        The household's window at a merchant holds this account's visits too: where they are
        at most half of it, its median is the others' (a median follows the majority); where
        the account is most of the visits, it would be the account's own, and says nothing."""
        total = weights = 0.0
        for key in acc.category_merchants.get(category, ()):
            own = acc.merchants[key]
            household = self.user_by_merchant.get(key)
            visits = self.merchant_visits.get(key, 0)
            others = visits - own.visits
            if not own.logs._fifo or household is None or others < max(own.visits, 2):
                continue
            weight = math.sqrt(own.visits)
            total += weight * (own.logs.median() - household.median())
            weights += weight
        return total / (weights + 1)

    def features(self, ev: Event) -> tuple[np.ndarray, Context]:
        acc = self.accounts.get(ev.account) or _EMPTY
        x = math.log(ev.cents / 100)
        local = self._local(ev.ts)
        hour = local.hour

        # Amount: merchant -> account category -> household category -> built-in prior.
        prior = category_prior(ev.category)
        base = Estimate(prior.center, prior.scale) if prior else Estimate(GENERIC.center, 1.3)
        base = shrink(self.user_by_category.get(ev.category), base, 3, 5)
        generic = Estimate(GENERIC.center, GENERIC.scale)
        if len(acc.logs._fifo) < ESTABLISHED:  # the household's habits stand in for a new account's
            generic = shrink(self.user_logs, generic, 3, 5)
            generic = Estimate(generic.center, generic.scale)
        acc_all = shrink(acc.logs, generic, 3, 5)
        cat_window = acc.by_category.get(ev.category)
        cat = shrink(cat_window, base, 2, 4)
        m = acc.merchants.get(ev.merchant) if ev.merchant else None
        # One merchant charges alike: its spread is narrower than a category's mix of them.
        within = MERCHANT_SCALE
        residuals = self.merchant_residuals.get(ev.category)
        n_residuals = len(residuals._fifo) if residuals is not None else 0
        if n_residuals >= 4:
            w = n_residuals / (n_residuals + 8)
            within = math.sqrt(w * residuals.spread() ** 2 + (1 - w) * within * within)
        at_merchant = Estimate(cat.center, max(min(cat.scale, within), MIN_SCALE))
        # Where one merchant's prices sit is learnt from a visit or two when the category spans
        # a wide range (a precision weight: spread within a merchant over spread between them).
        pull = min(max((at_merchant.scale / cat.scale) ** 2, 0.1), 1.0)
        z_household = None  # the amount against what the household pays at a merchant new here
        if m is not None and m.logs._fifo:
            specific, level = shrink(m.logs, at_merchant, pull, 12), "merchant"
            z_amount = specific.z(x)
            amount_df = specific.n  # degrees of freedom of the density below
            amount_density = t_density(z_amount, amount_df)
        else:
            specific, level = cat, ("category" if cat_window else "prior")
            unit = cat.scale  # the log-amount spread the density below is measured in
            z_amount = specific.z(x)
            amount_df = specific.n
            amount_density = t_density(z_amount, amount_df)
            # A merchant new to this account: is the amount what one of the merchants it uses
            # in this category (or the household at this merchant) charges? Categories mix
            # cheap and dear merchants (a ride and a tank of fuel are both "transporte"), so
            # the category's own spread says little here.
            # The amount's density is a mixture over those merchants, weighted by the square
            # root of visits (the household's price at this very merchant weighs a quarter).
            mixture = []
            for key in acc.category_merchants.get(ev.category, ()):
                other = acc.merchants[key]
                if other.logs._fifo:
                    weight = math.sqrt(other.visits)  # a new place is often for the rarer need
                    mixture.append((weight, shrink(other.logs, at_merchant, pull, 4).z(x)))
            household = self.user_by_merchant.get(ev.merchant) if ev.merchant else None
            if household is not None and household._fifo:
                # The household's price there, moved by how dear this account is compared with
                # the household at the merchants both use (a richer cardholder, a bigger
                # basket): paired, since a category's centre mixes cheap and dear merchants
                # (rides and fuel) in each account's own proportions.
                weight = max(sum(w for w, _ in mixture) * HOUSEHOLD_WEIGHT, 1)
                there = shrink(household, at_merchant, pull, 4)
                there.center += self._dearness(acc, ev.category)
                z_household = there.z(x)
                mixture.append((weight, z_household))
            if mixture:
                unit = at_merchant.scale  # (the components' spreads, near enough)
                amount_df = 5
                total = sum(w for w, _ in mixture)
                amount_density = sum(w * t_density(z, 5) for w, z in mixture) / total
                # As many spreads above "usual" as that density says (so one cheap component
                # does not hide the others), on the side of the nearest component.
                z_amount = math.copysign(
                    t_quantile_of_density(amount_density, 5), min(z for _, z in mixture)
                )
        # Dear for a month of it, but about a year of a monthly price: an annual plan, which a
        # share of such charges are. The amount's density under the usual is then a mixture of
        # two readings: a month, and a year at once. At a service the spender pays monthly, a
        # year is about twelve of its price; at a new one, its monthly price is any of what
        # the category costs (the density of a twelfth of the amount there).
        yearly = prior is not None and prior.yearly
        if yearly and z_amount > 2:
            if level == "merchant":  # its own price, not drawn toward the category's
                plan = t_density(0.0, amount_df) if a_year_of(x, m.logs.median()) else 0.0
                plan_share = ANNUAL_SHARE
            else:
                # (a density over the category's spread, put in the units of the one above)
                plan = t_density(base.z(x - LOG_YEAR), 5) * unit / base.scale
                plan_share = ANNUAL_SHARE_NEW
            if plan:
                amount_density = with_annual_plan(amount_density, plan, plan_share)
                z_amount = math.copysign(t_quantile_of_density(amount_density, amount_df), z_amount)
        z_prior = base.z(x)
        annual_prior = t_density(base.z(x - LOG_YEAR), 5) if yearly and z_prior > 2 else 0.0
        users = self.category_accounts.get(category_concept(ev.category), ())
        others = len(users) - (ev.account in users)
        spending = self.spending_accounts  # (an account seen only in labels or fraud is none)
        share = others / (spending - 1) if spending > 1 else 0.0

        # Earlier charges at the same merchant: bursts, duplicates, splits.
        burst = split = 0
        burst_first = split_first = ev.ts
        burst_max = ev.cents
        dup_minutes, dup_exact, dup_of = None, False, ev.cents
        limit = round_limit(ev.cents)
        split_total = ev.cents
        recurring = False
        monthly: bool | None = None
        if m is not None:
            for past_ts, past_cents in reversed(m.recent):
                dt = ev.ts - past_ts
                gap = abs(dt)
                if gap <= SPLIT_WINDOW_MS:
                    if gap <= BURST_WINDOW_MS:
                        burst += 1
                        burst_first = min(burst_first, past_ts)
                        burst_max = max(burst_max, past_cents)
                    if gap <= DUPLICATE_WINDOW_MS and dup_minutes is None:
                        if past_cents == ev.cents:
                            dup_minutes, dup_exact = gap / MINUTE_MS, True
                        elif abs(past_cents - ev.cents) <= max(NEAR_DUPLICATE * ev.cents, 1):
                            dup_minutes, dup_of = gap / MINUTE_MS, past_cents
                    if limit and JUST_UNDER * limit * 100 <= past_cents < limit * 100:
                        split += 1
                        split_total += past_cents
                        split_first = min(split_first, past_ts)
                elif dt > 0:
                    # Older than every window (the deque is in arrival order): only the monthly
                    # question is left, and it is settled by the first such visit or two of
                    # the spender's own (a thief's charge last month is no bill coming round).
                    if m.stolen is not None and past_ts in m.stolen:
                        continue
                    days = dt / DAY_MS
                    if days < 20 or days > 66:
                        monthly = monthly or False  # in between: a frequent merchant
                        break
                    if monthly is None and (26 <= days <= 35 or 54 <= days <= 66):
                        monthly = abs(math.log(past_cents / ev.cents)) < 0.2 or None
            # The month's charge explains one charge, not a second minutes after it: Netflix
            # billed twice is a duplicate, whatever last month says.
            recurring = bool(monthly) and not burst
            if not limit or split_total <= limit * 100:
                split = 0
        count_1h = 0
        for past_ts in reversed(acc.recent_ts):
            if ev.ts - past_ts > HOUR_MS:
                break
            count_1h += ev.ts >= past_ts

        # The hour against this account's own hours, smoothed over neighbouring hours so that
        # an hour next to the usual ones is less surprising than one far from all of them.
        # Before the account's own hours speak, the prior is when people pay by card, half of it
        # replaced by the household's hours (the other accounts') once they hold enough: a card
        # first used at 03:00 in a household that sleeps then is odder than one used at 15:00.
        prior_hour = PEOPLES_HOURS[hour]
        others_hours = self.hour_count - acc.hour_count
        if others_hours >= HOUSEHOLD_HOURS:
            theirs = max(self.hour_density[hour] - acc.hour_density[hour], 0.0) / others_hours
            prior_hour = (1 - HOUSEHOLD_HOUR_SHARE) * prior_hour + HOUSEHOLD_HOUR_SHARE * theirs
        p_hour = (acc.hour_density[hour] + HOUR_PRIOR * prior_hour) / (acc.hour_count + HOUR_PRIOR)
        hour_surprise = max(0.0, math.log((1 / 24) / p_hour))

        dismissed = dismissed_repeats = confirmed = 0
        for past_x, label, repeat in acc.feedback.get((ev.category, ev.merchant), {}).values():
            if abs(past_x - x) < 0.5:
                if label == "legit":
                    dismissed += 1
                    dismissed_repeats += repeat
                else:
                    confirmed += 1

        n = acc.n
        established = min(1.0, n / 30)
        category_novel = n > 0 and cat_window is None
        known_merchant = m is not None and m.visits > 0  # (not a thief's charges alone)
        merchant_novel = bool(ev.merchant) and n > 0 and not known_merchant
        share_below = 1.0
        novel_streak = 0
        if merchant_novel:
            for first_ts in acc.first_visits:
                novel_streak += 0 <= ev.ts - first_ts <= STREAK_MS
            if novel_streak:  # beyond what this account's usual rate of new merchants explains
                recent = 0
                for past_ts in reversed(acc.recent_ts):
                    if ev.ts - past_ts > STREAK_MS:
                        break
                    recent += 1
                # The chance that the next expense is at a new merchant: merchants seen once so
                # far over expenses (Good-Turing). Merchants over expenses would count every
                # habitual place's first visit, which made a whole trip look like habit.
                expected = recent * (acc.single_merchants + 1) / (n + 2)
                novel_streak = max(0, round(novel_streak - expected))
            # How often this account pays this little (card tests are tiny).
            kept = acc.logs._sorted
            share_below = bisect_right(kept, x) / len(kept)
        ctx = Context(
            cents=ev.cents,
            category=ev.category,
            merchant=ev.merchant,
            local_hour=hour,
            local_minute=local.minute,
            history_size=n,
            categories_seen=len(acc.category_counts),
            single_categories=acc.single_categories,
            merchants_seen=len(acc.merchants),
            new_merchant_rate=(acc.single_merchants + 1) / (n + 2),
            novel_streak=novel_streak,
            amount_level=level,
            usual_cents=math.exp(specific.center) * 100,
            z_amount=z_amount,
            amount_density=amount_density,
            usual_cents_category=math.exp(cat.center) * 100,
            z_category=cat.z(x),
            usual_cents_account=math.exp(acc_all.center) * 100,
            z_account=acc_all.z(x),
            share_below=share_below,
            z_household=z_household,
            household_visits=0 if known_merchant else self.merchant_visits.get(ev.merchant, 0),
            category_novel=category_novel,
            category_count=acc.category_counts.get(ev.category, 0),
            category_share=share,
            other_accounts=max(spending - (1 if acc.n else 0), 0),
            category_essential=bool(prior and prior.essential),
            category_known=prior is not None,
            category_risky=risky_category(ev.category),
            z_category_prior=z_prior,
            annual_prior=annual_prior,
            typical_known=self.trust_priors or base.n >= 3,
            merchant_novel=merchant_novel,
            merchant_visits=m.visits if m else 0,
            merchant_quick_repeats=max(m.quick_repeats - max(burst - 1, 0), 0) if m else 0,
            merchant_same_amount_repeats=m.same_amount_repeats if m else 0,
            burst=burst,
            burst_minutes=(ev.ts - burst_first) / MINUTE_MS,
            burst_max_cents=burst_max,
            burst_new_merchant=m is not None and m.visits <= burst,
            duplicate_minutes=dup_minutes,
            duplicate_exact=dup_exact,
            duplicate_of_cents=dup_of,
            merchant_scale=specific.scale if level == "merchant" else at_merchant.scale,
            merchant_last_cents=m.last_cents if m is not None else 0,
            split=split,
            split_limit=limit or 0,
            split_total_cents=split_total if split else ev.cents,
            split_minutes=(ev.ts - split_first) / MINUTE_MS,
            hour_surprise=hour_surprise,
            hour_known=acc.hour_count >= (5 if others_hours >= HOUSEHOLD_HOURS else 10),
            count_1h=count_1h,
            recurring=recurring,
            dismissed_similar=dismissed,
            dismissed_repeats=dismissed_repeats,
            confirmed_similar=confirmed,
            hours=acc.hours,
        )
        vector = np.array(
            [
                z_amount,
                ctx.z_category,
                ctx.z_account,
                x,
                established if category_novel else 0.0,
                established if merchant_novel else 0.0,
                math.log1p(burst),
                (1.0 if dup_exact else 0.5) if dup_minutes is not None else 0.0,
                math.log1p(split),
                hour_surprise,
                math.log1p(count_1h),
                1.0 if recurring else 0.0,
                float(local.weekday()),
            ],
            dtype=np.float64,
        )
        return vector, ctx


def active_hours(hours: tuple[int, ...] | list[int]) -> tuple[int, int] | None:
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


# Last: the compiled build of this very source, where make made one, replaces all of the above.
COMPILED = take_over(globals())
