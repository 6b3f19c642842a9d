"""The pure classification rules, table by table, next to SPEC §5."""

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


@pytest.mark.parametrize("code", [row[0] for row in seed.VOICE_ERROR_CODES])
def test_every_8x8_error_code_is_a_platform_fault_with_advice(code, seeded_snapshot):
    assert error_code_advice(code, seeded_snapshot).retry_advice
    assert fault_side(error_code=code) == "platform"


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
     *[({"sip_code": c}, "platform") for c in (401, 403, 404, 407, 484, 488, 500, 503, 599)],
     ({"sip_code": 408}, "none"), ({"sip_code": 302}, "none"),
     ({"status": "NO_ANSWER"}, "customer"), ({"status": "BUSY"}, "customer"), ({"status": "CANCELED"}, "customer"),
     ({"status": "ERROR"}, "platform"), ({"status": "FAILED"}, "none"), ({"error_code": -2004}, "platform"),
     ({"sip_code": 486, "error_code": -2004}, "customer"),
     # A code in neither list leaves the decision to the status or the 8x8 error code.
     ({"sip_code": 408, "status": "NO_ANSWER"}, "customer"), ({"sip_code": 604, "error_code": -2004}, "platform")],
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
    assert (session.retry_advice, session.fault_side) == ("do_not_retry", "platform")
    assert session.error_message == "No coverage"
    assert "error_on_leg" in session.anomalies


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
def test_every_leg_status_and_only_error_is_flagged(status, snapshot):
    body = vss("FAILED")
    body["payload"]["details"]["callA"]["callStatus"] = status
    result = derive_session(SESSION, stored(body), snapshot)
    assert result.legs[0].final_status == status
    assert ("error_on_leg" in result.session.anomalies) is (status == "ERROR")


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


@pytest.mark.parametrize(
    ("bodies", "product"),
    [
        ([vss("COMPLETED_UNSUBSCRIBED")], "VOICE_MESSAGING"),
        ([vss(lastAction="SAY")], "VOICE_MESSAGING"),
        ([vss(lastAction="PLAY_FILE")], "VOICE_MESSAGING"),
        ([_masking_summary()], "NUMBER_MASKING"),
        ([vss(lastAction="SAY_AND_CAPTURE")], "IVR"),
        ([vss(lastAction="HANGUP", version=5)], "IVR"),
        ([vcs("DTMF_RECEIVED", "2026-01-13T08:27:00Z", dtmf="3"), vss(lastAction="SAY")], "IVR"),
        ([vss(lastAction="HANGUP")], "UNKNOWN"),
    ],
)
def test_product_inference(bodies, product, snapshot):
    assert derive_session(SESSION, stored(*bodies), snapshot).session.product == product
