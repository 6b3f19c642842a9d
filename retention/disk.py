"""The disk guard: warnings for the health strip and /healthz, from a few cheap reads.

Rules (README "Retention"):
- free space: when the database's data directory is visible from this process (a local
  server and a role that may read ``data_directory``), less than SIPDESK_DISK_MIN_FREE_PERCENT
  free on its file system warns. A remote database's disk is not visible: nothing is claimed.
- retention not keeping up: a raw partition older than SIPDESK_RAW_RETENTION_DAYS + 2 days
  (the hourly job should have dropped it), or rows in the DEFAULT partition (outside every day
  partition), warns.
- growth: the retention job samples pg_database_size once a day (SizeSample). Once raw
  retention is in steady state (the oldest raw partition is at the retention horizon), raw
  data is flat, so the database should grow only by sessions and rollups: more than
  GROWTH_WARN_PERCENT in GROWTH_DAYS days warns.
Each read is a catalogue lookup or a one-row query: no table is scanned.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from retention.models import SizeSample
from webhooks import partitions

GROWTH_DAYS = 7
GROWTH_WARN_PERCENT = 10


def record_size(today: date | None = None) -> SizeSample:
    today = today or timezone.now().astimezone(UTC).date()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (db_bytes,) = cursor.fetchone()
    raw_bytes = sum(p.bytes for p in partitions.day_partitions())
    sample, _ = SizeSample.objects.update_or_create(
        day=today, defaults={"database_bytes": db_bytes, "raw_bytes": raw_bytes}
    )
    return sample


def free_space() -> tuple[int, int] | None:
    """(free, total) bytes of the data directory's file system, or None when not visible."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('data_directory', true)")
            (data_dir,) = cursor.fetchone()
    except DatabaseError:
        return None
    if not data_dir:
        return None
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:  # another machine's path, or not ours to read
        return None
    return usage.free, usage.total


def warnings() -> list[str]:
    found: list[str] = []
    space = free_space()
    if space is not None:
        free, total = space
        if total and free * 100 / total < settings.SIPDESK_DISK_MIN_FREE_PERCENT:
            found.append(f"disk {free * 100 / total:.0f}% free ({free / 1e9:.1f} GB) on the database's volume")
    today = timezone.now().astimezone(UTC).date()
    days = partitions.day_partitions()
    raw_days = settings.SIPDESK_RAW_RETENTION_DAYS
    if days and days[0].day < today - timedelta(days=raw_days + 2):
        found.append(f"raw events from {days[0].day} are still stored: the retention job is not running")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {partitions.DEFAULT_PARTITION})")  # noqa: S608
        if cursor.fetchone()[0]:
            found.append("raw events outside every day partition: the retention job is not running")
    steady = bool(days) and days[0].day <= today - timedelta(days=raw_days)
    samples = list(SizeSample.objects.filter(day__gte=today - timedelta(days=GROWTH_DAYS)).order_by("day"))
    if steady and len(samples) >= 2 and samples[0].day <= today - timedelta(days=GROWTH_DAYS - 1):
        first, last = samples[0].database_bytes, samples[-1].database_bytes
        growth = (last - first) * 100 / first if first else 0
        if growth > GROWTH_WARN_PERCENT:
            found.append(
                f"database grew {growth:.0f}% in {(samples[-1].day - samples[0].day).days} days"
                f" with raw retention steady at {raw_days} days"
            )
    return found
