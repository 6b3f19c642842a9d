"""States: open → acknowledged → resolved → regressed; ignore until a date or a count; the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import grouping, workflow
from incidents.models import ActivityKind, Incident, State
from incidents.tests.helpers import failures

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident() -> Incident:
    failures(10)
    grouping.run()
    return Incident.objects.get()


def kinds(incident: Incident) -> list[str]:
    return list(incident.activity.values_list("kind", flat=True))


def test_acknowledge_resolve_regress(incident, support_user, manager_user):
    workflow.acknowledge(incident, support_user)
    incident.refresh_from_db()
    assert incident.state == State.ACKNOWLEDGED
    assert incident.acknowledged_by == support_user
    with pytest.raises(workflow.TransitionError):
        workflow.acknowledge(incident, support_user)
    with pytest.raises(workflow.TransitionError):
        workflow.resolve(incident, manager_user, "   ")
    workflow.resolve(incident, manager_user, "8x8 fixed their SBC in SG (ticket 123)")
    incident.refresh_from_db()
    assert incident.state == State.RESOLVED
    assert incident.resolved_by == manager_user
    assert incident.resolution_note.startswith("8x8 fixed")

    # A late session that started before the resolution is not a recurrence.
    failures(1, minutes_ago=4)
    grouping.run()
    incident.refresh_from_db()
    assert incident.state == State.RESOLVED

    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(minutes=2))
    failures(1, minutes_ago=1)
    grouping.run()
    incident.refresh_from_db()
    assert incident.state == State.REGRESSED
    assert incident.regressions == 1
    assert kinds(incident) == [
        ActivityKind.OPENED,
        ActivityKind.ACKNOWLEDGED,
        ActivityKind.RESOLVED,
        ActivityKind.REGRESSED,
    ]
    log = list(incident.activity.all())
    assert (log[1].actor, log[1].from_state, log[1].to_state) == (support_user, "open", "acknowledged")
    assert (log[2].actor, log[2].text) == (manager_user, "8x8 fixed their SBC in SG (ticket 123)")
    assert (log[3].actor, log[3].from_state, log[3].to_state) == (None, "resolved", "regressed")
    # A regressed incident is open again: it can be acknowledged.
    workflow.acknowledge(incident, support_user)


def test_ignore_until_a_count_reopens_at_that_count(incident, manager_user):
    workflow.ignore(incident, manager_user, more_sessions=5)
    incident.refresh_from_db()
    assert incident.state == State.IGNORED
    assert incident.ignored_until_sessions == 15
    failures(4, minutes_ago=1)
    grouping.run()
    incident.refresh_from_db()
    assert incident.state == State.IGNORED
    assert incident.sessions_count == 14
    failures(1, minutes_ago=0.5)
    grouping.run()
    incident.refresh_from_db()
    assert incident.state == State.OPEN
    assert incident.ignored_until_sessions is None
    assert kinds(incident)[-2:] == [ActivityKind.IGNORED, ActivityKind.REOPENED]
    assert "15 sessions" in incident.activity.last().text


def test_ignore_until_a_date_reopens_when_it_passes(incident, manager_user):
    with pytest.raises(workflow.TransitionError):
        workflow.ignore(incident, manager_user)
    with pytest.raises(workflow.TransitionError):
        workflow.ignore(incident, manager_user, until=timezone.now() - timedelta(minutes=1))
    workflow.ignore(incident, manager_user, until=timezone.now() + timedelta(hours=1))
    grouping.run()
    incident.refresh_from_db()
    assert incident.state == State.IGNORED
    grouping.run(now=timezone.now() + timedelta(hours=2))  # no new session needed
    incident.refresh_from_db()
    assert incident.state == State.OPEN
    assert incident.activity.last().text == "Reopened: the ignore period ended"


def test_assign_ticket_and_notes_are_logged(incident, support_user, manager_user, settings):
    workflow.assign(incident, manager_user, support_user)
    workflow.set_ticket(incident, manager_user, "CPAAS-4711\x00")
    workflow.add_note(incident, support_user, "Customer says only SG mobiles fail \ud800")
    with pytest.raises(workflow.TransitionError):
        workflow.add_note(incident, support_user, "")
    incident.refresh_from_db()
    assert incident.assignee == support_user
    assert incident.ticket == "CPAAS-4711"
    assert kinds(incident)[1:] == [ActivityKind.ASSIGNED, ActivityKind.TICKET, ActivityKind.NOTE]
    assert incident.activity.last().text.startswith("Customer says only SG mobiles fail")
    settings.SIPDESK_TICKET_URL_TEMPLATE = "https://support.example.com/t/{ticket}"
    assert workflow.ticket_url("A/B 1") == "https://support.example.com/t/A%2FB%201"


def test_open_first_ordering(incident, manager_user):
    failures(10, sip_code=404)
    grouping.run()
    workflow.resolve(incident, manager_user, "done")
    states = [i.state for i in Incident.objects.open_first()]
    assert states == [State.OPEN, State.RESOLVED]
