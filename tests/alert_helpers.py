"""Shared pieces of the alert tests: an app whose alert worker the test drives, a local webhook
receiver and a local SMTP server (both on 127.0.0.1, free ports, stopped by the test)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import signup_and_login
from tests.live_api import free_port


def alert_client(make_client, **overrides):
    """An app whose alert worker runs only when the test calls ``worker(client).process_...``."""
    values = {"alerts_worker": "off", "webhook_allow_private": True} | overrides
    return make_client(**values)


def worker(client):
    return client.app.state.alerts


def run_worker(client, now: int | None = None) -> dict:
    return worker(client).process_pending(now)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next of ``statuses`` (then 200); ``hang()`` holds requests."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hanging: bool = False
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}/hook"

    def hang(self) -> None:
        self.hanging = True
        self.release.clear()

    def start(self, tls=None) -> Receiver:
        """``tls``: an ``ssl.SSLContext`` to serve HTTPS with."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.received.append(Received(self.path, dict(self.headers), body))
                receiver.arrived.set()
                if receiver.hanging:
                    receiver.release.wait(60)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver().start()
    yield found
    found.stop()


class SmtpSink:
    """aiosmtpd's Controller on a free loopback port, keeping every message it is handed."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                message = message_from_bytes(envelope.content, policy=policy.default)
                sink.messages.append((envelope.rcpt_tos, message))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def user(client, name: str = "ana") -> dict:
    return signup_and_login(client, name)
