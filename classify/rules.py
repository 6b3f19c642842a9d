"""Classification rules: pure functions, meant to be read next to docs/design.md §5.

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
    CALL_RECORDING_STATUS,
    CALL_STATUS,
    SESSION_SUMMARY,
    NormalisedEvent,
    NormalisedLeg,
)
from products.matching import ProductRuleSet, virtual_numbers
from reference.snapshot import ReferenceSnapshot

# --- anomalies ----------------------------------------------------------------------------

ANOMALY_LABELS: dict[str, str] = {
    "error_on_leg": "ERROR status on an IVR call leg (IVR documents ERROR as a session status only)",
    "non_e164_number": "Phone number not in E.164 format",
    "status_contradicts_codes": "Session status contradicts the legs' SIP codes",
    "missing_summary": "No session summary (VSS) received yet",
    "out_of_order": "Events arrived out of order",
    # Not "duplicate from 8x8": a webhook whose answer was lost (receiver restarted, network) is
    # rightly retried, and sipdesk cannot tell that from a true re-send (issue 9).
    "duplicate_delivery": "Delivered more than once (8x8 retried or re-sent)",
    "unknown_enum_value": "Unknown status or enum value",
    "summary_revised": "Summary revised: 8x8 sent a different session summary later (the latest is shown)",
    "recording_failed": "Call recording failed (processing, upload or callback; VRU)",
}
RECORDING_FAILED_STATUSES = frozenset({"PROCESSING_FAILED", "UPLOAD_FAILED", "CALLBACK_FAILED"})
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


# Three sides (docs/design.md §5.5). Customer behaviour: the callee or caller did it, nothing to fix.
# Network / platform: the carrier or 8x8 failed (retry, escalate). Configuration: our request or
# account is wrong (fix it). A code in none of the lists (3xx, 402, 405 …) does not decide; the
# 8x8 error code or the status may.
CUSTOMER_SIDE_CODES = frozenset({486, 480, 487, 603, 600})
NETWORK_CODES = frozenset({408, 607, 608})  # plus every 5xx; 607/608 are an intermediary's verdict
CONFIGURATION_CODES = frozenset({400, 401, 403, 404, 407, 410, 484, 485, 488, 604, 606})
CUSTOMER_SIDE_STATUSES = frozenset({"NO_ANSWER", "BUSY", "CANCELED", "COMPLETED_UNSUBSCRIBED", "UNSUBSCRIBED_CONTACT"})
# COMPLETED_UNSUB_ERROR: 8x8 failed to add the number to its opt-out list — their error, not the callee's.
NETWORK_STATUSES = frozenset({"FAILED", "ERROR", "COMPLETED_UNSUB_ERROR"})
# 8x8 error codes: the request or account is wrong (validation: every Callflows status code,
# and the VSS codes about the call flow, caller ID, parameters, playback URL, validity, capacity).
# Every other 8x8 code (internal, connectivity, coverage, TTS, unknown) is network / platform.
CONFIGURATION_ERROR_CODES = frozenset({-2003, -2006, -2007, -2008, -2009, -2010, *range(-1020, -1000)})


def fault_side(*, sip_code: int | None = None, error_code: int | None = None, status: str = "") -> str:
    """Which side a failure is on: a SIP code wins over an 8x8 error code, which wins over a status.
    A provisional (1xx) or success (2xx) code is never a failure's side."""
    if sip_code is not None:
        if sip_code in CUSTOMER_SIDE_CODES:
            return FaultSide.CUSTOMER.value
        if sip_code in CONFIGURATION_CODES:
            return FaultSide.CONFIGURATION.value
        if sip_code in NETWORK_CODES or 500 <= sip_code <= 599:
            return FaultSide.NETWORK.value
    if error_code is not None and error_code != 1:  # 1 is the Callflows API's "Created"
        if error_code in CONFIGURATION_ERROR_CODES:
            return FaultSide.CONFIGURATION.value
        return FaultSide.NETWORK.value
    if status in CUSTOMER_SIDE_STATUSES:
        return FaultSide.CUSTOMER.value
    if status in NETWORK_STATUSES:
        return FaultSide.NETWORK.value  # failed without a code: no final response to blame anyone else
    return FaultSide.NONE.value


