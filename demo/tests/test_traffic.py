"""The traffic generator tells a consistent, realistic story (other apps' tests build on it)."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from demo.traffic import FAILURES, deliveries, session_events
from webhooks.ingest import describe

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUS_FOR_CODE = {486: "BUSY", 480: "NO_ANSWER", 408: "NO_ANSWER", 487: "CANCELED", 404: "FAILED", 503: "FAILED"}


def sessions(n: int, seed: int = 7, **kwargs) -> list[list[dict]]:
    rng = random.Random(seed)
    return [session_events(rng, start=START, **kwargs) for _ in range(n)]


def test_the_same_seed_gives_the_same_traffic():
    assert sessions(20, seed=3) == sessions(20, seed=3)
    assert sessions(20, seed=3) != sessions(20, seed=4)


@pytest.mark.parametrize("product", ["IVR", "VOICE_MESSAGING", "NUMBER_MASKING"])
def test_every_session_ends_with_its_summary_and_shares_one_session_id(product):
    for events in sessions(200, product=product, quirks=False):
        summary = events[-1]
        assert summary["eventType"] == "SESSION_SUMMARY"
        assert {e["payload"]["sessionId"] for e in events} == {summary["payload"]["sessionId"]}
        leg_ids = {leg["callId"] for leg in summary["payload"]["details"].values()}
        assert {e["payload"]["callId"] for e in events[:-1]} <= leg_ids
        assert summary["payload"]["callCount"] == len(leg_ids)
        assert ("version" in summary) == (product == "IVR")


def test_vss_status_agrees_with_the_failing_sip_code():
    checked = 0
    for events in sessions(1500, quirks=False):
        summary = events[-1]["payload"]
        codes = [e["payload"]["sipCode"] for e in events
                 if e["eventType"] == "CALL_STATUS" and e["payload"]["callStatus"] == "CALL_DISCONNECTED"]  # fmt: skip
        failing = [c for c in codes if c != 200]
        if summary["sessionStatus"] == "ERROR":
            assert summary["errorDetails"]["errorCode"] in (
                -2001,
                -2002,
                -2003,
                -2004,
                -2005,
                -2006,
                -2008,
                -2010,
                -9999,
            )
        elif failing:
            assert summary["sessionStatus"] == FAILURES[failing[0]]
            checked += 1
        else:
            assert summary["sessionStatus"].startswith(("COMPLETED", "UNSUBSCRIBED"))
    assert checked > 200


def test_the_mix_covers_products_outcomes_codes_and_quirks():
    bodies = [body for events in sessions(3000) for body in events]
    raw = json.dumps(bodies)
    kinds = Counter(body.get("eventType", "LEGACY") for body in bodies)
    statuses = Counter(b["payload"]["sessionStatus"] for b in bodies if b.get("eventType") == "SESSION_SUMMARY")
    codes = {b["payload"]["sipCode"] for b in bodies if b.get("eventType") == "CALL_STATUS"}

    assert {"CALL_STATUS", "CALL_ACTION", "SESSION_SUMMARY", "LEGACY"} <= set(kinds)
    assert {"COMPLETED", "BUSY", "NO_ANSWER", "NO ANSWER", "CANCELED", "FAILED", "ERROR",
            "COMPLETED_UNSUBSCRIBED"} <= set(statuses)  # fmt: skip
    assert {200, 486, 480, 487, 404, 484, 403, 503, 502, 603, 408} <= codes
    assert statuses["COMPLETED"] > sum(statuses.values()) / 2  # mostly successful, like real traffic
    for quirk in ['"CallA"', '"SourceRefId": "null"', '"errorCode": "-', '"callDuration": "', '"dtmf": "',
                  '"eventData": " "', '"DTMF_RECEIVED"', '"destinationRefId"']:  # fmt: skip
        assert quirk in raw, quirk


def test_every_generated_body_has_a_dedupe_key_of_its_own_kind():
    keys = Counter()
    for events in sessions(300):
        for body in events:
            event_type, key, session_id, _, _ = describe(body)
            assert event_type != "UNKNOWN"
            assert session_id
            keys[key] += 1
    assert max(keys.values()) == 1  # no two distinct bodies collide


def test_deliveries_add_duplicates_and_reorder_without_losing_anything():
    rng = random.Random(11)
    events = [body for batch in sessions(50) for body in batch]
    delivered = deliveries(rng, events, duplicates=0.2, out_of_order=0.3)

    assert len(delivered) > len(events)
    assert {json.dumps(b, sort_keys=True) for b in delivered} == {json.dumps(b, sort_keys=True) for b in events}
    assert delivered[: len(events)] != events
