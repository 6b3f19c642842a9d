"""The test factory's sessions are what the rules derive (issue 11): no copy of a rule to drift."""

from __future__ import annotations

import pytest

from dashboard.tests.factories import make_session

pytestmark = pytest.mark.django_db


def test_a_made_session_carries_what_the_rules_derive():
    s = make_session(status="FAILED", sip_code=503, legs=2, country="PH")
    assert (s.outcome_group, s.primary_cause, s.primary_cause_kind, s.primary_sip_code) == ("failed", "503", "sip", 503)
    assert (s.fault_side, s.retry_advice, s.responsibility) == ("network", "retry_with_backoff", "carrier_or_platform")
    assert (s.destination_country, s.direction, s.duration_seconds) == ("PH", "OUTBOUND", 30)
    assert [(leg.leg_key, leg.final_status, leg.final_sip_code) for leg in s.legs.all()] == [
        ("callA", "FAILED", 503),
        ("callB", "FAILED", 503),
    ]


def test_a_status_without_a_code_is_the_cause_and_the_product_is_the_tests_choice():
    s = make_session(status="NO_ANSWER", product="NUMBER_MASKING")
    assert (s.primary_cause, s.primary_cause_kind, s.fault_side) == ("NO_ANSWER", "status", "customer")
    assert (s.product, s.product_reason) == ("NUMBER_MASKING", "rule: sub-account acme_sg")
