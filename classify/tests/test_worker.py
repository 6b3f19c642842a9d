"""The pipeline with REAL Celery workers against PostgreSQL and Redis."""

from __future__ import annotations

import json
import random
import time
from collections import Counter

import pytest

from classify.models import BucketSize, CodeRollup, EventClassification, Session, SessionRollup
from conftest import CeleryWorker, purge_test_broker
from webhooks.models import RawEvent

from .helpers import session_bodies, store

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout: float = 90, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting: {message}")


def nothing_pending() -> bool:
    return not RawEvent.objects.filter(state="pending").exists()


def assert_processed_exactly_once_with_true_rollups() -> None:
    total = RawEvent.objects.count()
    assert RawEvent.objects.filter(state="processed", attempts=1).count() == total
    assert EventClassification.objects.count() == total
    expected = Counter(Session.objects.values_list("status", flat=True))
    for size in (BucketSize.MINUTE, BucketSize.HOUR):
        got: Counter = Counter()
        for status, count in SessionRollup.objects.filter(bucket_size=size).values_list("status", "count"):
            got[status] += count
        assert got == expected
    finals = EventClassification.objects.filter(is_final=True).exclude(sip_code_raw="").count()
    assert sum(CodeRollup.objects.filter(bucket_size="hour").values_list("count", flat=True)) == finals


def test_events_posted_to_the_view_are_classified_by_a_worker(client, celery_worker_process):
    sessions = session_bodies(random.Random(11), 8)
    for bodies in sessions:
        for body in bodies:
            response = client.post(
                "/webhooks/8x8/",
                data=json.dumps(body),
                content_type="application/json",
                HTTP_AUTHORIZATION="Bearer test-webhook-secret",
            )
            assert response.status_code == 200, response.content

    wait_until(
        lambda: nothing_pending() and Session.objects.filter(summary_received=True).count() == 8, message="classified"
    )
    assert Session.objects.exclude(outcome_group="in_progress").count() == 8
    assert_processed_exactly_once_with_true_rollups()


def test_a_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(monkeypatch):
    from config.celery import app

    purge_test_broker()
    for bodies in session_bodies(random.Random(12), 500):
        for body in bodies:
            store(body)
    stored = RawEvent.objects.count()
    monkeypatch.setenv("SIPDESK_CLASSIFY_BATCH_SIZE", "10000")  # one long batch: the kill lands inside it

    first = CeleryWorker("killed").start()
    try:
        app.send_task("classify.process_pending")
        wait_until(lambda: "classify.process_pending" in first.log.read_text(), 30, "task received")
        time.sleep(0.5)
        first.kill()
    finally:
        first.stop()
    pending_after_kill = RawEvent.objects.filter(state="pending").count()

    monkeypatch.setenv("SIPDESK_CLASSIFY_BATCH_SIZE", "500")
    second = CeleryWorker("survivor").start()
    try:
        app.send_task("classify.process_pending")
        wait_until(nothing_pending, message="survivor drained the backlog")
    finally:
        second.stop()
    assert RawEvent.objects.count() == stored
    assert pending_after_kill in (0, stored)  # the batch is one transaction: all or nothing
    assert_processed_exactly_once_with_true_rollups()
