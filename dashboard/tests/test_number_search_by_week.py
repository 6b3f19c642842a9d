"""A number search over a window looks only at that window's weeks (classify/number_search.py),
and finds exactly what a check of every leg would."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from classify import number_search
from classify.models import CallLeg, Session
from dashboard.tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_the_index_function_counts_weeks_as_the_search_does():
    """Either side of a week's first microsecond, in another time zone than UTC."""
    boundary = number_search.EPOCH + 2970 * number_search.WEEK
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TimeZone = 'Pacific/Chatham'")
        for moment in (boundary - timedelta(microseconds=1), boundary, boundary + timedelta(days=3)):
            cursor.execute("SELECT classify_leg_number_keys(%s, %s, %s)", [moment, "+6591", "12"])
            (keys,) = cursor.fetchone()
            week = number_search.week_of(moment)
            assert sorted(set(keys)) == [f"{week}:{piece}" for piece in ("+65", "591", "659")]
        cursor.execute("SELECT classify_leg_number_keys(NULL, '', 'x9123')")
        assert sorted(set(cursor.fetchone()[0])) == ["-:123", "-:912", "-:x91"]


def _legs_matching(fragment: str, start, end) -> set[str]:
    """The sessions a check of every leg finds: started in [start, end), with a leg whose number
    holds the fragment and that started within the slacks of the window, or has no start time."""
    lower, upper = start - number_search.EARLY_SLACK, end + number_search.LATE_SLACK
    found = set()
    for leg in CallLeg.objects.select_related("session"):
        session = leg.session
        if session.start_time is None or not start <= session.start_time < end:
            continue
        if fragment not in leg.source and fragment not in leg.destination:
            continue
        if leg.initiated_at is None or lower <= leg.initiated_at < upper:
            found.add(session.session_id)
    return found


@pytest.mark.parametrize(
    "path", ["by week", "each session's legs, too many weeks", "each session's legs, too many legs"]
)
def test_a_number_search_finds_what_checking_every_leg_finds(path, monkeypatch):
    if path == "each session's legs, too many weeks":
        monkeypatch.setattr(number_search, "MAX_WEEKS", 0)
    elif path == "each session's legs, too many legs":
        monkeypatch.setattr("classify.models.NUMBER_MATCH_LIMIT", 1)
    now = timezone.now()
    numbers = ["+6591234567", "+6599123000", "+6580009123", "+6591200000", "+123456", "9123"]
    ages = [timedelta(minutes=5), timedelta(days=6), timedelta(days=8), timedelta(days=13), timedelta(days=20)]
    for i, (number, age) in enumerate(itertools.product(numbers, ages)):
        # Half of them with the number as the source; the pieces "912" and "123" also turn up
        # split over source and destination ("+6591200000" → "+123456"), which must not match.
        other = numbers[(i + 3) % len(numbers)]
        source, destination = (number, other) if i % 2 else (other, number)
        make_session(source=source, destination=destination, start=now - age)
    # A leg without a start time, and one stamped far later than its session.
    no_start = make_session(destination="+6599912345", start=now - timedelta(days=2))
    CallLeg.objects.filter(session=no_start).update(initiated_at=None)
    late = make_session(destination="+6599912345", start=now - timedelta(days=2))
    CallLeg.objects.filter(session=late).update(initiated_at=now + timedelta(days=30))

    first = Session.objects.order_by("start_time").first().start_time
    for fragment, days in itertools.product(["9123", "912", "+12", "4567", "99912", "91"], [1, 7, 10, 15, None]):
        # None: the "all" range, from the first session started until now.
        start, end = (now - timedelta(days=days) if days else None), (now if days else None)
        found = set(
            Session.objects.filtered(start=start, end=end, number=fragment).values_list("session_id", flat=True)
        )
        assert found == _legs_matching(fragment, start or first, end or now + timedelta(seconds=1)), (fragment, days)
    everything = set(
        Session.objects.filtered(start=now - timedelta(days=3), end=now, number="99912").values_list(
            "session_id", flat=True
        )
    )
    assert no_start.session_id in everything
    assert late.session_id not in everything  # a day after the window at the latest


def test_the_week_index_serves_the_condition_on_its_keys():
    """The condition must spell the index expression as the index does, or PostgreSQL would
    compute the keys of every leg instead of looking them up."""
    now = timezone.now()
    make_session(destination="+6591234567", start=now - timedelta(days=2))
    condition = number_search.within_weeks("9123", now - timedelta(days=30), now)
    legs = CallLeg.objects.alias(number_keys=number_search.number_keys()).filter(condition)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: a scan would win otherwise
    plan = legs.explain()
    assert "callleg_number_week_idx" in plan, plan
    assert legs.count() == 1


def _leaves(q: Q) -> list[Any]:
    return [leaf for child in q.children for leaf in (_leaves(child) if isinstance(child, Q) else [child])]


def test_a_long_fragment_asks_for_a_dozen_pieces_and_still_matches_exactly():
    now = timezone.now()
    made = make_session(destination="+659182736455463728190", start=now - timedelta(days=1))
    make_session(destination="+659182736455463728199", start=now - timedelta(days=1))
    condition = number_search.within_weeks("9182736455463728190", now - timedelta(days=2), now)
    assert condition is not None
    asked = [value for lookup, value in _leaves(condition) if lookup == "number_keys__contains"]
    assert asked
    assert all(len(keys) == number_search.MAX_PIECES for keys in asked)
    found = Session.objects.filtered(start=now - timedelta(days=2), end=now, number="9182736455463728190")
    assert list(found.values_list("session_id", flat=True)) == [made.session_id]
    assert not Session.objects.filtered(start=now - timedelta(days=2), end=now, number="x" * 10_000).exists()
