"""The escalation bundle: contents, masking per permission and choice, formats, big sets."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from dashboard.tests.factories import make_event, make_session
from incidents import bundle, grouping
from incidents.models import BundleJob, BundleJobState, Incident
from incidents.tests.helpers import failures
from notes.models import SessionNote

pytestmark = pytest.mark.django_db
NUMBER = "+6591234567"


@pytest.fixture
def failing():
    s = make_session(status="FAILED", sip_code=503, fault_side="platform", destination=NUMBER)
    make_event(
        s,
        sip_code=503,
        body={
            "eventType": "CALL_STATUS",
            "payload": {"sessionId": s.session_id, "destination": NUMBER, "sipCode": 503},
        },
    )
    SessionNote.objects.create(session_id=s.session_id, text="Customer informed", label="customer_informed")
    return s


def session_bundle(client, session_id: str, **params):
    return client.get(reverse("incidents:session_bundle"), {"session": session_id, **params})


def test_summary_has_what_8x8_asks_for_and_numbers_masked(client, support_user, failing):
    client.force_login(support_user)
    body = session_bundle(client, failing.session_id).content.decode()
    assert 'data-copy="bundle-text"' in body
    assert "js/copy.js" in body
    assert "<script>" not in body
    assert "onclick" not in body
    for expected in (
        failing.session_id,
        f"{failing.session_id}-leg0",  # call id
        "acme_sg",
        "SIP 503",
        "Customer informed",
        "Guidance: SIP 503",
        "+65 9•••• 4567",
        "UTC",
    ):
        assert expected in body, expected
    assert NUMBER not in body
    assert 'id="include-numbers"' not in body  # Support may not include numbers


def test_json_and_zip_carry_the_payloads_masked(client, support_user, failing):
    client.force_login(support_user)
    data = json.loads(session_bundle(client, failing.session_id, format="json").content)
    s = data["sessions"][0]
    assert data["numbers"] == "masked"
    assert s["legs"][0]["sip_code"] == 503
    assert s["legs"][0]["call_id"].endswith("-leg0")
    assert s["classification"]["primary_cause"] == "503"
    assert s["classification"]["fault_side"] == "platform"
    assert s["payloads"][0]["body"]["payload"]["destination"] == "+65 9•••• 4567"
    assert s["timeline"][0]["sip_code"] == 503
    assert s["guidance"]["title"].startswith("SIP 503")
    response = session_bundle(client, failing.session_id, format="zip")
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert {"summary.txt", "bundle.json"} <= set(names)
    assert any(n.startswith("payloads/") for n in names)
    assert NUMBER.encode() not in b"".join(archive.read(n) for n in names)


def test_asking_for_numbers_without_the_permission_still_masks(client, support_user, failing):
    client.force_login(support_user)
    assert NUMBER not in session_bundle(client, failing.session_id, numbers="1").content.decode()
    data = json.loads(session_bundle(client, failing.session_id, numbers="1", format="json").content)
    assert data["numbers"] == "masked"
    assert NUMBER not in json.dumps(data)


def test_full_numbers_need_the_permission_and_the_choice(client, numbers_user, failing):
    client.force_login(numbers_user)
    masked = session_bundle(client, failing.session_id).content.decode()
    assert NUMBER not in masked
    assert 'id="include-numbers"' in masked
    full = json.loads(session_bundle(client, failing.session_id, numbers="1", format="json").content)
    assert full["numbers"] == "full"
    assert full["sessions"][0]["payloads"][0]["body"]["payload"]["destination"] == NUMBER
    assert full["sessions"][0]["legs"][0]["destination"] == NUMBER


def test_incident_bundle_has_the_incident_and_its_sessions(client, support_user):
    failures(10)
    grouping.run()
    incident = Incident.objects.get()
    client.force_login(support_user)
    data = json.loads(client.get(reverse("incidents:bundle", args=[incident.pk]), {"format": "json"}).content)
    assert data["session_count"] == 10
    assert data["incident"]["grouped_by"]["sub-account"] == "acme_sg"
    text = client.get(reverse("incidents:bundle", args=[incident.pk])).content.decode()
    assert f"Incident #{incident.pk}" in text
    assert "Grouped by: cause SIP 503" in text


def test_unknown_session_is_404_and_hostile_ids_do_not_break(client, support_user):
    client.force_login(support_user)
    assert session_bundle(client, "nope").status_code == 404
    assert session_bundle(client, "/../" + "x" * 10000).status_code == 404
    assert session_bundle(client, "\x00/..").status_code == 400  # a NUL parameter: config/middleware.py


def test_big_sets_are_built_by_a_job_with_progress(client, support_user, settings):
    settings.SIPDESK_BUNDLE_SYNC_LIMIT = 3
    failures(5, sub_account="big")
    client.force_login(support_user)
    page = client.get(reverse("incidents:sessions_bundle"), {"sub_account": "big"}).content.decode()
    assert "More than 3 sessions match" in page
    assert 'id="build-all"' in page
    response = client.post(reverse("incidents:start_bundle_job"), {"sub_account": "big", "range": "24h"})
    job = BundleJob.objects.get()
    assert response["Location"] == reverse("incidents:bundle_job", args=[job.pk])
    assert "Queued" in client.get(response["Location"]).content.decode()
    bundle.build_job(job.pk)  # what the Celery task runs
    job.refresh_from_db()
    assert job.state == BundleJobState.DONE
    assert (job.done, job.total) == (5, 5)
    download = client.get(reverse("incidents:bundle_job_download", args=[job.pk]))
    data = json.loads(zipfile.ZipFile(io.BytesIO(download.content)).read("bundle.json"))
    assert data["session_count"] == 5
    assert data["numbers"] == "masked"


def test_someone_elses_job_is_not_found(client, support_user, manager_user):
    job = BundleJob.objects.create(owner=manager_user, query={})
    client.force_login(support_user)
    assert client.get(reverse("incidents:bundle_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("incidents:bundle_job_download", args=[job.pk])).status_code == 404


def test_a_job_request_with_nul_bytes_is_stored_without_them(client, support_user):
    client.force_login(support_user)
    client.post(reverse("incidents:start_bundle_job"), {"sub_account": "a\x00b", "range": "24h", "x" * 100: "y" * 1000})
    job = BundleJob.objects.get()
    assert "sub_account" not in job.query
    assert job.query["range"] == "24h"
