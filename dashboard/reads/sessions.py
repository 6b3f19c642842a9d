"""Session rows for the overview's live feed, the sessions list and its CSV export.

The list's filters arrive as the form's cleaned values (dashboard.forms.SessionFilterForm);
``filter_sessions`` maps them onto ``Session.objects.filtered`` (classify/models.py), adding the
two filters that belong to the dashboard: the sub-account's known spellings and support notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from classify.models import CallLeg, Session, SessionQuerySet
from dashboard import filters
from dashboard.reads.common import cursor as make_cursor
from dashboard.reads.common import parse_cursor
from notes.models import SessionNote
from webhooks.masking import show_number

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
        cursor = make_cursor(sessions[0].updated_at, sessions[0].id)
    else:
        cursor = (after or "") if parsed else make_cursor(timezone.now() - timedelta(seconds=5), 0)
    return rows, cursor


def filter_sessions(f: dict[str, Any], *, now: datetime | None = None) -> SessionQuerySet:
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
    next_cursor = make_cursor(last_start, sessions[-1].id) if last_start is not None else None
    return SessionPage([_row(s, full_numbers=full_numbers) for s in sessions], next_cursor, parsed is None)


CSV_HEADER = [
    "session_id", "start_time", "end_time", "duration_seconds", "status", "outcome_group", "product",
    "sub_account_id", "primary_cause", "primary_cause_kind", "error_code", "anomalies", "legs",
    "source", "destination", "destination_countries", "fault_side",
]  # fmt: skip


def session_csv_rows(f: dict[str, Any], *, full_numbers: bool) -> Iterator[list[Any]]:
    """Every filtered session (not one page), read in chunks so memory stays flat."""
    qs = filter_sessions(f).prefetch_related(_legs_prefetch()).order_by("-start_time", "-id")
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
