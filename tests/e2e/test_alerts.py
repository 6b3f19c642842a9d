"""Alerts end to end: a burst of failures through the real receiver, classified by a real worker;
the rule fires, the banner appears on an open page without a reload, the JSON webhook gets the
message, and its link opens the sessions list filtered to the scope and the absolute window."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from alerts.models import AlertRule, AlertState, Channel
from alerts.tasks import evaluate_alerts
from alerts.tests.servers import HookServer
from conftest import CeleryWorker, purge_test_broker

SECRET = "test-webhook-secret"

pytestmark = pytest.mark.timeout(240)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failed_session(session_id: str, sub: str, code: int) -> list[dict]:
    call_id, start = str(uuid.uuid4()), datetime.now(UTC) - timedelta(seconds=15)
    leg = {
        "callId": call_id, "sessionId": session_id, "subAccountId": sub, "callDirection": "OUTBOUND",
        "callType": "PSTN", "source": "+6568332048", "destination": "+6591234567", "sourceFormat": "MSISDN",
        "destinationFormat": "MSISDN", "sourceCountryCode": "SG", "destinationCountryCode": "SG",
    }  # fmt: skip
    end = start + timedelta(seconds=3)
    vcs = {
        "namespace": "VOICE", "eventType": "CALL_STATUS",
        "payload": {**leg, "eventId": str(uuid.uuid4()), "callStatus": "CALL_DISCONNECTED", "sipCode": code,
                    "callDuration": 0, "timestamp": _stamp(end)},
    }  # fmt: skip
    vss_leg = {k: v for k, v in leg.items() if k not in ("sessionId", "subAccountId")}
    vss = {
        "namespace": "VOICE", "eventType": "SESSION_SUMMARY",
        "payload": {
            "sessionId": session_id, "subAccountId": sub, "sessionStatus": "FAILED", "startTime": _stamp(start),
            "endTime": _stamp(end), "lastAction": "MAKE_CALL", "callCount": 1,
            "details": {"callA": {**vss_leg, "initiatedTimestamp": _stamp(start), "disconnectedTimestamp": _stamp(end),
                                  "callStatus": "FAILED", "callDuration": 0}},
        },
    }  # fmt: skip
    return [vcs, vss]


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own receiver
        f"{url}/webhooks/8x8/", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status


def test_a_burst_of_failures_fires_the_banner_the_webhook_and_a_link_to_the_calls(
    page, live_server, login_as, support_user, receiver_server, monkeypatch, wait_for_htmx, screenshot
):
    hook = HookServer()
    hook.thread.start()
    monkeypatch.setenv("SIPDESK_DASHBOARD_URL", live_server.url)
    purge_test_broker()
    worker = CeleryWorker("alerts-e2e").start()
    try:
        channel = Channel(name="team-hook")
        channel.url = hook.url
        channel.save()
        rule = AlertRule.objects.create(
            name="503 spike acme", metric="failure_share", sub_account="acme_sg", threshold=0.5, window_minutes=5,
            min_sessions=10,
        )  # fmt: skip
        rule.channels.set([channel])

        login_as(page, support_user)
        page.goto("/sessions/")
        page.evaluate("window.__noReload = true")
        expect(page.locator(".alert-banner")).to_have_count(0)

        ids = [str(uuid.uuid4()) for _ in range(12)]
        for session_id in ids:
            for body in failed_session(session_id, "acme_sg", 503):
                assert post(receiver_server.url, body) == 200
        for body in failed_session(str(uuid.uuid4()), "other_sub", 503):  # out of scope
            assert post(receiver_server.url, body) == 200

        # The beat would run this every minute; here the worker is nudged until the rule fires.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            evaluate_alerts.delay()
            time.sleep(1)
            if AlertState.objects.filter(rule=rule, status="firing").exists():
                break
        banner = page.locator(".alert-banner")
        expect(banner).to_contain_text("503 spike acme", timeout=20_000)
        assert page.evaluate("window.__noReload") is True  # same document: the banner came by polling

        deadline = time.monotonic() + 30
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        assert len(hook.received) == 1
        message = hook.received[0]["json"]
        assert message["title"] == "[sipdesk] FIRING: 503 spike acme (sub_account=acme_sg)"
        assert "Sessions counted: 12" in message["message"]
        assert "Top causes: 503 ×12" in message["message"]
        link = next(line.split(" ", 1)[1] for line in message["message"].splitlines() if line.startswith("Sessions: "))
        assert link.startswith(f"{live_server.url}/sessions/?start=")
        screenshot(page, "alerts-banner")

        page.goto(link)
        parts = urlsplit(link)
        assert "end=" in parts.query
        assert "sub_account=acme_sg" in parts.query
        rows = page.locator("#results tbody tr")
        expect(rows).to_have_count(12)
        for session_id in ids[:3]:
            expect(page.locator(f'#results a[href="/sessions/{session_id}/"]')).to_have_count(1)
        expect(page.locator("#results")).not_to_contain_text("other_sub")

        page.goto("/alerts/")
        expect(page.locator(f"#rule-{rule.id}")).to_contain_text("Firing")
        wait_for_htmx(page)
        screenshot(page, "alerts")
    finally:
        worker.stop()
        hook.server.shutdown()
        hook.server.server_close()
