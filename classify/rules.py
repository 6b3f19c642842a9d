"""Classification rules: pure functions, meant to be read next to SPEC §5.

No database access: reference data comes in as a ``ReferenceSnapshot`` loaded once per batch.
``derive_session`` turns *all* the stored events of one session into the session, its legs and
each event's verdict. Because it always starts from the whole set of events (sorted by event
time, ties broken deterministically), any arrival order of the same events gives the same result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from classify.models import CauseKind, FaultSide, OutcomeGroup, Product
from classify.normalise import (
    CALL_ACTION,
    CALL_STATUS,
    SESSION_SUMMARY,
    NormalisedEvent,
    NormalisedLeg,
)
from reference.snapshot import ReferenceSnapshot

# --- anomalies ----------------------------------------------------------------------------

ANOMALY_LABELS: dict[str, str] = {
    "error_on_leg": "ERROR status on a call leg (documented as session-level only)",
    "non_e164_number": "Phone number not in E.164 format",
    "status_contradicts_codes": "Session status contradicts the legs' SIP codes",
    "missing_summary": "No session summary (VSS) received yet",
    "out_of_order": "Events arrived out of order",
    # Not "duplicate from 8x8": a webhook whose answer was lost (receiver restarted, network) is
    # rightly retried, and sipdesk cannot tell that from a true re-send (issue 9).
    "duplicate_delivery": "Delivered more than once (8x8 retried or re-sent)",
    "unknown_enum_value": "Unknown status or enum value",
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# --- SIP class and finality ---------------------------------------------------------------


def sip_class(code: int | str | None) -> str:
    """``"1xx"`` … ``"6xx"`` from the first digit; ``"invalid"`` for anything else; ``"none"`` for no code."""
    if code is None or code == "":
        return "none"
    if isinstance(code, str):
        if not code.strip().isdigit():
            return "invalid"
        code = int(code)
    if isinstance(code, bool) or not 100 <= code <= 699:
        return "invalid"
    return f"{code // 100}xx"


def is_final(event: NormalisedEvent) -> bool:
    """A SIP code is an outcome only on ``CALL_DISCONNECTED`` (8x8 sends 200 on non-final events)
    or on a VSS."""
    return event.kind == SESSION_SUMMARY or (
        event.kind in (CALL_STATUS, CALL_ACTION) and event.call_status == "CALL_DISCONNECTED"
    )


# --- outcome and fault side ---------------------------------------------------------------

OUTCOME_BY_STATUS = {
    "COMPLETED": OutcomeGroup.ANSWERED,
    "NO_ANSWER": OutcomeGroup.NOT_ANSWERED,
    "BUSY": OutcomeGroup.NOT_ANSWERED,
    "CANCELED": OutcomeGroup.NOT_ANSWERED,
    "FAILED": OutcomeGroup.FAILED,
    "ERROR": OutcomeGroup.ERROR,
    "COMPLETED_UNSUBSCRIBED": OutcomeGroup.OPT_OUT,
    "COMPLETED_UNSUB_ERROR": OutcomeGroup.OPT_OUT,
    "UNSUBSCRIBED_CONTACT": OutcomeGroup.OPT_OUT,
    "IN_PROGRESS": OutcomeGroup.IN_PROGRESS,
    "": OutcomeGroup.IN_PROGRESS,
}
OPT_OUT_STATUSES = frozenset(s for s, g in OUTCOME_BY_STATUS.items() if g == OutcomeGroup.OPT_OUT)


def outcome_group(session_status: str) -> str:
    return OUTCOME_BY_STATUS.get(session_status, OutcomeGroup.UNKNOWN).value


# Customer side: callee or caller behaviour, not something to fix. Platform/config: our request,
# our account or the carrier. Codes in neither list (408, 410, 3xx, 604 …) are left undecided.
CUSTOMER_SIDE_CODES = frozenset({486, 480, 487, 603, 600})
CUSTOMER_SIDE_STATUSES = frozenset({"NO_ANSWER", "BUSY", "CANCELED"}) | OPT_OUT_STATUSES
PLATFORM_CODES = frozenset({401, 403, 404, 407, 484, 488})


def fault_side(*, sip_code: int | None = None, error_code: int | None = None, status: str = "") -> str:
    """Which side a failure is on: a SIP code wins over an 8x8 error code, which wins over a status."""
    if sip_code is not None:
        if sip_code in CUSTOMER_SIDE_CODES:
            return FaultSide.CUSTOMER.value
        if sip_code in PLATFORM_CODES or 500 <= sip_code <= 599:
            return FaultSide.PLATFORM.value
        # A code in neither list (408, 604 …) does not decide: the error code or status may.
    if error_code is not None:
        return FaultSide.PLATFORM.value  # every 8x8 voice error code is on the platform/config side
    if status in CUSTOMER_SIDE_STATUSES:
        return FaultSide.CUSTOMER.value
    if status == "ERROR":
        return FaultSide.PLATFORM.value
    return FaultSide.NONE.value


# --- retry advice, responsibility, troubleshooting ----------------------------------------

STATUS_ADVICE = {  # when only a status explains the outcome (no code, no error code)
    "NO_ANSWER": ("retry_later", "callee"),
    "BUSY": ("retry_later", "callee"),
    "CANCELED": ("none", "caller"),
    "COMPLETED_UNSUBSCRIBED": ("do_not_retry", "callee"),
    "UNSUBSCRIBED_CONTACT": ("do_not_retry", "callee"),
}


@dataclass(frozen=True)
class Advice:
    retry_advice: str = ""
    responsibility: str = ""
    troubleshooting_ids: tuple[int, ...] = ()


def code_advice(code: int | None, snapshot: ReferenceSnapshot) -> Advice:
    """Advice from the code's reference row, or its class defaults for a code not in the reference."""
    if code is None:
        return Advice()
    info = snapshot.code(code)
    if info is None:
        return Advice()
    entries = snapshot.troubleshooting_for(code)
    return Advice(info.retry_advice, info.responsibility, tuple(sorted(e.id for e in entries)))


