"""The 8x8 webhook endpoint: check the envelope of the request, then hand the body to ingest()."""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from webhooks import tallies
from webhooks.ingest import ingest

_JSON_TYPES = frozenset({"application/json", "text/json"})


def _answer(status: int, data: dict[str, Any]) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type="application/json")


def _refuse(status: int, reason: str, detail: str = "") -> HttpResponse:
    tallies.record("refused", reason)
    return _answer(status, {"error": reason, "detail": detail} if detail else {"error": reason})


def client_ip(request: HttpRequest) -> str | None:
    """The address the allowlist judges.

    Behind your own reverse proxy set SIPDESK_TRUST_X_FORWARDED_FOR: the *right-most*
    X-Forwarded-For entry is then used, because that is the one your proxy appended; the
    entries left of it come from the client and can be forged.
    """
    if settings.SIPDESK_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR")


def _ip_allowed(address: str | None) -> bool:
    allowed = settings.SIPDESK_WEBHOOK_ALLOWED_IPS
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in allowed)


def _authorized(header: str) -> bool:
    """Constant time over every configured secret, with or without a "Bearer " prefix."""
    presented = header[7:].strip() if header[:7].lower() == "bearer " else header.strip()
    presented_bytes, header_bytes = presented.encode(), header.strip().encode()
    ok = False
    for secret in settings.SIPDESK_WEBHOOK_SECRETS:
        secret_bytes = secret.encode()
        # No short-circuit: every secret is compared, so timing says nothing about which matched.
        ok |= hmac.compare_digest(presented_bytes, secret_bytes)
        ok |= hmac.compare_digest(header_bytes, secret_bytes)  # a secret configured as "Basic …"
    return ok


def _is_json(content_type: str) -> bool:
    # 8x8 does not document its Content-Type; an absent one is given the benefit of the doubt.
    return not content_type or content_type in _JSON_TYPES or content_type.endswith("+json")


def _read_body(request: HttpRequest, limit: int) -> bytes | HttpResponse:
    """At most ``limit`` + 1 bytes: enough to know a body is too big, never the whole of it."""
    declared = request.META.get("CONTENT_LENGTH", "")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            return _refuse(400, "invalid_content_length")
        if length > limit:
            return _refuse(413, "too_large", f"limit is {limit} bytes")
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
    if request.method != "POST":
        response = _refuse(405, "method_not_allowed")
        response["Allow"] = "POST"
        return response
    address = client_ip(request)
    if not _ip_allowed(address):
        return _refuse(403, "ip_not_allowed")
    if not settings.SIPDESK_WEBHOOK_SECRETS:
        if not settings.DEBUG:
            return _refuse(503, "not_configured", "SIPDESK_WEBHOOK_SECRETS is empty; refusing all webhooks")
    elif not _authorized(request.META.get("HTTP_AUTHORIZATION", "")):
        return _refuse(401, "unauthorized", "missing or wrong Authorization header")
    if not _is_json(request.content_type or ""):
        return _refuse(415, "unsupported_media_type", "send application/json")
    limit = settings.SIPDESK_WEBHOOK_MAX_BYTES
    raw = _read_body(request, limit)
    if isinstance(raw, HttpResponse):
        return raw
    if len(raw) > limit:
        return _refuse(413, "too_large", f"limit is {limit} bytes")
    result = ingest(raw, remote_addr=address, user_agent=request.META.get("HTTP_USER_AGENT", ""))
    return _answer(result.http_status, result.as_json())
