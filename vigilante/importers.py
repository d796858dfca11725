"""Bank statements -> expenses: Nubank card bill CSV, Nubank account CSV, OFX, any CSV.

``parse_statement(data)`` detects the format and returns one :class:`StatementRow` per
transaction: an expense to import (an ``ExpenseIn`` body), a row skipped on purpose (money
coming in, the card bill being paid, a refund, an investment move) or a row with an error.
Every expense carries the bank's own transaction id as ``external_id`` (or, where the format
has none, a digest of the row and its position among identical rows), so importing the same
file twice stores nothing new.

>>> statement = parse_statement(b"date,title,amount\\n2026-10-02,Padaria Pao de Mel,18.90\\n")
>>> statement.format, statement.expenses[0]["amount"], statement.expenses[0]["category"]
('nubank_card', '18.90', 'alimentação')

Dates without a time of day (all of these formats but some OFX files) are placed at noon local
time, so that an import does not look like a string of purchases at midnight.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

FORMATS = ("nubank_card", "nubank_account", "ofx", "csv")
DATE_FORMATS = ("auto", "%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y", "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y")
NOON = time(12, 0)
MAX_ROWS = 100_000


class StatementError(ValueError):
    """The file cannot be read as the chosen format."""


@dataclass
class StatementRow:
    line: int  # line in the file (1 = header for CSV), or the transaction's position in an OFX
    day: str  # as shown in the preview: ISO date
    text: str  # the bank's description
    amount: Decimal | None  # signed, as in the file
    status: str  # "expense" | "skipped" | "error"
    expense: dict | None = None
    note: str = ""  # skipped: income, card_payment, refund, investment, zero; error: date, ...
    detail: str = ""  # the value the note refers to (an installment "2/6", a bad date)


@dataclass
class Statement:
    format: str
    rows: list[StatementRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def expenses(self) -> list[dict]:
        return [r.expense for r in self.rows if r.status == "expense"]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


@dataclass
class ColumnMapping:
    """How to read any CSV: which columns hold what, and which sign an expense has."""

    date: str
    amount: str
    description: str
    category: str | None = None
    id: str | None = None
    date_format: str = "auto"
    expenses_negative: bool = True


# -- reading ------------------------------------------------------------------------------------


def read_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, which is what Brazilian banks use."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _fold(text: str) -> str:
    """Lower case without accents, for matching words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _csv_rows(text: str) -> list[list[str]]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if len(rows) > MAX_ROWS + 1:
        raise StatementError(f"more than {MAX_ROWS} rows")
    return rows


def csv_columns(data: bytes) -> list[str]:
    rows = _csv_rows(read_text(data))
    return [c.strip() for c in rows[0]] if rows else []


def detect_format(data: bytes) -> str:
    head = read_text(data[:8192]).lstrip()
    if head.upper().startswith("OFXHEADER") or "<OFX>" in head.upper()[:4096]:
        return "ofx"
    columns = {_fold(c) for c in csv_columns(data[:8192])}
    if {"date", "title", "amount"} <= columns:
        return "nubank_card"
    if {"data", "valor", "identificador", "descricao"} <= columns:
        return "nubank_account"
    return "csv"


# -- values -------------------------------------------------------------------------------------


