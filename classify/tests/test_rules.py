"""The pure classification rules, table by table, next to docs/design.md §5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from classify.normalise import normalise
from classify.rules import (
    ANOMALY_LABELS,
    StoredEvent,
    code_advice,
    derive_session,
    error_code_advice,
    fault_side,
    is_final,
    outcome_group,
    sip_class,
)
from reference import seed
from reference.snapshot import load_snapshot

from .conftest import CALL_A, CALL_B, SESSION, T0, vcs, vss

SEED_CODES = [row[0] for row in seed.SIP_CODES]


@pytest.fixture
def seeded_snapshot(db):
    """The reference exactly as the data migrations seed it."""
    return load_snapshot()


def stored(*bodies, start_id: int = 1) -> list[StoredEvent]:
    return [StoredEvent(start_id + i, 1, T0 + timedelta(minutes=5), normalise(b)) for i, b in enumerate(bodies)]


# --- SIP class ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", SEED_CODES)
def test_every_seeded_code_gets_its_class_from_the_first_digit(code):
    assert sip_class(code) == f"{str(code)[0]}xx"
    assert sip_class(str(code)) == f"{str(code)[0]}xx"


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0, "invalid"), (99, "invalid"), (499, "4xx"), (699, "6xx"), (700, "invalid"), ("abc", "invalid"),
     (None, "none"), ("", "none"), (-2004, "invalid"), (True, "invalid")],
)  # fmt: skip
def test_unknown_and_invalid_codes(code, expected):
    assert sip_class(code) == expected


# --- retry advice and responsibility from the seeded reference ----------------------------


@pytest.mark.parametrize("code", SEED_CODES)
def test_every_seeded_code_has_advice_following_spec(code, seeded_snapshot):
    advice = code_advice(code, seeded_snapshot)
    assert advice.retry_advice
    assert advice.responsibility
    if 500 <= code < 600:
        assert advice.retry_advice == "retry_with_backoff"
    elif code >= 600:
        assert advice.retry_advice == "do_not_retry"
    elif code in (480, 486, 487):
        assert advice.retry_advice == "retry_later"
    elif code in (401, 403, 404, 484, 488):
        assert advice.retry_advice == "fix_request"
    elif 200 <= code < 300:
        assert advice.retry_advice == "none"
    elif 400 <= code < 500:
        assert advice.retry_advice != "retry_with_backoff"


@pytest.mark.parametrize(("code", "digit"), [(499, 4), (699, 6), (599, 5), (199, 1)])
def test_unknown_codes_fall_back_to_their_class_advice(code, digit, seeded_snapshot):
    defaults = seeded_snapshot.classes[digit]
    advice = code_advice(code, seeded_snapshot)
    assert (advice.retry_advice, advice.responsibility) == (defaults["retry_advice"], defaults["responsibility"])


@pytest.mark.parametrize("code", [0, 99, 700, None])
def test_invalid_codes_get_no_advice(code, seeded_snapshot):
    assert code_advice(code, seeded_snapshot).retry_advice == ""


@pytest.mark.parametrize(
    ("code", "advice"),
    [(-2001, "retry_later"), (-2002, "retry_later"), (-2010, "retry_later"), (-2003, "fix_request"),
     (-2008, "fix_request"), (-2009, "fix_request"), (-2004, "do_not_retry")],
)  # fmt: skip
def test_8x8_error_codes_advice(code, advice, seeded_snapshot):
    assert error_code_advice(code, seeded_snapshot).retry_advice == advice


@pytest.mark.parametrize(
    "code", [row[0] for row in seed.VOICE_ERROR_CODES + seed.CALLFLOWS_STATUS_CODES if row[0] != 1]
)
def test_every_8x8_error_code_is_a_network_or_configuration_fault_agreeing_with_its_advice(code, seeded_snapshot):
    advice = error_code_advice(code, seeded_snapshot)
    assert advice.retry_advice
    side = {"configuration": "configuration", "carrier_or_platform": "network"}[advice.responsibility]
    assert fault_side(error_code=code) == side


def test_troubleshooting_entries_are_matched_by_code(snapshot):
    assert code_advice(487, snapshot).troubleshooting_ids == (1, 5)
    assert code_advice(200, snapshot).troubleshooting_ids == ()


# --- outcome group and fault side ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "group"),
    [("COMPLETED", "answered"), ("NO_ANSWER", "not_answered"), ("BUSY", "not_answered"),
     ("CANCELED", "not_answered"), ("FAILED", "failed"), ("ERROR", "error"),
     ("COMPLETED_UNSUBSCRIBED", "opt_out"), ("COMPLETED_UNSUB_ERROR", "opt_out"),
     ("UNSUBSCRIBED_CONTACT", "opt_out"), ("IN_PROGRESS", "in_progress"), ("HALF_DONE", "unknown")],
)  # fmt: skip
def test_outcome_group_of_every_session_status(status, group):
    assert outcome_group(status) == group


def test_every_seeded_session_status_has_a_known_group():
    for status, *_ in seed.SESSION_STATUSES:
        assert outcome_group(status) not in ("unknown", "in_progress"), status


@pytest.mark.parametrize(
    ("kwargs", "side"),
    [*[({"sip_code": c}, "customer") for c in (486, 480, 487, 603, 600)],
     *[({"sip_code": c}, "configuration") for c in (400, 401, 403, 404, 407, 410, 484, 485, 488, 604, 606)],
     *[({"sip_code": c}, "network") for c in (408, 500, 503, 599, 607, 608)],
     ({"sip_code": 302}, "none"), ({"sip_code": 199}, "none"), ({"sip_code": 183, "status": "NO_ANSWER"}, "customer"),
     ({"status": "NO_ANSWER"}, "customer"), ({"status": "BUSY"}, "customer"), ({"status": "CANCELED"}, "customer"),
     ({"status": "COMPLETED_UNSUBSCRIBED"}, "customer"), ({"status": "UNSUBSCRIBED_CONTACT"}, "customer"),
     # 8x8 failed to record an opt-out: their processing, not the callee's behaviour.
     ({"status": "COMPLETED_UNSUB_ERROR"}, "network"),
     # Failed without a code: no final response, so nobody on our side can be blamed.
     ({"status": "ERROR"}, "network"), ({"status": "FAILED"}, "network"), ({"status": "COMPLETED"}, "none"),
     ({"error_code": -2004}, "network"), ({"error_code": -2001}, "network"), ({"error_code": -9999}, "network"),
     ({"error_code": -2003}, "configuration"), ({"error_code": -2008}, "configuration"),
     ({"error_code": -1004}, "configuration"), ({"error_code": -1017}, "configuration"),
     ({"sip_code": 486, "error_code": -2004}, "customer"),
     # A code in none of the lists leaves the decision to the status or the 8x8 error code.
     ({"sip_code": 302, "status": "NO_ANSWER"}, "customer"), ({"sip_code": 405, "error_code": -2008}, "configuration")],
)  # fmt: skip
def test_fault_side(kwargs, side):
    assert fault_side(**kwargs) == side


# --- finality -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call_status", "final"),
    [("CALL_INITIATED", False), ("CALL_RECEIVED", False), ("CALL_CONNECTED", False), ("CALL_UPDATED", False),
     ("DTMF_RECEIVED", False), ("CALL_DISCONNECTED", True)],
)  # fmt: skip
def test_a_code_is_an_outcome_only_on_disconnect(call_status, final):
    assert is_final(normalise(vcs(call_status, "2026-01-13T08:27:00Z"))) is final


def test_a_summary_is_final():
    assert is_final(normalise(vss()))


# --- deriving a session -------------------------------------------------------------------


def test_busy_session_primary_cause_is_the_failing_legs_final_code(snapshot):
    events = stored(
        vcs("CALL_INITIATED", "2026-01-13T08:26:58.100Z"),
        vcs("CALL_DISCONNECTED", "2026-01-13T08:27:10.000Z", sip=486),
        vss("BUSY"),
    )
    result = derive_session(SESSION, events, snapshot)
    session = result.session
    assert (session.status, session.outcome_group, session.summary_received) == ("BUSY", "not_answered", True)
    assert (session.primary_cause, session.primary_cause_kind, session.primary_sip_code) == ("486", "sip", 486)
    assert (session.fault_side, session.retry_advice, session.responsibility) == ("customer", "retry_later", "callee")
    assert result.legs[0].final_sip_code == 486
    assert result.verdicts[2].is_final
    assert result.verdicts[2].sip_class == "4xx"
    assert not result.verdicts[1].is_final


def test_primary_cause_is_the_latest_non_2xx_disconnect(snapshot):
    events = stored(
        vcs("CALL_DISCONNECTED", "2026-01-13T08:27:10Z", sip=503, call_id=CALL_A),
        vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20Z", sip=404, call_id=CALL_B),
        vcs("CALL_DISCONNECTED", "2026-01-13T08:27:30Z", sip=200, call_id="c"),
        vss("FAILED"),
    )
    assert derive_session(SESSION, events, snapshot).session.primary_cause == "404"


def test_error_session_without_codes_is_explained_by_the_8x8_error_code(snapshot):
    events = stored(vss("ERROR", errorDetails={"errorCode": -2004, "errorMsg": "No coverage"}))
    session = derive_session(SESSION, events, snapshot).session
    assert (session.primary_cause, session.primary_cause_kind) == ("-2004", "error_code")
    assert (session.retry_advice, session.fault_side) == ("do_not_retry", "network")
    assert session.error_message == "No coverage"
    # ERROR on the leg is what Voice Messaging / Number Masking failure summaries look like (no
    # version field: not IVR), so it is not an anomaly.
    assert "error_on_leg" not in session.anomalies


def test_failed_session_without_code_or_error_is_explained_by_its_status(snapshot):
    session = derive_session(SESSION, stored(vss("NO_ANSWER")), snapshot).session
    assert (session.primary_cause, session.primary_cause_kind, session.retry_advice) == (
        "NO_ANSWER", "status", "retry_later",
    )  # fmt: skip


def test_completed_session_has_no_cause(snapshot):
    session = derive_session(SESSION, stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20Z"), vss()), snapshot).session
    assert (session.primary_cause, session.primary_cause_kind, session.fault_side) == ("", "none", "none")
    assert session.anomalies == []


def test_session_without_summary_is_in_progress(snapshot):
    session = derive_session(SESSION, stored(vcs("CALL_CONNECTED", "2026-01-13T08:27:00Z")), snapshot).session
    assert (session.status, session.outcome_group, session.summary_received) == ("IN_PROGRESS", "in_progress", False)


def test_leg_status_follows_event_time_not_arrival(snapshot):
    events = stored(
        vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20.000Z"),
        vcs("CALL_CONNECTED", "2026-01-13T08:27:03.000Z"),
        vcs("CALL_INITIATED", "2026-01-13T08:26:58.000Z"),
    )
    result = derive_session(SESSION, events, snapshot)
    assert result.legs[0].status == "CALL_DISCONNECTED"
    assert result.legs[0].status_at == datetime(2026, 1, 13, 8, 27, 20, tzinfo=UTC)
    assert "out_of_order" in result.session.anomalies
    assert result.verdicts[2].anomalies == ("out_of_order",)
    assert result.verdicts[1].anomalies == ()


def test_summary_after_disconnect_with_milliseconds_is_not_out_of_order(snapshot):
    events = stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20.300Z"), vss())
    assert "out_of_order" not in derive_session(SESSION, events, snapshot).session.anomalies


def test_summary_before_call_events_is_out_of_order_but_final_state_is_the_same(snapshot):
    late = derive_session(SESSION, stored(vss(), vcs("CALL_DISCONNECTED", "2026-01-13T08:27:19Z")), snapshot)
    natural = derive_session(SESSION, stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:19Z"), vss()), snapshot)
    assert "out_of_order" in late.session.anomalies
    late.session.anomalies = natural.session.anomalies
    assert late.session == natural.session
    assert late.legs == natural.legs


def test_vss_is_authoritative_for_final_leg_status_and_attributes(snapshot):
    events = stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:20Z", destinationCountryCode="ID"), vss())
    leg = derive_session(SESSION, events, snapshot).legs[0]
    assert (leg.final_status, leg.destination_country, leg.status) == ("COMPLETED", "LK", "CALL_DISCONNECTED")
    assert (leg.mos, leg.jitter_ms, leg.duration_seconds) == (4.5, 19, 17)


@pytest.mark.parametrize("status", [row[0] for row in seed.LEG_STATUSES])
@pytest.mark.parametrize("ivr", [True, False])
def test_every_leg_status_and_only_error_on_an_ivr_leg_is_flagged(status, ivr, snapshot):
    body = vss("FAILED", **({"version": 5} if ivr else {}))
    body["payload"]["details"]["callA"]["callStatus"] = status
    result = derive_session(SESSION, stored(body), snapshot)
    assert result.legs[0].final_status == status
    # IVR's leg enum leaves ERROR out; Voice Messaging's and Number Masking's examples show it.
    assert ("error_on_leg" in result.session.anomalies) is (status == "ERROR" and ivr)


def test_anomaly_slugs(snapshot):
    duplicate = StoredEvent(
        1, 3, T0, normalise(vcs("CALL_INITIATED", "2026-01-13T08:26:58Z", destination="6591234567"))
    )
    contradiction = stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:19Z", sip=503), vss("COMPLETED"), start_id=2)
    unknown = stored(vcs("CALL_WEIRD", "2026-01-13T08:27:19Z"), start_id=4)
    result = derive_session(SESSION, [duplicate, *contradiction, *unknown], snapshot)
    assert {"duplicate_delivery", "non_e164_number", "status_contradicts_codes", "unknown_enum_value"} <= set(
        result.session.anomalies
    )
    assert set(result.session.anomalies) <= set(ANOMALY_LABELS)
    assert result.verdicts[1].anomalies == ("duplicate_delivery", "non_e164_number")


def test_missing_summary_flag_is_kept_until_the_summary_arrives(snapshot):
    pending = stored(vcs("CALL_CONNECTED", "2026-01-13T08:27:00Z"))
    assert "missing_summary" in derive_session(SESSION, pending, snapshot, keep_missing_summary=True).session.anomalies
    done = stored(vcs("CALL_CONNECTED", "2026-01-13T08:27:00Z"), vss())
    assert "missing_summary" not in derive_session(SESSION, done, snapshot, keep_missing_summary=True).session.anomalies


def _masking_summary():
    legs = {
        "callA": {"callId": CALL_A, "callDirection": "INBOUND", "destinationRefId": "vn-1", "callStatus": "COMPLETED",
                  "initiatedTimestamp": "2026-01-13T08:26:58Z", "source": "+6591234567", "destination": "+6531581234"},
        "callB": {"callId": CALL_B, "callDirection": "OUTBOUND", "sourceRefId": "vn-1", "callStatus": "COMPLETED",
                  "initiatedTimestamp": "2026-01-13T08:27:00Z", "source": "+6531581234", "destination": "+6598765432"},
    }  # fmt: skip
    return vss("COMPLETED", legs=legs, lastAction="MAKE_CALL")


def _single_outbound(last_action: str, status: str = "COMPLETED", **extra):
    return vss(status, lastAction=last_action, **extra)


def _inbound_only():
    legs = {"callA": {"callId": CALL_A, "callDirection": "INBOUND", "destinationRefId": "vn-1", "callStatus": "ERROR",
                      "initiatedTimestamp": "2026-01-13T08:26:58Z", "source": "+6591234567",
                      "destination": "+6531581234"}}  # fmt: skip
    return vss("ERROR", legs=legs, lastAction="PLAY_TTS")


@pytest.mark.parametrize(
    ("bodies", "product", "reason"),
    [
        ([vss("COMPLETED_UNSUBSCRIBED")], "VOICE_MESSAGING", "inferred: opt-out status (Voice Messaging only)"),
        ([_single_outbound("MAKE_CALL", "NO_ANSWER")], "VOICE_MESSAGING",
         "inferred: one outbound leg ending at MAKE_CALL, no inbound caller, no IVR version field"),
        # Number Masking may end on a say/play as well: say so rather than guess.
        ([_single_outbound("SAY")], "UNKNOWN", "could be Voice Messaging or Number Masking"),
        ([_single_outbound("PLAY_TTS", "ERROR", errorDetails={"errorCode": -2005})], "UNKNOWN",
         "could be Voice Messaging or Number Masking"),
        ([_masking_summary()], "NUMBER_MASKING",
         "inferred: bridged inbound call to a virtual number, summary without the IVR version field"),
        ([_inbound_only()], "NUMBER_MASKING",
         "inferred: inbound call to a virtual number, summary without the IVR version field"),
        # The IVR-only version field beats bridging.
        ([_masking_summary() | {"version": 5}], "IVR", "inferred: VSS version field (IVR only)"),
        ([vss(lastAction="HANGUP", version=5)], "IVR", "inferred: VSS version field (IVR only)"),
        ([vcs("DTMF_RECEIVED", "2026-01-13T08:27:00Z", dtmf="3"), vss(lastAction="SAY")], "IVR",
         "inferred: DTMF captured in a call action"),
        # Voice Messaging can capture digits too: sayAndCapture alone does not make an IVR.
        ([vss(lastAction="SAY_AND_CAPTURE")], "UNKNOWN", "could be Voice Messaging or Number Masking"),
        ([vss(lastAction="HANGUP")], "UNKNOWN", "could be Voice Messaging or Number Masking"),
        ([vcs("CALL_INITIATED", "2026-01-13T08:27:00Z")], "UNKNOWN",
         "could be IVR, Voice Messaging or Number Masking"),
    ],
)  # fmt: skip
def test_product_inference(bodies, product, reason, snapshot):
    session = derive_session(SESSION, stored(*bodies), snapshot).session
    assert (session.product, session.product_reason) == (product, reason)


def test_a_provisional_code_is_never_the_failure_cause(snapshot):
    # 199 Early Dialog Terminated on a disconnect: the outcome comes from the status instead.
    events = stored(vcs("CALL_DISCONNECTED", "2026-01-13T08:27:19Z", sip=199), vss("NO_ANSWER"))
    session = derive_session(SESSION, events, snapshot).session
    assert (session.primary_cause, session.primary_cause_kind, session.fault_side) == (
        "NO_ANSWER",
        "status",
        "customer",
    )


def test_an_opt_out_processing_error_is_8x8s_not_the_callees(snapshot):
    session = derive_session(SESSION, stored(vss("COMPLETED_UNSUB_ERROR")), snapshot).session
    assert (session.fault_side, session.retry_advice, session.responsibility) == (
        "network", "do_not_retry", "carrier_or_platform",
    )  # fmt: skip


def test_a_revised_summary_wins_by_its_times_then_arrival_and_is_flagged(snapshot):
    first = vss("NO_ANSWER")
    revised = vss("COMPLETED", endTime="2026-01-13T08:29:00Z")
    for order in ((first, revised), (revised, first)):
        session = derive_session(SESSION, stored(*order), snapshot).session
        assert session.status == "COMPLETED"
        assert "summary_revised" in session.anomalies
    same_times = derive_session(SESSION, stored(vss("NO_ANSWER"), vss("BUSY")), snapshot).session
    assert same_times.status == "BUSY"  # same times: the later arrival
    assert "summary_revised" not in derive_session(SESSION, stored(first), snapshot).session.anomalies


def _vru(status: str, recording_id: str = "r-1") -> dict:
    return {"namespace": "VOICE", "eventType": "CALL_RECORDING_STATUS",
            "payload": {"sessionId": SESSION, "recordingId": recording_id, "durationSeconds": "57",
                        "filePath": "b/2026-01-13/x.mp3", "status": status}}  # fmt: skip


def test_a_failed_recording_is_a_session_anomaly_until_it_succeeds(snapshot):
    def anomalies(*bodies):
        return derive_session(SESSION, stored(vss(), *bodies), snapshot).session.anomalies

    assert "recording_failed" in anomalies(_vru("UPLOAD_FAILED"))
    assert "recording_failed" in anomalies(_vru("CALLBACK_FAILED"))
    assert "recording_failed" not in anomalies(_vru("UPLOAD_FAILED"), _vru("UPLOAD_COMPLETED"))
    assert "recording_failed" in anomalies(_vru("UPLOAD_COMPLETED"), _vru("UPLOAD_FAILED", "r-2"))
    assert "recording_failed" not in anomalies(_vru("UPLOAD_COMPLETED"))
    odd = normalise(_vru("melted"))
    assert (odd.recording_status, odd.recording_duration, odd.unknown_values) == (
        "MELTED", 57, ("recording status=MELTED",),
    )  # fmt: skip
