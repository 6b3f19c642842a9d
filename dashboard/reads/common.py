"""Small pieces every page's reads share: keyset cursors, percentages, date_bin, folding grouped rows."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import DateTimeField, Func, Q
from django.utils import timezone

from classify.models import OutcomeGroup

# What "failing" means on the overview and the KPI page's causes: the callee did not answer, or
# the call failed or errored.
FAILING_GROUPS = [OutcomeGroup.NOT_ANSWERED, OutcomeGroup.FAILED, OutcomeGroup.ERROR]


# Where chart bins are counted from (date_bin's origin): bins line up whatever the window.
BIN_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@contextlib.contextmanager
def hash_grouping() -> Iterator[None]:
    """Run the reads inside grouped by hashing, not by sorting (``SET LOCAL enable_sort = off``).

    For a grouped read of a window's rollup rows PostgreSQL often picks sort-and-group: the
    bitmap scan's estimated cost dwarfs both ways of grouping, so they cost the same within its
    1 % fuzz and the sorted output wins the tie. Sorting thousands of rows on several text keys
    (collation-aware comparisons) then took 2× the hash's time: 25 against 12 ms for a week's
    causes by sub-account and country on 5 M sessions (dashboard/kpis.py ``who``). Only for reads
    without an ORDER BY of their own."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_sort'), set_config('enable_sort', 'off', true)")
        (before, _) = cursor.fetchone()
        try:
            yield
        finally:  # inside a caller's transaction the setting would otherwise last until it ends
            cursor.execute("SELECT set_config('enable_sort', %s, true)", [before])


class DateBin(Func):
    """PostgreSQL's date_bin(stride, source, origin): groups buckets into chart bars."""

    function = "date_bin"
    output_field = DateTimeField()


_LOOKUPS: dict[str, Callable[[Any, Any], bool]] = {
    "exact": lambda have, want: have == want,
    "in": lambda have, want: have in want,
    "gte": lambda have, want: have is not None and have >= want,
    "lte": lambda have, want: have is not None and have <= want,
    "lt": lambda have, want: have is not None and have < want,
}


RowTest = Callable[[Mapping[str, Any]], bool]


def predicate(q: Q) -> RowTest:
    """A test of whether a row read grouped by the fields ``q`` looks at meets ``q``, as
    PostgreSQL would evaluate it: a comparison with a missing value is false, and its negation
    true (Django's negation guards NULLs so). For folding a few grouped rows here rather than
    evaluating a filter per aggregate on every row of a window (dashboard/kpis.py,
    reads/overview.py). Built once per Q: walking the Q for every row was the overview's
    costliest Python (~7 ms a load on a week)."""
    parts: list[RowTest] = []
    for child in q.children:
        if isinstance(child, Q):
            parts.append(predicate(child))
        else:
            lookup, want = cast(tuple[str, Any], child)
            name, _, kind = lookup.partition("__")
            parts.append(functools.partial(_compare, _LOOKUPS[kind or "exact"], name, want))
    negated = q.negated
    # Plain loops: a generator under all()/any() cost twice as much on the overview's rows.
    if q.connector == Q.AND:

        def test(row: Mapping[str, Any]) -> bool:
            for part in parts:
                if not part(row):
                    return negated
            return not negated

    else:

        def test(row: Mapping[str, Any]) -> bool:
            for part in parts:
                if part(row):
                    return not negated
            return negated

    return test


def _compare(lookup: Callable[[Any, Any], bool], name: str, want: Any, row: Mapping[str, Any]) -> bool:
    return lookup(row[name], want)


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def is_int(value: str) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


def cursor(ts: datetime, pk: int) -> str:
    return f"{ts.isoformat()}_{pk}"


_BIGINT = 2**63 - 1
# A day from the calendar's edges: room for the feed's few seconds of overlap.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """ "<iso time>_<id>" -> (time, id); anything malformed is ignored (first page).

    Malformed includes a time at the edge of the calendar ("0001-01-01T00:00:00+14:00" is before
    year 1 in UTC) and an id PostgreSQL's bigint cannot hold: both raised deep in a query (a 500).
    """
    if not value or "_" not in value:
        return None
    stamp, _, pk = value.rpartition("_")
    try:
        moment = datetime.fromisoformat(stamp)
        number = int(pk)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not _EARLIEST <= moment <= _LATEST or not -_BIGINT <= number <= _BIGINT:
        return None
    return moment, number
