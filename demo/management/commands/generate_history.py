"""Bulk-create months of realistic, already-classified history for benchmarks and demos.

    manage.py generate_history --sessions 1000000 --days 30 --seed 7

Rows go in with PostgreSQL COPY (psycopg), chunk by chunk, with the rollups computed in memory
so they agree with the rows exactly: minute buckets for the last two days (what the pipeline
keeps), hour buckets for everything. Raw events are lighter than live traffic: one summary per
session and one CALL_DISCONNECTED per leg, each with its classification.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from classify import rollups, rules
from classify.models import CallLeg, EventClassification, Session, SessionRollup
from classify.models import CodeRollup as CodeRollupModel
from classify.rules import fault_side
from config.db import analyze
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


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _number(rng: random.Random, country: tuple[str, str, int]) -> str:
    _, prefix, length = country
    return prefix + str(rng.randrange(10 ** (length - 1), 10**length))


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

    def handle(self, *args: Any, sessions: int, days: int, seed: int, chunk: int, no_events: bool, **kw: Any) -> None:
        rng = random.Random(seed)
        # The named ones first, then sub_0009…: a long tail, busiest first (weights 1/rank).
        wanted = max(1, kw.get("sub_accounts") or len(SUB_ACCOUNTS))
        self.subs = [*SUB_ACCOUNTS, *(f"sub_{i:04d}" for i in range(len(SUB_ACCOUNTS) + 1, wanted + 1))][:wanted]
        self.sub_weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(self.subs))))
        now = timezone.now()
        self.now, self.rng, self.days = now, rng, days
        raw_days = days if kw.get("raw_days") is None else max(0, min(kw["raw_days"], days))
        self.raw_since = now - timedelta(days=raw_days)
        self.session_roll: Counter = Counter()
        self.session_seconds: Counter = Counter()
        self.answer_delay_ms: Counter = Counter()
        self.answer_delay_count: Counter = Counter()
        self.code_roll: Counter = Counter()
        session_ids = _reserve(Session, sessions)
        if not no_events:  # day partitions for the raw events, rather than the DEFAULT partition
            partitions.ensure_partitions(
                (self.raw_since - timedelta(days=1)).astimezone(UTC).date(), now.astimezone(UTC).date()
            )
        quiet = kw.get("verbosity", 1) == 0
        with (
            _indexes_built_afterwards(
                [Session, CallLeg, EventClassification], say=None if quiet else self.stdout.write
            ),
            tqdm(total=sessions, unit="session", disable=quiet) as bar,
        ):
            done = 0
            while done < sessions:
                n = min(chunk, sessions - done)
                self._chunk(session_ids + done, n, events=not no_events)
                done += n
                bar.update(n)
        with transaction.atomic():
            self._write_rollups()
        models_touched = [Session, CallLeg, SessionRollup, CodeRollupModel]
        if not no_events:
            models_touched += [RawEvent, DedupeKey, EventClassification]
        analyze([m._meta.db_table for m in models_touched], vacuum=True)
        self.stdout.write(
            f"{sessions} sessions over {days} days; {len(self.session_roll)} session and "
            f"{len(self.code_roll)} code rollup rows"
        )

    # --- one chunk -------------------------------------------------------------------------

    def _chunk(self, first_id: int, n: int, *, events: bool) -> None:
        rng, now = self.rng, self.now
        sessions, legs, raws, classes = [], [], [], []
        leg_ids = _reserve(CallLeg, n * 2)
        event_ids = _reserve(RawEvent, n * 3) if events else 0
        leg_i = event_i = 0
        span = self.days * 86400
        for i in range(n):
            sid = first_id + i
            # Busier by day than by night: accept a start more often the nearer it is to 13:00 UTC.
            while True:
                start = now - timedelta(seconds=rng.random() * span)
                if rng.random() < 0.35 + 0.65 * (1 - abs(start.hour - 13) / 13):
                    break
            start = start.replace(microsecond=0)
            status, outcome, _, codes, errors = rng.choices(OUTCOMES, weights=[o[2] for o in OUTCOMES])[0]
            product = _pick(rng, list(PRODUCTS))
            if status == "COMPLETED_UNSUBSCRIBED":
                product = "VOICE_MESSAGING"
            in_progress = start > now - timedelta(minutes=2) and rng.random() < 0.5
            if len(self.subs) <= len(SUB_ACCOUNTS):
                sub = self.subs[min(int(rng.expovariate(0.6)), len(self.subs) - 1)]
            else:
                sub = rng.choices(self.subs, cum_weights=self.sub_weights)[0]
            country = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
            home = COUNTRIES[0]
            code = _pick(rng, codes) if codes else None
            error = _pick(rng, errors) if errors else None
            connected = status in ("COMPLETED", "COMPLETED_UNSUBSCRIBED")
            talk = int(rng.expovariate(1 / 70)) + 5 if connected else 0
            ring = rng.randint(2, 30)
            end = start + timedelta(seconds=ring + talk)
            n_legs = 2 if product == "NUMBER_MASKING" else 1
            session_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
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
                    "anomalies": json.dumps(anomalies), "first_event_at": start, "last_event_at": end,
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
                lid = leg_ids + leg_i
                leg_i += 1
                direction = "INBOUND" if (n_legs == 2 and leg_n == 0) else "OUTBOUND"
                leg_code = 200 if (n_legs == 2 and leg_n == 0) else code
                leg: dict[str, Any] = {
                    "id": lid, "session_id": sid, "call_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
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
            if not events or start < self.raw_since:
                continue
            for leg in leg_rows:
                if in_progress or leg["final_sip_code"] is None:
                    continue
                eid = event_ids + event_i
                event_i += 1
                body = _vcs_body(leg, session_uuid, sub, end)
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
                eid = event_ids + event_i
                event_i += 1
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
            if events:
                _copy(RawEvent, raws)
                _copy(EventClassification, classes)

    def _count_session(self, start: datetime, row: dict, answer_delay_ms: int | None) -> None:
        dims = tuple(row[k] for k in SESSION_ROLLUP_DIMENSIONS)
        answered = row["duration_seconds"] or 0 if row["outcome_group"] == "answered" else 0
        # As classify.pipeline's ANSWER_DELAY_SQL: the first leg is initiated at the start.
        delay = answer_delay_ms if row["outcome_group"] == "answered" else None
        for size, bucket in _buckets(start, self.now):
            self.session_roll[(size, bucket, *dims)] += 1
            self.session_seconds[(size, bucket, *dims)] += answered
            if delay is not None:
                self.answer_delay_ms[(size, bucket, *dims)] += delay
                self.answer_delay_count[(size, bucket, *dims)] += 1

    def _count_code(self, when: datetime, code: str, direction: str, country: str, sub: str) -> None:
        sip_class = f"{code[0]}xx" if len(code) == 3 and code[0] in "123456" else "invalid"
        for size, bucket in _buckets(when, self.now):
            self.code_roll[(size, bucket, code, sip_class, direction, country, sub)] += 1

    def _write_rollups(self) -> None:
        # Meant for an empty (bench or demo) database: a bucket that already exists takes our count.
        _upsert_rollups(
            SessionRollup,
            ["bucket_size", "bucket_start", *SESSION_ROLLUP_DIMENSIONS],
            self.session_roll,
            extra={
                "answered_seconds": self.session_seconds,
                "answer_delay_ms": self.answer_delay_ms,
                "answer_delay_count": self.answer_delay_count,
            },
        )
        _upsert_rollups(
            CodeRollupModel,
            [
                "bucket_size",
                "bucket_start",
                "sip_code",
                "sip_class",
                "direction",
                "destination_country",
                "sub_account_id",
            ],
            self.code_roll,
        )


def _buckets(moment: datetime, now: datetime) -> list[tuple[str, datetime]]:
    kept = [("hour", rollups.floor(moment, "hour")), ("day", rollups.floor(moment, "day"))]
    if moment >= now - rollups.MINUTE_RETENTION:
        return [("minute", rollups.floor(moment, "minute")), *kept]
    return kept


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _vcs_body(leg: dict, session_uuid: str, sub: str, when: datetime) -> dict:
    return {
        "namespace": "VOICE",
        "eventType": "CALL_STATUS",
        "description": "Status update of a call",
        "payload": {
            "eventId": str(uuid.uuid4()), "callId": leg["call_id"], "sessionId": session_uuid, "subAccountId": sub,
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


# --- COPY helpers ----------------------------------------------------------------------------


@contextmanager
def _indexes_built_afterwards(tables: list[type[models.Model]], say: Callable[[str], Any] | None) -> Iterator[None]:
    """On empty tables, drop their secondary indexes for the load and build them again at the end.

    Keeping a dozen B-tree and two trigram indexes up to date row by row made PostgreSQL's COPY the
    bottleneck (5,000,000 sessions took over 20 minutes); one sorted build per index at the end is
    several times cheaper. Indexes behind a constraint (primary keys, unique) stay. Tables that
    already hold rows keep their indexes: the command only adds to them then."""
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
    try:
        yield
    finally:
        if saved and say:
            say(f"building {len(saved)} indexes")
        with connection.cursor() as cursor:
            # Inside a caller's transaction (a test), deferred foreign-key checks must run first:
            # PostgreSQL will not build an index on a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in saved:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")


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


def _copy(model: type[models.Model], rows: Iterable[dict], *, generated_id: bool = False) -> None:
    """COPY ``rows`` into ``model``'s table; ``generated_id``: the rows carry no id (the table's
    sequence gives one)."""
    fields = [f for f in model._meta.concrete_fields if not (generated_id and f.primary_key)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields if f.column)
    # Field.get_default() gives "" for blank CharFields, as the ORM would; JSON goes in as text.
    defaults = {
        f.attname: json.dumps(f.get_default()) if isinstance(f, models.JSONField) else f.get_default() for f in fields
    }
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(f.attname, defaults[f.attname]) for f in fields])


def _upsert_rollups(
    model: type[models.Model], keys: list[str], counts: Counter, extra: dict[str, Counter] | None = None
) -> None:
    extra = extra or {}
    # In bucket order, as the pipeline writes them over time: a window's rows sit together on
    # disk, as in a real database, instead of spread over the whole table.
    ordered = sorted(counts.items(), key=lambda item: (item[0][0], item[0][1]))
    if not model._default_manager.exists():
        # The usual case (an empty bench or demo database): COPY, several times faster than
        # upserting millions of rows through the ORM.
        _copy(
            model,
            (
                {**dict(zip(keys, key, strict=True)), "count": n, **{name: c[key] for name, c in extra.items()}}
                for key, n in ordered
            ),
            generated_id=True,
        )
        return
    objs = [
        model(**dict(zip(keys, key, strict=True)), count=n, **{name: c[key] for name, c in extra.items()})
        for key, n in ordered
    ]
    for start in range(0, len(objs), 5000):
        model._default_manager.bulk_create(
            objs[start : start + 5000],
            update_conflicts=True,
            unique_fields=[k for k in keys if k not in ("outcome_group", "sip_class")],
            update_fields=["count", *extra],
        )
