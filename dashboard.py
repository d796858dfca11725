"""Live dashboard: ``streamlit run dashboard.py`` (port 8501 under ``make run``).

The page reads top to bottom: sidebar (language, login, live switch), guard (API reachable,
logged in), then the tabs. The overview, the history and the alerts list are fragments that
rerun every ``VIGILANTE_REFRESH_SECONDS``: the first two ask only for expenses newer than the
newest they show (the history with its filters), the overview also for ``/stats``, so the rest
of the page (filters, loaded pages, forms) keeps its state and nothing flickers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from vigilante import i18n, ui, ui_alerts
from vigilante.client import ApiError, VigilanteClient
from vigilante.config import get_settings
from vigilante.feed import LiveFeed, kpis, stats_window

settings = get_settings()
st.set_page_config(
    page_title="Vigilante de Gastos",
    page_icon=":material/shield:",
    layout="wide",
    initial_sidebar_state="collapsed",  # the figures get the width; language, logout: one click
)
lang = ui.language_switch()
t = ui.t
client = ui.session_client()

ZONE = ZoneInfo(settings.timezone)
# Six figures side by side beside the sidebar: a slightly smaller number keeps millions whole.
METRIC_CSS = "<style>[data-testid='stMetricValue'] {font-size: 1.8rem;}</style>"
SEVERITY_COLORS = {"none": "#9aa5b1", "low": "#f2c94c", "medium": "#f2994a", "high": "#eb5757"}
ACCENT = "#2f80ed"
ANOMALY = "#eb5757"

# Charts speak the user's language: decimal comma and Portuguese month names in pt-BR; their
# currency is the deployment's, the one the totals they draw are in.
D3_LOCALE = {
    "pt-BR": {
        "number": {
            "decimal": ",",
            "thousands": ".",
            "grouping": [3],
            "currency": [i18n.currency_prefix(settings.currency, "pt-BR"), ""],
        },
        "time": {
            "dateTime": "%A, %e de %B de %Y. %X",
            "date": "%d/%m/%Y",
            "time": "%H:%M:%S",
            "periods": ["AM", "PM"],
            "days": ["Domingo", "Segunda", "Terça", "Quarta", "Quinta", "Sexta", "Sábado"],
            "shortDays": ["Dom", "Seg", "Ter", "Qua", "Qui", "Sex", "Sáb"],
            "months": [
                "Janeiro",
                "Fevereiro",
                "Março",
                "Abril",
                "Maio",
                "Junho",
                "Julho",
                "Agosto",
                "Setembro",
                "Outubro",
                "Novembro",
                "Dezembro",
            ],  # fmt: skip
            "shortMonths": [
                "Jan",
                "Fev",
                "Mar",
                "Abr",
                "Mai",
                "Jun",
                "Jul",
                "Ago",
                "Set",
                "Out",
                "Nov",
                "Dez",
            ],  # fmt: skip
        },
    },
    "en": {
        "number": {
            "decimal": ".",
            "thousands": ",",
            "grouping": [3],
            "currency": [i18n.currency_prefix(settings.currency, "en"), ""],
        },
    },
}


def chart(spec: alt.TopLevelMixin) -> None:
    st.altair_chart(spec.configure(locale=D3_LOCALE[lang]), width="stretch")


def money(value: float, currency: str | None = None) -> str:
    """An expense's amount in its own ``currency``; a total (no currency) in the deployment's."""
    return i18n.money(value, lang, currency or settings.currency)


def total_label(row: dict) -> str:
    """A /stats total with what other currencies add beside it: ``R$ 10,00 + € 5,00``."""
    return i18n.money_and_others(row["total"], row["other_totals"], lang, settings.currency)


def last_seen(moment: str | None) -> str:
    """Today: the time to the second (it ticks while expenses arrive); else the date too."""
    if moment is None:
        return "—"
    local = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(ZONE)
    if local.date() == datetime.now(ZONE).date():
        return local.strftime("%H:%M:%S")
    return i18n.when(local, lang, settings.timezone)


# -- live part --------------------------------------------------------------------------------


def show_kpis(stats: dict, new_count: int) -> None:
    k = kpis(stats, datetime.now(UTC), settings.timezone)
    # The delta line under a figure: new expenses under the count; under a sum, what was spent
    # in other currencies (adding them would need exchange rates we do not have).
    figures = [
        (t("kpi_today"), money(k.today), i18n.others_text(k.today_others, lang)),
        (t("kpi_month"), money(k.month), i18n.others_text(k.month_others, lang)),
        (
            t("kpi_count"),
            i18n.number(k.month_count, lang),
            new_count and t("kpi_new", count=new_count),
        ),
        (t("kpi_anomalies"), i18n.number(k.month_anomalies, lang), ""),
        (t("kpi_rate"), i18n.percent(k.month_rate, lang), ""),
        (t("kpi_last"), last_seen(k.last_event_at), ""),
    ]
    others_help = t("kpi_others_help", currency=settings.currency)
    # A wrapping row: six across on a wide screen, two or three per line on a phone.
    with st.container(horizontal=True, gap="small"):
        for i, (label, value, delta) in enumerate(figures):
            st.metric(
                label,
                value,
                delta=delta or None,
                delta_color="off",
                delta_arrow="off" if i < 2 else "auto",
                help=others_help if i < 2 and delta else None,
                border=True,
            )


def daily_chart(stats: dict) -> None:
    days = pd.DataFrame(stats["by_day"], columns=["day", "total", "count", "anomalies"])
    st.markdown(f"**{t('chart_days')}**")
    if days.empty:
        st.caption(t("no_expenses"))
        return
    days["day"] = pd.to_datetime(days["day"])
    days["label"] = [total_label(d) for d in stats["by_day"]]
    base = alt.Chart(days).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%d/%m" if lang == "pt-BR" else "%b %d"))
    )
    tooltip = [
        alt.Tooltip("day:T", title=t("day"), format="%d/%m/%Y"),
        alt.Tooltip("label:N", title=t("total")),
        alt.Tooltip("count:Q", title=t("count")),
        alt.Tooltip("anomalies:Q", title=t("anomalies")),
    ]
    bars = base.mark_bar(color=ACCENT, cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(
        y=alt.Y("total:Q", title=None, axis=alt.Axis(format="~s")), tooltip=tooltip
    )
    dots = (
        base.transform_filter("datum.anomalies > 0")
        .mark_circle(color=ANOMALY, opacity=0.9, stroke="white", strokeWidth=1)
        .encode(
            y="total:Q",
            size=alt.Size("anomalies:Q", legend=None, scale=alt.Scale(range=[40, 400])),
            tooltip=tooltip,
        )
    )
    chart((bars + dots).properties(height=260))
    st.caption(t("chart_days_help"))


def category_chart(stats: dict) -> None:
    st.markdown(f"**{t('chart_categories')}**")
    rows = pd.DataFrame(stats["by_category"], columns=["category", "total", "count", "anomalies"])
    if rows.empty:
        st.caption(t("no_expenses"))
        return
    rows["label"] = [total_label(c) for c in stats["by_category"]]
    rows = rows.nlargest(10, "total")
    bars = (
        alt.Chart(rows)
        .mark_bar(color=ACCENT, cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("category:N", sort="-x", title=None, axis=alt.Axis(labelLimit=160)),
            x=alt.X("total:Q", title=None, axis=alt.Axis(format="~s")),
            tooltip=[
                alt.Tooltip("category:N", title=t("category")),
                alt.Tooltip("label:N", title=t("total")),
                alt.Tooltip("count:Q", title=t("count")),
                alt.Tooltip("anomalies:Q", title=t("anomalies")),
            ],
        )
    )
    chart(bars.properties(height=260))


def reasons_chart(feed: LiveFeed) -> None:
    st.markdown(f"**{t('chart_kinds')}**")
    counts = feed.reason_counts()
    if not counts:
        st.caption(t("no_anomalies"))
        return
    rows = pd.DataFrame(
        [{"reason": i18n.reason_label(code, lang), "n": n} for code, n in counts.items()]
    )
    bars = (
        alt.Chart(rows)
        .mark_bar(color=ANOMALY, cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("n:Q", title=None, axis=alt.Axis(tickMinStep=1, format="d")),
            tooltip=[alt.Tooltip("reason:N", title=t("reasons")), alt.Tooltip("n:Q", title="#")],
        )
    )
    chart(bars.properties(height=alt.Step(26)))
    st.caption(t("chart_kinds_help", count=len(feed.anomalies)))


def stream_chart(feed: LiveFeed) -> None:
    st.markdown(f"**{t('chart_stream')}**")
    if not feed.events:
        st.caption(t("no_expenses"))
        return
    # x is the place in the list (1 = oldest shown), not the id: ids are shared by all users, so
    # other users' expenses in between would split the chart into clumps with gaps.
    count = len(feed.events)
    rows = pd.DataFrame(
        {
            "rank": count - i,
            "id": e["id"],
            "when": i18n.when(e["occurred_at"], lang, settings.timezone),
            "amount": e["amount"],
            "label": money(e["amount"], e["currency"]),
            "merchant": e["merchant"] or "—",
            "severity": e["severity"] if e["is_anomaly"] else "none",
            "sev": i18n.severity(e["severity"] if e["is_anomaly"] else "none", lang),
            "reason": e["reasons"][0]["message"] if e["is_anomaly"] and e["reasons"] else "",
        }
        for i, e in enumerate(feed.events)  # newest first
    )
    order = list(SEVERITY_COLORS)
    points = (
        alt.Chart(rows)
        .mark_circle(opacity=0.85)
        .encode(
            x=alt.X("rank:Q", title=None, axis=None, scale=alt.Scale(domain=[0.5, count + 0.5])),
            y=alt.Y(
                "amount:Q",
                title=None,
                scale=alt.Scale(type="log"),
                axis=alt.Axis(format="~s", values=[1, 10, 100, 1_000, 10_000, 100_000]),
            ),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=order, range=[SEVERITY_COLORS[s] for s in order]),
                legend=None,
            ),
            size=alt.condition("datum.severity != 'none'", alt.value(140), alt.value(30)),
            tooltip=[
                alt.Tooltip("when:N", title=t("when")),
                alt.Tooltip("merchant:N", title=t("merchant")),
                alt.Tooltip("label:N", title=t("amount")),
                alt.Tooltip("sev:N", title=t("severity")),
                alt.Tooltip("reason:N", title=t("reasons")),
                alt.Tooltip("id:Q", title="#"),  # the number the History tab shows
            ],
        )
    )
    chart(points.properties(height=220))
    st.caption(t("chart_stream_help", count=count))


def give_feedback(feed: LiveFeed, expense_id: int, label: str) -> None:
    """Button callback: runs before the page (or fragment) reruns, so the card shows it."""
    try:
        feed.replace(client.feedback(expense_id, label))
    except ApiError as exc:
        st.session_state["feedback_error"] = exc.message


def anomaly_card(feed: LiveFeed, e: dict) -> None:
    with st.container(border=True):
        color = {"high": "red", "medium": "orange", "low": "yellow"}.get(e["severity"], "gray")
        merchant, account = (ui.escape_md(e[k] or "—") for k in ("merchant", "account"))
        st.markdown(
            f":{color}-badge[{i18n.severity(e['severity'], lang).upper()}] "
            f"**{money(e['amount'], e['currency'])}** · {merchant} · "
            f"{ui.escape_md(e['category'])}  \n"
            f":gray[{account} · {i18n.when(e['occurred_at'], lang, settings.timezone)} · "
            f"{t('score')} {ui.risk(e['score'])}]"
        )
        reasons = "\n".join(f"- {ui.escape_md(r['message'])}" for r in e["reasons"])
        st.markdown(reasons or t("no_reasons"))
        if e["feedback"]:
            st.caption(f"{t('feedback')}: {t('fb_' + e['feedback'])}")
            return
        buttons = st.columns(2)
        buttons[0].button(
            t("btn_fine"),
            key=f"fb_legit_{e['id']}",
            on_click=give_feedback,
            args=(feed, e["id"], "legit"),
            width="stretch",
        )
        buttons[1].button(
            t("btn_confirm"),
            key=f"fb_fraud_{e['id']}",
            on_click=give_feedback,
            args=(feed, e["id"], "fraud"),
            type="primary",
            width="stretch",
        )


def latest_anomalies(feed: LiveFeed, shown: int = 5) -> None:
    st.markdown(f"**{t('latest_anomalies')}**")
    if "feedback_error" in st.session_state:
        st.error(t("api_error", message=ui.escape_md(st.session_state.pop("feedback_error"))))
    if not feed.anomalies:
        st.info(t("no_anomalies"))
        return
    for e in feed.anomalies[:shown]:
        anomaly_card(feed, e)


def live_overview(api: VigilanteClient) -> None:
    feed: LiveFeed | None = st.session_state.get("feed")
    if feed is None or feed.lang != lang:  # reasons come rendered in one language
        feed = st.session_state["feed"] = LiveFeed(lang=lang)
    was_loaded = feed.loaded
    try:
        new_count = feed.poll(api)
        # Totals in the currency this dashboard labels them with, whatever the API's default.
        stats = api.stats(
            start=stats_window(datetime.now(UTC), settings.timezone), currency=settings.currency
        )
    except ApiError as exc:
        ui.handle_session_error(api, exc)
        return
    show_kpis(stats, new_count if was_loaded else 0)
    left, right = st.columns([3, 2])
    with left:
        daily_chart(stats)
    with right:
        category_chart(stats)
    left, right = st.columns([3, 2])
    with left:
        latest_anomalies(feed)
    with right:
        reasons_chart(feed)
        stream_chart(feed)


# -- history ----------------------------------------------------------------------------------


def history_rows(events: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": e["id"],
                t("when"): i18n.when(e["occurred_at"], lang, settings.timezone),
                t("amount"): money(e["amount"], e["currency"]),
                t("category"): e["category"],
                t("merchant"): e["merchant"] or "",  # not "None" in an empty cell
                t("account"): e["account"] or "",
                t("score"): ui.risk_cells(e["score"]),
                t("anomaly"): i18n.severity(e["severity"], lang) if e["is_anomaly"] else "",
                t("reasons"): "; ".join(r["message"] for r in e["reasons"]),
                t("feedback"): t("fb_" + e["feedback"]) if e["feedback"] else "",
            }
            for e in events
        ],
        columns=["id"]
        + [
            t(k)
            for k in (
                "when",
                "amount",
                "category",
                "merchant",
                "account",
                "score",
                "anomaly",
                "reasons",
                "feedback",
            )  # fmt: skip
        ],
    )


# Rows per History page, within the API's own page limit (VIGILANTE_MAX_PAGE, shared
# configuration): a page cut short by the API would read as "no more" and hide the rest.
HISTORY_PAGE = min(200, settings.max_page)


def _load_more(api: VigilanteClient, state: dict) -> None:
    """The next page, fetched before the rerun draws the table (and decides the button)."""
    try:
        page = api.events(limit=HISTORY_PAGE, before_id=state["rows"][-1]["id"], **state["query"])
    except ApiError as exc:
        state["error"] = exc
        return
    state["rows"] += page
    state["done"] = _last_page(api, state, page)
    state["keep"] += HISTORY_PAGE


def _last_page(api: VigilanteClient, state: dict, page: list[dict]) -> bool:
    """Whether nothing older than ``page`` matches: a short page may only be the API's limit."""
    if len(page) >= HISTORY_PAGE:
        return False
    return not page or not api.events(limit=1, before_id=page[-1]["id"], **state["query"])


