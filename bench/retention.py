"""Retention soak: 60 simulated days of traffic at a fixed daily volume, retention 30 days.

Each simulated day stores ``--sessions`` sessions (with their legs and classifications) and three
raw events per session (received that day, ~700-byte bodies, through the table's dedupe trigger
as the receiver stores them), then runs the retention job (retention/purge.py) with the clock at
the end of that day, then VACUUMs the database (standing in for a day of autovacuum; partitions
created and dropped churn the system catalogues too). It prints pg_database_size and the raw
partitions' size per day. Past day 30 the size must stay flat: within ±10 % of its day-31 value
(exit status 1 otherwise).

    .venv/bin/python -m bench.retention [--sessions 2000] [--days 60] [--server postgres://postgres@localhost:5432]

Session retention is set to the raw retention here (30 days), so everything but the hour rollups
(400 days, a few hundred rows a day) reaches its steady state inside the 60 days.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

RETENTION_DAYS = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions per simulated day (3 events each)")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--server", default="postgres://postgres@localhost:5432")
    parser.add_argument("--database", default="sipdesk_bench_retention")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    os.environ["SIPDESK_RAW_RETENTION_DAYS"] = str(RETENTION_DAYS)
    os.environ["SIPDESK_SESSION_RETENTION_DAYS"] = str(RETENTION_DAYS)
    from bench.common import fresh_database

    fresh_database(args.database, args.server)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, env=os.environ)

    import django

    django.setup()
    from django.db import connection

    from retention.purge import purge
    from webhooks import partitions

    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=args.days)
    sizes: list[int] = []
    began = time.perf_counter()
    print(f"{args.sessions} sessions ({3 * args.sessions} raw events) a day, retention {RETENTION_DAYS} days")
    print(" day   database MB   raw MB   partitions   purge s")
    try:
        for day in range(args.days):
            day_start = start + timedelta(days=day)
            _one_day(connection, day, day_start, args.sessions)
            t0 = time.perf_counter()
            report = purge(now=day_start + timedelta(days=1))
            purge_seconds = time.perf_counter() - t0
            with connection.cursor() as cursor:
                cursor.execute("VACUUM")  # the whole database, catalogues included: a day of autovacuum
                cursor.execute("SELECT pg_database_size(current_database())")
                (size,) = cursor.fetchone()
            days = partitions.day_partitions()
            raw, parts = sum(p.bytes for p in days), len(days)
            sizes.append(size)
            if os.environ.get("BENCH_RETENTION_DEBUG"):
                cursor = connection.cursor()
                cursor.execute(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind IN ('r', 'p')"
                    " ORDER BY 2 DESC LIMIT 8"
                )
                print("      ", ", ".join(f"{n} {b / 1e6:.1f}" for n, b in cursor.fetchall()))
            dropped = f"  dropped {len(report.dropped_partitions)}" if report.dropped_partitions else ""
            print(f"{day + 1:4d} {size / 1e6:12.1f} {raw / 1e6:8.1f} {parts:12d} {purge_seconds:9.2f}{dropped}")
    finally:
        connection.close()
        if not args.keep:
            fresh_database(args.database, args.server)  # leaves an empty database, not gigabytes
    print(f"simulated {args.days} days in {time.perf_counter() - began:.0f} s")
    if len(sizes) > RETENTION_DAYS:
        reference = sizes[RETENTION_DAYS]
        tail = sizes[RETENTION_DAYS:]
        spread = (max(tail) - reference) / reference * 100, (min(tail) - reference) / reference * 100
        low, high = spread[1], spread[0]
        print(f"after day {RETENTION_DAYS + 1}: size within {low:+.1f} % … {high:+.1f} % of day {RETENTION_DAYS + 1}")
        if max(abs(s) for s in spread) > 10:
            print("NOT FLAT: more than ±10 %")
            sys.exit(1)


def _one_day(connection, day: int, day_start: datetime, sessions: int) -> None:
    """One day of sessions, legs, raw events and classifications, written set-wise in SQL."""
    from classify.models import CallLeg, EventClassification, Session
    from webhooks.models import RawEvent

    _S, _L, _R, _E = (m._meta.db_table for m in (Session, CallLeg, RawEvent, EventClassification))
    payload = json.dumps({"padding": "x" * 450})
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_S} (session_id, sub_account_id, product, status, outcome_group, start_time,"  # noqa: S608 - model metadata
            " end_time, duration_seconds, primary_cause, primary_cause_kind, primary_sip_code, error_code,"
            " anomalies, first_event_at, last_event_at, summary_received, rollup_at, updated_at,"
            " fault_side, destination_country, direction, last_action, client_request_id, client_batch_id,"
            " error_message, retry_advice, responsibility, product_reason)"
            " SELECT 'd' || %(day)s || '-' || g, 'acme_sg', 'IVR', 'COMPLETED', 'answered', t, t + interval '30 s',"
            " 30, '', 'none', NULL, NULL, '[]'::jsonb, t, t + interval '30 s', true, t, t, '', 'SG', 'OUTBOUND',"
            " '', '', '', '', '', '', ''"
            " FROM (SELECT g, %(start)s::timestamptz + (g * interval '86399 s' / %(n)s) AS t"
            "       FROM generate_series(1, %(n)s) g) s",
            {"day": day, "start": day_start, "n": sessions},
        )
        cursor.execute(
            f"INSERT INTO {_L} (session_id, call_id, leg_key, direction, call_type, source, destination,"  # noqa: S608 - model metadata
            " source_country, destination_country, status, final_status, final_sip_code, initiated_at,"
            " duration_seconds, source_ref_id, destination_ref_id)"
            " SELECT id, session_id || '-a', 'callA', 'OUTBOUND', 'PSTN', '+6568332048', '+6591234567', 'SG', 'SG',"
            " 'CALL_DISCONNECTED', 'COMPLETED', 200, start_time, 30, '', ''"
            f" FROM {_S} WHERE session_id LIKE %(prefix)s",
            {"prefix": f"d{day}-%"},
        )
        cursor.execute(
            f"WITH raw AS (INSERT INTO {_R} (received_at, event_type, dedupe_key, session_id, call_id,"  # noqa: S608 - model metadata
            " sub_account_id, body, remote_addr, user_agent, content_length, deliveries, last_delivered_at, state,"
            " attempts, last_error, processed_at)"
            " SELECT s.start_time + k * interval '10 s', 'CALL_STATUS', 'CALL_STATUS:' || s.session_id || ':' || k,"
            " s.session_id, s.session_id || '-a', 'acme_sg',"
            " jsonb_build_object('eventType', 'CALL_STATUS', 'payload', jsonb_build_object('sessionId', s.session_id,"
            "   'eventId', s.session_id || ':' || k, 'callStatus', 'CALL_DISCONNECTED')) || %(payload)s::jsonb,"
            " '52.220.253.234', '8x8', 700, 1, s.start_time, 'processed', 1, '', s.start_time"
            f" FROM {_S} s CROSS JOIN generate_series(0, 2) k WHERE s.session_id LIKE %(prefix)s"
            " RETURNING id, session_id, received_at)"
            f" INSERT INTO {_E} (event_id, session_id, call_leg_id, event_time, call_status,"
            " sip_code, sip_code_raw, sip_class, is_final, outcome_group, retry_advice, responsibility,"
            " troubleshooting_ids, anomalies, classified_at)"
            " SELECT raw.id, s.id, NULL, raw.received_at, 'CALL_DISCONNECTED', 200, '200', '2xx', true, 'answered',"
            " '', '', '[]'::jsonb, '[]'::jsonb, raw.received_at"
            f" FROM raw JOIN {_S} s ON s.session_id = raw.session_id",
            {"prefix": f"d{day}-%", "payload": payload},
        )


if __name__ == "__main__":
    main()
