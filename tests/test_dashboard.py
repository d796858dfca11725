"""The live dashboard (AppTest) against a real API, and the feed it polls with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

from tests.live_api import login
from vigilante import i18n
from vigilante.client import VigilanteClient
from vigilante.feed import LiveFeed, kpis, stats_window

TZ = "America/Sao_Paulo"


def seeded_user(api) -> tuple[str, VigilanteClient]:
    """A user with three expenses, the last a duplicate of the second (an anomaly)."""
    username, password = api.new_user("dash")
    client = VigilanteClient(api.url)
    client.login(username, password)
    now = datetime.now(UTC)
    # Three hours ago, but never in last month: the "this month" figures count all three even
    # when the suite runs in the first hours of a month (São Paulo time).
    month_start = datetime.now(ZoneInfo(TZ)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    earlier = max(now - timedelta(hours=3), month_start + timedelta(seconds=1))
    bakery = {"amount": "18.90", "category": "padaria", "merchant": "Pão de Mel"}
    client.post_event(bakery | {"occurred_at": earlier.isoformat()})
    market = {"amount": "212.35", "category": "mercado", "merchant": "Dia a Dia"}
    client.post_event(market | {"occurred_at": (now - timedelta(minutes=4)).isoformat()})
    client.post_event(market | {"occurred_at": (now - timedelta(minutes=1)).isoformat()})
    return username, client


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_login_then_kpis_anomalies_and_feedback(live_api, open_app):
    username, client = seeded_user(live_api)
    at = open_app("dashboard.py", live_api.url)
    assert not at.exception
    assert at.text_input(key="login_username")  # the login form, nothing else yet
    assert not at.metric
    at = login(at, username)
    assert not at.exception
    shown = metrics(at)
    assert shown["Despesas no mês"] == "3"
    assert shown["Anomalias no mês"] == "1"
    assert shown["Taxa de anomalias"] == "33,3%"
    assert shown["Gasto no mês"] == "R$ 443,60"
    text = "\n".join(m.value for m in at.markdown)
    assert "**R$ 212,35** · Dia a Dia · mercado" in text
    assert "mesmo valor em Dia a Dia há 3 min" in text
    # "This is fine" on the anomaly: stored by the API, and the card says so.
    anomaly = client.events(anomalies_only=True)[0]
    at.button(key=f"fb_legit_{anomaly['id']}").click().run()
    assert not at.exception
    assert client.event(anomaly["id"])["feedback"] == "legit"
    assert any("Avaliação: tudo certo" in c.value for c in at.caption)


def test_wrong_password_then_throttled_login_is_explained(live_api, open_app):
    username, _ = live_api.new_user("dash")
    at = open_app("dashboard.py", live_api.url)
    messages = []
    for _ in range(6):
        at = login(at, username, "not the password")
        assert not at.exception
        messages.append(at.error[0].value)
    assert messages[0] == "Usuário ou senha incorretos."
    assert messages[-1].startswith("Muitas tentativas de login; tente de novo em")
    assert not at.metric


def test_new_expenses_appear_on_the_next_refresh(live_api, open_app):
    username, client = seeded_user(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    client.post_event({"amount": "3.50", "category": "café", "merchant": "Café Central"})
    at.run()  # what the fragment's timer does every VIGILANTE_REFRESH_SECONDS
    assert metrics(at)["Despesas no mês"] == "4"
    assert "+1 agora" in str(at.metric[2].proto.delta)


def stream_chart(at) -> tuple[dict, list[dict]]:
    """The "Últimas despesas" chart (the only circles): its spec and the points the browser gets."""
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if spec.get("mark", {}).get("type") == "circle":
            (dataset,) = chart.proto.datasets
            points = pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
            return spec, sorted(points, key=lambda p: p["rank"])
    raise AssertionError("no stream chart")


def test_latest_expenses_chart_has_no_gap_where_other_users_wrote(live_api, open_app):
    username, client = seeded_user(live_api)
    seeded_user(live_api)  # another user's three expenses take the ids in between
    client.post_event({"amount": "3.50", "category": "café", "merchant": "Café Central"})
    at = login(open_app("dashboard.py", live_api.url), username)
    spec, points = stream_chart(at)
    assert spec["encoding"]["x"]["field"] == "rank"  # not the id
    assert spec["encoding"]["x"]["scale"]["domain"] == [0.5, 4.5]
    assert [p["rank"] for p in points] == [1, 2, 3, 4]  # one step apart, oldest left
    ids = [p["id"] for p in points]
    assert ids == sorted(ids) and ids[3] - ids[2] > 1  # the ids have the gap, the chart not
    merchants = ["Pão de Mel", "Dia a Dia", "Dia a Dia", "Café Central"]
    assert [p["merchant"] for p in points] == merchants
    assert all(p["when"] for p in points)  # the tooltip says when each was
    assert any(c.value.startswith("As 4 últimas registradas") for c in at.caption)


def test_history_filters_and_csv_export(live_api, open_app):
    username, _ = seeded_user(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    table = at.dataframe[0].value
    assert len(table) == 3 and "Dia a Dia" in set(table["Estabelecimento"])
    at.toggle(key="hist_only").set_value(True).run()
    table = at.dataframe[0].value
    assert len(table) == 1 and table.iloc[0]["Anomalia"] in {"baixa", "média", "alta"}
    # The score as a whole percent of risk, written alike in both languages.
    assert 0 < table.iloc[0]["Pontuação"] <= 100 and table.iloc[0]["Pontuação"] % 1 == 0
    assert at.get("download_button")


def keys(at) -> set[str]:
    return {b.key for b in at.button}


def user_with_250_expenses(api) -> tuple[str, VigilanteClient]:
    """More than a History page (200), an hour apart over the last 20 days."""
    username, password = api.new_user("many")
    client = VigilanteClient(api.url)
    client.login(username, password)
    start = datetime.now(UTC) - timedelta(days=20)
    client.post_events(
        [
            {"amount": f"{10 + n % 30}.50", "category": "mercado", "merchant": "Dia",
             "occurred_at": (start + timedelta(hours=n)).isoformat()}
            for n in range(250)
        ]
    )  # fmt: skip
    return username, client


def test_history_loads_the_next_page_below_the_rows_already_shown(live_api, open_app):
    username, client = user_with_250_expenses(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    first = at.dataframe[0].value
    assert len(first) == 200
    at.button(key="hist_more").click().run()
    table = at.dataframe[0].value
    assert len(table) == 250 and table.iloc[:200].equals(first)  # appended below
    assert not [b for b in at.button if b.key == "hist_more"]  # nothing more to load
    assert any(c.value.startswith("250") or "250" in c.value for c in at.caption)


def test_english_switch(live_api, open_app):
    username, _ = seeded_user(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    at.selectbox(key="lang").select("en").run()
    assert not at.exception
    assert "Expense Watchdog" in at.title[0].value
    assert metrics(at)["Spent this month"] == "R$443.60"
    assert any("same amount at Dia a Dia 3 min ago" in m.value for m in at.markdown)


def test_the_login_page_switches_language_with_the_sidebar_folded(live_api, open_app):
    at = open_app("dashboard.py", live_api.url).run()
    assert any(f.subheader and "Entrar" in f.subheader[0].value for f in at.get("form"))
    at.button(key="login_lang").click().run()
    assert not at.exception
    assert any(f.subheader and f.subheader[0].value == "Log in" for f in at.get("form"))
    assert at.selectbox(key="lang").value == "en"  # the sidebar's switch follows
    assert at.button(key="login_lang").label == "Português (Brasil)"  # and back again


def test_auth_off_needs_no_login(live_api_auth_off, open_app):
    at = open_app("dashboard.py", live_api_auth_off.url)
    assert not at.exception
    assert "Gasto hoje" in metrics(at)
    assert "login_username" not in [w.key for w in at.get("text_input")]  # no login form


def test_api_down_shows_a_banner_not_a_traceback(dead_url, open_app):
    at = open_app("dashboard.py", dead_url)
    assert not at.exception
    assert f"API inacessível em {dead_url}" in at.error[0].value
    assert not at.metric


def test_feed_asks_only_for_what_is_new(live_api):
    _, client = seeded_user(live_api)
    feed = LiveFeed(keep=2)
    assert feed.poll(client) == 2 and len(feed.anomalies) == 1
    assert feed.poll(client) == 0
    client.post_event({"amount": "5", "category": "café"})
    assert feed.poll(client) == 1
    assert [e["amount"] for e in feed.events] == [5, 212.35]
    assert feed.reason_counts() == {"duplicate": 1}


def test_kpis_split_today_and_month():
    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    stats = {
        "by_day": [
            {"day": "2026-02-28", "total": 100.0, "count": 1, "anomalies": 1},
            {"day": "2026-03-02", "total": 50.0, "count": 2, "anomalies": 0},
            {"day": "2026-03-10", "total": 25.5, "count": 3, "anomalies": 1},
        ],
        "last_event_at": "2026-03-10T14:00:00Z",
    }
    k = kpis(stats, now, TZ)
    assert (k.today, k.month, k.month_count, k.month_anomalies) == (25.5, 75.5, 5, 1)
    assert k.month_rate == 0.2 and len(k.daily_month) == 10
    assert stats_window(now, TZ).isoformat() == "2026-02-09T00:00:00-03:00"


def record_event_requests(monkeypatch) -> list[dict]:
    """Every ``VigilanteClient.events`` call the dashboard makes (AppTest runs it in-process)."""
    calls: list[dict] = []
    original = VigilanteClient.events

    def recording(self, limit=100, **params):
        calls.append({"limit": limit} | params)
        return original(self, limit, **params)

    monkeypatch.setattr(VigilanteClient, "events", recording)
    return calls


def test_history_shows_new_expenses_on_refresh_with_the_filters_kept(
    live_api, open_app, monkeypatch
):
    username, client = seeded_user(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    at.selectbox(key="hist_category").select("mercado").run()
    before = at.dataframe[0].value
    assert list(before["Estabelecimento"]) == ["Dia a Dia", "Dia a Dia"]
    calls = record_event_requests(monkeypatch)
    client.post_event({"amount": "47.10", "category": "mercado", "merchant": "Hortifruti"})
    client.post_event({"amount": "3.50", "category": "café", "merchant": "Café Central"})
    at.run()  # what the History fragment's timer does every VIGILANTE_REFRESH_SECONDS
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Estabelecimento"]) == ["Hortifruti", "Dia a Dia", "Dia a Dia"]
    assert table.iloc[1:].reset_index(drop=True).equals(before)  # new on top, the rest kept
    assert at.selectbox(key="hist_category").value == "mercado"  # the filter is kept
    assert any(c.value == "3 despesas exibidas." for c in at.caption)
    # Only what is new was asked for: after the newest row shown, with the filter.
    asked = [c for c in calls if c.get("category") == "mercado"]
    assert asked and all(c.get("after_id") == int(before.iloc[0]["id"]) for c in asked)


def test_history_refresh_keeps_the_pages_loaded(live_api, open_app):
    username, client = user_with_250_expenses(live_api)
    at = login(open_app("dashboard.py", live_api.url), username)
    at.button(key="hist_more").click().run()
    loaded = at.dataframe[0].value
    assert len(loaded) == 250
    client.post_event({"amount": "9.99", "category": "café", "merchant": "Café Central"})
    at.run()
    table = at.dataframe[0].value
    assert len(table) == 251 and table.iloc[0]["Estabelecimento"] == "Café Central"
    assert table.iloc[1:].reset_index(drop=True).equals(loaded)
    assert not [b for b in at.button if b.key == "hist_more"]  # still nothing more to load


def test_history_after_more_new_expenses_than_a_page_offers_the_rest_below(live_api, open_app):
    username, password = live_api.new_user("burst")
    client = VigilanteClient(live_api.url)
    client.login(username, password)
    client.post_event({"amount": "18.90", "category": "padaria", "merchant": "Pão de Mel"})
    at = login(open_app("dashboard.py", live_api.url), username)
    assert len(at.dataframe[0].value) == 1
    client.post_events(
        [{"amount": f"{10 + n % 30}.50", "category": "mercado", "merchant": "Dia"}
         for n in range(230)]
    )  # fmt: skip
    at.run()
    assert len(at.dataframe[0].value) == 200  # the newest page, no gap inside it
    at.button(key="hist_more").click().run()
    table = at.dataframe[0].value
    assert len(table) == 231 and table.iloc[-1]["Estabelecimento"] == "Pão de Mel"
    assert table["id"].is_unique


def test_history_within_a_smaller_api_page_loses_nothing(tmp_path, open_app):
    """An API serving at most 100 rows a page (VIGILANTE_MAX_PAGE=100), with the dashboard
    told so or not: 150 new expenses at once show as the newest 100 with "load more" below,
    not as 100 on top of the old rows with 50 missing for good; "load more" goes on until the
    oldest."""
    from tests.live_api import LiveApi

    api = LiveApi(tmp_path, env={"VIGILANTE_MAX_PAGE": "100"}).start()
    try:
        username, password = api.new_user("page")
        client = VigilanteClient(api.url)
        client.login(username, password)
        client.post_event({"amount": "18.90", "category": "padaria", "merchant": "Pão de Mel"})
        for stored, told in ((151, {"VIGILANTE_MAX_PAGE": "100"}), (301, {})):
            at = login(open_app("dashboard.py", api.url, **told), username)
            client.post_events(
                [{"amount": f"{10 + n % 30}.50", "category": "mercado", "merchant": "Dia"}
                 for n in range(150)]
            )  # fmt: skip
            at.run()
            assert len(at.dataframe[0].value) == 100
            while "hist_more" in keys(at):
                at.button(key="hist_more").click().run()
            table = at.dataframe[0].value
            assert table["id"].is_unique and len(table) == stored, told
    finally:
        api.stop()


def test_a_session_that_ends_forgets_what_it_showed(live_api, open_app, monkeypatch):
    """The API refuses the session (a password changed elsewhere): back to the login form, and
    whoever logs in next sees their own expenses only, not the last user's rows with theirs
    added on top by the History refresh."""
    from vigilante.client import AuthError

    ana, _ = seeded_user(live_api)
    bia, bia_client = seeded_user(live_api)
    bia_client.post_event({"amount": "7.00", "category": "café", "merchant": "Café da Bia"})
    at = login(open_app("dashboard.py", live_api.url), ana)
    assert len(at.dataframe[0].value) == 3
    real = VigilanteClient.stats

    def refused(self, *args, **kwargs):
        raise AuthError("401 session refused", 401)

    monkeypatch.setattr(VigilanteClient, "stats", refused)
    at.run()
    assert {w.value for w in at.warning} == {i18n.t("session_expired")}
    at.run()
    assert at.text_input(key="login_username")  # the login form again
    monkeypatch.setattr(VigilanteClient, "stats", real)
    at = login(at, bia)
    history = at.dataframe[0].value
    assert len(history) == 4 and history.iloc[0]["Estabelecimento"] == "Café da Bia"
    assert set(history["id"]) == {e["id"] for e in bia_client.events()}


def test_history_and_alerts_refresh_on_the_timer(live_api, open_app, monkeypatch):
    import streamlit

    username, _ = seeded_user(live_api)
    timers: dict[str, object] = {}
    original = streamlit.fragment

    def recording(func=None, *, run_every=None):
        def wrap(f):
            timers[f.__name__] = run_every
            return original(f, run_every=run_every)

        return wrap(func) if func is not None else wrap

    monkeypatch.setattr(streamlit, "fragment", recording)
    at = login(open_app("dashboard.py", live_api.url, VIGILANTE_REFRESH_SECONDS="7"), username)
    assert not at.exception
    assert timers["live_overview"] == 7
    assert timers["history"] == 7
    assert timers["alert_panel"] == 7
    at.toggle(key="live").set_value(False).run()  # paused: no timer anywhere
    assert timers["history"] is None and timers["alert_panel"] is None


def test_a_usd_deployment_shows_dollars_everywhere(live_api_usd, open_app):
    username, client = seeded_user(live_api_usd)
    client.post_event({"amount": "7.00", "category": "café"})  # no merchant, no account
    at = login(open_app("dashboard.py", live_api_usd.url, VIGILANTE_CURRENCY="USD",
                        VIGILANTE_LANG="en"), username)  # fmt: skip
    assert not at.exception
    shown = metrics(at)
    assert shown["Spent this month"] == "$450.60"
    assert shown["Expenses this month"] == "4"
    text = "\n".join(m.value for m in at.markdown)
    assert "**$212.35** · Dia a Dia · mercado" in text
    assert "R$" not in text
    history = at.dataframe[0].value
    assert list(history["Amount"]) == ["$7.00", "$212.35", "$212.35", "$18.90"]
    coffee = history.iloc[0]
    assert coffee["Merchant"] == "" and coffee["Account / card"] == ""  # not "None"


def test_totals_are_in_the_currency_they_are_labelled_with(live_api_usd, open_app):
    """A dashboard in reais against an API whose default is the dollar: the dollars are not
    labelled as reais; the totals are asked in reais and the dollars shown apart."""
    username, _ = seeded_user(live_api_usd)  # R$-less expenses: dollars, the API's default
    at = login(open_app("dashboard.py", live_api_usd.url), username)
    assert not at.exception
    assert metrics(at)["Gasto no mês"] == "R$ 0,00"
    spent = next(m for m in at.metric if m.label == "Gasto no mês")
    assert "+ US$ 443,60" in str(spent.proto.delta)


def test_an_expense_in_another_currency_is_counted_and_shown_in_its_own(live_api, open_app):
    username, client = seeded_user(live_api)
    client.post_event({"amount": "5000.00", "currency": "EUR", "category": "viagem",
                       "merchant": "Hotel Lisboa"})  # fmt: skip
    at = login(open_app("dashboard.py", live_api.url), username)
    assert not at.exception
    shown = metrics(at)
    assert shown["Despesas no mês"] == "4"  # the euro expense is one of them
    assert shown["Gasto no mês"] == "R$ 443,60"  # reais only: no exchange rate is assumed
    spent = next(m for m in at.metric if m.label == "Gasto no mês")
    assert "+ € 5.000,00" in str(spent.proto.delta)  # but the euros are there, apart
    assert at.dataframe[0].value["Valor"].iloc[0] == "€ 5.000,00"
