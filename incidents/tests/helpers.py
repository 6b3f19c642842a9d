from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from classify.models import Session
from dashboard.tests.factories import make_session


def failures(n: int, *, sip_code: int = 503, minutes_ago: float = 5, spread: float = 0.2, **kw: Any) -> list[Session]:
    """n failing platform-side sessions with one fingerprint, started a few minutes ago."""
    now = timezone.now()
    kw.setdefault("fault_side", "platform")
    status = kw.pop("status", "FAILED")
    return [
        make_session(status=status, sip_code=sip_code, start=now - timedelta(minutes=minutes_ago - i * spread), **kw)
        for i in range(n)
    ]


def at(minutes_from_now: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes_from_now)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def failing_session_bodies(session_id: str, *, sip: int = 503, start: datetime | None = None) -> list[dict]:
    """Webhook bodies of one outbound call that fails with ``sip``: VCS initiated, VCS
    disconnected with the code, then the VSS saying FAILED (docs/8x8-webhooks.md shapes)."""
    import uuid

    start = start or timezone.now() - timedelta(minutes=2)
    call_id = str(uuid.uuid4())
    leg = {
        "callId": call_id, "sessionId": session_id, "subAccountId": "acme_sg", "callDirection": "OUTBOUND",
        "callType": "PSTN", "source": "+6568332048", "destination": "+6591234567", "sourceFormat": "MSISDN",
        "destinationFormat": "MSISDN", "sourceCountryCode": "SG", "destinationCountryCode": "SG",
    }  # fmt: skip

    def vcs(status: str, code: int, when: datetime) -> dict:
        payload = {**leg, "eventId": str(uuid.uuid4()), "callStatus": status, "callDuration": 0, "sipCode": code}
        return {"namespace": "VOICE", "eventType": "CALL_STATUS", "payload": {**payload, "timestamp": _stamp(when)}}

    end = start + timedelta(seconds=3)
    vss_leg = {k: v for k, v in leg.items() if k not in ("sessionId", "subAccountId")}
    vss = {
        "namespace": "VOICE",
        "eventType": "SESSION_SUMMARY",
        "payload": {
            "sessionId": session_id, "subAccountId": "acme_sg", "sessionStatus": "FAILED",
            "startTime": _stamp(start)[:19] + "Z", "endTime": _stamp(end)[:19] + "Z",
            "lastAction": "MAKE_CALL", "callCount": 1,
            "details": {"callA": {
                **vss_leg, "initiatedTimestamp": _stamp(start)[:19] + "Z",
                "disconnectedTimestamp": _stamp(end)[:19] + "Z", "callStatus": "FAILED", "callDuration": 0,
            }},
        },
    }  # fmt: skip
    return [vcs("CALL_INITIATED", 100, start), vcs("CALL_DISCONNECTED", sip, end), vss]
