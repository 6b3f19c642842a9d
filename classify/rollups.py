"""Rollups: the one owner of bucket sizes, how long minute buckets are kept, the SQL that
rewrites buckets and which buckets a time window reads (docs/design.md §7).

Three sizes, each the sum of the finer one: minutes (kept ``MINUTE_RETENTION``), hours and UTC
days (kept as long as the trend, retention/purge.py). A window reads the coarsest whole buckets
inside it (``window_filter``): a week of a busy history is ~3.6 times fewer day rows than hour
rows, and the overview reads its window several times.

Writers: the pipeline (``count_batch`` and ``apply_batch`` inside each batch), ``reclassify
--since`` (``count_batch`` of what it deletes), the ``maintain_rollups`` task
(``drop_expired_minutes`` and ``recompute(..., rebuild_hours=True)`` of the last hour) and
``generate_history`` (``MINUTE_RETENTION``). Readers: the dashboard and alerts, through ``window_filter``.
"""

from __future__ import annotations

import functools
import operator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Q, UniqueConstraint
from django.utils import timezone

from classify.models import BucketSize, CallLeg, CodeRollup, EventClassification, Session, SessionRollup

# Minute buckets are kept this long (older ones are deleted by ``drop_expired_minutes``); hours
# older than this are rewritten from the source tables rather than summed from minutes.
MINUTE_RETENTION = timedelta(days=2)
# Pages read minute buckets for windows starting within this span (plus a minute of slack),
# hour buckets otherwise. Shorter than the retention, so a window never reads a deleted minute.
MINUTE_READS_WITHIN = timedelta(hours=24)
ROLLUP_LOCK_KEY = 0x51D0_0001  # pg advisory lock: one rollup change at a time across workers

BUCKET_WIDTH = {
    BucketSize.MINUTE: timedelta(minutes=1),
    BucketSize.HOUR: timedelta(hours=1),
    BucketSize.DAY: timedelta(days=1),
}
# What each size is the sum of.
FINER = {BucketSize.HOUR: BucketSize.MINUTE, BucketSize.DAY: BucketSize.HOUR}


SIZES = (BucketSize.MINUTE, BucketSize.HOUR, BucketSize.DAY)  # finest first


def window_filter(
    start: datetime, end: datetime, *, now: datetime | None = None, resolution: timedelta | None = None
) -> tuple[str, Q]:
    """The finest bucket size a window reads and the filter on a rollup table for it.

    The finest size is minutes while they are kept (windows starting within the last day), else
    hours from the hour holding ``start``. Coarser buckets stand in for the whole hours and whole
    UTC days inside the window, the finer ones covering only its edges: each size is the sum of
    the finer one, so this counts exactly what reading the finest size alone counts, in fewer
    rows (a week of a busy history: ~42,000 hour rows, or ~15,000 rows of days and edge hours).

    ``resolution``: how finely the caller groups the rows by ``bucket_start`` (a chart's bin).
    A coarser size is only read when the resolution is a whole number of its buckets (bins
    start at midnight UTC, dashboard/reads/common.py ``BIN_ORIGIN``), or when it is None."""
    now = now or timezone.now()
    if start >= now - MINUTE_READS_WITHIN - timedelta(minutes=1):
        finest = BucketSize.MINUTE
    else:
        finest, start = BucketSize.HOUR, floor(start, BucketSize.HOUR)
    sizes = [
        size
        for size in SIZES[SIZES.index(finest) :]
        if size == finest or resolution is None or resolution % BUCKET_WIDTH[size] == timedelta(0)
    ]
    return finest.value, _cover(start, end, sizes)


def _cover(start: datetime, end: datetime, sizes: list[BucketSize]) -> Q:
    """Buckets starting in [start, end): of the coarsest size for the whole buckets of it inside,
    of the finer sizes for what is left at either edge."""
    *finer, coarsest = sizes
    if not finer:
        return Q(bucket_size=coarsest.value, bucket_start__gte=start, bucket_start__lt=end)
    first, last = _ceil(start, coarsest), floor(end, coarsest)
    if first >= last:
        return _cover(start, end, finer)
    parts = [Q(bucket_size=coarsest.value, bucket_start__gte=first, bucket_start__lt=last)]
    if start < first:
        parts.insert(0, _cover(start, first, finer))
    if last < end:
        parts.append(_cover(last, end, finer))
    return functools.reduce(operator.or_, parts)


