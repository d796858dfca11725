"""Instants in answers: epoch milliseconds spelt exactly as ``datetime.isoformat`` spells them."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from vigilante.rendering import iso_ms


def test_instants_are_spelt_as_datetime_spells_them():
    def reference(ms):
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")

    rng = random.Random(7)
    lo = int(datetime(1900, 1, 1, tzinfo=UTC).timestamp() * 1000)
    hi = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp() * 1000)
    samples = [rng.randint(lo, hi) for _ in range(20_000)]
    samples += [rng.randint(lo, hi) // 1000 * 1000 for _ in range(2_000)]  # whole seconds
    samples += [0, 1, -1, 999, 1000, 86_399_999, 86_400_000, -86_400_000, 1_772_469_000_250]
    assert [iso_ms(ms) for ms in samples] == [reference(ms) for ms in samples]
    assert iso_ms(1_772_469_000_250) == "2026-03-02T16:30:00.250000Z"
    assert iso_ms(1_772_469_000_000) == "2026-03-02T16:30:00Z"
    assert iso_ms(None) is None


def test_counts_in_the_interface_take_the_singular_only_for_one():
    from vigilante.i18n import t

    assert t("imp_go", "pt-BR", count=1) == "Importar 1 despesa"
    assert t("imp_go", "pt-BR", count=0) == "Importar 0 despesas"
    assert t("imp_go", "en", count=2) == "Import 2 expenses"
    assert t("al_sidebar_open", "en", count=1) == ":red-badge[1] open alert"
    summary = t("imp_summary", "pt-BR", expenses=1, skipped=3, errors=0)
    assert summary == "1 despesa a importar, 3 ignoradas, 0 com erro."
