"""Event identity (issue 10): dedupe keys by kind and by summary content, and their migration."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from webhooks.ingest import canonical_hash, describe
from webhooks.models import RawEvent
from webhooks.tests.conftest import fixture_json

SESSION = "a089b40d-f059-11f0-8937-99c7872ee3c4"


def _insert_old(kind: str, key: str, body: dict, session_id: str = "") -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO webhooks_rawevent (received_at, event_type, dedupe_key, session_id, call_id, sub_account_id,"
            " body, user_agent, content_length, deliveries, last_delivered_at, state, attempts, last_error)"
            " VALUES (now(), %s, %s, %s, '', '', %s::jsonb, '', 0, 1, now(), 'processed', 1, '') RETURNING id",
            [kind, key, session_id, json.dumps(body)],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_migration_rewrites_old_keys_without_losing_or_duplicating_rows():
    call_command("migrate", "webhooks", "0001", verbosity=0)
    try:
        vcs, vca, vss = (
            fixture_json("vcs_2026"),
            fixture_json("vca_same_event_id_as_vcs_2026"),
            fixture_json("vss_ivr_completed"),
        )
        event_id = vcs["payload"]["eventId"]
        ids = {
            "vcs": _insert_old("CALL_STATUS", event_id, vcs),
            # Under the old keys the CALL_ACTION with the same eventId could not be stored; an
            # older action keyed by its own eventId stands in for it.
            "vca": _insert_old("CALL_ACTION", "another-event-id", vca),
            "vss": _insert_old("SESSION_SUMMARY", f"SESSION_SUMMARY:{SESSION}", vss, SESSION),
            "hashed": _insert_old("UNKNOWN", "sha256:abc", {"x": 1}),
        }
        before = RawEvent.objects.count()
    finally:
        call_command("migrate", verbosity=0)

    keys = dict(RawEvent.objects.values_list("id", "dedupe_key"))
    assert RawEvent.objects.count() == before == 4
    assert keys[ids["vcs"]] == f"CALL_STATUS:{event_id}"
    assert keys[ids["vca"]] == "CALL_ACTION:another-event-id"
    assert keys[ids["vss"]] == describe(vss)[1]  # what the receiver computes for it today
    assert keys[ids["vss"]] == f"SESSION_SUMMARY:{SESSION}:{canonical_hash(vss)[7:39]}"
    assert keys[ids["hashed"]] == "sha256:abc"

    # So a redelivery of the migrated summary is still a duplicate, and the action now fits beside the status.
    from webhooks.ingest import ingest

    assert ingest(json.dumps(vss).encode()).status == "duplicate"
    assert ingest(json.dumps(vca).encode()).status == "stored"
