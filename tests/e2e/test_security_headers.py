"""The Content-Security-Policy holds in a real browser: every page renders and works without a violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from dashboard.tests.factories import make_session

# Collects every violation the page reports, from the first script on (init scripts run before the page's).
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Violations:
    def __init__(self, page) -> None:
        self.page = page
        self.console: list[str] = []
        page.context.add_init_script(LISTEN)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def visit(self, url: str, expect_status: int = 200) -> None:
        response = self.page.goto(url)
        assert response is not None
        assert response.status == expect_status, url
        assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"], url
        self.check(url)

    def check(self, where: str) -> None:
        self.page.wait_for_load_state("networkidle")
        reported = self.page.evaluate("window.__csp || []")
        assert reported == [], f"{where}: {reported}"
        assert self.console == [], f"{where}: {self.console}"


@pytest.fixture
def violations(page) -> Violations:
    return Violations(page)


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def test_no_page_violates_the_csp(page, violations, login_as, superuser, support_user, wait_for_htmx):
    s = make_session(status="FAILED", sip_code=503, legs=2)
    in_progress = make_session(status="IN_PROGRESS")

    violations.visit("/accounts/login/")
    login_as(page, superuser)
    for url in (
        "/",
        "/?window=1h",
        "/sessions/",
        "/sessions/?status=FAILED&sip_class=5xx",
        "/sessions/?sip_code=9999&country=Atlantis&error_code=2004",
        "/?failures=1&sub_account=acme_sg",
        f"/sessions/{s.session_id}/",
        f"/sessions/{in_progress.session_id}/",
        "/codes/?window=24h",
        "/codes/?window=24h&code=503",
        "/troubleshooting/?window=24h",
        "/kpis/?window=24h",
        "/?start=2026-12-01T10:00&end=2026-12-01T11:00",
        "/reference/",
        "/reference/?q=486",
        "/admin/",
        "/admin/reference/sipcode/",
        "/admin/reference/sipcode/486/change/",
        "/admin/webhooks/rawevent/",
        "/admin/axes/accessattempt/",
        "/admin/audit/numbersearch/",
        "/admin/auth/user/",
        f"/admin/auth/user/{support_user.pk}/change/",
    ):
        violations.visit(url)
    violations.visit("/no/such/page/", expect_status=404)

    # htmx at work: a filter swaps the results in; the overview's pollers fire.
    page.goto("/sessions/")
    page.select_option("select[name=status]", "FAILED")
    wait_for_htmx(page)
    expect(page.locator("#results")).to_contain_text("FAILED")
    violations.check("sessions filter")
    page.goto("/")
    page.wait_for_timeout(3500)  # the live feed polls every 3 s
    wait_for_htmx(page)
    violations.check("overview polling")

    login_as(page, support_user)
    violations.visit(f"/sessions/{s.session_id}/")
    violations.visit("/sessions/?number=%2B6591234567")


def test_the_login_lockout_page_has_no_violation(page, violations, support_user, settings):
    settings.AXES_FAILURE_LIMIT = 1
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "support")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Login locked")
    violations.check("lockout page")


def test_too_many_number_searches_answer_in_the_results_area(page, violations, login_as, support_user, settings):
    settings.SIPDESK_NUMBER_SEARCHES_PER_MINUTE = 1
    login_as(page, support_user)
    page.goto("/sessions/")
    number = page.locator("input[name=number]")
    number.fill("+6591234567")
    number.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#results")).not_to_contain_text("Too many")
    number.fill("+6591234568")
    number.press("Enter")
    # htmx swaps the 429 in (base.html's htmx-config) instead of leaving stale results.
    expect(page.locator("#results")).to_contain_text("Too many whole-number searches")
    violations.check("number search refusal")
    violations.visit("/sessions/?number=%2B6591234569", expect_status=429)


def test_pollers_pause_while_the_tab_is_hidden(page, login_as, support_user):
    """The visibility check moved from an htmx trigger filter (eval, refused by the CSP) to static/js/polling.js."""
    page.context.add_init_script(
        "Object.defineProperty(document, 'visibilityState', {get: () => window.__hidden ? 'hidden' : 'visible'});"
    )
    feed_requests: list[str] = []
    page.on("request", lambda request: "/feed/" in request.url and feed_requests.append(request.url))
    login_as(page, support_user)
    page.goto("/")
    page.wait_for_timeout(3500)
    assert feed_requests, "the live feed polls while the tab is visible"
    page.evaluate("window.__hidden = true")
    page.wait_for_timeout(500)  # a request already in flight may finish
    feed_requests.clear()
    page.wait_for_timeout(3500)
    assert feed_requests == []
