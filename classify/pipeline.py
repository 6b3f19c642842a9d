"""The database side of classification: claim pending raw events, derive, upsert, roll up.

One transaction per batch. Rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` so
parallel workers never take the same event; a worker killed mid-batch rolls the whole batch
back and the events are simply pending again.

Order independence: every session touched by a batch is re-derived from *all* its stored
events (``rules.derive_session``), never patched incrementally, so the arrival order, the way
events were split into batches and ``reclassify`` all give the same sessions and legs. Rollup
buckets change by what the batch's sessions and events counted before it and count after it
(``rollups.count_batch``), by the same expressions a rewrite from the source tables uses, so
they stay equal to the true counts.
The one order-dependent fact, ``out_of_order``, is defined on arrival order (raw event id), so
it is still the same for every processing order of the same stored rows.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.models import F, Field
from django.utils import timezone

from classify import rollups
from classify.models import (
    CallLeg,
    EventClassification,
    Session,
    SipClassLabel,
)
from classify.normalise import VIRTUAL_NUMBER_UPDATE, NormalisedEvent, NormaliseError, normalise
from classify.rules import Derived, LegState, SessionState, StoredEvent, derive_session
from config import metrics
from config.db import WORKER_APPLICATION_NAME
from products.matching import ProductRuleSet, load_product_rules
from products.numbers import record_virtual_numbers
from reference.snapshot import ReferenceSnapshot, load_snapshot
from webhooks.ingest import fold_deferred_repeats
from webhooks.models import EventState, RawEvent

log = logging.getLogger(__name__)


# The columns written for a session or a leg are the fields of the state the rules derive
# (minus the natural key, written first), so the two cannot drift apart.
SESSION_FIELDS = [f.name for f in dataclasses.fields(SessionState) if f.name != "session_id"]
LEG_FIELDS = [f.name for f in dataclasses.fields(LegState) if f.name != "call_id"]
VERDICT_FIELDS = [
    "event_time",
    "call_status",
    "sip_code",
    "sip_code_raw",
    "sip_class",
    "is_final",
    "outcome_group",
    "retry_advice",
    "responsibility",
    "troubleshooting_ids",
    "anomalies",
]


# Errors that pass by themselves (a deadlock, a lost connection, PostgreSQL restarting): the batch
# is left pending and the task retried (classify/tasks.py). COPY raises psycopg's own classes
# (Django does not wrap the copy protocol), every other statement Django's. Every other error, however the
# database or our code words it, is the batch's own: retrying it as a whole would fail forever.
TRANSIENT = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def process_pending(batch_size: int | None = None) -> int:
    """Classify one batch of pending events; returns how many events it took (0: nothing to do)."""
    size = batch_size or settings.SIPDESK_CLASSIFY_BATCH_SIZE
    try:
        return _process_batch(size)
    except TRANSIENT:
        raise
    except Exception:
        # Something in this batch cannot be written (a value _fit_rows did not foresee, two rows
        # one statement may not both write, a bug). The batch rolled back; take its events one at
        # a time so only the culprit is marked failed, with the reason, and the queue keeps moving.
        log.exception("a batch of %d events could not be written; retrying them one by one", size)
        return _process_singly(size)


def _process_batch(size: int, only_id: int | None = None) -> int:
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Everything written here is derived and rebuilt from raw events: a crash may lose the
            # last few commits, but then the events' "processed" mark is lost with them (same
            # transaction), so they are simply classified again. Saves a WAL flush per batch.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # Repeats the receivers could not count while a batch held their rows (webhooks.ingest).
            fold_deferred_repeats(cursor)
            # Claim and mark in one statement: the rows are locked (other workers skip them) and
            # marked processed at once, instead of a SELECT … FOR UPDATE that writes a lock into
            # every row and a second UPDATE that rewrites them. Nothing is visible before the
            # batch commits; if it fails, the rollback leaves the events pending. (ARRAY(…) keeps
            # the planner on the primary key instead of hash-joining the whole table.)
            place, workers = (0, 1) if only_id is not None else _place_among_workers(cursor)
            cursor.execute(
                f"UPDATE {_table(RawEvent)} SET state = %s, processed_at = %s, attempts = attempts + 1, last_error = ''"  # noqa: S608 - model metadata only
                f" WHERE state = %s AND id = ANY(ARRAY(SELECT id FROM {_table(RawEvent)} WHERE state = %s"
                " AND (%s::bigint IS NULL OR id = %s)"
                " AND (%s = 1 OR mod(hashtext(session_id) & 2147483647, %s) = %s OR received_at < %s)"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED))"
                " RETURNING id, body, deliveries, received_at, session_id",
                # "state = pending" outside too: each raw partition then probes its small pending
                # index, not its primary key (webhooks/partitions.py).
                [
                    EventState.PROCESSED.value,
                    now,
                    EventState.PENDING.value,
                    EventState.PENDING.value,
                    only_id,
                    only_id,
                    workers,
                    workers,
                    place,
                    now - timedelta(seconds=settings.SIPDESK_CLASSIFY_AFFINITY_SECONDS),
                    size,
                ],
            )
            claimed = sorted(cursor.fetchall())
        if not claimed:
            return 0
        failed = process_rows(claimed, load_snapshot(), now)
    # Counted once committed: a batch that rolls back is classified again (or failed singly).
    metrics.CLASSIFY_SECONDS.observe(time.perf_counter() - started)
    metrics.CLASSIFIED.inc(len(claimed) - failed)
    metrics.FAILED.inc(failed)
    return len(claimed)


def _place_among_workers(cursor: Any) -> tuple[int, int]:
    """``(place, workers)``: where this process stands among the Celery workers connected now.

    A worker claims the pending events of the sessions whose ``hashtext`` falls to its place, and
    the others' only once they have waited ``SIPDESK_CLASSIFY_AFFINITY_SECONDS``. Without it two
    workers took alternate slices of one interleaved stream: most sessions had events in both
    batches, so each batch waited for the other's session locks and re-normalised the events
    the other had cached (docs/performance-history.md, "Scale-out"). A worker that stops or
    dies drops out of the count with its connection; one busy elsewhere leaves its events to
    the others after the wait.
    ``(0, 1)`` (take anything) outside a worker, for a lone worker, and with the wait set to 0.
    """
    if not settings.SIPDESK_CLASSIFY_AFFINITY_SECONDS:
        return 0, 1
    cursor.execute(
        "SELECT count(*), count(*) FILTER (WHERE pid < pg_backend_pid()), bool_or(pid = pg_backend_pid()) IS TRUE"
        " FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
        [WORKER_APPLICATION_NAME],
    )
    workers, place, is_worker = cursor.fetchone()
    return (place, workers) if is_worker and workers > 1 else (0, 1)


def _process_singly(limit: int) -> int:
    ids = list(RawEvent.objects.filter(state=EventState.PENDING).order_by("id").values_list("id", flat=True)[:limit])
    for event_id in ids:
        try:
            _process_batch(1, only_id=event_id)
        except TRANSIENT:
            raise
        except Exception as exc:
            reason = f"could not be stored: {type(exc).__name__}: {exc}"
            if RawEvent.objects.filter(id=event_id, state=EventState.PENDING).update(
                state=EventState.FAILED, attempts=F("attempts") + 1, last_error=reason[:2000]
            ):
                metrics.FAILED.inc()
    return len(ids)


def process_rows(
    rows: Sequence[tuple], snapshot: ReferenceSnapshot, now: datetime, product_rules: ProductRuleSet | None = None
) -> int:
    """Classify claimed ``(id, body, deliveries, received_at, session_id)`` rows, already marked
    processed at ``now`` (inside the claiming transaction); bodies it cannot read are marked failed
    (how many is returned)."""
    batch: dict[int, StoredEvent] = {}
    failures: dict[int, str] = {}
    for event_id, body, deliveries, received_at, _ in rows:
        try:
            batch[event_id] = StoredEvent(event_id, deliveries, received_at, _normalise(event_id, received_at, body))
        except NormaliseError as exc:
            failures[event_id] = str(exc)
        except Exception as exc:  # a parser bug must not block the batch either
            log.exception("normaliser crashed on raw event %s", event_id)
            failures[event_id] = f"normaliser crashed: {type(exc).__name__}: {exc}"[:500]

    session_ids = sorted({s.event.session_id for s in batch.values() if s.event.session_id})
    product_rules = load_product_rules() if product_rules is None else product_rules
    with connection.cursor() as cursor:
        missing_summary = _lock_sessions(cursor, session_ids)
        events_by_session = _all_events_of(
            cursor, session_ids, batch, [row[0] for row in rows], {row[4] for row in rows if row[4]}
        )

        # What these sessions and events counted in the rollups before this batch (rollups.count_batch).
        rollups.count_batch(session_ids, list(batch), sign=-1)
        derived: dict[str, Derived] = {}
        for session_id in session_ids:
            keep_flag = missing_summary.get(session_id, False)
            derived[session_id] = derive_session(
                session_id,
                events_by_session[session_id],
                snapshot,
                keep_missing_summary=keep_flag,
                product_rules=product_rules,
            )

        session_pks = _upsert_sessions(cursor, derived, now)
        leg_pks = _upsert_legs(cursor, derived, session_pks)
        _write_verdicts(cursor, batch, derived, session_pks, leg_pks, now)
        record_virtual_numbers(
            cursor, ((i, s.event) for i, s in batch.items() if s.event.kind == VIRTUAL_NUMBER_UPDATE), now
        )
        _mark_failed(cursor, failures)

    rollups.count_batch(session_ids, list(batch), sign=+1)
    rollups.apply_batch(now)
    return len(failures)


# --- normalised bodies, cached ------------------------------------------------------------

# Raw bodies never change (RawEvent is append-only), so the normalised form of one is kept and
# reused when a later batch re-reads the earlier events of a session it touches: in live traffic
# a session's events trickle in over seconds, so each is otherwise re-normalised several times.
# Keyed by id and checked against received_at, so a reused id (a truncated table) cannot return
# another body's result. Bounded: the oldest entries go first.
NORMALISED_CACHE_SIZE = 20_000
_normalised_cache: dict[int, tuple[datetime, NormalisedEvent]] = {}


def _normalise(event_id: int, received_at: datetime, body: Any) -> NormalisedEvent:
    """``normalise(body)``, reusing an earlier result for the same stored event."""
    hit = _normalised_cache.get(event_id)
    if hit is not None and hit[0] == received_at:
        return hit[1]
    if isinstance(body, str):  # a raw cursor hands jsonb over as text
        body = json.loads(body)
    event = normalise(body)  # raises for a body it cannot understand: not cached, fails again
    if len(_normalised_cache) >= NORMALISED_CACHE_SIZE:
        for old in list(islice(_normalised_cache, NORMALISED_CACHE_SIZE // 4)):
            del _normalised_cache[old]
    _normalised_cache[event_id] = (received_at, event)
    return event


# --- reading ------------------------------------------------------------------------------
# Raw SQL from here on: the ORM's per-object work (model instances, per-field preparation,
# client-side quoting of every value) was half of a batch's time. Table and column names come
# from the models, values are always bound parameters.


def _lock_sessions(cursor: Any, session_ids: list[str]) -> dict[str, bool]:
    """Lock the batch's existing sessions; returns ``session_id -> has missing_summary``.

    Serialises work on one session across workers: whoever commits last read everything. Rows
    are locked in session_id order so two workers cannot deadlock on each other's sessions."""
    if not session_ids:
        return {}
    # A session that does not exist yet has no row to lock, so two workers could both create it
    # from different events, each rewriting only its own rollup bucket. A transaction-scoped
    # advisory lock per session id makes the second worker wait and then read everything the
    # first committed, old bucket included. The locks are taken in the order of their keys, not
    # of the ids: two ids can share a key (hashtext is 32 bits), and in id order one worker could
    # hold a key another waits for while waiting for one that other holds (a deadlock).
    cursor.execute(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtext(s) AS k FROM unnest(%s::text[]) AS s ORDER BY 1) AS ks",
        [session_ids],
    )
    cursor.execute(
        f"SELECT session_id, anomalies @> %s::jsonb FROM {_table(Session)}"  # noqa: S608 - model metadata only
        " WHERE session_id = ANY(%s::text[]) ORDER BY session_id FOR UPDATE",
        ['["missing_summary"]', session_ids],
    )
    return {session_id: bool(flag) for session_id, flag in cursor.fetchall()}