def parse_amount(text: str) -> Decimal:
    """``-37.79``, ``1.234,56``, ``1,234.56``, ``R$ 12,00``, ``(12,00)``, ``12,00 D`` -> Decimal."""
    value = text.strip().replace("R$", "").replace("\xa0", "").replace(" ", "")
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1]
    if value[-1:] in ("D", "d", "C", "c") and len(value) > 1:
        negative, value = value[-1] in "Dd", value[:-1]
    if value.endswith("-"):
        negative, value = True, value[:-1]
    if "," in value and "." in value:
        mark = "," if value.rfind(",") > value.rfind(".") else "."
    elif "," in value:
        mark = "," if len(value) - value.rfind(",") - 1 != 3 else None
    elif "." in value:
        # "1.234" is a thousands mark: no bank writes a third decimal.
        three = len(value) - value.rfind(".") - 1 == 3
        mark = None if value.count(".") > 1 or three else "."
    else:
        mark = None
    if mark:
        whole, _, fraction = value.rpartition(mark)
        digits = whole.replace("." if mark == "," else ",", "") + "." + fraction
    else:
        digits = value.replace(",", "").replace(".", "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        raise ValueError(text) from None
    if not amount.is_finite():
        raise ValueError(text)
    return -amount if negative else amount


class AmountError(ValueError):
    """A typed amount :func:`parse_typed_amount` refuses. ``code`` names the problem (the UI
    shows ``i18n.typed_amount_error``: the ``fe_<code>`` string, in the user's language) and
    ``values`` fills that string in."""

    def __init__(self, code: str, text: str, **values: object) -> None:
        super().__init__(f"{code}: {text!r}")
        self.code = code
        self.text = text
        self.values = values


_TYPED_CHARS = re.compile(r"^[0-9.,]+$")


def _well_grouped(whole: str, mark: str) -> bool:
    """``1.234.567`` (mark ``.``): a first group of 1-3 digits not starting with 0, then groups
    of exactly 3."""
    first, *rest = whole.split(mark)
    return (
        bool(rest)
        and 1 <= len(first) <= 3
        and first[0] != "0"
        and all(len(group) == 3 for group in rest)
    )


def parse_typed_amount(text: str) -> Decimal:
    """An amount a person typed into a form -> Decimal > 0, or :class:`AmountError`.

    Unlike :func:`parse_amount` (bank statements, where guessing is right because a bank never
    writes a third decimal) nothing is guessed: ``42,50``, ``42.50``, ``1.234,56``,
    ``1,234.56``, ``1234``, ``R$ 1.234,56`` are read; stray letters, separators out of place
    (``1.2.3``, ``42,``), three or more decimals (``0,001``), zero, negatives and an empty field
    are refused with a code saying which.

    ``12.345`` and ``12,345`` (one separator followed by exactly three digits) are refused as
    ``amount_ambiguous``: in pt-BR ``12.345`` is twelve thousand, in English twelve point three
    four five, and a Brazilian's ``12,345`` is as likely a mistyped ``12,34`` as an English
    twelve thousand. Guessing either way silently stores a wrong amount, so the message asks for
    ``12.345,00`` (or ``12345``); a second separator (``12.345,00``, ``1.234.567``) or a leading
    group that cannot start a thousands grouping (``0,001``, ``1234,567``) removes the doubt.
    """
    value = text.replace("\xa0", " ").strip()
    if not value:
        raise AmountError("missing", text)
    negative = value[0] in "-\u2212"
    if negative:
        value = value[1:].lstrip()
    if value[:2].upper() == "R$":
        value = value[2:].lstrip()
    if not negative and value[:1] in ("-", "\u2212"):  # "R$ -5"
        negative, value = True, value[1:].lstrip()
    if not value:  # "R$" alone
        raise AmountError("missing", text)
    if not _TYPED_CHARS.match(value) or not any(c.isdigit() for c in value):
        raise AmountError("amount_characters", text)
    marks = [c for c in value if c in ".,"]
    if not marks:
        whole, fraction = value, ""
    elif len(set(marks)) == 2 or len(marks) == 1:
        # The last separator marks the decimals; any others group thousands.
        decimal_mark = marks[-1]
        group_mark = "," if decimal_mark == "." else "."
        whole, _, fraction = value.rpartition(decimal_mark)
        if decimal_mark in whole or not fraction:
            raise AmountError("amount_grouping", text)  # "1.234,56,7", "42,"
        if group_mark in whole and not _well_grouped(whole, group_mark):
            raise AmountError("amount_grouping", text)  # "1.2,50", ".234,56"
        if len(marks) == 1 and len(fraction) == 3 and _well_grouped(value, decimal_mark):
            raise AmountError("amount_ambiguous", text, thousands=Decimal(whole + fraction))
        if len(fraction) > 2:
            raise AmountError("decimal_max_places", text)
        whole = whole.replace(group_mark, "")
    else:
        # Several of one separator and nothing else: only thousands ("1.234.567").
        if not _well_grouped(value, marks[0]):
            raise AmountError("amount_grouping", text)  # "1.2.3", "0,001,5"
        whole, fraction = value.replace(marks[0], ""), ""
    amount = Decimal(f"{whole or '0'}.{fraction}" if fraction else whole)
    if negative or amount == 0:
        raise AmountError("greater_than", text, limit=0)
    return amount


def parse_day(text: str, fmt: str = "auto") -> date:
    text = text.strip()[:10] if fmt == "auto" and "T" in text else text.strip()
    formats = (
        ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y") if fmt == "auto" else (fmt,)
    )
    for candidate in formats:
        try:
            return datetime.strptime(text, candidate).date()
        except ValueError:
            continue
    raise ValueError(text)


def _at_noon(day: date, tz: str) -> str:
    return datetime.combine(day, NOON, ZoneInfo(tz)).isoformat()


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


# Most specific first: "mercado livre" is shopping online, not groceries.
_CATEGORY_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("compras online", ("mercado livre", "mercadolivre", "amazon", "shopee", "aliexpress")),
    ("moradia", ("aluguel", "imobiliaria", "condominio", "quintoandar")),
    (
        "contas",
        (
            "energia",
            "enel",
            "sabesp",
            "comgas",
            "vivo",
            "claro",
            "tim",
            "internet",
            "agua",
            "luz",
            "concessionaria",
            "telefone",
        ),
    ),
    (
        "assinaturas",
        (
            "netflix",
            "spotify",
            "prime video",
            "globoplay",
            "disney",
            "smart fit",
            "youtube",
            "hbo",
            "deezer",
            "icloud",
            "google one",
        ),
    ),
    (
        "mercado",
        (
            "supermercado",
            "mercado",
            "atacad",
            "hortifruti",
            "carrefour",
            "pao de acucar",
            "assai",
            "dia a dia",
            "sacolao",
            "emporio",
        ),
    ),
    (
        "alimentação",
        (
            "padaria",
            "restaurante",
            "ifood",
            "lanchonete",
            "rappi",
            "cafe",
            "mcdonald",
            "burger",
            "pizzaria",
            "bar",
            "starbucks",
            "pao de queijo",
            "acai",
            "sorveteria",
        ),
    ),
    (
        "transporte",
        (
            "uber",
            "99",
            "99app",
            "posto",
            "shell",
            "ipiranga",
            "estapar",
            "metro",
            "sem parar",
            "combustivel",
            "estacionamento",
            "cabify",
            "onibus",
        ),
    ),
    (
        "saúde",
        (
            "farmacia",
            "drogasil",
            "droga raia",
            "drogaria",
            "pague menos",
            "laboratorio",
            "clinica",
            "hospital",
            "dentista",
            "unimed",
        ),
    ),
    ("lazer", ("cinema", "cinemark", "ingresso", "teatro", "show", "parque")),
    ("vestuário", ("renner", "c&a", "riachuelo", "zara", "centauro", "hering", "roupas")),
    ("casa", ("leroy", "tok&stok", "magazine luiza", "magalu", "casas bahia", "camicado")),
    ("educação", ("livraria", "udemy", "curso", "escola", "faculdade", "kalunga")),
    ("pets", ("petz", "cobasi", "pet shop", "petshop", "veterinari", "vet")),
    ("beleza", ("salao", "barbearia", "boticario", "natura", "sephora")),
    ("eletrônicos", ("fast shop", "kabum", "samsung", "apple store")),
    ("viagem", ("latam", "gol", "azul", "booking", "airbnb", "hotel", "decolar")),
    ("joalheria", ("joalheria", "vivara", "pandora")),
    ("tarifas", ("iof", "tarifa", "anuidade", "juros", "multa")),
]
_CATEGORY_PATTERNS = [
    (category, re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")"))
    for category, words in _CATEGORY_WORDS
]
OTHER = "outros"


