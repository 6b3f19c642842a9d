"""Redis down: webhooks are still accepted and stay pending; the sweep enqueues them later."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from conftest import purge_test_broker
from webhooks import enqueue
from webhooks.models import RawEvent
from webhooks.tasks import sweep_pending
from webhooks.tests.conftest import fixture_body, post

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def queued_task_names() -> list[str]:
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL).lrange("celery", 0, -1)
    return [json.loads(message)["headers"]["task"] for message in queue]


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_webhooks_are_stored_pending_and_swept_later(client, caplog):
    purge_test_broker()
    enqueue._last_warning = 0.0  # the outage warning is rate limited per process
    names = ["vcs_2026", "vcs_2025", "vca_ivr_eventdata_object", "vss_ivr_completed", "vnu_snapshot"]

    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER), caplog.at_level(logging.WARNING, "webhooks"):
        responses = [post(client, fixture_body(name)) for name in names]
        assert enqueue.wait_idle(30)  # the publisher tried (and failed) while the broker was down

    assert [r.json()["status"] for r in responses] == ["stored"] * 5
    assert set(RawEvent.objects.values_list("state", flat=True)) == {"pending"}
    assert "could not publish classify.process_pending" in caplog.text
    assert queued_task_names() == []

    # Broker back. Nothing is stale yet, so the sweep stays quiet ...
    assert sweep_pending() == 0
    assert queued_task_names() == []
    # ... and once the rows are older than the threshold it enqueues the classifier (by name).
    RawEvent.objects.update(received_at=timezone.now() - timedelta(seconds=settings.SIPDESK_SWEEP_AFTER_SECONDS + 1))
    assert sweep_pending() == 5
    assert queued_task_names() == ["classify.process_pending"]


def test_after_an_outage_the_sweep_gets_every_pending_event_classified_by_a_real_worker(client, celery_worker_process):
    names = ["vcs_2026", "vcs_2025", "vss_ivr_completed", "vss_ivr_busy"]
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER):
        for name in names:
            assert post(client, fixture_body(name)).json()["status"] == "stored"
        assert enqueue.wait_idle(30)
    assert RawEvent.objects.filter(state="pending").count() == len(names)

    RawEvent.objects.update(received_at=timezone.now() - timedelta(seconds=settings.SIPDESK_SWEEP_AFTER_SECONDS + 1))
    assert sweep_pending() == len(names)

    deadline = time.monotonic() + 60
    while RawEvent.objects.filter(state="pending").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(RawEvent.objects.values_list("state", flat=True)) == {"processed"}


@pytest.mark.django_db(transaction=True)
def test_a_stored_webhook_enqueues_the_classifier_after_commit(client):
    purge_test_broker()

    for name in ["vcs_2026", "vcs_2025", "vss_ivr_busy"]:
        assert post(client, fixture_body(name)).status_code == 200
    assert enqueue.wait_idle(30)

    names = queued_task_names()
    # Coalesced: a burst needs at least one message (the task drains every pending row), never one per event.
    assert 1 <= len(names) <= 3
    assert set(names) == {"classify.process_pending"}


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_does_not_enqueue_anything(client):
    post(client, fixture_body("vcs_2026"))
    assert enqueue.wait_idle(30)
    purge_test_broker()

    assert post(client, fixture_body("vcs_2026")).json()["status"] == "duplicate"
    assert enqueue.wait_idle(30)
    assert queued_task_names() == []


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_of_a_classified_event_sends_it_back_to_the_classifier(client):
    post(client, fixture_body("vcs_2026"))
    assert enqueue.wait_idle(30)
    RawEvent.objects.update(state="processed", processed_at=timezone.now())
    purge_test_broker()

    assert post(client, fixture_body("vcs_2026")).json()["status"] == "duplicate"
    assert enqueue.wait_idle(30)
    assert RawEvent.objects.get().state == "pending"
    assert queued_task_names() == ["classify.process_pending"]


def test_publish_reports_failure_without_raising_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER
    assert enqueue.publish() is False
