"""A worker killed between "fired" and "sent": the message still goes out, exactly once.

Worker A consumes only a queue of its own, where the test sends the evaluation: it commits the
fired event and its pending notification and is SIGKILLed before anything sends (the send
nudge it queued waits on the default queue). Worker B then takes over the default queue; the
nudge, the sweep and a duplicate nudge all reach it, and the JSON webhook is called once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from alerts.models import Notification
from alerts.tasks import evaluate_alerts, send, sweep_notifications
from conftest import CeleryWorker, purge_test_broker

from .helpers import channel, roll, rule

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


class QueueWorker(CeleryWorker):
    def __init__(self, name: str, queue: str) -> None:
        super().__init__(name)
        self.queue = queue

    def start(self, timeout: float = 60) -> QueueWorker:
        args = [
            "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
            "--without-mingle", f"--hostname={self.name}@%h", "-Q", self.queue,
        ]  # fmt: skip
        self._launch(args, ready=lambda: " ready." in self.log.read_text(), timeout=timeout)
        return self


def wait_for(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_worker_killed_after_the_fire_and_before_the_send_sends_exactly_once(hook_server):
    from django.utils import timezone

    purge_test_broker()
    rule(min_sessions=10, channels=[channel("hook", hook_server.url)])
    now = timezone.now()
    roll(8, "failed", now=now)
    roll(12, "answered", now=now)

    evaluator = QueueWorker("evaluator", "evaluate-only").start()
    try:
        evaluate_alerts.apply_async(queue="evaluate-only")
        wait_for(lambda: Notification.objects.exists())
        wait_for(lambda: "succeeded" in evaluator.log.read_text(), timeout=20)
    finally:
        evaluator.kill()
    [notification] = Notification.objects.all()
    assert notification.status == "pending"
    assert hook_server.received == []

    sender = CeleryWorker("sender").start()
    try:
        send.delay(notification.pk)  # a duplicate nudge, as a retry or a second sweep would give
        Notification.objects.filter(pk=notification.pk).update(created_at=timezone.now() - timedelta(minutes=1))
        sweep_notifications.delay()
        wait_for(lambda: Notification.objects.get().status == "sent")
        time.sleep(2)  # let any duplicate run
    finally:
        sender.stop()
    assert len(hook_server.received) == 1
    assert Notification.objects.get().attempts == 1