def _history_news(api: VigilanteClient, state: dict) -> None:
    """Put the expenses newer than the newest row shown (and matching the filters) on top.

    Only what is new crosses the wire (``after_id``). A full page of news may leave a gap below
    it: then that page is the list and "load more" goes on from there. The list keeps the rows
    the user asked for (``keep``: a page per "load more"); rows pushed off the end come back
    through "load more".
    """
    if not state["rows"]:
        page = api.events(limit=HISTORY_PAGE, **state["query"])
        state["rows"], state["done"] = page, _last_page(api, state, page)
        return
    newest = state["rows"][0]["id"]
    fresh = api.events(limit=HISTORY_PAGE, after_id=newest, **state["query"])
    # A page of news may be cut short by the API's own page limit (VIGILANTE_MAX_PAGE, which this
    # process may not share): whether anything lies between it and the rows shown is asked.
    gap = bool(fresh) and (
        len(fresh) >= HISTORY_PAGE
        or bool(api.events(limit=1, after_id=newest, before_id=fresh[-1]["id"], **state["query"]))
    )
    if gap:
        state["rows"], state["done"], state["keep"] = fresh, False, HISTORY_PAGE
    elif fresh:
        rows = fresh + state["rows"]
        state["rows"] = rows[: state["keep"]]
        state["done"] = state["done"] and len(rows) <= state["keep"]


