"""Turn a webhook body, exactly as 8x8 sent it, into plain dataclasses the classifier can trust.

Pure: no database, no settings. Every quirk of docs/8x8-webhooks.md §10 is handled here so the
rules and the pipeline never see one:

- fields under ``payload`` or at the root (legacy Wavecell callbacks are flat);
- ``details`` is a map with case-insensitive keys (``callA``/``CallA``); legs come out ordered by
  initiated time; any key is matched case-insensitively (``SourceRefId``, ``Timestamp``);
- empty values (``""``, ``"null"`` and the other placeholders) and the envelope are read by
  ``webhooks/envelope.py``, the receiver's rules; numbers may be strings and strings numbers;
- DTMF sits in one of four places; timestamps come with or without milliseconds;
- ``NO ANSWER`` → ``NO_ANSWER``; unknown enum values are kept and reported, never rejected;
- legacy shapes (§8): ``direction`` 0/1, ``sourceMsisdn``/``targetMsisdn``, ``status``,
  ``sipStatus``, ``target``, the DTMF callback's ``uid``/``actionDetails``.

A body that cannot be understood raises ``NormaliseError`` with a reason a person can read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webhooks.envelope import ID_MAX, envelope_fields, id_text, lower_keys, text
from webhooks.envelope import call_id as envelope_call_id
from webhooks.envelope import session_id as envelope_session_id
from webhooks.envelope import sub_account_id as envelope_sub_account_id

SESSION_SUMMARY = "SESSION_SUMMARY"
CALL_STATUS = "CALL_STATUS"
CALL_ACTION = "CALL_ACTION"
CALL_RECORDING_STATUS = "CALL_RECORDING_STATUS"
VIRTUAL_NUMBER_UPDATE = "VIRTUAL_NUMBER_UPDATE"
UNKNOWN = "UNKNOWN"
KINDS = frozenset({SESSION_SUMMARY, CALL_STATUS, CALL_ACTION, CALL_RECORDING_STATUS, VIRTUAL_NUMBER_UPDATE})

SESSION_STATUSES = frozenset(
    {
        "COMPLETED",
        "BUSY",
        "NO_ANSWER",
        "FAILED",
        "CANCELED",
        "ERROR",
        "COMPLETED_UNSUBSCRIBED",
        "COMPLETED_UNSUB_ERROR",
        "UNSUBSCRIBED_CONTACT",
    }
)
LEG_STATUSES = frozenset({"COMPLETED", "BUSY", "NO_ANSWER", "FAILED", "CANCELED", "ERROR"})
CALL_STATUSES = frozenset(
    {
        "CALL_INITIATED",
        "CALL_RECEIVED",
        "CALL_CONNECTED",
        "CALL_DISCONNECTED",
        "CALL_UPDATED",
        "DTMF_RECEIVED",
        "ACTION_COMPLETED",
    }
)
# Legacy Wavecell call callbacks carried the call state in ``eventType`` and a ``status``.
LEGACY_CALL_EVENT_TYPES = frozenset({"CALL_RECEIVED", "DTMF_RECEIVED", "CALL_INITIATED"})
LEGACY_CALL_STATES = frozenset({"CONNECTED", "NOT_CONNECTED"})
DIRECTIONS = frozenset({"INBOUND", "OUTBOUND"})
CALL_TYPES = frozenset({"PSTN", "VOIP"})
LEGACY_DIRECTIONS = {0: "INBOUND", 1: "OUTBOUND"}
# VRU status (the recording-status API's enum) and VNU values, docs/8x8-webhooks.md §5.
RECORDING_STATUSES = frozenset(
    {
        "PROCESSING",
        "PROCESSING_FAILED",
        "UPLOAD_COMPLETED",
        "UPLOAD_FAILED",
        "CALLBACK_COMPLETED",
        "CALLBACK_FAILED",
        "UNKNOWN",
    }
)
OPERATIONAL_STATUSES = frozenset({"Active", "Unhealthy", "Expiring", "Inactive"})
UPDATE_EVENT_TYPES = frozenset({"SNAPSHOT", "UPDATES"})
UPDATE_STATUSES = frozenset({"NO_CHANGE", "UPDATED"})
# Title-case and older spellings seen in legacy/readme-era docs.
STATUS_ALIASES = {"NOANSWER": "NO_ANSWER", "CANCELLED": "CANCELED"}
INTEGER = re.compile(r"[+-]?\d+")
INTEGRAL_DECIMAL = re.compile(r"[+-]?\d+\.0*")
SEPARATORS = re.compile(r"[\s-]+")


class NormaliseError(ValueError):
    """The body cannot be understood; the message says why (it is shown on the failed event)."""


@dataclass(frozen=True, slots=True)
class NormalisedLeg:
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
    status: str = ""  # VSS leg callStatus, normalised
    initiated_at: datetime | None = None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    duration_seconds: int | None = None
    mos: float | None = None
    packet_loss_rate: float | None = None
    jitter_ms: int | None = None


@dataclass(frozen=True, slots=True)
class NormalisedNumber:
    """One entry of a VNU's ``virtualNumbers`` array."""

    msisdn: str
    country_code: str = ""
    operational_status: str = ""  # Active / Unhealthy / Expiring / Inactive (8x8's title case)
    reference_id: str = ""
    update_status: str = ""  # NO_CHANGE / UPDATED
    updated_at: datetime | None = None
    health_check_enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    kind: str  # one of KINDS or UNKNOWN
    session_id: str = ""
    sub_account_id: str = ""
    legacy: bool = False
    raw_event_type: str = ""
    event_id: str = ""
    call_id: str = ""
    event_time: datetime | None = None  # VCS/VCA timestamp; VSS endTime (else startTime)
    call_status: str = ""  # VCS/VCA callStatus, normalised
    # The leg as a VCS/VCA event describes it (direction, numbers, countries, ref ids).
    leg: NormalisedLeg | None = None
    sip_code: int | None = None
    sip_code_raw: str = ""  # as sent, so "abc" can still be shown and rolled up
    dtmf: str | None = None
    client_action_id: str = ""
    # VSS fields.
    session_status: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_action: str = ""
    call_count: int | None = None
    client_request_id: str = ""
    client_batch_id: str = ""
    error_code: int | None = None
    error_message: str = ""
    version: int | None = None
    # VRU (CALL_RECORDING_STATUS) fields.
    recording_status: str = ""
    recording_id: str = ""
    recording_duration: int | None = None
    recording_path: str = ""
    # VNU (VIRTUAL_NUMBER_UPDATE) fields.
    update_event_type: str = ""
    virtual_numbers: tuple[NormalisedNumber, ...] = ()
    legs: tuple[NormalisedLeg, ...] = ()
    # "field=VALUE" for every enum value we did not recognise (kept, flagged).
    unknown_values: tuple[str, ...] = field(default=())

    @property
    def is_summary(self) -> bool:
        return self.kind == SESSION_SUMMARY


