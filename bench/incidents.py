"""Throughput of the incident grouping job (incidents/grouping.py) on a database filled by
`manage.py generate_history`, whose sessions all look freshly updated: the worst case, as after
a full `reclassify`.

    DATABASE_URL=postgres://postgres@localhost:5432/sipdesk_bench DJANGO_SECRET_KEY=... \\
        .venv/bin/python bench/incidents.py --sessions 200000

Winds the grouping cursor back, runs the job until it has read about --sessions failing
sessions, and prints sessions read per second. It changes incidents and the cursor: use a
benchmark database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.utils import timezone  # noqa: E402

from incidents import grouping  # noqa: E402
from incidents.models import GroupingCursor, Incident  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200_000, help="stop after reading about this many")
    parser.add_argument("--hours-back", type=int, default=31 * 24, help="wind the cursor back this far")
    args = parser.parse_args()
    GroupingCursor.objects.update_or_create(
        name=grouping.CURSOR, defaults={"position": timezone.now() - timedelta(hours=args.hours_back)}
    )
    read, started, runs = 0, time.perf_counter(), 0
    while read < args.sessions:
        read += grouping.run()
        runs += 1
        if GroupingCursor.objects.get(name=grouping.CURSOR).caught_up:
            break
    elapsed = time.perf_counter() - started
    print(f"{read:,} failing sessions read in {elapsed:.1f} s by {runs} run(s): {read / elapsed:,.0f} sessions/s")
    print(f"{Incident.objects.count():,} incidents")


if __name__ == "__main__":
    main()
