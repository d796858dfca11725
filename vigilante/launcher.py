"""`make run`: the API, the dashboard, the entry app and the demo stream, stopped together.

Starts the API and waits for it; with login on, makes sure a demo account exists (a random
password, printed the first time and kept in ``<data>/demo_credentials.json``, mode 600, so a
restart reuses it); then starts both Streamlit apps on this machine only and demo.py. Every
line the four print is prefixed with its name. Ctrl-C (or any of the servers exiting) stops all.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from vigilante.client import (
    DEMO_CREDENTIALS_ENV,
    ApiError,
    ApiUnreachable,
    AuthError,
    Conflict,
    RateLimited,
    VigilanteClient,
    demo_credentials_path,
    read_demo_credentials,
    write_demo_credentials,
)
from vigilante.config import PROJECT_ROOT, get_settings

HOST = "127.0.0.1"
COLORS = {"api": 36, "dashboard": 35, "entry app": 34, "demo": 32}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the API, both apps and the demo stream.")
    p.add_argument("--api-port", type=int, default=int(os.environ.get("VIGILANTE_PORT", 8000)))
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument("--entry-port", type=int, default=8502)
    p.add_argument("--no-demo", action="store_true", help="do not start demo.py")
    p.add_argument("--demo-interval", type=float, default=2.0)
    p.add_argument(
        "--demo-options", default="", help='more demo.py options, e.g. "--accounts 20 --seed 1"'
    )
    return p.parse_args(argv)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class Processes:
    """Child processes with their output prefixed by name; stopped together."""

    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen] = {}
        self.relays: list[threading.Thread] = []
        self.lock = threading.Lock()

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        proc = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.children[name] = proc
        relay = threading.Thread(target=self._relay, args=(name, proc), daemon=True)
        relay.start()
        self.relays.append(relay)
        return proc

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        color = COLORS.get(name, 0)
        prefix = f"\033[{color}m{name:>9} |\033[0m " if sys.stdout.isatty() else f"{name:>9} | "
        for line in proc.stdout:
            with self.lock:
                print(prefix + line.rstrip("\n"), flush=True)

    def exited(self, *names: str) -> str | None:
        return next(
            (n for n in names if n in self.children and self.children[n].poll() is not None), None
        )

    def stop(self, grace: float = 0.0) -> None:
        """Terminate what is still running; ``grace`` lets children that got the same Ctrl-C
        finish on their own first (a second signal would cut their shutdown short)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in self.children.values()):
            time.sleep(0.1)
        for proc in reversed(self.children.values()):  # demo.py first, the API last
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for relay in self.relays:  # their last lines (demo.py's summary) are worth reading
            relay.join(timeout=2)


def wait_for_api(client: VigilanteClient, api: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"The API stopped (exit code {api.returncode}); see its lines above.")
        try:
            client.health()
            return
        except (ApiUnreachable, ApiError):
            time.sleep(0.2)
    raise SystemExit(f"The API did not answer at {client.base_url} within {timeout:.0f} s.")


def wait_for_app(name: str, port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Streamlit answers its health check once the page can be served."""
    url = f"http://{HOST}:{port}/_stcore/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"The {name} stopped (exit code {proc.returncode}); see above.")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"The {name} did not answer at {url} within {timeout:.0f} s.")


def ensure_demo_account(client: VigilanteClient, path: Path) -> tuple[str, str, bool]:
    """(username, password, created now): reuse the saved demo account, else create one."""
    found = read_demo_credentials(path)
    if found:
        try:
            client.login(*found)
            return (*found, False)
        except AuthError:
            pass  # a fresh database, or the account's password was changed
        except RateLimited as exc:
            raise SystemExit(
                f"Too many failed logins for {found[0]!r}; try again in {exc.retry_after:.0f} s."
            ) from None
    username = found[0] if found else "demo"
    password = secrets.token_urlsafe(18)
    for _ in range(5):
        try:
            client.signup(username, password)
            break
        except Conflict:
            username = f"demo-{secrets.token_hex(3)}"
        except ApiError as exc:
            raise SystemExit(f"Could not create the demo account: {exc.message}") from None
    else:
        raise SystemExit("Could not find a free name for the demo account.")
    write_demo_credentials(username, password, path)
    return username, password, True


def banner(args, settings, login: tuple[str, str, bool] | None, path: Path) -> str:
    lines = [
        "",
        "Vigilante de Gastos is running:",
        f"  dashboard  http://{HOST}:{args.dashboard_port}",
        f"  entry app  http://{HOST}:{args.entry_port}",
        f"  API        http://{HOST}:{args.api_port}  (docs: http://{HOST}:{args.api_port}/docs)",
        f"  data       {settings.data_dir}",
    ]
    if login is None:
        lines.append("  login      none needed (VIGILANTE_AUTH=off)")
    else:
        username, password, created = login
        lines.append(f"  login      {username}  (the apps' login form comes filled in)")
        if created:
            lines.append(f"  password   {password}   <- shown once; also kept in {path} (mode 600)")
        else:
            lines.append(f"  password   in {path} (mode 600)")
    if not args.no_demo:
        lines.append("  demo.py is streaming expenses; watch them arrive on the dashboard.")
    lines += ["Press Ctrl-C to stop everything.", ""]
    return "\n".join(lines)


def _stop_on_sigterm(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    busy = [p for p in (args.api_port, args.dashboard_port, args.entry_port) if not port_free(p)]
    if busy:
        print(
            f"Port(s) {', '.join(map(str, busy))} already in use on {HOST}: stop what uses "
            "them, or pick others (--api-port, --dashboard-port, --entry-port)."
        )
        return 1
    api_url = f"http://{HOST}:{args.api_port}"
    env = os.environ | {"VIGILANTE_API_URL": api_url, "PYTHONUNBUFFERED": "1"}
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in background
    procs = Processes()
    try:
        python = [sys.executable]
        api_cmd = f"-m uvicorn app:app --host {HOST} --port {args.api_port} --no-access-log"
        api = procs.start("api", python + api_cmd.split(), env)
        client = VigilanteClient(api_url)
        wait_for_api(client, api)
        path = demo_credentials_path(settings.data_dir)
        login = ensure_demo_account(client, path) if client.auth_required() else None
        client.close()
        app_env = env | ({DEMO_CREDENTIALS_ENV: str(path)} if login else {})
        apps = {"dashboard": ("dashboard.py", args.dashboard_port)}
        apps["entry app"] = ("streamlit_app.py", args.entry_port)
        for name, (script, port) in apps.items():
            app_cmd = f"-m streamlit run {script} --server.address {HOST} --server.port {port}"
            procs.start(name, python + app_cmd.split() + ["--server.headless", "true"], app_env)
        if not args.no_demo:
            demo_cmd = f"demo.py --url {api_url} --interval {args.demo_interval}"
            procs.start("demo", python + demo_cmd.split() + shlex.split(args.demo_options), env)
        for name, (_script, port) in apps.items():
            wait_for_app(name, port, procs.children[name])
        print(banner(args, settings, login, path), flush=True)
        parent = os.getppid()
        while True:
            if os.getppid() != parent:  # whoever started us (make) is gone: do not linger
                raise KeyboardInterrupt
            gone = procs.exited("api", "dashboard", "entry app")
            if gone:
                print(f"{gone} stopped; stopping the others.", flush=True)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        procs.stop(grace=5.0)
        return 0
    finally:
        procs.stop()


if __name__ == "__main__":
    sys.exit(main())
