"""Hour and day buckets kept up to date by what each batch changes, and the windows that read
them (classify/rollups.py)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum

from classify import rollups
from classify.models import BucketSize, CodeRollup, Session, SessionRollup
from dashboard.tests.factories import code_rollup, make_session, session_rollup

pytestmark = pytest.mark.django_db

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def recompute(*starts: datetime, now: datetime | None = None, rebuild_hours: bool = False) -> None:
    minutes = {rollups.floor(start, BucketSize.MINUTE) for start in starts}
    with transaction.atomic():
        if rebuild_hours:
            rollups.recompute(minutes, set(), now=now, rebuild_hours=True)
        else:
            rollups.recompute(minutes, set(), now=now)


def hour_count(**filters) -> int:
    rows = SessionRollup.objects.filter(bucket_size=BucketSize.HOUR, bucket_start=HOUR, **filters)
    return rows.aggregate(n=Sum("count"))["n"] or 0


def session(**fields) -> Session:
    # rollup_at is the pipeline's to set (classify/rules.py); these sessions are made by hand.
    return make_session(rollup_at=fields["start"], **fields)


def assert_days_sum_their_hours() -> None:
    """Every day row is the sum of its hour rows, measure by measure, and no day lacks one."""
    for model in (SessionRollup, CodeRollup):
        dims = [f for f in rollups.bucket_key(model) if f not in ("bucket_size", "bucket_start")]
        measures = rollups.MEASURES[model]
        summed: Counter = Counter()
        for row in model.objects.filter(bucket_size=BucketSize.HOUR).values("bucket_start", *dims, *measures):
            key = (rollups.floor(row["bucket_start"], BucketSize.DAY), *(row[d] for d in dims))
            for m in measures:
                summed[(*key, m)] += row[m]
        days: Counter = Counter()
        for row in model.objects.filter(bucket_size=BucketSize.DAY).values("bucket_start", *dims, *measures):
            for m in measures:
                days[(row["bucket_start"], *(row[d] for d in dims), m)] += row[m]
        assert +days == +summed, model.__name__


def minutes_total() -> int:
    minutes = SessionRollup.objects.filter(bucket_size=BucketSize.MINUTE, bucket_start__gte=HOUR)
    return minutes.aggregate(n=Sum("count"))["n"] or 0


def test_an_hour_changes_by_what_its_rewritten_minutes_changed():
    first = HOUR + timedelta(minutes=5)
    for status in ("COMPLETED", "COMPLETED", "BUSY"):
        session(status=status, start=first)
    recompute(first)
    assert hour_count() == 3 == minutes_total()

    # A session moves to another minute (its summary brought a start time) and changes outcome.
    later = HOUR + timedelta(minutes=40)
    moved = Session.objects.filter(status="BUSY").get()
    Session.objects.filter(pk=moved.pk).update(
        start_time=later, rollup_at=later, status="COMPLETED", outcome_group="answered"
    )
    session(status="NO_ANSWER", start=later)
    recompute(first, later)
    assert hour_count() == 4 == minutes_total()
    assert hour_count(status="COMPLETED") == 3
    assert hour_count(status="BUSY") == 0
    # No row is left behind at zero: the hour holds only what has sessions.
    assert not SessionRollup.objects.filter(bucket_size=BucketSize.HOUR, count=0).exists()

    assert_days_sum_their_hours()

    # Every session of the hour gone: its hour and day rows go too.
    Session.objects.all().delete()
    recompute(first, later)
    assert not SessionRollup.objects.filter(bucket_start__gte=HOUR).exists()
    assert not SessionRollup.objects.filter(bucket_size=BucketSize.DAY).exists()


def test_an_hour_keeps_the_sessions_of_minutes_already_dropped_when_a_late_one_arrives():
    """The hour at the edge of the minute retention: its first minutes are dropped while later
    ones are still kept, and a late session must add to the hour, not replace it with the sum
    of the minutes that are left."""
    early, late = HOUR + timedelta(minutes=5), HOUR + timedelta(minutes=40)
    now = HOUR + rollups.MINUTE_RETENTION + timedelta(minutes=30)  # drops minutes before :30
    session(start=early)
    session(start=late)
    recompute(early, late, now=now)
    rollups.drop_expired_minutes(now)
    assert SessionRollup.objects.filter(bucket_size=BucketSize.MINUTE).count() == 1

    session(start=late + timedelta(minutes=1))
    recompute(late + timedelta(minutes=1), now=now)
    assert hour_count() == 3
    assert_days_sum_their_hours()


def test_a_session_older_than_the_minutes_reaches_its_hour_and_its_day():
    """Past the minute retention an hour is counted from the sessions again; its day follows."""
    old = HOUR - rollups.MINUTE_RETENTION - timedelta(days=2, minutes=-7)
    session(start=old)
    session(start=HOUR + timedelta(minutes=1))
    recompute(old, HOUR + timedelta(minutes=1))
    session(start=old + timedelta(minutes=20), status="BUSY")
    recompute(old + timedelta(minutes=20))
    day = SessionRollup.objects.filter(bucket_size=BucketSize.DAY, bucket_start=rollups.floor(old, BucketSize.DAY))
    assert day.aggregate(n=Sum("count"))["n"] == 2
    assert_days_sum_their_hours()


def test_the_safety_net_rebuilds_an_hour_that_drifted_from_its_minutes():
    start = HOUR + timedelta(minutes=5)
    session(start=start)
    recompute(start)
    SessionRollup.objects.filter(bucket_size__in=[BucketSize.HOUR, BucketSize.DAY]).update(count=7)
    recompute(start, rebuild_hours=True)
    assert hour_count() == 1
    assert_days_sum_their_hours()


def test_a_window_of_days_and_edge_hours_counts_what_its_hours_count():
    """``window_filter`` reads day buckets for the whole UTC days of a long window and hours at
    its edges: every window must count exactly what reading its hours alone counts."""
    rng = random.Random(7)
    now = datetime(2026, 6, 20, 13, 41, tzinfo=UTC)
    for i in range(300):
        moment = now - timedelta(minutes=rng.randrange(60 * 24 * 20))
        status = rng.choice(["COMPLETED", "BUSY", "FAILED"])
        session_rollup(moment, status, rng.randrange(1, 5), size="hour", sub_account_id=f"s{i}")
        code_rollup(moment, rng.choice(["486", "503", "200"]), 1, size="hour", sub_account_id=f"s{i}")
    windows = [
        (now - timedelta(days=7), now),
        (now - timedelta(days=30), now),
        (datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 6, 13, tzinfo=UTC)),  # midnight to midnight
        (datetime(2026, 6, 10, 23, 59, tzinfo=UTC), datetime(2026, 6, 12, 0, 1, tzinfo=UTC)),
        (datetime(2026, 6, 10, 5, tzinfo=UTC), datetime(2026, 6, 11, 4, tzinfo=UTC)),  # no whole day
    ]
    read_days = 0
    for start, end in windows:
        for model in (SessionRollup, CodeRollup):
            _, mixed = rollups.window_filter(start, end, now=now)
            _, hours = rollups.window_filter(start, end, now=now, resolution=timedelta(hours=1))
            assert model.objects.filter(mixed).aggregate(n=Sum("count")) == model.objects.filter(hours).aggregate(
                n=Sum("count")
            ), (model.__name__, start, end)
            assert not model.objects.filter(hours, bucket_size=BucketSize.DAY).exists()
            read_days += model.objects.filter(mixed, bucket_size=BucketSize.DAY).count()
    assert read_days  # the long windows did read days
    # Bins of whole days may read days too; bins of six hours may not.
    assert "day" in str(rollups.window_filter(now - timedelta(days=30), now, now=now, resolution=timedelta(days=1))[1])
    assert "day" not in str(
        rollups.window_filter(now - timedelta(days=7), now, now=now, resolution=timedelta(hours=6))[1]
    )


def test_a_recent_window_reads_whole_hours_and_minutes_at_its_edges_counting_what_its_minutes_count():
    rng = random.Random(11)
    now = datetime.now(UTC)
    for i in range(300):
        moment = now - timedelta(seconds=rng.randrange(60 * 60 * 25))
        session_rollup(moment, rng.choice(["COMPLETED", "BUSY"]), rng.randrange(1, 4), sub_account_id=f"s{i}")
        code_rollup(moment, rng.choice(["486", "200"]), 1, sub_account_id=f"s{i}")
    read_hours = 0
    for start, end in [
        (now - timedelta(hours=24), now),
        (now - timedelta(hours=3, minutes=17, seconds=5), now - timedelta(minutes=41)),
        (now - timedelta(minutes=50), now),
    ]:
        for model in (SessionRollup, CodeRollup):
            size, mixed = rollups.window_filter(start, end, now=now)
            _, minutes = rollups.window_filter(start, end, now=now, resolution=timedelta(minutes=1))
            assert size == "minute"
            assert model.objects.filter(mixed).aggregate(n=Sum("count")) == model.objects.filter(minutes).aggregate(
                n=Sum("count")
            ), (model.__name__, start, end)
            assert not model.objects.filter(minutes).exclude(bucket_size=BucketSize.MINUTE).exists()
            read_hours += model.objects.filter(mixed, bucket_size=BucketSize.HOUR).count()
    assert read_hours


def test_a_window_at_the_calendar_s_edges_reads_without_overflowing():
    """Absolute ranges are typed by users: one that ends in year 9999 must still give a filter
    (rounding its start up to the next day would overflow)."""
    end = datetime.max.replace(tzinfo=UTC)
    for start in (end - timedelta(hours=5), end - timedelta(days=3, minutes=7)):
        size, q = rollups.window_filter(start, end, now=datetime(2026, 6, 1, tzinfo=UTC))
        assert size == "minute"
        assert SessionRollup.objects.filter(q).count() == 0
    size, q = rollups.window_filter(datetime.min.replace(tzinfo=UTC), datetime(1, 1, 9, 13, tzinfo=UTC))
    assert size == "hour"
    assert SessionRollup.objects.filter(q).count() == 0