def _ceil(moment: datetime, size: BucketSize) -> datetime:
    """The start of the first ``size`` bucket at or after ``moment`` (the calendar's end when
    there is none: a hostile range can end in year 9999)."""
    down = floor(moment, size)
    if down == moment:
        return down
    try:
        return down + BUCKET_WIDTH[size]
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def drop_expired_minutes(now: datetime) -> None:
    for model in (SessionRollup, CodeRollup):
        model.objects.filter(bucket_size=BucketSize.MINUTE, bucket_start__lt=now - MINUTE_RETENTION).delete()


def floor(moment: datetime, size: str) -> datetime:
    """The start of the ``size`` bucket holding ``moment`` (UTC)."""
    moment = moment.astimezone(UTC)
    if size == BucketSize.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if size == BucketSize.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _lock_rollups() -> None:
    # Two workers changing the same bucket would both create it (or both delete and re-insert
    # it) and collide on its unique key.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_KEY])


def recompute(
    session_minutes: set[datetime],
    code_minutes: set[datetime],
    *,
    now: datetime | None = None,
    rebuild_hours: bool = False,
) -> None:
    """Rewrite the given minute buckets from the source tables and bring the hour and day buckets
    containing them up to date. Must run inside a transaction (the rollup lock is held to its
    commit). The safety net and tests use it; batches use ``count_batch`` and ``apply_batch``.

    A recent hour and its day change by what their rewritten minutes changed
    (``_rewrite_minutes_and_hours``): the cost follows the minutes, not how much the hour already
    holds, which summing every minute of the hour again did (tens of milliseconds per batch,
    growing with traffic). ``rebuild_hours`` sums the hours from their minutes, and their days
    from their hours, instead: the periodic safety net (``maintain_rollups``). Hours past the
    minute retention are counted from the source tables, and their days summed again."""
    if not session_minutes and not code_minutes:
        return
    now = now or timezone.now()
    _lock_rollups()
    cutoff = floor(now - MINUTE_RETENTION, BucketSize.HOUR)
    for model, minutes in ((SessionRollup, session_minutes), (CodeRollup, code_minutes)):
        if not minutes:
            continue
        recent = {m for m in minutes if m >= cutoff}
        hours = {floor(m, BucketSize.HOUR) for m in minutes}
        old_hours = {h for h in hours if h < cutoff}
        if rebuild_hours:
            _rewrite(model, BucketSize.MINUTE, recent, summed=False)
            _rewrite(model, BucketSize.HOUR, hours - old_hours, summed=True)
        else:
            _rewrite_minutes_and_hours(model, recent)
        _rewrite(model, BucketSize.HOUR, old_hours, summed=False)
        resum_days(model, hours if rebuild_hours else old_hours)


def resum_days(model: type[SessionRollup] | type[CodeRollup], moments: set[datetime]) -> None:
    """Rewrite the day buckets holding ``moments`` as the sum of their hour buckets: after hours
    were rewritten other than through ``recompute``'s incremental path (which keeps days too)."""
    _rewrite(model, BucketSize.DAY, {floor(m, BucketSize.DAY) for m in moments}, summed=True)


# Each rewrite is one DELETE and one INSERT … SELECT … GROUP BY, computed where the data is.
# ``%(starts)s`` lists the bucket starts; a row counts in the bucket whose [start, start + width)
# holds its time (what truncating the time to the bucket gives). Each bucket's rows are read by
# a range on a time index: ``OFFSET 0`` keeps the LATERAL subquery apart, so the planner cannot
# turn it into a join that scans the whole table, which it did (80 ms instead of 10 ms for two
# minutes) whenever its statistics lagged behind a growing table. The SQL is constant: values
# are always parameters.
_SR, _CR = SessionRollup._meta.db_table, CodeRollup._meta.db_table
_S, _L, _E = Session._meta.db_table, CallLeg._meta.db_table, EventClassification._meta.db_table
# ``d.ms``: an answered session's answer delay, its first leg's connection less its first leg's
# initiation (8x8 sends no ringing event, so there is no post-dial delay to measure), in whole
# milliseconds per session, so a bucket is the same sum however its sessions were counted.
_ANSWER_DELAY = f"""
    SELECT round(extract(epoch FROM min(l.connected_at) - min(l.initiated_at)) * 1000) AS ms
    FROM {_L} l WHERE l.session_id = s.id AND s.outcome_group = 'answered'"""  # noqa: S608 - model metadata only
