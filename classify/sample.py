"""A small generator of realistic 8x8 webhook bodies for classify's tests and benchmarks.

``webhooks.traffic.session_events`` (the receiver's simulator) is the richer one; this keeps
classify's tests independent of it and deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

OUTCOMES = [  # (session status, outbound leg status, outbound disconnect SIP code, weight)
    ("COMPLETED", "COMPLETED", 200, 60),
    ("NO_ANSWER", "NO_ANSWER", 480, 10),
    ("BUSY", "BUSY", 486, 8),
    ("CANCELED", "CANCELED", 487, 5),
    ("FAILED", "FAILED", 503, 6),
    ("FAILED", "FAILED", 404, 4),
    ("ERROR", "ERROR", 500, 3),
]
COUNTRIES = [("+65", "SG"), ("+1", "US"), ("+94", "LK"), ("+62", "ID")]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=1))


def _ts(moment: datetime, ms: bool = True) -> str:
    if ms:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(rng: random.Random) -> tuple[str, str]:
    prefix, country = rng.choice(COUNTRIES)
    return prefix + "".join(str(rng.randint(0, 9)) for _ in range(8)), country


def session_events(rng: random.Random, *, start: datetime, masking: bool | None = None) -> list[dict]:
    """VCS events for one or two legs, then the VSS: bodies in the order 8x8 would send them."""
    session_id = _uuid(rng)
    sub_account = rng.choice(["acme_voice", "8x8_test", "wavecell_voice"])
    status, leg_status, code, _ = rng.choices(OUTCOMES, weights=[o[3] for o in OUTCOMES])[0]
    masking = rng.random() < 0.5 if masking is None else masking
    caller, caller_country = _number(rng)
    callee, callee_country = _number(rng)
    t = start + timedelta(milliseconds=rng.randint(0, 59_000))
    bodies: list[dict] = []
    legs: dict[str, dict] = {}

    def vcs(leg: dict, call_status: str, when: datetime, sip: int, duration: int = 0) -> None:
        bodies.append(
            {
                "namespace": "VOICE",
                "eventType": "CALL_STATUS",
                "description": "Status update of a call",
                "payload": {
                    "eventId": _uuid(rng),
                    "callId": leg["callId"],
                    "sessionId": session_id,
                    "subAccountId": sub_account,
                    "callStatus": call_status,
                    "callDirection": leg["callDirection"],
                    "callType": "PSTN",
                    "source": leg["source"],
                    "destination": leg["destination"],
                    "sourceFormat": "MSISDN",
                    "destinationFormat": "MSISDN",
                    "sourceCountryCode": leg["sourceCountryCode"],
                    "destinationCountryCode": leg["destinationCountryCode"],
                    "callDuration": duration,
                    "sipCode": sip,
                    "timestamp": _ts(when),
                },
            }
        )

    def leg(direction: str, source: str, dest: str, scc: str, dcc: str, **refs: str) -> dict:
        return {
            "callId": _uuid(rng),
            "callDirection": direction,
            "callType": "PSTN",
            "source": source,
            "destination": dest,
            "sourceFormat": "MSISDN",
            "destinationFormat": "MSISDN",
            "sourceCountryCode": scc,
            "destinationCountryCode": dcc,
            **refs,
        }

    if masking:
        virtual, vcountry = _number(rng)
        inbound = leg("INBOUND", caller, virtual, caller_country, vcountry, destinationRefId="vn-ref-1")
        outbound = leg("OUTBOUND", virtual, callee, vcountry, callee_country, sourceRefId="vn-ref-1")
        legs = {"callA": inbound, "callB": outbound}
        vcs(inbound, "CALL_RECEIVED", t, 200)
        inbound["initiatedTimestamp"] = _ts(t, ms=False)
        t2 = t + timedelta(milliseconds=rng.randint(200, 2000))
        vcs(outbound, "CALL_INITIATED", t2, 200)
        outbound["initiatedTimestamp"] = _ts(t2, ms=False)
    else:
        outbound = leg("OUTBOUND", "+6568332048", callee, "SG", callee_country, sourceRefId="PSTN1")
        legs = {"callA": outbound}
        t2 = t
        vcs(outbound, "CALL_INITIATED", t2, 200)
        outbound["initiatedTimestamp"] = _ts(t2, ms=False)

    answered = leg_status == "COMPLETED"
    t3 = t2 + timedelta(milliseconds=rng.randint(1000, 20_000))
    duration = rng.randint(5, 300) if answered else 0
    if answered:
        vcs(outbound, "CALL_CONNECTED", t3, 200)
        outbound["connectedTimestamp"] = _ts(t3, ms=False)
    t4 = t3 + timedelta(seconds=duration)
    vcs(outbound, "CALL_DISCONNECTED", t4, code, duration)
    outbound.update(disconnectedTimestamp=_ts(t4, ms=False), callStatus=leg_status, callDuration=duration)
    if masking:
        in_duration = int((t4 - t).total_seconds())
        inbound.update(
            connectedTimestamp=inbound["initiatedTimestamp"],
            disconnectedTimestamp=_ts(t4, ms=False),
            callStatus="COMPLETED",
            callDuration=in_duration,
        )
        vcs(inbound, "CALL_DISCONNECTED", t4 + timedelta(milliseconds=120), 200, in_duration)
    summary: dict = {
        "sessionId": session_id,
        "subAccountId": sub_account,
        "sessionStatus": status,
        "startTime": _ts(t, ms=False),
        "endTime": _ts(t4 + timedelta(seconds=1), ms=False),
        "lastAction": "MAKE_CALL" if masking else rng.choice(["SAY", "MAKE_CALL", "SAY_AND_CAPTURE"]),
        "callCount": len(legs),
        "details": legs,
    }
    if status == "ERROR":
        summary["errorDetails"] = {"errorCode": -2002, "errorMsg": "An internal connectivity error has occurred"}
    bodies.append(
        {
            "namespace": "VOICE",
            "eventType": "SESSION_SUMMARY",
            "description": "Summary of a completed call session",
            "payload": summary,
        }
    )
    return bodies


def traffic(rng: random.Random, *, sessions: int, start: datetime, per_second: float = 50.0) -> list[dict]:
    """Bodies of many sessions, interleaved roughly as they would arrive."""
    timed = []
    for i in range(sessions):
        begin = start + timedelta(seconds=i / per_second)
        for j, body in enumerate(session_events(rng, start=begin)):
            timed.append((begin + timedelta(seconds=j * 2 + rng.random()), body))
    timed.sort(key=lambda pair: pair[0])
    return [body for _, body in timed]
