"""Reasons in plain words, with the numbers, in Brazilian Portuguese and English."""

from __future__ import annotations

import re
from decimal import Decimal

from models.compiled import take_over
from models.evidence import Evidence

LANGS = ("pt-BR", "en")

TEMPLATES = {
    "duplicate": {
        "pt-BR": "mesmo valor em {merchant} há {minutes} min",
        "en": "same amount at {merchant} {minutes} min ago",
    },
    "near_duplicate": {
        "pt-BR": "quase o mesmo valor em {merchant}: {previous} há {minutes} min, agora {amount}",
        "en": "almost the same amount at {merchant}: {previous} {minutes} min ago, now {amount}",
    },
    "near_duplicate_plain": {  # stored before the earlier amount was kept
        "pt-BR": "quase o mesmo valor ({amount}) em {merchant} há {minutes} min",
        "en": "almost the same amount ({amount}) at {merchant} {minutes} min ago",
    },
    "burst": {
        "pt-BR": "{count} cobranças em {merchant} em {minutes} {minutes|minuto|minutos}",
        "en": "{count} charges at {merchant} in {minutes} {minutes|minute|minutes}",
    },
    "split": {
        "pt-BR": "{count} cobranças logo abaixo de {limit} em {merchant} em {minutes} min "
        "(total {total})",
        "en": "{count} charges just under {limit} at {merchant} in {minutes} min (total {total})",
    },
    "amount_spike": {
        "pt-BR": "{amount} é {ratio}× o seu gasto habitual em {category}",
        "en": "{amount} is {ratio}× your usual for {category}",
    },
    "typical_amount": {
        "pt-BR": "{amount} é {ratio}× o valor típico em {category}",
        "en": "{amount} is {ratio}× what {category} typically costs",
    },
    "merchant_amount": {
        "pt-BR": "{amount} é {ratio}× o que você costuma pagar em {merchant}",
        "en": "{amount} is {ratio}× what you usually pay at {merchant}",
    },
    "merchant_amount_once": {
        "pt-BR": "{amount} é {ratio}× o que você pagou em {merchant} na única vez anterior",
        "en": "{amount} is {ratio}× what you paid at {merchant} the only time before",
    },
    "new_category": {
        "pt-BR": "primeira despesa em {category}: {amount} (seu gasto típico é {usual})",
        "en": "first expense in {category}: {amount} (you typically spend {usual})",
    },
    "new_category_plain": {
        "pt-BR": "primeira despesa em {category} ({amount})",
        "en": "first expense in {category} ({amount})",
    },
    "rare_category": {
        "pt-BR": "{amount} em {category}, onde você gastou só {count} {count|vez|vezes} até hoje",
        "en": "{amount} in {category}, where you spent only {count} {count|time|times} before",
    },
    "new_merchant_amount": {
        "pt-BR": "primeira compra em {merchant}, {amount}: {ratio}× o habitual em {category}",
        "en": "first purchase at {merchant}, {amount}: {ratio}× your usual for {category}",
    },
    "small_new_merchant": {
        "pt-BR": "cobrança pequena ({amount}) em {merchant}, onde você nunca comprou",
        "en": "small charge ({amount}) at {merchant}, where you never bought before",
    },
    "unusual_hour": {
        "pt-BR": "{time} — você costuma gastar entre {start} e {end}",
        "en": "{time} — you are usually active {start}–{end}",
    },
    "confirmed_pattern": {
        "pt-BR": "parecida com {count} {count|despesa|despesas} que você confirmou como fraude",
        "en": "similar to {count} {count|expense|expenses} you confirmed as fraud",
    },
    "model": {  # stored before the model named its aspects, or none stood out
        "pt-BR": "combinação incomum de valor, horário e histórico (modelo)",
        "en": "unusual combination of amount, time and history (model)",
    },
    "model_aspects": {
        "pt-BR": "incomum para você: {aspects} (modelo)",
        "en": "unusual for you: {aspects} (model)",
    },
    "dismissed_pattern": {
        "pt-BR": "parecida com {count} {count|despesa|despesas} que você marcou como "
        "{count|normal|normais}",
        "en": "similar to {count} {count|expense|expenses} you marked as fine",
    },
}
MONEY = {
    "cents": "amount",
    "usual_cents": "usual",
    "limit_cents": "limit",
    "total_cents": "total",
    "previous_cents": "previous",
}


