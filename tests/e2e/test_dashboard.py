"""The support engineer's incident minute, in a real browser against a real receiver and worker."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from playwright.sync_api import expect

from dashboard.tests.factories import code_rollup, make_event, make_session, session_rollup

SECRET = "test-webhook-secret"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def busy_session_webhooks(session_id: str) -> list[dict]:
    """A VCS initiate, a VCS disconnect with 486, then the VSS saying BUSY."""
    call_id, start = str(uuid.uuid4()), datetime.now(UTC) - timedelta(seconds=20)
    leg = {
        "callId": call_id, "sessionId": session_id, "subAccountId": "acme_sg", "callDirection": "OUTBOUND",
        "callType": "PSTN", "source": "+6568332048", "destination": "+6591234567", "sourceFormat": "MSISDN",
        "destinationFormat": "MSISDN", "sourceCountryCode": "SG", "destinationCountryCode": "SG",
    }  # fmt: skip

    def vcs(status: str, sip: int, when: datetime) -> dict:
        payload = {**leg, "eventId": str(uuid.uuid4()), "callStatus": status, "callDuration": 0, "sipCode": sip}
        return {"namespace": "VOICE", "eventType": "CALL_STATUS", "payload": {**payload, "timestamp": _stamp(when)}}

    vss_leg = {k: v for k, v in leg.items() if k not in ("sessionId", "subAccountId")}
    vss = {
        "namespace": "VOICE",
        "eventType": "SESSION_SUMMARY",
        "payload": {
            "sessionId": session_id, "subAccountId": "acme_sg", "sessionStatus": "BUSY",
            "startTime": _stamp(start)[:19] + "Z", "endTime": _stamp(start + timedelta(seconds=8))[:19] + "Z",
            "lastAction": "MAKE_CALL", "callCount": 1,
            "details": {"callA": {
                **vss_leg, "initiatedTimestamp": _stamp(start)[:19] + "Z",
                "disconnectedTimestamp": _stamp(start + timedelta(seconds=8))[:19] + "Z",
                "callStatus": "BUSY", "callDuration": 0,
            }},
        },
    }  # fmt: skip
    return [vcs("CALL_INITIATED", 200, start), vcs("CALL_DISCONNECTED", 486, start + timedelta(seconds=8)), vss]


def post_webhook(base_url: str, body: dict) -> int:
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{base_url}/webhooks/8x8/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status


def test_a_failing_session_appears_in_the_live_feed_without_reload(
    page, live_server, login_as, support_user, celery_worker_process, wait_for_htmx, screenshot
):
    session_rollup(timezone.now() - timedelta(minutes=2), "COMPLETED", 12)
    login_as(page, support_user)
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Overview")
    page.evaluate("window.__noReload = true")

    session_id = str(uuid.uuid4())
    for body in busy_session_webhooks(session_id):
        assert post_webhook(live_server.url, body) == 200

    row = page.locator("#feed-rows li", has=page.locator(f'a[href="/sessions/{session_id}/"]'))
    expect(row).to_contain_text("BUSY", timeout=30_000)
    expect(row).to_contain_text("486")
    expect(row).to_contain_text("+65 9•••• 4567")  # masked for a support user
    assert page.evaluate("window.__noReload") is True  # same document: no reload happened
    expect(page.locator(f'#feed-rows a[href="/sessions/{session_id}/"]')).to_have_count(1)
    wait_for_htmx(page)
    screenshot(page, "overview")

    row.locator("a").click()
    expect(page.locator("#primary-cause")).to_contain_text("Busy Here")
    screenshot(page, "session")


def test_filtering_sessions_by_sip_code_updates_the_list_and_the_url(page, login_as, support_user, screenshot):
    busy = make_session(status="BUSY", sip_code=486)
    failed = make_session(status="FAILED", sip_code=503)
    make_session(status="COMPLETED")
    login_as(page, support_user)
    page.goto("/sessions/")
    expect(page.locator("#results tbody tr")).to_have_count(3)

    page.fill("input[name=sip_code]", "486")
    page.press("input[name=sip_code]", "Enter")

    expect(page).to_have_url(re.compile(r"sip_code=486"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator(f'#results a[href="/sessions/{busy.session_id}/"]')).to_have_count(1)
    expect(page.locator(f'#results a[href="/sessions/{failed.session_id}/"]')).to_have_count(0)
    screenshot(page, "sessions")

    page.reload()  # the URL alone reproduces the view (shareable)
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("input[name=sip_code]")).to_have_value("486")


def test_a_session_page_explains_the_primary_cause_and_the_guidance(page, login_as, support_user):
    s = make_session(status="FAILED", sip_code=503, legs=2)
    make_event(s, call_status="CALL_DISCONNECTED", sip_code=503)
    login_as(page, support_user)
    page.goto(f"/sessions/{s.session_id}/")
    expect(page.locator("#primary-cause")).to_contain_text("SIP 503 Service Unavailable")
    expect(page.locator("#primary-cause")).to_contain_text("Retry with exponential backoff")
    expect(page.locator("#guidance")).to_contain_text("Network/routing issues")
    page.locator("details summary").first.click()
    expect(page.locator("details pre").first).to_contain_text('"callStatus": "CALL_DISCONNECTED"')
    # Times are rewritten to the viewer's zone; UTC stays on hover.
    expect(page.locator("time[data-local]").first).to_have_attribute("title", re.compile(r"UTC$"))


def test_an_admin_edit_to_a_code_reaches_the_support_engineer(page, login_as, editor_user, support_user):
    s = make_session(status="BUSY", sip_code=486)
    login_as(page, editor_user)
    page.goto("/admin/reference/sipcode/486/change/")
    page.fill("textarea[name=explanation]", "The customer's phone was busy — ask them to call back in 5 minutes.")
    page.click("input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/reference/sipcode/$"))

    page.context.clear_cookies()
    login_as(page, support_user)
    page.goto(f"/sessions/{s.session_id}/")
    expect(page.locator("#primary-cause")).to_contain_text("ask them to call back in 5 minutes")


def test_screenshots_of_codes_troubleshooting_and_reference(page, login_as, support_user, editor_user, screenshot):
    now = timezone.now()
    for code, count, country in (
        ("200", 240, "SG"),
        ("486", 41, "SG"),
        ("480", 17, "LK"),
        ("503", 22, "ID"),
        ("499", 3, "SG"),
    ):
        code_rollup(now - timedelta(minutes=20), code, count, destination_country=country)
    login_as(page, support_user)
    page.goto("/codes/?window=1h")
    expect(page.locator("#unknown-codes")).to_contain_text("499")
    screenshot(page, "codes")
    page.goto("/troubleshooting/?window=1h")
    expect(page.locator("#troubleshooting-body")).to_contain_text("Network/routing issues")
    screenshot(page, "troubleshooting")
    page.goto("/reference/")
    page.fill("#q", "busy")
    expect(page).to_have_url(re.compile(r"q=busy"))
    expect(page.locator("#reference-results")).to_contain_text("Busy Here")
    screenshot(page, "reference")


def test_sessions_with_ids_a_browser_would_rewrite_open_from_their_links(page, login_as, support_user):
    """Issue 9 #3 in a real browser: Chromium resolves '..' and '.' path segments before sending the
    request, so such ids are linked by primary key; ids with '/', '?', '#' or '%' keep their own URL."""
    odd = ["a/../b", "..", "acme/42", "q?x=1#frag", "per%cent", "<b>bold</b>"]
    for session_id in odd:
        make_session(status="BUSY", sip_code=486, session_id=session_id)
    login_as(page, support_user)
    for session_id in odd:
        page.goto("/sessions/?range=all")
        page.locator("#results tbody tr", has_text=session_id[:13]).locator("a.mono").first.click()
        expect(page.locator("h1")).to_contain_text(session_id)
