"""The receiver and the classifier read a body's ids by one rule (webhooks/envelope.py)."""

from __future__ import annotations

import pytest

from classify.normalise import normalise
from webhooks.ingest import describe


@pytest.mark.parametrize("empty", ["null", "NULL", " None ", "nil", "undefined", "", "  "])
def test_an_empty_placeholder_session_id_is_empty_for_both_readers(empty):
    body = {
        "eventType": "CALL_STATUS",
        "payload": {"sessionId": empty, "callId": "c-1", "callStatus": "CALL_INITIATED"},
    }
    assert describe(body)[2] == ""
    with pytest.raises(Exception, match="without a sessionId"):
        normalise(body)


def test_payload_wins_over_root_and_keys_ignore_case_for_both_readers():
    body = {
        "eventType": "CALL_STATUS",
        "SessionId": "root-session",
        "payload": {"SESSIONID": "payload-session", "CallId": "c-1", "callStatus": "CALL_INITIATED"},
    }
    _, _, session_id, call_id, _ = describe(body)
    event = normalise(body)
    assert (session_id, call_id) == (event.session_id, event.call_id) == ("payload-session", "c-1")


def test_long_ids_are_cut_alike():
    long_id = "s" * 200
    body = {"eventType": "CALL_STATUS", "payload": {"sessionId": long_id, "callId": long_id}}
    _, _, session_id, call_id, _ = describe(body)
    event = normalise(body)
    assert (session_id, call_id) == (event.session_id, event.call_id) == (long_id[:64], long_id[:64])


def test_a_non_id_value_is_no_id_for_both_readers():
    body = {
        "eventType": "CALL_STATUS",
        "payload": {"sessionId": "s-1", "callId": 12345, "subAccountId": True, "callStatus": "CALL_INITIATED"},
    }
    _, _, _, call_id, sub_account_id = describe(body)
    event = normalise(body)
    assert (call_id, sub_account_id) == (event.call_id, event.sub_account_id) == ("12345", "")
