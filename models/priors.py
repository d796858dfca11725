"""What any spender's expenses look like, before we know this spender: the cold-start priors.

A small table of common expense categories (Brazilian Portuguese and English names) with a
typical amount in BRL, a log-scale spread, and whether nearly everyone pays it every month
(rent, utilities, subscriptions). A category nobody has seen before falls back to a wide
generic prior. Amounts are compared on a natural-log scale.

The table is knowledge about households, not about any simulator: rent is large and monthly
for almost everyone, a bakery bill is small, a television is dear.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class CategoryPrior:
    center: float  # log of the typical amount in currency units
    scale: float  # log-scale spread
    essential: bool  # paid by nearly everyone, usually monthly
    yearly: bool = False  # often paid a year at a time instead (a plan, a premium)


PRIORS_CURRENCY = "BRL"  # the table's amounts
GENERIC = CategoryPrior(math.log(60.0), 1.3, False)

# typical amount (R$), log spread, essential
_TABLE: dict[tuple[str, ...], tuple[float, float, bool]] = {
    (
        "moradia",
        "aluguel",
        "housing",
        "rent",
        "condominio",
        "condomínio",
        "hoa",
        "mortgage",
        "financiamento imobiliário",
        "prestação da casa",
    ): (1500, 0.7, True),
    (
        "contas",
        "contas de casa",
        "utilidades",
        "utilities",
        "bills",
        "luz",
        "energia",
        "água",
        "agua",
        "gás",
        "gas",
        "internet",
        "telefone",
        "celular",
        "phone",
        "mobile",
        "electricity",
        "water",
        "contas de consumo",
        "serviços públicos",
        "tv",
        "cable",
    ): (120, 0.7, True),
    (
        "assinaturas",
        "assinatura",
        "streaming",
        "subscriptions",
        "subscription",
        "memberships",
        "membership",
        "academia",
        "gym",
        "fitness",
    ): (40, 0.7, True),
    ("mercado", "supermercado", "groceries", "grocery", "supermarket", "supermarkets"): (
        150,
        0.8,
        False,
    ),
    (
        "alimentação",
        "alimentacao",
        "restaurante",
        "restaurantes",
        "food",
        "restaurants",
        "padaria",
        "bakery",
        "café",
        "cafe",
        "coffee",
        "lanche",
        "delivery",
        "dining",
        "dining out",
        "eating out",
        "restaurant",
        "takeout",
        "fast food",
        "coffee shop",
        "lunch",
        "food and drink",
        "food & drink",
        "bebidas",
        "bares e restaurantes",
        "ifood",
    ): (35, 0.7, False),
    (
        "transporte",
        "transport",
        "transportation",
        "uber",
        "táxi",
        "taxi",
        "combustível",
        "combustivel",
        "fuel",
        "gasolina",
        "estacionamento",
        "parking",
        "car",
        "auto",
        "gas station",
        "rideshare",
        "ride share",
        "public transport",
        "metro",
        "bus",
        "ônibus",
        "pedágio",
        "tolls",
        "gas & fuel",
        "gas and fuel",
        "auto & transport",
        "auto and transport",
        "mobilidade",
        "veículo",
        "veiculo",
    ): (40, 1.0, False),
    (
        "saúde",
        "saude",
        "health",
        "farmácia",
        "farmacia",
        "pharmacy",
        "médico",
        "medico",
        "doctor",
        "healthcare",
        "medical",
        "dentist",
        "dentista",
        "health & fitness",
        "bem-estar",
        "bem estar",
        "drogaria",
    ): (90, 0.9, False),
    ("plano de saúde", "seguro", "seguros", "insurance"): (400, 0.7, True),
    # Not "nearly everyone, monthly": books and courses are occasional; a monthly tuition is
    # recognised as a monthly charge from its second month.
    ("educação", "educacao", "education", "escola", "school", "curso", "cursos"): (250, 1.0, False),
    ("lazer", "entretenimento", "entertainment", "leisure", "bar", "bares", "hobbies", "movies"): (
        80,
        0.8,
        False,
    ),
    ("vestuário", "vestuario", "roupas", "clothing", "clothes", "apparel", "shoes", "calçados"): (
        160,
        0.7,
        False,
    ),
    ("casa", "home", "household", "móveis", "moveis", "furniture", "home improvement"): (
        200,
        1.0,
        False,
    ),
    ("pets", "pet", "pet shop", "petshop", "pet store", "animais", "animais de estimação"): (
        100,
        0.7,
        False,
    ),
    ("beleza", "beauty", "cuidados pessoais", "personal care", "estética", "salão"): (
        80,
        0.7,
        False,
    ),
    # Shopping in general: what a department store or a marketplace sells, cheap and dear.
    ("compras", "shopping", "lojas", "varejo", "retail", "marketplace"): (150, 1.1, False),
    ("presentes", "gifts", "doações", "doacoes", "donations", "charity", "gifts & donations"): (
        120,
        1.0,
        False,
    ),
    ("filhos", "crianças", "criancas", "kids", "children", "childcare", "creche"): (
        150,
        1.0,
        False,
    ),
    (
        "viagem",
        "viagens",
        "travel",
        "hotel",
        "hotels",
        "hospedagem",
        "passagem",
        "passagens",
        "flights",
        "airfare",
        "lodging",
    ): (
        600,
        1.0,
        False,
    ),
    ("eletrônicos", "eletronicos", "electronics", "tecnologia", "tech", "gadgets"): (
        800,
        1.0,
        False,
    ),
    ("impostos", "taxes", "tarifas", "fees", "taxas", "fees & charges", "bank fees"): (
        150,
        1.2,
        False,
    ),
}
# Categories whose monthly price is also sold by the year: a subscription's annual plan, an
# insurance premium paid at once.
YEARLY = {"assinaturas", "plano de saúde"}
PRIORS: dict[str, CategoryPrior] = {
    name: CategoryPrior(math.log(typical), spread, essential, names[0] in YEARLY)
    for names, (typical, spread, essential) in _TABLE.items()
    for name in names
}


def fold(text: str) -> str:
    """Case- and accent-insensitive key: "Saúde " -> "saude"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_FOLDED = {fold(name): prior for name, prior in PRIORS.items()}
