from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from dashboard.tests.factories import make_session
from webhooks.models import RawEvent

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_and_broker_are_up(client):
    s = make_session()
    RawEvent.objects.create(
        event_type="CALL_STATUS", dedupe_key="p1", session_id=s.session_id, body={}, state="pending"
    )
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["pending"] == 1
    assert body["oldest_pending_age_seconds"] >= 0


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_is_503_when_the_broker_is_unreachable(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["broker"] != "ok"
    assert body["database"] == "ok"


def _samples(client) -> dict[str, float]:
    text = client.get("/metrics").content.decode()
    return {k: float(v) for k, v in re.findall(r"^(sipdesk_[a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE)}


def test_metrics_in_prometheus_text_format(client):
    """Counters move with what the receiver answers (not with rows); gauges read the backlog."""
    from webhooks.tests.conftest import post

    s = make_session(status="IN_PROGRESS")
    RawEvent.objects.create(event_type="CALL_STATUS", dedupe_key="c", session_id=s.session_id, body={}, state="pending")
    before = _samples(client)
    body = {"eventType": "CALL_STATUS", "payload": {"eventId": "metrics-1", "sessionId": "m-1"}}
    with override_settings(SIPDESK_TASKS_EAGER=False):
        assert post(client, body).status_code == 200
        assert post(client, body).status_code == 200  # a repeat
        assert post(client, body, auth="Bearer wrong").status_code == 401
        assert post(client, b"{nope").status_code == 400
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    after = _samples(client)

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert moved("sipdesk_events_received_total") == 4
    assert moved("sipdesk_events_stored_total") == 1
    assert moved("sipdesk_events_duplicate_total") == 1
    assert moved('sipdesk_events_refused_total{reason="unauthorized"}') == 1
    assert moved('sipdesk_events_refused_total{reason="invalid_json"}') == 1
    assert moved("sipdesk_webhook_request_seconds_count") == 4
    assert after["sipdesk_events_pending"] >= 1
    assert after["sipdesk_classification_lag_seconds"] >= 0
    assert after["sipdesk_sessions_in_progress"] == 1
    # every sample has HELP and TYPE lines
    for name in {k.split("{")[0] for k in after}:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert f"# TYPE {base} " in text or f"# TYPE {name} " in text
        assert f"# HELP {base} " in text or f"# HELP {name} " in text


@override_settings(SIPDESK_METRICS_TOKEN="scrape-token")
def test_metrics_token_when_configured(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").status_code == 200


def _pending(key: str, received_at, **extra) -> RawEvent:
    return RawEvent.objects.create(
        event_type="CALL_STATUS", dedupe_key=key, body={}, state="pending", received_at=received_at,
        last_delivered_at=received_at, **extra,
    )  # fmt: skip


@override_settings(SIPDESK_PENDING_AGE_LIMIT_SECONDS=60)
def test_a_stuck_queue_is_503_on_healthz_red_on_the_overview_and_a_gauge_in_metrics(client, support_client):
    """Issue 9: 270 of 300 events stayed pending behind a batch that failed forever, and nothing said so."""
    _pending("stuck", timezone.now() - timedelta(minutes=10))
    _pending("fresh", timezone.now())

    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert (body["status"], body["database"], body["pending"]) == ("unavailable", "ok", 2)
    assert body["queue"].startswith("stuck")
    assert 599 < body["oldest_pending_age_seconds"] < 700

    strip = re.search(
        r'<span id="health-pending" class="([^"]*)"[^>]*>(.*?)</span>', support_client.get("/").content.decode()
    )
    assert strip.group(1) == "bad"
    assert "oldest 10m 0" in strip.group(2)
    assert "classification is stuck" in strip.group(2)

    metrics = client.get("/metrics").content.decode()
    assert 599 < float(re.search(r"^sipdesk_classification_lag_seconds (\S+)$", metrics, re.M).group(1)) < 700


@override_settings(SIPDESK_PENDING_AGE_LIMIT_SECONDS=60)
def test_a_moving_queue_is_healthy_and_only_amber(client, support_client):
    _pending("fresh", timezone.now() - timedelta(seconds=5))

    assert client.get("/healthz").status_code == 200
    strip = re.search(r'<span id="health-pending" class="([^"]*)"', support_client.get("/").content.decode())
    assert strip.group(1) == "warn"


@override_settings(SIPDESK_PENDING_AGE_LIMIT_SECONDS=60)
def test_an_old_event_sent_back_by_a_repeat_delivery_waits_since_that_delivery(client):
    """A re-pended row keeps its old received_at; its wait began with the repeat delivery."""
    old = timezone.now() - timedelta(days=3)
    _pending("repended", old, processed_at=old + timedelta(seconds=1))
    RawEvent.objects.filter(dedupe_key="repended").update(last_delivered_at=timezone.now())

    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content)["oldest_pending_age_seconds"] < 60


def test_the_prepared_backlog_read_sees_partitions_made_after_it_was_prepared():
    """The backlog is read by a statement prepared once per connection (config/db.py); a day
    partition created later (the retention job makes them ahead) must still be counted."""
    from dashboard.reads.health import pending_backlog
    from webhooks import partitions

    def runs_as_prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements WHERE name LIKE 'sipdesk_%%'"
            )
            return cursor.fetchone()[0]

    _pending("today", timezone.now())
    before = runs_as_prepared()
    for _ in range(3):  # prepared, and run as prepared
        assert pending_backlog()["pending"] == 1
    assert runs_as_prepared() == before + 3  # by the server's statement, planned once per connection
    far = (timezone.now() + timedelta(days=40)).date()
    assert partitions.ensure_partitions(far, far)  # a partition the statement's plan has never seen

    _pending("later", timezone.now() + timedelta(days=40, hours=1))

    assert RawEvent.objects.filter(state="pending").count() == 2
    assert pending_backlog()["pending"] == 2
