"""Group commit for the ASGI receiver: the webhooks that arrive together share one INSERT.

Each request hands its prepared event to the process's ``GroupCommitWriter`` and waits. One
writer task takes everything waiting, stores it with ONE ``INSERT … VALUES (…), (…)`` whose
rows with a taken dedupe key the table's trigger skips (webhooks/partitions.py; autocommit:
the statement is its own transaction), and only then
answers each request, so every 200 still means "committed in PostgreSQL". Batches form by
themselves: while one commit is in flight the next requests queue up, so a quiet receiver
writes batches of one and a busy one amortises the round trip, the commit and the statement's
overhead over many webhooks (bench/INGEST.md has the figures).

The answers are the same as ``webhooks.ingest.ingest``'s: "stored" for the first delivery of a
key, "duplicate" (and ``deliveries`` bumped, a processed row sent back to the queue; never
waiting for a row a worker holds: webhooks.ingest.BUMP_SQL) for the rest — also for repeats
inside one batch — 400 "unstorable_json" for the one body PostgreSQL refuses (the batch is
halved until it is alone, so the others in its batch are stored), 503 when the database cannot
be reached. Values PostgreSQL cannot store at all (NUL, unpaired surrogates) are refused before
they get here (webhooks.ingest.unstorable_value).
Duplicate and refusal tallies are counted in memory and written at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.utils import timezone

from config import metrics
from webhooks import enqueue, tallies
from webhooks.ingest import (
    BUMP_SQL,
    DATABASE_UNAVAILABLE,
    IngestResult,
    PreparedEvent,
    batch_insert_params,
    batch_insert_sql,
    bump_params,
    database_error,
    unstorable,
)

log = logging.getLogger(__name__)

MAX_BATCH = 500  # events per INSERT: bounds the statement's size and the wait of the first in line
TALLY_INTERVAL = 1.0  # seconds between tally writes
_WARN_EVERY = 30.0
# Keys Django reads from DATABASES["default"]["OPTIONS"] itself; everything else is libpq's.
_DJANGO_OPTIONS = frozenset({"isolation_level", "server_side_binding", "assume_role", "pool", "context"})


def conninfo_from_settings() -> str:
    """A libpq connection string for Django's default database."""
    db = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "dbname": db.get("NAME") or "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "connect_timeout": 5,
        "application_name": "sipdesk-receiver",
    }
    params.update((k, v) for k, v in db.get("OPTIONS", {}).items() if k not in _DJANGO_OPTIONS)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


@dataclass(slots=True)
class _Waiting:
    event: PreparedEvent
    future: asyncio.Future[IngestResult]


@dataclass(slots=True)
class _Key:
    """The requests of one batch that share a dedupe key, in arrival order, and what became of them."""

    waiting: list[_Waiting] = field(default_factory=list)
    stored_id: int | None = None  # this batch inserted the row (its first request is "stored")
    bumped: bool = False  # the other requests were counted as extra deliveries of the row ...
    row_id: int | None = None  # ... which has this id
    repended: bool = False  # ... and was sent back to the classifier's queue (or its count deferred)
    refusal: IngestResult | None = None  # or: why none of them could be stored / counted

    @property
    def repeats(self) -> int:
        return len(self.waiting) - (self.stored_id is not None)

    def answers(self) -> list[IngestResult]:
        event_type = self.waiting[0].event.event_type
        first: list[IngestResult] = []
        if self.stored_id is not None:
            first = [IngestResult(200, "stored", self.stored_id, event_type=event_type)]
        if self.bumped:
            rest = IngestResult(200, "duplicate", self.row_id or self.stored_id, event_type=event_type)
        else:
            rest = self.refusal or DATABASE_UNAVAILABLE
        return first + [rest] * self.repeats


