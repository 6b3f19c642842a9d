"""Beat entry point of the retention job (the command purge_old_events runs the same)."""

from __future__ import annotations

import logging

from celery import shared_task

from retention.purge import purge

log = logging.getLogger(__name__)


@shared_task(name="retention.purge", ignore_result=True)
def purge_old_events() -> dict[str, int]:
    report = purge()
    log.info("retention: %s", report.summary())
    return report.totals()
