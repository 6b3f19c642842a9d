from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from dashboard.tests.factories import code_rollup

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    now = timezone.now()
    code_rollup(now - timedelta(minutes=5), "200", 60)
    code_rollup(now - timedelta(minutes=5), "486", 20, destination_country="LK")
    code_rollup(now - timedelta(minutes=6), "503", 15, direction="INBOUND", sub_account_id="other")
    code_rollup(now - timedelta(minutes=7), "499", 4)
    code_rollup(now - timedelta(minutes=7), "abc", 1)
    code_rollup(now - timedelta(minutes=70), "486", 10)  # previous hour
    code_rollup(now - timedelta(hours=30), "486", 1000, size="hour")  # outside every window but 7d


def test_anonymous_is_sent_to_login(client):
    assert client.get("/codes/").status_code == 302


def test_codes_grouped_by_class_with_share_and_change(support_client, traffic):
    response = support_client.get("/codes/?window=1h")
    known = {line.code: line for line in response.context["known"]}
    assert [line.code for line in response.context["known"]] == ["200", "486", "503"]
    assert response.context["total"] == 100
    assert known["486"].count == 20
    assert known["486"].share == 20.0
    assert known["486"].change == 100.0  # 20 now vs 10 in the previous hour
    assert known["200"].change is None  # new in this window
    body = response.content.decode()
    assert "/sessions/?range=1h&amp;sip_code=486" in body
    assert "/reference/?q=486" in body
    assert "<svg" in body


def test_unknown_codes_are_listed_separately(support_client, traffic):
    response = support_client.get("/codes/?window=1h")
    assert [(c.code, c.sip_class) for c in response.context["unknown"]] == [("499", "4xx"), ("abc", "invalid")]
    assert "add to reference" not in response.content.decode()  # support users may not add codes


def test_admins_get_a_link_to_add_unknown_codes(support_user, client, traffic):
    support_user.user_permissions.add(Permission.objects.get(codename="add_sipcode"))
    client.force_login(support_user)
    body = client.get("/codes/?window=1h").content.decode()
    assert "/admin/reference/sipcode/add/?code=499" in body
    assert "/admin/reference/sipcode/add/?code=abc" not in body  # not a number: cannot become a SipCode


def test_splits_by_direction_country_and_sub_account(support_client, traffic):
    splits = {key: rows for _, key, rows in support_client.get("/codes/?window=1h").context["splits"]}
    by_country = {r["value"]: r for r in splits["destination_country"]}
    assert by_country["LK"]["failures"] == 20
    assert by_country["LK"]["top_code"] == "486"
    by_direction = {r["value"]: r for r in splits["direction"]}
    assert by_direction["INBOUND"]["total"] == 15
    assert by_direction["OUTBOUND"]["failures"] == 25  # 486 + 499 + abc
    assert {r["value"] for r in splits["sub_account_id"]} == {"acme_sg", "other"}


def test_focus_on_one_code_narrows_the_splits(support_client, traffic):
    splits = {key: rows for _, key, rows in support_client.get("/codes/?window=1h&code=503").context["splits"]}
    assert [r["value"] for r in splits["direction"]] == ["INBOUND"]


def test_week_window_reads_hour_buckets(support_client, traffic):
    known = {line.code: line for line in support_client.get("/codes/?window=7d").context["known"]}
    # The minutes' codes count once, through their hours (or days), beside the older hour's 1,000.
    assert known["486"].count == 20 + 10 + 1000


def test_htmx_request_returns_only_the_partial(support_client, traffic):
    body = support_client.get("/codes/?window=24h", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<div id="codes-body"')


def test_empty_window_explains_the_webhook(support_client):
    assert "/webhooks/8x8/" in support_client.get("/codes/").content.decode()


def test_query_count(support_client, traffic, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):
        support_client.get("/codes/?window=1h")
