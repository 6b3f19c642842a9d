"""Shared pieces for classify's tests: a hand-made reference snapshot and event builders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reference.snapshot import CodeInfo, ErrorCodeInfo, ReferenceSnapshot, TroubleshootingInfo

CLASSES = {
    1: {"name": "Provisional", "meaning": "Provisional", "retry_advice": "none", "responsibility": "none"},
    2: {"name": "Success", "meaning": "Success", "retry_advice": "none", "responsibility": "none"},
    3: {"name": "Redirection", "meaning": "Redirect", "retry_advice": "retry_later", "responsibility": "carrier"},
    4: {"name": "Client error", "meaning": "Client", "retry_advice": "fix_request", "responsibility": "configuration"},
    5: {"name": "Server error", "meaning": "Server", "retry_advice": "retry_with_backoff", "responsibility": "carrier"},
    6: {"name": "Global failure", "meaning": "Global", "retry_advice": "do_not_retry", "responsibility": "callee"},
}  # fmt: skip


def _code(code: int, retry: str, resp: str) -> CodeInfo:
    return CodeInfo(code, code // 100, f"Reason {code}", "", "", retry, resp, "", known=True)


@pytest.fixture
def snapshot() -> ReferenceSnapshot:
    """A tiny reference: enough to see advice come from a code row, from its class, or not at all."""
    codes = {
        200: _code(200, "none", "none"),
        404: _code(404, "fix_request", "configuration"),
        486: _code(486, "retry_later", "callee"),
        487: _code(487, "retry_later", "caller"),
        503: _code(503, "retry_with_backoff", "carrier_or_platform"),
        603: _code(603, "do_not_retry", "callee"),
    }
    return ReferenceSnapshot(
        classes=CLASSES,
        codes=codes,
        error_codes={
            -2004: ErrorCodeInfo(-2004, "No coverage", "", "do_not_retry", "carrier_or_platform"),
            -2002: ErrorCodeInfo(-2002, "Connectivity", "", "retry_later", "carrier_or_platform"),
        },
        session_statuses=frozenset({"COMPLETED", "BUSY", "NO_ANSWER", "FAILED", "CANCELED", "ERROR"}),
        leg_statuses=frozenset({"COMPLETED", "BUSY", "NO_ANSWER", "FAILED", "CANCELED", "ERROR"}),
        session_level_only_leg_statuses=frozenset({"ERROR"}),
        troubleshooting=(
            TroubleshootingInfo(1, "Call not connecting", "Check", frozenset({480, 408, 487})),
            TroubleshootingInfo(5, "Call drops during ringing", "Normal", frozenset({487})),
        ),
    )


T0 = datetime(2026, 1, 13, 8, 26, 58, tzinfo=UTC)
SESSION = "a089b40d-f059-11f0-8937-99c7872ee3c4"
CALL_A = "a08a2880-f059-11f0-8937-99c7872ee3c4"
CALL_B = "a1f3e4b2-f059-11f0-8937-99c7872ee3c4"


def vcs(call_status: str, timestamp: str, *, call_id: str = CALL_B, sip: object = 200, event_id: str = "", **extra):
    """A current-shape VCS body."""
    payload = {
        "eventId": event_id or f"ev-{call_id[:4]}-{call_status}-{timestamp}",
        "callId": call_id,
        "sessionId": SESSION,
        "subAccountId": "8x8_test",
        "callStatus": call_status,
        "callDirection": "OUTBOUND",
        "callType": "PSTN",
        "source": "+6568332048",
        "destination": "+94778066434",
        "sourceCountryCode": "SG",
        "destinationCountryCode": "LK",
        "callDuration": 0,
        "sipCode": sip,
        "timestamp": timestamp,
        **extra,
    }
    return {
        "namespace": "VOICE",
        "eventType": "CALL_STATUS",
        "description": "Status update of a call",
        "payload": payload,
    }


def vss(status: str = "COMPLETED", *, legs: dict | None = None, **extra):
    """A current-shape VSS body with one outbound leg unless ``legs`` says otherwise."""
    legs = legs if legs is not None else {
        "callA": {
            "callId": CALL_B,
            "callDirection": "OUTBOUND",
            "callType": "PSTN",
            "initiatedTimestamp": "2026-01-13T08:26:58Z",
            "connectedTimestamp": "2026-01-13T08:27:03Z",
            "disconnectedTimestamp": "2026-01-13T08:27:20Z",
            "source": "+6568332048",
            "destination": "+94778066434",
            "sourceCountryCode": "SG",
            "destinationCountryCode": "LK",
            "sourceRefId": "PSTN1",
            "callStatus": "COMPLETED" if status == "COMPLETED" else status,
            "callDuration": 17,
            "callQuality": {"mos": 4.5, "packetLossRate": 0, "jitter": 19},
        }
    }  # fmt: skip
    payload = {
        "sessionId": SESSION,
        "subAccountId": "8x8_test",
        "sessionStatus": status,
        "startTime": "2026-01-13T08:26:58Z",
        "endTime": "2026-01-13T08:27:20Z",
        "lastAction": "HANGUP",
        "callCount": len(legs),
        "details": legs,
        **extra,
    }
    return {"namespace": "VOICE", "eventType": "SESSION_SUMMARY", "description": "Summary", "payload": payload}
