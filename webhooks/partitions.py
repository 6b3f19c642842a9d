"""Daily range partitions of the raw event table (``RawEvent``, by ``received_at``, UTC days).

Raw bodies are the bulk of the database; keeping them for SIPDESK_RAW_RETENTION_DAYS means
dropping whole days. A dropped partition is a file unlinked: no dead rows, no VACUUM, no
bloat, however many millions of rows it held. Partitions are created ``AHEAD_DAYS`` ahead by
the beat job (retention/tasks.py) and on migrate, and a DEFAULT partition catches anything
outside them (a clock far off, an import of old files) so an insert never fails for lack of a
partition. The job keeps the DEFAULT partition empty by moving what it holds into day
partitions (or dropping it when already expired).

Dedupe across partitions: a unique index on a partitioned table must include the partition key,
so ``dedupe_key`` cannot be unique on the table itself. The small ``DedupeKey`` table
holds one row per key (its primary key decides duplicates, exactly, as the old unique
constraint did) and a BEFORE INSERT trigger (migration 0003) claims the key in the same
statement as the raw row: a row whose key is taken is skipped, so ``INSERT … RETURNING`` returns
only the rows stored, for every writer (receiver, group commit, COPY, the ORM). Deleting a row
frees its key; dropping a partition does not (no row trigger fires), so keys outlive payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from webhooks.models import DedupeKey, RawEvent

# The parent table's name, from the model; each day partition is named after it.
TABLE = RawEvent._meta.db_table
_KEYS = DedupeKey._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
AHEAD_DAYS = 7  # days of partitions created ahead of today: a week of beat outages is survived
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    day: date
    bytes: int  # heap + indexes + TOAST


def day_partitions() -> list[Partition]:
    """The table's day partitions, oldest first (the DEFAULT partition is not one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    found = []
    for name, size in rows:
        match = _NAME.match(name)
        if match:
            found.append(Partition(name, date.fromisoformat(match.group(1)), size))
    return sorted(found, key=lambda p: p.day)


def ensure_partitions(first: date, last: date) -> list[str]:
    """Create the day partitions of [first, last] that are missing; returns their names.

    Rows the DEFAULT partition holds for such a day are moved into the new partition (PostgreSQL
    refuses to create a partition whose rows sit in the DEFAULT one).
    """
    existing = {p.day for p in day_partitions()}
    created = []
    day = first
    while day <= last:
        if day not in existing:
            _create_partition(day)
            created.append(partition_name(day))
        day += timedelta(days=1)
    return created


def _create_partition(day: date) -> None:
    name = connection.ops.quote_name(partition_name(day))
    start, end = day_bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        # A standalone table filled from the DEFAULT partition, then attached: ATTACH checks the
        # DEFAULT partition no longer holds rows of this day. The lock keeps inserts of this day
        # waiting (briefly) rather than landing in the DEFAULT partition meanwhile.
        cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE received_at >= %s AND received_at < %s"  # noqa: S608
            f" RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        # The DELETE released the moved rows' keys (the trigger); they are the same events still.
        cursor.execute(
            f"INSERT INTO {_KEYS} (dedupe_key, event_id, received_at)"  # noqa: S608
            f" SELECT dedupe_key, id, received_at FROM {name} ON CONFLICT (dedupe_key) DO NOTHING"
        )
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])


def ensure_ahead(today: date | None = None) -> list[str]:
    """Today's partition and AHEAD_DAYS more, plus a partition for every day the DEFAULT holds."""
    today = today or datetime.now(UTC).date()
    created = ensure_partitions(today, today + timedelta(days=AHEAD_DAYS))
    for day in stray_days():
        created += ensure_partitions(day, day)
    return created


def stray_days() -> list[date]:
    """UTC days of the rows in the DEFAULT partition (kept empty, so this reads nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION} ORDER BY 1"  # noqa: S608
        )
        return [row[0] for row in cursor.fetchall()]


def drop_partition(partition: Partition) -> None:
    with connection.cursor() as cursor:
        # DETACH first: DROP of an attached partition locks the parent for the drop's duration.
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {connection.ops.quote_name(partition.name)}")
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(partition.name)}")
