"""Finding legs by part of a number within a time window, through an index keyed by week.

Trigram indexes on ``source`` and ``destination`` (migration classify 0004, dropped by 0013) found
every leg ever stored whose number contains the fragment; the sessions page then kept the few
that started in its window. On 5 M sessions over 13 months "9123" matched 16,000 legs, of which
1,200 in the last 30 days, and checking the other 14,800 against the window cost most of the
search, more with every month of history (docs/performance-history.md).

Migration classify 0013 indexes, for every leg, the three-character pieces of its two numbers
prefixed by the week the leg started in (``2914:912``), or by ``-`` for a leg with no start time.
A fragment is in a number only if each of its three-character pieces is, so the legs of one
week that can match are those holding all of the fragment's pieces under that week; a search
asks for each week of its span in turn and PostgreSQL then checks the real condition on those
few legs only (docs/design.md §8). The index replaced the two trigram indexes: one index with as
many keys as those two had, so writing a leg costs what it did.
"""

from __future__ import annotations

import functools
import operator
from datetime import UTC, datetime, timedelta

from django.contrib.postgres.fields import ArrayField
from django.db.models import F, Func, Q, TextField

WEEK = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PIECE = 3  # characters per piece: as the trigram indexes
NO_START = "-"  # the week of a leg with no start time
# A leg starts with or after its session; an hour of slack for clocks that disagree.
EARLY_SLACK = timedelta(hours=1)
# A leg of a session started in the window starts at the latest this long after the window ends
# (a call's legs are set up within its first minutes; a day leaves room for very long calls).
LATE_SLACK = timedelta(days=1)
# One condition per week: a span of more weeks than this (about three years) is searched by
# checking each session's legs instead (classify/models.py ``with_leg``).
MAX_WEEKS = 160
# Each piece narrows the legs down, the last ones only a little more: a long fragment (the model
# method takes any string) asks for a dozen, and PostgreSQL checks the whole fragment anyway.
MAX_PIECES = 12

# The index expression (migration classify 0013); a query must spell it the same way for
# PostgreSQL to use the index.
FUNCTION = "classify_leg_number_keys"


def week_of(moment: datetime) -> int:
    """Whole weeks since 1970-01-01 00:00 UTC, as the index function counts them."""
    return (moment - EPOCH) // WEEK


def pieces(fragment: str) -> list[str]:
    """The fragment's distinct three-character pieces (none when it is shorter)."""
    return sorted({fragment[i : i + PIECE] for i in range(len(fragment) - PIECE + 1)})


def number_keys() -> Func:
    return Func(
        F("initiated_at"),
        F("source"),
        F("destination"),
        function=FUNCTION,
        output_field=ArrayField(TextField()),
    )


def within_weeks(fragment: str, start: datetime, end: datetime) -> Q | None:
    """A condition on ``number_keys`` (aliased under that name) selecting the legs that started
    in [start, end), or have no start time, whose numbers hold every piece of ``fragment``: a
    superset of the matching legs, found through the index. None when the index cannot help: a
    fragment shorter than a piece, or more than MAX_WEEKS weeks."""
    wanted = pieces(fragment)[:MAX_PIECES]
    first, last = week_of(start), week_of(max(start, end))
    if not wanted or last - first + 1 > MAX_WEEKS:
        return None
    weeks = [str(week) for week in range(first, last + 1)] + [NO_START]
    return functools.reduce(
        operator.or_, (Q(number_keys__contains=[f"{week}:{piece}" for piece in wanted]) for week in weeks)
    )
