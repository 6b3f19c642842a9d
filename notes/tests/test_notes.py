"""Notes on sessions: append-only, keyed by 8x8's session id, shown and filterable."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from dashboard.tests.factories import make_session
from notes.models import AppendOnlyError, SessionNote

pytestmark = pytest.mark.django_db


def add(client, session_id: str, text: str, label: str = "note", ticket: str = ""):
    return client.post(reverse("notes:add"), {"session_id": session_id, "text": text, "label": label, "ticket": ticket})


def test_support_adds_notes_that_show_on_the_session_page(client, support_user):
    s = make_session(status="FAILED", sip_code=503)
    client.force_login(support_user)
    response = add(client, s.session_id, "Customer informed by phone", "customer_informed", "T-77")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/sessions/{s.session_id}/#notes")
    add(client, s.session_id, "Second <b>note</b>")
    body = client.get(reverse("dashboard:session", args=[s.session_id])).content.decode()
    assert body.index("Customer informed by phone") < body.index("Second &lt;b&gt;note&lt;/b&gt;")
    assert "T-77" in body
    assert "support" in body


def test_notes_are_append_only():
    note = SessionNote.objects.create(session_id="s1", text="first")
    note.text = "rewritten"
    with pytest.raises(AppendOnlyError):
        note.save()
    assert SessionNote.objects.get().text == "first"


def test_hostile_input_is_stored_safely_or_refused(client, support_user):
    client.force_login(support_user)
    assert add(client, "a/../b", "x" * 10000 + "\x00", "not-a-label").status_code == 302
    note = SessionNote.objects.get()
    assert note.session_id == "a/../b"
    assert note.label == "note"
    assert len(note.text) == 5000
    assert "\x00" not in note.text
    assert add(client, "", "no session").status_code == 302
    assert add(client, "s2", "   ").status_code == 302
    assert SessionNote.objects.count() == 1


def test_without_the_permission_no_note_and_no_form(client):
    s = make_session(status="FAILED", sip_code=503)
    viewer = User.objects.create_user("viewer", password="viewer-pass-123")
    client.force_login(viewer)
    assert add(client, s.session_id, "sneaky").status_code == 403
    assert not SessionNote.objects.exists()


def test_sessions_list_filters_by_note_and_label(client, support_user):
    noted = make_session(status="FAILED", sip_code=503)
    escalated = make_session(status="FAILED", sip_code=503)
    plain = make_session(status="FAILED", sip_code=503)
    SessionNote.objects.create(session_id=noted.session_id, text="n", label="note")
    SessionNote.objects.create(session_id=escalated.session_id, text="e", label="escalated")
    client.force_login(support_user)

    def listed(**params) -> set[str]:
        body = client.get(reverse("dashboard:sessions"), params).content.decode()
        return {s.session_id for s in (noted, escalated, plain) if f"/sessions/{s.session_id}/" in body}

    assert listed() == {noted.session_id, escalated.session_id, plain.session_id}
    assert listed(note="any") == {noted.session_id, escalated.session_id}
    assert listed(note="escalated") == {escalated.session_id}
    # An unknown label is an error beside its field (dashboard/forms.py), not a silently dropped filter.
    assert listed(note="bogus") == set()
