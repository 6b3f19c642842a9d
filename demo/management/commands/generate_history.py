"""Bulk-create months of realistic, already-classified history for benchmarks and demos.

    manage.py generate_history --sessions 1000000 --days 30 --seed 7

Rows go in with PostgreSQL COPY (psycopg), chunk by chunk, from one process per CPU (``--jobs``).
Each chunk counts its sessions and final codes into minute buckets for the last two days (what
the pipeline keeps) and hour buckets for everything, staged in unlogged tables in the chunk's
own transaction; at the end the rollups are summed from them, days from hours, so they agree
with the rows exactly. Raw events are lighter than live traffic: one summary per session and
one CALL_DISCONNECTED per leg, each with its classification."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import queue
import random
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from classify import rollups, rules
from classify.models import CallLeg, EventClassification, Session, SessionRollup
from classify.models import CodeRollup as CodeRollupModel
from classify.rules import fault_side
from config.db import analyze
from demo import spawned
from webhooks import partitions
from webhooks.models import DedupeKey, RawEvent

PRODUCTS = (("IVR", 35), ("VOICE_MESSAGING", 40), ("NUMBER_MASKING", 25))
SUB_ACCOUNTS = ("acme_sg", "acme_lk", "shopfast_id", "ridego_sg", "medbook_in", "bankly_us", "telco_gb", "foodnow_ph")
COUNTRIES = (("SG", "+65", 8), ("LK", "+94", 9), ("ID", "+62", 10), ("IN", "+91", 10), ("US", "+1", 10),
             ("GB", "+44", 10), ("PH", "+63", 10), ("MY", "+60", 9))  # fmt: skip
COUNTRY_WEIGHTS = (30, 12, 14, 12, 10, 8, 8, 6)
# (status, outcome group, weight, leg SIP codes with weights, 8x8 error codes)
OUTCOMES = [
    ("COMPLETED", "answered", 680, [(200, 1)], []),
    ("NO_ANSWER", "not_answered", 95, [(480, 6), (408, 3), (0, 1)], []),
    ("BUSY", "not_answered", 80, [(486, 9), (600, 1)], []),
    ("CANCELED", "not_answered", 30, [(487, 1)], []),
    (
        "FAILED",
        "failed",
        65,
        [(503, 5), (404, 3), (484, 2), (403, 2), (500, 1), (502, 1), (488, 1), (499, 1), (603, 1)],
        [],
    ),
    ("ERROR", "error", 40, [], [(-2004, 4), (-2002, 2), (-2003, 2), (-2010, 1), (-2001, 1), (-9999, 1)]),
    ("COMPLETED_UNSUBSCRIBED", "opt_out", 10, [(200, 1)], []),
]
SESSION_ROLLUP_DIMENSIONS = [
    "sub_account_id", "product", "status", "outcome_group", "fault_side", "destination_country", "direction",
    "primary_sip_code", "error_code",
]  # fmt: skip
FAULT = {"answered": "none", "opt_out": "none"}


class _Weighted:
    """Values with weights, drawn from with cumulative weights worked out once (``random.choices``
    otherwise adds them up on every draw, millions of times)."""

    def __init__(self, weighted: list[tuple[Any, int]]) -> None:
        self.values = [value for value, _ in weighted]
        self.cum_weights = list(itertools.accumulate(weight for _, weight in weighted))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cum_weights)[0]


PICK_OUTCOME = _Weighted([(outcome, outcome[2]) for outcome in OUTCOMES])
PICK_PRODUCT = _Weighted(list(PRODUCTS))
PICK_COUNTRY = _Weighted(list(zip(COUNTRIES, COUNTRY_WEIGHTS, strict=True)))
PICK_SIP_CODE = {outcome[0]: _Weighted(outcome[3]) for outcome in OUTCOMES if outcome[3]}
PICK_ERROR_CODE = {outcome[0]: _Weighted(outcome[4]) for outcome in OUTCOMES if outcome[4]}


def _number(rng: random.Random, country: tuple[str, str, int]) -> str:
    _, prefix, length = country
    return prefix + str(rng.randrange(10 ** (length - 1), 10**length))


@dataclass(frozen=True)
class _Plan:
    """What every chunk needs, the same in every process: chunk ``index`` of ``size`` sessions
    draws from its own seeded generator and takes ids at fixed offsets from the reserved ranges,
    so the rows do not depend on which process made them or in what order."""

    now: datetime
    days: int
    raw_since: datetime
    seed: int
    subs: tuple[str, ...]
    sub_weights: tuple[float, ...]
    events: bool
    first_session_id: int
    first_leg_id: int
    first_event_id: int


class Command(BaseCommand):
    help = "Bulk-create realistic classified history (sessions, legs, raw events, rollups) for benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sessions", type=int, required=True)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--chunk", type=int, default=10_000)
        parser.add_argument(
            "--sub-accounts", type=int, default=len(SUB_ACCOUNTS), help="how many sub-accounts (bench/alerts.py: 500)"
        )
        parser.add_argument("--no-events", action="store_true", help="skip raw events and classifications")
        parser.add_argument(
            "--raw-days",
            type=int,
            default=None,
            help="raw events only for the sessions of the last N days, as raw retention would leave them"
            " (default: every day)",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="processes making and loading chunks, and connections building indexes (default: one per"
            " CPU); inside a transaction (a test) everything runs on its connection",
        )

    def handle(self, *args: Any, sessions: int, days: int, seed: int, chunk: int, no_events: bool, **kw: Any) -> None:
        if sessions < 1 or days < 1 or chunk < 1:
            raise CommandError("--sessions, --days and --chunk must be at least 1")
        if Session.objects.filter(session_id=_first_session_uuid(seed)).exists():
            # Its sessions would collide with those already loaded, deep in a loading process.
            raise CommandError(
                f"this database already holds the sessions of --seed {seed} (a seed always makes the same"
                " sessions): pass another --seed"
            )
        quiet = kw.get("verbosity", 1) == 0
        say = (lambda text: None) if quiet else self.stdout.write
        detail = self.stdout.write if kw.get("verbosity", 1) >= 2 else (lambda text: None)  # each task's time
        # Another process cannot see the caller's transaction: one job then, on its connection.
        jobs = 1 if connection.in_atomic_block else max(1, kw.get("jobs") or len(os.sched_getaffinity(0)))
        # The named ones first, then sub_0009…: a long tail, busiest first (weights 1/rank).
        wanted = max(1, kw.get("sub_accounts") or len(SUB_ACCOUNTS))
        subs = [*SUB_ACCOUNTS, *(f"sub_{i:04d}" for i in range(len(SUB_ACCOUNTS) + 1, wanted + 1))][:wanted]
        now = timezone.now()
        raw_days = days if kw.get("raw_days") is None else max(0, min(kw["raw_days"], days))
        events = not no_events
        plan = _Plan(
            now=now,
            days=days,
            raw_since=now - timedelta(days=raw_days),
            seed=seed,
            subs=tuple(subs),
            sub_weights=tuple(itertools.accumulate(1 / (i + 1) for i in range(len(subs)))),
            events=events,
            # Per session at most two legs and three raw events (two leg statuses and a summary).
            first_session_id=_reserve(Session, sessions),
            first_leg_id=_reserve(CallLeg, sessions * 2),
            first_event_id=_reserve(RawEvent, sessions * 3) if events else 0,
        )
        if events:  # day partitions for the raw events, rather than the DEFAULT partition
            partitions.ensure_partitions(
                (plan.raw_since - timedelta(days=1)).astimezone(UTC).date(), now.astimezone(UTC).date()
            )
        chunks = [
            (index, offset, min(chunk, sessions - offset)) for index, offset in enumerate(range(0, sessions, chunk))
        ]
        clock = _Clock(say)
        _create_stages()
        try:
            dropped = _drop_secondary_indexes([Session, CallLeg, EventClassification])
            loaded = False
            try:
                counts = _load(plan, chunks) if jobs == 1 else _load_in_processes(plan, chunks, jobs)
                # Closed on the way out: a failed or interrupted load stops its processes before
                # the indexes are built again.
                with closing(counts), tqdm(total=sessions, unit="session", disable=quiet) as bar:
                    for n in counts:
                        bar.update(n)
                loaded = True
                clock.lap(f"loaded {sessions} sessions ({jobs} process{'es' if jobs > 1 else ''})")
            finally:
                # The indexes come back even after a failed load; rollups only after a whole one.
                # The number search's week index (GIN) first: it builds on one core and takes
                # longest, while the other connections build the rest and write the rollups.
                indexes = sorted(dropped, key=lambda definition: " USING gin " not in definition)
                tasks: list[Callable[[], int | None]] = [partial(_build_index, d) for d in indexes]
                if loaded:
                    tasks += [partial(_write_rollups, model) for model in STAGED]
                results = _in_parallel(tasks, jobs, detail)
            session_rows, code_rows = (n or 0 for n in results[len(indexes) :])
            clock.lap(f"built {len(indexes)} indexes and wrote {session_rows + code_rows} rollup rows")
        finally:
            _drop_stages()
        touched = [CallLeg, Session, SessionRollup, CodeRollupModel]
        if events:  # the partitioned raw events first: the longest to vacuum
            touched = [RawEvent, *touched, EventClassification, DedupeKey]
        tables = [m._meta.db_table for m in touched]
        _in_parallel([partial(analyze, [table], vacuum=True) for table in tables], jobs, detail)
        clock.lap("vacuumed and analysed")
        self.stdout.write(
            f"{sessions} sessions over {days} days in {clock.total():.0f} s; {session_rows} session"
            f" and {code_rows} code rollup rows"
        )


class _Clock:
    """The time each phase took, said as it ends (bench figures name the slow phase)."""

    def __init__(self, say: Callable[[str], Any]) -> None:
        self.say, self.start = say, time.monotonic()
        self.last = self.start

    def lap(self, what: str) -> None:
        moment = time.monotonic()
        self.say(f"{what} in {moment - self.last:.1f} s")
        self.last = moment

    def total(self) -> float:
        return time.monotonic() - self.start


# --- loading chunks ------------------------------------------------------------------------


def _load(plan: _Plan, chunks: list[tuple[int, int, int]]) -> Generator[int, None, None]:
    """Load the chunks here, one after the other; yields each one's sessions once committed."""
    for index, offset, n in chunks:
        _Chunk(plan, index, offset).load(n)
        yield n


