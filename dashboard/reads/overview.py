"""The overview page's reads: outcome tiles, the outcome chart and the top failure causes."""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Sum

from classify import rollups
from classify.models import CauseKind, CodeRollup, OutcomeGroup, Session, SessionRollup
from dashboard.reads.common import BIN_ORIGIN, FAILING_GROUPS, is_int, pct, predicate
from dashboard.timerange import Window
from reference.models import SipCode, VoiceErrorCode
from reference.snapshot import unknown_code_reason

# --- the outcome chart's bars -----------------------------------------------------------------

# Chart resolution per window: about 8–60 bars whatever the span. A week or more is drawn in
# whole days (``DAY_BARS_FROM``): a day's bar reads its day buckets, where 6-hour bars had to read
# every hour row of the week (~42,000 on 5 M sessions, ~18 ms), which kept the overview over its
# target. A bar leads to that day, in finer bars.
CHART_BIN: dict[str, timedelta] = {
    "15m": timedelta(minutes=1),
    "1h": timedelta(minutes=2),
    "24h": timedelta(minutes=30),
    "7d": timedelta(days=1),
}
DAY_BARS_FROM = timedelta(days=7)
# For absolute windows: the smallest stride giving at most about 60 bars.
_STRIDES = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]


def chart_bin(window: Window) -> timedelta:
    if window.key in CHART_BIN:
        return CHART_BIN[window.key]
    size, _ = rollups.window_filter(window.start, window.end)
    if window.span >= DAY_BARS_FROM:
        smallest = timedelta(days=1)
    else:
        smallest = timedelta(hours=1) if size == "hour" else timedelta(minutes=1)
    for stride in _STRIDES:
        if stride >= smallest and window.span / stride <= 60:
            return stride
    return _STRIDES[-1]


