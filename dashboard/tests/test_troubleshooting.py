from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.tests.factories import code_rollup, make_session

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


def test_a_code_in_two_entries_counts_in_each_without_a_duplicate_id(support_client):
    code_rollup(
        timezone.now() - timedelta(minutes=3), "487", 4
    )  # "Call not connecting" and "Call drops during ringing"
    response = support_client.get("/troubleshooting/?window=1h")
    entries = {item["entry"].issue: item for item in response.context["entries"]}
    assert entries["Call not connecting"]["total"] == 4
    assert entries["Call drops during ringing"]["total"] == 4
    body = response.content.decode()
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert body.count('id="code-487"') == 1  # the overview's guidance link still lands


def test_cards_are_coloured_by_severity_not_all_red(support_client):
    now = timezone.now() - timedelta(minutes=3)
    for code in ("503", "404", "487"):
        code_rollup(now, code, 2)
    response = support_client.get("/troubleshooting/?window=1h")
    severity = {item["entry"].issue: item["severity"] for item in response.context["entries"]}
    assert severity["Network/routing issues"] == "critical"
    assert severity["Invalid number format"] == "warning"
    assert severity["Call drops during ringing"] == "info"
    body = response.content.decode()
    assert 'class="card entry severity-critical active"' in body
    assert 'class="card entry severity-info active"' in body


def test_8x8_error_codes_get_counts_too(support_client):
    make_session(status="ERROR", error_code=-2004, start=timezone.now() - timedelta(minutes=5))
    make_session(status="ERROR", error_code=-2004, start=timezone.now() - timedelta(minutes=4))
    make_session(status="ERROR", error_code=-2004, start=timezone.now() - timedelta(hours=3))
    body = support_client.get("/troubleshooting/?window=1h").content.decode()
    row = re.search(r'<tr id="error-2004">.*?</tr>|<tr id="error--2004">.*?</tr>', body, re.S).group(0)
    assert "/sessions/?range=1h&amp;error_code=-2004" in row
    assert "2 seen" in row
