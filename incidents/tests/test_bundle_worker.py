"""A bundle too large for the request is built by a real Celery worker, with progress."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from django.urls import reverse

from incidents.models import BundleJob, BundleJobState
from incidents.tests.helpers import failures


@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_big_bundle(client, support_user, celery_worker_process, settings):
    settings.SIPDESK_BUNDLE_SYNC_LIMIT = 2
    failures(6, sub_account="big")
    client.force_login(support_user)
    response = client.post(reverse("incidents:start_bundle_job"), {"sub_account": "big", "range": "24h"})
    job = BundleJob.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (BundleJobState.DONE, BundleJobState.FAILED):
            break
        time.sleep(0.2)
    assert job.state == BundleJobState.DONE, job.error
    page = client.get(response["Location"]).content.decode()
    assert "6 of 6 sessions" in page
    assert 'id="job-download"' in page
    archive = zipfile.ZipFile(io.BytesIO(client.get(reverse("incidents:bundle_job_download", args=[job.pk])).content))
    assert json.loads(archive.read("bundle.json"))["session_count"] == 6
