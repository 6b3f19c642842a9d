"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP server (http.server),
both in-process on free local ports."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=sipdesk@example.com&to=oncall@example.com&mode=insecure"

    def texts(self) -> list[str]:
        from email import message_from_bytes

        out = []
        for envelope in self.inbox.messages:
            message = message_from_bytes(envelope.content)
            first: Any = message.get_payload(0) if message.is_multipart() else message
            part: Any = first.get_payload(decode=True)
            out.append(f"Subject: {message['Subject']}\n{part.decode()}")
        return out


class HookServer:
    """Collects JSON POSTs; answers ``status`` (set it to 500 to see retries)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                outer.received.append({"path": self.path, "json": json.loads(body or b"{}")})
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    server = HookServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
