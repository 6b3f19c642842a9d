"""The retention job: what beat runs hourly and ``manage.py purge_old_events`` runs on demand.

- raw events: day partitions (webhooks/partitions.py) whose whole day is older than
  SIPDESK_RAW_RETENTION_DAYS are DROPPED (a file unlinked: no dead rows, no VACUUM);
  partitions for the coming week are created first.
- sessions, their legs and classifications older than SIPDESK_SESSION_RETENTION_DAYS (by
  start time) are DELETEd in batches of BATCH rows, each batch its own short transaction;
  classifications without a session go by their event's id.
- dedupe keys are kept as long as sessions (at least as long as raw events), so a redelivery of
  an event whose payload has expired is still a duplicate and cannot re-derive a session from
  a partial set of events.
- deferred repeat counts (webhooks.models.DeferredRepeat) whose raw row went with its partition
  are deleted: no batch could ever add them.
- hour and day rollups older than SIPDESK_ROLLUP_RETENTION_DAYS (the trend, cut at midnight
  UTC) are deleted the same way.
Every table it deleted rows from is ANALYZEd at the end, so the planner sees the new sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from classify.models import BucketSize, CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from classify.rollups import floor
from config.db import analyze
from webhooks import partitions
from webhooks.models import DedupeKey, DeferredRepeat, RawEvent

BATCH = 5000  # rows per DELETE: a few ms of locks each, however much has expired
# Table names from the models, for the batched DELETEs below (and the report's keys).
_KEYS, _VERDICTS = DedupeKey._meta.db_table, EventClassification._meta.db_table
_SESSIONS, _LEGS = Session._meta.db_table, CallLeg._meta.db_table
_ROLLUPS = (SessionRollup._meta.db_table, CodeRollup._meta.db_table)
_DEFERRED, _RAW = DeferredRepeat._meta.db_table, RawEvent._meta.db_table


@dataclass
class PurgeReport:
    dry_run: bool = False
    created_partitions: list[str] = field(default_factory=list)
    dropped_partitions: list[tuple[str, int]] = field(default_factory=list)  # (name, bytes)
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows
    analyzed: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            "partitions_created": len(self.created_partitions),
            "partitions_dropped": len(self.dropped_partitions),
            **self.deleted,
        }

    def summary(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.totals().items())

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = [f"{verb}create partition {name}" for name in self.created_partitions]
        out += [f"{verb}drop partition {name} ({size / 1e6:.1f} MB)" for name, size in self.dropped_partitions]
        out += [f"{verb}delete {rows} rows from {table}" for table, rows in self.deleted.items()]
        if self.analyzed:
            out.append("analyzed " + ", ".join(self.analyzed))
        return out or ["nothing to remove"]


def cutoffs(now: datetime) -> dict[str, datetime]:
    raw_days = settings.SIPDESK_RAW_RETENTION_DAYS
    session_days = settings.SIPDESK_SESSION_RETENTION_DAYS
    return {
        "raw": now - timedelta(days=raw_days),
        "session": now - timedelta(days=session_days),
        "key": now - timedelta(days=max(raw_days, session_days)),
        # At midnight UTC: hours and days leave together, so a day row never outlives its hours.
        "rollup": floor(now - timedelta(days=settings.SIPDESK_ROLLUP_RETENTION_DAYS), BucketSize.DAY),
    }


def purge(*, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    now = now or timezone.now()
    cut = cutoffs(now)
    report = PurgeReport(dry_run=dry_run)
    today = now.astimezone(UTC).date()

    if dry_run:
        existing = {p.day for p in partitions.day_partitions()}
        report.created_partitions = [
            partitions.partition_name(today + timedelta(days=n))
            for n in range(partitions.AHEAD_DAYS + 1)
            if today + timedelta(days=n) not in existing
        ]
    else:
        report.created_partitions = partitions.ensure_ahead(today)

    # A day partition holds [day, day + 1): it goes once all of it is older than the raw cutoff.
    raw_cut_day = cut["raw"].astimezone(UTC).date()
    for partition in partitions.day_partitions():
        if partition.day + timedelta(days=1) <= raw_cut_day:
            report.dropped_partitions.append((partition.name, partition.bytes))
            if not dry_run:
                partitions.drop_partition(partition)

    _delete_sessions(report, cut["session"], dry_run)
    _delete_batches(
        report, _DEFERRED, "id",
        f"NOT EXISTS (SELECT FROM {_RAW} r WHERE r.id = event_id AND r.received_at = event_received_at)", [], dry_run,
    )  # fmt: skip
    _delete_batches(report, _KEYS, "dedupe_key", "received_at < %s", [cut["key"]], dry_run)
    # Classifications of no session (e.g. a VNU): by event id, which grows with time, below the
    # oldest key kept (ids of expired keys are all smaller, bar generated history's reservations).
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(event_id) FROM {_KEYS} WHERE received_at >= %s", [cut["key"]])  # noqa: S608
        (oldest_kept_id,) = cursor.fetchone()
    if oldest_kept_id is not None:
        _delete_batches(
            report, _VERDICTS, "event_id",
            "session_id IS NULL AND event_id < %s", [oldest_kept_id], dry_run,
        )  # fmt: skip
    for table in _ROLLUPS:
        _delete_batches(
            report, table, "id", "bucket_size IN ('hour', 'day') AND bucket_start < %s", [cut["rollup"]], dry_run
        )

    if not dry_run:
        from retention.disk import record_size  # the disk guard's daily sample

        record_size(today)
        # Not the raw table: dropping a partition leaves the others' statistics as they were, and
        # ANALYZE of the parent would sample every partition, hourly, to no end.
        touched = [t for t, rows in report.deleted.items() if rows]
        analyze(touched)
        report.analyzed = touched
    return report


def _delete_sessions(report: PurgeReport, cutoff: datetime, dry_run: bool) -> None:
    """Sessions started before the cutoff (or, never started, last touched before it), with their
    legs and classifications, BATCH sessions per transaction."""
    expired = (
        f"SELECT id FROM {_SESSIONS} WHERE start_time < %s"  # noqa: S608 - model metadata
        f" UNION ALL SELECT id FROM {_SESSIONS} WHERE start_time IS NULL AND updated_at < %s"
    )
    if dry_run:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({expired}) e", [cutoff, cutoff])  # noqa: S608
            report.deleted[_SESSIONS] = cursor.fetchone()[0]
        return
    totals = {_VERDICTS: 0, _LEGS: 0, _SESSIONS: 0}
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT array_agg(id) FROM ({expired} LIMIT %s) e", [cutoff, cutoff, BATCH])  # noqa: S608
            (ids,) = cursor.fetchone()
            if not ids:
                break
            for table, column in ((_VERDICTS, "session_id"), (_LEGS, "session_id"), (_SESSIONS, "id")):
                cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s::bigint[])", [ids])  # noqa: S608
                totals[table] += cursor.rowcount
        if len(ids) < BATCH:
            break
    for table, rows in totals.items():
        report.deleted[table] = report.deleted.get(table, 0) + rows


def _delete_batches(report: PurgeReport, table: str, key: str, where: str, params: list, dry_run: bool) -> None:
    if dry_run:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)  # noqa: S608
            report.deleted[table] = report.deleted.get(table, 0) + cursor.fetchone()[0]
        return
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {where} LIMIT %s)",  # noqa: S608
                [*params, BATCH],
            )
            total += cursor.rowcount
            if cursor.rowcount < BATCH:
                break
    report.deleted[table] = report.deleted.get(table, 0) + total
