"""The production webhook receiver: a small ASGI app, several webhooks per commit.

Served by ``gunicorn config.receiver:application -k config.receiver_worker.ReceiverWorker``
(docker-compose's ``receiver`` service). It answers ``POST /webhooks/8x8/`` (and the per-kind
aliases) exactly like the Django view — the same envelope checks (webhooks/checks.py), the same parsing and ids
(webhooks/ingest.py), the same answers — but without Django's request/middleware stack and
with group commit (webhooks/group_commit.py): each 200 is still sent only after the event's
row is committed. ``GET /healthz`` answers 200 for load balancers while PostgreSQL answers, 503
when it does not; every other path is 404. A body must arrive whole within
SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS (else 408); headers are bounded by the worker
(config/receiver_worker.py).

Why a separate app: one event loop per process holds many connections at once, so the
webhooks that arrive together share one INSERT and one commit; the dashboard's thread-per-
request server spent ~1.4 ms of CPU per webhook (bench/INGEST.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from config import metrics
from webhooks import checks
from webhooks.group_commit import GroupCommitWriter, conninfo_from_settings
from webhooks.ingest import IngestResult, prepare

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# The same URLs as webhooks/urls.py.
WEBHOOK_PATH = re.compile(r"/webhooks/8x8/(?:(?:vss|vcs|vca|vru|vnu)/)?")
HEALTH_CACHE_SECONDS = 1.5  # a /healthz answer is reused this long
HEALTH_TIMEOUT_SECONDS = 2.0  # a database that has not answered SELECT 1 by then is unhealthy
# Answers that are not deliveries to count: a Host that is not ours, a client that hung up mid-body.
_NOT_COUNTED = frozenset({"disallowed_host", "client_disconnected"})
_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]


class Receiver:
    """The ASGI application. One GroupCommitWriter per event loop, made on first use."""

    def __init__(self, writer_factory: Callable[[], GroupCommitWriter] = GroupCommitWriter) -> None:
        self._writer_factory = writer_factory
        self._writers: dict[asyncio.AbstractEventLoop, GroupCommitWriter] = {}
        self._health: dict[asyncio.AbstractEventLoop, tuple[float, bool, str]] = {}
        self._health_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._health_connections: dict[asyncio.AbstractEventLoop, psycopg.AsyncConnection] = {}

    async def _database_health(self) -> tuple[bool, str]:
        """Can this receiver store? A bounded ``SELECT 1`` on a connection of its own, answered
        from a cache for HEALTH_CACHE_SECONDS so a probing load balancer costs nothing.

        Without it /healthz said 200 with PostgreSQL stopped, and a load balancer kept sending
        8x8's webhooks to a receiver that could only answer 503 (issue 9)."""
        loop = asyncio.get_running_loop()
        cached = self._health.get(loop)
        if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_SECONDS:
            return cached[1], cached[2]
        lock = self._health_locks.setdefault(loop, asyncio.Lock())
        async with lock:  # one probe at a time; the others read its answer
            cached = self._health.get(loop)
            if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_SECONDS:
                return cached[1], cached[2]
            try:
                await asyncio.wait_for(self._probe(loop), HEALTH_TIMEOUT_SECONDS)
                ok, detail = True, "ok"
            except Exception as exc:  # any failure means "cannot store" for a health probe
                ok, detail = False, type(exc).__name__
                connection = self._health_connections.pop(loop, None)
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
            self._health[loop] = (time.monotonic(), ok, detail)
            return ok, detail

    async def _probe(self, loop: asyncio.AbstractEventLoop) -> None:
        connection = self._health_connections.get(loop)
        if connection is None or connection.closed:
            connection = await psycopg.AsyncConnection.connect(
                conninfo_from_settings(), autocommit=True, connect_timeout=2
            )
            self._health_connections[loop] = connection
        await connection.execute("SELECT 1")

    def writer(self) -> GroupCommitWriter:
        loop = asyncio.get_running_loop()
        if loop not in self._writers:
            self._writers[loop] = self._writer_factory()
        return self._writers[loop]

    async def close(self) -> None:
        """Store what is waiting and write the tallies (lifespan shutdown; tests)."""
        loop = asyncio.get_running_loop()
        writer = self._writers.pop(loop, None)
        if writer is not None:
            await writer.close()
        connection = self._health_connections.pop(loop, None)
        if connection is not None:
            await connection.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            started = time.perf_counter()
            status, data, extra_headers = await self._handle(scope, receive)
            if WEBHOOK_PATH.fullmatch(scope["path"]) and data.get("error") not in _NOT_COUNTED:
                metrics.count_answer(data.get("status", "refused"), data.get("error", ""))
                metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
            body = json.dumps(data).encode()
            headers = [*_HEADERS, (b"content-length", str(len(body)).encode()), *extra_headers]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        # websocket: not accepted (returning without accepting closes it)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any], list]:
        path = scope["path"]
        if path == "/healthz":
            ok, detail = await self._database_health()
            return (200, {"status": "ok"}, []) if ok else (503, {"status": "unavailable", "database": detail}, [])
        if not WEBHOOK_PATH.fullmatch(path):
            return 404, {"error": "not_found", "detail": "this server only receives POST /webhooks/8x8/"}, []
        headers = _header_dict(scope)
        server = scope.get("server") or ("", None)
        if not _host_allowed(headers.get("host") or str(server[0])):  # no Host header: the server's name, as Django
            # What Django answers for a Host outside ALLOWED_HOSTS (not counted: it is not for us).
            return 400, {"error": "disallowed_host"}, []
        client = scope.get("client")
        facts = checks.RequestFacts(
            method=scope["method"],
            remote_addr=client[0] if client else None,
            forwarded_for=headers.get("x-forwarded-for", ""),
            authorization=headers.get("authorization", ""),
            content_type=headers.get("content-type", "").split(";", 1)[0].strip().lower(),
            content_length=headers.get("content-length", ""),
        )
        refusal = checks.check_envelope(facts)
        if refusal is None:
            try:
                # The whole body within the limit, however the client trickles it (issue 9): a body
                # sent at a byte a second held its connection (and its memory) indefinitely.
                raw = await asyncio.wait_for(
                    _read_body(receive, settings.SIPDESK_WEBHOOK_MAX_BYTES),
                    settings.SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS,
                )
            except TimeoutError:
                self.writer().tally("refused", "body_timeout")
                detail = f"the body did not arrive within {settings.SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS} s"
                return 408, {"error": "body_timeout", "detail": detail}, [(b"connection", b"close")]
            if raw is None:
                return 400, {"error": "client_disconnected"}, []  # nobody is listening; nothing stored
            refusal = checks.too_large(len(raw))
        if refusal is not None:
            self.writer().tally("refused", refusal.reason)
            allow = [(b"allow", b"POST")] if refusal.status == 405 else []
            return refusal.status, refusal.as_json(), allow
        address = checks.client_ip(facts.remote_addr, facts.forwarded_for)
        prepared = prepare(raw or b"", remote_addr=address, user_agent=headers.get("user-agent", ""))
        if isinstance(prepared, IngestResult):
            self.writer().tally(prepared.status, prepared.reason)
            return prepared.http_status, prepared.as_json(), []
        result = await self.writer().store(prepared)  # tallies duplicates and refusals itself
        return result.http_status, result.as_json(), []


def _header_dict(scope: Scope) -> dict[str, str]:
    # ASGI header names are lower case already; latin-1 is HTTP's historical header encoding.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", ())}


def _host_allowed(host: str) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django does
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """At most ``limit`` + 1 bytes (enough to know it is too big); None if the client went away."""
    chunks, size = [], 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