def _all_events_of(
    cursor: Any,
    session_ids: Sequence[str],
    batch: dict[int, StoredEvent],
    claimed_ids: list[int],
    raw_session_ids: set[str],
) -> dict[str, list[StoredEvent]]:
    """Every stored, understandable event of these sessions: the batch plus what is already stored
    (processed, or pending in another worker's batch; failed rows cannot be read)."""
    by_session: dict[str, list[StoredEvent]] = defaultdict(list)
    for stored in batch.values():
        if stored.event.session_id:
            by_session[stored.event.session_id].append(stored)
    if not session_ids:
        return by_session
    # The receiver's session_id column can differ from the normalised one (legacy shapes), so
    # both are looked up and the normalised id decides.
    cursor.execute(
        f"SELECT id, deliveries, received_at, body FROM {_table(RawEvent)}"  # noqa: S608 - model metadata only
        " WHERE session_id = ANY(%s::text[]) AND state <> %s AND NOT (id = ANY(%s::bigint[]))",
        [sorted(set(session_ids) | raw_session_ids), EventState.FAILED.value, claimed_ids],
    )
    wanted = set(session_ids)
    for event_id, deliveries, received_at, body in cursor.fetchall():
        try:
            event = _normalise(event_id, received_at, body)
        except Exception:  # noqa: S112 - its own batch marks it failed
            continue
        if event.session_id in wanted:
            by_session[event.session_id].append(StoredEvent(event_id, deliveries, received_at, event))
    return by_session