def error_code_advice(code: int | None, snapshot: ReferenceSnapshot) -> Advice:
    info = snapshot.error_code(code) if code is not None else None
    return Advice(info.retry_advice, info.responsibility) if info else Advice()


# --- product inference --------------------------------------------------------------------

VOICE_MESSAGING_ACTIONS = frozenset({"SAY", "PLAY_FILE", "PLAY_TTS", "PLAYFILE", "PLAYTTS"})
IVR_ACTIONS = frozenset({"SAY_AND_CAPTURE", "SAYANDCAPTURE"})


def infer_product(events: Sequence[NormalisedEvent], legs: Sequence[NormalisedLeg]) -> str:
    """8x8 sends no product field, so it is inferred, first match wins:

    1. an opt-out session status, or a flow whose actions are only ``SAY``/``PLAY_FILE``
       (``lastAction`` SAY/PLAY_FILE/PLAY_TTS with at most one leg and no DTMF) → Voice Messaging;
    2. an INBOUND leg carrying ``destinationRefId`` (a virtual number was dialled) bridged to an
       OUTBOUND leg in the same session → Number Masking;
    3. ``SAY_AND_CAPTURE`` as last action, DTMF captured, or a VSS ``version`` field (only the
       IVR summary documents it) → IVR;
    4. otherwise Unknown.
    """
    summary = next((e for e in events if e.kind == SESSION_SUMMARY), None)
    last_action = re.sub(r"[\s-]+", "_", summary.last_action.upper()) if summary else ""
    has_dtmf = any(e.dtmf for e in events)
    if summary and summary.session_status in OPT_OUT_STATUSES:
        return Product.VOICE_MESSAGING.value
    if last_action in VOICE_MESSAGING_ACTIONS and len(legs) <= 1 and not has_dtmf:
        return Product.VOICE_MESSAGING.value
    directions = {leg.direction for leg in legs}
    if any(leg.direction == "INBOUND" and leg.destination_ref_id for leg in legs) and "OUTBOUND" in directions:
        return Product.NUMBER_MASKING.value
    if last_action in IVR_ACTIONS or has_dtmf or any(e.version is not None for e in events):
        return Product.IVR.value
    return Product.UNKNOWN.value


