"""8x8's own example payloads (issue 10), posted through the real receiver and classified by a
real Celery worker: product with and without rules and the reason shown, dedupe answers,
reference rows, fault sides, anomalies, recordings and virtual numbers."""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.core.management import call_command

from classify.models import EventClassification, Session
from products.models import ProductRule, VirtualNumber
from webhooks.models import RawEvent
from webhooks.tests.conftest import SECRET, fixture_body

from .test_worker import nothing_pending, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ALL = [
    "vss_ivr_completed", "vss_ivr_completed_revised", "vss_ivr_bridged_version", "vss_nm_error_outbound_tts_2004",
    "vss_nm_error_outbound_tts_2005", "vss_vm_make_call_no_answer", "vss_error_callflows_1004", "vss_vm_unsub_error",
    "vss_nm_error_string_code", "vss_nm_completed_callb_first", "vss_vm_error_leg", "vcs_disconnected_607",
    "vcs_disconnected_199", "vcs_2026", "vca_same_event_id_as_vcs_2026", "vru_upload_failed", "vnu_snapshot",
]  # fmt: skip


def deliver(url: str, name: str) -> dict:
    request = urllib.request.Request(  # noqa: S310 - our own test server
        f"{url}/webhooks/8x8/",
        data=fixture_body(name),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def session(name: str) -> Session:
    body = json.loads(fixture_body(name))
    return Session.objects.get(session_id=body["payload"]["sessionId"])


def classified(count: int) -> bool:
    return nothing_pending() and EventClassification.objects.count() == count


def test_doc_examples_without_rules(receiver_server, celery_worker_process):
    answers = {name: deliver(receiver_server.url, name)["status"] for name in ALL}
    assert set(answers.values()) == {"stored"}, answers  # CALL_STATUS + CALL_ACTION, one eventId: both stored
    assert deliver(receiver_server.url, "vss_ivr_completed_revised")["status"] == "duplicate"
    wait_until(lambda: classified(len(ALL)), message="classified")

    expected = {
        "vss_ivr_bridged_version": ("IVR", "inferred: VSS version field (IVR only)"),
        "vss_nm_error_outbound_tts_2004": ("UNKNOWN", "could be Voice Messaging or Number Masking"),
        "vss_nm_error_outbound_tts_2005": ("UNKNOWN", "could be Voice Messaging or Number Masking"),
        "vss_vm_make_call_no_answer": (
            "VOICE_MESSAGING",
            "inferred: one outbound leg ending at MAKE_CALL, no inbound caller, no IVR version field",
        ),
        "vss_nm_error_string_code": (
            "NUMBER_MASKING", "inferred: inbound call to a virtual number, summary without the IVR version field",
        ),
        "vss_vm_unsub_error": ("VOICE_MESSAGING", "inferred: opt-out status (Voice Messaging only)"),
    }  # fmt: skip
    for name, product in expected.items():
        found = session(name)
        assert (found.product, found.product_reason) == product, name

    revised = session("vss_ivr_completed")
    assert (revised.end_time.isoformat(), revised.duration_seconds) == ("2026-01-13T08:28:10+00:00", 72)
    assert "summary_revised" in revised.anomalies

    # Fault sides, causes and advice from the completed reference.
    callflows = session("vss_error_callflows_1004")
    assert (callflows.primary_cause, callflows.fault_side, callflows.retry_advice, callflows.responsibility) == (
        "-1004", "configuration", "fix_request", "configuration",
    )  # fmt: skip
    assert session("vss_nm_error_outbound_tts_2004").fault_side == "network"
    unsub = session("vss_vm_unsub_error")
    assert (unsub.fault_side, unsub.responsibility) == ("network", "carrier_or_platform")
    unwanted = session("vcs_disconnected_607")
    assert (unwanted.primary_cause, unwanted.fault_side, unwanted.responsibility) == (
        "607", "network", "carrier_or_platform",
    )  # fmt: skip
    assert (session("vcs_disconnected_199").primary_cause, session("vcs_disconnected_199").fault_side) == ("", "none")

    # ERROR on a Voice Messaging / Number Masking leg is normal; only an IVR leg would be flagged.
    for name in ("vss_vm_error_leg", "vss_nm_error_string_code", "vss_nm_error_outbound_tts_2004"):
        assert "error_on_leg" not in session(name).anomalies, name

    # A failed recording is an anomaly on its (Number Masking) session.
    masked = session("vss_nm_completed_callb_first")
    assert "recording_failed" in masked.anomalies
    assert masked.product == "NUMBER_MASKING"

    numbers = dict(VirtualNumber.objects.values_list("msisdn", "operational_status"))
    assert numbers == {"+6568332048": "Active", "+6568332049": "Unhealthy"}
    assert RawEvent.objects.filter(session_id="0d2e8b60-eadf-11f0-8a3a-6b7e2e7b1c11").count() == 2


def test_product_rules_win_and_changing_them_rederives_the_sessions(receiver_server, celery_worker_process):
    call_command("product_rule", "add", "--sub-account", "wavecell_voice", "--product", "number_masking")
    for name in ("vss_nm_error_outbound_tts_2004", "vss_vm_make_call_no_answer", "vss_ivr_bridged_version"):
        deliver(receiver_server.url, name)
    wait_until(lambda: classified(3), message="classified")

    masked = session("vss_nm_error_outbound_tts_2004")
    assert (masked.product, masked.product_reason) == ("NUMBER_MASKING", "rule: sub-account wavecell_voice")
    assert session("vss_vm_make_call_no_answer").product == "VOICE_MESSAGING"  # no rule: inferred

    # A number rule (the source of the outbound leg) is more specific than the sub-account's.
    call_command("product_rule", "add", "--number", "+6531581234", "--product", "voice_messaging")
    wait_until(lambda: session("vss_nm_error_outbound_tts_2004").product == "VOICE_MESSAGING", message="rederived")
    assert session("vss_nm_error_outbound_tts_2004").product_reason == "rule: number +6531581234"
    # A rule beats even the IVR version field; removing it brings inference back.
    call_command("product_rule", "add", "--sub-account", "8x8_test", "--product", "number_masking")
    wait_until(lambda: session("vss_ivr_bridged_version").product == "NUMBER_MASKING", message="rule applied")
    call_command("product_rule", "remove", "--sub-account", "8x8_test")
    wait_until(lambda: session("vss_ivr_bridged_version").product == "IVR", message="rule removed")
    assert ProductRule.objects.count() == 2
    assert RawEvent.objects.filter(state="processed").count() == 3
