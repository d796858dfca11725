"""User text (merchants, categories, accounts, rule names, reasons) shows literally in the UIs.

Streamlit reads st.markdown, captions, errors and progress texts as Markdown plus its own
``:red[...]`` directives, ``$`` LaTeX, emoji shortcodes and autolinks; ``ui.escape_md`` makes
user text inert. Checked three ways: the escaped strings, CommonMark (markdown-it-py) rendering
them as plain text, and the dashboard (AppTest) carrying a hostile merchant only escaped. A real
Streamlit in Chromium renders them, when Debian's chromium is installed.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.live_api import ROOT, clean_env, free_port, login
from tests.test_alerts_ui import wait_for
from vigilante.client import VigilanteClient
from vigilante.ui import WJ, escape_md

EVIL = "[Clique aqui](https://evil.example) :red[HACK] _it_ <b>x</b>"
HOSTILE = [
    EVIL,
    "PAYPAL *DIGIT4234",
    "**negrito** __n__ *i* `code` ~~tachado~~ ~um~",
    "R$ 5 e R$ 10 $x^2$ $$y$$",
    ":smile: :100: :+1: :material/shield: :streamlit: :blue-background[x] :small[y]",
    "www.evil.example a@b.com https://evil.example <https://evil.example>",
    "![img](https://evil.example/x.png) [ref][1] foo[^1]",
    "&amp; &#60; \\ back\\slash \\* <script>alert(1)</script>",
    "A -- B -> C <- D <-> E >= F <= G ~= H",
    "1. um",
    "10) dez",
    "- item",
    "+ item",
    "# título",
    "> citação",
    "    quatro espaços",
    "linha 1\n# linha 2\n- linha 3",
    "a | b | c",
]


def flat(text: str) -> str:
    """What the reader should see: the text, on one line (Markdown joins lines anyway)."""
    return " ".join(text.split())


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_has_no_live_markup(text):
    escaped = escape_md(text)
    assert "\n" not in escaped
    # Every markup character is behind a backslash...
    assert not re.search(r"(?<!\\)[`*_\[\]<>$~|&]", escaped.replace("\\\\", ""))
    # ...colons that could open a directive, emoji or URL are too, and split from what follows.
    assert not re.search(r"(?<!\\):(?=[^\s\d])", escaped)
    assert not re.search(r":[\w+-]+:|https?:/|www\.|@\w|\\?-\\?[->]|<\\?-", escaped)


@pytest.mark.parametrize("text", HOSTILE)
def test_commonmark_renders_escaped_text_as_plain_text(text):
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for source, wrapper in [
        (escape_md(text), "<p>{}</p>"),
        (f"- {escape_md(text)}", "<ul>\n<li>{}</li>\n</ul>"),
        (f"**{escape_md(text)}** · x", "<p><strong>{}</strong> · x</p>"),
    ]:
        rendered = md.render(source).strip().replace(WJ, "")
        assert rendered == wrapper.format(html.escape(flat(text), quote=False)), source


def test_plain_text_is_left_as_it_is():
    plain = ("Dia a Dia", "Pão de Mel", "cartão-1", "12:30", "nome: valor", "1.234,56", "-5", "#3")
    for text in plain:
        assert escape_md(text) == text
    assert escape_md("R$ 212,35") == "R\\$ 212,35"
    assert escape_md("PAYPAL *DIGIT4234") == "PAYPAL \\*DIGIT4234"


def test_dashboard_shows_a_hostile_merchant_literally(live_api, open_app):
    username, password = live_api.new_user("md")
    client = VigilanteClient(live_api.url)
    client.login(username, password)
    evil_rule = "*Regra* :red[x]"
    client.add_rule({"name": evil_rule, "kind": "blocked_merchant", "merchants": ["Clique"]})
    client.add_budget({"category": "_mercado_ $1$", "limit": "100"})
    charge = {"amount": "212.35", "category": "_mercado_ $1$", "merchant": EVIL}
    client.post_event(charge | {"account": "[conta](https://evil.example)"})
    client.post_event(charge | {"account": "[conta](https://evil.example)"})  # a duplicate
    wait_for(lambda: client.alert_summary()["open"] >= 2)

    at = login(open_app("dashboard.py", live_api.url), username)
    assert not at.exception
    texts = [m.value for m in at.markdown] + [p.proto.text for p in at.get("progress")]
    shown = "\n".join(texts)
    assert f"· {escape_md(EVIL)} · {escape_md('_mercado_ $1$')}" in shown  # the anomaly card
    assert escape_md("[conta](https://evil.example)") in shown
    assert f"**{escape_md(evil_rule)}**" in shown  # the rule list
    assert f"{escape_md(EVIL)} (contém “Clique”)" in shown  # the rule alert's reason
    assert f"**{escape_md('_mercado_ $1$')}** ·" in shown  # the budget bar
    # Nothing of the user's markup survives unescaped anywhere on the page.
    for live in ("[Clique aqui](", "](https://", ":red[HACK]", ":red[x]", "_it_", "<b>", "$1$"):
        assert live not in shown, live


@pytest.fixture
def rendered_in_chromium(tmp_path):
    """HOSTILE through escape_md in a real Streamlit, read back from Chromium."""
    chromium = subprocess.run(["which", "chromium"], capture_output=True, text=True).stdout.strip()
    if not chromium:
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    script = tmp_path / "escape_app.py"
    script.write_text(
        "import streamlit as st\n"
        "from tests.test_markdown_escape import HOSTILE\n"
        "from vigilante.ui import escape_md\n"
        "for i, text in enumerate(HOSTILE):\n"
        "    with st.container(key=f'case{i}'):\n"
        "        st.markdown(f'- {escape_md(text)}\\n- **{escape_md(text)}** · x')\n"
        "        st.progress(0.5, text=f'**{escape_md(text)}** · y')\n"
    )
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT,
        env=clean_env(PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}")
                page.wait_for_selector(f".st-key-case{len(HOSTILE) - 1} [role=progressbar]")
                page.wait_for_timeout(1000)  # KaTeX and emoji load lazily
                yield [page.locator(f".st-key-case{i}") for i in range(len(HOSTILE))]
            finally:
                browser.close()
    finally:
        app.terminate()
        app.wait(timeout=15)


def test_streamlit_renders_escaped_text_literally(rendered_in_chromium):
    for text, box in zip(HOSTILE, rendered_in_chromium, strict=True):
        markup = box.inner_html()
        for live in ("<a ", "<em", "<del", "<code", "katex", "<img", 'role="img"', "<h1"):
            assert live not in markup, (text, live)
        assert markup.count("<li") == 2 and markup.count("<strong") == 2, text
        lines = [line.strip() for line in box.inner_text().replace(WJ, "").splitlines()]
        want = flat(text)
        assert [line for line in lines if line] == [want, f"{want} · x", f"{want} · y"], text