# --- deriving a session from all its events -----------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """One raw event as the pipeline hands it to the rules: its row facts plus the normalised body."""

    id: int  # arrival order
    deliveries: int
    received_at: datetime
    event: NormalisedEvent

    @property
    def time(self) -> datetime:
        """Event time from the payload; arrival time when the payload has none."""
        return self.event.event_time or self.received_at


@dataclass
class LegState:
    call_id: str
    leg_key: str = ""
    direction: str = ""
    call_type: str = ""
    source: str = ""
    destination: str = ""
    source_country: str = ""
    destination_country: str = ""
    source_ref_id: str = ""
    destination_ref_id: str = ""
    status: str = ""
    status_at: datetime | None = None
    final_status: str = ""
    last_sip_code: int | None = None
    last_sip_code_at: datetime | None = None
    final_sip_code: int | None = None
    initiated_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    duration_seconds: int | None = None
    mos: float | None = None
    packet_loss_rate: float | None = None
    jitter_ms: int | None = None


@dataclass
class SessionState:
    session_id: str
    sub_account_id: str = ""
    product: str = Product.UNKNOWN.value
    status: str = "IN_PROGRESS"
    outcome_group: str = OutcomeGroup.IN_PROGRESS.value
    fault_side: str = FaultSide.NONE.value
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: int | None = None
    last_action: str = ""
    call_count: int | None = None
    client_request_id: str = ""
    client_batch_id: str = ""
    error_code: int | None = None
    error_message: str = ""
    primary_cause: str = ""
    primary_cause_kind: str = CauseKind.NONE.value
    primary_sip_code: int | None = None
    retry_advice: str = ""
    responsibility: str = ""
    anomalies: list[str] = field(default_factory=list)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    summary_received: bool = False


@dataclass(frozen=True)
class EventVerdict:
    """What ``EventClassification`` stores for one event."""

    event_id: int
    call_id: str
    event_time: datetime | None
    call_status: str
    sip_code: int | None
    sip_code_raw: str
    sip_class: str
    is_final: bool
    outcome_group: str
    retry_advice: str
    responsibility: str
    troubleshooting_ids: tuple[int, ...]
    anomalies: tuple[str, ...]


@dataclass
class Derived:
    session: SessionState
    legs: list[LegState]
    verdicts: dict[int, EventVerdict]  # by raw event id


# Ties on event time: the later state of a call wins.
CALL_STATUS_RANK = {
    "CALL_INITIATED": 0,
    "CALL_RECEIVED": 1,
    "CALL_UPDATED": 2,
    "CALL_CONNECTED": 3,
    "DTMF_RECEIVED": 4,
    "ACTION_COMPLETED": 4,
    "CALL_DISCONNECTED": 9,
}
LEG_ATTRS = (
    "direction",
    "call_type",
    "source",
    "destination",
    "source_country",
    "destination_country",
    "source_ref_id",
    "destination_ref_id",
)
SMALLINT_MAX = 32767


def _event_order(stored: StoredEvent) -> tuple:
    event = stored.event
    return (stored.time, CALL_STATUS_RANK.get(event.call_status, 5), event.kind == SESSION_SUMMARY, stored.id)


def _second(moment: datetime) -> datetime:
    # VSS times have no milliseconds; compare at whole seconds so a VSS at 10:00:05 is not
    # "earlier" than a disconnect at 10:00:05.300.
    return moment.replace(microsecond=0)


