"""`make run` without Redis: a stored webhook is classified inside the web process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from classify.models import Session
from webhooks.models import RawEvent
from webhooks.tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, so no test has imported classify's tasks for us: in-process mode must
# find the task itself, as the web process of `make run` has to.
SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from pathlib import Path
    from webhooks import enqueue
    from webhooks.ingest import ingest
    result = ingest(Path({path!r}).read_bytes(), remote_addr="127.0.0.1")
    assert result.status == "stored", result
    assert enqueue.wait_idle(30)
    """
)


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_web_process_classifies_what_it_stored():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        SIPDESK_WORKER_USES_TEST_DB="1",
        SIPDESK_TEST_DB_NAME=settings.DATABASES["default"]["NAME"],
        SIPDESK_TASKS_EAGER="1",
        SIPDESK_TEST_REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there
    )
    script = SCRIPT.format(path=str(FIXTURES / "vss_ivr_busy.json"))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr

    assert RawEvent.objects.get().state == "processed"
    assert Session.objects.get().status == "BUSY"
