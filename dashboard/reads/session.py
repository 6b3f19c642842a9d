"""One session's page: its legs, the timeline of its raw events and the guidance for its cause."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from classify import rules
from classify.models import CallLeg, CauseKind, Session
from classify.normalise import normalise
from dashboard.reads.common import is_int
from reference.models import RetryAdvice, SessionStatus, SipClass, SipCode, TroubleshootingEntry, VoiceErrorCode
from webhooks.masking import mask_payload, show_number
from webhooks.models import RawEvent


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


@dataclass
class Guidance:
    title: str
    explanation: str
    description: str
    common_cause: str
    retry: str
    responsibility: str
    reference_q: str  # what to search the reference for
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
    legs = list(session.legs.all())
    events = _raw_events(session)
    codes_needed = {code for leg in legs if (code := leg.final_sip_code) is not None}
    if session.primary_sip_code is not None:
        codes_needed.add(session.primary_sip_code)
    refs = {c.code: c for c in SipCode.objects.filter(code__in=codes_needed)} if codes_needed else {}
    timeline = _timeline(events, full_numbers=full_numbers)
    troubleshooting_ids = {
        tid for e in timeline if e.classification for tid in e.classification.troubleshooting_ids or []
    }
    raw_days = settings.SIPDESK_RAW_RETENTION_DAYS
    horizon = timezone.now() - timedelta(days=raw_days)
    first_seen = min(filter(None, [session.first_event_at, session.start_time]), default=None)
    return SessionDetail(
        session, _leg_views(legs, refs, full_numbers=full_numbers), timeline, _session_anomalies(session, timeline),
        _guidance(session, refs, troubleshooting_ids),
        payloads_expired=horizon if first_seen and first_seen < horizon else None, raw_retention_days=raw_days,
    )  # fmt: skip


def _raw_events(session: Session) -> list[RawEvent]:
    """The session's raw events in arrival order: those not classified yet through their small
    index (webhooks/models.py), then the classified ones from the day partitions the session's
    received times span, not from every partition (~40 partitions planned and looked up on every
    view: docs/design.md §8). The times are read after the unclassified events, so an event
    classified in between is in one read or the other."""
    events = RawEvent.objects.filter(session_id=session.session_id).select_related("eventclassification")
    found = {raw.id: raw for raw in events.unprocessed_of_session(session.session_id)}
    bounds = Session.objects.filter(pk=session.pk).values_list("first_received_at", "last_received_at").first()
    first, last = bounds or (None, None)  # None: the session was removed meanwhile (retention)
    if first is None or last is None:  # classified before migration classify 0014
        classified = events
    else:
        classified = events.filter(received_at__gte=first, received_at__lte=last)
    for raw in classified:
        found.setdefault(raw.id, raw)
    return sorted(found.values(), key=lambda raw: (raw.received_at, raw.id))


def _leg_views(legs: list[CallLeg], refs: dict[int, SipCode], *, full_numbers: bool) -> list[LegView]:
    views = []
    for leg in legs:
        # Only a disconnect's code is the leg's outcome: the 200 that 8x8 puts on CALL_INITIATED
        # would read as a green "200 OK" on a leg that FAILED without a disconnect.
        code = leg.final_sip_code
        ref = refs.get(code) if code is not None else None
        views.append(
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
    return views


def _timeline(events: list[RawEvent], *, full_numbers: bool) -> list[TimelineEntry]:
    """The events in event-time order, each with its flags, anomalies and (masked) payload."""
    labels = rules.ANOMALY_LABELS
    # Out of order: it arrived after an event that happened later than it did, the classifier's
    # rule (classify/rules.py out_of_order_ids) over the events whose time is known.
    late = rules.arrived_out_of_order(
        (raw.id, cls.event_time)
        for raw in events
        if (cls := getattr(raw, "eventclassification", None)) and cls.event_time
    )
    timeline = []
    for raw in events:
        cls = getattr(raw, "eventclassification", None)
        body = raw.body if full_numbers else mask_payload(raw.body)
        timeline.append(
            TimelineEntry(
                raw=raw,
                event_time=cls.event_time if cls else None,
                classification=cls,
                out_of_order=raw.id in late or bool(cls and "out_of_order" in (cls.anomalies or [])),
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
    return timeline


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


def _session_anomalies(session: Session, timeline: list[TimelineEntry]) -> list[tuple[str, str]]:
    labels = rules.ANOMALY_LABELS
    anomalies = [(slug, labels.get(slug, slug.replace("_", " "))) for slug in session.anomalies or []]
    repeated = [e.raw.deliveries for e in timeline if e.raw.deliveries > 1]
    if repeated:  # counted, not judged: how many events came more than once, and how often
        anomalies = [
            (slug, f"{label}: {len(repeated)} event(s) delivered {sum(repeated)} times in all")
            if slug == "duplicate_delivery" else (slug, label)
            for slug, label in anomalies
        ]  # fmt: skip
    return anomalies


# --- guidance for the primary cause ---------------------------------------------------------------


def retry_label(value: str) -> str:
    try:
        return RetryAdvice(value).label
    except ValueError:
        return value.replace("_", " ") if value else ""


def _guidance(session: Session, refs: dict[int, SipCode], troubleshooting_ids: set[int]) -> Guidance | None:
    kind, cause = session.primary_cause_kind, session.primary_cause
    entries = TroubleshootingEntry.objects.prefetch_related("sip_codes")
    if kind == CauseKind.SIP and session.primary_sip_code is not None:
        code = session.primary_sip_code
        troubleshooting = list(entries.filter(Q(sip_codes=code) | Q(id__in=troubleshooting_ids)).distinct())
        return _sip_guidance(code, refs.get(code), troubleshooting)
    if kind == CauseKind.ERROR_CODE and is_int(cause):
        err = VoiceErrorCode.objects.filter(code=int(cause)).first()
        message = err.message if err else "Unknown 8x8 error code"
        return Guidance(
            f"8x8 error {cause}: {message}",
            err.guidance if err else (session.error_message or ""),
            session.error_message,
            "",
            err.get_retry_advice_display() if err else "",
            err.get_responsibility_display() if err else "",
            cause,
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
            cause,
            list(entries.filter(id__in=troubleshooting_ids)),
        )
    return None


def _sip_guidance(code: int, ref: SipCode | None, troubleshooting: list[TroubleshootingEntry]) -> Guidance:
    if ref is None:  # described by its class (reference/snapshot.py class_fallback)
        sip_class = SipClass.objects.for_code(code)
        fallback = sip_class.fallback_for(code) if sip_class else None
        return Guidance(
            f"SIP {code} (not in the reference)",
            fallback.explanation if fallback else f"{code} is not in the reference; it is not a valid SIP code.",
            fallback.description if fallback else "",
            "",
            retry_label(fallback.retry_advice) if fallback else "",
            "",
            str(code),
            troubleshooting,
        )
    return Guidance(
        f"SIP {ref.code} {ref.reason_phrase}",
        ref.explanation,
        ref.description,
        ref.common_cause,
        ref.get_retry_advice_display(),
        ref.get_responsibility_display(),
        str(code),
        troubleshooting,
    )