# --- retry advice, responsibility, troubleshooting ----------------------------------------

STATUS_ADVICE = {  # when only a status explains the outcome (no code, no error code)
    "NO_ANSWER": ("retry_later", "callee"),
    "BUSY": ("retry_later", "callee"),
    "CANCELED": ("none", "caller"),
    "COMPLETED_UNSUBSCRIBED": ("do_not_retry", "callee"),
    "UNSUBSCRIBED_CONTACT": ("do_not_retry", "callee"),
    # The callee asked to opt out and 8x8 failed to record it: do not call them again, and ask 8x8
    # to add the number to the opt-out list.
    "COMPLETED_UNSUB_ERROR": ("do_not_retry", "carrier_or_platform"),
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

PRODUCT_LABELS = {p.value: p.label for p in Product}
# The order products are named in "could be …".
_PRODUCT_ORDER = (Product.IVR.value, Product.VOICE_MESSAGING.value, Product.NUMBER_MASKING.value)
SAY_OR_PLAY_ACTIONS = frozenset({"SAY", "PLAY_FILE", "PLAY_TTS", "PLAYFILE", "PLAYTTS"})


@dataclass(frozen=True)
class ProductVerdict:
    product: str
    reason: str  # shown beside the product: "rule: …", "inferred: …", "could be …"


def _could_be(candidates: Iterable[str]) -> ProductVerdict:
    names = [PRODUCT_LABELS[p] for p in _PRODUCT_ORDER if p in set(candidates)]
    listed = " or ".join(names) if len(names) < 3 else f"{names[0]}, {names[1]} or {names[2]}"
    return ProductVerdict(Product.UNKNOWN.value, f"could be {listed}")


def infer_product(events: Sequence[NormalisedEvent], legs: Sequence[NormalisedLeg]) -> ProductVerdict:
    """8x8 sends no product field. Infer one only from unambiguous evidence, strongest first; when
    two products still fit, answer Unknown and name them (a wrong product is worse than Unknown).

    1. a VSS ``version`` field → IVR (only the IVR summary documents it);
    2. DTMF captured in a VCA/VCS → IVR; the Voice Messaging DTMF callback (``uid``) → Voice Messaging;
    3. an opt-out session status → Voice Messaging (only Voice Messaging documents them);
    then candidates are narrowed: a VCA event or an INBOUND leg rules out Voice Messaging (its
    calls are outbound, driven by the Callflows API, without VCA); a current-shape summary without
    ``version`` rules out IVR. What is left:
    4. one product → that product (e.g. an inbound call to a virtual number, bridged or not,
       summarised without ``version`` → Number Masking);
    5. Voice Messaging or Number Masking with a single OUTBOUND leg ending at ``MAKE_CALL`` → Voice
       Messaging (a Number Masking ``makeCall`` bridges an inbound caller, whose leg would be there);
       ending at a say/play action → Unknown: Number Masking may end on a say/play too;
    6. otherwise Unknown, naming the candidates.
    Bridging alone never decides: IVR bridges calls with ``makeCall`` as well.
    """
    summaries = [e for e in events if e.kind == SESSION_SUMMARY]
    if any(e.version is not None for e in summaries):
        return ProductVerdict(Product.IVR.value, "inferred: VSS version field (IVR only)")
    if any(e.dtmf for e in events if e.kind in (CALL_STATUS, CALL_ACTION) and not (e.legacy and not e.call_id)):
        return ProductVerdict(Product.IVR.value, "inferred: DTMF captured in a call action")
    if any(e.dtmf and e.legacy and e.kind == CALL_ACTION and not e.call_id for e in events):
        return ProductVerdict(Product.VOICE_MESSAGING.value, "inferred: Voice Messaging DTMF callback")
    if any(e.session_status in OPT_OUT_STATUSES for e in summaries):
        return ProductVerdict(Product.VOICE_MESSAGING.value, "inferred: opt-out status (Voice Messaging only)")

    candidates = set(_PRODUCT_ORDER)
    evidence = []
    inbound = [leg for leg in legs if leg.direction == "INBOUND"]
    outbound = [leg for leg in legs if leg.direction == "OUTBOUND"]
    if inbound:
        candidates.discard(Product.VOICE_MESSAGING.value)
        evidence.append("bridged inbound call to a virtual number" if outbound else "inbound call to a virtual number")
    elif any(e.kind == CALL_ACTION and not e.legacy for e in events):
        candidates.discard(Product.VOICE_MESSAGING.value)
        evidence.append("call action (VCA) webhook")
    current_summaries = [e for e in summaries if not e.legacy]
    if current_summaries:
        candidates.discard(Product.IVR.value)
        evidence.append("summary without the IVR version field")
    if len(candidates) == 1:
        return ProductVerdict(candidates.pop(), "inferred: " + ", ".join(evidence))
    last_actions = {re.sub(r"[\s-]+", "_", e.last_action.upper()) for e in current_summaries}
    messaging_or_masking = candidates == {Product.VOICE_MESSAGING.value, Product.NUMBER_MASKING.value}
    if messaging_or_masking and not inbound and len(outbound) == 1 and last_actions == {"MAKE_CALL"}:
        return ProductVerdict(
            Product.VOICE_MESSAGING.value,
            "inferred: one outbound leg ending at MAKE_CALL, no inbound caller, no IVR version field",
        )
    return _could_be(candidates)


def attribute_product(
    sub_account_id: str,
    events: Sequence[NormalisedEvent],
    legs: Sequence[NormalisedLeg],
    rules: ProductRuleSet | None,
) -> ProductVerdict:
    """An admin's product rule wins over inference (products/matching.py)."""
    verdict = rules.match(sub_account_id, virtual_numbers(legs)) if rules else None
    if verdict is not None:
        return ProductVerdict(verdict.product or Product.UNKNOWN.value, verdict.reason)
    return infer_product(events, legs)


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
    product_reason: str = ""
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
    # Where the session went and which way (the last leg with a country, the first leg with a
    # direction: what the sessions list shows), so rollups and alerts can split by them.
    destination_country: str = ""
    direction: str = ""
    retry_advice: str = ""
    responsibility: str = ""
    anomalies: list[str] = field(default_factory=list)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    # When sipdesk received the first and the last of them: the day partitions of raw events
    # that hold the session's (the session page reads only those, dashboard/reads/session.py).
    first_received_at: datetime | None = None
    last_received_at: datetime | None = None
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


def arrived_out_of_order(arrivals: Iterable[tuple[int, datetime]]) -> set[int]:
    """``out_of_order_ids`` for events known only by (raw id, event time), as the session page
    knows them: the same rule, not a second one. Only the time matters to it."""
    return out_of_order_ids(
        StoredEvent(event_id, 1, moment, NormalisedEvent(kind="", event_time=moment)) for event_id, moment in arrivals
    )


def latest_summary(summaries: Sequence[StoredEvent]) -> NormalisedEvent | None:
    """The summary that wins when 8x8 sent several different ones for a session (a redelivery of
    the same one is deduplicated on receipt): the latest by its own endTime, then startTime, then
    arrival. A summary without times loses to one with times."""
    if not summaries:
        return None
    return max(summaries, key=lambda s: (s.event.end_time or _NEAR, s.event.start_time or _NEAR, s.id)).event


def derive_session(
    session_id: str,
    events: Sequence[StoredEvent],
    snapshot: ReferenceSnapshot,
    *,
    keep_missing_summary: bool = False,
    product_rules: ProductRuleSet | None = None,
) -> Derived:
    """The session, its legs and every event's verdict from *all* the session's stored events.

    ``keep_missing_summary`` carries the periodic task's ``missing_summary`` flag over (it depends
    on the clock, not on the events); it is dropped as soon as a summary is among the events.
    """
    ordered = sorted(events, key=_event_order)
    summaries = [s for s in ordered if s.event.kind == SESSION_SUMMARY]
    summary = latest_summary(summaries)
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
    received = [s.received_at for s in ordered]
    session.first_received_at, session.last_received_at = (min(received), max(received)) if received else (None, None)
    if session.start_time is None and legs:
        starts = [leg.initiated_at for leg in legs.values() if leg.initiated_at]
        session.start_time = min(starts) if starts else None

    leg_list = sorted(legs.values(), key=lambda leg: (leg.initiated_at or _FAR, leg.leg_key, leg.call_id))
    session.destination_country = next(
        (leg.destination_country for leg in reversed(leg_list) if leg.destination_country), ""
    )
    session.direction = next((leg.direction for leg in leg_list if leg.direction), "")
    session.outcome_group = outcome_group(session.status)
    product = attribute_product(
        session.sub_account_id, [s.event for s in ordered], [_as_normalised(leg) for leg in leg_list], product_rules
    )
    session.product, session.product_reason = product.product, product.reason
    _primary_cause(session, ordered, snapshot)

    verdicts = _verdicts(ordered, session, snapshot)
    anomalies: set[str] = set()
    for verdict in verdicts.values():
        anomalies.update(verdict.anomalies)
    anomalies.update(_leg_anomalies(leg_list, snapshot, session.product))
    if _status_contradicts_codes(session.status, leg_list):
        anomalies.add("status_contradicts_codes")
    if len(summaries) > 1:
        anomalies.add("summary_revised")
    if _a_recording_failed(ordered):
        anomalies.add("recording_failed")
    if keep_missing_summary and not session.summary_received:
        anomalies.add("missing_summary")
    session.anomalies = sorted(anomalies)
    return Derived(session=session, legs=leg_list, verdicts=verdicts)


_FAR = datetime.max.replace(tzinfo=UTC)
_NEAR = datetime.min.replace(tzinfo=UTC)


def _as_normalised(leg: LegState) -> NormalisedLeg:
    return NormalisedLeg(
        call_id=leg.call_id,
        direction=leg.direction,
        source=leg.source,
        destination=leg.destination,
        destination_ref_id=leg.destination_ref_id,
    )


def primary_cause(session: SessionState, ordered: Sequence[StoredEvent]) -> tuple[str, str, int | None]:
    """(cause, kind, sip code): the final SIP code of the failing leg (the latest non-2xx
    ``CALL_DISCONNECTED`` by event time), else the VSS error code, else the session status.
    Nothing for an answered (COMPLETED) session."""
    if session.status == "COMPLETED":
        return "", CauseKind.NONE.value, None
    for stored in reversed(ordered):  # latest first
        event = stored.event
        # 1xx (199 Early Dialog Terminated included) is provisional: never what a session failed with.
        failing = event.sip_code is not None and sip_class(event.sip_code) not in ("1xx", "2xx", "invalid")
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


def _a_recording_failed(ordered: Sequence[StoredEvent]) -> bool:
    """Whether a recording's latest VRU (by arrival: VRU has no timestamp) says it failed; a later
    success for the same recording clears it."""
    latest: dict[str, str] = {}
    for stored in sorted(ordered, key=lambda s: s.id):
        if stored.event.kind == CALL_RECORDING_STATUS:
            latest[stored.event.recording_id or f"#{stored.id}"] = stored.event.recording_status
    return any(status in RECORDING_FAILED_STATUSES for status in latest.values())


def _leg_error_statuses(product: str, snapshot: ReferenceSnapshot) -> frozenset[str]:
    """Leg statuses that are anomalies for this product. 8x8's Voice Messaging and Number Masking
    pages show ERROR on a leg in their failure examples (normal there); the IVR page's leg enum
    leaves it out and no IVR example has it, so only an IVR leg in ERROR is flagged."""
    if product != Product.IVR.value:
        return frozenset()
    return snapshot.session_level_only_leg_statuses or frozenset({"ERROR"})


def event_anomalies(
    stored: StoredEvent, *, out_of_order: bool, snapshot: ReferenceSnapshot, product: str = Product.IVR.value
) -> list[str]:
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
    error_statuses = _leg_error_statuses(product, snapshot)
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
            status = event.recording_status if event.kind == CALL_RECORDING_STATUS else event.call_status
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
            anomalies=tuple(
                event_anomalies(stored, out_of_order=stored.id in late, snapshot=snapshot, product=session.product)
            ),
        )
    return verdicts


def _leg_anomalies(legs: Sequence[LegState], snapshot: ReferenceSnapshot, product: str) -> set[str]:
    found = set()
    if _numbers_not_e164(n for leg in legs for n in (leg.source, leg.destination)):
        found.add("non_e164_number")
    error_statuses = _leg_error_statuses(product, snapshot)
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