def _load_in_processes(plan: _Plan, chunks: list[tuple[int, int, int]], jobs: int) -> Generator[int, None, None]:
    """Share the chunks out among ``jobs`` processes, each with its own connection, and start
    them; what it returns gives each chunk's sessions once committed, and stops the processes
    when closed early. While one process makes rows in Python, PostgreSQL loads another's (in
    one process the two took turns)."""
    context = multiprocessing.get_context("spawn")  # demo/spawned.py says why not fork
    done = context.Queue()
    database = connection.settings_dict["NAME"]
    workers = [
        context.Process(
            target=spawned.run,
            # The plan as a dict: unpickling a _Plan would import this module before Django is set up.
            args=(settings.SETTINGS_MODULE, database, f"{__name__}:_load_shard", asdict(plan), chunks[k::jobs], done),
        )
        for k in range(jobs)
    ]
    for worker in workers:
        worker.start()
    return _progress(workers, done, sum(n for _, _, n in chunks))


def _progress(workers: list[Any], done: Any, remaining: int) -> Generator[int, None, None]:
    try:
        while remaining:
            try:
                n = done.get(timeout=1)
            except queue.Empty:
                failed = [worker.exitcode for worker in workers if worker.exitcode not in (None, 0)]
                if failed:
                    raise CommandError(
                        f"a loading process failed (exit code {failed[0]}; a traceback, if any, is above)"
                    ) from None
                continue
            remaining -= n
            yield n
    finally:
        for worker in workers:
            if remaining:
                worker.terminate()
            worker.join()


