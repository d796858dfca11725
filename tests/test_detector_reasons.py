"""The reasons, word for word, with their numbers, in Brazilian Portuguese and English."""

from __future__ import annotations

import pytest

from models.evidence import Evidence
from models.explain import format_money, reasons, render

CASES = [
    (
        "duplicate",
        {"merchant": "Padaria", "cents": 4250, "minutes": 3.2},
        "mesmo valor em Padaria há 3 min",
        "same amount at Padaria 3 min ago",
    ),
    (
        "near_duplicate",
        {"merchant": "Padaria", "cents": 4255, "minutes": 2, "previous_cents": 4250},
        "quase o mesmo valor em Padaria: R$ 42,50 há 2 min, agora R$ 42,55",
        "almost the same amount at Padaria: R$42.50 2 min ago, now R$42.55",
    ),
    (  # stored before the earlier amount was kept
        "near_duplicate",
        {"merchant": "Padaria", "cents": 4255, "minutes": 2},
        "quase o mesmo valor (R$ 42,55) em Padaria há 2 min",
        "almost the same amount (R$42.55) at Padaria 2 min ago",
    ),
    (
        "burst",
        {"merchant": "WEB-7731", "count": 4, "minutes": 9.4},
        "4 cobranças em WEB-7731 em 9 minutos",
        "4 charges at WEB-7731 in 9 minutes",
    ),
    (
        "amount_spike",
        {"cents": 95000, "ratio": 8.34, "category": "alimentação", "usual_cents": 11400},
        "R$ 950,00 é 8,3× o seu gasto habitual em alimentação",
        "R$950.00 is 8.3× your usual for alimentação",
    ),
    (
        "burst",
        {"merchant": "WEB-7731", "count": 2, "minutes": 0.6},
        "2 cobranças em WEB-7731 em 1 minuto",
        "2 charges at WEB-7731 in 1 minute",
    ),
    (
        "typical_amount",
        {"cents": 25000000, "ratio": 7142.9, "category": "alimentação", "usual_cents": 3500},
        "R$ 250.000,00 é 7.143× o valor típico em alimentação",
        "R$250,000.00 is 7,143× what alimentação typically costs",
    ),
    (
        "merchant_amount",
        {"cents": 123456, "ratio": 12.4, "merchant": "Zara"},
        "R$ 1.234,56 é 12× o que você costuma pagar em Zara",
        "R$1,234.56 is 12× what you usually pay at Zara",
    ),
    (
        "new_category",
        {"category": "joalheria", "cents": 130000, "usual_cents": 4500},
        "primeira despesa em joalheria: R$ 1.300,00 (seu gasto típico é R$ 45,00)",
        "first expense in joalheria: R$1,300.00 (you typically spend R$45.00)",
    ),
    (
        "new_category",
        {"category": "moradia", "cents": 185000, "usual_cents": None},
        "primeira despesa em moradia (R$ 1.850,00)",
        "first expense in moradia (R$1,850.00)",
    ),
    (
        "new_merchant_amount",
        {"merchant": "Loja X", "cents": 90000, "ratio": 6.0, "category": "casa"},
        "primeira compra em Loja X, R$ 900,00: 6,0× o habitual em casa",
        "first purchase at Loja X, R$900.00: 6.0× your usual for casa",
    ),
    (
        "split",
        {
            "merchant": "Carrefour",
            "count": 3,
            "limit_cents": 50000,
            "total_cents": 146320,
            "minutes": 25,
        },
        "3 cobranças logo abaixo de R$ 500,00 em Carrefour em 25 min (total R$ 1.463,20)",
        "3 charges just under R$500.00 at Carrefour in 25 min (total R$1,463.20)",
    ),
    (
        "rare_category",
        {"category": "eletrônicos", "count": 1, "cents": 130000},
        "R$ 1.300,00 em eletrônicos, onde você gastou só 1 vez até hoje",
        "R$1,300.00 in eletrônicos, where you spent only 1 time before",
    ),
    (
        "small_new_merchant",
        {"merchant": "PG*SERV", "cents": 137},
        "cobrança pequena (R$ 1,37) em PG*SERV, onde você nunca comprou",
        "small charge (R$1.37) at PG*SERV, where you never bought before",
    ),
    (
        "unusual_hour",
        {"hour": 2, "minute": 14, "start": 9, "end": 21},
        "02:14 — você costuma gastar entre 09:00 e 21:00",
        "02:14 — you are usually active 09:00–21:00",
    ),
    (
        "dismissed_pattern",
        {"count": 2},
        "parecida com 2 despesas que você marcou como normais",
        "similar to 2 expenses you marked as fine",
    ),
    (
        "confirmed_pattern",
        {"count": 1},
        "parecida com 1 despesa que você confirmou como fraude",
        "similar to 1 expense you confirmed as fraud",
    ),
    (
        "merchant_amount",
        {
            "merchant": "Posto Shell",
            "cents": 47361,
            "ratio": 13.59,
            "usual_cents": 3484,
            "visits": 1,
        },
        "R$ 473,61 é 14× o que você pagou em Posto Shell na única vez anterior",
        "R$473.61 is 14× what you paid at Posto Shell the only time before",
    ),
    (
        "model",
        {"aspects": ["amount", "hour"]},
        "incomum para você: o valor e o horário (modelo)",
        "unusual for you: the amount and the hour (model)",
    ),
    (  # stored before the model named its aspects
        "model",
        {},
        "combinação incomum de valor, horário e histórico (modelo)",
        "unusual combination of amount, time and history (model)",
    ),
    (
        "rare_category",
        {"category": "pets", "count": 2, "cents": 9000},
        "R$ 90,00 em pets, onde você gastou só 2 vezes até hoje",
        "R$90.00 in pets, where you spent only 2 times before",
    ),
    (
        "dismissed_pattern",
        {"count": 1},
        "parecida com 1 despesa que você marcou como normal",
        "similar to 1 expense you marked as fine",
    ),
]


@pytest.mark.parametrize(("code", "params", "pt", "en"), CASES)
def test_each_reason_reads_with_its_numbers_in_both_languages(code, params, pt, en):
    assert render(code, params, "pt-BR") == pt
    assert render(code, params, "en") == en


def test_reasons_are_ranked_strongest_first():
    found = reasons(
        [
            Evidence("unusual_hour", 1.0, {"hour": 2, "minute": 0, "start": 9, "end": 21}),
            Evidence("duplicate", 4.0, {"merchant": "Padaria", "cents": 100, "minutes": 1}),
        ],
        "en",
    )
    assert [r["code"] for r in found] == ["duplicate", "unusual_hour"]
    assert found[0]["message"] == "same amount at Padaria 1 min ago"


def test_money_formats_and_unknown_or_stale_reasons_never_break():
    assert format_money(123456789, "BRL", "pt-BR") == "R$ 1.234.567,89"
    assert format_money(123456789, "BRL", "en") == "R$1,234,567.89"
    assert format_money(500, "USD", "en") == "$5.00"
    assert render("something_new", {}, "en") == "something_new"
    assert render("burst", {"merchant": "X"}, "en") == "burst"  # missing numbers: the code
    assert render("duplicate", {"merchant": "", "cents": 1, "minutes": 0}, "xx") == (
        "mesmo valor em ? há 1 min"
    )
