"""The incident workflow in a real browser: failures arrive through the webhook endpoint and a
real Celery worker, the grouping job opens an incident, a support engineer acknowledges it,
notes it, copies the escalation summary, and a manager resolves it."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from classify.models import Session
from incidents import tasks
from incidents.models import Incident
from incidents.tests.helpers import failing_session_bodies
from tests.e2e.test_dashboard import post_webhook


def wait_until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    raise AssertionError("timed out")


def test_failures_open_an_incident_that_is_acknowledged_noted_escalated_and_resolved(
    page, live_server, login_as, support_user, celery_worker_process, screenshot
):
    support_user.groups.add(Group.objects.get(name="Incident managers"))
    now = timezone.now()
    session_ids = [str(uuid.uuid4()) for _ in range(10)]
    for i, session_id in enumerate(session_ids):
        for body in failing_session_bodies(session_id, start=now - timedelta(minutes=4, seconds=i)):
            assert post_webhook(live_server.url, body) == 200
    wait_until(lambda: Session.objects.filter(session_id__in=session_ids, status="FAILED").count() == 10)
    tasks.group_sessions.delay()  # what beat sends every 30 s, run by the real worker
    incident = wait_until(lambda: Incident.objects.first())

    login_as(page, support_user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    open_list = page.locator("#open-incidents")
    expect(open_list).to_contain_text("SIP 503")
    open_list.get_by_role("link", name=f"#{incident.pk}").click()

    expect(page.locator("h1")).to_contain_text(f"Incident #{incident.pk}")
    expect(page.locator(".grouped-by")).to_contain_text("sub-account acme_sg")
    expect(page.locator("#sessions-affected")).to_have_text("10")
    expect(page.locator("#incident-state")).to_have_text("Open")

    page.locator("#acknowledge").click()
    expect(page.locator("#incident-state")).to_have_text("Acknowledged")
    page.locator("#incident-note").fill("Only SG mobiles; opened 8x8 ticket CPAAS-123")
    page.locator("#add-incident-note").click()
    expect(page.locator("#activity")).to_contain_text("Only SG mobiles")

    page.locator("#incident-bundle").click()
    expect(page.locator("#numbers-mode")).to_have_text("masked")
    page.locator("#copy-summary").click()
    expect(page.locator("#copy-summary")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f"Incident #{incident.pk}" in copied
    assert all(session_id in copied for session_id in session_ids)
    assert "+6591234567" not in copied
    assert "+65 9•••• 4567" in copied

    page.go_back()
    page.reload()
    page.locator("#resolve-note").fill("8x8 fixed the SG route (CPAAS-123)")
    page.locator("#resolve").click()
    expect(page.locator("#incident-state")).to_have_text("Resolved")
    expect(page.locator("#activity")).to_contain_text("8x8 fixed the SG route")
    screenshot(page, "incident")
    kinds = list(Incident.objects.get().activity.values_list("kind", flat=True))
    assert kinds == ["opened", "acknowledged", "note", "resolved"]


def test_a_session_page_links_its_incident_and_takes_a_note(page, live_server, login_as, support_user):
    from incidents import grouping
    from incidents.tests.helpers import failures

    sessions = failures(10)
    grouping.run()
    incident = Incident.objects.get()
    login_as(page, support_user)
    page.goto(f"/sessions/{sessions[0].session_id}/")
    expect(page.locator("#session-incident")).to_contain_text(f"incident #{incident.pk}")
    page.locator("select[name=label]").select_option("customer_informed")
    page.locator("#session-note").fill("Told the customer we are on it")
    page.locator("#add-session-note").click()
    expect(page.locator("#notes")).to_contain_text("Customer informed")
    expect(page.locator("#notes")).to_contain_text("Told the customer we are on it")
    page.locator("#more-like-this").click()
    expect(page.locator("#results tbody tr")).to_have_count(10)


def test_a_half_typed_note_survives_the_live_refresh_of_an_in_progress_session(
    page, live_server, login_as, support_user, wait_for_htmx
):
    from dashboard.tests.factories import make_session

    s = make_session(status="IN_PROGRESS")
    login_as(page, support_user)
    page.goto(f"/sessions/{s.session_id}/")
    page.locator("#session-note").fill("Half a thought")
    with page.expect_response(lambda r: f"/sessions/{s.session_id}/" in r.url and r.request.headers.get("hx-request")):
        pass  # the page's own 3 s poll
    wait_for_htmx(page)
    expect(page.locator("#session-note")).to_have_value("Half a thought")