def _load_shard(plan: dict[str, Any], chunks: list[tuple[int, int, int]], done: Any) -> None:
    """One process's share of the chunks (through demo/spawned.py)."""
    for n in _load(_Plan(**plan), chunks):
        done.put(n)


class _Chunk:
    """One chunk's rows, and its rollup counts staged beside them in the same transaction."""

    def __init__(self, plan: _Plan, index: int, offset: int) -> None:
        self.plan = plan
        self.rng = _chunk_rng(plan.seed, index)
        self.offset = offset
        # Per rollup table: bucket key → its measures (STAGED), summed over the chunk.
        self.counts: dict[type[models.Model], dict[tuple, list[int]]] = {model: {} for model in STAGED}

    def load(self, n: int) -> None:
        plan, rng, now = self.plan, self.rng, self.plan.now
        sessions, legs, raws, classes = [], [], [], []
        span = plan.days * 86400
        few_subs = len(plan.subs) <= len(SUB_ACCOUNTS)
        for i in range(n):
            sid = plan.first_session_id + self.offset + i
            # The first draw, so that ``_first_session_uuid`` can tell whether a seed ran before.
            session_uuid = _uuid(rng)
            # Busier by day than by night: accept a start more often the nearer it is to 13:00 UTC.
            while True:
                start = now - timedelta(seconds=rng.random() * span)
                if rng.random() < 0.35 + 0.65 * (1 - abs(start.hour - 13) / 13):
                    break
            start = start.replace(microsecond=0)
            status, outcome, *_ = PICK_OUTCOME.pick(rng)
            product = PICK_PRODUCT.pick(rng)
            if status == "COMPLETED_UNSUBSCRIBED":
                product = "VOICE_MESSAGING"
            in_progress = start > now - timedelta(minutes=2) and rng.random() < 0.5
            if few_subs:
                sub = plan.subs[min(int(rng.expovariate(0.6)), len(plan.subs) - 1)]
            else:
                sub = rng.choices(plan.subs, cum_weights=plan.sub_weights)[0]
            country = PICK_COUNTRY.pick(rng)
            home = COUNTRIES[0]
            code = PICK_SIP_CODE[status].pick(rng) if status in PICK_SIP_CODE else None
            error = PICK_ERROR_CODE[status].pick(rng) if status in PICK_ERROR_CODE else None
            connected = status in ("COMPLETED", "COMPLETED_UNSUBSCRIBED")
            talk = int(rng.expovariate(1 / 70)) + 5 if connected else 0
            ring = rng.randint(2, 30)
            end = start + timedelta(seconds=ring + talk)
            n_legs = 2 if product == "NUMBER_MASKING" else 1
            anomalies = []
            if rng.random() < 0.02:
                anomalies.append("out_of_order")
            if rng.random() < 0.03:
                anomalies.append("duplicate_delivery")
            if code == 499 or (code is not None and rng.random() < 0.002):
                anomalies.append("unknown_enum_value")
            if in_progress:
                status, outcome, code, error = "IN_PROGRESS", "in_progress", None, None
            if code is not None and code != 200:
                cause, kind = str(code), "sip"
            elif error is not None:
                cause, kind = str(error), "error_code"
            elif status not in ("COMPLETED", "IN_PROGRESS"):
                cause, kind = status, "status"
            else:
                cause, kind = "", "none"
            fault = FAULT.get(outcome) or fault_side(sip_code=code, error_code=error, status=status)
            if outcome == "in_progress":
                fault = "none"
            sessions.append(
                {
                    "id": sid, "session_id": session_uuid, "sub_account_id": sub, "product": product,
                    "status": status, "outcome_group": outcome, "fault_side": fault,
                    "start_time": start, "end_time": None if in_progress else end,
                    "duration_seconds": None if in_progress else ring + talk,
                    "last_action": "MAKE_CALL" if product != "VOICE_MESSAGING" else "SAY",
                    "call_count": n_legs, "error_code": error,
                    "error_message": "" if error is None else "See the 8x8 voice error code table",
                    "primary_cause": cause, "primary_cause_kind": kind,
                    "primary_sip_code": code if kind == "sip" else None,
                    "destination_country": country[0], "direction": "INBOUND" if n_legs == 2 else "OUTBOUND",
                    "anomalies": json.dumps(anomalies) if anomalies else "[]",
                    "first_event_at": start, "last_event_at": end,
                    # _raw: every event of a session arrives within a second of its end (kept or not)
                    "first_received_at": end, "last_received_at": end + timedelta(seconds=1),
                    "summary_received": not in_progress, "updated_at": end if not in_progress else now,
                    "rollup_at": start,
                }
            )  # fmt: skip
            self._count_session(start, sessions[-1], ring * 1000 if connected else None)
            callee = _number(rng, country)
            vn = _number(rng, home)
            leg_rows: list[dict[str, Any]] = []
            for leg_n in range(n_legs):
                lid = plan.first_leg_id + 2 * (self.offset + i) + leg_n
                direction = "INBOUND" if (n_legs == 2 and leg_n == 0) else "OUTBOUND"
                leg_code = 200 if (n_legs == 2 and leg_n == 0) else code
                leg: dict[str, Any] = {
                    "id": lid, "session_id": sid, "call_id": _uuid(rng),
                    "leg_key": "callA" if leg_n == 0 else "callB", "direction": direction, "call_type": "PSTN",
                    "source": vn if direction == "OUTBOUND" else callee,
                    "destination": callee if direction == "OUTBOUND" else vn,
                    "source_country": home[0] if direction == "OUTBOUND" else country[0],
                    "destination_country": country[0] if direction == "OUTBOUND" else home[0],
                    "status": "CALL_CONNECTED" if in_progress else "CALL_DISCONNECTED",
                    "status_at": end,
                    "final_status": "" if in_progress else (status if status != "ERROR" else "FAILED"),
                    "last_sip_code": leg_code, "last_sip_code_at": end, "final_sip_code": leg_code,
                    "initiated_at": start + timedelta(seconds=leg_n),
                    "connected_at": start + timedelta(seconds=ring) if connected else None,
                    "disconnected_at": None if in_progress else end, "duration_seconds": talk,
                    "mos": round(rng.uniform(3.4, 4.6), 2) if connected else None,
                    "packet_loss_rate": round(rng.random() * 0.02, 4) if connected else None,
                    "jitter_ms": rng.randint(5, 40) if connected else None,
                }  # fmt: skip
                legs.append(leg)
                leg_rows.append(leg)
                if leg_code is not None and not in_progress:
                    self._count_code(end, str(leg_code), leg["direction"], leg["destination_country"], sub)
            if not plan.events or start < plan.raw_since:
                continue
            event_i = 0  # this session's events: ids 3 × its place + 0, 1, 2
            for leg in leg_rows:
                if in_progress or leg["final_sip_code"] is None:
                    continue
                eid = plan.first_event_id + 3 * (self.offset + i) + event_i
                event_i += 1
                body = _vcs_body(leg, session_uuid, sub, end, rng)
                raws.append(
                    _raw(
                        eid,
                        "CALL_STATUS",
                        body["payload"]["eventId"],
                        session_uuid,
                        leg["call_id"],
                        sub,
                        body,
                        end,
                        rng,
                    )
                )
                classes.append(
                    _classification(eid, sid, leg["id"], end, "CALL_DISCONNECTED", leg["final_sip_code"], outcome, True)
                )
            if not in_progress:
                eid = plan.first_event_id + 3 * (self.offset + i) + event_i
                body = _vss_body(sessions[-1], session_uuid, leg_rows)
                raws.append(
                    _raw(
                        eid, "SESSION_SUMMARY", f"SESSION_SUMMARY:{session_uuid}", session_uuid, "", sub, body, end, rng
                    )
                )
                classes.append(_classification(eid, sid, None, end, status, None, outcome, True))
        with transaction.atomic():
            _copy(Session, sessions)
            _copy(CallLeg, legs)
            if plan.events:
                _copy(RawEvent, raws)
                _copy(EventClassification, classes)
            for model, counts in self.counts.items():
                _stage(model, counts)

    def _count_session(self, start: datetime, row: dict, answer_delay_ms: int | None) -> None:
        # Minutes and hours only: the days are summed from the hours when the rollups are written.
        dims = tuple(row[k] for k in SESSION_ROLLUP_DIMENSIONS)
        answered = row["duration_seconds"] or 0 if row["outcome_group"] == "answered" else 0
        # As classify.pipeline's ANSWER_DELAY_SQL: the first leg is initiated at the start.
        delay = answer_delay_ms if row["outcome_group"] == "answered" else None
        counts = self.counts[SessionRollup]
        for size, bucket in _buckets(start, self.plan.now):
            measures = counts.setdefault((size, bucket, *dims), [0, 0, 0, 0])
            measures[0] += 1
            measures[1] += answered
            if delay is not None:
                measures[2] += delay
                measures[3] += 1

    def _count_code(self, when: datetime, code: str, direction: str, country: str, sub: str) -> None:
        sip_class = f"{code[0]}xx" if len(code) == 3 and code[0] in "123456" else "invalid"
        counts = self.counts[CodeRollupModel]
        for size, bucket in _buckets(when, self.plan.now):
            counts.setdefault((size, bucket, code, sip_class, direction, country, sub), [0])[0] += 1


