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
