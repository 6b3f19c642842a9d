"""Celery tasks for incidents: the grouping beat job and large escalation bundles."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from incidents import grouping

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(name="incidents.group_sessions", autoretry_for=TRANSIENT, retry_backoff=True, retry_jitter=True)
def group_sessions() -> int:
    return grouping.run()


@shared_task(name="incidents.build_bundle", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def build_bundle(job_id: int) -> None:
    from incidents import bundle

    bundle.build_job(job_id)
