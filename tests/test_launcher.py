"""`make run`'s launcher: the demo account it keeps, and all four processes started and stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx

from tests.live_api import ROOT, clean_env, free_port
from vigilante.client import VigilanteClient, read_demo_credentials
from vigilante.launcher import ensure_demo_account


def test_the_demo_account_is_created_once_and_reused(live_api, tmp_path):
    path = tmp_path / "demo_credentials.json"
    client = VigilanteClient(live_api.url)
    username, password, created = ensure_demo_account(client, path)
    assert created and len(password) >= 20
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_demo_account(VigilanteClient(live_api.url), path) == (username, password, False)
    # Another database where that name is taken by someone else: a new name, a new password.
    path.write_text(json.dumps({"username": username, "password": "stale password here"}))
    other, new_password, created = ensure_demo_account(VigilanteClient(live_api.url), path)
    assert created and other != username and other.startswith("demo-")
    assert read_demo_credentials(path) == (other, new_password)


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_path):
    ports = [free_port() for _ in range(3)]
    args = ["--api-port", str(ports[0]), "--dashboard-port", str(ports[1])]
    args += ["--entry-port", str(ports[2]), "--demo-interval", "0.2"]
    args += ["--demo-options", "--history-days 0 --accounts 5 --seed 3"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigilante.launcher", *args],
        cwd=ROOT,
        env=clean_env(VIGILANTE_DATA_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        banner = False
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            banner = banner or "Press Ctrl-C to stop everything." in line
            if banner and re.match(r"\s+demo \| \d\d:\d\d ", line):  # an expense stored
                break
        out = "".join(lines)
        assert f"dashboard  http://127.0.0.1:{ports[1]}" in out
        assert f"entry app  http://127.0.0.1:{ports[2]}" in out
        password = re.search(r"password   (\S+)   <- shown once", out).group(1)
        assert read_demo_credentials(tmp_path / "demo_credentials.json") == ("demo", password)
        for port in ports[1:]:
            assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health").status_code == 200
        client = VigilanteClient(f"http://127.0.0.1:{ports[0]}")
        client.login("demo", password)
        assert client.events()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=60)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert "Stopping…" in rest and "despesas enviadas" in rest, log  # demo.py's summary
    for port in ports:
        with httpx.Client() as http:
            try:
                http.get(f"http://127.0.0.1:{port}/", timeout=1)
                raise AssertionError(f"port {port} still answers")
            except httpx.TransportError:
                pass
