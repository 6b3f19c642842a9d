"""One alert evaluation cycle on the history of `manage.py generate_history` (issue 13's target:
200 rules, 50 of them per sub-account over 500 sub-accounts, 1,000,000 sessions: < 1 s).

    # once: a fresh database with 1,000,000 sessions over 30 days and 500 sub-accounts
    .venv/bin/python bench/alerts.py --database sipdesk_bench_alerts --generate 1000000
    # then, as often as you like
    .venv/bin/python bench/alerts.py --database sipdesk_bench_alerts --cycles 10

Creates (or replaces) 200 rules: 50 per-sub-account rules (failure share, 503 share, answer rate,
volume; windows 5 min to 24 h) and 150 scoped rules (one sub-account, product or country each,
the same mix) plus one backlog rule, then times ``alerts.evaluate.evaluate_all`` cycle by cycle
(the first cycle creates the states; it is shown apart), each cycle one minute after the last,
as the beat runs them, so every window has moved. Prints p50 / max.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WINDOWS = [5, 15, 60, 240, 1440]
METRICS = [
    ("failure_share", "above", 0.2, {}),
    ("sip_code_share", "above", 0.05, {"sip_code": 503}),
    ("answer_rate", "below", 0.4, {}),
    ("volume", "below", 1, {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sipdesk_bench_alerts")
    parser.add_argument("--server", default="postgres://postgres@localhost:5432")
    parser.add_argument("--generate", type=int, default=0, help="first build a fresh database with this many sessions")
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    if args.generate:
        from bench.common import fresh_database

        fresh_database(args.database, args.server)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], check=True, env=os.environ)
        subprocess.run(
            [*manage, "generate_history", "--sessions", str(args.generate), "--days", "30", "--seed", "13",
             "--sub-accounts", "500", "--no-events"],
            check=True, env=os.environ,
        )  # fmt: skip
        subprocess.run(["psql", f"{args.server}/{args.database}", "-qc", "ANALYZE"], check=True)

    import django

    django.setup()

    from alerts.evaluate import evaluate_all
    from alerts.models import AlertEvent, AlertRule, AlertState
    from classify.models import Session, SessionRollup

    rng = random.Random(13)
    subs = sorted(set(Session.objects.order_by().values_list("sub_account_id", flat=True).distinct()))
    AlertRule.objects.all().delete()
    rules = []
    for i in range(200):
        metric, comparison, threshold, extra = METRICS[i % len(METRICS)]
        rule = AlertRule(
            name=f"bench {i}", metric=metric, comparison=comparison, threshold=threshold,
            window_minutes=WINDOWS[i % len(WINDOWS)], min_sessions=20, **extra,
        )  # fmt: skip
        if i < 50:
            rule.per = "sub_account"
        elif i == 199:
            rule.metric, rule.comparison, rule.threshold = "backlog_age", "above", 300
        elif i % 3 == 0:
            rule.product = rng.choice(["IVR", "VOICE_MESSAGING", "NUMBER_MASKING"])
        elif i % 3 == 1:
            rule.country = rng.choice(["SG", "IN", "US", "ID"])
        else:
            rule.sub_account = rng.choice(subs)
        rules.append(rule)
    AlertRule.objects.bulk_create(rules)
    sessions = Session.objects.count()
    minute_rows = SessionRollup.objects.filter(bucket_size="minute").count()
    print(f"{sessions:,} sessions, {len(subs)} sub-accounts, {minute_rows:,} minute rollup rows, 200 rules")

    from django.utils import timezone

    times = []
    base = timezone.now()
    for cycle in range(args.cycles):
        # One cycle per minute as the beat runs it: every window has moved on by a minute.
        started = time.perf_counter()
        result = evaluate_all(now=base + timedelta(minutes=cycle))
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        if cycle == 0:
            print(f"first cycle (creates {result.written:,} states): {elapsed * 1000:.0f} ms")
    rest = times[1:] or times
    print(
        f"evaluation cycle: p50 {statistics.median(rest) * 1000:.0f} ms, max {max(rest) * 1000:.0f} ms over"
        f" {len(rest)} cycles; {AlertState.objects.count():,} states, {AlertEvent.objects.count():,} events;"
        f" target < 1000 ms: {'MET' if max(rest) < 1.0 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
