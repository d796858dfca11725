"""One real browser: log in to the dashboard, watch demo.py's expenses arrive, take pictures.

Drives Debian's ``chromium`` through Playwright (no browser download). ``make test`` installs
chromium with apt when it can; without it this test is skipped, unless
``VIGILANTE_REQUIRE_BROWSER=1`` (set by CI) makes that a failure. The pictures go to
``docs/screenshots/`` and are shown in the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.live_api import ROOT, clean_env, free_port

SHOTS = ROOT / "docs" / "screenshots"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "Debian chromium is not installed (make test runs: apt-get install -y chromium)"
    if os.environ.get("VIGILANTE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered at {url}")


def expenses_this_month(page) -> int:
    metric = page.locator('[data-testid="stMetric"]', has_text="Despesas no mês")
    value = metric.locator('[data-testid="stMetricValue"]').inner_text()
    return int(re.sub(r"\D", "", value))


@pytest.fixture
def dashboard(live_api):
    """The dashboard on a free port, refreshing every second, and demo.py streaming."""
    executable = chromium_path()
    username, password = live_api.new_user("browser")
    env = clean_env(VIGILANTE_API_URL=live_api.url, VIGILANTE_REFRESH_SECONDS="1")
    port = free_port()
    app = start(
        ["-m", "streamlit", "run", "dashboard.py", "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true"],
        env,
    )
    demo = None
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health", app)
        # A month of history first, so that the charts have something to show.
        demo_args = ["demo.py", "--url", live_api.url, "--seed", "11", "--accounts", "40"]
        demo_args += ["--username", username, "--password", password, "--history-days", "30"]
        backfill = subprocess.run(
            [sys.executable, *demo_args, "--count", "0"], cwd=ROOT, env=env, timeout=180
        )
        assert backfill.returncode == 0
        demo = start([*demo_args, "--interval", "0.5"], env)
        yield executable, f"http://127.0.0.1:{port}", username, password
    finally:
        for proc in (demo, app):
            if proc is not None:
                stop(proc)


def test_log_in_and_watch_expenses_arrive(dashboard):
    from playwright.sync_api import sync_playwright

    executable, url, username, password = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1650})
            page.goto(url)
            page.get_by_label("Usuário").fill(username)
            page.get_by_label("Senha").fill(password)
            page.get_by_role("button", name="Entrar").click()
            page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
            before = expenses_this_month(page)
            deadline = time.monotonic() + 60
            while expenses_this_month(page) <= before + 2 and time.monotonic() < deadline:
                page.wait_for_timeout(500)
            assert expenses_this_month(page) > before + 2, "no new expenses appeared"
            assert page.get_by_text("Últimas anomalias").is_visible()
            page.wait_for_selector('[data-testid="stVegaLiteChart"]')
            page.wait_for_timeout(1500)  # let the charts finish drawing
            page.screenshot(path=SHOTS / "dashboard.png")
            page.set_viewport_size({"width": 390, "height": 1800})
            page.wait_for_timeout(1500)
            page.screenshot(path=SHOTS / "dashboard-phone.png")
        finally:
            browser.close()
