"""KPIs and time in a real browser: the zone cookie, "Copy link", a click through the chart."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from dashboard.tests.factories import make_session, session_rollup


def test_the_browser_zone_is_used_and_copy_link_freezes_the_window(browser, live_server, login_as, support_user):
    context = browser.new_context(
        base_url=live_server.url, timezone_id="Asia/Singapore", viewport={"width": 1400, "height": 900}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        login_as(page, support_user)
        page.goto("/?window=15m")
        # static/js/localtime.js tells the server the zone; the next page is rendered in it.
        assert any(c["name"] == "sipdesk_tz" and c["value"] == "Asia/Singapore" for c in context.cookies())
        page.reload()
        expect(page.locator(".zone strong")).to_have_text("Asia/Singapore")

        link = page.locator("a[data-copy-link]")
        link.click()
        expect(link).to_have_text("Link copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert re.search(r"/\?start=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ&end=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", copied)
        assert page.url.endswith("/?window=15m")  # copied, not followed
        page.goto(copied)
        expect(page.locator(".windows a.active")).to_have_count(0)  # an absolute range, no "last …"
    finally:
        context.close()


def test_a_bar_of_the_outcome_chart_opens_its_sessions(page, login_as, support_user):
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=6)
    failed = make_session(status="FAILED", sip_code=503, start=minute + timedelta(seconds=10))
    make_session(status="COMPLETED", start=minute + timedelta(seconds=20))
    session_rollup(minute, "FAILED", 1)
    session_rollup(minute, "COMPLETED", 1)
    login_as(page, support_user)
    page.goto("/?window=15m")
    page.locator('svg.chart a[href*="outcome=failed"]').first.click()
    expect(page).to_have_url(re.compile(r"/sessions/\?start=.+&end=.+&outcome=failed"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator(f'#results a[href="/sessions/{failed.session_id}/"]')).to_have_count(1)


def test_the_kpi_page_defines_each_kpi_on_hover(page, login_as, support_user):
    session_rollup(timezone.now() - timedelta(minutes=5), "COMPLETED", 3)
    login_as(page, support_user)
    page.goto("/kpis/?window=1h")
    expect(page.locator(".kpis abbr", has_text="NER")).to_have_attribute("title", re.compile("RFC 6076"))
    expect(page.locator(".kpi-asr")).to_contain_text("3 of 3")
    expect(page.locator(".kpi-asr")).to_have_class(re.compile(r"\blow\b"))  # 3 < 100 sessions
