"""Bank statements -> expenses, and importing them twice into a real API adds nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from vigilante.client import VigilanteClient
from vigilante.importers import (
    ColumnMapping,
    StatementError,
    detect_format,
    guess_category,
    guess_mapping,
    parse_amount,
    parse_statement,
    send_statement,
)

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_formats_are_detected_from_content():
    assert detect_format(sample("nubank-fatura.csv")) == "nubank_card"
    assert detect_format(sample("nubank-extrato.csv")) == "nubank_account"
    assert detect_format(sample("extrato.ofx")) == "ofx"
    assert detect_format(b"Data;Historico;Valor\n01/10/2026;Padaria;-10,00\n") == "csv"


def test_nubank_card_bill_skips_payments_and_refunds_and_keeps_installments():
    statement = parse_statement(sample("nubank-fatura.csv"), account="nubank-roxinho")
    by_line = {row.line: row for row in statement.rows}
    assert statement.count("expense") == 14 and statement.count("error") == 0
    assert (by_line[11].status, by_line[11].note) == ("skipped", "card_payment")
    assert (by_line[12].status, by_line[12].note) == ("skipped", "refund")
    amazon = by_line[9].expense
    assert amazon["merchant"] == "Amazon Marketplace"
    assert amazon["description"] == "Parcela 2/6" and by_line[9].note == "installment"
    # The bill lists the same installment twice: both are kept (a double charge to flag).
    assert by_line[10].expense["amount"] == "149.83"
    assert amazon["external_id"] != by_line[10].expense["external_id"]
    first = by_line[2].expense
    assert first == {
        "amount": "18.90",
        "category": "alimentação",
        "merchant": "Padaria Pao de Mel",
        "occurred_at": "2026-10-02T12:00:00-03:00",
        "external_id": first["external_id"],
        "account": "nubank-roxinho",
    }
    again = parse_statement(sample("nubank-fatura.csv"))
    assert [e["external_id"] for e in again.expenses] == [
        e["external_id"] for e in statement.expenses
    ]


def test_nubank_account_uses_the_bank_id_and_skips_money_coming_in():
    statement = parse_statement(sample("nubank-extrato.csv"))
    assert statement.count("expense") == 5
    skipped = [r for r in statement.rows if r.status == "skipped"]
    assert [(r.line, r.note) for r in skipped] == [(3, "income")]
    bakery = statement.expenses[0]
    assert bakery["external_id"] == "nubank:5f0c2a7e-1b7e-4d31-9b1e-2f0a6c1d9e01"
    assert bakery["merchant"] == "Padaria Pão de Mel" and bakery["amount"] == "37.79"
    assert bakery["occurred_at"] == "2026-10-01T12:00:00-03:00"
    assert [e["category"] for e in statement.expenses] == [
        "alimentação",
        "moradia",
        "mercado",
        "contas",
        "alimentação",
    ]


def test_ofx_in_windows_1252_with_bank_offsets():
    statement = parse_statement(sample("extrato.ofx"))
    assert statement.format == "ofx"
    assert statement.count("expense") == 5 and statement.rows[1].note == "income"
    rent = statement.expenses[1]
    assert rent == {
        "amount": "1850.00",
        "category": "moradia",
        "merchant": "ALUGUEL IMOBILIARIA CENTRAL",
        "occurred_at": "2026-10-03T12:00:00-03:00",
        "external_id": "ofx:0341:12345-6:202610030001",
        "currency": "BRL",
    }


def test_any_csv_through_a_column_mapping_with_per_row_errors():
    data = (
        "Data;Histórico;Valor;Categoria\n"
        "01/10/2026;Padaria Real;-12,50;padaria\n"
        "02/10/2026;Salário;3.500,00;\n"
        "31/02/2026;Data errada;-5,00;\n"
        "03/10/2026;Valor errado;abc;\n"
        "04/10/2026;PAGAMENTO FATURA CARTAO;-900,00;\n"
        "05/10/2026;Loja de Móveis;-1.234,56;\n"
    ).encode("cp1252")
    mapping = guess_mapping(["Data", "Histórico", "Valor", "Categoria"])
    assert mapping == ColumnMapping("Data", "Valor", "Histórico", category="Categoria")
    statement = parse_statement(data, mapping=mapping)
    assert [(r.line, r.status, r.note) for r in statement.rows] == [
        (2, "expense", ""),
        (3, "skipped", "income"),
        (4, "error", "date"),
        (5, "error", "amount"),
        (6, "skipped", "card_payment"),
        (7, "expense", ""),
    ]
    assert statement.expenses[0]["category"] == "padaria"
    assert statement.expenses[1]["amount"] == "1234.56"
    assert statement.expenses[1]["category"] == "outros"
    positive = ColumnMapping("Data", "Valor", "Histórico", expenses_negative=False)
    assert parse_statement(data, "csv", mapping=positive).expenses[0]["merchant"] == "Salário"


def test_unreadable_files_raise_a_statement_error():
    with pytest.raises(StatementError):
        parse_statement(b"OFXHEADER:100\n<OFX><broken", "ofx")
    with pytest.raises(StatementError):
        parse_statement(b"a,b\n1,2\n", "csv")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-37.79", "-37.79"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("R$ 12,00", "12.00"),
        ("(12,00)", "-12.00"),
        ("12,00 D", "-12.00"),
        ("1.850", "1850"),
    ],
)
def test_amounts_as_banks_write_them(text, value):
    assert parse_amount(text) == Decimal(value)


def test_categories_from_merchant_names():
    assert guess_category("Uber *Trip") == "transporte"
    assert guess_category("MERCADO LIVRE*LOJA") == "compras online"
    assert guess_category("Supermercado Dia a Dia") == "mercado"
    assert guess_category("WEB*PAYMENT 7731") == "outros"


def test_importing_the_same_file_twice_adds_nothing(live_api):
    client = VigilanteClient(live_api.url)
    client.login(*live_api.new_user("importer"))
    statement = parse_statement(sample("nubank-fatura.csv"), account="nubank")
    progress = []
    first = send_statement(
        client,
        statement.expenses,
        chunk_size=5,
        on_progress=lambda done, total: progress.append(done),
    )
    assert (first.new, first.known) == (14, 0) and progress == [5, 10, 14]
    # Import it again, and the OFX and account statement too.
    second = send_statement(client, parse_statement(sample("nubank-fatura.csv")).expenses)
    assert (second.new, second.known) == (0, 14)
    third = send_statement(client, parse_statement(sample("extrato.ofx")).expenses)
    assert (third.new, third.known) == (5, 0)
    assert len(client.events(limit=100)) == 19