_ROLLUP_SQL = {
    (SessionRollup, False): f"""
        INSERT INTO {_SR}
            (bucket_size, bucket_start, sub_account_id, product, status, outcome_group, fault_side,
             destination_country, direction, primary_sip_code, error_code, count, answered_seconds,
             answer_delay_ms, answer_delay_count)
        SELECT %(size)s, b.start, s.sub_account_id, s.product, s.status, s.outcome_group, s.fault_side,
               s.destination_country, s.direction, s.primary_sip_code, s.error_code, count(*),
               coalesce(sum(s.duration_seconds) FILTER (WHERE s.outcome_group = 'answered'), 0),
               coalesce(sum(d.ms) FILTER (WHERE d.ms >= 0), 0), count(d.ms) FILTER (WHERE d.ms >= 0)
        FROM unnest(%(starts)s::timestamptz[]) AS b(start)
        CROSS JOIN LATERAL (
            SELECT * FROM {_S} s WHERE s.rollup_at >= b.start AND s.rollup_at < b.start + %(width)s::interval
            OFFSET 0) s
        LEFT JOIN LATERAL ({_ANSWER_DELAY}) d ON true
        GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11""",  # noqa: S608 - model metadata only
    # An hour is the sum of its minutes, a day of its hours (cheap, and never scans the sessions).
    (SessionRollup, True): f"""
        INSERT INTO {_SR}
            (bucket_size, bucket_start, sub_account_id, product, status, outcome_group, fault_side,
             destination_country, direction, primary_sip_code, error_code, count, answered_seconds,
             answer_delay_ms, answer_delay_count)
        SELECT %(size)s, b.start, r.sub_account_id, r.product, r.status, r.outcome_group, r.fault_side,
               r.destination_country, r.direction, r.primary_sip_code, r.error_code, sum(r.count),
               sum(r.answered_seconds), sum(r.answer_delay_ms), sum(r.answer_delay_count)
        FROM unnest(%(starts)s::timestamptz[]) AS b(start)
        JOIN {_SR} r ON r.bucket_size = %(finer)s
         AND r.bucket_start >= b.start AND r.bucket_start < b.start + %(width)s::interval
        GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11""",  # noqa: S608 - model metadata only
    # Final events with a code, by event time. Account-level events have no leg or session:
    # their direction, country and sub-account count as "".
    (CodeRollup, False): f"""
        INSERT INTO {_CR}
            (bucket_size, bucket_start, sip_code, sip_class, direction, destination_country, sub_account_id, count)
        SELECT %(size)s, b.start, e.sip_code_raw, e.sip_class, coalesce(l.direction, ''),
               coalesce(l.destination_country, ''), coalesce(s.sub_account_id, ''), count(*)
        FROM unnest(%(starts)s::timestamptz[]) AS b(start)
        CROSS JOIN LATERAL (
            SELECT e.sip_code_raw, e.sip_class, e.call_leg_id, e.session_id FROM {_E} e
            WHERE e.is_final AND e.sip_code_raw <> ''
              AND e.event_time >= b.start AND e.event_time < b.start + %(width)s::interval
            OFFSET 0) e
        LEFT JOIN {_L} l ON l.id = e.call_leg_id
        LEFT JOIN {_S} s ON s.id = e.session_id
        GROUP BY 2, 3, 4, 5, 6, 7""",  # noqa: S608 - model metadata only
    (CodeRollup, True): f"""
        INSERT INTO {_CR}
            (bucket_size, bucket_start, sip_code, sip_class, direction, destination_country, sub_account_id, count)
        SELECT %(size)s, b.start, r.sip_code, r.sip_class, r.direction, r.destination_country, r.sub_account_id,
               sum(r.count)
        FROM unnest(%(starts)s::timestamptz[]) AS b(start)
        JOIN {_CR} r ON r.bucket_size = %(finer)s
         AND r.bucket_start >= b.start AND r.bucket_start < b.start + %(width)s::interval
        GROUP BY 2, 3, 4, 5, 6, 7""",  # noqa: S608 - model metadata only
}
_ROLLUP_DELETE_SQL = {
    model: f"DELETE FROM {model._meta.db_table} WHERE bucket_size = %(size)s"  # noqa: S608 - model metadata only
    " AND bucket_start = ANY(%(starts)s::timestamptz[])"
    for model in (SessionRollup, CodeRollup)
}