def _rollup_at(result: Derived) -> datetime | None:
    return result.session.start_time or result.session.first_event_at


# --- writing ------------------------------------------------------------------------------


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    """The quoted column of a concrete field (reverse relations have none)."""
    column = getattr(model._meta.get_field(name), "column", None)
    if not column:
        raise ValueError(f"{model.__name__}.{name} has no column")
    return connection.ops.quote_name(column)


def _columns(model: type[models.Model], names: Iterable[str]) -> list[str]:
    return [_column(model, name) for name in names]


@functools.lru_cache(maxsize=4096)
def _jsonb(values: tuple) -> str:
    """A tuple of slugs or ids as JSON text; few distinct values, so they are cached."""
    return json.dumps(list(values))


@functools.lru_cache(maxsize=64)
def _fitters(model: type[models.Model], names: tuple[str, ...]) -> tuple[Any, ...]:
    """Per column, a function that makes a value fit it, or None when any value fits."""

    def text(limit: int) -> Any:
        return lambda value: value[:limit] if isinstance(value, str) and len(value) > limit else value

    def number(low: int, high: int) -> Any:
        # Every bounded integer column here is nullable: a value it cannot hold is "unknown".
        return lambda value: value if value is None or low <= value <= high else None

    fitters = []
    for name in names:
        field = cast(Field, model._meta.get_field(name))  # names are concrete fields
        kind = field.get_internal_type()
        if kind == "CharField" and field.max_length:
            fitters.append(text(field.max_length))
        elif field.null and "IntegerField" in kind and not field.is_relation:
            fitters.append(number(*connection.ops.integer_field_range(kind)))
        else:
            fitters.append(None)
    return tuple(fitters)


