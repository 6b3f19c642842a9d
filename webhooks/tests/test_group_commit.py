"""Group commit (webhooks/group_commit.py): batches answer each request as if it were alone."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from django.db import connection
from django.utils import timezone

from webhooks.group_commit import GroupCommitWriter
from webhooks.ingest import PreparedEvent, ingest, prepare
from webhooks.models import EventState, RawEvent, ReceiverTally
from webhooks.tests.conftest import fixture_body, fixture_json

pytestmark = pytest.mark.django_db(transaction=True)


def prepared(body: bytes | dict) -> PreparedEvent:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    event = prepare(raw, remote_addr="52.220.253.234", user_agent="8x8")
    assert isinstance(event, PreparedEvent)
    return event


def tally(outcome: str, reason: str = "") -> int:
    return sum(ReceiverTally.objects.filter(outcome=outcome, reason=reason).values_list("count", flat=True))


async def store_together(writer: GroupCommitWriter, events: list[PreparedEvent]) -> list:
    """Hand every event to the writer before it runs, so they share batches; then close it."""
    results = await asyncio.gather(*(writer.store(event) for event in events))
    await writer.close()
    return [(r.http_status, r.status, r.event_id, r.reason) for r in results]


def test_one_batch_answers_stored_duplicate_and_refused_per_event():
    earlier = ingest(fixture_body("vss_ivr_completed"))  # stored before the batch
    unstorable = fixture_json("vcs_2025")
    unstorable["payload"]["eventId"] = "not-storable"
    # prepare() refuses a NUL itself (webhooks.ingest.unstorable_value); this one slips past it, as
    # anything else PostgreSQL refuses would, to show the batch still stores the others.
    poisoned = dataclasses.replace(prepared(unstorable), body_text=json.dumps({**unstorable, "note": "\u0000"}))
    events = [
        prepared(fixture_body("vcs_2026")),
        prepared(fixture_body("vcs_2026")),  # a repeat inside the batch
        poisoned,
        prepared(fixture_body("vca_ivr_flat_dtmf")),
        prepared(fixture_body("vss_ivr_completed")),
    ]
    writer = GroupCommitWriter()

    answers = asyncio.run(store_together(writer, events))

    vcs = RawEvent.objects.get(dedupe_key=events[0].dedupe_key)
    vca = RawEvent.objects.get(dedupe_key=events[3].dedupe_key)
    assert answers[0] == (200, "stored", vcs.id, "")
    assert answers[1] == (200, "duplicate", vcs.id, "")
    assert answers[2][:2] == (400, "refused")
    assert answers[2][3] == "unstorable_json"
    assert answers[3] == (200, "stored", vca.id, "")
    assert answers[4] == (200, "duplicate", earlier.event_id, "")
    assert writer.batches_written == 1
    assert RawEvent.objects.count() == 3  # nothing of the refused body
    assert vcs.deliveries == 2
    assert vca.deliveries == 1
    assert RawEvent.objects.get(id=earlier.event_id).deliveries == 2
    assert (tally("duplicate"), tally("refused", "unstorable_json")) == (2, 1)
    assert (vcs.remote_addr, vcs.user_agent, vcs.state, vcs.body) == (
        "52.220.253.234", "8x8", EventState.PENDING, fixture_json("vcs_2026"),
    )  # fmt: skip


def test_a_repeat_of_a_classified_event_goes_back_to_the_queue():
    first = ingest(fixture_body("vcs_2026"))
    RawEvent.objects.filter(id=first.event_id).update(state=EventState.PROCESSED, processed_at=timezone.now())

    answers = asyncio.run(store_together(GroupCommitWriter(), [prepared(fixture_body("vcs_2026"))]))

    assert answers == [(200, "duplicate", first.event_id, "")]
    event = RawEvent.objects.get()
    assert (event.state, event.deliveries) == (EventState.PENDING, 2)


def test_concurrent_requests_share_batches_up_to_the_limit():
    bodies = [fixture_json("vcs_2026") | {"payload": {"eventId": f"evt-{n}"}} for n in range(25)]
    writer = GroupCommitWriter(max_batch=10)

    answers = asyncio.run(store_together(writer, [prepared(body) for body in bodies]))

    assert [status for _, status, _, _ in answers] == ["stored"] * 25
    assert writer.batches_written == 3  # 10 + 10 + 5
    assert sorted(RawEvent.objects.values_list("id", flat=True)) == sorted(answer[2] for answer in answers)


def test_an_unreachable_database_is_503_for_the_whole_batch_and_nothing_is_half_written():
    writer = GroupCommitWriter("host=127.0.0.1 port=1 dbname=nothing connect_timeout=2")

    answers = asyncio.run(
        store_together(writer, [prepared(fixture_body("vcs_2026")), prepared(fixture_body("vcs_2025"))])
    )

    assert [(status, reason) for status, _, _, reason in answers] == [(503, "database_unavailable")] * 2
    assert RawEvent.objects.count() == 0


def test_a_request_whose_client_hung_up_is_still_stored():
    async def hang_up() -> None:
        writer = GroupCommitWriter()
        waiting = asyncio.ensure_future(writer.store(prepared(fixture_body("vcs_2026"))))
        await asyncio.sleep(0)  # the event is handed over ...
        waiting.cancel()  # ... and the client goes away before the commit
        await writer.close()

    asyncio.run(hang_up())

    assert RawEvent.objects.count() == 1


def test_tallies_are_written_on_close_even_without_events():
    async def refusals() -> None:
        writer = GroupCommitWriter()
        writer.tally("refused", "unauthorized")
        writer.tally("refused", "unauthorized")
        writer.tally("refused", "invalid_json")
        await writer.close()

    asyncio.run(refusals())

    assert (tally("refused", "unauthorized"), tally("refused", "invalid_json")) == (2, 1)


def unauthorized_in_another_thread() -> int:
    try:
        return tally("refused", "unauthorized")
    finally:
        connection.close()  # the worker thread's own connection


def test_refusals_alone_are_written_within_the_tally_interval():
    async def refuse_and_wait() -> None:
        writer = GroupCommitWriter()
        writer.tally("refused", "unauthorized")  # no event is ever stored by this writer
        for _ in range(50):
            await asyncio.sleep(0.1)
            if await asyncio.to_thread(unauthorized_in_another_thread):
                break
        assert await asyncio.to_thread(unauthorized_in_another_thread) == 1  # before close()
        await writer.close()

    asyncio.run(refuse_and_wait())


def test_a_connection_lost_between_batches_is_reopened_and_the_event_stored():
    async def across_a_restart() -> list:
        writer = GroupCommitWriter()
        first = await writer.store(prepared(fixture_body("vcs_2026")))
        assert writer._connection is not None
        backend = writer._connection.info.backend_pid
        await asyncio.to_thread(terminate, backend)  # as a PostgreSQL restart or failover would
        second = await writer.store(prepared(fixture_body("vcs_2025")))
        assert writer._connection is not None
        reconnected = writer._connection.info.backend_pid != backend
        await writer.close()
        return [first.status, second.status, reconnected]

    assert asyncio.run(across_a_restart()) == ["stored", "stored", True]
    assert RawEvent.objects.count() == 2


def terminate(backend_pid: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    finally:
        connection.close()  # the worker thread's own connection


@pytest.mark.parametrize(
    "poison",
    [{"session_id": "\ud800"}, {"call_id": "a\x00b"}, {"sub_account_id": "\udfff"}, {"dedupe_key": "k\x00"}],
    ids=["surrogate-session", "nul-call", "surrogate-sub-account", "nul-key"],
)
def test_a_value_that_cannot_be_sent_fails_only_its_own_event_in_a_batch(poison):
    """Issue 9 #2: an id psycopg cannot encode (it raises before PostgreSQL sees the statement) used
    to answer 503 to every webhook of the batch; the batch is halved until the culprit is alone."""
    innocent = [prepared({"eventType": "CALL_STATUS", "payload": {"eventId": f"e{i}", "sessionId": f"s{i}"}})
                for i in range(9)]  # fmt: skip
    culprit = dataclasses.replace(prepared({"eventType": "CALL_STATUS", "payload": {"eventId": "bad"}}), **poison)
    events = [*innocent[:4], culprit, *innocent[4:]]

    answers = asyncio.run(store_together(GroupCommitWriter(), events))

    assert [a[:2] for a in answers] == [(200, "stored")] * 4 + [(400, "refused")] + [(200, "stored")] * 5
    assert answers[4][3] == "unstorable_json"
    assert RawEvent.objects.count() == 9
