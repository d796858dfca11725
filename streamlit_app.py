"""Entry app: ``streamlit run streamlit_app.py`` (port 8502 under ``make run``).

Type an expense and see its verdict at once; send a batch of simulated expenses; import a bank
statement (Nubank card bill or account CSV, OFX, any CSV). Field errors come from the API's 422
and are shown beside each field, in the user's language.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from vigilante import i18n, ui
from vigilante.client import ApiError, ApiUnreachable, InvalidInput, VigilanteClient, batches
from vigilante.config import get_settings
from vigilante.importers import (
    DATE_FORMATS,
    FORMATS,
    AmountError,
    ColumnMapping,
    StatementError,
    csv_columns,
    detect_format,
    guess_mapping,
    parse_statement,
    parse_typed_amount,
    send_statement,
)
from vigilante.simulate import BILLS, CATEGORIES, Simulator

settings = get_settings()
st.set_page_config(page_title="Vigilante de Gastos", page_icon=":material/edit_note:")
lang = ui.language_switch()
t = ui.t
client = ui.session_client()
ZONE = ZoneInfo(settings.timezone)
COMMON_CATEGORIES = sorted({*CATEGORIES, *BILLS, "moradia", "outros"})
FIELDS = ("amount", "category", "merchant", "account", "description", "occurred_at")


# -- one expense ------------------------------------------------------------------------------


def category_options(api: VigilanteClient) -> list[str]:
    """The user's own categories (most spent first), then the common ones."""
    cached = st.session_state.get("own_categories")
    if cached is None or cached[0] < datetime.now(UTC) - timedelta(minutes=1):
        try:
            by_category = api.stats(start=datetime.now(UTC) - timedelta(days=365))["by_category"]
            own = [c["category"] for c in by_category]
        except ApiError:
            own = []
        cached = (datetime.now(UTC), own)
        st.session_state["own_categories"] = cached
    own = cached[1]
    folded = {c.casefold() for c in own}
    return own + [c for c in COMMON_CATEGORIES if c.casefold() not in folded]


def field_error(name: str) -> None:
    message = st.session_state.get("entry_errors", {}).get(name)
    if message:  # the API's words may quote what was typed
        st.markdown(f":red[:material/error: {ui.escape_md(message)}]")


def amount_value(text: str) -> tuple[str | None, str | None]:
    """The typed amount as the API's decimal string, or the reason it is refused.

    ``42,50``, ``1.234,56``, ``1,234.56`` and ``R$ 12,00`` are read strictly
    (``importers.parse_typed_amount``): ``0,001``, ``1.2.3``, ``5C`` or an ambiguous ``12.345``
    are refused here rather than guessed into another amount. An empty field is left to the API
    ("required")."""
    if not text.strip():
        return None, None
    try:
        return str(parse_typed_amount(text)), None
    except AmountError as exc:
        return None, i18n.typed_amount_error(exc, lang)


def build_expense(values: dict) -> tuple[dict, str | None]:
    """The API body and, if the typed amount was refused, why (the body then has no amount)."""
    amount, amount_error = amount_value(values["amount"])
    body = {
        "amount": amount,
        "category": (values["category"] or "").strip() or None,
        "merchant": values["merchant"].strip() or None,
        "account": values["account"].strip() or None,
        "description": values["description"].strip() or None,
    }
    day, clock = values["date"], values["time"]
    if day or clock:
        now = datetime.now(ZONE)
        moment = datetime.combine(day or now.date(), clock or now.time(), ZONE)
        body["occurred_at"] = moment.isoformat(timespec="seconds")
    return {k: v for k, v in body.items() if v is not None}, amount_error


