"""The rollup dimensions alerts and KPIs read: fault side, destination country, direction, codes,
answered seconds. They must equal what the sessions say, whatever the batching."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.db.models import Sum

from classify.models import BucketSize, CallLeg, Session, SessionRollup

from .helpers import drain, session_bodies, store

pytestmark = pytest.mark.django_db

DIMENSIONS = ("fault_side", "destination_country", "direction", "primary_sip_code", "error_code", "outcome_group")


def test_sessions_carry_country_and_direction_and_rollups_split_by_every_dimension():
    for bodies in session_bodies(random.Random(5), 40):
        for body in bodies:
            store(body)
    drain(batch_size=30)

    for session in Session.objects.prefetch_related("legs"):
        legs = list(session.legs.all())
        assert session.destination_country == next(
            (leg.destination_country for leg in reversed(legs) if leg.destination_country), ""
        )
        assert session.direction == next((leg.direction for leg in legs if leg.direction), "")
    assert Session.objects.exclude(destination_country="").exists()
    assert Session.objects.exclude(direction="").exists()
    assert CallLeg.objects.exists()

    expected = Counter(Session.objects.values_list(*DIMENSIONS))
    answered = Session.objects.filter(outcome_group="answered").aggregate(s=Sum("duration_seconds"))["s"]
    assert answered
    for size in (BucketSize.MINUTE, BucketSize.HOUR):
        totals: Counter = Counter()
        for row in SessionRollup.objects.filter(bucket_size=size).values(*DIMENSIONS, "count"):
            totals[tuple(row[k] for k in DIMENSIONS)] += row["count"]
        assert totals == expected
        rolled = SessionRollup.objects.filter(bucket_size=size).aggregate(s=Sum("answered_seconds"))["s"]
        assert rolled == answered


def test_rollups_carry_the_answer_delay_of_answered_sessions():
    for bodies in session_bodies(random.Random(7), 40):
        for body in bodies:
            store(body)
    drain(batch_size=25)

    # Connected less initiated, first legs of answered sessions, computed here from the legs.
    expected_ms, expected_n = 0.0, 0
    for session in Session.objects.filter(outcome_group="answered").prefetch_related("legs"):
        legs = list(session.legs.all())
        initiated = [leg.initiated_at for leg in legs if leg.initiated_at]
        connected = [leg.connected_at for leg in legs if leg.connected_at]
        if initiated and connected and min(connected) >= min(initiated):
            expected_ms += (min(connected) - min(initiated)).total_seconds() * 1000
            expected_n += 1
    assert expected_n
    for size in (BucketSize.MINUTE, BucketSize.HOUR):
        rolled = SessionRollup.objects.filter(bucket_size=size).aggregate(
            ms=Sum("answer_delay_ms"), n=Sum("answer_delay_count")
        )
        assert rolled["n"] == expected_n
        assert abs(rolled["ms"] - expected_ms) <= expected_n  # rounded to whole ms per bucket
