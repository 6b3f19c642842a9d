"""Realistic 8x8 voice webhook traffic, generated deterministically from a ``random.Random``.

Pure: no Django, no I/O. Used by ``manage.py simulate_traffic``, the benchmarks, the demo and
tests of other apps. Shapes follow docs/8x8-webhooks.md:

* VCS (``CALL_STATUS``) per leg: CALL_INITIATED (outbound) or CALL_RECEIVED (inbound), then
  CALL_CONNECTED and CALL_DISCONNECTED for answered legs, or CALL_DISCONNECTED alone with the
  failure's SIP code (486, 480, 487, 404, 484, 403, 503, 502, 603, 408 …) for failing legs.
  ms timestamps; sometimes the 2025 shape (ref ids, ``eventData: " "``, string callDuration).
* VCA (``CALL_ACTION``) for IVR (CALL_RECEIVED on inbound calls, ACTION_COMPLETED with DTMF after
  SAY_AND_CAPTURE) and for Number Masking (CALL_RECEIVED on the inbound leg).
* VSS (``SESSION_SUMMARY``) last, consistent with the VCS codes: 486→BUSY, 480/408→NO_ANSWER,
  487→CANCELED, 404/484/403/603/5xx→FAILED; ERROR sessions carry ``errorDetails``
  (−2004, −2010, −2003 …). Second-precision timestamps.

With ``quirks=True`` the documented quirks appear now and then: ``"CallA"`` with
``"SourceRefId": "null"`` (VM), callB listed before callA (NM), ``"NO ANSWER"``, errorCode as a
string, callDuration as a string, the DTMF variants (eventData object / flat ``dtmf`` /
eventData string), and rarely the flat legacy (Wavecell) aggregated status instead of a VSS.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PRODUCTS = ("IVR", "VOICE_MESSAGING", "NUMBER_MASKING")
# Each product's traffic comes from its own sub-accounts, as at a real company, so `make run` can
# give them product rules (scripts/run.sh) and the demo shows products instead of "Unknown".
PRODUCT_SUB_ACCOUNTS = {
    "IVR": ("acme_voice", "InternalDemoCPaaS_8dD15_voice"),
    "VOICE_MESSAGING": ("8x8_test", "globex_support"),
    "NUMBER_MASKING": ("wavecell_voice",),
}
SUB_ACCOUNTS = tuple(sub for subs in PRODUCT_SUB_ACCOUNTS.values() for sub in subs)
# (country, dialling prefix, national digits)
COUNTRIES = (("SG", "+65", 8), ("US", "+1", 10), ("LK", "+94", 9), ("ID", "+62", 10), ("PH", "+63", 10),
             ("IN", "+91", 10), ("GB", "+44", 10), ("AU", "+61", 9))  # fmt: skip
COUNTRY_WEIGHTS = (30, 15, 10, 10, 10, 10, 8, 7)
VIRTUAL_NUMBERS = ("virtual-number-trunk-01", "PSTN1", "vn-ref-1", "support-line-sg", "masking-pool-3")

# Failing SIP codes on CALL_DISCONNECTED and the session/leg status they lead to.
FAILURES: dict[int, str] = {
    486: "BUSY", 600: "BUSY",
    480: "NO_ANSWER", 408: "NO_ANSWER",
    487: "CANCELED",
    404: "FAILED", 484: "FAILED", 403: "FAILED", 603: "FAILED",
    503: "FAILED", 502: "FAILED", 500: "FAILED", 488: "FAILED", 410: "FAILED",
}  # fmt: skip
FAILURE_WEIGHTS: dict[int, int] = {486: 20, 600: 1, 480: 18, 408: 6, 487: 12, 404: 8, 484: 4, 403: 5, 603: 5,
                                   503: 7, 502: 4, 500: 2, 488: 2, 410: 1}  # fmt: skip
ERRORS: dict[int, str] = {
    -2001: "An internal error has occurred",
    -2002: "An internal connectivity error has occurred",
    -2003: "The call flow provided is invalid",
    -2004: "No coverage available for requested area",
    -2005: "Unable to synthesize text to speech",
    -2006: "Unable to download file for playback",
    -2008: "The provided source MSISDN or caller ID is not whitelisted",
    -2010: "The trunk capacity has been exceeded",
    -9999: "An unknown error has occurred",
}
ERROR_WEIGHTS = {-2004: 30, -2010: 20, -2003: 15, -2001: 10, -2005: 6, -2006: 6, -2008: 8, -2002: 3, -9999: 2}
# SIP code the erroring leg's CALL_DISCONNECTED carries.
_ERROR_SIP = {-2004: 404, -2010: 503, -2008: 403, -2002: 503}

_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100 ns intervals between 1582-10-15 and 1970-01-01


def uuid1_like(rng: random.Random, when: datetime, node: int) -> str:
    """A lowercase version-1 UUID for ``when`` and ``node`` (legs of a session share the node)."""
    ticks = int(when.timestamp() * 10_000_000) + _GREGORIAN_OFFSET + rng.randrange(10_000)
    fields = (
        ticks & 0xFFFFFFFF,
        (ticks >> 32) & 0xFFFF,
        ((ticks >> 48) & 0x0FFF) | 0x1000,
        0x80 | rng.randrange(0x40),
        rng.randrange(0x100),
        node,
    )
    return str(uuid.UUID(fields=fields))


def _ms(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _s(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(rng: random.Random, country: tuple[str, str, int]) -> str:
    _, prefix, digits = country
    first = str(rng.randrange(6, 10))
    return prefix + first + "".join(str(rng.randrange(10)) for _ in range(digits - 1))


def _pick(rng: random.Random, weights: dict[int, int]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Leg:
    """One call leg as the generator plans it, before it is rendered into bodies."""

    def __init__(self, rng: random.Random, *, node: int, direction: str, initiated: datetime,
                 source: str, destination: str, src_cc: str, dst_cc: str) -> None:  # fmt: skip
        self.call_id = uuid1_like(rng, initiated, node)
        self.direction = direction
        self.initiated = initiated
        self.source, self.destination = source, destination
        self.src_cc, self.dst_cc = src_cc, dst_cc
        self.source_ref = rng.choice(VIRTUAL_NUMBERS) if direction == "OUTBOUND" else None
        self.destination_ref = rng.choice(VIRTUAL_NUMBERS) if direction == "INBOUND" else None
        self.connected: datetime | None = None
        self.disconnected = initiated
        self.sip_code = 200
        self.status = "COMPLETED"

    def answer(self, rng: random.Random, ring: float, talk: int) -> None:
        self.connected = self.initiated + timedelta(seconds=ring)
        self.disconnected = self.connected + timedelta(seconds=talk, milliseconds=rng.randrange(1000))

    def fail(self, rng: random.Random, sip_code: int, status: str) -> None:
        self.sip_code, self.status = sip_code, status
        wait = 25 + rng.random() * 10 if status == "NO_ANSWER" else rng.random() * 8 + 0.2
        self.disconnected = self.initiated + timedelta(seconds=wait)

    @property
    def duration(self) -> int:
        if self.connected is None:
            return 0
        return max(0, int((self.disconnected - self.connected).total_seconds()))


class _Session:
    def __init__(self, rng: random.Random, start: datetime, product: str) -> None:
        self.rng = rng
        self.product = product
        self.node = rng.getrandbits(48) | 0x010000000000  # multicast bit, as random-node v1 UUIDs set
        self.session_id = uuid1_like(rng, start, self.node)
        self.sub_account = rng.choice(PRODUCT_SUB_ACCOUNTS.get(product, SUB_ACCOUNTS))
        self.start = start
        self.legs: list[_Leg] = []
        self.status = "COMPLETED"
        self.error: int | None = None
        self.last_action = "HANGUP"
        self.bodies: list[tuple[datetime, dict[str, Any]]] = []


def _envelope(event_type: str, description: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"payload": payload, "namespace": "VOICE", "eventType": event_type, "description": description, **extra}


def _call_fields(rng: random.Random, s: _Session, leg: _Leg, call_status: str, when: datetime) -> dict[str, Any]:
    """The fields VCS and VCA share (8x8's old guide: a VCA is "identical to Call Status")."""
    return {
        "eventId": uuid1_like(rng, when, s.node),
        "callId": leg.call_id,
        "sessionId": s.session_id,
        "subAccountId": s.sub_account,
        "callStatus": call_status,
        "callDirection": leg.direction,
        "callType": "PSTN",
        "source": leg.source,
        "destination": leg.destination,
        "sourceFormat": "MSISDN",
        "destinationFormat": "MSISDN",
        "sourceCountryCode": leg.src_cc,
        "destinationCountryCode": leg.dst_cc,
    }


def _vcs(rng: random.Random, s: _Session, leg: _Leg, call_status: str, when: datetime, *,
         sip_code: int, old_shape: bool, quirks: bool) -> dict[str, Any]:  # fmt: skip
    duration: int | str = leg.duration if call_status == "CALL_DISCONNECTED" else 0
    if old_shape or (quirks and rng.random() < 0.05):
        duration = str(duration)  # the 2025 table typed callDuration as String
    payload = {
        **_call_fields(rng, s, leg, call_status, when),
        "callDuration": duration,
        "sipCode": sip_code,
        "timestamp": _ms(when),
    }
    if old_shape:  # the 2025-10 VCS table: ref ids and an eventData string
        payload["sourceRefId"] = leg.source_ref
        payload["destinationRefId"] = leg.destination_ref
        payload["eventData"] = " "
    return _envelope("CALL_STATUS", "Status update of a call", payload)


def _vca(rng: random.Random, s: _Session, leg: _Leg, call_status: str, when: datetime, *,
         quirks: bool, dtmf: str | None = None, client_action_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    payload = {
        **_call_fields(rng, s, leg, call_status, when),
        "destinationRefId": leg.destination_ref,
        "callDuration": 0,
        "sipCode": 200,
        "timestamp": _ms(when),
    }
    if leg.source_ref and s.product != "NUMBER_MASKING":
        payload["sourceRefId"] = leg.source_ref
    if dtmf is not None:
        variant = rng.random() if quirks else 0.0
        if variant < 0.8:
            payload["eventData"] = {"dtmf": dtmf, "asrCaptured": None}
        elif variant < 0.93:  # 2023 IVR guides: flat dtmf, callStatus DTMF_RECEIVED
            payload["dtmf"] = dtmf
            payload["callStatus"] = "DTMF_RECEIVED"
        else:  # "V2": eventData as a plain string
            payload["eventData"] = dtmf
    if client_action_id:
        payload["clientActionId"] = client_action_id
    return _envelope("CALL_ACTION", "Action request of a call", payload)


def _vss_leg(leg: _Leg, *, vm_quirk: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "callId": leg.call_id,
        "callDirection": leg.direction,
        "callType": "PSTN",
        "initiatedTimestamp": _s(leg.initiated),
    }
    if leg.connected is not None:
        data["connectedTimestamp"] = _s(leg.connected)
    data.update(
        disconnectedTimestamp=_s(leg.disconnected),
        source=leg.source,
        destination=leg.destination,
        sourceFormat="MSISDN",
        destinationFormat="MSISDN",
        sourceCountryCode=leg.src_cc,
        destinationCountryCode=leg.dst_cc,
    )
    if vm_quirk:
        data["SourceRefId"] = "null"  # the VM example's capitalised key holding the string "null"
    elif leg.source_ref:
        data["sourceRefId"] = leg.source_ref
    if leg.destination_ref:
        data["destinationRefId"] = leg.destination_ref
    data["callStatus"] = leg.status
    data["callDuration"] = leg.duration
    if leg.connected is not None:
        data["callQuality"] = {"mos": 4.5, "packetLossRate": 0, "jitter": 19}
    return data


def _vss(rng: random.Random, s: _Session, *, quirks: bool) -> dict[str, Any]:
    end = max(leg.disconnected for leg in s.legs) + timedelta(milliseconds=rng.randrange(200, 1500))
    vm_quirk = quirks and s.product == "VOICE_MESSAGING" and rng.random() < 0.15
    details = {}
    for index, leg in enumerate(s.legs):
        key = "call" + "ABCDEFGH"[index]
        details["CallA" if vm_quirk and index == 0 else key] = _vss_leg(leg, vm_quirk=vm_quirk and index == 0)
    if quirks and s.product == "NUMBER_MASKING" and len(details) > 1 and rng.random() < 0.3:
        details = dict(reversed(details.items()))  # the NM example lists callB before callA
    status = s.status
    if quirks and status == "NO_ANSWER" and rng.random() < 0.1:
        status = "NO ANSWER"
    payload: dict[str, Any] = {
        "sessionId": s.session_id,
        "subAccountId": s.sub_account,
        "sessionStatus": status,
        "startTime": _s(s.start),
        "endTime": _s(end),
        "lastAction": s.last_action,
        "callCount": len(s.legs),
    }
    if s.product == "IVR" or rng.random() < 0.3:
        payload["clientRequestId"] = f"req-{rng.randrange(10**6):06d}"
    if s.error is not None:
        code: int | str = s.error
        if quirks and rng.random() < 0.25:
            code = str(code)  # the NM table types errorCode as String
        payload["errorDetails"] = {"errorMsg": ERRORS[s.error], "errorCode": code}
    payload["details"] = details
    extra = {"version": 5} if s.product == "IVR" else {}
    return _envelope("SESSION_SUMMARY", "Summary of a completed call session", payload, **extra)


def _legacy_summary(s: _Session) -> dict[str, Any]:
    """The flat Wavecell-era "aggregated call status" (no envelope, title-case status)."""
    legs = {}
    for index, leg in enumerate(s.legs):
        legs["call" + "ABCDEFGH"[index]] = {
            "id": leg.call_id,
            "direction": 0 if leg.direction == "INBOUND" else 1,
            "type": "PSTN",
            "numberReferenceId": leg.source_ref or leg.destination_ref,
            "initiatedTimestamp": _s(leg.initiated),
            "connectedTimestamp": _s(leg.connected) if leg.connected else None,
            "disconnectedTimestamp": _s(leg.disconnected),
            "source": leg.source.lstrip("+"),
            "target": leg.destination.lstrip("+"),
            "sourceCountryCode": leg.src_cc,
            "targetCountryCode": leg.dst_cc,
            "status": leg.status.replace("_", " ").title(),
            "duration": leg.duration,
        }
    return {
        "sessionId": s.session_id,
        "subAccountId": s.sub_account,
        "status": s.status.replace("_", " ").title(),
        "startTime": _s(s.start),
        "endTime": _s(max(leg.disconnected for leg in s.legs)),
        "lastAction": "MakeCall",
        "callCount": len(s.legs),
        "details": legs,
    }


def _plan_outcome(rng: random.Random, s: _Session) -> int | None:
    """Pick the session's fate; returns the failing SIP code (None when answered or ERROR)."""
    roll = rng.random()
    if roll < 0.05:
        s.error = _pick(rng, ERROR_WEIGHTS)
        s.status = "ERROR"
        return None
    if roll < 0.32:
        code = _pick(rng, FAILURE_WEIGHTS)
        s.status = FAILURES[code]
        return code
    return None


def session_events(
    rng: random.Random,
    *,
    start: datetime,
    product: str | None = None,
    quirks: bool = True,
) -> list[dict[str, Any]]:
    """The webhook bodies of one 8x8 voice session, in natural (delivery) order.

    ``product`` is "IVR", "VOICE_MESSAGING", "NUMBER_MASKING" or None (random). ``start`` must be
    timezone-aware. Roughly 68 % of sessions complete, 27 % fail with a SIP code (BUSY,
    NO_ANSWER, CANCELED, FAILED) and 5 % end in ERROR with ``errorDetails``. The list ends with
    the session summary (VSS), or rarely, with ``quirks``, with a flat legacy summary.
    """
    product = product or rng.choices(PRODUCTS, weights=(35, 40, 25))[0]
    s = _Session(rng, start, product)
    failure = _plan_outcome(rng, s)
    customer = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
    home = COUNTRIES[0] if rng.random() < 0.6 else rng.choice(COUNTRIES)
    vn_number, customer_number = _number(rng, home), _number(rng, customer)
    old_vcs = quirks and rng.random() < 0.1
    t = start + timedelta(milliseconds=rng.randrange(50, 400))
    events: list[tuple[datetime, dict[str, Any]]] = []

    def vcs(leg: _Leg, status: str, when: datetime, sip: int = 200) -> None:
        events.append((when, _vcs(rng, s, leg, status, when, sip_code=sip, old_shape=old_vcs, quirks=quirks)))

    def vca(leg: _Leg, status: str, when: datetime, **kw: Any) -> None:
        events.append((when, _vca(rng, s, leg, status, when, quirks=quirks, **kw)))

    def run_leg(leg: _Leg, code: int | None, *, error: bool = False) -> None:
        """Append the VCS events of a leg and decide its final state."""
        vcs(leg, "CALL_RECEIVED" if leg.direction == "INBOUND" else "CALL_INITIATED", leg.initiated)
        if error:
            leg.fail(rng, _ERROR_SIP.get(s.error or 0, 500), "ERROR" if rng.random() < 0.5 else "FAILED")
            vcs(leg, "CALL_DISCONNECTED", leg.disconnected, leg.sip_code)
        elif code is not None:
            leg.fail(rng, code, FAILURES[code])
            vcs(leg, "CALL_DISCONNECTED", leg.disconnected, code)
        else:
            leg.answer(rng, ring=rng.uniform(2, 12), talk=rng.randrange(5, 240))
            vcs(leg, "CALL_CONNECTED", leg.connected or leg.initiated)
            vcs(leg, "CALL_DISCONNECTED", leg.disconnected)

    if product == "VOICE_MESSAGING":
        leg = _Leg(rng, node=s.node, direction="OUTBOUND", initiated=t, source=vn_number,
                   destination=customer_number, src_cc=home[0], dst_cc=customer[0])  # fmt: skip
        s.legs.append(leg)
        s.last_action = rng.choice(("SAY", "PLAY_FILE", "SAY", "HANGUP"))
        run_leg(leg, failure, error=s.error is not None)
        if s.status == "COMPLETED" and rng.random() < 0.08:
            s.status = rng.choices(
                ("COMPLETED_UNSUBSCRIBED", "UNSUBSCRIBED_CONTACT", "COMPLETED_UNSUB_ERROR"), weights=(6, 3, 1)
            )[0]
    elif product == "IVR" and rng.random() < 0.5:
        # Outbound IVR: call the customer, SAY_AND_CAPTURE, the customer presses a key.
        leg = _Leg(rng, node=s.node, direction="OUTBOUND", initiated=t, source=vn_number,
                   destination=customer_number, src_cc=home[0], dst_cc=customer[0])  # fmt: skip
        s.legs.append(leg)
        s.last_action = "SAY_AND_CAPTURE"
        run_leg(leg, failure, error=s.error is not None)
        if leg.connected is not None:
            when = leg.connected + (leg.disconnected - leg.connected) / 2
            vca(leg, "ACTION_COMPLETED", when, dtmf=str(rng.randrange(1, 10)), client_action_id="ivr1_level1")
    else:
        # Inbound (IVR or Number Masking): the customer calls a virtual number, VCA asks what to
        # do, and the call is bridged to an agent / the masked party on an outbound leg.
        inbound = _Leg(rng, node=s.node, direction="INBOUND", initiated=t, source=customer_number,
                       destination=vn_number, src_cc=customer[0], dst_cc=home[0])  # fmt: skip
        s.legs.append(inbound)
        s.last_action = "MAKE_CALL" if product == "NUMBER_MASKING" else "SAY_AND_CAPTURE"
        vcs(inbound, "CALL_RECEIVED", inbound.initiated)
        vca(inbound, "CALL_RECEIVED", inbound.initiated + timedelta(milliseconds=rng.randrange(20, 200)))
        if s.error is not None and (product == "NUMBER_MASKING" and rng.random() < 0.5):
            # Inbound-leg error (e.g. the VCA answer failed): no outbound leg at all.
            inbound.fail(rng, 500, "ERROR")
            vcs(inbound, "CALL_DISCONNECTED", inbound.disconnected, 500)
        else:
            inbound.answer(rng, ring=rng.uniform(0.3, 1.5), talk=0)
            vcs(inbound, "CALL_CONNECTED", inbound.connected or t)
            b_start = (inbound.connected or t) + timedelta(seconds=rng.uniform(0.5, 6))
            agent_cc = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
            outbound = _Leg(rng, node=s.node, direction="OUTBOUND", initiated=b_start, source=vn_number,
                            destination=_number(rng, agent_cc), src_cc=home[0], dst_cc=agent_cc[0])  # fmt: skip
            s.legs.append(outbound)
            if product == "IVR":
                vca(inbound, "ACTION_COMPLETED", b_start - timedelta(milliseconds=300),
                    dtmf=str(rng.randrange(1, 10)), client_action_id="ivr1_level2")  # fmt: skip
            run_leg(outbound, failure, error=s.error is not None)
            # The caller hangs up with (or soon after) the bridged leg; on 487 the caller cancelled both.
            inbound.disconnected = outbound.disconnected + timedelta(milliseconds=rng.randrange(100, 900))
            if failure == 487:
                inbound.status = "CANCELED"
            vcs(inbound, "CALL_DISCONNECTED", inbound.disconnected)
    if s.status == "COMPLETED" and s.product != "VOICE_MESSAGING":
        s.last_action = "HANGUP" if rng.random() < 0.6 else s.last_action
    summary_at = max(leg.disconnected for leg in s.legs) + timedelta(seconds=1)
    legacy = quirks and rng.random() < 0.01
    events.append((summary_at, _legacy_summary(s) if legacy else _vss(rng, s, quirks=quirks)))
    events.sort(key=lambda item: item[0])  # natural order = by event time (stable for ties)
    return [body for _, body in events]


def deliveries(
    rng: random.Random,
    events: list[dict[str, Any]],
    *,
    duplicates: float = 0.0,
    out_of_order: float = 0.0,
) -> list[dict[str, Any]]:
    """How 8x8 might actually deliver ``events``: some repeated, some swapped with a later one.

    ``duplicates`` is the chance that a body is delivered again (a little later in the list);
    ``out_of_order`` the chance that a body swaps places with one further down (e.g. a VSS
    arriving before a CALL_DISCONNECTED). The same dict object is repeated for duplicates, so
    serialise before mutating.
    """
    out = list(events)
    for index in range(len(out) - 1):
        if rng.random() < out_of_order:
            other = rng.randrange(index + 1, len(out))
            out[index], out[other] = out[other], out[index]
    for body in list(out):
        if rng.random() < duplicates:
            position = out.index(body) + 1
            out.insert(rng.randrange(position, len(out) + 1), body)
    return out


def traffic(
    rng: random.Random,
    *,
    start: datetime | None = None,
    sessions_per_second: float = 10.0,
    duplicates: float = 0.0,
    out_of_order: float = 0.0,
    quirks: bool = True,
):
    """An endless stream of bodies from overlapping sessions, starting at ``start`` (default now).

    Yields delivery-ready dicts; sessions start ``1 / sessions_per_second`` seconds apart
    (in event time), and each session's bodies are emitted together.
    """
    when = start or datetime.now(UTC)
    while True:
        events = session_events(rng, start=when, quirks=quirks)
        yield from deliveries(rng, events, duplicates=duplicates, out_of_order=out_of_order)
        when += timedelta(seconds=rng.expovariate(sessions_per_second))