def guess_category(text: str) -> str:
    """A category from the merchant's name (pt-BR words), else "outros"."""
    folded = _fold(text)
    for category, pattern in _CATEGORY_PATTERNS:
        if pattern.search(folded):
            return category
    return OTHER


def _expense(amount: Decimal, merchant: str, occurred_at: str, external_id: str, **extra) -> dict:
    body = {
        "amount": f"{abs(amount):.2f}",
        "category": (extra.pop("category", None) or guess_category(merchant))[:64],
        "merchant": merchant.strip()[:128] or None,
        "occurred_at": occurred_at,
        "external_id": external_id[:255],
    }
    body.update({k: v for k, v in extra.items() if v})
    return {k: v for k, v in body.items() if v is not None}


# -- formats ------------------------------------------------------------------------------------

_INSTALLMENT = re.compile(r"\s*-\s*parcela\s+(\d+)\s*/\s*(\d+)\s*$", re.IGNORECASE)


def _nubank_card(text: str, account: str | None, tz: str) -> Statement:
    rows = _csv_rows(text)
    header = [_fold(c.strip()) for c in rows[0]]
    col = {
        name: header.index(name)
        for name in ("date", "title", "amount", "category")
        if name in header
    }
    out = Statement("nubank_card", columns=rows[0])
    seen: Counter = Counter()
    for line, cells in enumerate(rows[1:], start=2):
        cells = cells + [""] * (len(header) - len(cells))
        day_text, title, amount_text = (cells[col[k]].strip() for k in ("date", "title", "amount"))
        row = StatementRow(line, day_text, title, None, "error")
        out.rows.append(row)
        try:
            row.amount = parse_amount(amount_text)
        except ValueError:
            row.note, row.detail = "amount", amount_text
            continue
        try:
            day = parse_day(day_text)
        except ValueError:
            row.note, row.detail = "date", day_text
            continue
        row.day = day.isoformat()
        folded = _fold(title)
        if row.amount <= 0:
            row.status = "skipped"
            if row.amount == 0:
                row.note = "zero"
            elif folded.startswith("pagamento recebido"):
                row.note = "card_payment"
            else:
                row.note = "refund"
            continue
        key = (day, title, row.amount)
        seen[key] += 1
        merchant, description = title, None
        match = _INSTALLMENT.search(title)
        if match:
            merchant = title[: match.start()]
            row.note, row.detail = "installment", f"{match.group(1)}/{match.group(2)}"
            description = f"Parcela {row.detail}"
        category = cells[col["category"]].strip().lower() if "category" in col else None
        row.status = "expense"
        row.expense = _expense(
            row.amount,
            merchant,
            _at_noon(day, tz),
            "nubank-card:" + _digest(day, title, row.amount, seen[key]),
            category=category,
            description=description,
            account=account,
        )
    return out