def _small(code: int | None) -> int | None:
    return code if code is not None and 0 <= code <= SMALLINT_MAX else None


def out_of_order_ids(events: Iterable[StoredEvent]) -> set[int]:
    """Events whose event time is earlier than that of an event of the same session that arrived
    before them (lower raw id). Defined on arrival order, not processing order, so the flag is
    the same however the events are batched, retried or reclassified."""
    flagged: set[int] = set()
    latest: datetime | None = None
    for stored in sorted(events, key=lambda s: s.id):
        moment = _second(stored.time)
        if latest is not None and moment < latest:
            flagged.add(stored.id)
        latest = moment if latest is None else max(latest, moment)
    return flagged


def derive_session(
    session_id: str,
    events: Sequence[StoredEvent],
    snapshot: ReferenceSnapshot,
    *,
    keep_missing_summary: bool = False,
) -> Derived:
    """The session, its legs and every event's verdict from *all* the session's stored events.

    ``keep_missing_summary`` carries the periodic task's ``missing_summary`` flag over (it depends
    on the clock, not on the events); it is dropped as soon as a summary is among the events.
    """
    ordered = sorted(events, key=_event_order)
    summary = next((s.event for s in reversed(ordered) if s.event.kind == SESSION_SUMMARY), None)
    session = SessionState(session_id=session_id)
    legs: dict[str, LegState] = {}

    # 1. Legs from call events, in event-time order: later events overwrite earlier ones.
    for stored in ordered:
        event = stored.event
        if event.kind not in (CALL_STATUS, CALL_ACTION) or not event.call_id:
            continue
        leg = legs.setdefault(event.call_id, LegState(call_id=event.call_id))
        if event.leg:
            for attr in LEG_ATTRS:
                value = getattr(event.leg, attr)
                if value:
                    setattr(leg, attr, value)
        if event.kind == CALL_STATUS and event.call_status:
            leg.status, leg.status_at = event.call_status, stored.time
        if event.sip_code is not None:
            leg.last_sip_code, leg.last_sip_code_at = _small(event.sip_code), stored.time
        if event.call_status in ("CALL_INITIATED", "CALL_RECEIVED") and leg.initiated_at is None:
            leg.initiated_at = stored.time
        if event.call_status == "CALL_CONNECTED" and leg.connected_at is None:
            leg.connected_at = stored.time
        if event.call_status == "CALL_DISCONNECTED":
            leg.disconnected_at = stored.time
            leg.final_sip_code = _small(event.sip_code)
            if event.leg and event.leg.duration_seconds is not None:
                leg.duration_seconds = max(event.leg.duration_seconds, 0)

    # 2. The VSS is authoritative for what it states.
    if summary:
        for vss_leg in summary.legs:
            leg = legs.setdefault(vss_leg.call_id, LegState(call_id=vss_leg.call_id))
            leg.leg_key = vss_leg.leg_key
            for attr in LEG_ATTRS:
                value = getattr(vss_leg, attr)
                if value:
                    setattr(leg, attr, value)
            leg.final_status = vss_leg.status
            for attr in ("initiated_at", "connected_at", "disconnected_at", "mos", "packet_loss_rate", "jitter_ms"):
                value = getattr(vss_leg, attr)
                if value is not None:
                    setattr(leg, attr, value)
            if vss_leg.duration_seconds is not None:
                leg.duration_seconds = max(vss_leg.duration_seconds, 0)
        session.summary_received = True
        session.status = summary.session_status or "IN_PROGRESS"
        session.start_time, session.end_time = summary.start_time, summary.end_time
        if summary.start_time and summary.end_time and summary.end_time >= summary.start_time:
            session.duration_seconds = int((summary.end_time - summary.start_time).total_seconds())
        session.last_action = summary.last_action
        session.call_count = summary.call_count
        session.client_request_id = summary.client_request_id
        session.client_batch_id = summary.client_batch_id
        session.error_code = summary.error_code
        session.error_message = summary.error_message
    else:
        session.call_count = len(legs) or None
    session.sub_account_id = (summary.sub_account_id if summary else "") or next(
        (s.event.sub_account_id for s in reversed(ordered) if s.event.sub_account_id), ""
    )
    session.client_request_id = session.client_request_id or next(
        (s.event.client_request_id for s in ordered if s.event.client_request_id), ""
    )
    times = [s.time for s in ordered]
    session.first_event_at, session.last_event_at = (min(times), max(times)) if times else (None, None)
    if session.start_time is None and legs:
        starts = [leg.initiated_at for leg in legs.values() if leg.initiated_at]
        session.start_time = min(starts) if starts else None

    leg_list = sorted(legs.values(), key=lambda leg: (leg.initiated_at or _FAR, leg.leg_key, leg.call_id))
    session.outcome_group = outcome_group(session.status)
    session.product = infer_product([s.event for s in ordered], [_as_normalised(leg) for leg in leg_list])
    _primary_cause(session, ordered, snapshot)

    verdicts = _verdicts(ordered, session, snapshot)
    anomalies = set()
    for verdict in verdicts.values():
        anomalies.update(verdict.anomalies)
    anomalies.update(_leg_anomalies(leg_list, snapshot))
    if _status_contradicts_codes(session.status, leg_list):
        anomalies.add("status_contradicts_codes")
    if keep_missing_summary and not session.summary_received:
        anomalies.add("missing_summary")
    session.anomalies = sorted(anomalies)
    return Derived(session=session, legs=leg_list, verdicts=verdicts)


