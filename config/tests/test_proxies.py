"""The client's address behind reverse proxies: the right-most hop that is not one of ours."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory, override_settings

from config.proxies import client_address, request_client_ip
from webhooks.checks import RequestFacts, check_envelope, client_ip

PROXIES = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "52.220.253.234", "203.0.113.9"),  # not from a proxy: the header is ignored
        ("10.0.0.5", "52.220.253.234", "52.220.253.234"),
        ("10.0.0.5", "6.6.6.6, 52.220.253.234", "52.220.253.234"),  # the client wrote 6.6.6.6
        ("10.0.0.5", "52.220.253.234, 10.0.0.7", "52.220.253.234"),  # two proxies of ours
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("10.0.0.5", "", "10.0.0.5"),  # nothing forwarded: the proxy itself
        ("10.0.0.5", "10.0.0.6, 10.0.0.7", "10.0.0.6"),  # only our proxies in the chain
        ("10.0.0.5", "52.220.253.234, not-an-address", None),  # garbage where the client should be
        ("10.0.0.5", "\x00, 10.0.0.7", None),
        (None, "52.220.253.234", None),
    ],
)
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("10.0.0.5", "52.220.253.234", []) == "10.0.0.5"


@override_settings(SIPDESK_TRUSTED_PROXIES=[], SIPDESK_WEBHOOK_ALLOWED_IPS=[ipaddress.ip_network("52.220.253.234")])
def test_a_spoofed_header_from_an_untrusted_peer_is_refused_by_the_allowlist():
    facts = RequestFacts(
        method="POST", remote_addr="203.0.113.9", forwarded_for="52.220.253.234", authorization="test-webhook-secret"
    )
    refusal = check_envelope(facts)
    assert refusal is not None
    assert refusal.reason == "ip_not_allowed"
    assert client_ip("203.0.113.9", "52.220.253.234") == "203.0.113.9"


@override_settings(SIPDESK_TRUSTED_PROXIES=PROXIES)
def test_the_login_lockout_keys_on_the_same_address():
    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4"
    )
    assert request_client_ip(request) == "198.51.100.4"
    direct = RequestFactory().post("/accounts/login/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert request_client_ip(direct) == "198.51.100.9"