_ACCOUNT_SKIPS = (
    ("pagamento de fatura", "card_payment"),
    ("aplicacao", "investment"),
    ("resgate", "investment"),
)


def _nubank_merchant(description: str) -> str:
    """ "Compra no débito - Padaria Pão de Mel" -> "Padaria Pão de Mel"."""
    parts = [p.strip() for p in description.split(" - ")]
    return parts[1] if len(parts) > 1 and parts[1] else description


def _nubank_account(text: str, account: str | None, tz: str) -> Statement:
    rows = _csv_rows(text)
    header = [_fold(c.strip()) for c in rows[0]]
    col = {name: header.index(name) for name in ("data", "valor", "identificador", "descricao")}
    out = Statement("nubank_account", columns=rows[0])
    for line, cells in enumerate(rows[1:], start=2):
        cells = cells + [""] * (len(header) - len(cells))
        day_text, amount_text, ident, description = (
            cells[col[k]].strip() for k in ("data", "valor", "identificador", "descricao")
        )
        row = StatementRow(line, day_text, description, None, "error")
        out.rows.append(row)
        try:
            row.amount = parse_amount(amount_text)
        except ValueError:
            row.note, row.detail = "amount", amount_text
            continue
        try:
            day = parse_day(day_text, "%d/%m/%Y")
        except ValueError:
            row.note, row.detail = "date", day_text
            continue
        row.day = day.isoformat()
        folded = _fold(description)
        skip = next((note for word, note in _ACCOUNT_SKIPS if word in folded), None)
        if row.amount >= 0 or skip:
            row.status = "skipped"
            if row.amount == 0:
                row.note = "zero"
            elif skip:
                row.note = skip
            else:
                row.note = "refund" if ("estorno" in folded or "reembolso" in folded) else "income"
            continue
        if not ident:
            row.note, row.detail = "missing", "Identificador"
            continue
        row.status = "expense"
        row.expense = _expense(
            row.amount,
            _nubank_merchant(description),
            _at_noon(day, tz),
            "nubank:" + ident,
            description=description[:500],
            account=account,
        )
    return out


