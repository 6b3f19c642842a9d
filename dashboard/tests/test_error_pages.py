"""Styled 404 and 500 pages; the login page where the README says it is."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_a_styled_404(support_client):
    response = support_client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert "/static/css/sipdesk.css" in body or "sipdesk" in body
    assert 'class="topbar"' in body  # the site's own frame, not Django's bare page
    assert 'href="/sessions/"' in body


def test_an_unknown_session_is_the_styled_404(support_client):
    response = support_client.get("/sessions/no-such-session/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_anonymous_404_offers_the_login(client):
    body = client.get("/no/such/page/").content.decode()
    assert 'href="/accounts/login/"' in body


def test_the_500_page_is_styled_and_needs_no_context():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert 'class="topbar"' in body


def test_the_login_page_is_at_accounts_login_for_everyone(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "Log in to sipdesk" in response.content.decode()
