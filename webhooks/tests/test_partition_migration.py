"""webhooks/0003: an existing database is partitioned without losing a row (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from webhooks import partitions
from webhooks.ingest import ingest
from webhooks.models import DedupeKey, RawEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def day_partitions_restored() -> Iterator[None]:
    """The migration gives each old row's day a partition; a transactional test's flush empties
    them but keeps them, and later tests (retention) expect a fresh database's partitions."""
    before = {p.name for p in partitions.day_partitions()}
    yield
    for partition in partitions.day_partitions():
        if partition.name not in before:
            partitions.drop_partition(partition)


@pytest.mark.timeout(120)
def test_partitioning_keeps_every_row_and_its_dedupe(day_partitions_restored):
    call_command("migrate", "webhooks", "0002", verbosity=0)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO webhooks_rawevent (received_at, event_type, dedupe_key, session_id, call_id,"
                " sub_account_id, body, user_agent, content_length, deliveries, last_delivered_at, state, attempts,"
                " last_error) SELECT now() - g * interval '1 day', 'CALL_STATUS', 'CALL_STATUS:old-' || g, 's-' || g,"
                " '', '', jsonb_build_object('eventType', 'CALL_STATUS', 'payload', jsonb_build_object('eventId',"
                " 'old-' || g, 'sessionId', 's-' || g)), '', 0, 1, now(), 'processed', 1, ''"
                " FROM generate_series(0, 44) g"
            )
            cursor.execute("SELECT id, dedupe_key FROM webhooks_rawevent ORDER BY id")
            before = cursor.fetchall()
    finally:
        call_command("migrate", verbosity=0)

    assert list(RawEvent.objects.order_by("id").values_list("id", "dedupe_key")) == before
    assert DedupeKey.objects.count() == 45
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM webhooks_rawevent_default")
        assert cursor.fetchone()[0] == 0  # every old day got its own partition
    # A redelivery of a migrated event is a duplicate of it; a new event gets the next id.
    old_44 = before[-1][0]  # generate_series inserted g = 44 last
    again = ingest(b'{"eventType": "CALL_STATUS", "payload": {"eventId": "old-44", "sessionId": "s-44"}}')
    assert (again.status, again.event_id) == ("duplicate", old_44)
    fresh = ingest(b'{"eventType": "CALL_STATUS", "payload": {"eventId": "new", "sessionId": "s-new"}}')
    assert fresh.status == "stored"
    assert fresh.event_id > max(i for i, _ in before)
