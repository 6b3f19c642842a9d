"""Celery tasks for alerts: evaluate every minute (beat), send each notification once."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from alerts import evaluate, notify

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(name="alerts.evaluate", autoretry_for=TRANSIENT, retry_backoff=True, retry_jitter=True, max_retries=3)
def evaluate_alerts() -> int:
    return len(evaluate.evaluate_all().events)


@shared_task(name="alerts.send", acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=10)
def send(notification_id: int) -> str:
    return notify.send_one(notification_id)


@shared_task(name="alerts.sweep_notifications", autoretry_for=TRANSIENT, retry_backoff=True)
def sweep_notifications() -> int:
    ids = notify.due_ids()
    notify.enqueue(ids)
    return len(ids)
