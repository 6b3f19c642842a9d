"""Hour buckets kept up to date by what each batch changes (classify/rollups.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum

from classify import rollups
from classify.models import BucketSize, Session, SessionRollup
from dashboard.tests.factories import make_session

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

    # Every session of the hour gone: its hour rows go too.
    Session.objects.all().delete()
    recompute(first, later)
    assert not SessionRollup.objects.filter(bucket_start__gte=HOUR).exists()


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


def test_the_safety_net_rebuilds_an_hour_that_drifted_from_its_minutes():
    start = HOUR + timedelta(minutes=5)
    session(start=start)
    recompute(start)
    SessionRollup.objects.filter(bucket_size=BucketSize.HOUR).update(count=7)
    recompute(start, rebuild_hours=True)
    assert hour_count() == 1
