"""Raw webhook events exactly as 8x8 delivered them, plus receiver tallies.

A RawEvent is append-only: after insert only its processing state (state, attempts,
last_error, processed_at) and its delivery count change. The body is the source of truth
that classification can always be re-run from.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.db import fetch_prepared


class EventType(models.TextChoices):
    SESSION_SUMMARY = "SESSION_SUMMARY", "Voice Session Summary (VSS)"
    CALL_STATUS = "CALL_STATUS", "Voice Call Status (VCS)"
    CALL_ACTION = "CALL_ACTION", "Voice Call Action (VCA)"
    CALL_RECORDING_STATUS = "CALL_RECORDING_STATUS", "Voice Recording Uploaded (VRU)"
    VIRTUAL_NUMBER_UPDATE = "VIRTUAL_NUMBER_UPDATE", "Virtual Number Updated (VNU)"
    UNKNOWN = "UNKNOWN", "Unknown"


class EventState(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class RawEventQuerySet(models.QuerySet["RawEvent"]):
    def pending(self) -> RawEventQuerySet:
        """Events waiting for classification (the partial index rawevent_pending_idx)."""
        return self.filter(state=EventState.PENDING)

    def unprocessed_of_session(self, session_id: str) -> RawEventQuerySet:
        """A session's events not classified yet (pending, failed), found through the partial
        index rawevent_unprocessed_idx by a statement prepared once per connection
        (config/db.py): planned over every day partition on each call, the lookup cost ~4 ms,
        and on most sessions it finds nothing. The events found are then read from their own
        partitions only."""
        found = fetch_prepared(_UNPROCESSED_OF_SESSION, [session_id], types=["text"])
        if not found:
            return self.none()
        return self.filter(id__in=[event_id for event_id, _ in found], received_at__in={at for _, at in found})


class RawEvent(models.Model):
    """Partitioned by day of ``received_at`` (webhooks/partitions.py); the table's primary key is
    (id, received_at), ``id`` alone is unique (one sequence) and is the ORM's primary key."""

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    # "<eventType>:<eventId>" (VCS/VCA), "SESSION_SUMMARY:<sessionId>:<body digest>" (VSS) or
    # "sha256:<hex>" of the canonical body: see webhooks.ingest.dedupe_key. Unique through
    # DedupeKey (a partitioned table cannot hold a unique index without the partition key).
    dedupe_key = models.CharField(max_length=200)
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    call_id = models.CharField(max_length=64, blank=True)
    sub_account_id = models.CharField(max_length=64, blank=True)
    body = models.JSONField()
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    content_length = models.PositiveIntegerField(default=0)
    # How many times 8x8 delivered this same event (1 = no duplicates).
    deliveries = models.PositiveIntegerField(default=1)
    last_delivered_at = models.DateTimeField(default=timezone.now)

    state = models.CharField(max_length=16, choices=EventState.choices, default=EventState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = RawEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The classifier's and the sweep's work queue: small, because processed rows leave it.
            models.Index(fields=["id"], condition=Q(state="pending"), name="rawevent_pending_idx"),
            models.Index(fields=["received_at"], condition=Q(state="failed"), name="rawevent_failed_idx"),
            # A session's events not classified yet (pending, failed): what the session page reads
            # beside the day partitions of its classified ones, in a few hot pages of each
            # partition (migration 0005).
            models.Index(fields=["session_id"], condition=~Q(state="processed"), name="rawevent_unprocessed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.dedupe_key}"


# The partial index's condition as the model writes it (``~Q(state="processed")``), so the
# planner can use the index.
_UNPROCESSED_OF_SESSION = (
    f"SELECT id, received_at FROM {RawEvent._meta.db_table}"  # noqa: S608 - model metadata only
    f" WHERE session_id = $1 AND NOT (state = '{EventState.PROCESSED.value}')"
)


class DedupeKey(models.Model):
    """One row per dedupe key ever stored (and not yet expired): what makes dedupe exact across
    raw partitions. Written only by the trigger on webhooks_rawevent (migration 0003), in the
    statement that stores the raw row; kept as long as sessions (retention/purge.py), so a
    redelivery of an event whose raw partition was dropped is still a duplicate."""

    dedupe_key = models.CharField(max_length=200, primary_key=True)
    event_id = models.BigIntegerField()  # the RawEvent it was stored as ...
    received_at = models.DateTimeField(db_index=True)  # ... and its partition key

    def __str__(self) -> str:
        return self.dedupe_key


class DeferredRepeat(models.Model):
    """Repeat deliveries of an event whose raw row was locked when they arrived (a worker was
    classifying it): counted here at once instead of waiting for the worker's batch to commit, and
    added to the row's ``deliveries`` by a later classification batch (webhooks.ingest.FOLD_SQL;
    docs/design.md §3.3). Usually empty: rows live for about one batch."""

    event_id = models.BigIntegerField()  # the RawEvent repeated ...
    event_received_at = models.DateTimeField()  # ... and its partition key
    repeats = models.PositiveIntegerField()
    delivered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"event {self.event_id} +{self.repeats}"


class ReceiverTally(models.Model):
    """Per-minute counts of what the receiver did that is not a stored event.

    ``outcome`` is "duplicate" or "refused"; ``reason`` says why (e.g. "unauthorized",
    "invalid_json"). Kept in PostgreSQL so the dashboard's health strip and /metrics survive
    restarts and agree across web workers.
    """

    minute = models.DateTimeField()
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=40, blank=True)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["minute", "outcome", "reason"], name="unique_receiver_tally"),
        ]
        indexes = [models.Index(fields=["minute"], name="receivertally_minute_idx")]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.outcome} {self.reason} ×{self.count}"
