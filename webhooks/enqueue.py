"""Ask the classifier to drain pending events, by task NAME (webhooks never imports classify).

A request only raises a flag (after its row committed); one background thread per process
publishes ``classify.process_pending`` when the flag is up, at most every
``MIN_INTERVAL`` seconds. The classifier drains *all* pending rows, so one message per burst
is enough, and because the flag is cleared *before* each publish, a row committed after that
publish raises it again: no event waits for the periodic sweep in normal operation. Broker
latency or an outage therefore never reaches the webhook's response time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings

from config.celery import app as celery_app

log = logging.getLogger(__name__)

PROCESS_PENDING = "classify.process_pending"
# Seconds between publishes from one process: ≤ 5 messages/s per process under any load. Each
# publish costs ~1–1.6 ms of CPU (celery builds a full task message) and competes for the GIL
# with the request threads; at 0.05 s (20/s per process) the publisher threads took ~4 % of the
# 2-CPU machine during bench/ingest.py. One message drains every pending row, so 0.2 s adds at
# most 0.2 s of classification lag (docs/design.md §11 allows 2 s end to end).
MIN_INTERVAL = 0.2
_WARN_EVERY = 30.0  # seconds between "broker down" warnings, so an outage does not flood the log

_wake = threading.Event()
_lock = threading.Lock()
_thread_pid: int | None = None
_last_warning = 0.0


_publish_lock = threading.Lock()
_connection: tuple[str, Any] | None = None


def _close() -> None:
    global _connection
    if _connection is not None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail too; it is gone anyway
            _connection[1].release()
        _connection = None


def publish() -> bool:
    """Publish one ``classify.process_pending`` now. False (and a warning) if the broker is down."""
    global _last_warning
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # `make run` without Redis: run the drain in-process (send_task ignores eager mode).
        try:
            # Task modules are only imported when a worker starts; in-process we ask for them.
            celery_app.loader.import_default_modules()
            celery_app.tasks[PROCESS_PENDING].apply()
        except Exception:
            log.exception("in-process %s failed; rows stay pending", PROCESS_PENDING)
            return False
        return True
    global _connection
    try:
        with _publish_lock:
            # One broker connection per process, opened from the *current* settings and dropped on
            # any error, so a Redis restart costs one failed publish, never a retry loop
            # (retry=False + the transport's max_retries 0).
            url = settings.CELERY_BROKER_URL
            if _connection is None or _connection[0] != url:
                _close()
                _connection = (url, celery_app.connection_for_write(url))
            celery_app.send_task(PROCESS_PENDING, connection=_connection[1], retry=False)
    except Exception as exc:  # kombu/redis raise many types; every one means "not published"
        with _publish_lock:
            _close()
        now = time.monotonic()
        if now - _last_warning > _WARN_EVERY:
            _last_warning = now
            log.warning(
                "could not publish %s (broker down?): %s; rows stay pending for the sweep", PROCESS_PENDING, exc
            )
        return False
    return True


_idle = threading.Event()
_idle.set()


def _run() -> None:
    while True:
        _wake.wait()
        _idle.clear()
        _wake.clear()
        publish()
        time.sleep(MIN_INTERVAL)
        if not _wake.is_set():
            _idle.set()


def _ensure_thread() -> None:
    global _thread_pid
    pid = os.getpid()
    if _thread_pid == pid:
        return
    with _lock:
        if _thread_pid != pid:  # first call in this (possibly forked) process
            threading.Thread(target=_run, name="sipdesk-enqueue", daemon=True).start()
            _thread_pid = pid


def request_processing() -> None:
    """Called from ``transaction.on_commit`` after a RawEvent was stored."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        publish()
        return
    _ensure_thread()
    _idle.clear()
    _wake.set()


def flush() -> bool:
    """Publish synchronously if a request is outstanding (for short-lived commands before exit)."""
    if _wake.is_set():
        _wake.clear()
        return publish()
    return True


def wait_idle(timeout: float = 10.0) -> bool:
    """Block until every requested publish has been attempted (tests and shutdown use this)."""
    return _idle.wait(timeout)
