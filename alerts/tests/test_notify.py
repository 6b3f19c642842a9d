"""Notifications over real protocols: e-mail to an SMTP server, JSON to an HTTP server; each
notification goes out once, failures are retried then recorded with the reason."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.evaluate import evaluate_all
from alerts.models import Notification
from alerts.notify import send_one, send_test

from .helpers import NOW, channel, roll, rule

pytestmark = pytest.mark.django_db


def fire(*channels, **fields) -> list[Notification]:
    rule(sub_account="acme_sg", min_sessions=10, channels=list(channels), **fields)
    roll(8, "failed", sip=503)
    roll(12, "answered")
    evaluate_all(now=NOW)
    return list(Notification.objects.order_by("id"))


def test_a_firing_alert_is_mailed_once_over_smtp(smtp_server, settings):
    settings.SIPDESK_DASHBOARD_URL = "https://sipdesk.example.com"
    [notification] = fire(channel("mail", smtp_server.url))
    assert send_one(notification.pk) == "sent"
    assert send_one(notification.pk) == ""  # already sent: a second task does nothing
    [mail] = smtp_server.texts()
    assert "Subject: [sipdesk] FIRING: failures (sub_account=acme_sg)" in mail
    assert "Value: 40.0% (threshold above 5.0%)" in mail
    assert "Sessions counted: 20" in mail
    assert "Top causes: 503 ×8" in mail
    assert "https://sipdesk.example.com/sessions/?start=" in mail
    notification.refresh_from_db()
    assert notification.status == "sent"
    assert notification.sent_at is not None


def test_a_json_webhook_receives_the_alert_once(hook_server):
    [notification] = fire(channel("hook", hook_server.url))
    for _ in range(3):
        send_one(notification.pk)
    assert len(hook_server.received) == 1
    posted = hook_server.received[0]
    assert posted["path"] == "/hook"
    assert posted["json"]["title"] == "[sipdesk] FIRING: failures (sub_account=acme_sg)"
    assert "Sessions counted: 20" in posted["json"]["message"]


def test_a_refused_message_is_retried_with_backoff_then_failed_with_the_reason(hook_server, settings):
    settings.SIPDESK_ALERTS_SEND_ATTEMPTS = 2
    hook_server.status = 500
    [notification] = fire(channel("hook", hook_server.url))
    assert send_one(notification.pk) == "pending"
    notification.refresh_from_db()
    assert notification.error
    assert notification.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert send_one(notification.pk) == ""  # not due yet
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert send_one(notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.attempts == 2
    assert "500" in notification.error
    assert len(hook_server.received) == 2


def test_an_unreadable_channel_fails_with_a_reason(settings):
    bad = channel("bad", "json://127.0.0.1:9/x")
    bad.url_encrypted = "not-a-token"
    bad.save()
    [notification] = fire(bad)
    settings.SIPDESK_ALERTS_SEND_ATTEMPTS = 1
    assert send_one(notification.pk) == "failed"
    assert "unreadable" in Notification.objects.get().error


def test_a_channel_url_is_stored_encrypted(hook_server):
    made = channel("hook", hook_server.url)
    assert hook_server.url not in made.url_encrypted
    assert made.url == hook_server.url
    assert "127.0.0.1" in made.safe_url()


def test_send_test_notification_goes_through_the_same_path(hook_server):
    made = channel("hook", hook_server.url)
    notification = send_test(made)
    deadline = time.monotonic() + 5
    send_one(notification.pk)
    while not hook_server.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hook_server.received[0]["json"]["title"] == "[sipdesk] Test notification"
