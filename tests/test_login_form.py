"""The login form shared by the dashboard and the entry app."""

from __future__ import annotations

from tests.live_api import login


def test_empty_fields_are_named_in_words_not_as_the_apis_422(live_api, open_app):
    username, _ = live_api.new_user("form")
    at = open_app("dashboard.py", live_api.url)
    at = login(at, "", "")
    assert [e.value for e in at.error] == ["Informe o usuário e a senha."]
    at = login(at, username, "")
    assert [e.value for e in at.error] == ["Informe a senha."]
    at = open_app("streamlit_app.py", live_api.url, VIGILANTE_LANG="en")
    at = login(at, "  ")
    assert [e.value for e in at.error] == ["Please enter your username."]
    at = login(at, username)
    assert not at.error and not at.exception  # logged in
