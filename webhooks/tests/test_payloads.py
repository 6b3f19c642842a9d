"""Every payload variant in docs/8x8-webhooks.md, posted through the real view, is stored as itself."""

# ruff: noqa: E501 - the expectation table reads best one fixture per entry

from __future__ import annotations

import hashlib
import json

import pytest

from webhooks.models import RawEvent
from webhooks.tests.conftest import fixture_body, fixture_json, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(either_receiver):
    """Every case runs against the Django view and against the ASGI receiver."""
    return either_receiver


def sha(name: str) -> str:
    canonical = json.dumps(fixture_json(name), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


VSS = "VSS"  # a summary's key: SESSION_SUMMARY:<sessionId>:<digest of the body>


def summary_key(name: str, session_id: str) -> str:
    return f"SESSION_SUMMARY:{session_id}:{sha(name).removeprefix('sha256:')[:32]}"


# fixture: (event_type, session_id, call_id, sub_account_id, dedupe_key, VSS, or None for the body hash)
CASES = {
    "vss_ivr_completed": ("SESSION_SUMMARY", "a089b40d-f059-11f0-8937-99c7872ee3c4", "", "8x8_test",
                          VSS),
    "vss_ivr_busy": ("SESSION_SUMMARY", "b1c2d3e4-f059-11f0-baa6-0242ac120002", "", "InternalDemoCPaaS_8dD15_voice",
                     VSS),
    "vss_vm_completed_calla_quirk": ("SESSION_SUMMARY", "c3d4e5f6-211f-11ee-9a7c-0242ac120003", "", "8x8_test",
                                     VSS),
    "vss_vm_error_leg": ("SESSION_SUMMARY", "d4e5f6a7-211f-11ee-9a7c-0242ac120004", "", "8x8_test",
                         VSS),
    "vss_vm_unsubscribed": ("SESSION_SUMMARY", "e5f6a7b8-f059-11f0-8937-99c7872ee3c5", "", "acme_voice",
                            VSS),
    "vss_nm_completed_callb_first": ("SESSION_SUMMARY", "f6a7b8c9-f059-11f0-baa6-0242ac120005", "", "wavecell_voice",
                                     VSS),
    "vss_nm_error_string_code": ("SESSION_SUMMARY", "a7b8c9d0-f059-11f0-baa6-0242ac120006", "", "wavecell_voice",
                                 VSS),
    "vss_nm_no_answer_space": ("SESSION_SUMMARY", "b8c9d0e1-f059-11f0-baa6-0242ac120007", "", "acme_voice",
                               VSS),
    "vss_error_extra_keys": ("SESSION_SUMMARY", "c9d0e1f2-f059-11f0-8937-99c7872ee3c8", "", "globex_support",
                             VSS),
    "vcs_2026": ("CALL_STATUS", "0d2e8b60-eadf-11f0-8a3a-6b7e2e7b1c11", "0d2e8b70-eadf-11f0-8a3a-6b7e2e7b1c11", "8x8_test",
                 "CALL_STATUS:0d2e8b7a-eadf-11f0-8a3a-6b7e2e7b1c11"),
    "vca_same_event_id_as_vcs_2026": ("CALL_ACTION", "0d2e8b60-eadf-11f0-8a3a-6b7e2e7b1c11", "0d2e8b70-eadf-11f0-8a3a-6b7e2e7b1c11",
                                      "8x8_test", "CALL_ACTION:0d2e8b7a-eadf-11f0-8a3a-6b7e2e7b1c11"),
    "vss_ivr_completed_revised": ("SESSION_SUMMARY", "a089b40d-f059-11f0-8937-99c7872ee3c4", "", "8x8_test", VSS),
    # Issue 10: 8x8's own examples and codes.
    "vss_ivr_bridged_version": ("SESSION_SUMMARY", "b0a1c2d3-f059-11f0-8937-99c7872ee3e1", "", "8x8_test", VSS),
    "vss_nm_error_outbound_tts_2004": ("SESSION_SUMMARY", "c1b2d3e4-f059-11f0-baa6-0242ac1200e2", "", "wavecell_voice", VSS),
    "vss_nm_error_outbound_tts_2005": ("SESSION_SUMMARY", "c1b2d3e5-f059-11f0-baa6-0242ac1200e3", "", "wavecell_voice", VSS),
    "vss_vm_make_call_no_answer": ("SESSION_SUMMARY", "d2c3e4f5-f059-11f0-8937-99c7872ee3e4", "", "acme_vm", VSS),
    "vss_error_callflows_1004": ("SESSION_SUMMARY", "e3d4f5a6-f059-11f0-8937-99c7872ee3e5", "", "acme_vm", VSS),
    "vss_vm_unsub_error": ("SESSION_SUMMARY", "f4e5a6b7-f059-11f0-8937-99c7872ee3e6", "", "acme_vm", VSS),
    "vcs_disconnected_607": ("CALL_STATUS", "a5f6b7c7-f059-11f0-8937-99c7872ee3e7", "a5f6b7c8-f059-11f0-8937-99c7872ee3e7",
                             "acme_vm", "CALL_STATUS:a5f6b7c9-f059-11f0-8937-99c7872ee3e7"),
    "vcs_disconnected_199": ("CALL_STATUS", "b6a7c8d8-f059-11f0-8937-99c7872ee3e8", "b6a7c8d9-f059-11f0-8937-99c7872ee3e8",
                             "acme_vm", "CALL_STATUS:b6a7c8d0-f059-11f0-8937-99c7872ee3e8"),
    "vru_upload_failed": ("CALL_RECORDING_STATUS", "f6a7b8c9-f059-11f0-baa6-0242ac120005", "", "", None),
    "vcs_2025": ("CALL_STATUS", "1e3f9c70-6e9a-11ef-9c1a-0242ac120009", "1e3f9c80-6e9a-11ef-9c1a-0242ac120009", "account_x",
                 "CALL_STATUS:1e3f9c8b-6e9a-11ef-9c1a-0242ac120009"),
    "vca_ivr_eventdata_object": ("CALL_ACTION", "2f4a0d80-1340-11ef-a1b2-0242ac12000a", "2f4a0d90-1340-11ef-a1b2-0242ac12000a",
                                 "8x8_test", "CALL_ACTION:2f4a0d9c-1340-11ef-a1b2-0242ac12000a"),
    "vca_ivr_flat_dtmf": ("CALL_ACTION", "3a5b1e90-9a10-11ee-b3c4-0242ac12000b", "3a5b1ea0-9a10-11ee-b3c4-0242ac12000b",
                          "8x8_test", "CALL_ACTION:3a5b1eab-9a10-11ee-b3c4-0242ac12000b"),
    "vca_ivr_eventdata_string": ("CALL_ACTION", "4b6c2fa0-f9a0-11ef-c4d5-0242ac12000c", "4b6c2fb0-f9a0-11ef-c4d5-0242ac12000c",
                                 "8x8_test", "CALL_ACTION:4b6c2fbc-f9a0-11ef-c4d5-0242ac12000c"),
    "vca_nm_call_received": ("CALL_ACTION", "5c7d30b0-0000-11ea-8a3a-0242ac12000d", "5c7d30c0-0000-11ea-8a3a-0242ac12000d",
                             "wavecell_voice", "CALL_ACTION:5c7d30cd-0000-11ea-8a3a-0242ac12000d"),
    "vru_upload_completed": ("CALL_RECORDING_STATUS", "6d8e41de-0268-11ec-9a03-0242ac13000e", "", "", None),
    "vnu_snapshot": ("VIRTUAL_NUMBER_UPDATE", "", "", "acme_voice", None),
    "legacy_call_handle": ("CALL_STATUS", "7e9f52ef-efe5-11e9-8a3a-0242ac12000f", "7e9f52e0-efe5-11e9-8a3a-0242ac12000f", "", None),
    "legacy_aggregated_status": ("SESSION_SUMMARY", "8fa063f0-b05c-11ea-8a3a-0242ac120010", "", "account_x",
                                 VSS),
    "legacy_dtmf_callback": ("CALL_ACTION", "9AB174F1-B05C-11EA-8A3A-0242AC120011", "", "", None),
    "legacy_dtmf_callback_two_digits": ("CALL_ACTION", "D2C9E6A0-1F2B-4C3D-8E9F-0A1B2C3D4E5F", "", "", None),
    "legacy_aggregated_status_voip_callb_first": ("SESSION_SUMMARY", "5e1b0a10-b05c-11ea-a1b2-0242ac120002", "",
                                                  "account_x", VSS),
    "vss_nm_callb_first": ("SESSION_SUMMARY", "c1b7d7a0-b2a1-11ee-baa6-0b3f6b1c2d3e", "", "8x8_test", VSS),
    "vss_vm_capital_calla": ("SESSION_SUMMARY", "6f8b3c10-3fb6-11ee-9c5e-d1a0d8d8e0f1", "", "8x8_test", VSS),
    "unknown_event_type": ("UNKNOWN", "a0b17400-f059-11f0-8937-99c7872ee3d0", "", "8x8_test", None),
    "missing_fields": ("UNKNOWN", "", "", "", None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_payload_variant_is_stored_with_its_kind_ids_and_dedupe_key(client, name):
    event_type, session_id, call_id, sub_account_id, key = CASES[name]

    response = post(client, fixture_body(name), REMOTE_ADDR="52.220.253.234", HTTP_USER_AGENT="8x8-webhooks")

    assert response.status_code == 200
    event = RawEvent.objects.get()
    assert response.json() == {"status": "stored", "id": event.id}
    assert (event.event_type, event.session_id, event.call_id, event.sub_account_id) == (
        event_type, session_id, call_id, sub_account_id,
    )  # fmt: skip
    assert event.dedupe_key == (summary_key(name, session_id) if key == VSS else key or sha(name))
    assert event.body == fixture_json(name)  # the body exactly as received
    assert event.state == "pending"
    assert (event.remote_addr, event.user_agent, event.content_length) == (
        "52.220.253.234", "8x8-webhooks", len(fixture_body(name)),
    )  # fmt: skip


def test_every_fixture_file_has_a_case():
    from webhooks.tests.conftest import FIXTURES

    assert {path.stem for path in FIXTURES.glob("*.json")} == set(CASES)


@pytest.mark.parametrize("name", ["vss_ivr_completed", "vcs_2026", "vca_ivr_eventdata_object", "missing_fields"])
def test_a_repeat_delivery_is_a_duplicate_and_stores_nothing_new(client, name):
    first = post(client, fixture_body(name))
    second = post(client, fixture_body(name))

    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "id": first.json()["id"]}
    event = RawEvent.objects.get()
    assert event.deliveries == 2


def test_a_reformatted_vss_for_the_same_session_is_a_duplicate(client):
    body = fixture_json("vss_ivr_completed")
    post(client, body)
    # The same summary, keys in another order and other spacing: a redelivery, not a revision.
    reformatted = json.dumps(dict(reversed(list(body.items()))), indent=4).encode()

    assert post(client, reformatted).json()["status"] == "duplicate"
    assert RawEvent.objects.get().deliveries == 2


def test_a_revised_vss_for_the_same_session_is_stored_and_its_redelivery_dedupes(client):
    first = post(client, fixture_body("vss_ivr_completed"))
    revised = post(client, fixture_body("vss_ivr_completed_revised"))
    again = post(client, fixture_body("vss_ivr_completed_revised"))

    assert (first.json()["status"], revised.json()["status"], again.json()["status"]) == (
        "stored", "stored", "duplicate",
    )  # fmt: skip
    assert again.json()["id"] == revised.json()["id"]
    assert RawEvent.objects.filter(session_id="a089b40d-f059-11f0-8937-99c7872ee3c4").count() == 2


def test_a_call_status_and_a_call_action_with_one_event_id_are_two_events(client):
    status = post(client, fixture_body("vcs_2026"))
    action = post(client, fixture_body("vca_same_event_id_as_vcs_2026"))

    assert (status.json()["status"], action.json()["status"]) == ("stored", "stored")
    assert sorted(RawEvent.objects.values_list("event_type", flat=True)) == ["CALL_ACTION", "CALL_STATUS"]
    assert post(client, fixture_body("vca_same_event_id_as_vcs_2026")).json() == {
        "status": "duplicate", "id": action.json()["id"],
    }  # fmt: skip


def test_a_vca_is_answered_200_with_a_json_body(client):
    response = post(client, fixture_body("vca_nm_call_received"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "stored"


@pytest.mark.parametrize("alias", ["vss", "vcs", "vca", "vru", "vnu"])
def test_per_kind_aliases_store_by_event_type_not_by_url(client, alias):
    response = post(client, fixture_body("vcs_2026"), url=f"/webhooks/8x8/{alias}/")

    assert response.status_code == 200
    assert RawEvent.objects.get().event_type == "CALL_STATUS"