# --- small value helpers ------------------------------------------------------------------


def to_int(value: Any) -> int | None:
    """Integers, integral floats and numeric strings (``"486"``, ``" -2004 "``); else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    value = text(value)
    if INTEGER.fullmatch(value):
        return int(value)
    if INTEGRAL_DECIMAL.fullmatch(value):
        return int(float(value))
    return None


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(text(value))
    except ValueError:
        return None


def to_time(value: Any, name: str) -> datetime | None:
    """ISO 8601 with or without milliseconds; ``Z``, an offset or naive (read as UTC)."""
    value = text(value)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise NormaliseError(f"{name} {value[:40]!r} is not an ISO 8601 timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@functools.lru_cache(maxsize=1024)
def _canonical_enum(value: str) -> str:
    # Enum fields take a handful of values: computing each spelling once saves a regex per field.
    value = SEPARATORS.sub("_", value.upper())
    return STATUS_ALIASES.get(value, value)


def enum(value: Any, known: frozenset[str], name: str, unknown: list[str]) -> str:
    """Upper-case, spaces to underscores (``NO ANSWER``); unknown values kept and reported."""
    value = text(value)
    if not value:
        return ""
    value = _canonical_enum(value)
    if value not in known:
        unknown.append(f"{name}={value}")
    return value


# --- the parser ---------------------------------------------------------------------------


def normalise(body: Any) -> NormalisedEvent:
    """Normalise one webhook body (already parsed JSON)."""
    if not isinstance(body, dict):
        raise NormaliseError(f"body is a JSON {type(body).__name__}, not an object")
    fields, wrapped = envelope_fields(body)
    root = lower_keys(body)
    event_type = enum(root.get("eventtype") or fields.get("eventtype"), KINDS, "eventType", [])

    if event_type == SESSION_SUMMARY or (not event_type and "sessionstatus" in fields):
        return _summary(fields, event_type or SESSION_SUMMARY, legacy=False)
    if event_type in (CALL_STATUS, CALL_ACTION):
        return _call_event(fields, event_type, legacy=not wrapped and _looks_legacy(fields))
    if event_type == CALL_RECORDING_STATUS:
        return _recording(fields)
    if event_type == VIRTUAL_NUMBER_UPDATE:
        return _virtual_numbers(fields)

    # Legacy Wavecell shapes (docs/8x8-webhooks.md §8): flat, no envelope.
    if not wrapped:
        if not event_type and isinstance(fields.get("details"), dict) and "status" in fields:
            return _summary(fields, "", legacy=True)
        if not event_type and "uid" in fields and isinstance(fields.get("actiondetails"), dict):
            return _legacy_dtmf_callback(fields)
        if event_type in LEGACY_CALL_EVENT_TYPES or (not event_type and _looks_legacy(fields)):
            return _call_event(fields, event_type, legacy=True)

    if event_type and text(fields.get("sessionid")):
        # An event type 8x8 may add later: keep it on its session, flag the value.
        return _session_only(fields, UNKNOWN, unknown=[f"eventType={event_type}"])
    if event_type:
        raise NormaliseError(f"unknown eventType {event_type!r} and no sessionId to attach it to")
    raise NormaliseError("no eventType and not a recognisable legacy callback (no sessionId/status/msisdn fields)")


def _looks_legacy(fields: dict[str, Any]) -> bool:
    return any(k in fields for k in ("sourcemsisdn", "targetmsisdn", "sipstatus")) or (
        "status" in fields and "callid" in fields and "callstatus" not in fields
    )


def _require_session_id(fields: dict[str, Any], kind: str) -> str:
    session_id = id_text(fields.get("sessionid"))[:ID_MAX]  # as the receiver stores it on RawEvent.session_id
    if not session_id:
        raise NormaliseError(f"{kind or 'legacy'} event without a sessionId")
    return session_id


def _sip(fields: dict[str, Any]) -> tuple[int | None, str]:
    raw = fields.get("sipcode", fields.get("sipstatus"))
    code = to_int(raw)
    # "486", 486 and 486.0 are one code; the raw text is kept only for codes that are not numbers.
    return code, str(code) if code is not None else text(raw)


def _dtmf(fields: dict[str, Any]) -> str | None:
    """The four places DTMF has been seen (docs/8x8-webhooks.md §4.1)."""
    event_data = fields.get("eventdata")
    if isinstance(event_data, dict):
        value = text(lower_keys(event_data).get("dtmf"))  # 1. payload.eventData.dtmf
        if value:
            return value
    elif text(event_data):
        return text(event_data)  # 3. eventData as a plain string ("V2")
    details = fields.get("actiondetails")
    if isinstance(details, dict) and text(lower_keys(details).get("dtmf")):
        return text(lower_keys(details).get("dtmf")) or None  # legacy DTMF callback
    return text(fields.get("dtmf")) or None  # 2. payload.dtmf, 4. legacy root number


def _direction(value: Any, unknown: list[str]) -> str:
    number = to_int(value) if not isinstance(value, str) or value.strip().isdigit() else None
    if number is not None:
        if number in LEGACY_DIRECTIONS:
            return LEGACY_DIRECTIONS[number]
        unknown.append(f"direction={number}")
        return str(number)
    return enum(value, DIRECTIONS, "callDirection", unknown)


def _leg(call_id: str, data: dict[str, Any], unknown: list[str], leg_key: str = "") -> NormalisedLeg:
    quality = data.get("callquality")
    quality = lower_keys(quality) if isinstance(quality, dict) else {}
    return NormalisedLeg(
        call_id=call_id,
        leg_key=leg_key,
        direction=_direction(data.get("calldirection", data.get("direction")), unknown),
        call_type=enum(data.get("calltype", data.get("type")), CALL_TYPES, "callType", unknown),
        source=text(data.get("source", data.get("sourcemsisdn"))),
        destination=text(data.get("destination", data.get("target", data.get("targetmsisdn")))),
        source_country=text(data.get("sourcecountrycode", data.get("country"))).upper()[:8],
        destination_country=text(data.get("destinationcountrycode", data.get("targetcountrycode"))).upper()[:8],
        source_ref_id=text(data.get("sourcerefid", data.get("numberreferenceid", data.get("referenceid")))),
        destination_ref_id=text(data.get("destinationrefid")),
        status=enum(data.get("callstatus", data.get("status")), LEG_STATUSES, "leg callStatus", unknown)
        if leg_key
        else "",
        initiated_at=to_time(data.get("initiatedtimestamp"), "initiatedTimestamp"),
        connected_at=to_time(data.get("connectedtimestamp"), "connectedTimestamp"),
        disconnected_at=to_time(data.get("disconnectedtimestamp"), "disconnectedTimestamp"),
        duration_seconds=to_int(data.get("callduration", data.get("duration"))),
        mos=to_float(quality.get("mos")),
        packet_loss_rate=to_float(quality.get("packetlossrate")),
        jitter_ms=to_int(quality.get("jitter")),
    )


def _summary(fields: dict[str, Any], kind: str, *, legacy: bool) -> NormalisedEvent:
    unknown: list[str] = []
    session_id = _require_session_id(fields, kind)
    details = fields.get("details")
    if details is not None and not isinstance(details, dict):
        raise NormaliseError(f"details is a JSON {type(details).__name__}, not a map of legs")
    legs = []
    for key, value in (details or {}).items():
        if not isinstance(value, dict):
            raise NormaliseError(f"details.{key} is not an object")
        leg = lower_keys(value)
        call_id = text(leg.get("callid", leg.get("id")))
        if not call_id:
            raise NormaliseError(f"details.{key} has no callId")
        # "CallA" and "callA" are the same leg key.
        normal_key = key[:1].lower() + key[1:] if key else key
        legs.append(_leg(call_id[:ID_MAX], leg, unknown, leg_key=normal_key or "?"))
    far = datetime.max.replace(tzinfo=UTC)
    legs.sort(key=lambda leg: (leg.initiated_at or far, leg.leg_key.lower(), leg.call_id))

    status = enum(fields.get("sessionstatus", fields.get("status")), SESSION_STATUSES, "sessionStatus", unknown)
    error = fields.get("errordetails")
    error = lower_keys(error) if isinstance(error, dict) else {}
    start_time = to_time(fields.get("starttime"), "startTime")
    end_time = to_time(fields.get("endtime"), "endTime")
    return NormalisedEvent(
        kind=SESSION_SUMMARY,
        legacy=legacy,
        raw_event_type=text(fields.get("eventtype")),
        session_id=session_id,
        sub_account_id=envelope_sub_account_id(fields),
        event_time=end_time or start_time,
        session_status=status,
        start_time=start_time,
        end_time=end_time,
        last_action=text(fields.get("lastaction"))[:40],
        call_count=to_int(fields.get("callcount")),
        client_request_id=text(fields.get("clientrequestid"))[:100],
        client_batch_id=text(fields.get("clientbatchid"))[:100],
        error_code=to_int(error.get("errorcode")),
        error_message=text(error.get("errormsg", error.get("errormessage"))),
        version=to_int(fields.get("version")),
        legs=tuple(legs),
        unknown_values=tuple(unknown),
    )


def _call_event(fields: dict[str, Any], kind: str, *, legacy: bool) -> NormalisedEvent:
    unknown: list[str] = []
    session_id = _require_session_id(fields, kind)
    call_id = envelope_call_id(fields)[:ID_MAX]
    if legacy:
        # Wavecell callbacks: the call state is the eventType itself (CALL_RECEIVED, …).
        call_status = enum(kind, CALL_STATUSES, "eventType", unknown)
        kind = CALL_STATUS
        legacy_state = text(fields.get("status")).upper()
        if legacy_state and legacy_state not in LEGACY_CALL_STATES:
            unknown.append(f"status={legacy_state}")
    else:
        call_status = enum(fields.get("callstatus"), CALL_STATUSES, "callStatus", unknown)
    sip_code, sip_code_raw = _sip(fields)
    return NormalisedEvent(
        kind=kind,
        legacy=legacy,
        raw_event_type=text(fields.get("eventtype")),
        session_id=session_id,
        sub_account_id=envelope_sub_account_id(fields),
        event_id=text(fields.get("eventid")),
        call_id=call_id,
        event_time=to_time(fields.get("timestamp"), "timestamp"),
        call_status=call_status,
        leg=_leg(call_id, fields, unknown) if call_id else None,
        sip_code=sip_code,
        sip_code_raw=sip_code_raw[:32],
        dtmf=_dtmf(fields),
        client_action_id=text(fields.get("clientactionid")),
        version=to_int(fields.get("version")),
        unknown_values=tuple(unknown),
    )


def _session_only(fields: dict[str, Any], kind: str, unknown: list[str] | None = None) -> NormalisedEvent:
    return NormalisedEvent(
        kind=kind,
        raw_event_type=text(fields.get("eventtype")),
        session_id=_require_session_id(fields, kind),
        sub_account_id=envelope_sub_account_id(fields),
        event_time=to_time(fields.get("timestamp"), "timestamp"),
        unknown_values=tuple(unknown or ()),
    )


def _legacy_dtmf_callback(fields: dict[str, Any]) -> NormalisedEvent:
    """``{uid, status: {code: "DTMF", timestamp}, destination, clientRequestId, actionDetails}``."""
    status = fields.get("status")
    status = lower_keys(status) if isinstance(status, dict) else {}
    session_id = envelope_session_id(fields)[:ID_MAX]  # the uid: this callback has no sessionId
    if not session_id:
        raise NormaliseError("legacy DTMF callback without a uid")
    return NormalisedEvent(
        kind=CALL_ACTION,
        legacy=True,
        session_id=session_id,
        event_time=to_time(status.get("timestamp"), "status.timestamp"),
        call_status="DTMF_RECEIVED",
        dtmf=_dtmf(fields),
        client_request_id=text(fields.get("clientrequestid"))[:100],
    )


def _recording(fields: dict[str, Any]) -> NormalisedEvent:
    """VRU: a recording's status on its session (the page only shows UPLOAD_COMPLETED; the
    recording-status API's failure values are read too)."""
    unknown: list[str] = []
    base = _session_only(fields, CALL_RECORDING_STATUS)
    return NormalisedEvent(
        kind=CALL_RECORDING_STATUS,
        raw_event_type=base.raw_event_type,
        session_id=base.session_id,
        sub_account_id=base.sub_account_id,
        event_time=base.event_time,
        recording_status=enum(fields.get("status"), RECORDING_STATUSES, "recording status", unknown),
        recording_id=text(fields.get("recordingid"))[:64],
        recording_duration=to_int(fields.get("durationseconds")),
        recording_path=text(fields.get("filepath"))[:500],
        unknown_values=tuple(unknown),
    )


