"""The checks a webhook request passes before its body is read, shared by both receivers.

The Django view (webhooks/views.py) and the ASGI receiver (webhooks/asgi.py) take the same
facts from their own request objects and ask ``check_envelope``, so the rules (method, source
address, secret, content type, declared size) and the refusals they answer exist once.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from django.conf import settings

from config.proxies import client_address

_JSON_TYPES = frozenset({"application/json", "text/json"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 4xx/5xx answer: ``reason`` is the machine-readable error, ``detail`` says more."""

    status: int
    reason: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"error": self.reason, "detail": self.detail} if self.detail else {"error": self.reason}


@dataclass(frozen=True, slots=True)
class RequestFacts:
    method: str
    remote_addr: str | None
    forwarded_for: str = ""
    authorization: str = ""
    content_type: str = ""  # the media type only, lower case, without parameters
    content_length: str = ""  # as declared; empty when absent


def client_ip(remote_addr: str | None, forwarded_for: str) -> str | None:
    """The address the allowlist judges: X-Forwarded-For counts only when the socket peer is one
    of SIPDESK_TRUSTED_PROXIES, and then its right-most hop that is not one of them
    (config/proxies.py); a client that reaches the receiver directly cannot forge its address."""
    return client_address(remote_addr, forwarded_for, settings.SIPDESK_TRUSTED_PROXIES)


def ip_allowed(address: str | None) -> bool:
    allowed = settings.SIPDESK_WEBHOOK_ALLOWED_IPS
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in allowed)


def authorized(header: str) -> bool:
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


def is_json(content_type: str) -> bool:
    # 8x8 does not document its Content-Type; an absent one is given the benefit of the doubt.
    return not content_type or content_type in _JSON_TYPES or content_type.endswith("+json")


def too_large(size: int) -> Refusal | None:
    limit = settings.SIPDESK_WEBHOOK_MAX_BYTES
    return Refusal(413, "too_large", f"limit is {limit} bytes") if size > limit else None


def check_envelope(facts: RequestFacts) -> Refusal | None:
    """Everything that can be refused before reading the body, in the order a client would fix it."""
    if facts.method != "POST":
        return Refusal(405, "method_not_allowed")
    if not ip_allowed(client_ip(facts.remote_addr, facts.forwarded_for)):
        return Refusal(403, "ip_not_allowed")
    if not settings.SIPDESK_WEBHOOK_SECRETS:
        if not settings.DEBUG:
            return Refusal(503, "not_configured", "SIPDESK_WEBHOOK_SECRETS is empty; refusing all webhooks")
    elif not authorized(facts.authorization):
        return Refusal(401, "unauthorized", "missing or wrong Authorization header")
    if not is_json(facts.content_type):
        return Refusal(415, "unsupported_media_type", "send application/json")
    if facts.content_length:
        try:
            declared = int(facts.content_length)
        except ValueError:
            return Refusal(400, "invalid_content_length")
        return too_large(declared)
    return None
