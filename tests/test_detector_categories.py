"""Which category a first expense lands in, and at what price, on ana's hand-made history.

The helpers and ana's two months of ordinary life are those of ``tests/test_detector.py``.
"""

from __future__ import annotations

# The fixtures ``ana`` and ``life`` too: pytest finds fixtures imported into a test module.
from tests.test_detector import ana, at, codes, event, evidence_of, life  # noqa: F401


def test_a_first_purchase_at_a_price_its_category_usually_has_weighs_less(ana):  # noqa: F811
    # Ana spends R$ 15-250 on bread, lunch, rides and groceries. A first hardware-store
    # purchase at what such purchases cost is dear for her, but not strange; the same amount
    # in betting, a category nobody around her uses, is.
    home = ana.score(event(at(61, 12, 40), 420.00, "casa", "Leroy Merlin"))
    betting = ana.score(event(at(61, 12, 50), 420.00, "apostas", "Betano"))
    assert codes(home)[0] == codes(betting)[0] == "new_category"
    assert evidence_of(home, "new_category") < evidence_of(betting, "new_category") - 2
    assert home.evidence[0].params["usual_cents"] is None  # judged against the category
    assert betting.evidence[0].params["usual_cents"] is not None  # against her usual


def test_a_first_expense_below_the_usual_quotes_no_usual(ana):  # noqa: F811
    # The category alone weighs here (one nobody around her uses); "R$ 10,00 (your typical
    # expense is R$ 35,00)" would quote a comparison that is not the reason.
    betting = ana.score(event(at(61, 12, 50), 10.00, "apostas", "Betano"))
    assert codes(betting)[0] == "new_category"
    assert betting.evidence[0].params["usual_cents"] is None


def test_a_high_risk_name_in_a_compound_is_no_common_kind(life):  # noqa: F811
    # "Apostas e lazer" is betting first: its first time weighs as a first bet does, not as a
    # first evening out (leisure is one of the common kinds the built-in table knows).
    from models.priors import category_concept, category_prior
    from tests.test_detector import Scorer

    assert category_concept("Apostas e lazer") != category_concept("lazer")
    assert category_prior("Joias e presentes") is None
    verdicts = []
    for name in ("apostas", "Apostas e lazer", "lazer"):
        scorer = Scorer()
        scorer.replay([event(e.ts, e.cents / 100, e.category, e.merchant) for e in life])
        verdicts.append(scorer.score(event(at(61, 21, 10), 420.00, name, "Betano")))
    plain, compound, leisure = (evidence_of(v, "new_category") for v in verdicts)
    assert compound == plain
    assert compound > leisure + 1
