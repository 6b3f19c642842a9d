"""What the pages show of products, recordings and virtual numbers (issue 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from classify import rollups
from classify.models import BucketSize
from dashboard.tests.factories import make_event, make_session
from products.models import VirtualNumber

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_client(support_user) -> Client:
    client = Client()
    client.force_login(support_user)
    return client


@pytest.fixture
def rule_admin_client(db) -> Client:
    user = User.objects.create_user("rules", password="rules-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    user.user_permissions.add(Permission.objects.get(codename="add_productrule"))
    client = Client()
    client.force_login(user)
    return client


def session(**kwargs):
    start = timezone.now() - timedelta(minutes=5)
    made = make_session(start=start, rollup_at=start, **kwargs)
    # Its rollup buckets, as the pipeline would write them (the signals read rollups).
    with transaction.atomic():
        rollups.recompute({rollups.floor(start, BucketSize.MINUTE)}, set())
    return made


def test_the_session_page_says_why_and_links_admins_to_a_rule(support_client, rule_admin_client):
    unknown = session(
        product="UNKNOWN", product_reason="could be Voice Messaging or Number Masking", sub_account="acme_nm"
    )
    page = support_client.get(f"/sessions/{unknown.session_id}/").content.decode()
    assert 'Unknown <span class="small">(could be Voice Messaging or Number Masking: add a product rule)' in page
    assert "/admin/products/productrule/add/" not in page  # no permission, no link

    page = rule_admin_client.get(f"/sessions/{unknown.session_id}/").content.decode()
    assert 'href="/admin/products/productrule/add/?sub_account_id=acme_nm"' in page

    ruled = session(product="NUMBER_MASKING", product_reason="rule: sub-account acme_nm", sub_account="acme_nm")
    page = support_client.get(f"/sessions/{ruled.session_id}/").content.decode()
    assert 'Number Masking <span class="small">(rule: sub-account acme_nm)</span>' in page


def test_the_timeline_shows_client_action_id_dtmf_and_recordings(support_client):
    s = session()
    make_event(
        s,
        event_type="CALL_ACTION",
        body={
            "eventType": "CALL_ACTION",
            "payload": {"sessionId": s.session_id, "callId": "c1", "callStatus": "ACTION_COMPLETED",
                        "eventData": {"dtmf": "42"}, "clientActionId": "ivr1_level2<b>"},
        },
    )  # fmt: skip
    make_event(
        s,
        event_type="CALL_RECORDING_STATUS",
        body={
            "eventType": "CALL_RECORDING_STATUS",
            "payload": {
                "sessionId": s.session_id,
                "recordingId": "r-1",
                "status": "UPLOAD_FAILED",
                "durationSeconds": 9,
            },
        },
    )
    page = support_client.get(f"/sessions/{s.session_id}/").content.decode()
    assert '<span class="tag">clientActionId</span> <span class="mono">ivr1_level2&lt;b&gt;</span>' in page
    assert '<span class="tag">DTMF</span> <span class="mono">42</span>' in page
    assert '<span class="tag">recording</span> <span class="mono">UPLOAD_FAILED</span>' in page


def test_overview_and_sessions_show_unknown_share_failed_recordings_and_unhealthy_numbers(support_client):
    session(product="UNKNOWN", sub_account="acme_nm")
    session(product="UNKNOWN", sub_account="acme_nm", anomalies=["recording_failed"])
    session(product="IVR")
    session(product="IVR")
    VirtualNumber.objects.create(sub_account_id="acme", msisdn="+6568332049", operational_status="Unhealthy")
    VirtualNumber.objects.create(sub_account_id="acme", msisdn="+6568332048", operational_status="Active")
    for url in ("/?window=1h", "/sessions/"):
        page = support_client.get(url).content.decode()
        assert "50.0% (2 of 4)" in page, url
        assert "1 sub-account needs a product rule" in page, url
        assert 'anomaly=recording_failed">1</a>' in page, url
        assert 'href="/products/#numbers">1</a>' in page, url


def test_the_products_page_lists_unknown_sub_accounts_rules_and_numbers(support_client, rule_admin_client):
    session(product="UNKNOWN", product_reason="could be Voice Messaging or Number Masking", sub_account="x<script>")
    VirtualNumber.objects.create(sub_account_id="acme", msisdn="+6568332049", operational_status="Unhealthy")
    page = support_client.get("/products/?window=1h").content.decode()
    assert "x&lt;script&gt;" in page
    assert "could be Voice Messaging or Number Masking" in page
    assert "+65 6•••• 2049" in page or "6568332049" not in page  # masked without the number permission
    assert "add a product rule" not in page
    page = rule_admin_client.get("/products/?window=1h").content.decode()
    assert "/admin/products/productrule/add/?sub_account_id=x%3Cscript%3E" in page
    assert support_client.get("/products/?window=../../etc", HTTP_HX_REQUEST="true").status_code == 200
