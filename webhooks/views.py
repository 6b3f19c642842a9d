"""The 8x8 webhook endpoint in Django: check the envelope, then hand the body to ingest().

The production receiver is the ASGI app in webhooks/asgi.py (several webhooks per commit);
this view answers the same URL inside the dashboard for `make run`, tests and small setups,
with the same checks (webhooks/checks.py) and one commit per webhook.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from config import metrics
from webhooks import checks, tallies
from webhooks.ingest import ingest


def _answer(status: int, data: dict[str, Any]) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type="application/json")


def _refuse(refusal: checks.Refusal) -> HttpResponse:
    tallies.record("refused", refusal.reason)
    metrics.count_answer("refused", refusal.reason)
    response = _answer(refusal.status, refusal.as_json())
    if refusal.status == 405:
        response["Allow"] = "POST"
    return response


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes: enough to know a body is too big, never the whole of it."""
    if request.META.get("CONTENT_LENGTH"):
        return request.read(limit + 1)
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    # Chunked upload (no Content-Length): Django's stream would read nothing, so read the
    # server's de-chunked input directly, stopping as soon as the limit is passed.
    stream, chunks, size = request.META["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@csrf_exempt
def receive(request: HttpRequest, kind: str | None = None) -> HttpResponse:
    """POST /webhooks/8x8/ (and the per-kind aliases): store the body, answer 200 quickly.

    The kind of event always comes from the body's eventType, never from the URL.
    """
    started = time.perf_counter()
    response = _receive(request)
    metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
    return response


def _receive(request: HttpRequest) -> HttpResponse:
    meta = request.META
    facts = checks.RequestFacts(
        method=request.method or "",
        remote_addr=meta.get("REMOTE_ADDR"),
        forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""),
        authorization=meta.get("HTTP_AUTHORIZATION", ""),
        content_type=request.content_type or "",
        content_length=meta.get("CONTENT_LENGTH", ""),
    )
    refusal = checks.check_envelope(facts)
    if refusal is None:
        raw = _read_body(request, settings.SIPDESK_WEBHOOK_MAX_BYTES)
        refusal = checks.too_large(len(raw))
    if refusal is not None:
        return _refuse(refusal)
    address = checks.client_ip(facts.remote_addr, facts.forwarded_for)
    result = ingest(raw, remote_addr=address, user_agent=meta.get("HTTP_USER_AGENT", ""))
    metrics.count_answer(result.status, result.reason)
    return _answer(result.http_status, result.as_json())
