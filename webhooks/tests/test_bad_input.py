"""The bad-input table of issue 3: a clear answer, never a 500, and nothing (or one row) stored."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client, override_settings

from webhooks.models import RawEvent, ReceiverTally
from webhooks.tests.conftest import SECRET, URL, fixture_body, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(either_receiver):
    """Every case runs against the Django view and against the ASGI receiver."""
    return either_receiver


@pytest.fixture
def wsgi_client():
    """For the cases about reading a WSGI input stream (the ASGI server hands over the body itself)."""
    return Client()


VCS = fixture_body("vcs_2026")


def refused(reason: str) -> int:
    return sum(ReceiverTally.objects.filter(outcome="refused", reason=reason).values_list("count", flat=True))


def assert_refused(response, status: int, reason: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == reason
    assert RawEvent.objects.count() == 0
    assert refused(reason) == 1


@pytest.mark.parametrize("auth", [None, "", "Bearer wrong", "wrong", "Bearer", f"Basic {SECRET}", f"Bearer {SECRET}x"])
def test_missing_or_wrong_authorization_is_401(client, auth):
    assert_refused(post(client, VCS, auth=auth), 401, "unauthorized")


@pytest.mark.parametrize("auth", [SECRET, f"Bearer {SECRET}", f"bearer {SECRET}", "Bearer rotated-webhook-secret"])
def test_every_configured_secret_is_accepted_with_or_without_bearer(client, auth):
    assert post(client, VCS, auth=auth).status_code == 200
    assert RawEvent.objects.count() == 1


@override_settings(SIPDESK_WEBHOOK_SECRETS=["Basic dXNlcjpwYXNz"])
def test_a_secret_configured_with_its_scheme_matches_the_whole_header(client):
    assert post(client, VCS, auth="Basic dXNlcjpwYXNz").status_code == 200


@override_settings(SIPDESK_WEBHOOK_SECRETS=[], DEBUG=False)
def test_no_secret_configured_in_production_refuses_everything(client):
    assert_refused(post(client, VCS, auth=None), 503, "not_configured")


@override_settings(SIPDESK_WEBHOOK_SECRETS=[], DEBUG=True)
def test_no_secret_configured_is_open_only_in_debug(client):
    assert post(client, VCS, auth=None).status_code == 200


def networks(*items: str):
    import ipaddress

    return [ipaddress.ip_network(item) for item in items]


@override_settings(SIPDESK_WEBHOOK_ALLOWED_IPS=networks("52.220.253.234/32", "10.0.0.0/8"))
def test_source_ip_not_allowed_is_403(client):
    assert_refused(post(client, VCS, REMOTE_ADDR="203.0.113.9"), 403, "ip_not_allowed")


@override_settings(SIPDESK_WEBHOOK_ALLOWED_IPS=networks("52.220.253.234/32", "10.0.0.0/8"))
def test_allowed_ips_and_cidrs_pass(client):
    assert post(client, VCS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert RawEvent.objects.get().remote_addr == "10.1.2.3"


@override_settings(SIPDESK_WEBHOOK_ALLOWED_IPS=networks("52.220.253.234/32"))
def test_x_forwarded_for_is_ignored_unless_trusted(client):
    response = post(client, VCS, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="52.220.253.234")
    assert_refused(response, 403, "ip_not_allowed")


TRUSTING_OUR_PROXY = override_settings(
    SIPDESK_WEBHOOK_ALLOWED_IPS=networks("52.220.253.234/32"), SIPDESK_TRUSTED_PROXIES=networks("10.0.0.5")
)


@TRUSTING_OUR_PROXY
def test_x_forwarded_for_is_read_only_from_a_trusted_proxy(client):
    ok = post(client, VCS, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7, 52.220.253.234")
    assert ok.status_code == 200
    assert RawEvent.objects.get().remote_addr == "52.220.253.234"


@TRUSTING_OUR_PROXY
@override_settings(SIPDESK_TRUST_X_FORWARDED_FOR=True)  # the deprecated switch, as deployments have it set
def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_is_refused(client):
    """A client that reaches the receiver directly cannot claim an allowed address."""
    spoofed = post(client, VCS, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="52.220.253.234")
    assert_refused(spoofed, 403, "ip_not_allowed")


@TRUSTING_OUR_PROXY
def test_a_forged_left_most_entry_through_our_proxy_is_refused(client):
    forged = post(client, VCS, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="52.220.253.234, 198.51.100.7")
    assert_refused(forged, 403, "ip_not_allowed")


@override_settings(
    SIPDESK_WEBHOOK_ALLOWED_IPS=networks("52.220.253.234/32"), SIPDESK_TRUSTED_PROXIES=networks("10.0.0.0/24")
)
def test_a_chain_of_trusted_proxies_is_skipped_to_the_right_most_untrusted_hop(client):
    ok = post(client, VCS, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 52.220.253.234, 10.0.0.9")
    assert ok.status_code == 200
    assert RawEvent.objects.get().remote_addr == "52.220.253.234"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_post_are_405(client, method):
    response = client.generic(method, URL, VCS, content_type="application/json", HTTP_AUTHORIZATION=SECRET)
    assert_refused(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_content_type_not_json_is_415(client, content_type):
    assert_refused(post(client, VCS, content_type=content_type), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/vnd.8x8+json"]
)
def test_json_content_types_are_accepted(client, content_type):
    assert post(client, VCS, content_type=content_type).status_code == 200


@override_settings(SIPDESK_WEBHOOK_MAX_BYTES=2048)
def test_body_over_the_limit_is_413_by_content_length(client):
    body = b'{"padding": "' + b"x" * 4000 + b'"}'
    assert_refused(post(client, body), 413, "too_large")


class CountingStream(io.BytesIO):
    """A request stream that remembers how much the view read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


