"""The overview page's reads: outcome tiles, the outcome chart and the top failure causes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, F, Sum, Value

from classify import rollups
from classify.models import CauseKind, CodeRollup, OutcomeGroup, Session, SessionRollup
from dashboard.reads.common import FAILING_GROUPS, DateBin, is_int, pct
from dashboard.timerange import Window
from reference.models import SipCode, VoiceErrorCode
from reference.snapshot import unknown_code_reason

# --- the outcome chart's bars -----------------------------------------------------------------

# Chart resolution per window: about 15–60 bars whatever the span.
CHART_BIN: dict[str, timedelta] = {
    "15m": timedelta(minutes=1),
    "1h": timedelta(minutes=2),
    "24h": timedelta(minutes=30),
    "7d": timedelta(hours=6),
}
# For absolute windows: the smallest stride giving at most about 60 bars.
_STRIDES = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]


def chart_bin(window: Window) -> timedelta:
    if window.key in CHART_BIN:
        return CHART_BIN[window.key]
    size, _ = rollups.window_filter(window.start, window.end)
    smallest = timedelta(hours=1) if size == "hour" else timedelta(minutes=1)
    for stride in _STRIDES:
        if stride >= smallest and window.span / stride <= 60:
            return stride
    return _STRIDES[-1]


def outcome_series(window: Window) -> list[tuple[datetime, dict[str, int]]]:
    """Sessions per chart bin and outcome group, from the rollups (bins with no sessions included)."""
    stride = chart_bin(window)
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    by_bin: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (
        SessionRollup.objects.in_window(window)
        .annotate(bin=DateBin(Value(stride, output_field=DurationField()), F("bucket_start"), Value(origin)))
        .values("bin", "outcome_group")
        .annotate(n=Sum("count"))
    )
    for row in rows:
        by_bin[row["bin"]][row["outcome_group"]] += row["n"]
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
    label: str
    value: str
    change: float | None  # percent change (count) or percentage points (rates)
    unit: str  # "%" or "pp"
    tone: str  # css modifier
    week_change: float | None = None  # the same, against the same window a week earlier
    rising: str = "bad"  # what a rise means, for its colour: "bad", "good" or "neutral" (volume)


def outcome_counts(window: Window) -> dict[str, int]:
    rows = SessionRollup.objects.in_window(window).values("outcome_group").annotate(n=Sum("count"))
    return {row["outcome_group"]: row["n"] for row in rows}


def overview_tiles(window: Window, current: dict[str, int] | None = None) -> list[Tile]:
    """``current``: the window's outcome counts when the caller has read them already."""
    now = outcome_counts(window) if current is None else current
    before = outcome_counts(window.previous())
    week = outcome_counts(window.week_earlier())
    total, prev_total, week_total = sum(now.values()), sum(before.values()), sum(week.values())

    def rate(counts: dict[str, int], groups: Sequence[str], whole: int) -> float | None:
        return pct(sum(counts.get(g, 0) for g in groups), whole)

    def delta(a: float | None, b: float | None) -> float | None:
        return round(a - b, 1) if a is not None and b is not None else None

    tiles = [
        Tile(
            "Sessions",
            f"{total:,}",
            round(100.0 * (total - prev_total) / prev_total, 1) if prev_total else None,
            "%",
            "neutral",
            week_change=round(100.0 * (total - week_total) / week_total, 1) if week_total else None,
            rising="neutral",
        )
    ]
    for label, groups, tone, rising in (
        ("Answered", [OutcomeGroup.ANSWERED], "answered", "good"),
        ("Not answered", [OutcomeGroup.NOT_ANSWERED], "not_answered", "bad"),
        ("Failed + error", [OutcomeGroup.FAILED, OutcomeGroup.ERROR], "failed", "bad"),
    ):
        share = rate(now, groups, total)
        tiles.append(
            Tile(
                label,
                "–" if share is None else f"{share}%",
                delta(share, rate(before, groups, prev_total)),
                "pp",
                tone,
                week_change=delta(share, rate(week, groups, week_total)),
                rising=rising,
            )
        )
    return tiles


# --- failure causes -------------------------------------------------------------------------------


@dataclass
class Cause:
    kind: str
    cause: str
    count: int
    share: float | None
    reason: str
    retry: str
    responsibility: str
    sessions_url_query: str
    guidance_anchor: str


def failure_causes(window: Window, limit: int = 8) -> list[Cause]:
    """The primary causes of not-answered/failed/error sessions that started in the window."""
    rows = _cause_counts(window)
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
        query, anchor = f"status={cause}", ""
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
            query, anchor = f"sip_code={cause}", f"code-{cause}"
        elif kind == CauseKind.ERROR_CODE and is_int(cause):
            ref_err = errors.get(int(cause))
            if ref_err:
                reason, retry, responsibility = (
                    ref_err.message,
                    ref_err.get_retry_advice_display(),
                    ref_err.get_responsibility_display(),
                )
            query, anchor = f"error_code={cause}", f"error-{cause}"
        elif not cause:
            cause, reason = "—", "No cause recorded yet"
            query = ""
        causes.append(Cause(kind, cause, row["n"], pct(row["n"], total), reason, retry, responsibility, query, anchor))
    return causes


def _cause_counts(window: Window) -> list[dict[str, Any]]:
    """(kind, cause, n) rows, most first.

    Up to a day this counts sessions. Beyond a day, counting a week of failing sessions costs
    too much per page view, so SIP causes come from the code rollups (final non-2xx codes,
    per leg) and 8x8 error codes from the small error_code index.
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
        {"primary_cause_kind": CauseKind.ERROR_CODE, "primary_cause": str(r["error_code"]), "n": r["n"]}
        for r in Session.objects.started_in(window)
        .filter(error_code__isnull=False)
        .values("error_code")
        .annotate(n=Count("id"))
    ]
    rows.sort(key=lambda r: (-r["n"], r["primary_cause"]))
    return rows
