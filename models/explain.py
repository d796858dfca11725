"""Reasons in plain words, with the numbers, in Brazilian Portuguese and English."""

from __future__ import annotations

from decimal import Decimal

from models.evidence import Evidence

LANGS = ("pt-BR", "en")

TEMPLATES = {
    "duplicate": {
        "pt-BR": "mesmo valor em {merchant} há {minutes} min",
        "en": "same amount at {merchant} {minutes} min ago",
    },
    "burst": {
        "pt-BR": "{count} cobranças em {merchant} em {minutes} minutos",
        "en": "{count} charges at {merchant} in {minutes} minutes",
    },
    "amount_spike": {
        "pt-BR": "{amount} é {ratio}× o seu gasto habitual em {category}",
        "en": "{amount} is {ratio}× your usual for {category}",
    },
    "merchant_amount": {
        "pt-BR": "{amount} está muito acima do que você costuma pagar em {merchant}",
        "en": "{amount} is far above what you usually pay at {merchant}",
    },
    "new_category": {
        "pt-BR": "primeira despesa em {category}",
        "en": "first expense in {category}",
    },
    "new_merchant_amount": {
        "pt-BR": "estabelecimento novo ({merchant}) com valor fora do comum: {amount}",
        "en": "new merchant ({merchant}) with an unusual amount: {amount}",
    },
    "unusual_hour": {
        "pt-BR": "{hour} — você costuma gastar entre {start} e {end}",
        "en": "{hour} — you are usually active {start}–{end}",
    },
    "confirmed_pattern": {
        "pt-BR": "parecida com {count} despesa(s) que você confirmou como fraude",
        "en": "similar to {count} expense(s) you confirmed as fraud",
    },
    "model": {
        "pt-BR": "combinação incomum de valor, horário e histórico (modelo)",
        "en": "unusual combination of amount, time and history (model)",
    },
    "dismissed_pattern": {
        "pt-BR": "parecida com {count} despesa(s) que você marcou como normais",
        "en": "similar to {count} expense(s) you marked as fine",
    },
}


def format_money(cents: int | float, currency: str = "BRL", lang: str = "pt-BR") -> str:
    """``R$ 1.234,56`` in pt-BR, ``R$1,234.56`` in English."""
    value = Decimal(int(round(cents))) / 100
    symbol = {"BRL": "R$", "USD": "US$" if lang == "pt-BR" else "$", "EUR": "€"}.get(
        currency, currency
    )
    text = f"{value:,.2f}"
    if lang == "pt-BR":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return f"{symbol} {text}"
    return f"{symbol}{text}" if len(symbol) <= 3 and not symbol.isalpha() else f"{symbol} {text}"


def _number(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "pt-BR" else text


def render(code: str, params: dict, lang: str = "pt-BR", currency: str = "BRL") -> str:
    lang = lang if lang in LANGS else "pt-BR"
    template = TEMPLATES.get(code, {}).get(lang)
    if template is None:
        return code
    values = dict(params)
    if "cents" in values:
        values["amount"] = format_money(values["cents"], currency, lang)
    if "ratio" in values:
        values["ratio"] = _number(values["ratio"], lang)
    if "minutes" in values:
        values["minutes"] = str(max(1, round(values["minutes"])))
    for key in ("hour", "start", "end"):
        if key in values:
            values[key] = f"{int(values[key]):02d}:00"
    for key in ("merchant", "category"):
        if key in values and not values[key]:
            values[key] = "?"
    return template.format(**values)


def reasons(evidence: list[Evidence], lang: str = "pt-BR", currency: str = "BRL") -> list[dict]:
    ranked = sorted(evidence, key=lambda e: e.strength, reverse=True)
    return [{"code": e.code, "message": render(e.code, e.params, lang, currency)} for e in ranked]