class GroupCommitWriter:
    """One per event loop (so one per receiver process), with its own PostgreSQL connection."""

    def __init__(self, conninfo: str | None = None, *, max_batch: int = MAX_BATCH) -> None:
        self._conninfo = conninfo
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._tallies: Counter[tuple[datetime, str, str]] = Counter()
        self._tallies_written = time.monotonic()
        self._connection: psycopg.AsyncConnection | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._last_warning = 0.0
        self.batches_written = 0  # for tests and the benchmark: how well requests were grouped

    # --- what requests call ------------------------------------------------------------

    async def store(self, event: PreparedEvent) -> IngestResult:
        """Wait until ``event`` is committed (or refused); its answer."""
        self._start()
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(event, future))
        self._wake.set()
        # A client that hangs up cancels only its wait: the event is still stored (and a retry of it
        # is then a duplicate), because the writer owns it from here on.
        return await future

    def tally(self, outcome: str, reason: str = "", count: int = 1) -> None:
        """Count a duplicate or refusal; written with the next tally flush (≤ TALLY_INTERVAL)."""
        self._tallies[tallies.key(outcome, reason)] += count
        self._start()  # a receiver that only refuses still writes its tallies every second

    def _start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sipdesk-group-commit")

    async def close(self) -> None:
        """Store what is waiting, write the tallies, close the connection."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._write_tallies()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    # --- the writer task ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                if self._closing:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TALLY_INTERVAL)
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            if batch:
                try:
                    await self.write(batch)
                except Exception as exc:  # a bug here must not leave requests waiting forever
                    log.exception("group commit failed unexpectedly")
                    _answer_all(batch, database_error(exc))
            if self._tallies and time.monotonic() - self._tallies_written >= TALLY_INTERVAL:
                await self._write_tallies()

    async def write(self, batch: list[_Waiting]) -> None:
        """Store one batch and answer every request in it."""
        self.batches_written += 1
        metrics.BATCH_SIZE.observe(len(batch))
        keys: dict[str, _Key] = {}
        for waiting in batch:
            keys.setdefault(waiting.event.dedupe_key, _Key()).waiting.append(waiting)
        try:
            await self._insert(keys)
            await self._bump(keys)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            # Whatever was committed before the failure keeps its answer; the rest may be retried.
            self._warn(f"database unavailable, answering 503: {exc}")
        except psycopg.Error as exc:
            log.exception("unexpected database error while storing webhooks")
            for entry in keys.values():
                entry.refusal = entry.refusal or database_error(exc)
        for entry in keys.values():
            for waiting, result in zip(entry.waiting, entry.answers(), strict=True):
                _answer(waiting, result)
                if result.status != "stored":
                    self.tally(result.status, result.reason)
        if any(entry.stored_id is not None or entry.repended for entry in keys.values()):
            await _request_processing()

    async def _insert(self, keys: dict[str, _Key]) -> None:
        """One INSERT for the first event of every key; if PostgreSQL refuses a body, find it alone."""
        ordered = sorted(keys)
        try:
            events = [keys[key].waiting[0].event for key in ordered]
            rows = await self._execute(batch_insert_sql(len(events)), batch_insert_params(events))
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the database is out of reach: every request in the batch may be retried
        except (psycopg.Error, ValueError) as exc:
            # The statement failed as a whole (nothing was written), for a reason of its own or of
            # one event's (a value psycopg or PostgreSQL refuses: ValueError covers psycopg's
            # client-side encoding errors). Halve the batch until the culprit is alone, so only it
            # is refused and its neighbours are stored: log2(batch) extra statements per culprit.
            if len(ordered) == 1:
                keys[ordered[0]].refusal = _refusal_for(exc)
            else:
                middle = len(ordered) // 2
                for half in (ordered[:middle], ordered[middle:]):
                    await self._insert({key: keys[key] for key in half})
            return
        for row_id, key in rows:
            keys[key].stored_id = row_id

    async def _bump(self, keys: dict[str, _Key]) -> None:
        """Count the extra deliveries: repeats inside this batch and keys stored before it."""
        repeats = {key: entry.repeats for key, entry in keys.items() if entry.refusal is None and entry.repeats}
        if not repeats:
            return
        ordered = sorted(repeats)
        now = timezone.now()
        rows = await self._execute(BUMP_SQL, bump_params(ordered, [repeats[k] for k in ordered], now))
        for row_id, key, repended, deferred in rows:
            # A deferred count needs a batch to add it, as a row sent back to the queue does.
            keys[key].row_id, keys[key].repended = row_id, repended or deferred
            if deferred:
                metrics.DEFERRED.inc(repeats[key])
        for key in ordered:
            keys[key].bumped = True  # a key whose row has vanished since is answered "duplicate" too

    async def _execute(self, sql: str, params: list[Any]) -> list[tuple]:
        """Run one autocommit statement; reconnect and retry once if the connection failed."""
        for attempt in (1, 2):
            try:
                if self._connection is None or self._connection.closed:
                    conninfo = self._conninfo or conninfo_from_settings()
                    self._connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                async with psycopg.AsyncRawCursor(self._connection) as cursor:  # $n placeholders
                    await cursor.execute(sql, params)
                    return await cursor.fetchall() if cursor.description else []
            except (psycopg.OperationalError, psycopg.InterfaceError):
                if self._connection is not None and (self._connection.closed or self._connection.broken):
                    with contextlib.suppress(Exception):
                        await self._connection.close()
                    self._connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _write_tallies(self) -> None:
        if not self._tallies:
            return
        counts, self._tallies = self._tallies, Counter()
        self._tallies_written = time.monotonic()
        minutes, outcomes, reasons = zip(*counts, strict=True)
        try:
            params = [list(minutes), list(outcomes), list(reasons), list(counts.values())]
            await self._execute(tallies.BATCH_UPSERT_SQL, params)
        except psycopg.Error as exc:
            self._tallies.update(counts)  # kept for the next try
            self._warn(f"could not write receiver tallies: {exc}")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning > _WARN_EVERY:
            self._last_warning = now
            log.warning(message)


def _refusal_for(exc: BaseException) -> IngestResult:
    """The answer for one event its own INSERT could not store."""
    if isinstance(exc, psycopg.DataError | ValueError):
        return unstorable(exc)  # 400: the body itself cannot be stored; a retry would fail the same way
    log.error("a webhook could not be stored: %s", exc)
    return database_error(exc)  # 503: maybe passing (a deadlock, a lock timeout); 8x8 retries


def _answer(waiting: _Waiting, result: IngestResult) -> None:
    if not waiting.future.done():  # a request whose client hung up was cancelled
        waiting.future.set_result(result)


def _answer_all(batch: list[_Waiting], result: IngestResult) -> None:
    for waiting in batch:
        _answer(waiting, result)


async def _request_processing() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # In-process classification uses Django's (synchronous) ORM: never on the event loop.
        await asyncio.to_thread(enqueue.request_processing)
    else:
        enqueue.request_processing()  # only raises a flag for the publisher thread