def _fit_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence]) -> Iterable[list]:
    """Payload values are sent by 8x8 and unbounded (an unknown enum value of 40 characters, a
    call count of 70,000); cut text to its column's width and turn out-of-range integers into
    NULL, so one odd event cannot make a whole batch fail."""
    fitters = _fitters(model, tuple(names))
    for row in rows:
        yield [fit(value) if fit else value for fit, value in zip(fitters, row, strict=True)]


def _copy(cursor: Any, table: str, columns: list[str], rows: Iterable[Sequence]) -> None:
    """Stream rows into a table with COPY: the fastest way into PostgreSQL, one round trip."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _stage(cursor: Any, model: type[models.Model], columns: list[str]) -> str:
    """A temporary table with these columns of ``model``'s table (same types), for COPY + upsert.

    Created once per connection and emptied at every commit; emptied here as well because a
    caller's outer transaction (a test, ``reclassify``) may run several batches before one."""
    name = connection.ops.quote_name(f"stage_{model._meta.db_table}")
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS"  # noqa: S608 - model metadata only
        f" AS SELECT {', '.join(columns)} FROM {_table(model)} WITH NO DATA"
    )
    cursor.execute(f"DELETE FROM {name}")  # noqa: S608 - model metadata only
    return name


def _upsert(
    cursor: Any, model: type[models.Model], key: tuple[str, ...], names: list[str], rows: Sequence[Sequence[Any]]
) -> dict[Any, int]:
    """Insert or update ``rows`` (values for the ``key`` fields then ``names``) on ``key`` (the
    fields of a unique constraint); returns key -> pk, the key a value for one field, a tuple for more.

    COPY cannot resolve conflicts, so rows go to a staging table first, then one
    ``INSERT … ON CONFLICT DO UPDATE`` moves them (in key order, like the row locks)."""
    columns = _columns(model, [*key, *names])
    keys = ", ".join(columns[: len(key)])
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns[len(key) :])
    stage = _stage(cursor, model, columns)
    _copy(cursor, stage, columns, _fit_rows(model, [*key, *names], rows))
    cursor.execute(
        f"INSERT INTO {_table(model)} ({', '.join(columns)})"  # noqa: S608 - model metadata only
        f" SELECT {', '.join(columns)} FROM {stage} ORDER BY {keys}"
        f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        f" RETURNING {keys}, {_column(model, model._meta.pk.name)}"
    )
    if len(key) == 1:
        return dict(cursor.fetchall())
    return {tuple(row[:-1]): row[-1] for row in cursor.fetchall()}


