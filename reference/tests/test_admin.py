"""The reference admin: editors change text and the log shows the diff; nobody else can."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.test import Client

from reference.models import SipCode, TroubleshootingEntry

pytestmark = pytest.mark.django_db

CHANGE_486 = "/admin/reference/sipcode/486/change/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sip_code_form(row: SipCode, **changes: str) -> dict[str, str]:
    data = {
        "sip_class": str(row.sip_class_id),
        "reason_phrase": row.reason_phrase,
        "description": row.description,
        "common_cause": row.common_cause,
        "retry_advice": row.retry_advice,
        "responsibility": row.responsibility,
        "explanation": row.explanation,
    }
    data.update(changes)
    return data


def test_editor_changes_a_description_and_the_log_shows_the_diff(editor_user):
    client = logged_in(editor_user)
    busy = SipCode.objects.get(code=486)
    old = busy.description

    response = client.post(
        CHANGE_486, sip_code_form(busy, description="The callee is on another call.", retry_advice="do_not_retry")
    )

    assert response.status_code == 302
    busy.refresh_from_db()
    assert busy.description == "The callee is on another call."
    assert busy.retry_advice == "do_not_retry"
    entry = LogEntry.objects.get(object_id="486", action_flag=CHANGE)
    assert entry.user == editor_user
    assert entry.get_change_message() == (
        f'Changed description: "{old}" → "The callee is on another call."; '
        'changed retry advice: "retry_later" → "do_not_retry".'
    )

    history = client.get("/admin/reference/sipcode/486/history/")
    assert history.status_code == 200
    assert "→ &quot;The callee is on another call.&quot;" in history.content.decode()
    assert "editor" in history.content.decode()


def test_an_unchanged_save_logs_no_diff(editor_user):
    busy = SipCode.objects.get(code=486)
    logged_in(editor_user).post(CHANGE_486, sip_code_form(busy))
    assert LogEntry.objects.get(object_id="486").get_change_message() == "No fields changed."


def test_troubleshooting_code_links_are_logged_as_lists(editor_user):
    entry = TroubleshootingEntry.objects.get(issue="Invalid number format")
    url = f"/admin/reference/troubleshootingentry/{entry.pk}/change/"
    data = {
        "issue": entry.issue,
        "action": entry.action,
        "position": entry.position,
        "sip_codes": ["404", "484", "410"],
    }

    response = logged_in(editor_user).post(url, data)

    assert response.status_code == 302
    assert sorted(entry.sip_codes.values_list("code", flat=True)) == [404, 410, 484]
    message = LogEntry.objects.get(object_id=str(entry.pk)).get_change_message()
    assert message == 'Changed sip codes: "404, 484" → "404, 410, 484".'


def test_the_code_cannot_be_renumbered_in_the_change_form(editor_user):
    busy = SipCode.objects.get(code=486)
    logged_in(editor_user).post(CHANGE_486, sip_code_form(busy, code="999"))
    assert SipCode.objects.filter(code=486).exists()
    assert not SipCode.objects.filter(code=999).exists()


def test_editor_can_add_a_code_8x8_starts_sending(editor_user):
    data = {
        "code": "499",
        "sip_class": "4",
        "reason_phrase": "Client Closed Request",
        "description": "Seen from a carrier",
        "common_cause": "",
        "retry_advice": "retry_later",
        "responsibility": "carrier_or_platform",
        "explanation": "A carrier-specific code.",
    }
    response = logged_in(editor_user).post("/admin/reference/sipcode/add/", data)
    assert response.status_code == 302
    assert SipCode.objects.get(code=499).reason_phrase == "Client Closed Request"


def test_editor_cannot_delete(editor_user):
    response = logged_in(editor_user).post("/admin/reference/sipcode/486/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert SipCode.objects.filter(code=486).exists()


def test_support_user_is_not_let_into_the_admin(support_user):
    # The Support group holds view permissions for the dashboard, but its users are not staff.
    response = logged_in(support_user).get(CHANGE_486)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_support_staff_may_view_but_not_change(support_user):
    support_user.is_staff = True
    support_user.save()
    client = logged_in(support_user)
    busy = SipCode.objects.get(code=486)

    page = client.get(CHANGE_486)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # read-only view

    response = client.post(CHANGE_486, sip_code_form(busy, description="Not allowed"))
    assert response.status_code == 403
    assert SipCode.objects.get(code=486).description == busy.description
    assert not LogEntry.objects.exists()


def test_anonymous_is_redirected_to_the_admin_login(client):
    response = client.get(CHANGE_486)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={CHANGE_486}"
    assert client.post(CHANGE_486, {"description": "x"}).status_code == 302


def test_changelist_search(editor_user):
    client = logged_in(editor_user)

    by_code = client.get("/admin/reference/sipcode/", {"q": "486"})
    assert [c.code for c in by_code.context["cl"].result_list] == [486]

    by_word = client.get("/admin/reference/sipcode/", {"q": "busy"})
    assert [c.code for c in by_word.context["cl"].result_list] == [486, 600]

    by_cause = client.get("/admin/reference/sipcode/", {"q": "codec"})
    assert {c.code for c in by_cause.context["cl"].result_list} >= {415, 488}


def test_changelist_filters_by_class_and_retry_advice(editor_user):
    client = logged_in(editor_user)
    fivexx = client.get("/admin/reference/sipcode/", {"sip_class__digit__exact": "5"})
    assert [c.code for c in fivexx.context["cl"].result_list] == [500, 501, 502, 503, 504, 505, 513, 555, 580]
    later = client.get(
        "/admin/reference/sipcode/", {"retry_advice__exact": "retry_later", "sip_class__digit__exact": "4"}
    )
    assert [c.code for c in later.context["cl"].result_list] == [408, 430, 480, 486, 487, 491]


@pytest.mark.parametrize(
    "model",
    ["sipclass", "sipcode", "sessionstatus", "legstatus", "voiceerrorcode", "troubleshootingentry", "bestpractice"],
)
def test_every_reference_changelist_renders(editor_user, model):
    response = logged_in(editor_user).get(f"/admin/reference/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


def test_admin_index_names_the_app_reference_data(editor_user):
    response = logged_in(editor_user).get("/admin/")
    assert "Reference data" in response.content.decode()
