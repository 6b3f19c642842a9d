"""Incidents and notes outlive ``reclassify``, which deletes and rebuilds every session row."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from classify.models import Session
from classify.tests.helpers import drain, store
from incidents import grouping, workflow
from incidents.models import Incident, State
from incidents.tests.helpers import failing_session_bodies
from notes.models import SessionNote

pytestmark = pytest.mark.django_db


def test_real_failures_open_an_incident_and_it_and_the_notes_survive_reclassify(client, support_user):
    now = timezone.now()
    for i in range(10):
        for body in failing_session_bodies(f"sess-{i:02d}", start=now - timedelta(minutes=3, seconds=i)):
            store(body)
    drain()
    assert Session.objects.filter(fault_side="network", primary_cause="503").count() == 10
    grouping.run()
    incident = Incident.objects.get()
    assert (incident.cause, incident.country, incident.sessions_count) == ("503", "SG", 10)
    workflow.acknowledge(incident, support_user)

    client.force_login(support_user)
    response = client.post(
        reverse("notes:add"),
        {"session_id": "sess-03", "label": "escalated", "text": "Sent to 8x8", "ticket": "CPAAS-1"},
    )
    assert response.status_code == 302
    old_pk = Session.objects.get(session_id="sess-03").pk

    call_command("reclassify", stdout=StringIO())
    assert Session.objects.get(session_id="sess-03").pk != old_pk  # rebuilt rows
    grouping.run()
    incident.refresh_from_db()
    assert Incident.objects.count() == 1
    assert incident.sessions_count == 10
    assert incident.state == State.ACKNOWLEDGED
    body = client.get(reverse("dashboard:session", args=["sess-03"])).content.decode()
    assert "Sent to 8x8" in body
    assert "Escalated to 8x8" in body
    assert "CPAAS-1" in body
    assert f'href="{reverse("incidents:detail", args=[incident.pk])}"' in body
    assert SessionNote.objects.get().session_id == "sess-03"
