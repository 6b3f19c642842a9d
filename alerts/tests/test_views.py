"""The alert pages: everyone logged in reads, only ``alerts.manage_alerts`` edits; the banner."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from alerts.evaluate import evaluate_all
from alerts.models import AlertRule, Channel, Notification

from .helpers import NOW, channel, roll, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(support_user):
    support_user.user_permissions.add(Permission.objects.get(codename="manage_alerts"))
    return support_user


def test_the_alerts_page_lists_rules_with_state_value_and_history(client, support_user):
    rule(min_sessions=10, channels=[channel()])
    roll(6, "failed", sip=503)
    roll(6, "answered")
    evaluate_all(now=NOW)
    client.force_login(support_user)
    html = client.get("/alerts/").content.decode()
    assert "failures" in html
    assert "Firing" in html
    assert "50.0%" in html
    assert "Fired → hook: <strong>Pending</strong>" in html
    assert "New rule" not in html  # no permission, no edit links
    assert client.get("/alerts/", headers={"HX-Request": "true"}).content.decode().startswith('\n<div id="alerts-body"')


def test_the_banner_shows_firing_alerts_to_every_logged_in_user(client, support_user):
    client.force_login(support_user)
    assert "alert-banner" not in client.get("/alerts/banner/").content.decode()
    rule("503 spike", min_sessions=10)
    roll(10, "failed")
    evaluate_all(now=NOW)
    assert "503 spike" in client.get("/alerts/banner/").content.decode()
    page = client.get("/").content.decode()
    assert 'hx-get="/alerts/banner/"' in page
    client.logout()
    assert client.get("/alerts/banner/").status_code == 302


def test_editing_needs_the_alerts_permission(client, support_user):
    client.force_login(support_user)
    assert client.get("/alerts/rules/new/").status_code == 403
    assert client.post("/alerts/rules/new/", {"name": "x"}).status_code == 403
    assert client.get("/alerts/channels/new/").status_code == 403
    made = channel()
    assert client.post(f"/alerts/channels/{made.pk}/test/").status_code == 403
    assert not Notification.objects.exists()


def test_a_manager_creates_a_rule_and_a_channel_and_sends_a_test(client, manager):
    client.force_login(manager)
    response = client.post("/alerts/channels/new/", {"name": "ops", "url": "json://127.0.0.1:9/x", "url_env": ""})
    assert response.status_code == 302
    ops = Channel.objects.get(name="ops")
    assert ops.url == "json://127.0.0.1:9/x"
    form = {
        "name": "acme 503", "enabled": "on", "metric": "sip_code_share", "sip_code": "503",
        "sub_account": "acme_sg", "comparison": "above", "threshold": "0.05", "window_minutes": "15",
        "min_sessions": "20", "for_count": "2", "channels": [ops.pk],
    }  # fmt: skip
    assert client.post("/alerts/rules/new/", form).status_code == 302
    made = AlertRule.objects.get(name="acme 503")
    assert (made.sip_code, made.window_minutes, made.for_count) == (503, 15, 2)
    bad = {**form, "name": "no code", "sip_code": ""}
    assert "watches one SIP code" in client.post("/alerts/rules/new/", bad).content.decode()
    assert client.post(f"/alerts/channels/{ops.pk}/test/").status_code == 302
    assert Notification.objects.get().kind == "test"
    # Editing the channel without a URL keeps the stored one.
    client.post(f"/alerts/channels/{ops.pk}/", {"name": "ops", "url": "", "url_env": ""})
    assert Channel.objects.get(name="ops").url == "json://127.0.0.1:9/x"


def test_hostile_input_never_500s(client, manager):
    client.force_login(manager)
    assert client.get("/alerts/rules/999999/").status_code == 404
    form = {"name": "x\x00" * 5000, "metric": "failure_share", "comparison": "above", "threshold": "nan?",
            "window_minutes": "-1", "min_sessions": "x", "for_count": "0"}  # fmt: skip
    assert client.post("/alerts/rules/new/", form).status_code == 200
    # A lone surrogate as a browser would send it (UTF-8 of U+D800, percent-encoded).
    raw = "name=%ED%A0%80&url=..%2F..&url_env="
    assert (
        client.post("/alerts/channels/new/", raw, content_type="application/x-www-form-urlencoded").status_code == 200
    )
    assert not Channel.objects.exists()


def test_the_admin_edits_rules_and_channels_without_showing_stored_urls(client, superuser):
    made = channel("hook", "json://user:s3cret@127.0.0.1:9/x")
    r = rule(channels=[made])
    client.force_login(superuser)
    for url in ("/admin/alerts/alertrule/add/", f"/admin/alerts/alertrule/{r.pk}/change/",
                "/admin/alerts/channel/", f"/admin/alerts/channel/{made.pk}/change/",
                "/admin/alerts/alertevent/", "/admin/alerts/notification/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
        assert "s3cret" not in response.content.decode(), url
