"""The dashboard's alerts tab: open alerts first (acknowledge each), budgets with progress bars,
rules to add, switch on and off, or delete; and the open-alert count in the sidebar.

Talks to the API only through :class:`~vigilante.client.VigilanteClient`; every string comes
from :mod:`vigilante.i18n`. ``dashboard.py`` calls :func:`sidebar_count` and
:func:`alerts_tab`.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from vigilante import i18n, ui
from vigilante.client import ApiError, InvalidInput, VigilanteClient
from vigilante.config import get_settings

KINDS = ("amount_over", "blocked_merchant", "blocked_category", "weekend", "night", "frequency")
# The form fields each kind shows, in order (the API says which it needs and why).
KIND_FIELDS = {
    "amount_over": ("amount", "category", "merchant", "account"),
    "blocked_merchant": ("merchants", "account"),
    "blocked_category": ("categories", "account"),
    "weekend": ("min_amount", "category", "merchant", "account"),
    "night": ("start_hour", "end_hour", "min_amount", "category", "merchant", "account"),
    "frequency": ("count", "minutes", "category", "merchant", "account"),
}
SEVERITIES = ("low", "medium", "high")
ERROR_KEY = "alerts_error"


def t(key: str, **values) -> str:
    return ui.t(key, **values)


def _money(value: float, currency: str | None) -> str:
    """An alert's, budget's or rule's amount in its own currency (the deployment's if unsaid)."""
    return i18n.money(value, ui.lang(), currency or get_settings().currency)


def _symbol() -> str:
    """The currency of a new budget or rule: the API gives them the deployment's."""
    return i18n.currency_symbol(get_settings().currency, ui.lang())


def _call(action, *args, labels: dict | None = None) -> None:
    """Button callback: runs before the rerun, so the page shows the result; errors are kept."""
    try:
        action(*args)
    except InvalidInput as exc:  # shown with st.error, which reads Markdown
        fields = i18n.field_errors(exc.errors, ui.lang())
        text = "; ".join(f"{_field_label(k, labels)}: {v}" for k, v in fields.items())
        st.session_state[ERROR_KEY] = ui.escape_md(text)
    except ApiError as exc:
        st.session_state[ERROR_KEY] = t("api_error", message=ui.escape_md(exc.message))


# The form's own label for a field the API names, not the API's id: a budget's, else a rule's.
_BUDGET_LABELS = {"limit": "bud_limit", "category": "bud_category"}
_RULE_LABELS = {"name": "rule_name"}


def _field_label(field: str, labels: dict | None = None) -> str:
    key = (labels or _RULE_LABELS).get(field, f"f_{field}")
    return t(key, symbol=_symbol()) if key in i18n.STRINGS else field


# -- sidebar ----------------------------------------------------------------------------------


def open_count(client: VigilanteClient) -> int | None:
    try:
        return client.alert_summary()["open"]
    except ApiError:
        return None


def sidebar_count(client: VigilanteClient) -> None:
    """The number of open alerts (put it in a fragment to keep it live)."""
    count = open_count(client)
    if count is None:
        return
    st.markdown(t("al_sidebar_open", count=count) if count else t("al_sidebar_none"))


def tab_label(client: VigilanteClient) -> str:
    count = open_count(client)
    return t("tab_alerts_open", count=count) if count else t("tab_alerts")


# -- the tab ----------------------------------------------------------------------------------


def alerts_tab(client: VigilanteClient, run_every: float | None = None) -> None:
    """The alerts list refreshes every ``run_every`` seconds in a fragment of its own; the
    budgets and rules beside it, with their forms, rerun only when the user acts on them."""
    left, right = st.columns([3, 2])
    with left:
        st.fragment(run_every=run_every)(alert_panel)(client)
    with right:
        _show_error()
        try:
            budgets = client.budgets()
            rules = client.rules()
        except ApiError as exc:
            ui.handle_session_error(client, exc)
            return
        budget_panel(client, budgets)
        rule_panel(client, rules)


def _show_error() -> None:
    """What the last button failed with, in whichever part reruns first after it."""
    if ERROR_KEY in st.session_state:
        st.error(st.session_state.pop(ERROR_KEY))


def newest_first(alerts: list[dict]) -> list[dict]:
    """By the time each card shows (its latest expense): the API pages by id, and an older
    alert that a new expense joined would sit below younger ones with earlier times."""
    return sorted(
        alerts, key=lambda a: (datetime.fromisoformat(a["last_at"]), a["id"]), reverse=True
    )