def submit(api: VigilanteClient, values: dict) -> None:
    """Send the form; keep field errors for the next run, which shows them beside the fields.

    A refused amount is left out of the body, which the API cannot store (the amount is
    required) but still checks, so its 422 names the other fields' problems in the same run;
    the amount's own reason replaces the API's "required"."""
    # The same form sent again after no answer is the same request, body and Idempotency-Key:
    # if the first attempt was stored after all (a timeout, a dropped connection), it is not
    # stored twice. (The body is kept, not rebuilt: a date without a time takes the clock's.)
    pending = st.session_state.get("pending_expense")
    if pending and pending[0] == values:
        _, key, body, amount_error = pending
    else:
        body, amount_error = build_expense(values)
        key = uuid.uuid4().hex
    st.session_state["pending_expense"] = (values, key, body, amount_error)
    own = {"amount": amount_error} if amount_error else {}
    try:
        stored = api.post_event(body, idempotency_key=key)
    except InvalidInput as exc:
        errors = i18n.field_errors(exc.errors, lang) | own
        beside = {f: m for f, m in errors.items() if f in FIELDS}
        other = "; ".join(f"{f}: {m}" for f, m in errors.items() if f not in FIELDS)
        st.session_state["entry_errors"] = beside | ({"form": other} if other else {})
        st.session_state.pop("verdict", None)
        return
    except ApiUnreachable:  # nothing retries it: the form keeps it to be sent again
        st.session_state["entry_errors"] = own | {"form": t("submit_unreachable", url=api.base_url)}
        return
    except ApiError as exc:
        st.session_state["entry_errors"] = own | {"form": t("api_error", message=exc.message)}
        return
    st.session_state["entry_errors"] = {}
    st.session_state.pop("pending_expense", None)
    st.session_state["verdict"] = stored
    st.session_state["clear_form"] = True


CLEARED = ("amount", "merchant", "description")


def clear_form_if_sent() -> None:
    """After a stored expense, a fresh form; widgets can only be reset before they are drawn."""
    if st.session_state.pop("clear_form", False):
        for key in CLEARED:
            st.session_state[key] = ""


def entry_form(api: VigilanteClient) -> None:
    clear_form_if_sent()
    with st.form("expense", border=True):
        cols = st.columns(2)
        with cols[0]:
            # The form sends no currency: the API stores the amount in the deployment's.
            amount = st.text_input(
                t("amount_in", symbol=i18n.currency_symbol(settings.currency, lang)),
                placeholder=t("amount_help"),
                key="amount",
            )
            field_error("amount")
        with cols[1]:
            options = category_options(api)
            category = st.selectbox(
                t("category"),
                options,
                index=None,
                accept_new_options=True,
                placeholder=t("category_help"),
                key="category",
            )
            field_error("category")
        cols = st.columns(2)
        with cols[0]:
            merchant = st.text_input(t("merchant"), key="merchant")
            field_error("merchant")
        with cols[1]:
            account = st.text_input(t("account"), key="account")
            field_error("account")
        description = st.text_area(t("description"), height=68, key="description")
        field_error("description")
        cols = st.columns(2)
        day = cols[0].date_input(
            t("date"),
            value=None,
            format="DD/MM/YYYY" if lang == "pt-BR" else "YYYY-MM-DD",
            help=t("date_help"),
            key="date",
        )
        clock = cols[1].time_input(t("time"), value=None, help=t("date_help"), key="time")
        field_error("occurred_at")
        field_error("form")
        sent = st.form_submit_button(t("submit"), type="primary", key="submit")
    if sent:
        values = {
            "amount": amount,
            "category": ui.known_spelling(category, options),
            "merchant": merchant,
            "account": account,
            "description": description,
            "date": day,
            "time": clock,
        }
        submit(api, values)
        st.rerun()
    if set(st.session_state.get("entry_errors", {})) & set(FIELDS):
        st.error(t("fix_fields"))


def verdict() -> None:
    e = st.session_state.get("verdict")
    if not e:
        return
    severity = i18n.severity(e["severity"] if e["is_anomaly"] else "none", lang)
    with st.container(border=True, key="verdict"):
        if e["is_anomaly"]:
            st.error(t("verdict_anomaly", severity=severity), icon=":material/warning:")
        else:
            st.success(t("verdict_ok"), icon=":material/check_circle:")
        cols = st.columns(2)
        cols[0].metric(t("score"), ui.risk(e["score"]))
        cols[1].metric(t("severity"), severity)
        reasons = "\n".join(f"- {ui.escape_md(r['message'])}" for r in e["reasons"])
        st.markdown(reasons or t("no_reasons"))
        st.caption(
            t(
                "verdict_stored",
                id=e["id"],
                amount=i18n.money(e["amount"], lang, e["currency"]),
                category=ui.escape_md(e["category"]),
            )
        )


