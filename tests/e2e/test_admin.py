"""The browser setup works end to end: log in through the real form and see the SIP codes."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_editor_logs_in_and_sees_the_sip_code_list_in_the_admin(page, editor_user, screenshot):
    page.goto("/admin/login/?next=/admin/reference/sipcode/")
    page.fill("input[name=username]", "editor")
    page.fill("input[name=password]", "editor-pass-123")
    page.click("input[type=submit]")

    expect(page).to_have_url(re.compile(r"/admin/reference/sipcode/$"))
    expect(page.locator("#result_list")).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("Busy Here")
    expect(page.locator("#result_list")).to_contain_text("Request Terminated")
    screenshot(page, "admin-sip-codes")