def _rewrite(model: type[SessionRollup] | type[CodeRollup], size: str, starts: set[datetime], *, summed: bool) -> None:
    """Replace the ``size`` buckets starting at ``starts``, counted from the source tables or,
    when ``summed``, summed from the buckets of the next finer size (``FINER``)."""
    if not starts:
        return
    params: dict[str, Any] = {
        "size": size,
        "starts": sorted(starts),
        "width": BUCKET_WIDTH[BucketSize(size)],
        "finer": FINER.get(BucketSize(size), ""),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ROLLUP_DELETE_SQL[model], params)
        cursor.execute(_ROLLUP_SQL[model, summed], params)


# The incremental path. Each rollup table's columns derived from its bucket key, and the measures
# that add up; the key itself is its unique constraint less bucket_size and bucket_start.
_DERIVED = {SessionRollup: ("outcome_group",), CodeRollup: ("sip_class",)}
MEASURES = {
    SessionRollup: ("count", "answered_seconds", "answer_delay_ms", "answer_delay_count"),
    CodeRollup: ("count",),
}
_DELTA = "rollup_hour_delta"  # temporary, per connection, emptied at commit


def bucket_key(model: type[SessionRollup] | type[CodeRollup]) -> tuple[str, ...]:
    """The fields that name one bucket of a rollup table (its unique constraint)."""
    (unique,) = (c for c in model._meta.constraints if isinstance(c, UniqueConstraint))
    return tuple(unique.fields)


def _dimensions(model: type[SessionRollup] | type[CodeRollup]) -> tuple[str, ...]:
    return tuple(f for f in bucket_key(model) if f not in ("bucket_size", "bucket_start"))


class _Statements(NamedTuple):
    create: str  # the delta table
    delete_minutes: str
    insert_minutes: str
    merge: dict[BucketSize, str]  # each size's buckets changed by the delta
    clear: str


