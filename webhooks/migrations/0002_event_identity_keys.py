"""Dedupe keys that tell events apart by kind, and summaries by content (issue 10).

Before: a VCS/VCA key was the bare eventId, so a CALL_STATUS and a CALL_ACTION with one eventId
collided; a VSS key was ``SESSION_SUMMARY:<sessionId>``, so a revised summary was dropped. After
(webhooks.ingest.dedupe_key): ``<eventType>:<eventId>`` and ``SESSION_SUMMARY:<sessionId>:<digest>``.

Only keys change: every row is kept, none is added. Old keys cannot collide with each other in
the new form (the prefix/suffix is a function of the row), and a new key that an unrelated row
already holds (or one that would not fit the column) is replaced by the body's hash, as the
receiver does for an id too long to key on.
"""

from __future__ import annotations

import hashlib
import json

from django.db import migrations

KEY_MAX = 200
DIGEST_CHARS = 32  # webhooks.ingest.SUMMARY_DIGEST_CHARS at the time of writing
EVENT_ID_KINDS = ("CALL_STATUS", "CALL_ACTION")


def _hash(body) -> str:
    if isinstance(body, str):
        body = json.loads(body)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _rekey(RawEvent, using: str, rows: list[tuple[int, str]]) -> None:
    taken = set(RawEvent.objects.using(using).filter(dedupe_key__in=[k for _, k in rows]).values_list("dedupe_key", flat=True))
    for pk, key in rows:
        if key in taken or len(key) > KEY_MAX:
            key = _hash(RawEvent.objects.using(using).values_list("body", flat=True).get(pk=pk))
            if key in taken:
                continue  # the body's own hash is held too: keep the old key (the row is never lost)
        RawEvent.objects.using(using).filter(pk=pk).update(dedupe_key=key)
        taken.add(key)


def forwards(apps, schema_editor) -> None:
    RawEvent = apps.get_model("webhooks", "RawEvent")
    using = schema_editor.connection.alias
    old_event_ids = (
        RawEvent.objects.using(using)
        .filter(event_type__in=EVENT_ID_KINDS)
        .exclude(dedupe_key__startswith="sha256:")
        .exclude(dedupe_key__startswith="CALL_STATUS:")
        .exclude(dedupe_key__startswith="CALL_ACTION:")
    )
    batch: list[tuple[int, str]] = []
    for pk, kind, key in old_event_ids.values_list("pk", "event_type", "dedupe_key").iterator(chunk_size=2000):
        batch.append((pk, f"{kind}:{key}"))
        if len(batch) >= 2000:
            _rekey(RawEvent, using, batch)
            batch = []
    _rekey(RawEvent, using, batch)

    # Old summary keys are exactly "SESSION_SUMMARY:<sessionId>" (no second colon after the id).
    summaries = RawEvent.objects.using(using).filter(event_type="SESSION_SUMMARY", dedupe_key__startswith="SESSION_SUMMARY:")
    batch = []
    for pk, key, body in summaries.values_list("pk", "dedupe_key", "body").iterator(chunk_size=500):
        session_id = key.removeprefix("SESSION_SUMMARY:")
        if ":" in session_id:
            continue  # already in the new form
        batch.append((pk, f"{key}:{_hash(body).removeprefix('sha256:')[:DIGEST_CHARS]}"))
        if len(batch) >= 500:
            _rekey(RawEvent, using, batch)
            batch = []
    _rekey(RawEvent, using, batch)


def backwards(apps, schema_editor) -> None:
    """Strip the kind prefix and the digest again where that does not collide (the first row wins)."""
    RawEvent = apps.get_model("webhooks", "RawEvent")
    using = schema_editor.connection.alias
    rows = []
    for pk, kind, key in (
        RawEvent.objects.using(using)
        .filter(event_type__in=(*EVENT_ID_KINDS, "SESSION_SUMMARY"))
        .order_by("pk")
        .values_list("pk", "event_type", "dedupe_key")
    ):
        if kind in EVENT_ID_KINDS and key.startswith(f"{kind}:"):
            rows.append((pk, key.removeprefix(f"{kind}:")))
        elif kind == "SESSION_SUMMARY" and key.startswith("SESSION_SUMMARY:") and key.count(":") >= 2:
            rows.append((pk, key.rsplit(":", 1)[0]))
    taken = set(RawEvent.objects.using(using).values_list("dedupe_key", flat=True))
    for pk, key in rows:
        if key not in taken:
            RawEvent.objects.using(using).filter(pk=pk).update(dedupe_key=key)
            taken.add(key)


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
