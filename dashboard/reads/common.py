"""Small pieces every page's reads share: keyset cursors, percentages, date_bin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import DateTimeField, Func
from django.utils import timezone

from classify.models import OutcomeGroup

# What "failing" means on the overview and the KPI page's causes: the callee did not answer, or
# the call failed or errored.
FAILING_GROUPS = [OutcomeGroup.NOT_ANSWERED, OutcomeGroup.FAILED, OutcomeGroup.ERROR]


# Where chart bins are counted from (date_bin's origin): bins line up whatever the window.
BIN_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


class DateBin(Func):
    """PostgreSQL's date_bin(stride, source, origin): groups buckets into chart bars."""

    function = "date_bin"
    output_field = DateTimeField()


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
