"""Alert titles and reasons in plain words with the numbers, in pt-BR and English.

Model reasons are the detector's own (rendered by :mod:`models.explain`); rule and budget
reasons are written here. Stored reasons are ``[{code, params}]``; they are rendered in the
reader's language when read, and in the user's language when delivered.
"""

from __future__ import annotations

from models.explain import format_money
from models.explain import render as render_model_reason

WEEKDAYS = {
    "pt-BR": ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
SEVERITY_WORD = {
    "pt-BR": {"low": "baixa", "medium": "média", "high": "alta"},
    "en": {"low": "low", "medium": "medium", "high": "high"},
}

REASONS = {
    "rule_amount_over": {
        "pt-BR": "{amount} acima do limite de {limit}",
        "en": "{amount} is over the limit of {limit}",
    },
    "rule_blocked_merchant": {
        "pt-BR": "compra em estabelecimento bloqueado: {merchant} (contém “{blocked}”)",
        "en": "purchase at a blocked merchant: {merchant} (contains “{blocked}”)",
    },
    "rule_blocked_category": {
        "pt-BR": "despesa em categoria bloqueada: {category}",
        "en": "expense in a blocked category: {category}",
    },
    "rule_weekend": {
        "pt-BR": "{amount} gasto no fim de semana ({day})",
        "en": "{amount} spent on a weekend ({day})",
    },
    "rule_night": {
        "pt-BR": "{amount} gasto às {time}, entre {start} e {end}",
        "en": "{amount} spent at {time}, between {start} and {end}",
    },
    "rule_frequency": {
        "pt-BR": "{count} despesas em {minutes} min (a regra permite até {limit})",
        "en": "{count} expenses within {minutes} min (the rule allows up to {limit})",
    },
    "budget_80": {
        "pt-BR": "{what}: {spent} de {limit} gastos em {month} ({percent}%); restam {left}",
        "en": "{what}: {spent} of {limit} spent in {month} ({percent}%); {left} left",
    },
    "budget_100": {
        "pt-BR": "{what}: {spent} de {limit} gastos em {month} ({percent}%); estourado em {over}",
        "en": "{what}: {spent} of {limit} spent in {month} ({percent}%); over by {over}",
    },
}

TITLES = {
    "model": {
        "pt-BR": ("Despesa suspeita em {where}", "{count} despesas suspeitas em {where}"),
        "en": ("Suspicious expense at {where}", "{count} suspicious expenses at {where}"),
    },
    "rule": {
        "pt-BR": ("Regra “{name}”", "Regra “{name}”: {count} despesas"),
        "en": ("Rule “{name}”", "Rule “{name}”: {count} expenses"),
    },
    "budget": {
        "pt-BR": ("Orçamento de {what} em {percent}% ({month})",) * 2,
        "en": ("Budget for {what} at {percent}% ({month})",) * 2,
    },
}
ALL_CATEGORIES = {"pt-BR": "todas as categorias", "en": "all categories"}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "pt-BR"


def _percent(value: float, lang: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if lang == "pt-BR" else text


def _hour(value: int) -> str:
    return f"{int(value):02d}:00"


def render_reason(code: str, params: dict, lang: str, currency: str) -> str:
    lang = _lang(lang)
    template = REASONS.get(code, {}).get(lang)
    if template is None:
        return render_model_reason(code, params, lang, currency)
    values = dict(params)
    for key in ("cents", "limit_cents", "spent_cents", "left_cents"):
        if key in values:
            name = "amount" if key == "cents" else key.removesuffix("_cents")
            values[name] = format_money(values[key], currency, lang)
    if "left_cents" in values:
        values["over"] = format_money(-values["left_cents"], currency, lang)
    if "weekday" in values:
        values["day"] = WEEKDAYS[lang][values["weekday"]]
    for key in ("start", "end"):
        if key in values:
            values[key] = _hour(values[key])
    if "percent" in values:
        values["percent"] = _percent(values["percent"], lang)
    values["what"] = values.get("category") or ALL_CATEGORIES[lang]
    return template.format(**values)


def render_title(row, lang: str) -> str:
    lang = _lang(lang)
    source = row["source"]
    cause = row["cause"]
    single, many = TITLES[source][lang]
    count = row["hits"]
    values = {"count": count, "name": cause.get("rule_name", "?")}
    if source == "model":
        values["where"] = cause.get("merchant") or cause.get("category") or "?"
    if source == "budget":
        values["what"] = cause.get("category") or ALL_CATEGORIES[lang]
        values["percent"] = cause.get("threshold")
        values["month"] = row["period"]
    return (single if count <= 1 else many).format(**values)


def severity_word(severity: str, lang: str) -> str:
    return SEVERITY_WORD[_lang(lang)].get(severity, severity)
