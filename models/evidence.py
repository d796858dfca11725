"""Explicit, calibrated evidence: how much more likely an expense is under fraud than normally.

Each signal is weighed as a likelihood ratio — the chance of seeing it if the expense were an
anomaly over its chance under this spender's own normal behaviour — and reported as its natural
log (``llr``). Chances under normal behaviour come from the spender's history (a Student-t of
log amounts, smoothed counts of hours, categories, repeats at a merchant); chances under an
anomaly are broad, documented constants. Log-ratios of different signals add up (naive Bayes),
so a strong signal alone raises the score and weak ones accumulate, on one scale shared with the
forest (:mod:`models.detector`). Every piece of evidence carries the numbers its reason quotes.

A forest fitted on normal history never splits on a signal that was always zero there (a
duplicate, a burst), which is why these are weighed explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy.special import stdtr

from models.compiled import take_over
from models.features import (
    ANNUAL_SHARE_NEW,
    KEEP_ACCOUNT,
    MIN_SCALE,
    NEAR_DUPLICATE,
    Context,
    active_hours,
    t_density,
    with_annual_plan,
)

MAX_LLR = math.log(1e4)
# Densities under "anomaly", on the same scale as the normal densities they are compared with.
ANOMALY_Z_DENSITY = 0.1  # an anomalous amount lands anywhere over ~10 spreads ...
RAMP_FROM, RAMP_TO = 1.5, 3.5  # ... but well clear of the usual: its density rises over these
# At a merchant the account knows, z is measured with the narrow spread of one merchant's
# prices, so the same "well clear" sits at more spreads than against a category's mixture.
RAMP_TO_KNOWN = 4.5
# Against a category's typical price, before the account has a usual of its own: only far out.
RAMP_FROM_COLD, RAMP_TO_COLD = 5.0, 8.0
ANOMALY_HOUR = 1 / 24  # an anomaly may happen at any hour
P_NEW_CATEGORY_IF_ANOMALY = 0.3
RARE_CATEGORY, RARE_AFTER = 2, 30  # at most this many expenses in it, in at least that many
RARE_DISCOUNT = 5  # seen before, so less telling than a first time
HOUSEHOLD_ACCOUNTS = 3  # other accounts before their categories say what is common
HABIT_VISITS = 2  # the household's visits to a merchant before its price there is a habit
SHARE_IF_ANOMALY = 0.1  # ... of the household using the category an anomaly lands in
RISKY_WEIGHT = 2  # a first time where stolen cards are spent (models.priors.risky_category)
P_REPEAT_IF_ANOMALY = 0.3  # bursts, duplicates and splits are repeats at one merchant
P_SAME_AMOUNT_IF_ANOMALY = 0.15
P_NEAR_IF_DUPLICATE = 0.3  # of duplicates, re-run a little off the first amount
STREAK_WEIGHT = 1.0
P_SMALL_IF_ANOMALY = 0.1  # card tests: a share of anomalies are tiny charges at new merchants
PAIR_MAX_LLR = math.log(3)
RECURRING_LLR = -math.log(10)
DISMISSED_KEEP = 0.25  # of the evidence, per "this is fine" on a similar expense (up to 3)
# Evidence that an expense repeats another one. A "this is fine" on a dear dinner excuses that
# price at that restaurant, not the restaurant charging it twice: these only weaken after a
# dismissed expense that was itself a repeat (its reasons held one of these).
REPEAT_CODES = frozenset({"duplicate", "near_duplicate", "burst", "split"})
# ... and weighed more than two visits close together (PAIR_MAX_LLR, stored rounded): a dear
# dinner 20 minutes after a coffee at the same place is a dear dinner, not a repeat.
REPEAT_MIN_LLR = math.log(4)
CONFIRMED_LLR = math.log(8)
ESSENTIAL_MODEL_CAP = math.log(2)


@dataclass(slots=True)
class Evidence:
    code: str
    llr: float  # natural log of the likelihood ratio anomaly : normal
    params: dict = field(default_factory=dict)


def _clip(value: float) -> float:
    return min(max(value, 0.0), MAX_LLR)


def anomaly_density(z: float, ramp_to: float = RAMP_TO, ramp_from: float = RAMP_FROM) -> float:
    """Density of an anomalous amount ``z`` spreads above the usual: none near the usual (a
    dearer day is not an error or a fraud), flat from ``ramp_to`` on."""
    return ANOMALY_Z_DENSITY * min(max((z - ramp_from) / (ramp_to - ramp_from), 0.0), 1.0)


def _amount_llr(
    z: float, normal_density: float, ramp_to: float = RAMP_TO, ramp_from: float = RAMP_FROM
) -> float:
    anomalous = anomaly_density(z, ramp_to, ramp_from)
    return _clip(math.log(anomalous / normal_density)) if anomalous > 0 else 0.0


def amount_llr(z: float, df: int) -> float:
    """Evidence of an amount ``z`` spreads above the usual (one-sided: only dearer is odd)."""
    return _amount_llr(z, t_density(z, df))


def prior_amount_llr(ctx: Context) -> float:
    """Evidence of the amount against what the category costs (household, else built-in),
    where a year of a monthly price is one of the usual readings (an annual plan)."""
    z = ctx.z_category_prior
    if not ctx.annual_prior:
        return amount_llr(z, 5)
    return _amount_llr(z, with_annual_plan(t_density(z, 5), ctx.annual_prior, ANNUAL_SHARE_NEW))


def away(ctx: Context) -> float:
    """How much a new merchant's price still says when the account met several other new
    merchants in the last days (a trip, a move): its home prices predict less there."""
    return 1 / (1 + STREAK_WEIGHT * ctx.novel_streak)


def near_duplicate_llr(ctx: Context) -> float:
    """Nearly the same amount as the last charge here, minutes ago. Under normal behaviour that
    takes coming back within minutes (this spender's own rate of quick repeats here) and a
    second price landing by chance that close to the first: two draws of the merchant's prices
    (log spread s) differ by at most g with chance ~ g · 2 / (s·√2·√(2π)). Under an anomaly,
    a share of duplicates is re-run a little off (a tip, a rounding), anywhere within the
    tolerance. The closeness itself cancels out: what tells is a merchant whose prices vary
    (a restaurant, not a metro fare) and a spender who rarely comes back within minutes."""
    visits_before = max(ctx.merchant_visits - max(ctx.burst, 1), 0)
    quick = (ctx.merchant_quick_repeats + 0.3) / (visits_before + 3)
    coincidence = 2 / (max(ctx.merchant_scale, MIN_SCALE) * math.sqrt(4 * math.pi))
    anomalous = P_SAME_AMOUNT_IF_ANOMALY * P_NEAR_IF_DUPLICATE / NEAR_DUPLICATE
    return _clip(math.log(anomalous / (quick * coincidence)))


def which_category(ctx: Context) -> float:
    """Evidence in *which* category a spender starts spending: people take up what those
    around them use, an anomaly lands anywhere. With a household (3+ other accounts), a
    category none of them uses weighs double, one a tenth of them use is neutral, one half of
    them use weighs a third. Without one, the built-in priors stand in for it: a category
    that is not a common household one weighs double."""
    if ctx.category_essential:
        return 0.0
    risk = math.log(RISKY_WEIGHT) if ctx.category_risky else 0.0
    if ctx.other_accounts >= HOUSEHOLD_ACCOUNTS:
        return risk + math.log(2 * SHARE_IF_ANOMALY / (ctx.category_share + SHARE_IF_ANOMALY))
    return risk + (0.0 if ctx.category_known else math.log(2))


def within(hour: int, start: int, end: int) -> bool:
    """``hour`` inside the span of hours from ``start`` up to ``end`` (wrapping midnight)."""
    return (hour - start) % 24 < (end - start) % 24 or start == end


def explicit_evidence(ctx: Context) -> list[Evidence]:
    found: list[Evidence] = []
    add = found.append

    # Same charge twice within minutes.
    if ctx.duplicate_minutes is not None:
        if ctx.duplicate_exact:
            p = (ctx.merchant_same_amount_repeats + 0.05) / (ctx.merchant_visits + 10)
            llr = _clip(math.log(P_SAME_AMOUNT_IF_ANOMALY / p))
        else:
            llr = near_duplicate_llr(ctx)
        add(
            Evidence(
                "duplicate" if ctx.duplicate_exact else "near_duplicate",
                llr,
                {
                    "merchant": ctx.merchant,
                    "cents": ctx.cents,
                    "minutes": ctx.duplicate_minutes,
                    "previous_cents": ctx.duplicate_of_cents,
                },
            )
        )

    # Several charges at one merchant within 30 minutes (card testing looks like this).
    if ctx.burst:
        # Chance of k more visits within the burst's span for a spender who comes back here
        # within 30 min at ``rate`` (Poisson): (rate * span / 30)^k / k!.
        visits_before = max(ctx.merchant_visits - ctx.burst, 0)
        rate = (ctx.merchant_quick_repeats + 0.3) / (visits_before + 3)
        span = min(max(ctx.burst_minutes, 1.0), 30.0) / 30
        k = ctx.burst
        llr = math.log(P_REPEAT_IF_ANOMALY) - k * math.log(rate * span) + math.lgamma(k + 1)
        small = ctx.burst_max_cents < 0.5 * ctx.usual_cents_account
        if ctx.burst_new_merchant and small:
            llr += math.log(3)  # small charges at a merchant never used before
        elif k == 1 or not ctx.burst_new_merchant:
            # Two visits close together happen to everyone, and so does a busy moment at a
            # place one knows (three rides in an evening): card tests come at new merchants,
            # and a repeated charge or a split has evidence of its own.
            llr = min(llr, PAIR_MAX_LLR)
        if ctx.burst >= 2 or ctx.duplicate_minutes is None:
            add(
                Evidence(
                    "burst",
                    _clip(llr),
                    {
                        "merchant": ctx.merchant,
                        "count": ctx.burst + 1,
                        "minutes": max(ctx.burst_minutes, 1.0),
                    },
                )
            )

    # Several charges just under one round limit at one merchant, adding up to more than it.
    if ctx.split:
        llr = math.log(30) + math.log(10) * (ctx.split - 1)
        add(
            Evidence(
                "split",
                _clip(llr),
                {
                    "merchant": ctx.merchant,
                    "count": ctx.split + 1,
                    "limit_cents": ctx.split_limit * 100,
                    "total_cents": ctx.split_total_cents,
                    "minutes": max(ctx.split_minutes, 1.0),
                },
            )
        )

    established = ctx.history_size >= 5
    if ctx.category_novel and established:
        # First expense in a category: how often does this spender start a new one (categories
        # seen once so far, Good-Turing), unless nearly everyone pays it (rent, bills)?
        p_new = (ctx.single_categories + 1) / (ctx.history_size + 2)
        if ctx.category_essential:
            p_new = max(p_new, 0.5)
        novelty = math.log(P_NEW_CATEGORY_IF_ANOMALY / p_new)
        novelty += which_category(ctx)
        novelty = _clip(novelty)
        # Judge the amount against the category where it is common, else against the spender.
        if ctx.category_essential or ctx.category_share >= 0.5:
            amount = prior_amount_llr(ctx)
            usual = None
        elif ctx.category_known or ctx.category_share > 0:
            # A category people use (a built-in one, or one others in the household pay): its
            # first expense at what such expenses cost is no surprise, even if dear next to
            # this spender's day-to-day (a first drill from a hardware store).
            by_category = prior_amount_llr(ctx)
            by_spender = amount_llr(ctx.z_account, 5)
            amount = min(by_category, by_spender)
            usual = ctx.usual_cents_account if by_spender <= by_category else None
        else:
            amount = amount_llr(ctx.z_account, 5)
            usual = ctx.usual_cents_account
        if ctx.z_household is not None and amount > 0 and ctx.household_visits >= HABIT_VISITS:
            # What others in the household pay at this very merchant (a partner's gym, the
            # family's school) says more than the category's spread: a category's prices span
            # its merchants (streaming at R$ 20, a gym at R$ 250), one merchant's do not. One
            # visit of someone else is not yet what people here pay: a one-off, or a fraud on
            # another card of the family.
            by_merchant = amount_llr(ctx.z_household, 5)
            if by_merchant < amount:
                amount, usual = by_merchant, None
        if amount <= 0:  # the category alone is the reason: no comparison to quote
            usual = None
        if not ctx.recurring and novelty + amount > 0:
            add(
                Evidence(
                    "new_category",
                    novelty + amount,
                    {"category": ctx.category, "cents": ctx.cents, "usual_cents": usual},
                )
            )
    elif (
        ctx.category_count <= RARE_CATEGORY
        and ctx.history_size >= RARE_AFTER
        and not (ctx.recurring or ctx.category_essential)
    ):
        # A category this account used once or twice in a long history: rare, nearly new.
        p_cat = (ctx.category_count + 0.5) / (ctx.history_size + 1)
        rarity = math.log(P_NEW_CATEGORY_IF_ANOMALY / p_cat) - math.log(RARE_DISCOUNT)
        rarity += which_category(ctx)
        if rarity > 0:
            add(
                Evidence(
                    "rare_category",
                    _clip(rarity),
                    {"category": ctx.category, "count": ctx.category_count, "cents": ctx.cents},
                )
            )
    if ctx.history_size < 3 and not ctx.recurring and ctx.typical_known:
        # A new account (or spender) has no usual of its own yet: its amount is weighed against
        # what the category costs in the household, else in the built-in priors, and only far
        # out (their spread is wide, and a first week holds the odd big settling-in expense).
        llr = _amount_llr(ctx.z_amount, ctx.amount_density, RAMP_TO_COLD, RAMP_FROM_COLD)
        if llr > 0:
            add(
                Evidence(
                    "typical_amount",
                    llr,
                    {  # what the category costs, not a merchant seen once or twice
                        "cents": ctx.cents,
                        "ratio": ctx.cents / ctx.usual_cents_category,
                        "usual_cents": ctx.usual_cents_category,
                        "category": ctx.category,
                    },
                )
            )
    elif not (ctx.category_novel and established) and not ctx.recurring:
        llr = 0.0
        if ctx.z_amount > 1.0:  # only dearer than usual is odd; cheaper is the card tests' job
            known = ctx.amount_level == "merchant"
            llr = _amount_llr(ctx.z_amount, ctx.amount_density, RAMP_TO_KNOWN if known else RAMP_TO)
        if ctx.merchant_novel and established:
            # A merchant never used before, at a price above what any merchant of the category
            # charges this spender: the novelty adds its own (modest) weight.
            # How often this spender goes somewhere new: merchants seen once over expenses.
            p_new = ctx.new_merchant_rate
            dear = anomaly_density(ctx.z_amount) / ANOMALY_Z_DENSITY
            llr += dear * _clip(math.log(0.5 / p_new))
            llr *= away(ctx)
            code = "new_merchant_amount"
        else:
            code = "merchant_amount" if ctx.amount_level == "merchant" else "amount_spike"
        if llr > 0:
            usual = ctx.usual_cents
            params = {"category": ctx.category, "merchant": ctx.merchant}
            if code == "merchant_amount" and ctx.merchant_visits == 1 and ctx.merchant_last_cents:
                # One visit so far: "12× what you usually pay" would quote an estimate (that
                # visit drawn toward the category); the one price paid is what to compare with.
                usual = ctx.merchant_last_cents
                params["visits"] = 1
            params |= {"cents": ctx.cents, "ratio": ctx.cents / usual, "usual_cents": usual}
            add(Evidence(code, _clip(llr), params))

    # A tiny charge at a merchant never used before: how a stolen card is tested.
    # Bills and subscriptions are debited whenever the biller likes, at whatever they cost ...
    automatic = ctx.category_essential
    # ... though not at a sliver of what such a bill costs: R$ 1,00 "subscriptions" at a new
    # merchant test a card as well as any other tiny charge.
    billed = automatic and ctx.z_category_prior > -2.0
    # ... unless it is what the household pays there (the metro fare a partner pays too).
    priced = ctx.z_household is not None and ctx.z_household > -2.0
    small = ctx.z_account < -1.0 and not priced
    if ctx.merchant_novel and ctx.history_size >= 10 and small and not billed:
        # Weighed against how often this account pays this little anywhere (its own lower tail,
        # smoothed), not against a bell curve: a commuter's R$ 4,40 fares make small usual.
        # And against the merchants of the category: a cheap one explains a cheap first visit.
        kept = min(ctx.history_size, KEEP_ACCOUNT)
        p_low = (ctx.share_below * kept + 0.5) / (kept + 1)
        p_low = max(p_low, float(stdtr(7, ctx.z_amount)))
        llr = _clip(math.log(P_SMALL_IF_ANOMALY / p_low)) * away(ctx)
        if llr > 0:
            add(Evidence("small_new_merchant", llr, {"cents": ctx.cents, "merchant": ctx.merchant}))

    # An hour this account is never active at: outside the span of its day that holds nearly
    # all of its expenses. Inside it, an hour can still be a rare one on a short history (a
    # first afternoon expense of someone seen in the mornings and evenings), but "15:49 — you
    # usually spend between 07:00 and 20:00" is no reason anyone can act on.
    if ctx.hour_known and ctx.hour_surprise > math.log(3) and not (ctx.recurring or automatic):
        span = active_hours(ctx.hours)
        start, end = span if span else (0, 0)
        if span is None or not within(ctx.local_hour, start, end):
            add(
                Evidence(
                    "unusual_hour",
                    _clip(ctx.hour_surprise),
                    {
                        "hour": ctx.local_hour,
                        "minute": ctx.local_minute,
                        "start": start,
                        "end": end,
                    },
                )
            )

    if ctx.confirmed_similar:
        add(Evidence("confirmed_pattern", CONFIRMED_LLR, {"count": ctx.confirmed_similar}))
    return found


def mitigation(ctx: Context) -> list[Evidence]:
    """Evidence for "normal": a monthly charge, a pattern the spender said is fine."""
    found = []
    if ctx.recurring:
        found.append(Evidence("recurring", RECURRING_LLR, {"merchant": ctx.merchant}))
    if ctx.dismissed_similar:
        k = min(ctx.dismissed_similar, 3)
        found.append(Evidence("dismissed_pattern", 0.0, {"count": k}))
    return found


@dataclass(slots=True)
class Weighed:
    """All explicit evidence on one expense: for it, against it, and how much of it counts.

    ``keep`` is the share of the evidence (the forest's included) that still counts after the
    spender dismissed similar expenses as fine: each "this is fine" keeps a quarter.
    ``keep_repeat`` is that share for the evidence of a repeat (``REPEAT_CODES``), which only
    dismissed repeats lower.
    """

    evidence: list[Evidence]
    against: list[Evidence]
    keep: float = 1.0
    model_cap: float = math.inf  # the most the forest may add on this expense
    keep_repeat: float = 1.0

    def total(self, model_llr: float = 0.0) -> float:
        if self.keep_repeat == self.keep:
            positive = (sum(e.llr for e in self.evidence) + model_llr) * self.keep
        else:  # (without repeats, the very sum above: added in the same order)
            pattern = sum(e.llr for e in self.evidence if e.code not in REPEAT_CODES)
            repeat = sum(e.llr for e in self.evidence if e.code in REPEAT_CODES)
            positive = (pattern + model_llr) * self.keep + repeat * self.keep_repeat
        return positive + sum(e.llr for e in self.against)

    def counted(self, e: Evidence) -> float:
        """How much of ``e`` counts (reasons are ranked by it: an excused price comes after
        a repeat that is not)."""
        return e.llr * (self.keep_repeat if e.code in REPEAT_CODES else self.keep)

    @property
    def llr(self) -> float:
        """The explicit evidence alone, as stored to recalibrate the next version."""
        return self.total()


def weigh(ctx: Context) -> Weighed:
    keep = DISMISSED_KEEP ** min(ctx.dismissed_similar, 3)
    keep_repeat = DISMISSED_KEEP ** min(ctx.dismissed_repeats, 3)
    # Rent, bills, subscriptions: a first landlord or biller, at a price far above the day-to-day,
    # is exactly what the forest finds odd and exactly what nearly everyone pays. Their amount
    # is weighed explicitly against the category instead.
    cap = ESSENTIAL_MODEL_CAP if ctx.category_essential else math.inf
    return Weighed(explicit_evidence(ctx), mitigation(ctx), keep, cap, keep_repeat)


# Last: the compiled build of this very source, where make made one, replaces all of the above.
COMPILED = take_over(globals())
