"""The entry form's strict reading of a typed amount (importers.parse_typed_amount).

Bank statements go through the lenient ``parse_amount`` (tests/test_importers.py); what a person
types is read only when it cannot mean anything else, and refused with a reason otherwise.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from vigilante import i18n
from vigilante.importers import AmountError, parse_amount, parse_typed_amount

ACCEPTED = [
    ("42,50", "42.50"),
    ("42.50", "42.50"),
    ("42,5", "42.5"),
    ("42", "42"),
    ("1234,56", "1234.56"),
    ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"),
    ("1.234,5", "1234.5"),
    ("12.345,00", "12345.00"),
    ("12,345.00", "12345.00"),
    ("1.234.567", "1234567"),
    ("1,234,567", "1234567"),
    ("1.234.567,89", "1234567.89"),
    ("R$ 1.234,56", "1234.56"),
    ("R$1.234,56", "1234.56"),
    ("r$ 12,00", "12.00"),
    ("R$\xa012,00", "12.00"),
    ("  42,50  ", "42.50"),
    (",50", "0.50"),
    ("0,01", "0.01"),
    ("007", "7"),
]

PT_PLACES = "no máximo 2 casas decimais"
PT_LETTERS = "não é um número: use só algarismos, como 1.234,56"
PT_GROUPS = (
    "separadores fora do lugar: vírgula antes dos centavos e ponto a cada 3 algarismos, "
    "como 1.234,56"
)
PT_POSITIVE = "deve ser maior que 0"
PT_MISSING = "campo obrigatório"

REFUSED = [
    # three or more decimals: no thousands grouping starts with 0 or with 4+ digits
    ("0,001", "decimal_max_places", PT_PLACES),
    ("0.001", "decimal_max_places", PT_PLACES),
    ("1234,567", "decimal_max_places", PT_PLACES),
    ("12.3456", "decimal_max_places", PT_PLACES),
    ("12.345,678", "decimal_max_places", PT_PLACES),
    ("1,234.567", "decimal_max_places", PT_PLACES),
    # stray letters and other characters
    ("5C", "amount_characters", PT_LETTERS),
    ("12,00 D", "amount_characters", PT_LETTERS),
    ("abc", "amount_characters", PT_LETTERS),
    ("1e3", "amount_characters", PT_LETTERS),
    ("1 234,56", "amount_characters", PT_LETTERS),
    ("+5", "amount_characters", PT_LETTERS),
    ("(12,00)", "amount_characters", PT_LETTERS),
    ("US$ 5", "amount_characters", PT_LETTERS),
    ("NaN", "amount_characters", PT_LETTERS),
    (".", "amount_characters", PT_LETTERS),
    # separators out of place: malformed groups, several decimal marks, nothing after one
    ("1.2.3", "amount_grouping", PT_GROUPS),
    ("1,2,3", "amount_grouping", PT_GROUPS),
    ("1.23.456", "amount_grouping", PT_GROUPS),
    ("1234.567.890", "amount_grouping", PT_GROUPS),
    ("0.123,45", "amount_grouping", PT_GROUPS),
    ("1.2,50", "amount_grouping", PT_GROUPS),
    ("1,234.56.7", "amount_grouping", PT_GROUPS),
    ("1.234,56,7", "amount_grouping", PT_GROUPS),
    (".234,56", "amount_grouping", PT_GROUPS),
    ("42,", "amount_grouping", PT_GROUPS),
    # zero, negative, empty
    ("0", "greater_than", PT_POSITIVE),
    ("0,00", "greater_than", PT_POSITIVE),
    ("-5", "greater_than", PT_POSITIVE),
    ("-1.234,56", "greater_than", PT_POSITIVE),
    ("R$ -5", "greater_than", PT_POSITIVE),
    ("", "missing", PT_MISSING),
    ("   ", "missing", PT_MISSING),
    ("R$", "missing", PT_MISSING),
    # ambiguous: one separator followed by exactly three digits
    (
        "12.345",
        "amount_ambiguous",
        "valor ambíguo: escreva 12.345,00 (ou 12345) se são milhares; centavos têm no máximo "
        "2 casas",
    ),
    (
        "12,345",
        "amount_ambiguous",
        "valor ambíguo: escreva 12.345,00 (ou 12345) se são milhares; centavos têm no máximo "
        "2 casas",
    ),
    (
        "R$ 1.234",
        "amount_ambiguous",
        "valor ambíguo: escreva 1.234,00 (ou 1234) se são milhares; centavos têm no máximo 2 casas",
    ),
]


@pytest.mark.parametrize(("text", "value"), ACCEPTED)
def test_well_formed_amounts_are_read(text, value):
    amount = parse_typed_amount(text)
    assert amount == Decimal(value) and str(amount) == value


@pytest.mark.parametrize(("text", "code", "message"), REFUSED)
def test_anything_else_is_refused_with_a_reason(text, code, message):
    with pytest.raises(AmountError) as caught:
        parse_typed_amount(text)
    assert caught.value.code == code
    assert caught.value.text == text
    assert i18n.typed_amount_error(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,001", "at most 2 decimal places"),
        ("5C", "not a number: use digits only, as in 1,234.56"),
        (
            "1.2.3",
            "misplaced separators: a point before the cents and a comma every 3 digits, as in "
            "1,234.56",
        ),
        ("-5", "must be greater than 0"),
        ("", "required"),
        (
            "12.345",
            "ambiguous: write 12,345.00 (or 12345) if you mean thousands; cents take at most 2 "
            "decimal places",
        ),
    ],
)
def test_the_reasons_in_english(text, message):
    with pytest.raises(AmountError) as caught:
        parse_typed_amount(text)
    assert i18n.typed_amount_error(caught.value, "en") == message


def test_an_amount_error_is_a_value_error():
    with pytest.raises(ValueError, match="decimal_max_places"):
        parse_typed_amount("0,001")


@pytest.mark.parametrize(
    ("text", "statement_value"),
    [("0,001", "1"), ("0.001", "1"), ("1.2.3", "123"), ("5C", "5"), ("12.345", "12345")],
)
def test_bank_statements_keep_their_lenient_reading(text, statement_value):
    """What the form refuses, a statement row still reads as before (parse_amount is unchanged)."""
    assert parse_amount(text) == Decimal(statement_value)
    with pytest.raises(AmountError):
        parse_typed_amount(text)