def outcome_series(
    window: Window, counted: Mapping[datetime, Mapping[str, int]]
) -> list[tuple[datetime, dict[str, int]]]:
    """Sessions per chart bin and outcome group, every bin of the window included (empty ones
    too). ``counted``: the counts per bin of ``chart_bin(window)``, read with the KPI totals in one
    scan of the rollups (``kpis.window_sums``)."""
    stride = chart_bin(window)
    origin = BIN_ORIGIN
    by_bin = {moment: dict(groups) for moment, groups in counted.items()}
    first = origin + ((window.start - origin) // stride) * stride
    bins: list[tuple[datetime, dict[str, int]]] = []
    moment = first
    while moment < window.end:
        bins.append((moment, by_bin.get(moment, {})))
        moment += stride
    return bins


# --- tiles --------------------------------------------------------------------------------------


@dataclass
class Tile:
    """One overview tile's figures; the view names and colours it (dashboard/views.py ``TILES``)."""

    key: str  # "sessions", or the outcome share it shows: a key of TILE_GROUPS
    value: float | None  # "sessions": how many; otherwise the share in percent (None: no sessions)
    change: float | None  # percent change (count) or percentage points (rates)
    unit: str  # "%" or "pp"
    week_change: float | None = None  # the same, against the same window a week earlier


# The outcome groups each share tile counts.
TILE_GROUPS: dict[str, list[OutcomeGroup]] = {
    "answered": [OutcomeGroup.ANSWERED],
    "not_answered": [OutcomeGroup.NOT_ANSWERED],
    "failed": [OutcomeGroup.FAILED, OutcomeGroup.ERROR],
}


def outcome_counts(window: Window) -> dict[str, int]:
    rows = SessionRollup.objects.in_window(window).values("outcome_group").annotate(n=Sum("count"))
    return {row["outcome_group"]: row["n"] for row in rows}


def outcome_counts_of(*windows: Window) -> list[dict[str, int]]:
    """``outcome_counts`` of each window, in one scan of their buckets, grouped by bucket and
    folded into each window here (a few hundred rows): a sum per window with its filter
    evaluated on every row of two busy weeks took twice as long. A 7-day window's previous
    window and its week-earlier one are usually the same buckets, read once."""
    filters = [rollups.window_filter(w.start, w.end)[1] for w in windows]
    either = functools.reduce(operator.or_, dict.fromkeys(filters))
    rows = (
        SessionRollup.objects.filter(either)
        .values("bucket_size", "bucket_start", "outcome_group")
        .annotate(n=Sum("count"))
        .order_by()
    )
    # A 7-day window's previous window is its week-earlier one: fold each distinct filter once.
    distinct = list(dict.fromkeys(filters))
    counts: list[dict[str, int]] = [defaultdict(int) for _ in distinct]
    tests = [predicate(q) for q in distinct]
    # Which windows each bucket counts in, tested once per bucket rather than once per row.
    windows_of: dict[tuple[str, datetime], list[dict[str, int]]] = {}
    for row in rows:
        bucket = (row["bucket_size"], row["bucket_start"])
        if bucket not in windows_of:
            windows_of[bucket] = [found for test, found in zip(tests, counts, strict=True) if test(row)]
        for found in windows_of[bucket]:
            found[row["outcome_group"]] += row["n"]
    return [dict(counts[distinct.index(q)]) for q in filters]


def overview_tiles(window: Window, current: dict[str, int] | None = None) -> list[Tile]:
    """Sessions, then each outcome share, against the window before and a week earlier.

    ``current``: the window's outcome counts when the caller has read them already."""
    now = outcome_counts(window) if current is None else current
    before, week = outcome_counts_of(window.previous(), window.week_earlier())
    total, prev_total, week_total = sum(now.values()), sum(before.values()), sum(week.values())

    def rate(counts: dict[str, int], groups: Sequence[str], whole: int) -> float | None:
        return pct(sum(counts.get(g, 0) for g in groups), whole)

    def delta(a: float | None, b: float | None) -> float | None:
        return round(a - b, 1) if a is not None and b is not None else None

    def growth(then: int) -> float | None:
        return round(100.0 * (total - then) / then, 1) if then else None

    tiles = [Tile("sessions", total, growth(prev_total), "%", week_change=growth(week_total))]
    for key, groups in TILE_GROUPS.items():
        share = rate(now, groups, total)
        tiles.append(
            Tile(
                key,
                share,
                delta(share, rate(before, groups, prev_total)),
                "pp",
                week_change=delta(share, rate(week, groups, week_total)),
            )
        )
    return tiles


# --- failure causes -------------------------------------------------------------------------------


@dataclass
class Cause:
    """A primary cause of failing sessions; its links are the template's (dashboard/templatetags)."""

    kind: str  # a CauseKind value
    cause: str  # "486", "-2004", a status; "" when none was recorded
    count: int
    share: float | None
    reason: str
    retry: str
    responsibility: str


def failure_causes(window: Window, error_codes: Mapping[int, int], limit: int = 8) -> list[Cause]:
    """The primary causes of not-answered/failed/error sessions that started in the window.

    ``error_codes``: the window's sessions per 8x8 error code, as the overview reads them with
    its other sums (dashboard/kpis.py ``window_sums``); windows over a day rank them."""
    rows = _cause_counts(window, error_codes)
    total = sum(row["n"] for row in rows)
    rows = rows[:limit]
    sip = {
        int(r["primary_cause"]) for r in rows if r["primary_cause_kind"] == CauseKind.SIP and is_int(r["primary_cause"])
    }
    err = {
        int(r["primary_cause"])
        for r in rows
        if r["primary_cause_kind"] == CauseKind.ERROR_CODE and is_int(r["primary_cause"])
    }
    codes = {c.code: c for c in SipCode.objects.filter(code__in=sip)} if sip else {}
    errors = {e.code: e for e in VoiceErrorCode.objects.filter(code__in=err)} if err else {}
    causes = []
    for row in rows:
        kind, cause = row["primary_cause_kind"], row["primary_cause"]
        reason = retry = responsibility = ""
        if kind == CauseKind.SIP and is_int(cause):
            ref = codes.get(int(cause))
            if ref:
                reason, retry, responsibility = (
                    ref.reason_phrase,
                    ref.get_retry_advice_display(),
                    ref.get_responsibility_display(),
                )
            else:
                reason = unknown_code_reason(int(cause))
        elif kind == CauseKind.ERROR_CODE and is_int(cause):
            ref_err = errors.get(int(cause))
            if ref_err:
                reason, retry, responsibility = (
                    ref_err.message,
                    ref_err.get_retry_advice_display(),
                    ref_err.get_responsibility_display(),
                )
        causes.append(Cause(kind, cause, row["n"], pct(row["n"], total), reason, retry, responsibility))
    return causes


def _cause_counts(window: Window, error_codes: Mapping[int, int]) -> list[dict[str, Any]]:
    """(kind, cause, n) rows, most first.

    Up to a day this counts sessions. Beyond a day, counting a week of failing sessions costs
    too much per page view, so SIP causes come from the code rollups (final non-2xx codes,
    per leg) and 8x8 error codes from the session rollups (counting them from the sessions'
    error_code index took 15 ms for a week of 5 M sessions).
    """
    if window.span <= rollups.MINUTE_READS_WITHIN:
        return [
            dict(row)
            for row in Session.objects.started_in(window)
            .filter(outcome_group__in=FAILING_GROUPS)
            .values("primary_cause_kind", "primary_cause")
            .annotate(n=Count("id"))
            .order_by("-n", "primary_cause")
        ]
    rows = [
        {"primary_cause_kind": CauseKind.SIP, "primary_cause": r["sip_code"], "n": r["n"]}
        for r in CodeRollup.objects.in_window(window)
        .exclude(sip_class__in=["1xx", "2xx"])
        .values("sip_code")
        .annotate(n=Sum("count"))
    ]
    rows += [
        {"primary_cause_kind": CauseKind.ERROR_CODE, "primary_cause": str(code), "n": n}
        for code, n in error_codes.items()
    ]
    rows.sort(key=lambda r: (-r["n"], r["primary_cause"]))
    return rows
