from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.tests.factories import make_event, make_session
from reference.models import SipCode

pytestmark = pytest.mark.django_db


def url(session) -> str:
    return f"/sessions/{session.session_id}/"


def test_anonymous_is_sent_to_login(client):
    s = make_session()
    response = client.get(url(s))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_unknown_session_is_404(support_client):
    assert support_client.get("/sessions/no-such-session/").status_code == 404


def test_header_shows_primary_cause_explanation_and_retry_advice(support_client):
    s = make_session(status="BUSY", sip_code=486, fault_side="customer")
    body = support_client.get(url(s)).content.decode()
    assert "Primary cause: SIP 486 Busy Here" in body
    assert "Nothing is wrong with the setup; try again later." in body
    assert "Retry later" in body
    assert "<strong>Fault side:</strong> Customer behaviour" in body
    assert f'href="http://testserver{url(s)}"' in body  # permalink


def test_admin_edits_to_the_reference_show_at_once(support_client):
    s = make_session(status="BUSY", sip_code=486)
    SipCode.objects.filter(code=486).update(explanation="Edited by the reference admin.")
    assert "Edited by the reference admin." in support_client.get(url(s)).content.decode()


def test_troubleshooting_guidance_for_the_cause(support_client):
    s = make_session(status="FAILED", sip_code=503)
    body = support_client.get(url(s)).content.decode()
    assert "Network/routing issues" in body
    assert "Contact 8x8 CPaaS Support" in body


def test_error_code_guidance(support_client):
    s = make_session(status="ERROR", error_code=-2004, error_message="No coverage available for requested area")
    body = support_client.get(url(s)).content.decode()
    assert "8x8 error -2004: No coverage available for requested area" in body


def test_unknown_code_is_explained_by_its_class(support_client):
    s = make_session(status="FAILED", sip_code=499)
    body = support_client.get(url(s)).content.decode()
    assert "SIP 499 (not in the reference)" in body
    assert "Not in the reference" in body  # the leg's reason column


def test_timeline_is_in_event_time_order_with_duplicates_and_out_of_order_marked(support_client):
    s = make_session(status="BUSY", sip_code=486, anomalies=["out_of_order", "duplicate_delivery"])
    t0 = s.start_time
    now = timezone.now()
    # Arrival order: disconnect first, then the earlier initiate (late), then VSS (delivered twice).
    make_event(s, call_status="CALL_DISCONNECTED", sip_code=486, event_time=t0 + timedelta(seconds=20), received_at=now)
    make_event(s, call_status="CALL_INITIATED", sip_code=200, event_time=t0, received_at=now + timedelta(seconds=1))
    make_event(
        s, event_type="SESSION_SUMMARY", call_status="BUSY", event_time=t0 + timedelta(seconds=25),
        received_at=now + timedelta(seconds=2), deliveries=3,
    )  # fmt: skip
    detail = support_client.get(url(s)).context["d"]
    assert [e.classification.call_status for e in detail.timeline] == ["CALL_INITIATED", "CALL_DISCONNECTED", "BUSY"]
    assert [e.out_of_order for e in detail.timeline] == [True, False, False]
    assert [e.duplicate for e in detail.timeline] == [False, False, True]
    body = support_client.get(url(s)).content.decode()
    assert "out of order" in body
    assert "delivered 3 times (8x8 retried or re-sent)" in body
    assert "Events arrived out of order" in body  # the session's anomaly list


def test_pending_event_without_classification_is_shown(support_client):
    s = make_session(status="IN_PROGRESS")
    make_event(s, classify=False, state="pending")
    body = support_client.get(url(s)).content.decode()
    assert "pending" in body


