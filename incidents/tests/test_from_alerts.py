"""A firing alert opens incidents for the failing sessions it saw, customer side included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.evaluate import evaluate_all
from alerts.tests.helpers import NOW, roll, rule
from dashboard.tests.factories import make_session
from incidents.grouping import run as run_grouping
from incidents.models import Incident

pytestmark = pytest.mark.django_db


def busy_sessions(n: int, *, sub: str = "acme_sg") -> None:
    for _ in range(n):
        make_session(
            status="BUSY", sip_code=486, sub_account=sub, start=NOW - timedelta(minutes=2),
            fault_side="customer", destination_country="SG",
        )  # fmt: skip


def test_a_fired_sip_code_alert_opens_an_incident_for_its_busy_sessions():
    busy_sessions(12)
    busy_sessions(2, sub="other_sub")  # outside the rule's scope
    roll(12, "not_answered", sip=486, minutes_ago=2)
    roll(8, "answered", minutes_ago=2)
    rule("486 spike", metric="sip_code_share", sip_code=486, sub_account="acme_sg", threshold=0.3, min_sessions=10)

    run_grouping(now=NOW)
    assert not Incident.objects.exists()  # busy signals alone are never an incident

    evaluate_all(now=NOW)
    incident = Incident.objects.get()
    assert (incident.cause, incident.fault_side, incident.sub_account_id) == ("486", "customer", "acme_sg")
    assert incident.opened_by_rule == "486 spike"
    assert incident.sessions_count == 12


def test_a_volume_alert_opens_no_incident():
    busy_sessions(3)
    rule("quiet", metric="volume", comparison="below", threshold=100, min_sessions=0)
    evaluate_all(now=NOW)
    assert not Incident.objects.exists()