_CONCEPT = {fold(name): names[0] for names in _TABLE for name in names}


# Where stolen cards are spent: goods and credits that resell or cash out at once (card-fraud
# research and the card networks' high-risk merchant categories: jewellery, betting, crypto
# and other quasi-cash, gift cards). Knowledge about fraud, not about any one spender.
_RISKY = {
    fold(name)
    for name in (
        "joalheria",
        "joias",
        "jewelry",
        "jewellery",
        "apostas",
        "aposta",
        "betting",
        "gambling",
        "cassino",
        "casino",
        "cripto",
        "criptomoedas",
        "crypto",
        "cryptocurrency",
        "gift cards",
        "gift card",
        "vale-presente",
        "cartão-presente",
        "cartões-presente",
    )
}


# Apps and banks name categories in compounds ("Bills & Utilities", "Saúde e bem-estar",
# "Casa / Decoração"): a compound is known by its first part that is.
_PARTS = re.compile(r"\s*(?:&|/|,|;|:|>|\+|\||–|—)\s*|\s+(?:e|and|-)\s+")
# A part that names different things in the two languages ("gás" of the stove, "gas" of the
# car): it counts only when no other part of the compound is known ("Gas / Fuel" is fuel).
_AMBIGUOUS = {"gas"}


def _parts(category: str) -> list[str]:
    key = fold(category)
    return [key] + [part for part in _PARTS.split(key) if part and part != key]


@lru_cache(maxsize=4096)
def risky_category(category: str) -> bool:
    return any(part in _RISKY for part in _parts(category))


@lru_cache(maxsize=4096)
def _known(category: str) -> str | None:
    """The table's (folded) name for a category, or None when it is not a known one.

    A name with a high-risk part ("Apostas e lazer", "Joias e presentes") is none of the
    table's common kinds: its first time must weigh as a first time where stolen cards are
    spent, not pass as leisure or gifts the household already pays."""
    parts = _parts(category)
    if any(part in _RISKY for part in parts):
        return None
    if parts[0] in _FOLDED:
        return parts[0]
    known = [part for part in parts[1:] if part in _FOLDED]
    return next((part for part in known if part not in _AMBIGUOUS), known[0] if known else None)


@lru_cache(maxsize=4096)
def category_prior(category: str) -> CategoryPrior | None:
    """The built-in prior of a category name, or None when the name is not a known one."""
    known = _known(category)
    return _FOLDED[known] if known else None


@lru_cache(maxsize=4096)
def category_concept(category: str) -> str:
    """One name for the kinds of spending people name differently: "Saúde", "health" and
    "farmácia" are one ("saúde"); a name the table does not know is its own, folded."""
    known = _known(category)
    return _CONCEPT[known] if known else fold(category)