_FAR = datetime.max.replace(tzinfo=UTC)


def _as_normalised(leg: LegState) -> NormalisedLeg:
    return NormalisedLeg(call_id=leg.call_id, direction=leg.direction, destination_ref_id=leg.destination_ref_id)


def primary_cause(session: SessionState, ordered: Sequence[StoredEvent]) -> tuple[str, str, int | None]:
    """(cause, kind, sip code): the final SIP code of the failing leg (the latest non-2xx
    ``CALL_DISCONNECTED`` by event time), else the VSS error code, else the session status.
    Nothing for an answered (COMPLETED) session."""
    if session.status == "COMPLETED":
        return "", CauseKind.NONE.value, None
    for stored in reversed(ordered):  # latest first
        event = stored.event
        failing = event.sip_code is not None and sip_class(event.sip_code) not in ("2xx", "invalid")
        if event.call_status == "CALL_DISCONNECTED" and failing:
            return str(event.sip_code), CauseKind.SIP.value, _small(event.sip_code)
    if session.error_code is not None:
        return str(session.error_code), CauseKind.ERROR_CODE.value, None
    if session.status not in ("IN_PROGRESS", ""):
        return session.status, CauseKind.STATUS.value, None
    return "", CauseKind.NONE.value, None


def _primary_cause(session: SessionState, ordered: Sequence[StoredEvent], snapshot: ReferenceSnapshot) -> None:
    cause, kind, code = primary_cause(session, ordered)
    session.primary_cause, session.primary_cause_kind, session.primary_sip_code = cause[:32], kind, code
    if kind == CauseKind.SIP:
        advice = code_advice(int(cause), snapshot)
        session.fault_side = fault_side(sip_code=int(cause))
    elif kind == CauseKind.ERROR_CODE:
        advice = error_code_advice(session.error_code, snapshot)
        session.fault_side = fault_side(error_code=session.error_code)
    elif kind == CauseKind.STATUS:
        advice = Advice(*STATUS_ADVICE.get(session.status, ("", "")))
        session.fault_side = fault_side(status=session.status)
    else:
        advice = Advice()
        session.fault_side = FaultSide.NONE.value
    session.retry_advice, session.responsibility = advice.retry_advice, advice.responsibility


