"""The in-memory reference the classifier reads."""

from __future__ import annotations

import pytest

from reference.models import SipClass, SipCode
from reference.snapshot import load_snapshot

pytestmark = pytest.mark.django_db


def test_known_code():
    info = load_snapshot().code(486)
    assert info.known
    assert (info.sip_class, info.reason_phrase, info.common_cause) == (4, "Busy Here", "Line in use")
    assert (info.retry_advice, info.responsibility) == ("retry_later", "callee")


def test_unknown_code_falls_back_to_its_class():
    info = load_snapshot().code(499)
    assert not info.known
    assert info.sip_class == 4
    assert info.retry_advice == "fix_request"
    assert info.responsibility == "configuration"
    assert info.description == "The request contains bad syntax or cannot be fulfilled by the server."
    assert "499" in info.explanation


def test_the_database_and_the_snapshot_fall_back_the_same_way():
    """Issue 11: one class fallback (reference), for pages and the classifier alike."""
    assert SipClass.objects.for_code(499).fallback_for(499) == load_snapshot().code(499)


@pytest.mark.parametrize("code", [0, 99, 700, 999, -1])
def test_invalid_codes_have_no_entry(code):
    assert load_snapshot().code(code) is None


def test_error_codes_statuses_and_troubleshooting():
    snapshot = load_snapshot()
    assert snapshot.error_code(-2004).message == "No coverage available for requested area"
    assert snapshot.error_code(-1234) is None
    assert "COMPLETED_UNSUBSCRIBED" in snapshot.session_statuses
    assert snapshot.session_level_only_leg_statuses == frozenset({"ERROR"})
    assert "ERROR" in snapshot.leg_statuses
    assert [t.issue for t in snapshot.troubleshooting_for(404)] == ["Invalid number format"]
    assert {t.issue for t in snapshot.troubleshooting_for(487)} == {"Call not connecting", "Call drops during ringing"}
    assert snapshot.troubleshooting_for(200) == ()


def test_snapshot_reflects_admin_edits():
    SipCode.objects.filter(code=486).update(explanation="Edited")
    assert load_snapshot().code(486).explanation == "Edited"
