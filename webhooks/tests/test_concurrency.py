"""Identical deliveries racing each other through a real server leave exactly one row."""

from __future__ import annotations

import threading
import urllib.request

import pytest

from webhooks.models import DeferredRepeat, RawEvent, ReceiverTally
from webhooks.tests.conftest import SECRET, fixture_body, fold_deferred_repeats

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_deliveries_store_one_row(live_server):
    body = fixture_body("vcs_2026")
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def deliver() -> None:
        request = urllib.request.Request(  # noqa: S310 - the test server
            f"{live_server.url}/webhooks/8x8/",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
        )
        barrier.wait()  # all threads fire at once
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test server
            answer = (response.status, response.read())
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=deliver) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [status for status, _ in answers] == [200] * THREADS
    assert sum(b'"stored"' in raw for _, raw in answers) == 1
    assert sum(b'"duplicate"' in raw for _, raw in answers) == THREADS - 1
    # Deliveries that found the row held by another's bump were counted aside, not waited for;
    # the next classification batch adds them (webhooks.ingest.FOLD_SQL).
    fold_deferred_repeats()
    event = RawEvent.objects.get()
    assert event.deliveries == THREADS
    assert not DeferredRepeat.objects.exists()
    assert sum(ReceiverTally.objects.filter(outcome="duplicate").values_list("count", flat=True)) == THREADS - 1
