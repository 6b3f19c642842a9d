from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.tests.factories import code_rollup

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    assert client.get("/troubleshooting/").status_code == 302


def test_entries_with_live_counts_and_links(support_client):
    code_rollup(timezone.now() - timedelta(minutes=3), "503", 7)
    code_rollup(timezone.now() - timedelta(minutes=3), "502", 2)
    response = support_client.get("/troubleshooting/?window=1h")
    entries = {item["entry"].issue: item for item in response.context["entries"]}
    assert entries["Network/routing issues"]["total"] == 9
    assert entries["Call not connecting"]["total"] == 0
    body = response.content.decode()
    assert "Contact 8x8 CPaaS Support" in body
    assert "/sessions/?range=1h&amp;sip_code=503" in body
    assert "7 seen" in body


def test_best_practices_and_retry_policy(support_client):
    body = support_client.get("/troubleshooting/").content.decode()
    assert "Use E.164 format for all phone numbers" in body
    assert "Retry policy" in body
    assert "-2004" in body


def test_htmx_request_returns_only_the_partial(support_client):
    body = support_client.get("/troubleshooting/?window=7d", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<div id="troubleshooting-body"')


def test_query_count(support_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        support_client.get("/troubleshooting/")