def _upsert_sessions(cursor: Any, derived: dict[str, Derived], now: datetime) -> dict[str, int]:
    if not derived:
        return {}
    rows = []
    for session_id, result in derived.items():
        session = result.session
        values = [getattr(session, name) for name in SESSION_FIELDS]
        values[SESSION_FIELDS.index("anomalies")] = _jsonb(tuple(session.anomalies))
        rows.append([session_id, *values, _rollup_at(result), now])
    return _upsert(cursor, Session, ("session_id",), [*SESSION_FIELDS, "rollup_at", "updated_at"], rows)


def _upsert_legs(cursor: Any, derived: dict[str, Derived], session_pks: dict[str, int]) -> dict[tuple[int, str], int]:
    """Legs are keyed by (session, callId): one callId in two sessions is two legs (issue 9)."""
    rows = [
        [session_pks[session_id], leg.call_id, *(getattr(leg, name) for name in LEG_FIELDS)]
        for session_id, result in derived.items()
        for leg in result.legs
    ]
    if not rows:
        return {}
    return _upsert(cursor, CallLeg, ("session", "call_id"), LEG_FIELDS, rows)


# An account-level event (VNU …) has no session: its classification is the empty verdict.
EMPTY_VERDICT = ["", None, "", SipClassLabel.NONE.value, False, "", "", "", "[]", "[]"]


def _write_verdicts(
    cursor: Any,
    batch: dict[int, StoredEvent],
    derived: dict[str, Derived],
    session_pks: dict[str, int],
    leg_pks: dict[tuple[int, str], int],
    now: datetime,
) -> None:
    if not batch:
        return
    rows = []
    for event_id, stored in batch.items():
        session_id = stored.event.session_id
        if session_id:
            v = derived[session_id].verdicts[event_id]
            rows.append([
                event_id, session_pks[session_id], leg_pks.get((session_pks[session_id], v.call_id)), stored.time,
                v.call_status, v.sip_code, v.sip_code_raw, v.sip_class, v.is_final, v.outcome_group,
                v.retry_advice, v.responsibility, _jsonb(v.troubleshooting_ids), _jsonb(v.anomalies), now,
            ])  # fmt: skip
        else:
            rows.append([event_id, None, None, stored.time, *EMPTY_VERDICT, now])
    # An event is classified again after ``reclassify`` or a re-pend: replace its old verdict.
    # Delete + COPY is an upsert here, and several times faster than INSERT … ON CONFLICT.
    cursor.execute(
        f"DELETE FROM {_table(EventClassification)} WHERE event_id = ANY(%s::bigint[])",  # noqa: S608 - model metadata only
        [list(batch)],
    )
    names = ["event", "session", "call_leg", *VERDICT_FIELDS, "classified_at"]
    _copy(
        cursor,
        _table(EventClassification),
        _columns(EventClassification, names),
        _fit_rows(EventClassification, names, rows),
    )


def _mark_failed(cursor: Any, failures: dict[int, str]) -> None:
    """The claim marked every row processed; the ones the normaliser rejected become failed."""
    for event_id, reason in failures.items():
        cursor.execute(
            f"UPDATE {_table(RawEvent)} SET state = %s, last_error = %s WHERE id = %s",  # noqa: S608 - model metadata only
            [EventState.FAILED.value, reason[:2000], event_id],
        )
