"""Retention (issue 16): raw partitions dropped, dedupe exact across partitions and past expiry,
sessions / keys / hour rollups removed past theirs, the dry run changes nothing."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from classify import rollups
from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from dashboard.tests.factories import code_rollup, make_event, make_session, session_rollup
from webhooks import partitions
from webhooks.group_commit import GroupCommitWriter
from webhooks.ingest import PreparedEvent, ingest, prepare
from webhooks.models import DedupeKey, RawEvent

pytestmark = pytest.mark.django_db(transaction=True)


def body(event_id: str) -> bytes:
    return json.dumps(
        {"eventType": "CALL_STATUS", "payload": {"eventId": event_id, "sessionId": f"s-{event_id}", "callId": "c1"}}
    ).encode()


def age(event_id: int, days: float) -> None:
    """Pretend the row arrived ``days`` ago (the UPDATE moves it to that day's partition)."""
    RawEvent.objects.filter(id=event_id).update(received_at=timezone.now() - timedelta(days=days))


def partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM webhooks_rawevent WHERE id = %s", [event_id])
        row = cursor.fetchone()
    return row[0] if row else ""


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_old_events", *args, stdout=out)
    return out.getvalue()


def test_purge_drops_expired_partitions_and_keeps_rows_in_retention(settings):
    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    old, recent, fresh = (ingest(body(f"e{n}")).event_id for n in range(3))
    age(old, 40)
    age(recent, 10)
    old_day = (timezone.now() - timedelta(days=40)).astimezone(UTC).date()
    # No day partition covers 40 days ago unless an earlier test's history made one (partitions
    # outlive a test's flush): the DEFAULT partition caught the row, or its day did; nothing failed.
    assert partition_of(old) in (partitions.DEFAULT_PARTITION, partitions.partition_name(old_day))

    printed = purge()

    assert f"drop partition {partitions.partition_name(old_day)}" in printed
    assert set(RawEvent.objects.values_list("id", flat=True)) == {recent, fresh}
    assert old_day not in {p.day for p in partitions.day_partitions()}
    assert partition_of(recent) == partitions.partition_name((timezone.now() - timedelta(days=10)).date())
    today = timezone.now().astimezone(UTC).date()
    days = {p.day for p in partitions.day_partitions()}
    assert {today + timedelta(days=n) for n in range(partitions.AHEAD_DAYS + 1)} <= days  # created ahead
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")  # noqa: S608
        assert cursor.fetchone()[0] == 0


def test_dry_run_reports_and_changes_nothing(settings):
    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    old = ingest(body("dry")).event_id
    age(old, 45)
    partitions.ensure_ahead()  # the stray day gets its partition, as the job would

    printed = purge("--dry-run")

    assert "would drop partition" in printed
    assert RawEvent.objects.filter(id=old).exists()


def test_a_redelivery_is_a_duplicate_when_the_original_sits_in_another_partition():
    first = ingest(body("across"))
    age(first.event_id, 2)

    again = ingest(body("across"))

    assert (again.status, again.event_id) == ("duplicate", first.event_id)
    assert list(RawEvent.objects.values_list("id", "deliveries")) == [(first.event_id, 2)]


def test_group_commit_dedupes_across_partitions():
    first = ingest(body("grouped"))
    age(first.event_id, 3)
    event = prepare(body("grouped"))
    assert isinstance(event, PreparedEvent)

    async def store_twice() -> list:
        writer = GroupCommitWriter()
        results = await asyncio.gather(writer.store(event), writer.store(event))
        await writer.close()
        return [(r.status, r.event_id) for r in results]

    assert asyncio.run(store_twice()) == [("duplicate", first.event_id)] * 2
    assert list(RawEvent.objects.values_list("id", "deliveries")) == [(first.event_id, 3)]


def test_a_redelivery_after_the_payload_expired_is_still_a_duplicate(settings):
    """Keys outlive raw payloads (kept as long as sessions): a late redelivery must not come back
    as a new event, which would re-derive its session from that one event alone."""
    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    settings.SIPDESK_SESSION_RETENTION_DAYS = 90
    first = ingest(body("late"))
    age(first.event_id, 40)
    purge()
    assert not RawEvent.objects.exists()

    again = ingest(body("late"))

    assert again.status == "duplicate"
    assert not RawEvent.objects.exists()
    # Once the key's own retention has passed too, the key goes.
    DedupeKey.objects.update(received_at=timezone.now() - timedelta(days=91))
    purge()
    assert not DedupeKey.objects.exists()


def test_sessions_legs_classifications_and_hour_and_day_rollups_go_past_their_retention(settings):
    settings.SIPDESK_SESSION_RETENTION_DAYS = 90
    settings.SIPDESK_ROLLUP_RETENTION_DAYS = 400
    now = timezone.now()
    old = make_session(start=now - timedelta(days=100), legs=2)
    kept = make_session(start=now - timedelta(days=80))
    make_event(old)
    kept_event = make_event(kept)
    session_rollup(now - timedelta(days=401), "COMPLETED", 5, size="hour")
    session_rollup(now - timedelta(days=399), "COMPLETED", 7, size="hour")
    # Rollups are cut at midnight UTC, hours and days together: the first hour of the day the
    # retention ends in stays, as does its day.
    session_rollup(rollups.floor(now - timedelta(days=400), "day"), "BUSY", 3, size="hour")
    code_rollup(now - timedelta(days=401), "486", 5, size="hour")

    printed = purge()

    assert list(Session.objects.values_list("id", flat=True)) == [kept.id]
    assert set(CallLeg.objects.values_list("session_id", flat=True)) == {kept.id}
    assert list(EventClassification.objects.values_list("event_id", flat=True)) == [kept_event.id]
    assert sorted(SessionRollup.objects.values_list("bucket_size", "count")) == [
        ("day", 3),
        ("day", 7),
        ("hour", 3),
        ("hour", 7),
    ]
    assert not CodeRollup.objects.exists()
    assert "delete 1 rows from classify_session" in printed
    assert "delete 2 rows from classify_callleg" in printed
    assert "analyzed" in printed


def test_a_session_page_says_when_its_raw_payloads_have_expired(settings, support_client):
    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    now = timezone.now()
    expired = make_session(start=now - timedelta(days=40))
    current = make_session(start=now - timedelta(days=2))
    make_event(current)

    expired_page = support_client.get(f"/sessions/{expired.session_id}/").content.decode()
    current_page = support_client.get(f"/sessions/{current.session_id}/").content.decode()

    assert 'data-testid="payloads-expired"' in expired_page
    assert "Raw payloads are kept 30 days" in expired_page
    assert "payloads-expired" not in current_page


def test_import_events_ends_with_analyze(tmp_path):
    # ANALYZE's own mark, visible at once: pg_class.reltuples (inserts alone never change it).
    def estimated_rows() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'webhooks_dedupekey'")
            return cursor.fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webhooks_dedupekey")  # empty: 0 rows
    assert estimated_rows() == 0
    path = tmp_path / "events.ndjson"
    path.write_bytes(body("imported") + b"\n" + body("imported-too") + b"\n")
    call_command("import_events", str(path), stdout=io.StringIO())
    assert estimated_rows() == 2


def test_the_disk_guard_warns_when_purge_is_not_keeping_up(settings, client):
    from retention import disk
    from retention.models import SizeSample

    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    assert disk.warnings() == []
    stray = ingest(body("stray")).event_id
    age(stray, 400)  # lands in the DEFAULT partition: no day partition covers it
    assert any("outside every day partition" in w for w in disk.warnings())
    assert any("outside every day partition" in w for w in client.get("/healthz").json()["disk_warnings"])

    # Steady state (a partition at the horizon) and 30% growth in a week: warned.
    partitions.ensure_partitions((timezone.now() - timedelta(days=31)).date(), timezone.now().date())
    RawEvent.objects.filter(id=stray).delete()
    today = timezone.now().astimezone(UTC).date()
    SizeSample.objects.create(day=today - timedelta(days=7), database_bytes=1_000_000_000, raw_bytes=0)
    SizeSample.objects.create(day=today, database_bytes=1_300_000_000, raw_bytes=0)
    assert disk.warnings() == ["database grew 30% in 7 days with raw retention steady at 30 days"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        (data_dir,) = cursor.fetchone()
    if disk.free_space(data_dir):  # the data directory is visible here (local server, superuser)
        settings.SIPDESK_DISK_MIN_FREE_PERCENT = 99
        assert any(w.startswith("disk ") for w in disk.warnings())


def test_the_disk_guard_reads_the_data_directory_only_where_the_role_may_and_never_fails():
    """A role that may not read data_directory gets no free-space claim, not an error (the
    overview's health strip and /healthz read these facts on every load)."""
    from retention import disk

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        (visible,) = cursor.fetchone()
        cursor.execute(disk._FACTS_SQL, [timezone.now().date()])
        assert cursor.fetchone()[0] == visible  # the same answer pg_settings gives this role

        cursor.execute("CREATE ROLE sipdesk_disk_guard_plain NOLOGIN")
        cursor.execute("GRANT SELECT ON webhooks_rawevent_default, retention_sizesample TO sipdesk_disk_guard_plain")
        cursor.execute("SET LOCAL ROLE sipdesk_disk_guard_plain")
        cursor.execute(disk._FACTS_SQL, [timezone.now().date()])
        data_dir, _, oldest, _ = cursor.fetchone()
        assert data_dir is None
        assert oldest is not None
        assert oldest.startswith("webhooks_rawevent_p")
        transaction.set_rollback(True)
