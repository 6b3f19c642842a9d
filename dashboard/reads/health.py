"""Is sipdesk receiving and classifying? The overview's health strip, ``/healthz`` and the gauges
``/metrics`` reads at scrape time (config/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from classify.models import OutcomeGroup, Session
from dashboard.timerange import Window
from retention import disk
from webhooks.models import DedupeKey, EventState, RawEvent, ReceiverTally


@dataclass
class Health:
    last_event_at: datetime | None
    pending: int
    failed: int
    duplicates: int
    refusals: int
    refusals_by_reason: dict[str, int]
    oldest_pending_age_seconds: float = 0.0
    pending_age_limit_seconds: int = 0
    disk_warnings: list[str] = field(default_factory=list)  # retention/disk.py

    @property
    def queue_stuck(self) -> bool:
        return self.oldest_pending_age_seconds > self.pending_age_limit_seconds


def receiver_health(window: Window) -> Health:
    # Every stored event's key is written with it (webhooks/models.py DedupeKey): its newest time
    # is one index lookup, where the raw table's newest row is a look into each day partition.
    last = DedupeKey.objects.order_by("-received_at").values_list("received_at", flat=True).first()
    backlog = pending_backlog()
    pending = backlog["pending"]
    failed = RawEvent.objects.filter(state=EventState.FAILED, received_at__gte=window.start).count()
    tallies = ReceiverTally.objects.filter(minute__gte=window.start.replace(second=0, microsecond=0)).values(
        "outcome", "reason"
    )
    duplicates, refusals = 0, 0
    by_reason: dict[str, int] = {}
    for row in tallies.annotate(n=Sum("count")):
        if row["outcome"] == "duplicate":
            duplicates += row["n"]
        elif row["outcome"] == "refused":
            refusals += row["n"]
            by_reason[row["reason"] or "unspecified"] = by_reason.get(row["reason"] or "unspecified", 0) + row["n"]
    return Health(
        last, pending, failed, duplicates, refusals, by_reason,
        backlog["oldest_pending_age_seconds"], backlog["pending_age_limit_seconds"], disk.warnings(),
    )  # fmt: skip


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not reachable" for a health probe
        return False, type(exc).__name__


def pending_backlog() -> dict[str, Any]:
    """How many events wait for classification, and how long the queue's head has waited.

    The head is the lowest pending id, the one the classifier claims first (one row from the
    partial index rawevent_pending_idx, however long the queue). It has waited since it was
    received or, when a repeat delivery sent a classified event back (processed_at set), since
    that delivery: an old event re-sent today is not a stuck queue.
    """
    pending = RawEvent.objects.pending()
    head = pending.order_by("id").values_list("received_at", "last_delivered_at", "processed_at").first()
    age = 0.0
    if head:
        received_at, last_delivered_at, processed_at = head
        since = last_delivered_at if processed_at else received_at
        age = max(0.0, round((timezone.now() - since).total_seconds(), 3))
    return {
        "pending": pending.count(),
        "oldest_pending_age_seconds": age,
        "pending_age_limit_seconds": settings.SIPDESK_PENDING_AGE_LIMIT_SECONDS,
    }


def metrics_gauges() -> dict[str, Any]:
    """The gauges /metrics reads at scrape time (config/metrics.py). Each is an index lookup whose
    cost follows the backlog or the calls in progress, never the size of the tables; the counters
    are kept by the code paths themselves."""
    backlog = pending_backlog()
    return {
        "pending": backlog["pending"],
        "lag": backlog["oldest_pending_age_seconds"],
        "sessions_in_progress": Session.objects.filter(outcome_group=OutcomeGroup.IN_PROGRESS).count(),
    }
