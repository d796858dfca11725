"""Varied, realistic expense bodies for load generators (the same shapes as post_event.lua)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

CATEGORIES = ["alimentação", "mercado", "transporte", "saúde", "lazer", "farmácia"]
MERCHANTS = [
    "Padaria Pão de Mel",
    "Supermercado Dia",
    "Uber",
    "Drogasil",
    "iFood",
    "Posto Shell",
    "Cinemark",
    "Café Central",
    "Loja Americanas",
    "Restaurante Sabor",
]
START = datetime(2026, 1, 1, tzinfo=UTC)


def expense_payload(i: int, rng: random.Random | None = None) -> dict:
    rng = rng or random
    return {
        "amount": round(2.718281828 ** (rng.random() * 3 + 2), 2),
        "category": rng.choice(CATEGORIES),
        "merchant": rng.choice(MERCHANTS),
        "account": f"card-{rng.randint(1, 20)}",
        "occurred_at": (START + timedelta(seconds=i * 97 + rng.randint(0, 90))).isoformat(),
    }