def currency_prefix(currency: str, lang: str = "pt-BR") -> str:
    """What goes before the digits: ``"R$ "`` in pt-BR, ``"R$"`` in English, ``"GBP "``."""
    symbol = {"BRL": "R$", "USD": "US$" if lang == "pt-BR" else "$", "EUR": "€"}.get(
        currency, currency
    )
    if lang == "pt-BR" or (len(symbol) > 3 or symbol.isalpha()):
        return f"{symbol} "
    return symbol


def format_money(cents: int | float, currency: str = "BRL", lang: str = "pt-BR") -> str:
    """``R$ 1.234,56`` in pt-BR, ``R$1,234.56`` in English; a minus goes before the symbol."""
    value = Decimal(int(round(cents))) / 100
    text = f"{abs(value):,.2f}"
    if lang == "pt-BR":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return ("-" if value < 0 else "") + currency_prefix(currency, lang) + text


def _number(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:,.{digits}f}"  # 7,143.5 -> pt-BR 7.143,5
    return text.translate(str.maketrans(",.", ".,")) if lang == "pt-BR" else text


# "{count|despesa|despesas}": the singular when ``count`` is 1, else the plural (0 included,
# in both languages). The interface's strings (vigilante/i18n.py) use the same form.
_PLURAL = re.compile(r"\{(\w+)\|([^|{}]*)\|([^|{}]*)\}")


def plural(text: str, values: dict) -> str:
    """Each ``{name|singular|plural}`` of ``text`` as the form ``values[name]`` calls for."""
    return _PLURAL.sub(lambda m: m[2] if values.get(m[1]) in (1, "1") else m[3], text)


ASPECT_WORDS = {  # models.detector.ASPECTS
    "amount": {"pt-BR": "o valor", "en": "the amount"},
    "new_category": {"pt-BR": "a categoria nova", "en": "the new category"},
    "new_merchant": {"pt-BR": "o estabelecimento novo", "en": "the new merchant"},
    "repeats": {"pt-BR": "as cobranças repetidas", "en": "the repeated charges"},
    "hour": {"pt-BR": "o horário", "en": "the hour"},
    "pace": {"pt-BR": "o número de despesas na última hora", "en": "the last hour's expenses"},
    "recurring": {"pt-BR": "a recorrência", "en": "the recurrence"},
    "weekday": {"pt-BR": "o dia da semana", "en": "the day of the week"},
}
AND = {"pt-BR": " e ", "en": " and "}


def render(code: str, params: dict, lang: str = "pt-BR", currency: str = "BRL") -> str:
    """One reason as a sentence with its numbers; unknown codes are shown as they are."""
    lang = lang if lang in LANGS else "pt-BR"
    if code == "new_category" and params.get("usual_cents") is None:
        code = "new_category_plain"
    elif code == "near_duplicate" and params.get("previous_cents") is None:
        code = "near_duplicate_plain"
    elif code == "merchant_amount" and params.get("visits") == 1:
        code = "merchant_amount_once"
    elif code == "model" and params.get("aspects"):
        code = "model_aspects"
        words = [ASPECT_WORDS.get(a, {}).get(lang, a) for a in params["aspects"]]
        params = dict(params, aspects=AND[lang].join(words))
    template = TEMPLATES.get(code, {}).get(lang)
    if template is None:
        return code
    values = dict(params)
    for key, name in MONEY.items():
        if values.get(key) is not None:
            values[name] = format_money(values[key], currency, lang)
    if "ratio" in values:
        ratio = float(values["ratio"])
        values["ratio"] = _number(ratio, lang, 1 if ratio < 10 else 0)
    if "minutes" in values:
        minutes = max(1, round(values["minutes"]))
        values["minutes"] = str(minutes)
    if "hour" in values:
        values["time"] = f"{int(values['hour']):02d}:{int(values.get('minute', 0)):02d}"
    for key in ("start", "end"):
        if key in values:
            values[key] = f"{int(values[key]):02d}:00"
    for key in ("merchant", "category"):
        if key in values and not values[key]:
            values[key] = "?"
    try:
        return plural(template, values).format(**values)
    except (KeyError, ValueError, IndexError):  # reasons stored by an older version
        return code


def reasons(evidence: list[Evidence], lang: str = "pt-BR", currency: str = "BRL") -> list[dict]:
    ranked = sorted(evidence, key=lambda e: e.llr, reverse=True)
    return [{"code": e.code, "message": render(e.code, e.params, lang, currency)} for e in ranked]


# Last: the compiled build of this very source, where make made one, replaces all of the above.
COMPILED = take_over(globals())
