"""Pages a support engineer can trust on any screen: phone width, accessibility (axe-core), dark
mode, the live feed's controls, and the README's desktop and phone screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.tests.factories import code_rollup, make_event, make_session, session_rollup
from tests.e2e.conftest import SCREENSHOTS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
SERIOUS = ("serious", "critical")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def traffic(db) -> dict[str, str]:
    """A little of everything the pages show: tiles, chart, causes, feed, codes, a session with legs."""
    now = timezone.now()
    for minutes, status, n in ((5, "COMPLETED", 30), (6, "BUSY", 6), (7, "FAILED", 4), (70, "COMPLETED", 20)):
        session_rollup(now - timedelta(minutes=minutes), status, n)
    session_rollup(now - timedelta(hours=2), "COMPLETED", 5, size="hour")
    for code, n in (("200", 30), ("486", 6), ("503", 4), ("487", 2), ("499", 1)):
        code_rollup(now - timedelta(minutes=6), code, n)
    failed = make_session(
        status="FAILED", sip_code=503, legs=2, sub_account="Acme_SG", anomalies=["out_of_order"], fault_side="network"
    )
    started = failed.start_time
    assert started is not None
    make_event(failed, call_status="CALL_INITIATED", sip_code=200, event_time=started)
    make_event(failed, call_status="CALL_DISCONNECTED", sip_code=503, event_time=started + timedelta(seconds=9))
    make_session(status="BUSY", sip_code=486, fault_side="customer")
    make_session(status="ERROR", error_code=-2004, sub_account="globex")
    make_session(status="COMPLETED", destination="+6598764567")
    return {"session": failed.session_id}


def pages(session_id: str) -> list[str]:
    return [
        "/",
        "/sessions/",
        "/sessions/?sip_code=9999&country=Atlantis",  # with filter errors shown
        f"/sessions/{session_id}/",
        "/codes/?window=1h",
        "/codes/?window=1h&code=503",
        "/troubleshooting/?window=1h",
        "/reference/",
        "/reference/?q=486",
        "/products/",
        "/no/such/page/",
    ]


def _too_wide(page) -> int:
    """How many pixels the document is wider than the viewport (0 when it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def _duplicate_ids(page) -> list[str]:
    return page.evaluate(
        """() => { const seen = {}, dup = [];
             document.querySelectorAll('[id]').forEach(e => { if (seen[e.id]) dup.push(e.id); seen[e.id] = 1; });
             return dup; }"""
    )


def _serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS or v["id"] in ("duplicate-id", "duplicate-id-aria", "landmark-unique")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_a_phone_and_passes_axe(browser, live_server, login_as, support_user, traffic, scheme):
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, color_scheme=scheme)
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            page.goto("/accounts/login/")
            problems = {}
            if wide := _too_wide(page):
                problems["/accounts/login/ width"] = wide
            if found := _serious_violations(page):
                problems["/accounts/login/"] = found
            login_as(page, support_user)
            for url in pages(traffic["session"]):
                page.goto(url)
                page.wait_for_load_state("networkidle")
                if wide := _too_wide(page):
                    problems[f"{url} is {wide}px wider than {viewport['width']}px"] = wide
                if dups := _duplicate_ids(page):
                    problems[f"{url} duplicate ids"] = dups
                if found := _serious_violations(page):
                    problems[url] = found
            assert problems == {}, f"{scheme} {viewport}: {problems}"
        finally:
            context.close()


def test_dark_mode_follows_the_system_setting(browser, live_server, login_as, support_user):
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, color_scheme=scheme)
        page = context.new_page()
        login_as(page, support_user)
        page.goto("/")
        backgrounds[scheme] = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        context.close()
    assert backgrounds["light"] == "rgb(245, 246, 248)"
    assert backgrounds["dark"] == "rgb(15, 20, 25)"


def test_the_live_feed_pauses_filters_and_keeps_a_capped_list(page, login_as, support_user):
    failed = make_session(status="FAILED", sip_code=503, sub_account="acme_sg")
    for _ in range(4):
        make_session(status="COMPLETED", sub_account="acme_sg")
    login_as(page, support_user)
    feed_requests: list[str] = []
    page.on("request", lambda request: "/feed/" in request.url and feed_requests.append(request.url))
    page.goto("/")
    expect(page.locator("#feed-rows li.feed-row")).to_have_count(5)

    # Failures only: the list is replaced by the failing session, and polls keep the filter.
    page.check("input[name=failures]")
    expect(page.locator("#feed-rows li.feed-row")).to_have_count(1)
    expect(page.locator("#feed-rows")).to_contain_text(failed.session_id[:10])
    page.wait_for_timeout(3500)
    assert any("after=" in url and "failures=1" in url for url in feed_requests), feed_requests

    # Pause: no poll while paused.
    pause = page.locator("#feed-pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(pause).to_have_text("Resume")
    page.wait_for_timeout(500)
    feed_requests.clear()
    page.wait_for_timeout(3500)
    assert [url for url in feed_requests if "after=" in url] == []
    pause.click()
    expect(pause).to_have_text("Pause")

    # The cap: the list never keeps more rows than data-cap.
    page.evaluate("document.getElementById('feed-rows').setAttribute('data-cap', '2')")
    page.uncheck("input[name=failures]")
    expect(page.locator("#feed-rows li.feed-row")).to_have_count(2)


def test_filter_errors_show_beside_the_fields_in_the_browser(page, login_as, support_user):
    make_session(status="ERROR", error_code=-2004)
    login_as(page, support_user)
    page.goto("/sessions/")
    page.fill("input[name=sip_code]", "9999")
    page.press("input[name=sip_code]", "Enter")
    expect(page.locator("#id_sip_code-msg")).to_contain_text("A SIP code is three digits")
    expect(page.locator("#results")).to_contain_text("nothing is listed")
    page.fill("input[name=sip_code]", "")
    page.fill("input[name=error_code]", "2004")
    page.press("input[name=error_code]", "Enter")
    expect(page.locator("#id_sip_code-msg")).to_have_text("")  # the fixed field loses its error
    expect(page.locator("#id_error_code-msg")).to_have_text("read as -2004")
    expect(page.locator("#results tbody tr")).to_have_count(1)


def test_desktop_and_phone_screenshots(browser, live_server, login_as, support_user, traffic):
    """docs/screenshots/*-phone.png and the dark overview, shown in the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for suffix, viewport, scheme in (("-phone", PHONE, "light"), ("-dark", DESKTOP, "dark")):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, color_scheme=scheme)
        page = context.new_page()
        login_as(page, support_user)
        shots = {"overview": "/", "sessions": "/sessions/", "session": f"/sessions/{traffic['session']}/"}
        if suffix == "-dark":
            shots = {"overview": "/"}
        for name, url in shots.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
        context.close()
