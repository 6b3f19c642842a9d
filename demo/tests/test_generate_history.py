"""generate_history's raw events only where raw retention would leave them (``--raw-days``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from webhooks.models import RawEvent

pytestmark = pytest.mark.django_db


def test_raw_days_keeps_raw_events_for_recent_sessions_only_and_every_session_counted():
    call_command("generate_history", sessions=300, days=10, raw_days=2, seed=4, chunk=100, verbosity=0)
    since = timezone.now() - timedelta(days=2, minutes=1)
    assert Session.objects.filter(start_time__lt=since).exists()
    assert RawEvent.objects.exists()
    assert RawEvent.objects.aggregate(first=Min("received_at"))["first"] >= since
    # Rollups still count every session and final code, raw payloads or not.
    assert SessionRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"] == 300
    assert SessionRollup.objects.filter(bucket_size="day").aggregate(n=Sum("count"))["n"] == 300
    assert CodeRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"] >= 300


def _indexes() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [[m._meta.db_table for m in (Session, CallLeg, EventClassification)]],
        )
        return set(cursor.fetchall())


def test_the_indexes_dropped_for_the_load_are_all_built_again():
    before = _indexes()
    assert len(before) > 10
    call_command("generate_history", sessions=50, days=2, seed=5, chunk=20, verbosity=0)
    assert _indexes() == before
    # And used: the planner can reach a leg by its session again.
    assert CallLeg.objects.filter(session=Session.objects.first()).exists()


def _constraints() -> set[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%s::regclass[])",
            [[m._meta.db_table for m in (Session, CallLeg, EventClassification)]],
        )
        return set(cursor.fetchall())


def _sessions() -> set[tuple]:
    return set(Session.objects.values_list("session_id", "status", "product", "sub_account_id", "duration_seconds"))


@pytest.mark.django_db(transaction=True)
def test_in_two_processes_the_rows_are_those_of_one_and_vacuumed_as_well_as_analysed():
    """Each chunk draws from its own seeded generator: which process made it does not matter.
    Outside a transaction the processes load, threads build the indexes, and VACUUM marks the new
    rows' pages all-visible (config/db.py ``analyze``): the first reads then neither dirty every
    page nor visit the table from an index-only scan."""
    options = {"sessions": 200, "days": 2, "seed": 6, "chunk": 30, "verbosity": 0}
    indexes, constraints = _indexes(), _constraints()
    call_command("generate_history", jobs=1, **options)
    one_process = _sessions()
    with connection.cursor() as cursor:
        tables = [
            m._meta.db_table for m in (Session, CallLeg, EventClassification, RawEvent, SessionRollup, CodeRollup)
        ]
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    call_command("generate_history", jobs=2, **options)
    assert _sessions() == one_process
    # The indexes the processes' load went without were built again by the threads.
    assert (_indexes(), _constraints()) == (indexes, constraints)
    assert len(one_process) == 200
    # Every chunk's counts reached the rollups, once.
    for size in ("hour", "day"):
        assert SessionRollup.objects.filter(bucket_size=size).aggregate(n=Sum("count"))["n"] == 200
    finals = EventClassification.objects.filter(is_final=True).exclude(sip_code_raw="").count()
    assert CodeRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"] == finals
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relpages, relallvisible FROM pg_class WHERE relname = ANY(%s)",
            [[m._meta.db_table for m in (Session, CallLeg)]],
        )
        pages = {name: (total, visible) for name, total, visible in cursor.fetchall()}
    assert all(total > 0 and visible == total for total, visible in pages.values()), pages
    # The staging tables are gone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'generate_history_%%'")
        assert cursor.fetchone()[0] == 0


def test_a_second_run_adds_its_sessions_without_failing_on_the_first_runs_rollup_buckets():
    """Meant for an empty database, but a second run must not fail on rollup buckets the first
    one wrote (its indexes stay, and its rollups are upserted: a shared bucket takes the second
    run's count, so the hours add up to between one run's sessions and both runs')."""
    call_command("generate_history", sessions=150, days=1, seed=8, chunk=50, verbosity=0)
    call_command("generate_history", sessions=150, days=1, seed=9, chunk=50, verbosity=0)
    assert Session.objects.count() == 300
    # The same seed again would make the same sessions: refused before anything is loaded.
    with pytest.raises(CommandError, match="already holds the sessions of --seed 8"):
        call_command("generate_history", sessions=10, days=1, seed=8, verbosity=0)
    assert Session.objects.count() == 300
    hours = SessionRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"]
    assert 150 <= hours <= 300