def _virtual_numbers(fields: dict[str, Any]) -> NormalisedEvent:
    """VNU: the sub-account's virtual numbers (an array, though 8x8's table says "Object")."""
    unknown: list[str] = []
    entries = fields.get("virtualnumbers")
    if isinstance(entries, dict):
        entries = [entries]
    numbers = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        entry = lower_keys(entry)
        msisdn = text(entry.get("msisdn"))[:40]
        if not msisdn:
            continue
        status = text(entry.get("operationalstatus"))
        status = status[:1].upper() + status[1:].lower() if status else ""  # 8x8 sends title case
        if status and status not in OPERATIONAL_STATUSES:
            unknown.append(f"operationalStatus={status}")
        check = entry.get("numberhealthcheckenabled")
        try:
            updated_at = to_time(entry.get("updatedtimestamp"), "updatedTimestamp")
        except NormaliseError:
            updated_at = None  # one odd entry must not lose the others
        numbers.append(
            NormalisedNumber(
                msisdn=msisdn,
                country_code=text(entry.get("countrycode")).upper()[:8],
                operational_status=status[:32],
                reference_id=text(entry.get("referenceid"))[:100],
                update_status=enum(entry.get("updatestatus"), UPDATE_STATUSES, "updateStatus", unknown)[:32],
                updated_at=updated_at,
                health_check_enabled=check if isinstance(check, bool) else None,
            )
        )
    return NormalisedEvent(
        kind=VIRTUAL_NUMBER_UPDATE,
        sub_account_id=envelope_sub_account_id(fields),
        update_event_type=enum(fields.get("updateeventtype"), UPDATE_EVENT_TYPES, "updateEventType", unknown)[:32],
        virtual_numbers=tuple(numbers),
        unknown_values=tuple(unknown),
    )