@override_settings(SIPDESK_WEBHOOK_MAX_BYTES=2048)
def test_a_huge_chunked_body_is_413_after_reading_only_the_limit(wsgi_client):
    stream = CountingStream(b'{"padding": "' + b"x" * 1_000_000 + b'"}')
    response = post(wsgi_client, b"", CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": stream})

    assert_refused(response, 413, "too_large")
    assert stream.consumed <= 2049


@override_settings(SIPDESK_WEBHOOK_MAX_BYTES=2048)
def test_a_lying_small_content_length_never_reads_past_it(wsgi_client):
    stream = CountingStream(VCS + b" " * 1_000_000)
    response = post(wsgi_client, b"", CONTENT_LENGTH=str(len(VCS)), **{"wsgi.input": stream})

    assert response.status_code == 200
    assert stream.consumed == len(VCS)


def test_a_chunked_body_without_content_length_is_stored(wsgi_client):
    response = post(
        wsgi_client, b"", CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(VCS)}
    )

    assert response.status_code == 200
    assert RawEvent.objects.get().dedupe_key == "CALL_STATUS:0d2e8b7a-eadf-11f0-8a3a-6b7e2e7b1c11"


def test_an_invalid_content_length_is_400(client):
    assert_refused(post(client, VCS, CONTENT_LENGTH="12abc"), 400, "invalid_content_length")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty_body"),
        (b"  \n ", "empty_body"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b'{"a": "caf\xe9"}', "invalid_utf8"),
        (b"{not json", "invalid_json"),
        (b'{"a": 1,}', "invalid_json"),
        (b'{"a": NaN}', "invalid_json"),
        (b'{"a": Infinity}', "invalid_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"42", "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "too_deep"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
        (b'{"a": "\\u0000"}', "unstorable_value"),
        (b'{"a": "\\ud800"}', "unstorable_value"),
        (b'{"a": ["x", {"\\udc00": 1}]}', "unstorable_value"),
    ],
)
def test_unusable_bodies_are_400_with_the_reason(client, body, reason):
    assert_refused(post(client, body), 400, reason)


def test_brackets_inside_strings_do_not_count_as_depth(client):
    body = b'{"eventType": "CALL_STATUS", "note": "' + b"[{" * 200 + b'"}'
    assert post(client, body).status_code == 200


@pytest.mark.parametrize("body", [b"{}", b'{"eventType": "NOPE"}', b'{"eventType": 5, "payload": []}'])
def test_a_json_object_with_unknown_or_missing_fields_is_stored_as_unknown(client, body):
    response = post(client, body)

    assert response.status_code == 200
    event = RawEvent.objects.get()
    assert (event.event_type, event.state) == ("UNKNOWN", "pending")
    assert event.dedupe_key.startswith("sha256:")


def test_odd_ids_are_cut_to_the_column_and_odd_types_are_ignored(client):
    body = {"eventType": "CALL_STATUS", "payload": {"eventId": "e" * 500, "sessionId": ["x"], "callId": 12345,
                                                     "subAccountId": True}}  # fmt: skip
    assert post(client, body).status_code == 200
    event = RawEvent.objects.get()
    assert event.dedupe_key.startswith("sha256:")  # an eventId too long for the key column is not trusted
    assert (event.session_id, event.call_id, event.sub_account_id) == ("", "12345", "")


def test_duplicates_are_tallied(client):
    post(client, VCS)
    post(client, VCS)
    post(client, VCS)
    assert ReceiverTally.objects.get(outcome="duplicate").count == 2


@pytest.mark.parametrize("field", ["sessionId", "callId", "subAccountId", "eventId", "callStatus"])
@pytest.mark.parametrize(("value", "problem"), [("\ud800", "unpaired surrogate"), ("a\u0000b", "NUL")])
def test_a_value_postgresql_cannot_store_is_400_naming_the_field(client, field, value, problem):
    """Issue 9 #2: refused before it joins a group commit (the receiver) or reaches the database
    (the Django view answered 500), with the field named."""
    body = json.loads(VCS)
    body["payload"][field] = value
    response = post(client, json.dumps(body).encode())

    assert_refused(response, 400, "unstorable_value")
    assert f"payload.{field} holds" in response.json()["detail"]
    assert problem in response.json()["detail"]


def test_paired_surrogate_escapes_are_an_ordinary_character_and_stored(client):
    body = json.loads(VCS)
    body["payload"]["note"] = "\U0001f600"
    raw = json.dumps(body).encode()  # ensure_ascii: written as the escape pair "\\ud83d\\ude00"
    assert b"\\ud83d" in raw
    assert post(client, raw).status_code == 200
    assert RawEvent.objects.get().body["payload"]["note"] == "\U0001f600"
