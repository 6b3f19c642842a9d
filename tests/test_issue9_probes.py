"""Issue 9's probes, repeated against the real receiver and a real worker with the issue's figures.

The README's reliability table quotes what these measure (the counts are asserted; the times are
printed with ``-s``).
"""

from __future__ import annotations

import itertools
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from classify.models import CallLeg
from demo.traffic import traffic
from tests.test_unbreakable_pipeline import deliver, wait_until_drained
from webhooks.models import EventState, RawEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _vcs(event_id: str, session_id: str, call_id: str, status: str = "CALL_DISCONNECTED") -> dict:
    payload = {"eventId": event_id, "sessionId": session_id, "callId": call_id, "subAccountId": "probe",
               "callStatus": status, "sipCode": 486, "timestamp": "2026-12-01T08:00:00.000Z"}  # fmt: skip
    return {"namespace": "VOICE", "eventType": "CALL_STATUS", "payload": payload}


def test_400_concurrent_webhooks_with_133_poisoned_store_every_innocent_one(receiver_server):
    """On main 133 valid webhooks of 400 were answered 503 (their group commits failed)."""
    rng = random.Random(9)
    bodies = list(itertools.islice((b for b in traffic(rng, duplicates=0.0, out_of_order=0.0) if "payload" in b), 400))
    poison = ["\ud800", "\x00"]
    fields = ["sessionId", "callId", "subAccountId", "eventId"]
    poisoned = set(rng.sample(range(400), 133))
    for index in poisoned:
        bodies[index]["payload"][rng.choice(fields)] = "x" + rng.choice(poison)

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda body: deliver(receiver_server.url, body), bodies))

    innocent = [answers[i] for i in range(400) if i not in poisoned]
    refused = [answers[i] for i in poisoned]
    assert [status for status, _ in innocent] == [200] * 267
    assert [(status, answer["error"]) for status, answer in refused] == [(400, "unstorable_value")] * 133
    assert RawEvent.objects.count() == len({answer["id"] for _, answer in innocent})


def test_one_call_id_in_two_sessions_then_300_events_all_drain(receiver_server, celery_worker_process):
    """On main 270 of the 300 events behind the pair stayed pending for good."""
    assert deliver(receiver_server.url, _vcs("pair-1", "session-one", "shared-call"))[0] == 200
    assert deliver(receiver_server.url, _vcs("pair-2", "session-two", "shared-call"))[0] == 200
    started = time.monotonic()
    bodies = [_vcs(f"after-{i}", f"s-{i % 60}", f"c-{i}") for i in range(300)]
    with ThreadPoolExecutor(16) as pool:
        assert {status for status, _ in pool.map(lambda b: deliver(receiver_server.url, b), bodies)} == {200}

    assert wait_until_drained() == 0
    print(f"302 events stored and classified in {time.monotonic() - started:.1f} s")
    assert RawEvent.objects.filter(state=EventState.PROCESSED).count() == 302
    assert CallLeg.objects.filter(call_id="shared-call").count() == 2
