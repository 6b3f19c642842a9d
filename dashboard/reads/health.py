"""Is sipdesk receiving and classifying? The overview's health strip, ``/healthz`` and the gauges
``/metrics`` reads at scrape time (config/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from classify.models import OutcomeGroup, Session
from config.db import fetch_one_prepared
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


# One statement for the strip's figures: it is on every overview load, and six ORM queries
# spent more time being built than being run (~1 ms each on the 2-core machine).
_STRIP_SQL = f"""
SELECT (SELECT max(received_at) FROM {DedupeKey._meta.db_table}),
       (SELECT count(*) FROM {RawEvent._meta.db_table}
         WHERE state = %(failed)s AND received_at >= %(since)s AND received_at < %(until)s),
       (SELECT coalesce(json_agg(json_build_array(outcome, reason, n)), '[]')
          FROM (SELECT outcome, reason, sum(count) AS n FROM {ReceiverTally._meta.db_table}
                WHERE minute >= %(minute)s AND minute < %(until)s GROUP BY 1, 2) tallies)
"""  # noqa: S608 - model metadata only


def receiver_health(window: Window) -> Health:
    """The strip's figures: failed events and the receiver's tallies of the window (a range in the
    past counts only its own), the backlog and the last event as they are now. The last event is
    the newest dedupe key (webhooks/models.py DedupeKey: every stored event's key is written with
    it), one index lookup, where the raw table's newest row is a look into each day partition."""
    with connection.cursor() as cursor:
        cursor.execute(
            _STRIP_SQL,
            {
                "failed": EventState.FAILED.value,
                "since": window.start,
                "until": window.end,
                "minute": window.start.replace(second=0, microsecond=0),
            },
        )
        last, failed, tallies = cursor.fetchone()
    backlog = pending_backlog()
    duplicates, refusals = 0, 0
    by_reason: dict[str, int] = {}
    for outcome, reason, n in tallies:
        if outcome == "duplicate":
            duplicates += n
        elif outcome == "refused":
            refusals += n
            by_reason[reason or "unspecified"] = by_reason.get(reason or "unspecified", 0) + n
    return Health(
        last, backlog["pending"], failed, duplicates, refusals, by_reason,
        backlog["oldest_pending_age_seconds"], backlog["pending_age_limit_seconds"], disk.warnings(),
    )  # fmt: skip


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not reachable" for a health probe
        return False, type(exc).__name__


# The backlog's size and its head (the lowest pending id) in one statement, prepared once per
# connection (config/db.py): planning it over every raw partition cost 10× running it.
_BACKLOG_SQL = f"""
SELECT (SELECT count(*) FROM {RawEvent._meta.db_table} WHERE state = '{EventState.PENDING.value}'), head.*
FROM (SELECT 1) one
LEFT JOIN LATERAL (SELECT received_at, last_delivered_at, processed_at FROM {RawEvent._meta.db_table}
                   WHERE state = '{EventState.PENDING.value}' ORDER BY id LIMIT 1) head ON true
"""  # noqa: S608 - model metadata and a constant only


def pending_backlog() -> dict[str, Any]:
    """How many events wait for classification, and how long the queue's head has waited.

    The head is the lowest pending id, the one the classifier claims first (one row from the
    partial index rawevent_pending_idx, however long the queue). It has waited since it was
    received or, when a repeat delivery sent a classified event back (processed_at set), since
    that delivery: an old event re-sent today is not a stuck queue.
    """
    pending, received_at, last_delivered_at, processed_at = fetch_one_prepared(_BACKLOG_SQL)
    age = 0.0
    if received_at is not None:
        since = last_delivered_at if processed_at else received_at
        age = max(0.0, round((timezone.now() - since).total_seconds(), 3))
    return {
        "pending": pending,
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
