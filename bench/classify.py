"""Classification throughput for one process: ``python bench/classify.py [-n 50000] [--batch 2000]``.

Creates a bench database (default ``sipdesk_bench_classify``), migrates it, bulk-inserts N
realistic pending raw events (the receiver's simulator, with duplicates and out-of-order
deliveries), then times one process calling ``classify.pipeline.process_pending`` until the
backlog is empty, with production settings (DEBUG off). Prints events/s. Target: ≥ 5,000
events/s per worker (docs/design.md §11).

``--reuse`` keeps the loaded events of an earlier run and only resets them to pending (and
vacuums), for quick before/after comparisons; ``--profile FILE`` writes a cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--database", default="sipdesk_bench_classify")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded events; reset them to pending")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the classification run")
    args = parser.parse_args()

    if not args.reuse:
        subprocess.run(["dropdb", "-h", "localhost", "-U", "postgres", "--if-exists", args.database], check=True)
        subprocess.run(["createdb", "-h", "localhost", "-U", "postgres", args.database], check=True)
    os.environ["DATABASE_URL"] = f"postgres://postgres@localhost:5432/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production: no query log
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("SIPDESK_WEBHOOK_SECRETS", "bench-secret")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.reuse:
        reset()
    else:
        load(args.events, args.seed)
    run(args.batch, args.profile)


def bodies(count: int, seed: int):
    import random

    from demo.traffic import deliveries, session_events

    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    produced = 0
    i = 0
    while produced < count:
        events = session_events(rng, start=start + timedelta(seconds=i / 20))
        for body in deliveries(rng, events, duplicates=0.02, out_of_order=0.05):
            yield body
            produced += 1
            if produced >= count:
                return
        i += 1


def load(count: int, seed: int) -> None:
    from django.utils import timezone

    from webhooks.ingest import describe
    from webhooks.models import RawEvent

    started = time.perf_counter()
    rows: list[Any] = []
    seen: dict[str, Any] = {}
    now = timezone.now()
    for body in bodies(count, seed):
        event_type, key, session_id, call_id, sub_account_id = describe(body)
        if key in seen:
            seen[key].deliveries += 1
            continue
        row = RawEvent(
            received_at=now, event_type=event_type, dedupe_key=key, session_id=session_id, call_id=call_id,
            sub_account_id=sub_account_id, body=body, content_length=len(json.dumps(body)),
        )  # fmt: skip
        seen[key] = row
        rows.append(row)
    RawEvent.objects.bulk_create(rows, batch_size=2000)
    print(f"loaded {len(rows):,} pending raw events in {time.perf_counter() - started:.1f} s")


def reset() -> None:
    """Forget every classification and make all stored events pending again (a cold start)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE classify_eventclassification, classify_callleg, classify_session,"
            " classify_sessionrollup, classify_coderollup"
        )
        cursor.execute("UPDATE webhooks_rawevent SET state = 'pending', attempts = 0, processed_at = NULL")
        print(f"reset {cursor.rowcount:,} raw events to pending")
        # Rewrite the tables without the dead rows the reset (and earlier runs) left behind, so
        # a reused database performs like a freshly loaded one.
        cursor.execute("VACUUM FULL ANALYZE")


def run(batch: int, profile: str | None = None) -> None:
    from django.db import connection

    from classify.models import Session
    from classify.pipeline import process_pending
    from webhooks.models import RawEvent

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    total = RawEvent.objects.filter(state="pending").count()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    done = 0
    while taken := process_pending(batch):
        done += taken
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    elapsed = time.perf_counter() - started
    failed = RawEvent.objects.filter(state="failed").count()
    print(f"classified {done:,} of {total:,} events in {elapsed:.2f} s (batch {batch}): {done / elapsed:,.0f} events/s")
    print(f"sessions: {Session.objects.count():,}  failed events: {failed}")


if __name__ == "__main__":
    main()
