"""Raw events are visible in the admin, pretty-printed and escaped, and cannot be edited there."""

from __future__ import annotations

import pytest

from webhooks.models import RawEvent
from webhooks.tests.conftest import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(client) -> RawEvent:
    post(
        client,
        {"eventType": "CALL_STATUS", "payload": {"eventId": "e-1", "sessionId": "s-1", "note": "<script>x</script>"}},
    )
    return RawEvent.objects.get()


def test_admin_lists_and_searches_raw_events(client, superuser, event):
    client.force_login(superuser)

    listing = client.get("/admin/webhooks/rawevent/", {"q": "s-1", "event_type__exact": "CALL_STATUS"})
    assert listing.status_code == 200
    assert b"e-1" in listing.content or b"s-1" in listing.content
    assert b"Add raw event" not in listing.content


def test_admin_detail_pretty_prints_the_escaped_body(client, superuser, event):
    client.force_login(superuser)

    page = client.get(f"/admin/webhooks/rawevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b"&lt;script&gt;x&lt;/script&gt;" in page.content
    assert b"<script>x</script>" not in page.content
    assert b'"eventType": "CALL_STATUS"' in page.content or b"&quot;eventType&quot;" in page.content


def test_admin_cannot_add_change_or_delete(client, superuser, event):
    client.force_login(superuser)

    assert client.get("/admin/webhooks/rawevent/add/").status_code == 403
    assert client.post(f"/admin/webhooks/rawevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(f"/admin/webhooks/rawevent/{event.pk}/change/", {"state": "processed"})
    event.refresh_from_db()
    assert event.state == "pending"


def test_admin_masks_numbers_in_the_body_for_staff_without_the_number_permission(client, superuser, support_user):
    post(
        client, {"eventType": "CALL_STATUS", "payload": {"eventId": "e-2", "sessionId": "s-2", "source": "+6591234567"}}
    )
    event = RawEvent.objects.get(dedupe_key="CALL_STATUS:e-2")
    support_user.is_staff = True
    support_user.save()

    client.force_login(support_user)
    page = client.get(f"/admin/webhooks/rawevent/{event.pk}/change/").content.decode()
    assert "+65 9•••• 4567" in page
    assert "+6591234567" not in page

    client.force_login(superuser)
    assert "+6591234567" in client.get(f"/admin/webhooks/rawevent/{event.pk}/change/").content.decode()
