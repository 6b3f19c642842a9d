from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Sum

from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from webhooks.models import RawEvent

pytestmark = pytest.mark.django_db


def test_generate_history_rows_and_rollups_agree(support_client):
    call_command("generate_history", sessions=400, days=3, seed=3, chunk=150, verbosity=0)
    assert Session.objects.count() == 400
    assert CallLeg.objects.count() >= 400
    assert RawEvent.objects.count() == EventClassification.objects.count() > 400
    hours = SessionRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"]
    assert hours == 400
    assert SessionRollup.objects.filter(bucket_size="day").aggregate(n=Sum("count"))["n"] == 400
    recent = Session.objects.filter(
        start_time__gte=SessionRollup.objects.filter(bucket_size="minute")
        .order_by("bucket_start")
        .values("bucket_start")[:1]
    )
    assert SessionRollup.objects.filter(bucket_size="minute").aggregate(n=Sum("count"))["n"] == recent.count()
    finals = EventClassification.objects.filter(is_final=True).exclude(sip_code_raw="").count()
    assert CodeRollup.objects.filter(bucket_size="hour").aggregate(n=Sum("count"))["n"] == finals
    assert CodeRollup.objects.filter(bucket_size="day").aggregate(n=Sum("count"))["n"] == finals
    assert set(Session.objects.values_list("outcome_group", flat=True)) >= {
        "answered",
        "not_answered",
        "failed",
        "error",
    }
    # The pages work on it, and the session page shows a generated session with its payloads.
    s = Session.objects.filter(outcome_group="failed").first()
    assert support_client.get("/?window=7d").status_code == 200
    body = support_client.get(f"/sessions/{s.session_id}/").content.decode()
    assert "SESSION_SUMMARY" in body
    assert "Primary cause" in body
