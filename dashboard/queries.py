"""Every database read the dashboard makes lives here; views stay thin and templates dumb.

Long windows read the rollups (minute buckets for the last day, hour buckets beyond), never
raw events. Phone numbers are masked here, before anything reaches a template.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, DateTimeField, DurationField, Exists, F, Func, OuterRef, Prefetch, Q, Sum, Value
from django.utils import timezone

from classify import rollups, rules
from classify.models import CallLeg, CauseKind, OutcomeGroup, Session, SessionRollup
from classify.models import CodeRollup as CodeRollupModel
from classify.normalise import normalise
from dashboard import filters
from notes.models import SessionNote
from reference.models import (
    BestPractice,
    LegStatus,
    RetryAdvice,
    SessionStatus,
    SipClass,
    SipCode,
    TroubleshootingEntry,
    VoiceErrorCode,
)
from reference.snapshot import unknown_code_reason
from retention import disk
from webhooks.masking import mask_payload, show_number
from webhooks.models import EventState, RawEvent, ReceiverTally

# --- windows ---------------------------------------------------------------------------------

WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_WINDOW = "1h"
# Chart resolution per window: about 15–60 bars whatever the span.
CHART_BIN: dict[str, timedelta] = {
    "15m": timedelta(minutes=1),
    "1h": timedelta(minutes=2),
    "24h": timedelta(minutes=30),
    "7d": timedelta(hours=6),
}
FAILING_GROUPS = [OutcomeGroup.NOT_ANSWERED, OutcomeGroup.FAILED, OutcomeGroup.ERROR]


CUSTOM_WINDOW = "custom"  # an absolute start/end (dashboard/timerange.py) rather than "last …"


@dataclass(frozen=True)
class Window:
    key: str
    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def is_custom(self) -> bool:
        return self.key == CUSTOM_WINDOW

    def previous(self) -> Window:
        return Window(self.key, self.start - self.span, self.start)

    def week_earlier(self) -> Window:
        """The same window one week before: the baseline for "up, but so is traffic"."""
        return Window(self.key, self.start - timedelta(days=7), self.end - timedelta(days=7))

    def frozen(self) -> Window:
        return Window(CUSTOM_WINDOW, self.start, self.end)

    @property
    def query(self) -> str:
        """The page's own query string for this window: "window=1h", or the absolute range."""
        if not self.is_custom:
            return f"window={self.key}"
        return f"start={_stamp(self.start)}&end={_stamp(self.end)}"

    @property
    def label(self) -> str:
        """For "… in {label}": "the last 1h", or "the chosen range"."""
        return "the chosen range" if self.is_custom else f"the last {self.key}"

    @property
    def sessions_query(self) -> str:
        """The sessions list's query string for the same sessions."""
        if not self.is_custom:
            return f"range={self.key}"
        return f"start={_stamp(self.start)}&end={_stamp(self.end)}"


def _stamp(moment: datetime) -> str:
    """UTC, whole seconds, "Z": safe in a URL without escaping and read back by every parser."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# For absolute windows: the smallest stride giving at most about 60 bars.
_STRIDES = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)]


def chart_bin(window: Window) -> timedelta:
    if window.key in CHART_BIN:
        return CHART_BIN[window.key]
    size, _ = _bucket_filter(window)
    smallest = timedelta(hours=1) if size == "hour" else timedelta(minutes=1)
    for stride in _STRIDES:
        if stride >= smallest and window.span / stride <= 60:
            return stride
    return _STRIDES[-1]


def window_for(key: str, now: datetime | None = None) -> Window:
    key = key if key in WINDOWS else DEFAULT_WINDOW
    end = now or timezone.now()
    return Window(key, end - WINDOWS[key], end)


def _bucket_filter(window: Window) -> tuple[str, Q]:
    return rollups.window_filter(window.start, window.end)


class DateBin(Func):
    """PostgreSQL's date_bin(stride, source, origin): groups buckets into chart bars."""

    function = "date_bin"
    output_field = DateTimeField()


# --- small helpers -----------------------------------------------------------------------------


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _cursor(ts: datetime, pk: int) -> str:
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


def anomaly_labels() -> dict[str, str]:
    return dict(rules.ANOMALY_LABELS)


