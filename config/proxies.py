"""Which address a request came from, when reverse proxies stand in between.

X-Forwarded-For is a list each proxy appends to, so everything left of the last entry our own
proxy wrote comes from the client and can be forged. It is therefore read only when the socket
peer is one of SIPDESK_TRUSTED_PROXIES, from the right, skipping our proxies: the first other
address is the client ("right-most untrusted hop"). The webhook allowlist (webhooks/checks.py)
and the login lockout (django-axes, AXES_CLIENT_IP_CALLABLE) both judge this address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None


def _trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    ip = _parse(address)
    return ip is not None and any(ip in network for network in proxies)


def client_address(remote_addr: str | None, forwarded_for: str, proxies: Sequence[Network]) -> str | None:
    """The client's address: the peer itself unless the peer is a trusted proxy.

    None when the hop that would be the client is not an IP address at all (a garbled header):
    the caller then treats the request as coming from nowhere in particular.
    """
    if not proxies or not _trusted(remote_addr, proxies):
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            ip = _parse(hop)
            return str(ip) if ip is not None else None
    # Every hop is one of ours (or there is no header): the first proxy in the chain is the client.
    return hops[0] if hops else remote_addr


def request_client_ip(request: HttpRequest) -> str | None:
    """The same rule for a Django request (django-axes calls this to key its lockouts)."""
    return client_address(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.SIPDESK_TRUSTED_PROXIES,
    )
