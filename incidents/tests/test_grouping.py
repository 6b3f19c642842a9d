"""Grouping: which failing sessions become one incident, and when it opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from classify.models import Session
from incidents import fingerprint, grouping
from incidents.models import ActivityKind, Incident, State
from incidents.tests.helpers import failures

pytestmark = pytest.mark.django_db


def test_ten_platform_failures_of_one_fingerprint_open_one_incident():
    failures(10, sub_account="acme_sg", country="SG")
    assert grouping.run() == 10
    incident = Incident.objects.get()
    assert incident.state == State.OPEN
    assert (incident.cause_kind, incident.cause, incident.fault_side) == ("sip", "503", "platform")
    assert (incident.sub_account_id, incident.country, incident.product) == ("acme_sg", "SG", "IVR")
    assert incident.sessions_count == 10
    assert incident.numbers_count == 1
    assert "503" in incident.title
    opened = incident.activity.get()
    assert opened.kind == ActivityKind.OPENED
    assert opened.actor is None
    assert "10 sessions in 15 min" in opened.text


def test_below_the_threshold_nothing_opens():
    failures(9)
    grouping.run()
    assert not Incident.objects.exists()


def test_the_threshold_is_a_setting(settings):
    settings.SIPDESK_INCIDENT_MIN_SESSIONS = 3
    failures(3)
    grouping.run()
    assert Incident.objects.count() == 1


def test_different_fingerprints_are_different_incidents():
    failures(10, sip_code=503, country="SG")
    failures(10, sip_code=503, country="MY")  # another country
    failures(10, sip_code=503, country="SG", sub_account="other")  # another sub-account
    failures(10, sip_code=404, country="SG")  # another cause
    failures(10, sip_code=503, country="SG", product="VOICE_MESSAGING")  # another product
    grouping.run()
    assert Incident.objects.count() == 5
    assert len(set(Incident.objects.values_list("fingerprint", flat=True))) == 5
    assert all(i.sessions_count == 10 for i in Incident.objects.all())


def test_five_and_five_of_different_countries_stay_below_the_threshold():
    failures(5, country="SG")
    failures(5, country="MY")
    grouping.run()
    assert not Incident.objects.exists()


def test_customer_side_outcomes_are_not_incidents():
    failures(12, sip_code=486, status="BUSY", fault_side="customer")
    failures(12, sip_code=603, fault_side="customer")
    grouping.run()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("side", ["platform", "network", "none"])
def test_every_side_but_the_customer_counts(side):
    failures(10, fault_side=side)
    grouping.run()
    assert Incident.objects.get().fault_side == side


def test_8x8_error_codes_group_too():
    from dashboard.tests.factories import make_session

    now = timezone.now()
    for i in range(10):
        make_session(
            status="ERROR", error_code=-2004, fault_side="platform", start=now - timedelta(minutes=3, seconds=i)
        )
    grouping.run()
    incident = Incident.objects.get()
    assert (incident.cause_kind, incident.cause) == ("error_code", "-2004")


def test_above_the_usual_share_only(settings):
    """A sub-account where this cause is always a large share of traffic does not open an incident
    for an ordinary quarter hour."""
    from dashboard.tests.factories import session_rollup

    now = timezone.now()
    # Usual: the last day, 50 failures of 60 sessions per hour (83 %).
    failures(50, minutes_ago=120, spread=1)
    session_rollup(now - timedelta(minutes=120), "FAILED", 60, size="hour")
    # Now: 10 of 20 sessions (50 %): not above usual.
    failures(10)
    session_rollup(now - timedelta(minutes=5), "FAILED", 20)
    grouping.run()
    assert not Incident.objects.exists()
    settings.SIPDESK_INCIDENT_SHARE_PERCENT = 50  # "above half of the usual share" opens it
    Session.objects.filter(start_time__gte=now - timedelta(minutes=15)).update(updated_at=timezone.now())
    grouping.run()
    assert Incident.objects.count() == 1


def test_updates_as_sessions_arrive_and_a_second_run_reads_nothing_twice():
    failures(10)
    grouping.run()
    failures(4, minutes_ago=1)
    grouping.run()
    incident = Incident.objects.get()
    assert incident.sessions_count == 14
    grouping.run()
    assert Incident.objects.get().sessions_count == 14
    assert incident.activity.count() == 1  # opened once


def test_old_sessions_touched_by_a_reclassify_do_not_open_incidents():
    failures(20, minutes_ago=180)
    grouping.run()
    assert not Incident.objects.exists()


def test_fingerprint_explains_itself():
    s = failures(1, country="SG")[0]
    fp = fingerprint.for_session(s)
    assert fp.explain() == [
        ("cause", "SIP 503"),
        ("fault side", "platform"),
        ("sub-account", "acme_sg"),
        ("destination country", "SG"),
        ("product", "IVR"),
    ]
    assert fp.key == fingerprint.for_session(Session.objects.get(pk=s.pk)).key
    assert list(fp.sessions()) == [s]


def test_open_for_alert_opens_even_customer_side_incidents():
    s = failures(2, sip_code=486, status="BUSY", fault_side="customer")[0]
    incident = grouping.open_for_alert(fingerprint.for_session(s), rule="busy spike")
    assert incident.state == State.OPEN
    assert incident.opened_by_rule == "busy spike"
    assert incident.sessions_count == 2
    assert "busy spike" in incident.activity.get().text
    # Firing again does not open a second one.
    assert grouping.open_for_alert(fingerprint.for_session(s), rule="busy spike").pk == incident.pk
    assert Incident.objects.count() == 1


def test_hostile_values_in_the_fingerprint():
    failures(10, sub_account="a/../\u00e9" + "x" * 50, country="S'G")
    grouping.run()
    incident = Incident.objects.get()
    assert incident.sessions_count == 10


def test_one_failing_group_does_not_stall_the_others(monkeypatch):
    from django.db import DataError

    failures(10, sip_code=503)
    failures(10, sip_code=404)
    real_touch = grouping.touch

    def touch(fp, *args, **kwargs):
        if fp.cause == "503":
            raise DataError("simulated")
        return real_touch(fp, *args, **kwargs)

    monkeypatch.setattr(grouping, "touch", touch)
    assert grouping.run() == 20
    assert list(Incident.objects.values_list("cause", flat=True)) == ["404"]


def test_a_backlog_larger_than_a_run_sharing_one_stamp_is_read_once(monkeypatch):
    """After a reclassify thousands of sessions can share one updated_at: the job must move on."""
    monkeypatch.setattr(grouping, "MAX_BATCHES_PER_RUN", 1)
    failures(12, sip_code=503)
    failures(3, sip_code=404)
    Session.objects.update(updated_at=timezone.now())
    reads = [grouping.run(batch=5) for _ in range(4)]
    assert reads == [5, 5, 5, 0]
    assert sorted(Incident.objects.values_list("cause", "sessions_count")) == [("503", 12)]
    # Caught up again: a later failure is read (with the few seconds of overlap before it).
    failures(10, sip_code=404, minutes_ago=3)
    for _ in range(6):
        grouping.run(batch=5)
    assert sorted(Incident.objects.values_list("cause", "sessions_count")) == [("404", 13), ("503", 12)]