def _event_outcome(event: NormalisedEvent) -> str:
    if event.kind == SESSION_SUMMARY:
        return outcome_group(event.session_status)
    if not is_final(event) or event.sip_code is None:
        return ""
    klass = sip_class(event.sip_code)
    if klass == "2xx":
        return OutcomeGroup.ANSWERED.value
    if event.sip_code in CUSTOMER_SIDE_CODES:
        return OutcomeGroup.NOT_ANSWERED.value
    return OutcomeGroup.FAILED.value if klass != "invalid" else OutcomeGroup.UNKNOWN.value


def _numbers_not_e164(numbers: Iterable[str]) -> bool:
    return any(number and not E164.match(number) for number in numbers)


def event_anomalies(stored: StoredEvent, *, out_of_order: bool, snapshot: ReferenceSnapshot) -> list[str]:
    event = stored.event
    found = []
    if event.unknown_values:
        found.append("unknown_enum_value")
    if stored.deliveries > 1:
        found.append("duplicate_delivery")
    if out_of_order:
        found.append("out_of_order")
    legs = [*event.legs, *([event.leg] if event.leg else [])]
    if _numbers_not_e164(n for leg in legs for n in (leg.source, leg.destination)):
        found.append("non_e164_number")
    error_statuses = snapshot.session_level_only_leg_statuses or frozenset({"ERROR"})
    if any(leg.status in error_statuses for leg in event.legs):
        found.append("error_on_leg")
    return sorted(found)


def _verdicts(
    ordered: Sequence[StoredEvent], session: SessionState, snapshot: ReferenceSnapshot
) -> dict[int, EventVerdict]:
    late = out_of_order_ids(ordered)
    verdicts = {}
    for stored in ordered:
        event = stored.event
        final = is_final(event)
        if event.kind == SESSION_SUMMARY:
            advice = error_code_advice(event.error_code, snapshot)
            status = event.session_status
        else:
            advice = code_advice(event.sip_code, snapshot) if final else Advice()
            status = event.call_status
        verdicts[stored.id] = EventVerdict(
            event_id=stored.id,
            call_id=event.call_id,
            event_time=event.event_time,
            call_status=status[:32],
            sip_code=_small(event.sip_code),
            sip_code_raw=event.sip_code_raw,
            sip_class=sip_class(event.sip_code if event.sip_code is not None else event.sip_code_raw or None),
            is_final=final,
            outcome_group=_event_outcome(event),
            retry_advice=advice.retry_advice,
            responsibility=advice.responsibility,
            troubleshooting_ids=advice.troubleshooting_ids,
            anomalies=tuple(event_anomalies(stored, out_of_order=stored.id in late, snapshot=snapshot)),
        )
    return verdicts


def _leg_anomalies(legs: Sequence[LegState], snapshot: ReferenceSnapshot) -> set[str]:
    found = set()
    if _numbers_not_e164(n for leg in legs for n in (leg.source, leg.destination)):
        found.add("non_e164_number")
    error_statuses = snapshot.session_level_only_leg_statuses or frozenset({"ERROR"})
    if any(leg.final_status in error_statuses for leg in legs):
        found.add("error_on_leg")
    return found


def _status_contradicts_codes(status: str, legs: Sequence[LegState]) -> bool:
    """COMPLETED while a leg ended with a 4xx–6xx code, or a failure status while every leg
    ended with 2xx and was reported COMPLETED."""
    finals = [leg.final_sip_code for leg in legs if leg.final_sip_code is not None]
    if status == "COMPLETED":
        return any(sip_class(code) in ("4xx", "5xx", "6xx") for code in finals)
    if status in ("NO_ANSWER", "BUSY", "FAILED", "CANCELED") and finals and legs:
        return all(sip_class(code) == "2xx" for code in finals) and all(leg.final_status == "COMPLETED" for leg in legs)
    return False
