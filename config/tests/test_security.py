"""Dashboard hardening: login lockout, session lifetime, security headers, the compose file's ports."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"


def attempt(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


# --- Login lockout (django-axes) ----------------------------------------------------------------


def test_default_lockout_is_ten_failures_for_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.django_db
def test_login_locks_after_the_failure_limit_and_refuses_the_right_password(client, support_user, caplog):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = attempt(client, "support", "wrong-password")
        assert response.status_code == 200
        assert "didn't match" in response.text
    with caplog.at_level(logging.WARNING):
        locked = attempt(client, "support", "wrong-password")
    assert locked.status_code == 429
    assert "Login locked" in locked.text
    assert "15 minutes" in locked.text
    lockouts = [r.getMessage() for r in caplog.records if "Locking out" in r.getMessage()]
    assert len(lockouts) == 1
    assert "support" in lockouts[0]
    assert "203.0.113.7" in lockouts[0]
    assert "wrong-password" not in caplog.text

    right = attempt(client, "support", "support-pass-123")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still not logged in


@pytest.mark.django_db
def test_lockout_is_per_username_and_address(client, support_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "support", "wrong-password", address="203.0.113.7")
    # The same user from another address is not locked out by someone else's guessing.
    response = attempt(Client(), "support", "support-pass-123", address="198.51.100.20")
    assert response.status_code == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_failure_limit_is_configurable(client, support_user):
    for _ in range(2):
        assert attempt(client, "support", "wrong").status_code == 200
    assert attempt(client, "support", "wrong").status_code == 429


@pytest.mark.django_db
def test_admin_lists_lockouts_and_can_unlock(client, support_user, superuser):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "support", "wrong-password")
    assert attempt(client, "support", "support-pass-123").status_code == 429

    admin = Client()
    admin.force_login(superuser)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "support" in listing.text
    from axes.models import AccessAttempt

    record = AccessAttempt.objects.get(username="support")
    # Unlocking is deleting the attempt record (the admin's delete action).
    response = admin.post(reverse("admin:axes_accessattempt_delete", args=[record.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert attempt(client, "support", "support-pass-123").status_code == 302


@pytest.mark.django_db
def test_successful_login_resets_the_failure_count(client, support_user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "support", "wrong-password")
    assert attempt(client, "support", "support-pass-123").status_code == 302
    client.post("/accounts/logout/")
    assert attempt(client, "support", "wrong-password").status_code == 200


# --- Sessions ----------------------------------------------------------------------------------


def test_sessions_last_twelve_hours_by_default():
    assert settings.SESSION_COOKIE_AGE == 12 * 3600


@pytest.mark.django_db
def test_session_age_comes_from_the_environment(monkeypatch):
    import importlib

    import config.settings as live

    monkeypatch.setenv("SIPDESK_SESSION_HOURS", "3")
    try:
        assert importlib.reload(live).SESSION_COOKIE_AGE == 3 * 3600
    finally:
        monkeypatch.delenv("SIPDESK_SESSION_HOURS")
        importlib.reload(live)


@pytest.mark.django_db
def test_a_password_change_logs_out_existing_sessions(support_user):
    old = Client()
    assert attempt(old, "support", "support-pass-123").status_code == 302
    assert old.get("/sessions/").status_code == 200

    support_user.set_password("a-new-pass-456!")
    support_user.save()

    response = old.get("/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


@pytest.mark.django_db
def test_the_session_cookie_expires_with_the_configured_age(client, support_user):
    response = attempt(client, "support", "support-pass-123")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == 12 * 3600


# --- Headers -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_a_permissions_policy(client, support_user):
    client.force_login(support_user)
    for url in ("/", LOGIN, "/sessions/"):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["script-src"].startswith("'self' 'nonce-")
        assert directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert "unsafe" not in csp
        nonce = directives["script-src"].split("'nonce-")[1].rstrip("'")
        # Every <script> in the page is either a static file or carries this response's nonce.
        assert "<script>" not in response.text
        assert f'nonce="{nonce}"' in response.text or "<script" not in response.text.replace("<script src", "")
        policy = response["Permissions-Policy"]
        for feature in ("camera=()", "microphone=()", "geolocation=()"):
            assert feature in policy


# --- docker-compose ----------------------------------------------------------------------------


def test_compose_publishes_ports_on_localhost_only():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    published = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            published[name] = port
            if isinstance(port, dict):  # long syntax
                assert port.get("host_ip") == "127.0.0.1", (name, port)
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)
    assert set(published) == {"web", "receiver"}
