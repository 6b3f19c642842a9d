"""Server time of each dashboard page on a database filled by `manage.py generate_history`.

    DATABASE_URL=postgres://postgres@localhost:5432/sipdesk_bench DJANGO_SECRET_KEY=... \
        .venv/bin/python bench/pages.py --repeat 40

Requests go through Django's full stack in-process (middleware, auth, templates) with the test
Client, so the figures are server time without network or a WSGI server. Prints p50/p95 per page
and whether it meets the docs/design.md §11 target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.conf import settings  # noqa: E402

from bench.common import percentile  # noqa: E402

# Production uses the hashed manifest (after collectstatic); the bench only needs the URLs.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


from django.contrib.auth.models import Group, Permission, User  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from classify.models import CallLeg, Session  # noqa: E402
from dashboard.timerange import CUSTOM_WINDOW, Window  # noqa: E402

TARGET_LIST_MS, TARGET_SESSION_MS = 150, 50


def bench_incidents(count: int = 20) -> list[int]:
    """The largest failing fingerprints of the whole history as incidents spanning it (the
    worst case for an incident page), plus a few hundred small ones for the list. Made once."""
    from django.db.models import Count
    from django.utils import timezone

    from incidents import grouping, workflow
    from incidents.fingerprint import Fingerprint, candidates
    from incidents.models import Incident

    if Incident.objects.count() < count:
        top = (
            candidates()
            .values(
                "primary_cause_kind",
                "primary_cause",
                "fault_side",
                "sub_account_id",
                "product",
                "legs__destination_country",
            )
            .annotate(n=Count("id"))
            .order_by("-n")[:count]
        )
        since = timezone.now() - timedelta(days=31)
        manager, _ = User.objects.get_or_create(username="bench-manager")
        for i, row in enumerate(top):
            fp = Fingerprint(
                row["primary_cause_kind"], row["primary_cause"], row["fault_side"], row["sub_account_id"],
                row["legs__destination_country"] or "", row["product"],
            )  # fmt: skip
            incident = grouping.open_for_alert(fp, rule="bench", since=since)
            if i % 3 == 0:
                workflow.resolve(incident, manager, "bench")
    for incident in Incident.objects.filter(stats={}):  # made before incidents had stored stats
        grouping.refresh_counts(incident, grouping.fingerprint_of(incident))
        incident.save()
    return list(Incident.objects.order_by("-sessions_count").values_list("pk", flat=True)[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--only", metavar="TEXT", help="only the pages whose name contains TEXT")
    parser.add_argument("--save", metavar="FILE", help="write each page's p50/p95 and the session count as JSON")
    parser.add_argument(
        "--compare",
        metavar="FILE",
        help="a --save file from a smaller database: print each page's growth factor (p95 here ÷ p95 there)",
    )
    args = parser.parse_args()

    user, _ = User.objects.get_or_create(username="bench-support")
    user.groups.add(Group.objects.get(name="Support"))
    client = Client()
    client.force_login(user)
    # Searching by part of a number needs the number permission (others must give a whole number).
    numbers_user, _ = User.objects.get_or_create(username="bench-numbers")
    numbers_user.groups.add(Group.objects.get(name="Support"))
    numbers_user.user_permissions.add(Permission.objects.get(codename="view_full_numbers"))
    numbers_client = Client()
    numbers_client.force_login(numbers_user)
    whole_number = (
        CallLeg.objects.exclude(destination="").values_list("destination", flat=True).first() or "+6591234567"
    )

    sessions = Session.objects.count()
    rng = random.Random(1)
    max_id = Session.objects.order_by("-id").values_list("id", flat=True).first() or 0
    sample_ids = [
        sid
        for sid in Session.objects.filter(id__in=[rng.randint(1, max_id) for _ in range(200)]).values_list(
            "session_id", flat=True
        )
    ][:25]
    # Half of them recent, so most have their raw payloads (which expire after SIPDESK_RAW_RETENTION_DAYS).
    recent_ids = Session.objects.filter(start_time__gte=timezone.now() - timedelta(days=7)).order_by("id")
    step = max(1, recent_ids.count() // 25)
    sample_ids += list(recent_ids.values_list("session_id", flat=True)[::step][:25])
    incident_ids = bench_incidents()
    first_page = client.get("/sessions/?range=7d")
    cursor = first_page.context["page"].next_cursor if first_page.context else None

    # Absolute ranges ("Copy link", the range inputs): one inside the minute buckets, one a day
    # long two days back (hour buckets).
    now = timezone.now()
    recent_hour = Window(CUSTOM_WINDOW, now - timedelta(minutes=90), now - timedelta(minutes=30)).query
    day_ago = Window(CUSTOM_WINDOW, now - timedelta(days=3), now - timedelta(days=2)).query
    # Far back in a long history (hour buckets, sessions by start time): a week and a day half a
    # year ago.
    week_half_year_ago = Window(CUSTOM_WINDOW, now - timedelta(days=187), now - timedelta(days=180)).query
    day_half_year_ago = Window(CUSTOM_WINDOW, now - timedelta(days=181), now - timedelta(days=180)).query

    pages: list[tuple] = [  # (name, urls, target ms[, client]): the support user's client unless given
        ("overview 15m", ["/?window=15m"], TARGET_LIST_MS),
        ("overview 1h", ["/?window=1h"], TARGET_LIST_MS),
        ("overview 24h", ["/?window=24h"], TARGET_LIST_MS),
        ("overview 7d", ["/?window=7d"], TARGET_LIST_MS),
        ("overview range 1h", [f"/?{recent_hour}"], TARGET_LIST_MS),
        ("overview range 24h (2 d ago)", [f"/?{day_ago}"], TARGET_LIST_MS),
        ("live feed poll", ["/feed/"], TARGET_LIST_MS),
        ("codes 1h", ["/codes/?window=1h"], TARGET_LIST_MS),
        ("codes 24h", ["/codes/?window=24h"], TARGET_LIST_MS),
        ("codes 7d", ["/codes/?window=7d"], TARGET_LIST_MS),
        ("overview range 7d (6 mo ago)", [f"/?{week_half_year_ago}"], TARGET_LIST_MS),
        ("codes range 24h (2 d ago)", [f"/codes/?{day_ago}"], TARGET_LIST_MS),
        ("codes range 7d (6 mo ago)", [f"/codes/?{week_half_year_ago}"], TARGET_LIST_MS),
        ("sessions 24h", ["/sessions/"], TARGET_LIST_MS),
        ("sessions 30d", ["/sessions/?range=30d"], TARGET_LIST_MS),
        ("sessions range 24h (2 d ago)", [f"/sessions/?{day_ago}"], TARGET_LIST_MS),
        ("sessions range 24h (6 mo ago)", [f"/sessions/?{day_half_year_ago}"], TARGET_LIST_MS),
        ("sessions fault_side 7d", ["/sessions/?range=7d&fault_side=configuration"], TARGET_LIST_MS),
        (
            "sessions page 2",
            [f"/sessions/?range=7d&after={cursor}"] if cursor else ["/sessions/?range=7d"],
            TARGET_LIST_MS,
        ),
        ("sessions sip_code=486 7d", ["/sessions/?range=7d&sip_code=486"], TARGET_LIST_MS),
        ("sessions country=LK 7d", ["/sessions/?range=7d&country=LK"], TARGET_LIST_MS),
        ("sessions number part 30d", ["/sessions/?range=30d&number=9123"], TARGET_LIST_MS, numbers_client),
        ("sessions whole number 30d", [f"/sessions/?range=30d&number={quote(whole_number)}"], TARGET_LIST_MS),
        ("troubleshooting 24h", ["/troubleshooting/?window=24h"], TARGET_LIST_MS),
        ("troubleshooting range", [f"/troubleshooting/?{day_ago}"], TARGET_LIST_MS),
        ("kpis 1h", ["/kpis/?window=1h"], TARGET_LIST_MS),
        ("kpis 24h", ["/kpis/?window=24h"], TARGET_LIST_MS),
        ("kpis 7d", ["/kpis/?window=7d"], TARGET_LIST_MS),
        ("kpis range 1h", [f"/kpis/?{recent_hour}"], TARGET_LIST_MS),
        ("kpis range 24h (2 d ago)", [f"/kpis/?{day_ago}"], TARGET_LIST_MS),
        ("reference", ["/reference/"], TARGET_LIST_MS),
        ("session page", [f"/sessions/{sid}/" for sid in sample_ids], TARGET_SESSION_MS),
        ("incidents list", ["/incidents/"], TARGET_LIST_MS),
        ("incidents list, one state", ["/incidents/?state=resolved"], TARGET_LIST_MS),
        ("incident page", [f"/incidents/{pk}/" for pk in incident_ids], TARGET_LIST_MS),
    ]
    before: dict = {}
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
    results: dict[str, dict[str, float]] = {}
    print(f"{sessions:,} sessions; {args.repeat} requests per page after 3 warm-up requests")
    print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared)")
    growth_header = f" {'growth':>7}" if before else ""
    print(f"{'page':30} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}{growth_header}")
    for name, urls, target, *as_user in pages:
        if args.only and args.only not in name:
            continue
        page_client = as_user[0] if as_user else client
        for url in urls[:3]:
            page_client.get(url)
        timings = []
        for i in range(args.repeat):
            url = urls[i % len(urls)]
            started = time.perf_counter()
            response = page_client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        p50, p95 = statistics.median(timings), percentile(timings, 0.95)
        verdict = "ok" if p95 < target else "SLOW"
        results[name] = {"p50": round(p50, 1), "p95": round(p95, 1)}
        growth = ""
        if name in before.get("pages", {}):
            growth = f" {p95 / max(before['pages'][name]['p95'], 0.1):6.2f}x"
        print(f"{name:30} {p50:8.1f} {p95:8.1f} {'<' + str(target):>8}{growth} {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if before:
        # How page cost grows with the data: a page reading a fixed window should stay near 1x
        # however long the history; one that grows like the session count (×N) scans history.
        print(f"growth factors against {before['sessions']:,} sessions (×{sessions / before['sessions']:.1f} data)")
    if args.save:
        Path(args.save).write_text(json.dumps({"sessions": sessions, "pages": results}, indent=1))


if __name__ == "__main__":
    main()