def history(api: VigilanteClient) -> None:
    feed: LiveFeed | None = st.session_state.get("feed")
    today = datetime.now(ZONE).date()
    cols = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
    period = cols[0].date_input(
        t("period"),
        value=(today - timedelta(days=30), today),
        max_value=today + timedelta(days=1),
        format="DD/MM/YYYY" if lang == "pt-BR" else "YYYY-MM-DD",
        key="hist_period",
    )
    categories = sorted({e["category"] for e in feed.events}) if feed else []
    accounts = sorted({e["account"] for e in feed.events if e["account"]}) if feed else []
    category = cols[1].selectbox(
        t("category"),
        [None, *categories],
        format_func=lambda c: t("all_categories") if c is None else c,
        accept_new_options=True,
        key="hist_category",
    )
    account = cols[2].selectbox(
        t("account"),
        [None, *accounts],
        format_func=lambda a: t("all_accounts") if a is None else a,
        accept_new_options=True,
        key="hist_account",
    )
    only = cols[3].toggle(t("anomalies_only"), key="hist_only")
    start = end = None
    if isinstance(period, tuple) and period:
        start = datetime.combine(period[0], datetime.min.time(), ZONE)
        last = period[1] if len(period) > 1 else period[0]
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), ZONE)
    query = {
        "start": start,
        "end": end,
        "category": category or None,
        "account": account or None,
        "anomalies_only": only,
    }
    state = st.session_state.get("history")
    if state is None or state["query"] != query or state["lang"] != lang:
        state = {"query": query, "lang": lang, "rows": [], "done": False, "keep": HISTORY_PAGE}
        st.session_state["history"] = state
    try:
        if state.get("error") is not None:  # from "load more", which ran before this rerun
            raise state.pop("error")
        _history_news(api, state)
    except ApiError as exc:
        ui.handle_session_error(api, exc)
        return
    table = history_rows(state["rows"])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=420,
        column_config={
            "id": st.column_config.NumberColumn("#", width="small"),
            t("score"): ui.risk_column(t("score")),
            t("reasons"): st.column_config.TextColumn(t("reasons"), width="large"),
        },
        key="hist_table",
    )
    foot = st.columns([2, 1, 1], vertical_alignment="center")
    foot[0].caption(t("showing", count=len(table)))
    if not state["done"]:  # below the table: the next page is appended there
        foot[1].button(
            t("load_more"), key="hist_more", width="stretch", on_click=_load_more,
            args=(api, state),
        )  # fmt: skip
    foot[2].download_button(
        t("export_csv"),
        table.to_csv(index=False).encode("utf-8-sig"),
        file_name="vigilante-despesas.csv" if lang == "pt-BR" else "vigilante-expenses.csv",
        mime="text/csv",
        key="hist_csv",
        width="stretch",
    )


# -- the page ---------------------------------------------------------------------------------

st.html(METRIC_CSS)
st.title(f":material/shield: {t('app_title')}")
if not ui.require_api(client):
    st.stop()
ui.require_login(client)
ui.account_box(client)
live = st.sidebar.toggle(t("refresh_live"), value=True, key="live")
with st.sidebar:  # open alerts, kept live like the overview
    st.fragment(run_every=settings.refresh_seconds if live else None)(ui_alerts.sidebar_count)(
        client
    )
st.caption(
    t("dash_caption", seconds=f"{settings.refresh_seconds:g}") if live else f"⏸ {t('paused')}"
)

overview_tab, history_tab, alerts_tab = st.tabs(
    [t("tab_overview"), t("tab_history"), t("tab_alerts")]
)
with overview_tab:
    st.fragment(run_every=settings.refresh_seconds if live else None)(live_overview)(client)
with history_tab:
    st.fragment(run_every=settings.refresh_seconds if live else None)(history)(client)
with alerts_tab:
    st.fragment(ui_alerts.alerts_tab)(client, settings.refresh_seconds if live else None)
