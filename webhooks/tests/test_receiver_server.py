"""The production receiver as deployed: gunicorn's ASGI worker serving config.receiver, over HTTP."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from classify.models import Session
from demo.traffic import traffic
from webhooks.models import RawEvent, ReceiverTally
from webhooks.tests.conftest import SECRET, AsgiClient, fixture_body, fold_deferred_repeats, post

pytestmark = pytest.mark.django_db(transaction=True)


def deliver(url: str, body: bytes, auth: str = f"Bearer {SECRET}") -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        f"{url}/webhooks/8x8/", data=body, headers={"Content-Type": "application/json", "Authorization": auth}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:  # an unclosed error keeps its connection open, and gunicorn waits for it on shutdown
            return error.code, json.loads(error.read())


def tally(outcome: str, reason: str = "") -> int:
    return sum(ReceiverTally.objects.filter(outcome=outcome, reason=reason).values_list("count", flat=True))


def eventually(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_twenty_concurrent_identical_deliveries_store_one_row(receiver_server):
    body = fixture_body("vcs_2026")
    barrier = threading.Barrier(20)

    def one() -> tuple[int, dict]:
        barrier.wait()
        return deliver(receiver_server.url, body)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: one(), range(20)))

    fold_deferred_repeats()  # repeats that found the row held by another process's bump
    event = RawEvent.objects.get()
    assert sorted(answer["status"] for _, answer in answers) == ["duplicate"] * 19 + ["stored"]
    assert {status for status, _ in answers} == {200}
    assert {answer["id"] for _, answer in answers} == {event.id}
    assert event.deliveries == 20
    assert eventually(lambda: tally("duplicate") == 19)


def test_realistic_traffic_over_many_connections_is_stored_once_each(receiver_server):
    stream = traffic(random.Random(7), duplicates=0.1, out_of_order=0.1)
    bodies = [json.dumps(body).encode() for body in itertools.islice(stream, 400)]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda body: deliver(receiver_server.url, body), bodies))

    assert {status for status, _ in answers} == {200}
    stored_ids = [answer["id"] for _, answer in answers if answer["status"] == "stored"]
    assert sorted(stored_ids) == sorted(RawEvent.objects.values_list("id", flat=True))
    fold_deferred_repeats()
    assert sum(RawEvent.objects.values_list("deliveries", flat=True)) == len(bodies)
    assert len(stored_ids) < len(bodies)  # the 10 % repeats were recognised


def test_refusals_answer_json_and_shutdown_writes_their_tallies(receiver_server):
    assert deliver(receiver_server.url, fixture_body("vcs_2026"), auth="Bearer wrong") == (
        401, {"error": "unauthorized", "detail": "missing or wrong Authorization header"},
    )  # fmt: skip
    assert deliver(receiver_server.url, b"{not json")[0] == 400
    with urllib.request.urlopen(f"{receiver_server.url}/healthz", timeout=5) as health:  # noqa: S310
        body = health.read()
        assert json.loads(body) == {"status": "ok"}
        assert health.headers["Content-Length"] == str(len(body))  # not chunked: simple clients keep up

    receiver_server.stop()  # SIGTERM, within the writer's first second: the shutdown writes the tallies

    assert (tally("refused", "unauthorized"), tally("refused", "invalid_json")) == (1, 1)
    assert RawEvent.objects.count() == 0


def test_what_the_receiver_stores_is_classified_by_a_real_worker(receiver_server, celery_worker_process):
    names = ["vcs_2026", "vss_ivr_completed", "vss_ivr_busy"]
    for name in names:
        assert deliver(receiver_server.url, fixture_body(name))[1]["status"] == "stored"

    assert eventually(lambda: not RawEvent.objects.filter(state="pending").exists(), timeout=60)
    assert set(RawEvent.objects.values_list("state", flat=True)) == {"processed"}
    assert Session.objects.count() == 3


@override_settings(ALLOWED_HOSTS=["sipdesk.example.com"])
def test_a_host_outside_allowed_hosts_is_refused_as_django_would():
    assert post(AsgiClient(), fixture_body("vcs_2026")).json() == {"error": "disallowed_host"}
    assert RawEvent.objects.count() == 0


def test_paths_other_than_the_webhook_urls_are_404():
    response = post(AsgiClient(), fixture_body("vcs_2026"), url="/admin/")

    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert RawEvent.objects.count() == 0


@override_settings(SIPDESK_WEBHOOK_MAX_BYTES=2048)
def test_a_huge_body_without_content_length_is_413_after_reading_only_the_limit():
    client = AsgiClient(chunk_size=1000)
    response = post(client, b'{"padding": "' + b"x" * 1_000_000 + b'"}', CONTENT_LENGTH="")

    assert (response.status_code, response.json()["error"]) == (413, "too_large")
    assert client.messages_read == 3  # 3,000 bytes: past the limit, and no further
    assert RawEvent.objects.count() == 0


def test_a_body_in_several_messages_is_stored_whole():
    response = post(AsgiClient(chunk_size=100), fixture_body("vss_ivr_completed"), CONTENT_LENGTH="")

    assert response.json()["status"] == "stored"
    assert RawEvent.objects.get().content_length == len(fixture_body("vss_ivr_completed"))
