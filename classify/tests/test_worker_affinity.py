"""Workers split sessions between them: each claims the events of its own share of sessions,
and anyone's once they have waited (classify/pipeline.py ``_place_among_workers``, docs/design.md
§2.3)."""

from __future__ import annotations

import random
import time

import psycopg
import pytest
from django.db import connection

from classify.pipeline import _place_among_workers
from classify.tests.test_worker import nothing_pending, wait_until
from config.celery import app as celery_app
from config.db import WORKER_APPLICATION_NAME
from webhooks.group_commit import conninfo_from_settings
from webhooks.models import RawEvent

from .conftest import SESSION, vcs, vss
from .helpers import drain, session_bodies, store

pytestmark = pytest.mark.django_db(transaction=True)

SHARE_OF = "mod(hashtext(session_id) & 2147483647, 2)"  # which of two workers a raw row's session is for


def shares(state: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {SHARE_OF} FROM webhooks_rawevent WHERE state = %s", [state])  # noqa: S608
        return {share for (share,) in cursor.fetchall()}


@pytest.fixture
def as_one_of_two_workers():
    """This test's connection and one other, both under the workers' name; yields this one's place."""
    with connection.cursor() as cursor:
        cursor.execute("SET application_name = %s", [WORKER_APPLICATION_NAME])
        cursor.execute("SELECT pg_backend_pid()")
        (mine,) = cursor.fetchone()
    other = psycopg.connect(conninfo_from_settings(), application_name=WORKER_APPLICATION_NAME, autocommit=True)
    try:
        yield 0 if mine < other.info.backend_pid else 1
    finally:
        other.close()
        connection.close()  # the next test connects under its own name again


def test_each_of_two_workers_takes_its_own_sessions_and_the_others_once_they_waited(as_one_of_two_workers, settings):
    settings.SIPDESK_CLASSIFY_AFFINITY_SECONDS = 60
    for bodies in session_bodies(random.Random(5), 16):
        for body in bodies:
            store(body)

    drain()
    assert shares("processed") == {as_one_of_two_workers}
    assert shares("pending") == {1 - as_one_of_two_workers}, "the other worker's sessions are left to it"

    settings.SIPDESK_CLASSIFY_AFFINITY_SECONDS = 1
    time.sleep(1.1)  # the other worker has not taken its events within the wait: anyone may
    drain()
    assert not RawEvent.objects.filter(state="pending").exists()


def test_a_worker_alone_or_not_a_worker_takes_every_session(settings):
    try:
        with connection.cursor() as cursor:
            assert _place_among_workers(cursor) == (0, 1)  # not a worker
            cursor.execute("SET application_name = %s", [WORKER_APPLICATION_NAME])
            assert _place_among_workers(cursor) == (0, 1)  # the only worker
            cursor.execute("SELECT pg_backend_pid()")
            (mine,) = cursor.fetchone()
            with psycopg.connect(conninfo_from_settings(), application_name=WORKER_APPLICATION_NAME) as other:
                # Places follow backend pids: the lower one is first.
                assert _place_among_workers(cursor) == (int(mine > other.info.backend_pid), 2)
                settings.SIPDESK_CLASSIFY_AFFINITY_SECONDS = 0  # the split turned off
                assert _place_among_workers(cursor) == (0, 1)
    finally:
        connection.close()  # the next test connects under its own name again


@pytest.mark.worker
def test_a_celery_worker_connects_under_the_workers_name(celery_worker_process):
    """Seen while its batch waits for a session lock this test holds."""
    store(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20Z", sip=503))
    store(vss("FAILED"))
    holder = psycopg.connect(conninfo_from_settings(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(hashtext(%s))", [SESSION])
    celery_app.send_task("classify.process_pending")

    def a_named_worker_waits() -> bool:
        return bool(
            holder.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                [WORKER_APPLICATION_NAME],
            ).fetchone()[0]
        )

    try:
        wait_until(a_named_worker_waits, timeout=60, message="the worker's batch waiting under the workers' name")
    finally:
        holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", [SESSION])
        holder.close()
    wait_until(nothing_pending, message="classified once the lock was released")