def _buckets(moment: datetime, now: datetime) -> list[tuple[str, datetime]]:
    hour = ("hour", rollups.floor(moment, "hour"))
    if moment >= now - rollups.MINUTE_RETENTION:
        return [("minute", rollups.floor(moment, "minute")), hour]
    return [hour]


def _chunk_rng(seed: int, index: int) -> random.Random:
    """The generator chunk ``index`` draws from: its own, so no chunk depends on another."""
    return random.Random(f"{seed}:{index}")


def _first_session_uuid(seed: int) -> str:
    """The session id a run with ``seed`` gives its first session (``_Chunk.load``)."""
    return _uuid(_chunk_rng(seed, 0))


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``: ``str(uuid.UUID(int=…, version=4))``, five
    times faster (three per session)."""
    bits = rng.getrandbits(128) & ~(0xC000 << 48) & ~(0xF000 << 64) | (0x8000 << 48) | (0x4000 << 64)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _vcs_body(leg: dict, session_uuid: str, sub: str, when: datetime, rng: random.Random) -> dict:
    return {
        "namespace": "VOICE",
        "eventType": "CALL_STATUS",
        "description": "Status update of a call",
        "payload": {
            "eventId": _uuid(rng), "callId": leg["call_id"], "sessionId": session_uuid, "subAccountId": sub,
            "callStatus": "CALL_DISCONNECTED", "callDirection": leg["direction"], "callType": "PSTN",
            "source": leg["source"], "destination": leg["destination"], "sourceFormat": "MSISDN",
            "destinationFormat": "MSISDN", "sourceCountryCode": leg["source_country"],
            "destinationCountryCode": leg["destination_country"], "callDuration": leg["duration_seconds"],
            "sipCode": leg["final_sip_code"],
            "timestamp": when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        },
    }  # fmt: skip


def _vss_body(session: dict, session_uuid: str, legs: list[dict]) -> dict:
    details = {}
    for leg in legs:
        entry = {
            "callId": leg["call_id"], "callDirection": leg["direction"], "callType": "PSTN",
            "initiatedTimestamp": _stamp(leg["initiated_at"]), "disconnectedTimestamp": _stamp(session["end_time"]),
            "source": leg["source"], "destination": leg["destination"], "sourceFormat": "MSISDN",
            "destinationFormat": "MSISDN", "sourceCountryCode": leg["source_country"],
            "destinationCountryCode": leg["destination_country"], "callStatus": leg["final_status"],
            "callDuration": leg["duration_seconds"],
        }  # fmt: skip
        if leg["connected_at"]:
            entry["connectedTimestamp"] = _stamp(leg["connected_at"])
            entry["callQuality"] = {
                "mos": leg["mos"],
                "packetLossRate": leg["packet_loss_rate"],
                "jitter": leg["jitter_ms"],
            }
        details[leg["leg_key"]] = entry
    payload = {
        "sessionId": session_uuid, "subAccountId": session["sub_account_id"], "sessionStatus": session["status"],
        "startTime": _stamp(session["start_time"]), "endTime": _stamp(session["end_time"]),
        "lastAction": session["last_action"], "callCount": len(legs), "details": details,
    }  # fmt: skip
    if session["error_code"] is not None:
        payload["errorDetails"] = {"errorCode": session["error_code"], "errorMsg": session["error_message"]}
    return {
        "namespace": "VOICE",
        "eventType": "SESSION_SUMMARY",
        "description": "Summary of a completed call session",
        "payload": payload,
    }


def _raw(
    eid: int,
    kind: str,
    key: str,
    session_uuid: str,
    call_id: str,
    sub: str,
    body: dict,
    when: datetime,
    rng: random.Random,
) -> dict:
    text = json.dumps(body)
    arrived = when + timedelta(milliseconds=rng.randint(40, 900))
    return {
        "id": eid, "received_at": arrived, "event_type": kind, "dedupe_key": key, "session_id": session_uuid,
        "call_id": call_id, "sub_account_id": sub, "body": text, "remote_addr": "203.0.113.10",
        "user_agent": "8x8-webhooks/1.0", "content_length": len(text), "deliveries": 1, "last_delivered_at": arrived,
        "state": "processed", "attempts": 1, "last_error": "", "processed_at": arrived + timedelta(milliseconds=300),
    }  # fmt: skip


def _classification(
    eid: int, sid: int, leg_id: int | None, when: datetime, status: str, code: int | None, outcome: str, final: bool
) -> dict:
    sip_class = rules.sip_class(code)
    return {
        "event_id": eid, "session_id": sid, "call_leg_id": leg_id, "event_time": when, "call_status": status,
        "sip_code": code, "sip_code_raw": "" if code is None else str(code), "sip_class": sip_class,
        "is_final": final, "outcome_group": outcome, "retry_advice": "", "responsibility": "",
        "troubleshooting_ids": "[]", "anomalies": "[]", "classified_at": when,
    }  # fmt: skip


# --- indexes -------------------------------------------------------------------------------


def _drop_secondary_indexes(tables: list[type[models.Model]]) -> list[str]:
    """On empty tables, drop their secondary indexes for the load; returns their definitions, for
    ``_build_index`` at the end.

    Keeping a dozen B-tree indexes and the number search's GIN index up to date row by row made
    PostgreSQL's COPY the bottleneck (5,000,000 sessions took over 20 minutes); one sorted build
    per index at the end is several times cheaper. Indexes behind a constraint (primary keys,
    unique) stay: dropping those and the foreign keys as well, to check them once at the end,
    made no difference that could be measured (total CPU of 300,000 sessions 146–150 s with,
    142–149 s without). Tables that already hold rows keep their indexes: the command only adds
    to them then."""
    saved: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        for model in tables:
            table = model._meta.db_table
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")  # noqa: S608 - model metadata only
            if cursor.fetchone()[0]:
                continue
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
                " AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                " WHERE c.conname = i.indexname AND c.conrelid = %s::regclass)",
                [table, table],
            )
            saved += cursor.fetchall()
        for name, _ in saved:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [definition for _, definition in saved]


def _build_index(definition: str) -> None:
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            # Inside a caller's transaction (a test), deferred foreign-key checks must run first:
            # PostgreSQL will not build an index on a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")


def _in_parallel[T](tasks: list[Callable[[], T]], jobs: int, say: Callable[[str], Any]) -> list[T]:
    """Run the tasks, in their order, on ``jobs`` threads each with its own connection (Django's
    are per thread), or on this one when ``jobs`` is 1 (inside a caller's transaction); returns
    their results in the same order. ``say`` hears how long each took."""

    def timed(task: Callable[[], T]) -> T:
        start = time.monotonic()
        result = task()
        say(f"  {_describe(task)}: {time.monotonic() - start:.1f} s")
        return result

    if jobs == 1:
        return [timed(task) for task in tasks]

    def on_own_connection(task: Callable[[], T]) -> T:
        try:
            return timed(task)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(on_own_connection, tasks))


def _describe(task: Callable[..., Any]) -> str:
    """ "_build_index callleg_number_week_idx", "_write_rollups SessionRollup", "analyze ['…']"."""
    if not isinstance(task, partial) or not task.args:
        return repr(task)
    subject = task.args[0]
    if isinstance(subject, str):  # an index definition: its name
        subject = subject.split(" ON ", 1)[0].rsplit(" ", 1)[-1]
    return f"{task.func.__name__} {getattr(subject, '__name__', subject)}"


# --- rollups -------------------------------------------------------------------------------

# Each rollup table's key as the chunks count it (bucket size and start first), and its measures.
STAGED: dict[type[models.Model], tuple[tuple[str, ...], tuple[str, ...]]] = {
    SessionRollup: (
        ("bucket_size", "bucket_start", *SESSION_ROLLUP_DIMENSIONS),
        ("count", "answered_seconds", "answer_delay_ms", "answer_delay_count"),
    ),
    CodeRollupModel: (
        ("bucket_size", "bucket_start", "sip_code", "sip_class", "direction", "destination_country", "sub_account_id"),
        ("count",),
    ),
}


def _stage_table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(f"generate_history_{model._meta.db_table}")


def _create_stages() -> None:
    """An unlogged table per rollup beside the real one: each chunk adds its counts there in its
    own transaction (from whichever process), and ``_write_rollups`` sums them once at the end."""
    with connection.cursor() as cursor:
        for model, (key, measures) in STAGED.items():
            stage = _stage_table(model)
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            cursor.execute(
                f"CREATE UNLOGGED TABLE {stage} AS SELECT {', '.join(key + measures)}"  # noqa: S608 - model metadata only
                f" FROM {connection.ops.quote_name(model._meta.db_table)} WITH NO DATA"
            )


def _drop_stages() -> None:
    with connection.cursor() as cursor:
        for model in STAGED:
            cursor.execute(f"DROP TABLE IF EXISTS {_stage_table(model)}")


def _stage(model: type[models.Model], counts: dict[tuple, list[int]]) -> None:
    key, measures = STAGED[model]
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {_stage_table(model)} ({', '.join(key + measures)}) FROM STDIN") as copy,
    ):
        for bucket, values in counts.items():
            copy.write_row((*bucket, *values))


def _write_rollups(model: type[models.Model]) -> int:
    """Sum the staged counts into the rollup table, days summed from hours as the pipeline does
    (classify/rollups.py); returns the rows written. In bucket order, as the pipeline writes them
    over time: a window's rows sit together on disk, as in a real database. Meant for an empty
    (bench or demo) database: a bucket that already exists takes our count."""
    key, measures = STAGED[model]
    dims = ", ".join(key[2:])
    sums = ", ".join(f"sum({m})" for m in measures)
    (unique,) = (c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint))
    conflict = ", ".join(unique.fields)  # plain fields: their columns bear their names
    stage = _stage_table(model)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(key + measures)})"  # noqa: S608 - model metadata only
        f" SELECT * FROM (SELECT bucket_size, bucket_start, {dims}, {sums} FROM {stage} GROUP BY 1, 2, {dims}"
        f" UNION ALL SELECT 'day', date_trunc('day', bucket_start, 'UTC'), {dims}, {sums} FROM {stage}"
        f" WHERE bucket_size = 'hour' GROUP BY 1, 2, {dims}) rows ORDER BY 1, 2"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Millions of rows grouped and sorted: in memory rather than in temporary files.
        cursor.execute("SET LOCAL work_mem = '512MB'")
        if model._default_manager.exists():  # ON CONFLICT costs a check per row: only when needed
            sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(f'{m} = EXCLUDED.{m}' for m in measures)}"
        cursor.execute(sql)
        return cursor.rowcount


# --- loading -------------------------------------------------------------------------------


def _reserve(model: type[models.Model], n: int) -> int:
    """Take n ids from the table's sequence in one step, so live inserts never collide with ours."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + n])
    return first


def _copy(model: type[models.Model], rows: Iterable[dict]) -> None:
    """COPY ``rows`` into ``model``'s table; a field a row leaves out takes its default."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields if f.column)
    # Field.get_default() gives "" for blank CharFields, as the ORM would; JSON goes in as text.
    defaults = {
        f.attname: json.dumps(f.get_default()) if isinstance(f, models.JSONField) else f.get_default() for f in fields
    }
    values = itemgetter(*(f.attname for f in fields))
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(values({**defaults, **row}))