def recent(api: VigilanteClient) -> None:
    st.subheader(t("recent_entries"))
    try:
        rows = api.events(limit=10)
    except ApiError as exc:
        ui.handle_session_error(api, exc)
        return
    if not rows:
        st.caption(t("no_expenses"))
        return
    table = pd.DataFrame(
        [
            {
                t("when"): i18n.when(e["occurred_at"], lang, settings.timezone),
                t("amount"): i18n.money(e["amount"], lang, e["currency"]),
                t("category"): e["category"],
                t("merchant"): e["merchant"] or "",
                t("score"): ui.risk_cells(e["score"]),
                t("anomaly"): i18n.severity(e["severity"], lang) if e["is_anomaly"] else "",
            }
            for e in rows
        ]
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={t("score"): ui.risk_column(t("score"))},
        key="recent_table",
    )


# -- simulate ---------------------------------------------------------------------------------


def simulated(count: int, rate: float, seed: int):
    """The latest ``count`` expenses of three simulated spenders, ending now."""
    days = max(2, math.ceil(count / 9))
    while True:
        sim = Simulator(seed=seed, accounts=3, anomaly_rate=rate, warmup_days=0 if days < 14 else 7)
        items = sim.history(days)
        if len(items) >= count or days > 3650:
            return items[-count:]
        days *= 2


