"""A repeat delivery never waits for a worker's batch (webhooks.ingest.BUMP_SQL, FOLD_SQL).

A worker holds the raw rows it claimed until its batch commits (a second or more under load).
A receiver that waited for such a row to count a duplicate stalled every webhook queued behind it;
now the count is deferred and a later batch adds it, so nothing is lost and nothing waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from classify.models import Session
from classify.pipeline import process_pending
from retention.purge import purge
from webhooks.group_commit import conninfo_from_settings
from webhooks.ingest import fold_deferred_repeats
from webhooks.models import DeferredRepeat, EventState, RawEvent
from webhooks.tests.conftest import fixture_body, post

pytestmark = pytest.mark.django_db(transaction=True)

VCS = fixture_body("vcs_2026")
ANSWER_WITHIN_S = 10.0  # generous: the answer takes milliseconds; waiting for the lock takes forever


@contextmanager
def held_like_a_worker(event_id: int) -> Iterator[psycopg.Connection]:
    """Another connection claims the row as classify.pipeline does (UPDATE … processed) and holds
    it, uncommitted, until the block ends; then it commits."""
    with psycopg.connect(conninfo_from_settings()) as other:
        other.execute(
            "UPDATE webhooks_rawevent SET state = 'processed', processed_at = now(), attempts = attempts + 1"
            " WHERE id = %s",
            [event_id],
        )
        yield other
        other.commit()


def in_thread(work) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(work())
        finally:
            connection.close()  # this thread's own Django connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_repeat_of_a_row_a_worker_holds_is_answered_at_once_and_counted_by_the_next_batch(either_receiver):
    first = post(either_receiver, VCS).json()
    assert first["status"] == "stored"

    with held_like_a_worker(first["id"]):
        thread, answers = in_thread(lambda: post(either_receiver, VCS))
        thread.join(ANSWER_WITHIN_S)
        answered_while_held = not thread.is_alive()
    thread.join(ANSWER_WITHIN_S)  # (without the deferral it is answered only now)

    assert answered_while_held, "the duplicate waited for the worker's batch to commit"
    assert (answers[0].status_code, answers[0].json()["status"]) == (200, "duplicate")
    assert answers[0].json()["id"] == first["id"]
    deferred = DeferredRepeat.objects.get()
    assert (deferred.event_id, deferred.repeats) == (first["id"], 1)
    assert RawEvent.objects.get().deliveries == 1  # not yet: the worker's batch had the row

    process_pending()  # the next batch adds the deferred count and re-derives the session

    event = RawEvent.objects.get()
    assert (event.deliveries, event.state) == (2, EventState.PROCESSED)
    assert event.attempts == 2  # classified again, as a direct bump of a processed row would do
    assert event.last_delivered_at == deferred.delivered_at
    assert not DeferredRepeat.objects.exists()
    assert "duplicate_delivery" in Session.objects.get().anomalies


def test_folding_skips_rows_still_held_without_waiting_and_adds_them_later():
    first = post_django(VCS)
    with held_like_a_worker(first):
        DeferredRepeat.objects.create(
            event_id=first, event_received_at=RawEvent.objects.get().received_at, repeats=3,
            delivered_at=timezone.now(),
        )  # fmt: skip

        def fold() -> int:
            with transaction.atomic(), connection.cursor() as cursor:
                return fold_deferred_repeats(cursor)

        thread, folded = in_thread(fold)
        thread.join(ANSWER_WITHIN_S)
        assert not thread.is_alive(), "folding waited for a row another batch holds"
        assert folded == [0]
        assert DeferredRepeat.objects.count() == 1

    with transaction.atomic(), connection.cursor() as cursor:
        assert fold_deferred_repeats(cursor) == 1
    event = RawEvent.objects.get()
    assert (event.deliveries, event.state) == (4, EventState.PENDING)  # processed by the holder: back in the queue
    assert not DeferredRepeat.objects.exists()


def test_repeats_of_several_deliveries_add_up_and_a_failed_row_stays_failed():
    first = post_django(VCS)
    RawEvent.objects.filter(id=first).update(state=EventState.FAILED)
    at = RawEvent.objects.get().received_at
    now = timezone.now()
    for repeats, seconds in ((2, 5), (1, 9), (4, 1)):
        DeferredRepeat.objects.create(
            event_id=first, event_received_at=at, repeats=repeats, delivered_at=now + timedelta(seconds=seconds)
        )

    with transaction.atomic(), connection.cursor() as cursor:
        assert fold_deferred_repeats(cursor) == 1

    event = RawEvent.objects.get()
    assert (event.deliveries, event.state) == (8, EventState.FAILED)
    assert event.last_delivered_at == now + timedelta(seconds=9)


def test_purge_removes_deferred_repeats_whose_row_has_gone_and_keeps_the_others():
    kept = post_django(VCS)
    at = RawEvent.objects.get().received_at
    DeferredRepeat.objects.create(event_id=kept, event_received_at=at, repeats=1, delivered_at=at)
    DeferredRepeat.objects.create(event_id=kept + 1000, event_received_at=at, repeats=1, delivered_at=at)

    dry = purge(dry_run=True)
    assert dry.deleted[DeferredRepeat._meta.db_table] == 1
    assert DeferredRepeat.objects.count() == 2

    report = purge()

    assert report.deleted[DeferredRepeat._meta.db_table] == 1
    assert list(DeferredRepeat.objects.values_list("event_id", flat=True)) == [kept]


def post_django(body: bytes) -> int:
    from django.test import Client

    answer = post(Client(), body).json()
    assert answer["status"] == "stored"
    return answer["id"]