def alert_panel(client: VigilanteClient) -> None:
    _show_error()
    try:
        open_alerts = client.alerts(limit=50, state="open")
        acked = client.alerts(limit=20, state="acked")
    except ApiError as exc:
        ui.handle_session_error(client, exc)
        return
    alert_list(client, newest_first(open_alerts), newest_first(acked))


def alert_list(client: VigilanteClient, open_alerts: list[dict], acked: list[dict]) -> None:
    st.markdown(f"**{t('al_open')}**")
    if not open_alerts:
        st.info(t("al_none_open"))
    for alert in open_alerts:
        alert_card(client, alert)
    if acked:
        with st.expander(t("al_acked")):
            st.dataframe(acked_rows(acked), hide_index=True, width="stretch", key="al_acked")


def alert_card(client: VigilanteClient, alert: dict) -> None:
    lang = ui.lang()
    with st.container(border=True):
        color = {"high": "red", "medium": "orange", "low": "yellow"}.get(alert["severity"], "gray")
        source = t(f"al_source_{alert['source']}")
        when = i18n.when(alert["last_at"], lang, get_settings().timezone)
        if alert["source"] != "budget":  # a budget alert's figures are in its reason
            when += " · " + t(
                "al_count", count=alert["count"], amount=_money(alert["amount"], alert["currency"])
            )
        # Titles and reasons quote merchants, categories and rule names: user text.
        st.markdown(
            f":{color}-badge[{i18n.severity(alert['severity'], lang).upper()}] "
            f":gray-badge[{source}] **{ui.escape_md(alert['title'])}**  \n:gray[{when}]"
        )
        st.markdown("\n".join(f"- {ui.escape_md(r['message'])}" for r in alert["reasons"]))
        st.button(
            t("al_ack"),
            key=f"ack_{alert['id']}",
            on_click=_call,
            args=(client.ack_alert, alert["id"]),
        )


def acked_rows(alerts: list[dict]) -> pd.DataFrame:
    lang = ui.lang()
    zone = get_settings().timezone
    return pd.DataFrame(
        [
            {
                t("when"): i18n.when(a["last_at"], lang, zone),
                t("severity"): i18n.severity(a["severity"], lang),
                t("al_source"): t(f"al_source_{a['source']}"),
                t("al_title"): a["title"],
                t("reasons"): "; ".join(r["message"] for r in a["reasons"]),
            }
            for a in alerts
        ]
    )


# -- budgets ----------------------------------------------------------------------------------


def budget_panel(client: VigilanteClient, budgets: list[dict]) -> None:
    month = i18n.month(budgets[0]["month"], ui.lang()) if budgets else ""
    st.markdown(f"**{t('bud_title', month=month)}**" if month else f"**{t('bud_heading')}**")
    if not budgets:
        st.caption(t("bud_none"))
    for b in budgets:
        budget_bar(client, b)
    with st.expander(t("bud_add"), expanded=not budgets), st.form("budget_form", border=False):
        st.text_input(t("bud_category"), key="budget_category")
        st.number_input(
            t("bud_limit", symbol=_symbol()), min_value=0.0, value=1000.0, step=100.0,
            format="%.2f", key="budget_limit",
        )  # fmt: skip
        st.form_submit_button(t("add"), key="budget_submit", on_click=_add_budget, args=(client,))


def _add_budget(client: VigilanteClient) -> None:
    category = st.session_state.get("budget_category", "").strip()
    limit = st.session_state.get("budget_limit", 0.0)
    budget = {"category": category or None, "limit": f"{limit:.2f}"}
    _call(client.add_budget, budget, labels=_BUDGET_LABELS)


def budget_bar(client: VigilanteClient, b: dict) -> None:
    lang = ui.lang()
    percent = i18n.percent(b["percent"] / 100, lang)
    currency = b["currency"]
    values = {
        "spent": _money(b["spent"], currency),
        "limit": _money(b["limit"], currency),
        "percent": percent,
    }
    if b["left"] >= 0:
        text = t("bud_line", left=_money(b["left"], currency), **values)
    else:
        text = t("bud_over", over=_money(-b["left"], currency), **values)
    name = ui.escape_md(b["category"]) if b["category"] else t("bud_all")
    cols = st.columns([5, 1], vertical_alignment="bottom")
    cols[0].progress(min(b["percent"] / 100, 1.0), text=f"**{name}** · {text}")
    cols[1].button(
        ":material/delete:", key=f"budget_del_{b['id']}", help=t("delete"),
        on_click=_call, args=(client.delete_budget, b["id"]),
    )  # fmt: skip


# -- rules ------------------------------------------------------------------------------------