def _incremental_sql(model: type[SessionRollup] | type[CodeRollup]) -> _Statements:
    """The statements of ``_rewrite_minutes_and_hours`` and of the batch path for one rollup table."""
    table = model._meta.db_table
    dims, derived, measures = _dimensions(model), _DERIVED[model], MEASURES[model]
    nullable = {f.name for f in model._meta.concrete_fields if f.null}
    keys = ", ".join(dims + derived)
    sums = ", ".join(measures)
    create = (
        f"CREATE TEMP TABLE IF NOT EXISTS {_DELTA}_{table} ON COMMIT DELETE ROWS AS"  # noqa: S608 - model metadata only
        f" SELECT bucket_start AS moment, {keys}, {sums} FROM {table} WITH NO DATA"
    )
    # The minutes' old rows leave, with their counts taken off their hour...
    delete_minutes = (
        f"WITH old AS (DELETE FROM {table} WHERE bucket_size = %(size)s"  # noqa: S608 - model metadata only
        f" AND bucket_start = ANY(%(starts)s::timestamptz[]) RETURNING bucket_start, {keys}, {sums})"
        f" INSERT INTO {_DELTA}_{table} SELECT date_trunc('hour', bucket_start, 'UTC'), {keys},"
        + ", ".join(f"-{m}" for m in measures)
        + " FROM old"
    )
    # ... the minutes' new rows arrive (``_ROLLUP_SQL``, counted from the source tables), with
    # their counts added to their hour ...
    insert_minutes = (
        "WITH new AS (" + _ROLLUP_SQL[model, False] + f" RETURNING bucket_start, {keys}, {sums})"  # noqa: S608 - model metadata only
        f" INSERT INTO {_DELTA}_{table} SELECT date_trunc('hour', bucket_start, 'UTC'), {keys}, {sums} FROM new"
    )
    # ... and each hour row, then each day row, changes by the sum: created when new, removed when
    # nothing is left. Grouped by the key alone (a derived column cannot split one key in two:
    # MERGE would refuse to touch a row twice). The equalities on the text columns let the join
    # hash; the nullable ones filter after.
    match = " AND ".join(f"h.{d} IS NOT DISTINCT FROM d.{d}" if d in nullable else f"h.{d} = d.{d}" for d in dims)

    def merge(size: BucketSize) -> str:
        bucket = f"date_trunc('{size.value}', moment, 'UTC')"
        # Minutes past their retention are not kept (a late event of an old session changes its hour and day).
        kept = " WHERE moment >= %(minutes_from)s" if size == BucketSize.MINUTE else ""
        return (
            f"MERGE INTO {table} h USING (SELECT {bucket} AS bucket, {', '.join(dims)}, "  # noqa: S608 - model metadata only
            + ", ".join([f"max({c}) AS {c}" for c in derived] + [f"sum({m}) AS {m}" for m in measures])
            + f" FROM {_DELTA}_{table}{kept} GROUP BY {bucket}, {', '.join(dims)}"
            + " HAVING "
            + " OR ".join(f"sum({m}) <> 0" for m in measures)
            + ") d"
            f" ON h.bucket_size = '{size.value}' AND h.bucket_start = d.bucket AND {match}"
            " WHEN MATCHED AND h.count + d.count <= 0 THEN DELETE"
            " WHEN MATCHED THEN UPDATE SET "
            + ", ".join(f"{m} = greatest(h.{m} + d.{m}, 0)" for m in measures)
            + " WHEN NOT MATCHED AND d.count > 0 THEN INSERT (bucket_size, bucket_start, "
            + f"{keys}, {sums}) VALUES ('{size.value}', d.bucket, "
            + ", ".join(f"d.{c}" for c in dims + derived + measures)
            + ")"
        )

    # Emptied at once as well as at commit: a second call in the same transaction starts clean.
    clear = f"DELETE FROM {_DELTA}_{table}"  # noqa: S608 - model metadata only
    return _Statements(create, delete_minutes, insert_minutes, {size: merge(size) for size in SIZES}, clear)


_INCREMENTAL_SQL = {model: _incremental_sql(model) for model in (SessionRollup, CodeRollup)}


def _rewrite_minutes_and_hours(model: type[SessionRollup] | type[CodeRollup], minutes: set[datetime]) -> None:
    """Rewrite these minute buckets from the source tables and change each hour and day holding
    them by the difference, all in SQL (no rows travel to Python)."""
    if not minutes:
        return
    params: dict[str, Any] = {
        "size": BucketSize.MINUTE.value,
        "starts": sorted(minutes),
        "width": BUCKET_WIDTH[BucketSize.MINUTE],
    }
    sql = _INCREMENTAL_SQL[model]
    with connection.cursor() as cursor:
        cursor.execute(sql.create)
        cursor.execute(sql.delete_minutes, params)
        cursor.execute(sql.insert_minutes, params)
        cursor.execute(sql.merge[BucketSize.HOUR])
        cursor.execute(sql.merge[BucketSize.DAY])
        cursor.execute(sql.clear)


# --- the pipeline's path: a batch changes buckets by what its sessions counted before and after ---
#
# Rewriting a batch's minutes from the source tables re-counted every session of each minute it
# touched: in live traffic each batch touches the current minute, so at 1,000 webhooks/s a batch
# re-counted up to ~10,700 sessions and ~14,600 final codes (~200 ms of statement time per batch,
# growing with the traffic). A batch instead takes off what its sessions (and its events without
# a session) counted before it wrote them and adds what they count after, in the same rows a
# rewrite would have produced: each session is counted by the same expressions as
# ``_ROLLUP_SQL``, and only the batch's sessions can change (they are locked, docs/design.md §2.3).
# ``maintain_rollups`` still rewrites the last hour from the source tables as a safety net.

