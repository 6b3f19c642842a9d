"""The incident pages: list, detail, actions and who may do what."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from incidents import grouping, workflow
from incidents.models import Incident, State
from incidents.tests.helpers import failures

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident() -> Incident:
    failures(10, destination="+6591234567")
    grouping.run()
    return Incident.objects.get()


def test_list_shows_open_first_with_filters(client, support_user, manager_user, incident):
    failures(10, sip_code=404, sub_account="beta")
    grouping.run()
    other = Incident.objects.exclude(pk=incident.pk).get()
    workflow.resolve(incident, manager_user, "fixed")
    client.force_login(support_user)
    body = client.get(reverse("incidents:list")).content.decode()
    assert body.index(other.title) < body.index(incident.title)
    body = client.get(reverse("incidents:list"), {"sub_account": "beta"}).content.decode()
    assert other.title in body
    assert incident.title not in body
    body = client.get(reverse("incidents:list"), {"state": "resolved"}).content.decode()
    assert incident.title in body
    assert other.title not in body
    workflow.assign(other, manager_user, support_user)
    body = client.get(reverse("incidents:list"), {"assignee": str(support_user.pk)}).content.decode()
    assert other.title in body
    assert incident.title not in body
    # Hostile filter values never fail the page.
    for params in ({"state": "x" * 10000}, {"assignee": "1'--"}, {"sub_account": "/.." + "x" * 100}, {"page": "-1"}):
        assert client.get(reverse("incidents:list"), params).status_code == 200
    assert client.get(reverse("incidents:list"), {"sub_account": "\x00/.."}).status_code == 400  # the NUL middleware


def test_detail_shows_the_grouping_chart_and_masked_numbers(client, support_user, incident):
    client.force_login(support_user)
    body = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Grouped by:" in body
    assert "sub-account <strong>acme_sg</strong>" in body
    assert "<svg" in body
    assert "+65 9•••• 4567" in body
    assert "+6591234567" not in body
    assert 'id="acknowledge"' in body  # Support may acknowledge
    assert 'id="resolve"' not in body  # but not resolve


def test_numbers_are_full_with_the_permission(client, numbers_user, incident):
    client.force_login(numbers_user)
    body = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "+6591234567" in body


def test_support_acknowledges_and_notes_but_cannot_resolve(client, support_user, incident):
    client.force_login(support_user)
    url = lambda action: reverse("incidents:action", args=[incident.pk, action])  # noqa: E731
    assert client.post(url("acknowledge")).status_code == 302
    assert client.post(url("note"), {"text": "Looking at it"}).status_code == 302
    assert client.post(url("resolve"), {"note": "x"}).status_code == 403
    assert client.post(url("ignore"), {"sessions": "5"}).status_code == 403
    assert client.post(url("assign"), {"assignee": str(support_user.pk)}).status_code == 403
    assert client.post(url("ticket"), {"ticket": "T-1"}).status_code == 403
    assert client.post(url("delete")).status_code == 403
    assert client.get(url("acknowledge")).status_code == 405
    incident.refresh_from_db()
    assert incident.state == State.ACKNOWLEDGED
    assert incident.acknowledged_by == support_user
    assert [a.kind for a in incident.activity.all()] == ["opened", "acknowledged", "note"]


def test_manager_resolves_ignores_assigns_and_sets_a_ticket(client, manager_user, support_user, incident, settings):
    settings.SIPDESK_TICKET_URL_TEMPLATE = "https://support.example.com/t/{ticket}"
    client.force_login(manager_user)
    url = lambda action: reverse("incidents:action", args=[incident.pk, action])  # noqa: E731
    client.post(url("assign"), {"assignee": str(support_user.pk)})
    client.post(url("ticket"), {"ticket": "CPAAS-9"})
    for not_a_date in ("not a date", "2026-13-45", "2026-02-30T10:00"):  # the last two are well formed
        response = client.post(url("ignore"), {"until": not_a_date}, follow=True)
        assert response.status_code == 200
        assert "is not a date" in response.content.decode()
    client.post(url("ignore"), {"until": "2999-01-01"})
    incident.refresh_from_db()
    assert incident.state == State.IGNORED
    assert incident.ignored_until.year == 2999
    response = client.post(url("resolve"), {"note": ""}, follow=True)
    assert "resolving needs a note" in response.content.decode()
    client.post(url("resolve"), {"note": "8x8 fixed routing"})
    incident.refresh_from_db()
    assert incident.state == State.RESOLVED
    assert incident.assignee == support_user
    body = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'href="https://support.example.com/t/CPAAS-9"' in body
    assert "8x8 fixed routing" in body


def test_a_user_without_permissions_sees_no_incidents(client, incident):
    nobody = User.objects.create_user("nobody", password="nobody-pass-123")
    client.force_login(nobody)
    assert client.get(reverse("incidents:list")).status_code == 403
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 403
    assert client.post(reverse("incidents:action", args=[incident.pk, "acknowledge"])).status_code == 403
    assert (
        reverse("incidents:list") not in client.get(reverse("dashboard:overview")).content.decode().split("<main>")[1]
    )


def test_anonymous_is_sent_to_login(client, incident):
    assert client.get(reverse("incidents:list")).status_code == 302
    assert client.post(reverse("incidents:action", args=[incident.pk, "acknowledge"])).status_code == 302


def test_overview_lists_open_incidents_and_the_session_page_links_its_incident(client, support_user, incident):
    client.force_login(support_user)
    body = client.get(reverse("dashboard:overview")).content.decode()
    assert 'id="open-incidents"' in body
    assert incident.title in body
    member = incident_member(incident)
    body = client.get(reverse("dashboard:session", args=[member.session_id])).content.decode()
    assert f'href="{reverse("incidents:detail", args=[incident.pk])}"' in body


def incident_member(incident):
    from incidents.grouping import fingerprint_of

    return fingerprint_of(incident).sessions(incident.first_seen, incident.last_seen).first()


def test_more_like_this_and_its_sessions_point_at_the_same_sessions(client, support_user, incident):
    from dashboard.tests.factories import make_session

    make_session(status="FAILED", sip_code=503, fault_side="platform", country="MY")  # another country
    client.force_login(support_user)
    member = incident_member(incident)
    body = client.get(reverse("dashboard:session", args=[member.session_id])).content.decode()
    import html
    import re

    more = html.unescape(re.search(r'href="([^"]+)" id="more-like-this"', body).group(1))
    listed = client.get(more).content.decode()
    assert listed.count('class="mono" href="/sessions/') == 10
    detail = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    its = html.unescape(re.search(r'href="([^"]+)" id="incident-sessions"', detail).group(1))
    listed = client.get(its).content.decode()
    assert listed.count('class="mono" href="/sessions/') == 10


def test_assigning_someone_who_does_not_exist_changes_nothing(client, manager_user, support_user, incident):
    workflow.assign(incident, manager_user, support_user)
    client.force_login(manager_user)
    for value in ("999999", "abc", "1" * 50):
        response = client.post(
            reverse("incidents:action", args=[incident.pk, "assign"]), {"assignee": value}, follow=True
        )
        assert "No such user" in response.content.decode()
    incident.refresh_from_db()
    assert incident.assignee == support_user
    client.post(reverse("incidents:action", args=[incident.pk, "assign"]), {"assignee": ""})
    incident.refresh_from_db()
    assert incident.assignee is None