def test_raw_payload_is_pretty_printed_and_escaped(support_client):
    s = make_session()
    make_event(s, body={"eventType": "CALL_STATUS", "payload": {"note": "<script>alert(1)</script>"}})
    body = support_client.get(url(s)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&quot;payload&quot;: {\n" in body  # indented JSON


def test_numbers_are_masked_in_legs_and_raw_payloads(support_client):
    s = make_session(destination="+6591234567")
    make_event(
        s, body={"payload": {"destination": "+6591234567", "details": {"CallA": {"Destination": "+6591234567"}}}}
    )
    body = support_client.get(url(s)).content.decode()
    assert "+6591234567" not in body
    assert "+65 9•••• 4567" in body


def test_numbers_are_shown_with_permission(numbers_client):
    s = make_session(destination="+6591234567")
    make_event(s, body={"payload": {"destination": "+6591234567"}})
    body = numbers_client.get(url(s)).content.decode()
    assert body.count("+6591234567") >= 2


def test_in_progress_session_polls_and_finished_one_does_not(support_client):
    live = make_session(status="IN_PROGRESS")
    done = make_session(status="COMPLETED")
    assert "every 3s" in support_client.get(url(live)).content.decode()
    assert "every 3s" not in support_client.get(url(done)).content.decode()


def test_htmx_request_returns_only_the_partial(support_client):
    s = make_session(status="IN_PROGRESS")
    body = support_client.get(url(s), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<div id="session-body"')


def test_query_count_is_bounded(support_client, django_assert_max_num_queries):
    s = make_session(status="FAILED", sip_code=503, legs=2)
    for i in range(10):
        make_event(s, sip_code=503, event_time=s.start_time + timedelta(seconds=i))
    # 15: the raw events are up to five reads whatever their number (the unclassified ones by a
    # statement prepared on the server, 2 statements or 3 the first time on a connection; the
    # session's received times; the classified ones from their partitions: dashboard/reads/session.py).
    with django_assert_max_num_queries(15):
        support_client.get(url(s))


def test_a_summary_with_whole_seconds_is_not_flagged_out_of_order(support_client):
    s = make_session(status="BUSY", sip_code=486)
    t0 = s.start_time.replace(microsecond=0)
    now = timezone.now()
    make_event(s, sip_code=486, event_time=t0 + timedelta(seconds=8, milliseconds=420), received_at=now)
    make_event(
        s, event_type="SESSION_SUMMARY", call_status="BUSY", event_time=t0 + timedelta(seconds=8),
        received_at=now + timedelta(seconds=1),
    )  # fmt: skip
    timeline = support_client.get(url(s)).context["d"].timeline
    assert [e.raw.event_type for e in timeline] == ["CALL_STATUS", "SESSION_SUMMARY"]
    assert [e.out_of_order for e in timeline] == [False, False]


def test_repeat_deliveries_are_counted_and_never_called_duplicates_from_8x8(support_client):
    """Issue 9 #7: a retry after a lost answer is a repeat delivery too; the page must not claim
    8x8 sent a duplicate, only say how often each event arrived."""
    s = make_session(status="BUSY", sip_code=486, anomalies=["duplicate_delivery"])
    make_event(s, deliveries=2)
    make_event(s, deliveries=3, call_status="CALL_INITIATED")
    make_event(s)

    body = support_client.get(url(s)).content.decode()

    assert "Delivered more than once (8x8 retried or re-sent): 2 event(s) delivered 5 times in all" in body
    assert body.count("(8x8 retried or re-sent)</span>") == 2
    assert "uplicate" not in body.replace("duplicate_delivery", "")


def test_a_failed_leg_without_a_disconnect_shows_no_green_200(support_client):
    s = make_session(status="FAILED", legs=1)
    s.legs.update(status="CALL_INITIATED", final_status="FAILED", final_sip_code=None, last_sip_code=200)
    make_event(s, call_status="CALL_INITIATED", sip_code=200)
    body = support_client.get(url(s)).content.decode()
    assert 'class="badge sip-2"' not in body  # neither in the legs table nor on the timeline
    assert "no final code" in body
    assert "(last seen 200, not final)" in body
    assert '<span class="badge badge-plain" title="Not an outcome' in body


def test_anomaly_chips_appear_once_and_fault_side_reads_one_way(support_client):
    s = make_session(status="FAILED", sip_code=503, anomalies=["out_of_order"], fault_side="network")
    raw = make_event(s, call_status="CALL_DISCONNECTED", sip_code=503, deliveries=2)
    raw.eventclassification.anomalies = ["out_of_order", "duplicate_delivery", "non_e164_number"]
    raw.eventclassification.save()
    body = support_client.get(url(s)).content.decode()
    entry = body[body.index('<ol class="timeline">') :]
    assert entry.count("out of order") == 1
    assert "Events arrived out of order" not in entry  # the entry's own flag says it
    assert "Duplicate deliveries received" not in entry
    assert "Phone number not in E.164 format" in entry
    assert body.count("Events arrived out of order") == 1  # the session's anomaly list
    assert body.count("Network / platform") == 2  # summary and cause box, one vocabulary
    assert "Responsibility" not in body


def test_out_of_order_on_the_page_is_the_classifiers_rule(support_client):
    """Issue 11: one out-of-order rule (classify/rules.py). Times compare at whole seconds, so an
    event at :04.900 arriving after one at :05.100 is late, as the classifier flags it."""
    s = make_session(status="BUSY", sip_code=486)
    t0 = s.start_time.replace(microsecond=0)
    now = timezone.now()
    make_event(s, sip_code=486, event_time=t0 + timedelta(seconds=5, milliseconds=100), received_at=now)
    make_event(
        s, call_status="CALL_INITIATED", event_time=t0 + timedelta(seconds=4, milliseconds=900),
        received_at=now + timedelta(seconds=1),
    )  # fmt: skip
    timeline = support_client.get(url(s)).context["d"].timeline
    assert [e.classification.call_status for e in timeline] == ["CALL_INITIATED", "CALL_DISCONNECTED"]
    assert [e.out_of_order for e in timeline] == [True, False]


@pytest.mark.django_db(transaction=True)
def test_every_raw_event_is_shown_from_the_partitions_its_received_times_span(support_client):
    """The pipeline keeps each session's first and last received times; the page reads its
    classified events from the day partitions between them, and its pending and failed ones
    wherever they are (dashboard/reads/session.py). Events days apart, a failed one and a
    pending one received days later all show, and the classified read prunes the partitions."""
    import json
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from classify.models import Session
    from classify.tests.helpers import drain, session_bodies, store
    from webhooks.models import EventState, RawEvent

    bodies = session_bodies(random.Random(3), 1)[0]
    session_id = bodies[0]["payload"]["sessionId"]
    for body in bodies:
        store(body)
    first, *_, last = RawEvent.objects.filter(session_id=session_id).order_by("id")
    now = timezone.now()
    RawEvent.objects.filter(pk=first.pk).update(received_at=now - timedelta(days=4))  # moves partition
    RawEvent.objects.filter(pk=last.pk).update(received_at=now - timedelta(days=2))
    drain()
    session = Session.objects.get(session_id=session_id)
    assert session.first_received_at == now - timedelta(days=4)
    assert session.last_received_at >= now - timedelta(days=2)

    failed = RawEvent.objects.create(
        received_at=now - timedelta(days=6), event_type="CALL_STATUS", dedupe_key="failed-one",
        session_id=session_id, body={"broken": True}, state=EventState.FAILED,
    )  # fmt: skip
    store({**bodies[0], "payload": {**bodies[0]["payload"], "eventId": "late-one"}})
    late = RawEvent.objects.get(session_id=session_id, state=EventState.PENDING)
    RawEvent.objects.filter(pk=late.pk).update(received_at=now + timedelta(days=3))

    with CaptureQueriesContext(connection) as queries:
        timeline = support_client.get(url(session)).context["d"].timeline
    shown = [entry.raw.id for entry in timeline]
    assert sorted(shown) == sorted(RawEvent.objects.filter(session_id=session_id).values_list("id", flat=True))
    assert failed.id in shown
    assert late.id in shown

    (classified,) = [q["sql"] for q in queries if "webhooks_rawevent" in q["sql"] and 'received_at" >=' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + classified)
        plan = json.dumps(cursor.fetchone()[0])
    partitions = plan.count('"Relation Name": "webhooks_rawevent_p')
    assert 1 <= partitions <= 4, plan  # days 4, 3 and 2 back, not every one

    # Once classified, the late event widens the session's received times and is read from them.
    drain()
    session.refresh_from_db()
    assert session.last_received_at == now + timedelta(days=3)
    timeline = support_client.get(url(session)).context["d"].timeline
    assert sorted(e.raw.id for e in timeline) == sorted(
        RawEvent.objects.filter(session_id=session_id).values_list("id", flat=True)
    )
    assert late.id in {e.raw.id for e in timeline}
