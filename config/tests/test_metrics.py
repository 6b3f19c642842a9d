"""/metrics with prometheus_client (issue 16): counters that never fall, several processes summed."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from webhooks.models import RawEvent
from webhooks.tests.conftest import AsgiClient, post

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def samples(client: Client) -> dict[str, float]:
    text = client.get("/metrics").content.decode()
    return {k: float(v) for k, v in re.findall(r"^(sipdesk_[a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.MULTILINE)}


def body(n: int) -> dict:
    return {"eventType": "CALL_STATUS", "payload": {"eventId": f"m-{n}", "sessionId": f"s-{n}"}}


def test_counters_do_not_fall_when_a_purge_drops_the_rows(settings):
    client = Client()
    settings.SIPDESK_RAW_RETENTION_DAYS = 30
    before = samples(client).get("sipdesk_events_stored_total", 0)
    for n in range(3):
        assert post(client, body(n)).status_code == 200
    RawEvent.objects.update(received_at=timezone.now() - timedelta(days=40))
    call_command("purge_old_events", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not RawEvent.objects.exists()

    assert samples(client)["sipdesk_events_stored_total"] == before + 3


def test_the_asgi_receiver_counts_its_answers_and_batch_sizes():
    client = Client()
    before = samples(client)
    receiver = AsgiClient()
    assert post(receiver, body(1)).status_code == 200
    assert post(receiver, body(1)).status_code == 200
    assert post(receiver, body(2), auth="Bearer nope").status_code == 401
    after = samples(client)

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert moved("sipdesk_events_received_total") == 3
    assert moved("sipdesk_events_stored_total") == 1
    assert moved("sipdesk_events_duplicate_total") == 1
    assert moved('sipdesk_events_refused_total{reason="unauthorized"}') == 1
    assert moved("sipdesk_webhook_request_seconds_count") == 3
    assert moved("sipdesk_group_commit_batch_size_count") == 2  # one batch per stored/duplicate request


@pytest.mark.parametrize("containers", [False, True])
def test_metrics_from_two_processes_are_summed(tmp_path, monkeypatch, containers):
    """gunicorn workers each count their own; /metrics sums them (also a process that has exited).
    With SIPDESK_METRICS_DIR, the processes of every container (one subdirectory each) are summed."""
    script = (
        "from config import metrics\n"
        "metrics.count_answer('stored')\n"
        "metrics.count_answer('refused', 'unauthorized')\n"
        "metrics.CLASSIFIED.inc(5)\n"
        "import os; print(os.getpid())\n"
    )
    dirs = [tmp_path / "receiver", tmp_path / "worker"] if containers else [tmp_path, tmp_path]
    pids = []
    for directory in dirs:
        directory.mkdir(exist_ok=True)
        env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
        pids.append(
            subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            ).stdout.strip()
        )
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(int(pids[0]), path=str(dirs[0]))  # what config/gunicorn.py does
    monkeypatch.setenv("SIPDESK_METRICS_DIR" if containers else "PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    found = samples(Client())

    assert found["sipdesk_events_stored_total"] == 2
    assert found['sipdesk_events_refused_total{reason="unauthorized"}'] == 2
    assert found["sipdesk_events_received_total"] == 4
    assert found["sipdesk_events_processed_total"] == 10
    assert "sipdesk_events_pending" in found  # the scrape-time gauges are there too


def test_the_classifier_counts_what_it_classified_and_failed():
    from classify import pipeline
    from webhooks.ingest import ingest

    client = Client()
    before = samples(client)
    ingest(b'{"eventType": "CALL_STATUS", "payload": {"eventId": "w-1", "sessionId": "w-1", "callId": "c"}}')
    ingest(b'{"eventType": "CALL_STATUS", "payload": "not an object"}')
    RawEvent.objects.update(state="pending")
    while pipeline.process_pending():
        pass
    after = samples(client)

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    failed = RawEvent.objects.filter(state="failed").count()
    assert moved("sipdesk_events_processed_total") == 2 - failed
    assert moved("sipdesk_events_failed_total") == failed
    assert moved("sipdesk_classification_batch_seconds_count") >= 1