_INCOME_TYPES = {"CREDIT", "DEP", "INT", "DIV", "DIRECTDEP"}
_CARD_PAYMENT_WORDS = ("pagamento fatura", "pagto fatura", "pag fatura", "pagamento de fatura")


def _ofx(data: bytes, account: str | None, tz: str) -> Statement:
    from ofxtools.Parser import OFXTree  # imported here: only OFX files need it

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises many kinds; all mean "not a readable OFX"
        raise StatementError(f"not a readable OFX file ({type(exc).__name__}: {exc})") from None
    out = Statement("ofx")
    zone = ZoneInfo(tz)
    position = 0
    for stmt in ofx.statements:
        acct = stmt.account
        bank = getattr(acct, "bankid", None) or "card"
        for tx in stmt.transactions:
            position += 1
            text = " ".join(p for p in (tx.name, tx.memo) if p) or (tx.trntype or "")
            local = tx.dtposted.astimezone(zone)
            if local.time() == time(0, 0):
                local = datetime.combine(local.date(), NOON, zone)
            row = StatementRow(position, local.date().isoformat(), text, tx.trnamt, "skipped")
            out.rows.append(row)
            folded = _fold(text)
            if tx.trnamt == 0:
                row.note = "zero"
            elif tx.trnamt > 0 or tx.trntype in _INCOME_TYPES:
                row.note = "refund" if "estorno" in folded else "income"
            elif any(word in folded for word in _CARD_PAYMENT_WORDS):
                row.note = "card_payment"
            elif "aplicacao" in folded or "resgate" in folded:
                row.note = "investment"
            else:
                row.status = "expense"
                row.expense = _expense(
                    tx.trnamt,
                    tx.name or tx.memo or "",
                    local.isoformat(),
                    f"ofx:{bank}:{acct.acctid}:{tx.fitid}",
                    currency=(stmt.curdef or None),
                    description=(tx.memo if tx.name and tx.memo else None),
                    account=account,
                )
    return out


def guess_mapping(columns: list[str]) -> ColumnMapping | None:
    """The likely columns of an unknown CSV, by their names in Portuguese or English."""
    folded = [_fold(c) for c in columns]

    def find(*words: str) -> str | None:
        for word in words:
            for original, name in zip(columns, folded, strict=True):
                if word in name:
                    return original
        return None

    found = {
        "date": find("data", "date", "dia"),
        "amount": find("valor", "amount", "value", "quantia", "montante"),
        "description": find(
            "descri", "historico", "title", "memo", "estabelecimento", "lancamento"
        ),
    }
    if None in found.values():
        return None
    return ColumnMapping(
        **found, category=find("categoria", "category"), id=find("identificador", "id", "fitid")
    )


