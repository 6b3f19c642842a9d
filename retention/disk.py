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
from django.db import connection
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


def free_space(data_dir: str | None) -> tuple[int, int] | None:
    """(free, total) bytes of the data directory's file system, or None when not visible."""
    if not data_dir:
        return None  # pg_settings hides it from roles that may not read it
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:  # another machine's path, or not ours to read
        return None
    return usage.free, usage.total


# The data directory only for roles allowed to read it (as pg_settings shows it), without building
# the pg_settings view (~2 ms); the oldest day partition by name among the table's ~40 partitions,
# not by a pattern over every name in pg_class (~2 ms). The overview reads this on every load.
_FACTS_SQL = f"""
SELECT CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE') THEN current_setting('data_directory') END,
       EXISTS (SELECT 1 FROM {partitions.DEFAULT_PARTITION}),
       (SELECT min(name) FROM (SELECT inhrelid::regclass::text AS name FROM pg_inherits
          WHERE inhparent = '{partitions.TABLE}'::regclass) AS p WHERE name ~ '^{partitions.TABLE}_p[0-9]{{8}}$'),
       (SELECT json_agg(json_build_array(day, database_bytes) ORDER BY day)
          FROM {SizeSample._meta.db_table} WHERE day >= %s)
"""  # noqa: S608 - constants only


def warnings() -> list[str]:
    """One query (the health strip is on every overview load)."""
    found: list[str] = []
    today = timezone.now().astimezone(UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL, [today - timedelta(days=GROWTH_DAYS)])
        data_dir, default_has_rows, oldest_partition, samples = cursor.fetchone()
    space = free_space(data_dir)
    if space is not None:
        free, total = space
        if total and free * 100 / total < settings.SIPDESK_DISK_MIN_FREE_PERCENT:
            found.append(f"disk {free * 100 / total:.0f}% free ({free / 1e9:.1f} GB) on the database's volume")
    raw_days = settings.SIPDESK_RAW_RETENTION_DAYS
    oldest = date.fromisoformat(oldest_partition.rsplit("_p", 1)[1]) if oldest_partition else None
    if oldest and oldest < today - timedelta(days=raw_days + 2):
        found.append(f"raw events from {oldest} are still stored: the retention job is not running")
    if default_has_rows:
        found.append("raw events outside every day partition: the retention job is not running")
    steady = oldest is not None and oldest <= today - timedelta(days=raw_days)
    sizes = [(date.fromisoformat(day), size) for day, size in samples or []]
    if steady and len(sizes) >= 2 and sizes[0][0] <= today - timedelta(days=GROWTH_DAYS - 1):
        (first_day, first), (last_day, last) = sizes[0], sizes[-1]
        growth = (last - first) * 100 / first if first else 0
        if growth > GROWTH_WARN_PERCENT:
            found.append(
                f"database grew {growth:.0f}% in {(last_day - first_day).days} days"
                f" with raw retention steady at {raw_days} days"
            )
    return found
