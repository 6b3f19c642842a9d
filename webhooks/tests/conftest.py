from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

FIXTURES = Path(__file__).parent / "fixtures"
URL = "/webhooks/8x8/"
SECRET = "test-webhook-secret"  # config/settings_test.py


def fold_deferred_repeats() -> None:
    """What the next classification batch does first: add the repeats that found their row held
    by someone else's bump to it (webhooks.ingest.FOLD_SQL). Concurrent deliveries of one event
    leave some, so tests of them count ``deliveries`` after this."""
    from django.db import connection, transaction

    from webhooks import ingest

    with transaction.atomic(), connection.cursor() as cursor:
        ingest.fold_deferred_repeats(cursor)


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads(fixture_body(name))


def post(
    client: Client,
    body: bytes | dict,
    *,
    auth: str | None = f"Bearer {SECRET}",
    content_type: str = "application/json",
    url: str = URL,
    **extra: Any,
):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if auth is not None:
        extra["HTTP_AUTHORIZATION"] = auth
    return client.generic("POST", url, data, content_type=content_type, **extra)


@pytest.fixture
def client() -> Client:
    return Client()


class AsgiResponse:
    """The parts of a Django test response the receiver tests read."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.headers = {name.decode().lower(): value.decode() for name, value in headers}
        self.content = body

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    """Drives the ASGI receiver (webhooks/asgi.py) in-process, with Django's test-client signature.

    Each request runs on a fresh event loop with a fresh Receiver, which is closed afterwards: its
    group-commit writer stores the event and writes the tallies before ``generic`` returns. The
    writer uses its own PostgreSQL connection, so tests that use it must be transactional.
    """

    def __init__(self, chunk_size: int = 0) -> None:
        self.chunk_size = chunk_size  # deliver the body in messages of this size (0: one message)
        self.messages_read = 0

    def generic(self, method: str, path: str, data: bytes = b"", content_type: str = "", **extra: Any):
        headers = [(b"host", b"testserver")]
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        if extra.get("CONTENT_LENGTH") != "":
            headers.append((b"content-length", str(extra.get("CONTENT_LENGTH", len(data))).encode()))
        for key, value in extra.items():
            if key.startswith("HTTP_"):
                headers.append((key[5:].lower().replace("_", "-").encode(), value.encode()))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
            "raw_path": path.encode(), "query_string": b"", "headers": headers, "scheme": "http",
            "client": (extra.get("REMOTE_ADDR", "127.0.0.1"), 50000), "server": ("testserver", 80),
        }  # fmt: skip
        size = self.chunk_size or max(len(data), 1)
        chunks = [data[start : start + size] for start in range(0, max(len(data), 1), size)]
        messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
        messages[-1]["more_body"] = False
        return asyncio.run(self._call(scope, messages))

    async def _call(self, scope: dict[str, Any], messages: list[dict[str, Any]]) -> AsgiResponse:
        from webhooks.asgi import Receiver

        receiver = Receiver()
        sent: list[dict[str, Any]] = []
        self.messages_read = 0

        async def receive() -> dict[str, Any]:
            self.messages_read += 1
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await receiver(scope, receive, send)
        await receiver.close()
        start, body_message = sent
        return AsgiResponse(start["status"], start["headers"], body_message["body"])


@pytest.fixture(params=["django", pytest.param("asgi", marks=pytest.mark.django_db(transaction=True))])
def either_receiver(request: pytest.FixtureRequest) -> Client | AsgiClient:
    """The Django view, then the ASGI receiver: both must answer every case the same way."""
    if request.param == "django":
        return Client()
    marker = request.node.get_closest_marker("django_db")
    assert marker, "the ASGI receiver commits on its own connection: mark the test transactional"
    assert marker.kwargs.get("transaction"), (
        "the ASGI receiver commits on its own connection: mark the test transactional"
    )
    return AsgiClient()
