"""`make run` without PostgreSQL falls back to SQLite: the pages must work there too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from django.test.utils import setup_test_environment
    setup_test_environment()  # so responses carry their template context
    from datetime import timedelta
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from classify.models import Session, SessionRollup

    call_command("migrate", verbosity=0)
    now = timezone.now()
    Session.objects.create(session_id="s-1", status="BUSY", outcome_group="not_answered",
                           start_time=now - timedelta(minutes=5), anomalies=["out_of_order"])
    SessionRollup.objects.create(bucket_size="minute", bucket_start=now.replace(second=0, microsecond=0)
                                 - timedelta(minutes=5), product="IVR", status="BUSY",
                                 outcome_group="not_answered", count=1)
    client = Client()
    client.force_login(User.objects.create_superuser("demo", "demo@example.com", "x"))
    for url in ["/", "/?window=7d", "/sessions/?anomaly=out_of_order", "/codes/", "/troubleshooting/"]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    sessions = client.get("/sessions/?anomaly=out_of_order").context["page"].rows
    assert [s.session_id for s in sessions] == ["s-1"], sessions
    assert client.get("/sessions/?anomaly=missing_summary").context["page"].rows == []
    # The receiver stores; the classifier leaves the event pending instead of crashing.
    from pathlib import Path
    from classify.pipeline import process_pending
    from webhooks.ingest import ingest
    from webhooks.models import RawEvent
    assert ingest(Path("webhooks/tests/fixtures/vss_ivr_busy.json").read_bytes()).status == "stored"
    assert process_pending() == 0
    assert RawEvent.objects.get().state == "pending"
    print("ok")
    """
)


def test_pages_work_on_the_sqlite_fallback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SIPDESK_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'fallback.sqlite3'}",
        SIPDESK_TASKS_EAGER="1",
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