def describe(rule: dict) -> str:
    """One line: what the rule watches."""
    parts = []
    if rule.get("amount") is not None:
        parts.append(t("desc_amount", amount=_money(rule["amount"], rule.get("currency"))))
    if rule["kind"] == "night":
        start, end = rule.get("start_hour"), rule.get("end_hour")
        start, end = 22 if start is None else start, 6 if end is None else end
        parts.append(t("desc_hours", start=f"{start:02d}:00", end=f"{end:02d}:00"))
    if rule["kind"] == "frequency":
        parts.append(t("desc_frequency", count=rule["count"], minutes=rule["minutes"]))
    parts += rule.get("merchants") or []
    parts += rule.get("categories") or []
    parts += [rule[k] for k in ("category", "merchant", "account") if rule.get(k)]
    if rule["kind"] in ("amount_over", "frequency"):  # the numbers say it all
        return " · ".join(parts)
    return " · ".join([t(f"kind_{rule['kind']}"), *parts])


def rule_panel(client: VigilanteClient, rules: list[dict]) -> None:
    st.markdown(f"**{t('rules_title')}**")
    if not rules:
        st.caption(t("rules_none"))
    lang = ui.lang()
    for rule in rules:
        state = t("rule_on") if rule["enabled"] else t("rule_off")
        cols = st.columns([5, 2, 1], vertical_alignment="center")
        cols[0].markdown(
            f"**{ui.escape_md(rule['name'])}** · {i18n.severity(rule['severity'], lang)} · "
            f"{state}  \n:gray[{ui.escape_md(describe(rule))}]"
        )
        cols[1].button(
            t("turn_off") if rule["enabled"] else t("turn_on"),
            key=f"rule_toggle_{rule['id']}",
            on_click=_call,
            args=(client.update_rule, rule["id"], {"enabled": not rule["enabled"]}),
        )
        cols[2].button(
            ":material/delete:", key=f"rule_del_{rule['id']}", help=t("delete"),
            on_click=_call, args=(client.delete_rule, rule["id"]),
        )  # fmt: skip
    with st.expander(t("rule_add"), expanded=not rules):
        rule_form(client)


def rule_form(client: VigilanteClient) -> None:
    # The kind picks the fields, so it sits outside the form (a form reruns only on submit).
    kind = st.selectbox(
        t("rule_kind"), KINDS, format_func=lambda k: t(f"kind_{k}"), key="rule_kind"
    )
    with st.form("rule_form", border=False):
        st.text_input(t("rule_name"), key="rule_name")
        st.selectbox(
            t("severity"), SEVERITIES, index=1, key="rule_severity",
            format_func=lambda s: i18n.severity(s, ui.lang()),
        )  # fmt: skip
        for field in KIND_FIELDS[kind]:
            _field_input(field)
        st.form_submit_button(t("add"), key="rule_submit", on_click=_add_rule, args=(client, kind))


def _add_rule(client: VigilanteClient, kind: str) -> None:
    state = st.session_state
    values = {field: state.get(f"rule_{field}") for field in KIND_FIELDS[kind]}
    body = {"name": state.get("rule_name", "").strip(), "kind": kind}
    body["severity"] = state.get("rule_severity", "medium")
    body |= {k: v for k, v in _api_fields(values).items() if v not in (None, "", [])}
    _call(client.add_rule, body)


def _field_input(field: str):
    key = f"rule_{field}"
    if field in ("amount", "min_amount"):
        label = t("f_amount" if field == "amount" else "f_min_amount", symbol=_symbol())
        # Empty until typed: a default of 0,00 was a rule the API refuses ("must be > 0").
        return st.number_input(label, min_value=0.0, value=None, step=10.0, format="%.2f", key=key)
    if field in ("merchants", "categories"):
        return st.text_area(t(f"f_{field}"), key=key, height=80)
    if field in ("start_hour", "end_hour"):
        default = 22 if field == "start_hour" else 6
        return st.number_input(t(f"f_{field}"), 0, 23, default, key=key)
    if field == "count":
        return st.number_input(t("f_count"), 1, 10_000, 5, key=key)
    if field == "minutes":
        return st.number_input(t("f_minutes"), 1, 1440, 10, key=key)
    return st.text_input(t(f"f_{field}"), key=key)


def _api_fields(values: dict) -> dict:
    out = {}
    for field, value in values.items():
        if value is None:
            continue
        if field in ("merchants", "categories"):
            out[field] = [line.strip() for line in value.splitlines() if line.strip()]
        elif field == "min_amount":
            out["amount"] = f"{value:.2f}" if value else None
        elif field == "amount":
            out["amount"] = f"{value:.2f}"
        elif isinstance(value, str):
            out[field] = value.strip() or None
        else:
            out[field] = int(value)
    return out
