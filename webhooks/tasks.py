"""Celery tasks of the receiver. Thin: the classification itself lives in classify/."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from webhooks import enqueue
from webhooks.models import RawEvent

log = logging.getLogger(__name__)


@shared_task(name="webhooks.sweep_pending", ignore_result=True)
def sweep_pending() -> int:
    """Re-enqueue the classifier when rows have stayed pending too long (e.g. Redis was down).

    Returns how many stale pending rows were seen (capped at 10,000). It only publishes
    ``classify.process_pending``, which drains every pending row; it classifies nothing itself.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SIPDESK_SWEEP_AFTER_SECONDS)
    # Capped count: the answer only needs to be "some", and a huge backlog must not make this slow.
    stale = RawEvent.objects.pending().filter(received_at__lt=cutoff).values("id")[:10000].count()
    if stale:
        log.info("%d events pending for over %ss; enqueueing %s", stale, settings.SIPDESK_SWEEP_AFTER_SECONDS,
                 enqueue.PROCESS_PENDING)  # fmt: skip
        enqueue.publish()
    return stale