def retry_label(value: str) -> str:
    try:
        return RetryAdvice(value).label
    except ValueError:
        return value.replace("_", " ") if value else ""


# --- overview ---------------------------------------------------------------------------------


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
        return _pct(sum(counts.get(g, 0) for g in groups), whole)

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
    """The primary causes of not-answered/failed/error sessions that started in the window.

    Up to a day this counts sessions. Beyond a day, counting a week of failing sessions costs
    too much per page view, so SIP causes come from the code rollups (final non-2xx codes,
    per leg) and 8x8 error codes from the small error_code index.
    """
    if window.span <= rollups.MINUTE_READS_WITHIN:
        rows = list(
            Session.objects.started_in(window)
            .filter(outcome_group__in=FAILING_GROUPS)
            .values("primary_cause_kind", "primary_cause")
            .annotate(n=Count("id"))
            .order_by("-n", "primary_cause")
        )
    else:
        rows = [
            {"primary_cause_kind": CauseKind.SIP, "primary_cause": r["sip_code"], "n": r["n"]}
            for r in CodeRollupModel.objects.in_window(window)
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
    total = sum(row["n"] for row in rows)
    rows = rows[:limit]
    sip = {
        int(r["primary_cause"])
        for r in rows
        if r["primary_cause_kind"] == CauseKind.SIP and _is_int(r["primary_cause"])
    }
    err = {
        int(r["primary_cause"])
        for r in rows
        if r["primary_cause_kind"] == CauseKind.ERROR_CODE and _is_int(r["primary_cause"])
    }
    codes = {c.code: c for c in SipCode.objects.filter(code__in=sip)} if sip else {}
    errors = {e.code: e for e in VoiceErrorCode.objects.filter(code__in=err)} if err else {}
    causes = []
    for row in rows:
        kind, cause = row["primary_cause_kind"], row["primary_cause"]
        reason = retry = responsibility = ""
        query, anchor = f"status={cause}", ""
        if kind == CauseKind.SIP and _is_int(cause):
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
        elif kind == CauseKind.ERROR_CODE and _is_int(cause):
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
        causes.append(Cause(kind, cause, row["n"], _pct(row["n"], total), reason, retry, responsibility, query, anchor))
    return causes


def _is_int(value: str) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass
class Health:
    last_event_at: datetime | None
    pending: int
    failed: int
    duplicates: int
    refusals: int
    refusals_by_reason: dict[str, int]
    oldest_pending_age_seconds: float = 0.0
    pending_age_limit_seconds: int = 0
    disk_warnings: list[str] = field(default_factory=list)  # retention/disk.py

    @property
    def queue_stuck(self) -> bool:
        return self.oldest_pending_age_seconds > self.pending_age_limit_seconds


def receiver_health(window: Window) -> Health:
    last = RawEvent.objects.order_by("-received_at").values_list("received_at", flat=True).first()
    backlog = pending_backlog()
    pending = backlog["pending"]
    failed = RawEvent.objects.filter(state=EventState.FAILED, received_at__gte=window.start).count()
    tallies = ReceiverTally.objects.filter(minute__gte=window.start.replace(second=0, microsecond=0)).values(
        "outcome", "reason"
    )
    duplicates, refusals = 0, 0
    by_reason: dict[str, int] = {}
    for row in tallies.annotate(n=Sum("count")):
        if row["outcome"] == "duplicate":
            duplicates += row["n"]
        elif row["outcome"] == "refused":
            refusals += row["n"]
            by_reason[row["reason"] or "unspecified"] = by_reason.get(row["reason"] or "unspecified", 0) + row["n"]
    return Health(
        last, pending, failed, duplicates, refusals, by_reason,
        backlog["oldest_pending_age_seconds"], backlog["pending_age_limit_seconds"], disk.warnings(),
    )  # fmt: skip


# --- session rows (feed, list, CSV) ------------------------------------------------------------


@dataclass
class SessionRow:
    id: int
    session_id: str
    start_time: datetime | None
    updated_at: datetime
    status: str
    outcome_group: str
    product: str
    sub_account_id: str
    primary_cause: str
    primary_cause_kind: str
    duration_seconds: int | None
    anomalies: list[str]
    source: str
    destination: str
    destination_country: str
    directions: str


_LEG_FIELDS = (
    "id",
    "session_id",
    "direction",
    "source",
    "destination",
    "destination_country",
    "initiated_at",
    "leg_key",
)


def _legs_prefetch() -> Prefetch:
    return Prefetch("legs", queryset=CallLeg.objects.only(*_LEG_FIELDS).order_by("initiated_at", "leg_key", "id"))


def _row(session: Session, *, full_numbers: bool) -> SessionRow:
    legs = list(session.legs.all())
    first = legs[0] if legs else None
    # Number masking: a bridged call's far end is the last leg's destination.
    last = legs[-1] if legs else None
    return SessionRow(
        id=session.id,
        session_id=session.session_id,
        start_time=session.start_time,
        updated_at=session.updated_at,
        status=session.status,
        outcome_group=session.outcome_group,
        product=session.get_product_display(),
        sub_account_id=session.sub_account_id,
        primary_cause=session.primary_cause,
        primary_cause_kind=session.primary_cause_kind,
        duration_seconds=session.duration_seconds,
        anomalies=list(session.anomalies or []),
        source=show_number(first.source if first else "", full=full_numbers),
        destination=show_number(last.destination if last else "", full=full_numbers),
        destination_country=(last.destination_country if last else ""),
        directions="/".join(leg.direction.lower() for leg in legs if leg.direction),
    )


def feed(
    after: str | None, *, full_numbers: bool, limit: int = 15, where: Q | None = None
) -> tuple[list[SessionRow], str | None]:
    """Sessions changed after the cursor, newest first, and the next cursor.

    The cursor is (updated_at, id). A worker stamps updated_at before its transaction commits,
    so a slow batch can commit rows stamped just before the cursor; re-reading a few seconds of
    overlap catches them, and the page replaces a row it already shows (same element id).
    """
    qs = Session.objects.prefetch_related(_legs_prefetch()).order_by("-updated_at", "-id")
    parsed = parse_cursor(after)
    if parsed:
        qs = qs.filter(updated_at__gt=parsed[0] - timedelta(seconds=5))
    if where is not None:  # the feed's filter (dashboard.filters.FeedFilter); a day back at most
        qs = qs.filter(where)
        if not parsed:
            qs = qs.filter(updated_at__gte=timezone.now() - timedelta(hours=24))
    sessions = list(qs[:limit])
    rows = [_row(s, full_numbers=full_numbers) for s in sessions]
    if sessions:
        cursor = _cursor(sessions[0].updated_at, sessions[0].id)
    else:
        cursor = (after or "") if parsed else _cursor(timezone.now() - timedelta(seconds=5), 0)
    return rows, cursor


SESSION_RANGES: dict[str, timedelta | None] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
PAGE_SIZE = 50
SIP_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"]


def filter_sessions(f: dict[str, Any], *, now: datetime | None = None) -> Any:
    """The session queryset for cleaned filter values (see dashboard.forms.SessionFilterForm)."""
    span = SESSION_RANGES.get(f.get("range") or "24h")
    start = f.get("start") or ((now or timezone.now()) - span if span is not None else None)
    qs = Session.objects.filtered(
        start=start,
        end=f.get("end"),
        status=f.get("status", ""),
        outcome_group=f.get("outcome", ""),
        product=f.get("product", ""),
        fault_side=f.get("fault_side", ""),
        sip_code=f.get("sip_code"),
        sip_class=f.get("sip_class", ""),
        error_code=f.get("error_code"),
        anomaly=f.get("anomaly", ""),
        direction=f.get("direction", ""),
        country=f.get("country", ""),
        number=f.get("number", ""),
        number_exact=bool(f.get("number_exact")),
    )
    if f.get("sub_account"):
        qs = qs.filter(filters.sub_account_q(f["sub_account"]))
    if f.get("note"):
        notes = SessionNote.objects.filter(session_id=OuterRef("session_id"))
        qs = qs.filter(Exists(notes if f["note"] == "any" else notes.filter(label=f["note"])))
    return qs


@dataclass
class SessionPage:
    rows: list[SessionRow]
    next_cursor: str | None
    is_first: bool


def session_page(f: dict[str, Any], *, full_numbers: bool, cursor: str | None) -> SessionPage:
    """One keyset page on (start_time, id): constant cost however deep the page."""
    oldest_first = f.get("sort") == "oldest"
    qs = filter_sessions(f)
    parsed = parse_cursor(cursor)
    if oldest_first:
        qs = qs.order_by("start_time", "id")
        if parsed:
            qs = qs.filter(Q(start_time__gt=parsed[0]) | Q(start_time=parsed[0], id__gt=parsed[1]))
    else:
        qs = qs.order_by("-start_time", "-id")
        if parsed:
            qs = qs.filter(Q(start_time__lt=parsed[0]) | Q(start_time=parsed[0], id__lt=parsed[1]))
    # Ids first, whole rows second: the (start_time, id) index alone answers the first query
    # (an index-only scan), so a filter that discards many rows on the way, like a number
    # search's id list, never reads those rows from the table.
    page_ids = list(qs.values_list("id", flat=True)[: PAGE_SIZE + 1])
    more = len(page_ids) > PAGE_SIZE
    by_id = Session.objects.prefetch_related(_legs_prefetch()).in_bulk(page_ids[:PAGE_SIZE])
    sessions = [by_id[pk] for pk in page_ids[:PAGE_SIZE]]
    last_start = sessions[-1].start_time if more else None
    next_cursor = _cursor(last_start, sessions[-1].id) if last_start is not None else None
    return SessionPage([_row(s, full_numbers=full_numbers) for s in sessions], next_cursor, parsed is None)


CSV_HEADER = [
    "session_id", "start_time", "end_time", "duration_seconds", "status", "outcome_group", "product",
    "sub_account_id", "primary_cause", "primary_cause_kind", "error_code", "anomalies", "legs",
    "source", "destination", "destination_countries", "fault_side",
]  # fmt: skip


def session_csv_rows(f: dict[str, Any], *, full_numbers: bool) -> Iterator[list[Any]]:
    """Every filtered session (not one page), read in chunks so memory stays flat."""
    qs = (
        filter_sessions(f)
        .prefetch_related(
            Prefetch(
                "legs",
                queryset=CallLeg.objects.only(*_LEG_FIELDS).order_by("initiated_at", "leg_key", "id"),
            )
        )
        .order_by("-start_time", "-id")
    )
    for s in qs.iterator(chunk_size=2000):
        legs = list(s.legs.all())
        yield [
            s.session_id,
            s.start_time.isoformat() if s.start_time else "",
            s.end_time.isoformat() if s.end_time else "",
            "" if s.duration_seconds is None else s.duration_seconds,
            s.status,
            s.outcome_group,
            s.product,
            s.sub_account_id,
            s.primary_cause,
            s.primary_cause_kind,
            "" if s.error_code is None else s.error_code,
            " ".join(s.anomalies or []),
            len(legs),
            show_number(legs[0].source, full=full_numbers) if legs else "",
            show_number(legs[-1].destination, full=full_numbers) if legs else "",
            " ".join(sorted({leg.destination_country for leg in legs if leg.destination_country})),
            s.fault_side,
        ]


# --- one session ------------------------------------------------------------------------------


@dataclass
class LegView:
    leg: CallLeg
    source: str
    destination: str
    sip_code: int | None  # the final code (CALL_DISCONNECTED), or None
    sip_reason: str
    sip_class: str
    # The last code seen when there is no final one (200 on CALL_INITIATED): shown, but never as an outcome.
    last_sip_code: int | None = None


@dataclass
class TimelineEntry:
    raw: RawEvent
    event_time: datetime | None
    classification: Any
    out_of_order: bool
    duplicate: bool
    payload: str
    anomalies: list[str]
    # What the event captured, for the timeline: clientActionId, DTMF, a recording's status …
    captured: list[tuple[str, str]] = field(default_factory=list)


def captured_details(body: Any) -> list[tuple[str, str]]:
    """(label, value) pairs worth showing on a timeline entry, read the classifier's way."""
    try:
        event = normalise(body)
    except Exception:  # an unreadable body shows its raw payload and error instead
        return []
    found = [
        ("clientActionId", event.client_action_id),
        ("DTMF", event.dtmf or ""),
        ("recording", event.recording_status),
        ("recordingId", event.recording_id),
        ("duration", f"{event.recording_duration} s" if event.recording_duration is not None else ""),
        ("file", event.recording_path),
    ]
    return [(label, value) for label, value in found if value]


@dataclass
class Guidance:
    title: str
    explanation: str
    description: str
    common_cause: str
    retry: str
    responsibility: str
    reference_url_query: str
    troubleshooting: list[TroubleshootingEntry] = field(default_factory=list)


@dataclass
class SessionDetail:
    session: Session
    legs: list[LegView]
    timeline: list[TimelineEntry]
    anomalies: list[tuple[str, str]]
    guidance: Guidance | None
    # Set when some of its raw payloads are past SIPDESK_RAW_RETENTION_DAYS (retention/purge.py).
    payloads_expired: datetime | None = None
    raw_retention_days: int = 0


OWN_FLAG_ANOMALIES = frozenset({"out_of_order", "duplicate_delivery"})


def session_detail(session_id: str | None, *, full_numbers: bool, pk: int | None = None) -> SessionDetail | None:
    """A session by its 8x8 session id, or by primary key when ``pk`` is given."""
    session = (
        Session.objects.filter(pk=pk).first()
        if pk is not None
        else Session.objects.filter(session_id=session_id).first()
    )
    if session is None:
        return None
    session_id = session.session_id
    legs = list(session.legs.all())
    events = list(
        RawEvent.objects.filter(session_id=session_id)
        .select_related("eventclassification")
        .order_by("received_at", "id")
    )
    codes_needed = {code for leg in legs if (code := leg.final_sip_code) is not None}
    if session.primary_sip_code is not None:
        codes_needed.add(session.primary_sip_code)
    refs = {c.code: c for c in SipCode.objects.filter(code__in=codes_needed)} if codes_needed else {}

    leg_views = []
    for leg in legs:
        # Only a disconnect's code is the leg's outcome: the 200 that 8x8 puts on CALL_INITIATED
        # would read as a green "200 OK" on a leg that FAILED without a disconnect.
        code = leg.final_sip_code
        ref = refs.get(code) if code is not None else None
        leg_views.append(
            LegView(
                leg,
                show_number(leg.source, full=full_numbers),
                show_number(leg.destination, full=full_numbers),
                code,
                ref.reason_phrase if ref else ("" if code is None else "Not in the reference"),
                rules.sip_class(code),
                leg.last_sip_code if code is None else None,
            )
        )

    labels = anomaly_labels()
    timeline = []
    # Out of order: it arrived after an event that happened later than it did, the classifier's
    # rule (classify/rules.py out_of_order_ids) over the events whose time is known.
    late = rules.arrived_out_of_order(
        (raw.id, cls.event_time)
        for raw in events
        if (cls := getattr(raw, "eventclassification", None)) and cls.event_time
    )
    for raw in events:
        cls = getattr(raw, "eventclassification", None)
        event_time = cls.event_time if cls else None
        out_of_order = raw.id in late
        body = raw.body if full_numbers else mask_payload(raw.body)
        timeline.append(
            TimelineEntry(
                raw=raw,
                event_time=event_time,
                classification=cls,
                out_of_order=out_of_order or bool(cls and "out_of_order" in (cls.anomalies or [])),
                duplicate=raw.deliveries > 1,
                payload=json.dumps(body, indent=2, ensure_ascii=False),
                # out of order and duplicates have flags of their own on the entry: one chip each
                anomalies=[labels.get(a, a) for a in (cls.anomalies if cls else []) if a not in OWN_FLAG_ANOMALIES],
                captured=captured_details(raw.body),
            )
        )
    timeline.sort(
        key=lambda e: (
            (e.event_time or e.raw.received_at).replace(microsecond=0),
            e.raw.event_type == "SESSION_SUMMARY",  # within a second, the summary comes last
            e.event_time or e.raw.received_at,
            e.raw.received_at,
            e.raw.id,
        )
    )
    anomalies = [(slug, labels.get(slug, slug.replace("_", " "))) for slug in session.anomalies or []]
    repeated = [e.raw.deliveries for e in timeline if e.raw.deliveries > 1]
    if repeated:  # counted, not judged: how many events came more than once, and how often
        anomalies = [
            (slug, f"{label}: {len(repeated)} event(s) delivered {sum(repeated)} times in all")
            if slug == "duplicate_delivery" else (slug, label)
            for slug, label in anomalies
        ]  # fmt: skip
    troubleshooting_ids = {
        tid for e in timeline if e.classification for tid in e.classification.troubleshooting_ids or []
    }
    raw_days = settings.SIPDESK_RAW_RETENTION_DAYS
    horizon = timezone.now() - timedelta(days=raw_days)
    first_seen = min(filter(None, [session.first_event_at, session.start_time]), default=None)
    return SessionDetail(
        session, leg_views, timeline, anomalies, _guidance(session, refs, troubleshooting_ids),
        payloads_expired=horizon if first_seen and first_seen < horizon else None, raw_retention_days=raw_days,
    )  # fmt: skip


def _guidance(session: Session, refs: dict[int, SipCode], troubleshooting_ids: set[int]) -> Guidance | None:
    kind, cause = session.primary_cause_kind, session.primary_cause
    entries = TroubleshootingEntry.objects.prefetch_related("sip_codes")
    if kind == CauseKind.SIP and session.primary_sip_code is not None:
        code = session.primary_sip_code
        ref = refs.get(code)
        troubleshooting = list(entries.filter(Q(sip_codes=code) | Q(id__in=troubleshooting_ids)).distinct())
        if ref is None:
            sip_class = SipClass.objects.for_code(code)
            fallback = sip_class.fallback_for(code) if sip_class else None
            return Guidance(
                f"SIP {code} (not in the reference)",
                fallback.explanation if fallback else f"{code} is not in the reference; it is not a valid SIP code.",
                fallback.description if fallback else "",
                "",
                retry_label(fallback.retry_advice) if fallback else "",
                "",
                f"q={code}",
                troubleshooting,
            )
        return Guidance(
            f"SIP {ref.code} {ref.reason_phrase}",
            ref.explanation,
            ref.description,
            ref.common_cause,
            ref.get_retry_advice_display(),
            ref.get_responsibility_display(),
            f"q={code}",
            troubleshooting,
        )
    if kind == CauseKind.ERROR_CODE and _is_int(cause):
        err = VoiceErrorCode.objects.filter(code=int(cause)).first()
        message = err.message if err else "Unknown 8x8 error code"
        return Guidance(
            f"8x8 error {cause}: {message}",
            err.guidance if err else (session.error_message or ""),
            session.error_message,
            "",
            err.get_retry_advice_display() if err else "",
            err.get_responsibility_display() if err else "",
            f"q={cause}",
            list(entries.filter(id__in=troubleshooting_ids)),
        )
    if kind == CauseKind.STATUS and cause:
        status = SessionStatus.objects.filter(code=cause).first()
        return Guidance(
            f"Session status {cause}",
            status.description if status else "",
            "",
            "",
            retry_label(session.retry_advice),
            session.responsibility.replace("_", " "),
            f"q={cause}",
            list(entries.filter(id__in=troubleshooting_ids)),
        )
    return None


# --- codes ------------------------------------------------------------------------------------


@dataclass
class CodeLine:
    code: str
    sip_class: str
    count: int
    share: float | None
    change: float | None  # percent vs previous window; None when new
    reason: str
    known: bool
    is_int: bool
    share_change: float | None = None  # percentage points of share vs the previous window
    share_week_change: float | None = None  # … vs the same window a week earlier


def _code_counts(window: Window, extra: Q | None = None) -> dict[tuple[str, str], int]:
    qs = CodeRollupModel.objects.in_window(window)
    if extra is not None:
        qs = qs.filter(extra)
    return {
        (r["sip_code"], r["sip_class"]): r["n"] for r in qs.values("sip_code", "sip_class").annotate(n=Sum("count"))
    }


def code_breakdown(window: Window) -> tuple[list[CodeLine], list[CodeLine], int]:
    """(known codes grouped by class, unknown codes, total) for the window."""
    current, previous = _code_counts(window), _code_counts(window.previous())
    prev_by_code: dict[str, int] = defaultdict(int)
    for (code, _), n in previous.items():
        prev_by_code[code] += n
    week_by_code: dict[str, int] = defaultdict(int)
    for (code, _), n in _code_counts(window.week_earlier()).items():
        week_by_code[code] += n
    prev_total, week_total = sum(prev_by_code.values()), sum(week_by_code.values())

    def share_delta(n: int, total: int, then: int, then_total: int) -> float | None:
        return round(100.0 * n / total - 100.0 * then / then_total, 1) if total and then_total else None

    ints = {int(code) for code, _ in current if _is_int(code)}
    refs = {c.code: c for c in SipCode.objects.filter(code__in=ints)} if ints else {}
    total = sum(current.values())
    known: list[CodeLine] = []
    unknown: list[CodeLine] = []
    for (code, sip_class), n in current.items():
        ref = refs.get(int(code)) if _is_int(code) else None
        before = prev_by_code.get(code, 0)
        line = CodeLine(
            code,
            sip_class,
            n,
            _pct(n, total),
            round(100.0 * (n - before) / before, 1) if before else None,
            ref.reason_phrase if ref else "",
            ref is not None,
            _is_int(code),
            share_delta(n, total, before, prev_total),
            share_delta(n, total, week_by_code.get(code, 0), week_total),
        )
        (known if ref else unknown).append(line)
    known.sort(key=lambda line: (line.sip_class, -line.count, line.code))
    unknown.sort(key=lambda line: (-line.count, line.code))
    return known, unknown, total


SPLITS = {"direction": "Direction", "destination_country": "Destination country", "sub_account_id": "Sub-account"}


def code_splits(window: Window, code: str | None, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Per dimension: total final codes, failures (3xx–6xx and invalid) and the top failing code.

    One grouped read of the rollup, folded three ways in Python: cheaper than six GROUP BYs
    over the same rows for a week of hour buckets.
    """
    qs = CodeRollupModel.objects.in_window(window)
    if code:
        qs = qs.filter(sip_code=code)
    rows = qs.values_list(*SPLITS, "sip_code", "sip_class").annotate(n=Sum("count")).order_by()
    totals: dict[str, dict[str, list[int]]] = {dim: defaultdict(lambda: [0, 0]) for dim in SPLITS}
    by_code: dict[str, dict[tuple[str, str], int]] = {dim: defaultdict(int) for dim in SPLITS}
    for direction, country, sub, sip_code, sip_class, n in rows:
        failing = sip_class not in ("1xx", "2xx")
        for dim, value in zip(SPLITS, (direction, country, sub), strict=True):
            slot = totals[dim][value]
            slot[0] += n
            if failing:
                slot[1] += n
                by_code[dim][(value, sip_code)] += n
    result = {}
    for dim in SPLITS:
        top: dict[str, tuple[int, str]] = {}
        for (value, sip_code), n in by_code[dim].items():
            if value not in top or (n, sip_code) > top[value]:
                top[value] = (n, sip_code)
        ranked = sorted(totals[dim].items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:limit]
        result[dim] = [
            {
                "value": value or "—",
                "raw": value,
                "total": total,
                "failures": failures,
                "failure_pct": _pct(failures, total),
                "top_code": top.get(value, (0, ""))[1],
            }
            for value, (total, failures) in ranked
        ]
    return result


# --- troubleshooting & reference -------------------------------------------------------------


# A troubleshooting card's colour: the worst side its codes fail on (classify.rules.fault_side).
SEVERITY_BY_FAULT_SIDE = {"network": "critical", "configuration": "warning", "customer": "info", "none": "info"}
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def troubleshooting(window: Window) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for (code, _), n in _code_counts(window).items():
        counts[code] += n
    entries, anchored = [], set()
    for entry in TroubleshootingEntry.objects.prefetch_related("sip_codes"):
        codes: list[dict[str, Any]] = []
        for c in entry.sip_codes.all():
            # A code listed under two entries counts in each; its page anchor (#code-487, linked
            # from the overview) goes to the first, so no id appears twice.
            anchor = f"code-{c.code}" if c.code not in anchored else f"entry-{entry.id}-code-{c.code}"
            anchored.add(c.code)
            codes.append(
                {"code": c.code, "reason": c.reason_phrase, "count": counts.get(str(c.code), 0), "anchor": anchor}
            )
        severities = [SEVERITY_BY_FAULT_SIDE[rules.fault_side(sip_code=c["code"])] for c in codes] or ["info"]
        entries.append(
            {
                "entry": entry,
                "codes": codes,
                "total": sum(c["count"] for c in codes),
                "severity": min(severities, key=_SEVERITY_RANK.__getitem__),
            }
        )
    error_counts = dict(
        Session.objects.started_in(window)
        .filter(error_code__isnull=False)
        .values_list("error_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    error_codes = list(VoiceErrorCode.objects.all())
    for error in error_codes:
        error.count = error_counts.get(error.code, 0)  # type: ignore[attr-defined]  # read by the template
    return {
        "entries": entries,
        "practices": list(BestPractice.objects.all()),
        "classes": list(SipClass.objects.all()),
        "error_codes": error_codes,
    }


def reference(q: str) -> dict[str, Any]:
    q = q.strip()
    codes = SipCode.objects.select_related("sip_class")
    errors = VoiceErrorCode.objects.all()
    statuses, leg_statuses, classes = SessionStatus.objects.all(), LegStatus.objects.all(), SipClass.objects.all()
    if q:
        text = Q(reason_phrase__icontains=q) | Q(description__icontains=q) | Q(explanation__icontains=q)
        # isascii(): "²" and "١٢٣" are digits to str.isdigit() but not to int() and the SIP code column.
        codes = codes.filter(text | Q(code=int(q)) if q.isascii() and q.isdigit() and len(q) <= 4 else text)
        err_text = Q(message__icontains=q) | Q(guidance__icontains=q)
        errors = errors.filter(err_text | Q(code=int(q)) if _is_int(q) and len(q) <= 6 else err_text)
        statuses = statuses.filter(Q(code__icontains=q) | Q(description__icontains=q))
        leg_statuses = leg_statuses.filter(Q(code__icontains=q) | Q(description__icontains=q))
        class_text = Q(name__icontains=q) | Q(meaning__icontains=q)
        if q[:1].isascii() and q[:1].isdigit():  # "486" or "4xx" also shows class 4
            class_text |= Q(digit=int(q[0]))
        classes = classes.filter(class_text)
    return {
        "codes": list(codes),
        "errors": list(errors),
        "statuses": list(statuses),
        "leg_statuses": list(leg_statuses),
        "classes": list(classes),
    }


# --- health & metrics -------------------------------------------------------------------------


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "not reachable" for a health probe
        return False, type(exc).__name__


def pending_backlog() -> dict[str, Any]:
    """How many events wait for classification, and how long the queue's head has waited.

    The head is the lowest pending id, the one the classifier claims first (one row from the
    partial index rawevent_pending_idx, however long the queue). It has waited since it was
    received or, when a repeat delivery sent a classified event back (processed_at set), since
    that delivery: an old event re-sent today is not a stuck queue.
    """
    pending = RawEvent.objects.pending()
    head = pending.order_by("id").values_list("received_at", "last_delivered_at", "processed_at").first()
    age = 0.0
    if head:
        received_at, last_delivered_at, processed_at = head
        since = last_delivered_at if processed_at else received_at
        age = max(0.0, round((timezone.now() - since).total_seconds(), 3))
    return {
        "pending": pending.count(),
        "oldest_pending_age_seconds": age,
        "pending_age_limit_seconds": settings.SIPDESK_PENDING_AGE_LIMIT_SECONDS,
    }


def metrics_gauges() -> dict[str, Any]:
    """The gauges /metrics reads at scrape time (config/metrics.py). Each is an index lookup whose
    cost follows the backlog or the calls in progress, never the size of the tables; the counters
    are kept by the code paths themselves."""
    backlog = pending_backlog()
    return {
        "pending": backlog["pending"],
        "lag": backlog["oldest_pending_age_seconds"],
        "sessions_in_progress": Session.objects.filter(outcome_group=OutcomeGroup.IN_PROGRESS).count(),
    }
