"""One test per payload quirk in docs/8x8-webhooks.md (§2–§10): the normaliser must absorb it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from classify.normalise import NormaliseError, normalise
from webhooks.tests.conftest import fixture_json

from .conftest import CALL_A, CALL_B, SESSION, vcs, vss


def fixture(name: str) -> dict:
    """A webhook body from the one payload folder (webhooks/tests/fixtures)."""
    return fixture_json(name.removesuffix(".json"))


def test_fields_are_read_from_payload():
    event = normalise(vcs("CALL_CONNECTED", "2026-01-06T10:17:19.375Z"))
    assert (event.kind, event.session_id, event.call_id, event.call_status) == (
        "CALL_STATUS", SESSION, CALL_B, "CALL_CONNECTED",
    )  # fmt: skip
    assert event.leg.direction == "OUTBOUND"
    assert event.leg.destination_country == "LK"


def test_flat_readme_era_summary_without_payload_wrapper_is_read_from_the_root():
    body = vss("BUSY")
    flat = {"namespace": "VOICE", "eventType": "SESSION_SUMMARY", **body["payload"]}
    event = normalise(flat)
    assert event.kind == "SESSION_SUMMARY"
    assert event.session_status == "BUSY"
    assert event.legs[0].call_id == CALL_B


def test_details_keys_are_case_insensitive_and_null_string_is_null():
    event = normalise(fixture("vss_vm_capital_calla.json"))
    assert [leg.leg_key for leg in event.legs] == ["callA"]
    leg = event.legs[0]
    assert leg.source_ref_id == ""  # "SourceRefId": "null"
    assert leg.status == "COMPLETED"
    assert leg.mos == 4.5


def test_numbers_as_strings_become_ints():
    body = vss("ERROR", errorDetails={"errorCode": "-2004", "errorMsg": "No coverage available for requested area"})
    body["payload"]["details"]["callA"]["callDuration"] = "10"
    body["payload"]["callCount"] = "1"
    event = normalise(body)
    assert event.error_code == -2004
    assert event.legs[0].duration_seconds == 10
    assert event.call_count == 1


def test_sip_code_as_string_and_as_float_is_one_code():
    assert normalise(vcs("CALL_DISCONNECTED", "2026-01-06T10:17:19Z", sip="486")).sip_code == 486
    event = normalise(vcs("CALL_DISCONNECTED", "2026-01-06T10:17:19Z", sip=486.0))
    assert (event.sip_code, event.sip_code_raw) == (486, "486")


def test_invalid_sip_code_is_kept_raw():
    event = normalise(vcs("CALL_DISCONNECTED", "2026-01-06T10:17:19Z", sip="abc"))
    assert (event.sip_code, event.sip_code_raw) == (None, "abc")
    assert normalise(vcs("CALL_DISCONNECTED", "2026-01-06T10:17:19Z", sip=None)).sip_code_raw == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-06T10:17:19.375Z", datetime(2026, 1, 6, 10, 17, 19, 375000, tzinfo=UTC)),
        ("2019-10-16T08:12:01Z", datetime(2019, 10, 16, 8, 12, 1, tzinfo=UTC)),
        ("2019-10-16T16:12:01+08:00", datetime(2019, 10, 16, 8, 12, 1, tzinfo=UTC)),
        ("2019-10-16T08:12:01", datetime(2019, 10, 16, 8, 12, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_with_or_without_milliseconds(value, expected):
    assert normalise(vcs("CALL_INITIATED", value)).event_time == expected


def test_capitalised_timestamp_key_from_the_nm_table():
    body = vcs("CALL_RECEIVED", "x")
    body["payload"]["Timestamp"] = body["payload"].pop("timestamp").replace("x", "2019-10-16T08:12:01Z")
    assert normalise(body).event_time == datetime(2019, 10, 16, 8, 12, 1, tzinfo=UTC)


def test_no_answer_with_a_space_is_normalised():
    body = vss("NO ANSWER")
    body["payload"]["details"]["callA"]["callStatus"] = "NO ANSWER"
    event = normalise(body)
    assert event.session_status == "NO_ANSWER"
    assert event.legs[0].status == "NO_ANSWER"
    assert event.unknown_values == ()


def test_error_on_a_leg_is_accepted():
    event = normalise(vss("ERROR", errorDetails={"errorCode": -2004, "errorMsg": "No coverage"}))
    assert event.legs[0].status == "ERROR"
    assert event.unknown_values == ()


def test_unknown_enum_values_are_kept_and_reported():
    body = vss("HALF_DONE")
    body["payload"]["details"]["callA"]["callStatus"] = "MYSTERY"
    event = normalise(body)
    assert event.session_status == "HALF_DONE"
    assert event.legs[0].status == "MYSTERY"
    assert set(event.unknown_values) == {"sessionStatus=HALF_DONE", "leg callStatus=MYSTERY"}


def test_legs_are_ordered_by_initiated_time_not_position():
    event = normalise(fixture("vss_nm_callb_first.json"))
    assert [leg.leg_key for leg in event.legs] == ["callA", "callB"]
    assert [leg.direction for leg in event.legs] == ["INBOUND", "OUTBOUND"]
    assert event.legs[0].destination_ref_id == "vn-ref-1"


@pytest.mark.parametrize(
    ("payload_extra", "expected"),
    [
        ({"eventData": {"dtmf": "3", "asrCaptured": None}}, "3"),  # 1. eventData.dtmf
        ({"dtmf": "3"}, "3"),  # 2. flat payload.dtmf
        ({"eventData": "1"}, "1"),  # 3. eventData as a plain string ("V2")
        ({"eventData": " "}, None),  # the VCS example's blank eventData is no DTMF
    ],
)
def test_dtmf_in_its_places(payload_extra, expected):
    body = vcs("DTMF_RECEIVED", "2024-05-16T04:12:11.217Z", **payload_extra)
    body["eventType"] = "CALL_ACTION"
    event = normalise(body)
    assert event.kind == "CALL_ACTION"
    assert event.dtmf == expected


def test_legacy_call_handle_flat_with_numeric_dtmf_and_sip_status():
    event = normalise(fixture("legacy_call_handle.json"))
    assert event.legacy
    assert event.kind == "CALL_STATUS"
    assert event.call_status == "DTMF_RECEIVED"
    assert event.dtmf == "787"  # 4. legacy root number
    assert event.sip_code == 200
    assert event.leg.direction == "INBOUND"  # direction 0
    assert (event.leg.source, event.leg.destination) == ("6512345678", "6587654321")
    assert event.unknown_values == ()


def test_legacy_aggregated_call_status_maps_to_a_summary():
    event = normalise(fixture("legacy_aggregated_status_voip_callb_first.json"))
    assert event.legacy
    assert event.kind == "SESSION_SUMMARY"
    assert event.session_status == "COMPLETED"  # "Completed"
    assert [leg.direction for leg in event.legs] == ["INBOUND", "OUTBOUND"]  # 0 / 1
    assert event.legs[1].destination == "+6587654321"  # target
    assert event.legs[1].call_type == "VOIP"  # "VoIP"
    assert event.legs[1].duration_seconds == 30


def test_legacy_dtmf_callback():
    event = normalise(fixture("legacy_dtmf_callback_two_digits.json"))
    assert (event.kind, event.dtmf, event.session_id) == ("CALL_ACTION", "42", "D2C9E6A0-1F2B-4C3D-8E9F-0A1B2C3D4E5F")
    assert event.client_request_id == "req-1"


def test_error_details_with_extra_keys_and_client_ids():
    body = vss(
        "ERROR",
        errorDetails={"callFlowRequestId": "x", "action": "SAY_AND_CAPTURE", "errorMsg": "Bad", "errorCode": -2003},
    )
    body["payload"].update(clientRequestId="Request-Id-1200", clientBatchId="batch-7")
    event = normalise(body)
    assert (event.error_code, event.error_message) == (-2003, "Bad")
    assert (event.client_request_id, event.client_batch_id) == ("Request-Id-1200", "batch-7")


def test_ivr_version_and_missing_connected_timestamp():
    body = vss("BUSY", version=5)
    del body["payload"]["details"]["callA"]["connectedTimestamp"]
    event = normalise(body)
    assert event.version == 5
    assert event.legs[0].connected_at is None


def test_old_vcs_shape_with_null_placeholders():
    body = vcs(
        "CALL_INITIATED", "2019-10-16T08:12:01Z", sourceRefId="null", destinationCountryCode=None, callDuration="0"
    )
    event = normalise(body)
    assert event.leg.source_ref_id == ""
    assert event.leg.destination_country == ""
    assert event.leg.duration_seconds == 0


def test_recording_and_virtual_number_events():
    vru = {
        "namespace": "VOICE",
        "eventType": "CALL_RECORDING_STATUS",
        "payload": {"sessionId": SESSION, "recordingId": "r", "status": "UPLOAD_COMPLETED"},
    }
    vnu = {
        "namespace": "VOICE",
        "eventType": "VIRTUAL_NUMBER_UPDATE",
        "payload": {"subAccountId": "acme", "virtualNumbers": []},
    }
    assert normalise(vru).session_id == SESSION
    assert (normalise(vnu).kind, normalise(vnu).session_id) == ("VIRTUAL_NUMBER_UPDATE", "")


def test_unknown_event_type_with_a_session_is_kept_and_flagged():
    event = normalise({"eventType": "CALL_TRANSCRIPT", "payload": {"sessionId": SESSION}})
    assert (event.kind, event.unknown_values) == ("UNKNOWN", ("eventType=CALL_TRANSCRIPT",))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "not an object"),
        ({"foo": "bar"}, "no eventType"),
        ({"eventType": "CALL_TRANSCRIPT", "payload": {}}, "no sessionId"),
        ({"eventType": "CALL_STATUS", "payload": {"callId": CALL_A}}, "without a sessionId"),
        ({"eventType": "SESSION_SUMMARY", "payload": {"sessionId": SESSION, "details": []}}, "not a map"),
        ({"eventType": "CALL_STATUS", "payload": {"sessionId": SESSION, "timestamp": "yesterday"}}, "ISO 8601"),
    ],
)
def test_bodies_that_cannot_be_understood_raise_with_a_reason(body, reason):
    with pytest.raises(NormaliseError, match=reason):
        normalise(body)