_SESSION_CONTRIBUTION_SQL = f"""
    INSERT INTO {_DELTA}_{_SR}
        (moment, sub_account_id, product, status, outcome_group, fault_side, destination_country, direction,
         primary_sip_code, error_code, count, answered_seconds, answer_delay_ms, answer_delay_count)
    SELECT date_trunc('minute', s.rollup_at, 'UTC'), s.sub_account_id, s.product, s.status, s.outcome_group,
           s.fault_side, s.destination_country, s.direction, s.primary_sip_code, s.error_code, %(sign)s,
           %(sign)s * CASE WHEN s.outcome_group = 'answered' THEN coalesce(s.duration_seconds, 0) ELSE 0 END,
           %(sign)s * CASE WHEN d.ms >= 0 THEN d.ms ELSE 0 END, %(sign)s * CASE WHEN d.ms >= 0 THEN 1 ELSE 0 END
    FROM {_S} s
    LEFT JOIN LATERAL ({_ANSWER_DELAY}) d ON true
    WHERE s.session_id = ANY(%(sessions)s::text[]) AND s.rollup_at IS NOT NULL"""  # noqa: S608 - model metadata only
_CODE_CONTRIBUTION_SQL = f"""
    INSERT INTO {_DELTA}_{_CR} (moment, sip_code, sip_class, direction, destination_country, sub_account_id, count)
    SELECT date_trunc('minute', e.event_time, 'UTC'), e.sip_code_raw, e.sip_class, coalesce(l.direction, ''),
           coalesce(l.destination_country, ''), coalesce(s.sub_account_id, ''), %(sign)s
    FROM {_E} e
    LEFT JOIN LATERAL (SELECT direction, destination_country FROM {_L} WHERE id = e.call_leg_id OFFSET 0) l ON true
    LEFT JOIN LATERAL (SELECT sub_account_id FROM {_S} WHERE id = e.session_id OFFSET 0) s ON true
    WHERE e.is_final AND e.sip_code_raw <> '' AND e.event_time IS NOT NULL
      AND e.event_id = ANY(ARRAY(
          SELECT event_id FROM {_E}
          WHERE session_id = ANY(ARRAY(SELECT id FROM {_S} WHERE session_id = ANY(%(sessions)s::text[])))
          UNION SELECT unnest(%(events)s::bigint[])))"""  # noqa: S608 - model metadata only


def count_batch(session_ids: list[str], event_ids: list[int], *, sign: int) -> None:
    """Note what these sessions and events count in the rollups, with ``sign``: -1 before a batch
    (or ``reclassify``) changes them, +1 after. ``apply_batch`` then writes the difference."""
    params: dict[str, Any] = {"sessions": session_ids, "events": event_ids, "sign": sign}
    with connection.cursor() as cursor:
        for model in (SessionRollup, CodeRollup):
            cursor.execute(_INCREMENTAL_SQL[model].create)  # once per connection, emptied at commit
        cursor.execute(_SESSION_CONTRIBUTION_SQL, params)
        cursor.execute(_CODE_CONTRIBUTION_SQL, params)


def apply_batch(now: datetime | None = None) -> None:
    """Change the minute, hour and day buckets by what ``count_batch`` noted, and forget it.

    Under the rollup lock until commit: two batches creating the same new bucket row at once would
    collide on its unique key."""
    now = now or timezone.now()
    _lock_rollups()
    params = {"minutes_from": now - MINUTE_RETENTION}
    with connection.cursor() as cursor:
        for model in (SessionRollup, CodeRollup):
            sql = _INCREMENTAL_SQL[model]
            cursor.execute(sql.merge[BucketSize.MINUTE], params)
            cursor.execute(sql.merge[BucketSize.HOUR])
            cursor.execute(sql.merge[BucketSize.DAY])
            cursor.execute(sql.clear)
