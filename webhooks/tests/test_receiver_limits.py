"""Issue 9 #5, #6 on the real receiver process: slow clients are cut off, /healthz tells the truth."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings

from conftest import ReceiverServer
from webhooks.models import RawEvent
from webhooks.tests.conftest import SECRET, fixture_body

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2  # seconds, for headers and for the body


@pytest.fixture(scope="module")
def slow_receiver(django_db_setup, django_db_blocker) -> Iterator[ReceiverServer]:
    env = {
        "SIPDESK_RECEIVER_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    server = ReceiverServer(workers=1, env=env).start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: ReceiverServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _trickle_until_closed(sock: socket.socket, data: bytes, every: float = 0.25) -> tuple[bytes, float]:
    """Send ``data`` a byte at a time; what the server answered and how long it kept the connection."""
    started = time.monotonic()
    sock.settimeout(every)
    answer = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        with contextlib.suppress(TimeoutError):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        if time.monotonic() - started > 30:
            break
    return answer, time.monotonic() - started


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_408(slow_receiver):
    request = b"POST /webhooks/8x8/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 400 + b"\r\n\r\n"
    with _connect(slow_receiver) as sock:
        answer, held = _trickle_until_closed(sock, request)
    assert answer.startswith(b"HTTP/1.1 408")
    assert held < TIMEOUT + 3


def test_a_connection_that_sends_nothing_is_closed(slow_receiver):
    with _connect(slow_receiver) as sock:
        started = time.monotonic()
        sock.settimeout(30)
        answer = sock.recv(65536)
        while chunk := sock.recv(65536):
            answer += chunk
    assert time.monotonic() - started < TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_sent_a_byte_at_a_time_is_cut_off_with_408_and_nothing_stored(slow_receiver):
    body = fixture_body("vcs_2026")
    head = (
        f"POST /webhooks/8x8/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(slow_receiver) as sock:
        sock.sendall(head)
        answer, held = _trickle_until_closed(sock, body)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408")
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"] == "body_timeout"
    assert held < TIMEOUT + 3
    assert RawEvent.objects.count() == 0


def test_a_normal_request_on_the_same_receiver_is_unaffected(slow_receiver):
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        f"{slow_receiver.url}/webhooks/8x8/", data=fixture_body("vcs_2026"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert json.loads(response.read())["status"] == "stored"


class TcpProxy:
    """Forwards a local port to PostgreSQL. ``down()`` cuts every connection and hangs up on new
    ones, as a stopped server's host would; ``up()`` forwards again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.forwarding = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.forwarding:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        self.forwarding = False
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.open = []

    def up(self) -> None:
        self.forwarding = True

    def close(self) -> None:
        self.down()
        self.listener.close()


def _health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_healthz_is_503_while_postgresql_is_unreachable_and_200_again_after():
    db = settings.DATABASES["default"]
    proxy = TcpProxy((db["HOST"] or "localhost", int(db["PORT"] or 5432)))
    user = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    env = {"DATABASE_URL": f"postgres://{user}@127.0.0.1:{proxy.port}/{db['NAME']}"}
    server = ReceiverServer(workers=1, env=env).start()
    try:
        assert _health(server.url) == (200, {"status": "ok"})
        proxy.down()  # PostgreSQL is gone for this receiver
        went_down = time.monotonic()
        deadline = went_down + 10
        while (answer := _health(server.url))[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer[0] == 503
        assert answer[1]["status"] == "unavailable"
        print(f"receiver /healthz 503 {time.monotonic() - went_down:.1f} s after PostgreSQL went away")  # with -s

        proxy.up()  # PostgreSQL is back
        deadline = time.monotonic() + 10
        while (answer := _health(server.url))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer == (200, {"status": "ok"})
    finally:
        server.stop()
        proxy.close()