def simulate_tab(api: VigilanteClient) -> None:
    st.caption(t("sim_intro"))
    if "sim_next_seed" in st.session_state:  # (a widget's value is set before it is drawn)
        st.session_state["sim_seed"] = st.session_state.pop("sim_next_seed")
    with st.form("simulate", border=True):
        cols = st.columns(3)
        count = cols[0].number_input(t("sim_count"), 1, 5000, 50, key="sim_count")
        rate = cols[1].number_input(t("sim_rate"), 0, 50, 5, key="sim_rate")
        seed = cols[2].number_input(
            t("sim_seed"), 0, 2**31 - 1, 0, help=t("sim_seed_help"), key="sim_seed"
        )
        go = st.form_submit_button(t("sim_go"), type="primary", key="sim_go")
    if not go:
        return
    items = simulated(int(count), rate / 100, int(seed))
    # The same seed again would send the same expenses minutes later: a flood of "duplicates".
    st.session_state["sim_next_seed"] = (int(seed) + 1) % 2**31
    bar = st.progress(0.0, text=t("sim_progress", done=0, total=len(items)))
    done = flagged = injected = caught = 0
    size = max(10, len(items) // 20)
    try:
        for chunk in batches([i.payload for i in items], size):
            stored = api.post_events(chunk, idempotency_key=uuid.uuid4().hex)
            for item, out in zip(items[done : done + len(chunk)], stored, strict=True):
                flagged += out["is_anomaly"]
                injected += item.label is not None
                caught += item.label is not None and out["is_anomaly"]
            done += len(chunk)
            bar.progress(done / len(items), text=t("sim_progress", done=done, total=len(items)))
    except ApiError as exc:
        ui.handle_session_error(api, exc)
        return
    st.success(
        t("sim_done", count=done, flagged=flagged, caught=caught, injected=injected)
        + " "
        + t("sim_next", seed=st.session_state["sim_next_seed"]),
        icon=":material/check_circle:",
    )


# -- import -----------------------------------------------------------------------------------


def mapping_widgets(data: bytes) -> ColumnMapping | None:
    columns = csv_columns(data)
    if not columns:
        return None
    guess = guess_mapping(columns) or ColumnMapping(columns[0], columns[-1], columns[0])
    none = [None]

    def pick(label: str, default: str | None, key: str, optional: bool = False):
        options = (none if optional else []) + columns
        return st.selectbox(
            t(label),
            options,
            index=options.index(default) if default in options else 0,
            format_func=lambda c: t("imp_none") if c is None else c,
            key=key,
        )

    with st.expander(t("imp_mapping"), expanded=True):
        cols = st.columns(3)
        with cols[0]:
            date_col = pick("imp_col_date", guess.date, "map_date")
        with cols[1]:
            amount_col = pick("imp_col_amount", guess.amount, "map_amount")
        with cols[2]:
            desc_col = pick("imp_col_desc", guess.description, "map_desc")
        cols = st.columns(2)
        with cols[0]:
            category_col = pick("imp_col_category", guess.category, "map_category", True)
        with cols[1]:
            id_col = pick("imp_col_id", guess.id, "map_id", True)
        cols = st.columns(2)
        date_format = cols[0].selectbox(
            t("imp_date_format"),
            DATE_FORMATS,
            format_func=lambda f: t("imp_auto") if f == "auto" else f.replace("%", ""),
            key="map_date_format",
        )
        negative = cols[1].radio(
            t("imp_sign"),
            [True, False],
            format_func=lambda n: t("imp_sign_negative" if n else "imp_sign_positive"),
            key="map_sign",
        )
    return ColumnMapping(
        date_col, amount_col, desc_col, category_col, id_col, date_format, negative
    )


def row_note(row) -> str:
    if row.status == "error":
        return t(f"err_{row.note}", value=row.detail)
    if row.note == "installment":
        return t("note_installment", part=row.detail)
    return t(f"skip_{row.note}") if row.note else ""


def preview_amount(row) -> str:
    """The file's amount, sign and all (it tells a charge from a payment), written like every
    other amount, in the currency the expense will be stored in."""
    if row.amount is None:
        return ""
    currency = (row.expense or {}).get("currency") or settings.currency
    return i18n.money(row.amount, lang, currency)


def import_tab(api: VigilanteClient) -> None:
    st.caption(t("imp_intro"))
    upload = st.file_uploader(t("imp_file"), type=["csv", "ofx", "txt"], key="imp_file")
    cols = st.columns(2)
    fmt = cols[0].selectbox(
        t("imp_format"),
        [None, *FORMATS],
        format_func=lambda f: t("imp_auto") if f is None else t(f"fmt_{f}"),
        key="imp_format",
    )
    account = cols[1].text_input(t("imp_account"), key="imp_account")
    if upload is None:
        return
    data = upload.getvalue()
    chosen = fmt or detect_format(data)
    st.markdown(t("imp_detected", name=t(f"fmt_{chosen}")))
    try:
        mapping = mapping_widgets(data) if chosen == "csv" else None
        statement = parse_statement(
            data, chosen, mapping=mapping, account=account, tz=settings.timezone
        )
    except (StatementError, ValueError) as exc:
        st.error(t("err_file", message=ui.escape_md(exc)))  # may quote the file
        return
    expenses = statement.expenses
    st.info(
        t(
            "imp_summary",
            expenses=len(expenses),
            skipped=statement.count("skipped"),
            errors=statement.count("error"),
        )
    )
    preview = pd.DataFrame(
        [
            {
                t("imp_line"): r.line,
                t("date"): i18n.day(r.day, lang),
                t("description"): r.text,
                t("amount"): preview_amount(r),
                t("category"): r.expense["category"] if r.expense else "",
                t("imp_status"): t(f"imp_st_{r.status}"),
                t("imp_note"): row_note(r),
            }
            for r in statement.rows
        ]
    )
    st.dataframe(preview, hide_index=True, width="stretch", height=320, key="imp_preview")
    if not expenses:
        return
    if st.button(t("imp_go", count=len(expenses)), type="primary", key="imp_go"):
        bar = st.progress(0.0, text=t("imp_progress", done=0, total=len(expenses)))

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=t("imp_progress", done=done, total=total))

        try:
            result = send_statement(api, expenses, on_progress=progress)
        except InvalidInput as exc:
            st.error(t("api_error", message=ui.escape_md(exc.message)))
            return
        except ApiError as exc:
            ui.handle_session_error(api, exc)
            return
        st.success(
            t("imp_done", new=result.new, known=result.known, flagged=result.flagged),
            icon=":material/check_circle:",
        )


# -- the page ---------------------------------------------------------------------------------

st.title(f":material/edit_note: {t('entry_title')}")
st.caption(t("entry_caption"))
if not ui.require_api(client):
    st.stop()
ui.require_login(client)
ui.account_box(client)

entry, simulate, statement_import = st.tabs([t("tab_entry"), t("tab_simulate"), t("tab_import")])
with entry:
    entry_form(client)
    verdict()
    recent(client)
with simulate:
    simulate_tab(client)
with statement_import:
    import_tab(client)