def _generic_csv(text: str, mapping: ColumnMapping, account: str | None, tz: str) -> Statement:
    rows = _csv_rows(text)
    header = [c.strip() for c in rows[0]]
    out = Statement("csv", columns=header)
    wanted = [mapping.date, mapping.amount, mapping.description, mapping.category, mapping.id]
    missing = [c for c in wanted if c and c not in header]
    if missing:
        raise StatementError(f"no column named {', '.join(missing)}")
    col = {c: header.index(c) for c in wanted if c}
    seen: Counter = Counter()
    for line, cells in enumerate(rows[1:], start=2):
        cells = cells + [""] * (len(header) - len(cells))
        day_text = cells[col[mapping.date]].strip()
        amount_text = cells[col[mapping.amount]].strip()
        description = cells[col[mapping.description]].strip()
        row = StatementRow(line, day_text, description, None, "error")
        out.rows.append(row)
        try:
            row.amount = parse_amount(amount_text)
        except ValueError:
            row.note, row.detail = "amount", amount_text
            continue
        try:
            day = parse_day(day_text, mapping.date_format)
        except ValueError:
            row.note, row.detail = "date", day_text
            continue
        row.day = day.isoformat()
        spent = -row.amount if mapping.expenses_negative else row.amount
        folded = _fold(description)
        if spent <= 0:
            row.status = "skipped"
            row.note = "zero" if spent == 0 else ("refund" if "estorno" in folded else "income")
            continue
        if any(word in folded for word in _CARD_PAYMENT_WORDS):
            row.status, row.note = "skipped", "card_payment"
            continue
        ident = cells[col[mapping.id]].strip() if mapping.id else ""
        if not ident:
            key = (day, description, row.amount)
            seen[key] += 1
            ident = _digest(day, description, row.amount, seen[key])
        category = cells[col[mapping.category]].strip() if mapping.category else None
        row.status = "expense"
        row.expense = _expense(
            spent,
            _nubank_merchant(description),
            _at_noon(day, tz),
            "csv:" + ident,
            category=category,
            description=description[:500] if " - " in description else None,
            account=account,
        )
    return out


def parse_statement(
    data: bytes,
    fmt: str | None = None,
    *,
    mapping: ColumnMapping | None = None,
    account: str | None = None,
    tz: str = "America/Sao_Paulo",
) -> Statement:
    """Read a statement; ``fmt`` None detects it. A generic CSV needs ``mapping`` (or a
    guessable header). Raises :class:`StatementError` when the file cannot be read at all."""
    fmt = fmt or detect_format(data)
    if fmt not in FORMATS:
        raise StatementError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    account = (account or "").strip() or None
    if fmt == "ofx":
        return _ofx(data, account, tz)
    text = read_text(data)
    try:
        if fmt == "nubank_card":
            return _nubank_card(text, account, tz)
        if fmt == "nubank_account":
            return _nubank_account(text, account, tz)
        mapping = mapping or guess_mapping(csv_columns(data))
        if mapping is None:
            raise StatementError("choose which columns hold the date, amount and description")
        return _generic_csv(text, mapping, account, tz)
    except (IndexError, KeyError, csv.Error) as exc:
        raise StatementError(f"not a {fmt} file ({type(exc).__name__}: {exc})") from None


@dataclass
class ImportResult:
    new: int = 0
    known: int = 0  # stored by an earlier import (same external_id): nothing was added
    flagged: int = 0


def send_statement(client, expenses: list[dict], chunk_size: int = 500, on_progress=None):
    """POST ``expenses`` in chunks, each with an Idempotency-Key derived from its content (a
    retried chunk is answered from the first try); ``on_progress(done, total)``."""
    from vigilante.client import batches

    result = ImportResult()
    newest = client.events(limit=1)
    last_id = newest[0]["id"] if newest else 0
    done = 0
    for chunk in batches(expenses, chunk_size):
        key = "import-" + _digest(json.dumps(chunk, sort_keys=True))
        for stored in client.post_events(chunk, idempotency_key=key):
            if stored["id"] > last_id:
                result.new += 1
                result.flagged += bool(stored["is_anomaly"])
            else:
                result.known += 1
        done += len(chunk)
        if on_progress:
            on_progress(done, len(expenses))
    return result
