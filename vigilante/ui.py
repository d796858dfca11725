"""Streamlit pieces both apps share: the language switch, the API client of this browser
session, the "API unreachable" banner and the login form.

One ``httpx.Client`` (a connection pool) serves every session (``st.cache_resource``); each
session has its own :class:`VigilanteClient` in ``st.session_state``, so tokens never mix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import streamlit as st

from vigilante import i18n
from vigilante.client import (
    DEMO_CREDENTIALS_ENV,
    ApiError,
    ApiUnreachable,
    AuthError,
    RateLimited,
    VigilanteClient,
    read_demo_credentials,
)
from vigilante.config import get_settings

# -- user text in Markdown --------------------------------------------------------------------
# Merchants, categories, accounts, rule names and the reasons quoting them come from API input
# and bank statements; Streamlit reads every st.markdown/caption/error/progress text as Markdown
# (with :color[...] directives, $ LaTeX, emoji and autolinks), so they go through escape_md.
WJ = "\u2060"  # WORD JOINER: invisible, splits a pattern that a backslash cannot escape
_ALWAYS = re.compile(r"([\\`*_\[\]<>$~|&])")  # markup wherever it stands
_LINE_START = re.compile(r"^(#+|[+-]|\d+[.)])(?=\s|$)")  # a heading, "- " or "1. " item
# "\:" stops :red[...] directives; emoji (:smile:, :100:), :streamlit:, :material/icon: and
# autolinked https:// are matched in the parsed text, after escapes are gone, so a WJ after the
# colon breaks them. Other colons (times like 22:00, "nome: valor") are left alone.
_COLON = re.compile(r":(?=[^\s\d]|\d+:)")
_AUTOLINK = re.compile(r"(?i)(?<=\bwww)(?=\.)|(?<=@)(?=[\w-])")  # www.x, a@b.c
_TYPOGRAPHY = re.compile(r"(?<=[<>~-])(?=[<>=-])")  # Streamlit turns -> into an arrow, -- into —


def escape_md(text: object) -> str:
    """``text`` as Streamlit Markdown that shows it literally, on one line."""
    text = " ".join(str(text).splitlines()).strip()  # 4 leading spaces would be a code block
    text = _TYPOGRAPHY.sub(WJ, _AUTOLINK.sub(WJ, text))
    text = _ALWAYS.sub(r"\\\1", text)
    text = _COLON.sub("\\:" + WJ, text)
    return _LINE_START.sub(lambda m: m[0][:-1] + "\\" + m[0][-1], text, count=1)


def risk_cells(score: float) -> int:
    """A score as a whole percent, the same in both languages: a table cell's "0.94" would
    read as a number with the wrong decimal mark to a pt-BR reader."""
    return round(score * 100)


def risk(score: float) -> str:
    """The score as text: "94%"."""
    return f"{risk_cells(score)}%"


def risk_column(label: str):
    """A table column of scores given as whole percents (:func:`risk_cells`)."""
    return st.column_config.ProgressColumn(
        label, min_value=0, max_value=100, format="%d%%", width="small"
    )


@st.cache_resource
def http_pool() -> httpx.Client:
    return httpx.Client(timeout=15.0)


def lang() -> str:
    return st.session_state.get("lang") or get_settings().lang


def t(key: str, **values) -> str:
    return i18n.t(key, lang(), **values)


def language_switch() -> str:
    st.sidebar.selectbox(
        i18n.t("language", lang()),
        i18n.LANGS,
        index=i18n.LANGS.index(lang()),
        format_func=i18n.LANG_NAMES.get,
        key="lang",
    )
    return lang()


def session_client() -> VigilanteClient:
    settings = get_settings()
    client = st.session_state.get("api")
    if client is None or client.base_url != settings.api_url.rstrip("/"):
        client = VigilanteClient(settings.api_url, http=http_pool())
        st.session_state["api"] = client
    client.lang = lang()
    return client


def api_banner(client: VigilanteClient) -> None:
    st.error(
        t("api_down", url=client.base_url, seconds=f"{get_settings().refresh_seconds:g}"),
        icon="🔌",
    )


def _wait_for_api(client: VigilanteClient) -> None:
    """Poll /health; when the API answers again, run the whole page again."""
    try:
        client.health()
    except ApiUnreachable:
        return
    st.rerun(scope="app")


def require_api(client: VigilanteClient) -> bool:
    """True when the API answers; else the banner, a poller that reloads the page, False."""
    try:
        if "auth_required" not in st.session_state:
            st.session_state["auth_required"] = client.auth_required()
        return True
    except ApiUnreachable:
        api_banner(client)
        st.fragment(run_every=get_settings().refresh_seconds)(_wait_for_api)(client)
        return False
    except ApiError as exc:
        st.error(t("api_error", message=escape_md(exc.message)))
        return False


def _demo_prefill() -> tuple[str, str] | None:
    path = os.environ.get(DEMO_CREDENTIALS_ENV)
    return read_demo_credentials(Path(path)) if path else None


def require_login(client: VigilanteClient) -> None:
    """Show the login form and stop the page until the user is logged in (auth on only)."""
    _forget_last_session()
    if not st.session_state.get("auth_required", True) or client.logged_in:
        return
    prefill = _demo_prefill()
    # The sidebar's language switch is out of sight while the dashboard's sidebar is folded:
    # the login page offers it too.
    other = next(code for code in i18n.LANGS if code != lang())
    st.button(
        i18n.LANG_NAMES[other], key="login_lang", icon=":material/translate:", type="tertiary",
        on_click=st.session_state.update, kwargs={"lang": other},
    )  # fmt: skip
    with st.form("login", border=True, width=420):
        st.subheader(t("login_title"))
        username = st.text_input(
            t("username"), value=prefill[0] if prefill else "", key="login_username"
        )
        password = st.text_input(
            t("password"),
            value=prefill[1] if prefill else "",
            type="password",
            key="login_password",
        )
        if prefill:
            st.caption(t("demo_hint"))
        submitted = st.form_submit_button(t("login"), type="primary", key="login_submit")
    # An empty field is said here, in words, rather than as the API's 422 with its field ids.
    fields = (("username", username.strip()), ("password", password))
    blank = [name for name, value in fields if not value]
    if submitted and blank:
        st.error(t("login_no_" + "_".join(blank)))
    elif submitted:
        try:
            client.login(username.strip(), password)
        except AuthError:
            st.error(t("login_failed"))
        except RateLimited as exc:
            st.error(t("login_throttled", seconds=f"{exc.retry_after:.0f}"))
        except ApiUnreachable:
            api_banner(client)
        except ApiError as exc:
            st.error(t("api_error", message=escape_md(exc.message)))
        else:
            st.rerun()
    st.stop()


def account_box(client: VigilanteClient) -> None:
    with st.sidebar:
        if not st.session_state.get("auth_required", True):
            st.caption(t("auth_off"))
            return
        st.markdown(t("logged_in_as", user=escape_md(client.username)))
        if st.button(t("logout"), key="logout"):
            log_out(client)
            st.rerun()


# What outlives a log-out: the connection to the API and the chosen language. Everything else
# in the session (the dashboard's feed and history, the entry app's last verdict, categories,
# pending expense, what was typed in forms) was the last user's.
KEPT_ON_LOGOUT = ("api", "lang", "auth_required")


def log_out(client: VigilanteClient) -> None:
    """Forget the session and what it showed: whoever logs in next starts from their own.

    The page may still be drawing (a session the API ended mid-run): widget state goes at the
    start of the next run, before any widget is drawn (``require_login``)."""
    client.logout()
    for key in ("feed", "history"):
        st.session_state.pop(key, None)
    st.session_state["forget_session"] = True


def _forget_last_session() -> None:
    if st.session_state.pop("forget_session", False):
        for key in list(st.session_state.keys()):
            if key not in KEPT_ON_LOGOUT:
                del st.session_state[key]


def handle_session_error(client: VigilanteClient, exc: ApiError) -> None:
    """Inside a page: unreachable -> banner; 401 -> back to the login form; else the message."""
    if isinstance(exc, ApiUnreachable):
        api_banner(client)
    elif isinstance(exc, AuthError):
        log_out(client)
        st.warning(t("session_expired"))
    else:
        st.error(t("api_error", message=escape_md(exc.message)))


def known_spelling(typed: str | None, known: list[str]) -> str | None:
    """A category typed anew that is one of ``known`` but for case or surrounding spaces
    ("Saúde " where "saúde" exists) is that one: otherwise it would be a category of its own
    in the totals (the detector already reads them as one)."""
    if typed is None:
        return None
    folded = typed.strip().casefold()
    return next((c for c in known if c.casefold() == folded), typed)


def severity_badge(level: str) -> None:
    color = {"high": "red", "medium": "orange", "low": "yellow"}.get(level, "gray")
    st.badge(i18n.severity(level, lang()).upper(), color=color)
