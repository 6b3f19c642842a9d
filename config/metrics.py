"""Every Prometheus metric sipdesk exports, in one place (prometheus_client).

Counters and histograms are incremented by the code paths that do the work (the receivers, the
classifier), never counted from rows: a purge that drops millions of raw rows does not move a
counter backwards. Gauges (the backlog and its age) are read at scrape time by
``scrape_collector`` from queries whose cost does not grow with the tables.

Several processes (gunicorn workers, Celery's pool, the receiver's workers) each count their
own (prometheus_client's multiprocess mode): every process writes its values to files in
PROMETHEUS_MULTIPROC_DIR, named by process id, and /metrics sums them; config/gunicorn.py marks
exited workers dead. Process ids are only unique within one container, so with
SIPDESK_METRICS_DIR set (a volume shared by the receiver, web and worker containers) each
container writes to a subdirectory named by its host name and /metrics sums them all. Without
either, /metrics shows this process's own values (development, tests).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Before prometheus_client is imported: it picks its storage (memory or files) at import time.
if os.environ.get("SIPDESK_METRICS_DIR") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own = Path(os.environ["SIPDESK_METRICS_DIR"]) / socket.gethostname()
    _own.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_own)

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

# The _created series double every counter for nothing Prometheus needs.
disable_created_metrics()

RECEIVED = Counter("sipdesk_events_received", "Webhook deliveries received (stored + duplicate + refused).")
STORED = Counter("sipdesk_events_stored", "Raw events stored (first delivery of an event).")
DUPLICATE = Counter("sipdesk_events_duplicate", "Repeated deliveries answered 200 without storing.")
DEFERRED = Counter(
    "sipdesk_events_duplicate_deferred",
    "Repeated deliveries whose count waits for a later batch: a worker held their row (webhooks.ingest.BUMP_SQL).",
)
REFUSED = Counter("sipdesk_events_refused", "Deliveries refused, by reason.", ["reason"])
CLASSIFIED = Counter("sipdesk_events_processed", "Raw events classified.")
FAILED = Counter("sipdesk_events_failed", "Raw events that could not be classified.")

REQUEST_SECONDS = Histogram(
    "sipdesk_webhook_request_seconds",
    "Time from a webhook request's start to its answer (stored, duplicate or refused).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "sipdesk_group_commit_batch_size",
    "Webhooks stored by one group-commit INSERT (webhooks/group_commit.py).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
CLASSIFY_SECONDS = Histogram(
    "sipdesk_classification_batch_seconds",
    "Time to classify one batch of pending events, claim to commit.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def count_answer(status: str, reason: str = "") -> None:
    """One webhook answered: "stored", "duplicate" or "refused" (with its reason)."""
    RECEIVED.inc()
    if status == "stored":
        STORED.inc()
    elif status == "duplicate":
        DUPLICATE.inc()
    else:
        REFUSED.labels(reason or "unspecified").inc()


class _ScrapeGauges(Collector):
    """The backlog, its age and the sessions in progress, read at scrape time."""

    def collect(self) -> Iterator[Any]:
        from dashboard.reads import health  # Django is ready by the time anyone scrapes

        m = health.metrics_gauges()
        pending = GaugeMetricFamily("sipdesk_events_pending", "Raw events waiting for classification.")
        pending.add_metric([], m["pending"])
        lag = GaugeMetricFamily(
            "sipdesk_classification_lag_seconds",
            "Age of the oldest pending event (0 when none); alert past SIPDESK_PENDING_AGE_LIMIT_SECONDS.",
        )
        lag.add_metric([], m["lag"])
        in_progress = GaugeMetricFamily("sipdesk_sessions_in_progress", "Sessions without a summary yet.")
        in_progress.add_metric([], m["sessions_in_progress"])
        yield from (pending, lag, in_progress)


class _AllProcesses(Collector):
    """Every process's files: this container's, or every container's under SIPDESK_METRICS_DIR."""

    def collect(self) -> Iterator[Any]:
        shared = os.environ.get("SIPDESK_METRICS_DIR")
        pattern = "*/*.db" if shared else "*.db"
        files = sorted(str(f) for f in Path(shared or os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob(pattern))
        return iter(multiprocess.MultiProcessCollector.merge(files, accumulate=True))


def exposition() -> bytes:
    """The text /metrics answers: every process's counters and histograms, then the gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("SIPDESK_METRICS_DIR"):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_AllProcesses())
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_ScrapeGauges())
    return counted + generate_latest(gauges)
