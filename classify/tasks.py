"""Celery tasks: thin wrappers that carry no payloads and call ``classify.pipeline``.

The state lives on the rows (RawEvent.state), so a task message is only a nudge: "drain the
backlog". Losing one is harmless (the receiver's sweep re-nudges); running two is harmless
(``SKIP LOCKED`` hands them different rows).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from classify import pipeline, rollups
from classify.models import BucketSize, Session

log = logging.getLogger(__name__)

DRAIN_BUDGET_SECONDS = 20.0  # then hand the rest to a fresh task so other tasks get a turn
TRANSIENT = (OperationalError, InterfaceError)  # deadlock, lost connection, DB restarting


@shared_task(
    name="classify.process_pending",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=20,
    ignore_result=True,
)
def process_pending() -> int:
    """Drain pending events batch by batch until none are left or the time budget is spent."""
    started = time.monotonic()
    total = 0
    while True:
        taken = pipeline.process_pending()
        total += taken
        if taken == 0:
            return total
        if time.monotonic() - started > DRAIN_BUDGET_SECONDS:
            process_pending.delay()  # more work remains: continue in a new task
            return total


def flag_missing_summary_sessions(now=None) -> int:
    """Give ``missing_summary`` to sessions whose last event is older than the configured wait
    and whose VSS has not arrived. (The pipeline drops the flag when the VSS arrives.)"""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.SIPDESK_MISSING_SUMMARY_MINUTES)
    flagged = []
    with transaction.atomic():
        candidates = (
            Session.objects.select_for_update(skip_locked=True)
            .filter(summary_received=False, last_event_at__lt=cutoff)
            .only("id", "anomalies")
        )
        for session in candidates:
            if "missing_summary" not in session.anomalies:
                session.anomalies = sorted([*session.anomalies, "missing_summary"])
                session.updated_at = now
                flagged.append(session)
        Session.objects.bulk_update(flagged, ["anomalies", "updated_at"], batch_size=1000)
    return len(flagged)


@shared_task(name="classify.flag_missing_summaries", autoretry_for=TRANSIENT, retry_backoff=True, retry_jitter=True)
def flag_missing_summaries() -> int:
    return flag_missing_summary_sessions()


@shared_task(name="classify.maintain_rollups", autoretry_for=TRANSIENT, retry_backoff=True, retry_jitter=True)
def maintain_rollups() -> None:
    """Drop minute rollups past their retention (hours keep the history) and rewrite the last
    hour's buckets from the source tables, as a safety net."""
    now = timezone.now()
    with transaction.atomic():
        rollups.drop_expired_minutes(now)
        start = rollups.floor(now - timedelta(hours=1), BucketSize.MINUTE)
        minutes = {start + timedelta(minutes=i) for i in range(62)}
        rollups.recompute(minutes, minutes, now=now, rebuild_hours=True)
