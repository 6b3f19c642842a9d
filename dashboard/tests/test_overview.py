from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.reads.common import parse_cursor
from dashboard.tests.factories import code_rollup, make_session, session_rollup
from webhooks.models import RawEvent, ReceiverTally

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_empty_overview_explains_how_to_point_8x8_here(support_client):
    response = support_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "http://testserver/webhooks/8x8/" in body  # the dashboard's own URL accepts webhooks too
    assert "httpAuthHeader" in body


def test_empty_overview_shows_the_receivers_public_url_when_configured(support_client, settings):
    settings.SIPDESK_WEBHOOK_PUBLIC_URL = "https://hooks.example.com/webhooks/8x8/"
    body = support_client.get("/").content.decode()
    assert "https://hooks.example.com/webhooks/8x8/" in body
    assert "http://testserver/webhooks/8x8/" not in body


def test_tiles_show_rates_and_change_against_previous_window(support_client):
    now = timezone.now()
    # Current hour: 6 answered, 2 busy, 2 failed. Previous hour: 5 answered, 5 failed.
    session_rollup(now - timedelta(minutes=10), "COMPLETED", 6)
    session_rollup(now - timedelta(minutes=11), "BUSY", 2)
    session_rollup(now - timedelta(minutes=12), "FAILED", 2)
    session_rollup(now - timedelta(minutes=70), "COMPLETED", 5)
    session_rollup(now - timedelta(minutes=71), "FAILED", 5)
    tiles = {t.label: t for t in support_client.get("/?window=1h").context["tiles"]}
    assert tiles["Sessions"].value == "10"
    assert tiles["Sessions"].change == 0.0
    assert tiles["Answered"].value == "60.0%"
    assert tiles["Answered"].change == 10.0  # 60 % vs 50 %: +10 percentage points
    assert tiles["Not answered"].value == "20.0%"
    assert tiles["Failed + error"].value == "20.0%"
    assert tiles["Failed + error"].change == -30.0


def test_window_picker_changes_the_span(support_client):
    now = timezone.now()
    session_rollup(now - timedelta(minutes=30), "COMPLETED", 4)
    session_rollup(now - timedelta(hours=5), "FAILED", 3)  # its hour and day too, as the pipeline keeps them
    assert {t.label: t.value for t in support_client.get("/?window=15m").context["tiles"]}["Sessions"] == "0"
    assert {t.label: t.value for t in support_client.get("/?window=1h").context["tiles"]}["Sessions"] == "4"
    assert {t.label: t.value for t in support_client.get("/?window=24h").context["tiles"]}["Sessions"] == "7"


def test_chart_is_server_side_svg(support_client):
    session_rollup(timezone.now() - timedelta(minutes=3), "FAILED", 2)
    body = support_client.get("/?window=15m").content.decode()
    assert "<svg" in body
    assert "Failed 2" in body  # the bar's tooltip


def test_top_failure_causes_link_to_sessions_and_guidance(support_client):
    for _ in range(3):
        make_session(status="BUSY", sip_code=486)
    make_session(status="ERROR", error_code=-2004)
    make_session(status="COMPLETED")
    response = support_client.get("/?window=1h")
    causes = response.context["causes"]
    assert [(c.cause, c.count, c.share) for c in causes] == [("486", 3, 75.0), ("-2004", 1, 25.0)]
    assert causes[0].reason == "Busy Here"
    assert causes[1].reason == "No coverage available for requested area"
    body = response.content.decode()
    assert "/sessions/?range=1h&amp;sip_code=486" in body
    assert "/troubleshooting/?window=1h#code-486" in body


def test_receiver_health_strip(support_client):
    s = make_session()
    now = timezone.now()
    RawEvent.objects.create(event_type="CALL_STATUS", dedupe_key="a", session_id=s.session_id, body={}, state="pending")
    RawEvent.objects.create(event_type="CALL_STATUS", dedupe_key="b", session_id=s.session_id, body={}, state="failed")
    ReceiverTally.objects.create(minute=now.replace(second=0, microsecond=0), outcome="duplicate", count=4)
    ReceiverTally.objects.create(
        minute=now.replace(second=0, microsecond=0), outcome="refused", reason="unauthorized", count=2
    )
    ReceiverTally.objects.create(minute=now - timedelta(days=2), outcome="duplicate", count=99)
    health = support_client.get("/?window=1h").context["health"]
    assert (health.pending, health.failed, health.duplicates, health.refusals) == (1, 1, 4, 2)
    assert health.refusals_by_reason == {"unauthorized": 2}
    assert health.last_event_at is not None


def test_the_health_strip_of_a_past_range_counts_only_that_range(support_client):
    """Failed events, repeats and refusals are the window's; the backlog and the last event are
    now's (a range two days back used to count everything since its start)."""
    from dashboard.timerange import CUSTOM_WINDOW, Window

    now = timezone.now()
    # Whole hours: a range past the minute buckets is widened to them (dashboard/timerange.py).
    end = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=1)
    inside, after = start + timedelta(minutes=10), end + timedelta(minutes=10)
    for key, at in (("in", inside), ("after", after), ("now", now)):
        RawEvent.objects.create(event_type="CALL_STATUS", dedupe_key=key, body={}, state="failed", received_at=at)
    RawEvent.objects.create(event_type="CALL_STATUS", dedupe_key="waiting", body={}, state="pending")
    for at, n in ((inside, 3), (after, 50), (now, 700)):
        ReceiverTally.objects.create(minute=at.replace(second=0, microsecond=0), outcome="duplicate", count=n)
        ReceiverTally.objects.create(
            minute=at.replace(second=0, microsecond=0), outcome="refused", reason="unauthorized", count=n
        )

    health = support_client.get(f"/?{Window(CUSTOM_WINDOW, start, end).query}").context["health"]

    assert (health.failed, health.duplicates, health.refusals) == (1, 3, 3)
    assert health.pending == 1


def test_htmx_window_switch_returns_only_the_partial(support_client):
    response = support_client.get("/?window=24h", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="overview-body"' in body
    assert 'id="feed-rows"' not in body


def test_tiles_refresh_themselves_for_the_chosen_window(support_client):
    body = support_client.get("/?window=7d").content.decode()
    assert 'id="overview-body" hx-get="?window=7d" hx-trigger="every 15s' in body

    # The refresh brings new numbers: sessions classified since the page loaded are counted.
    before = support_client.get("/?window=1h", HTTP_HX_REQUEST="true").context["tiles"][0].value
    session_rollup(timezone.now() - timedelta(minutes=1), "BUSY", 1)
    after = support_client.get("/?window=1h", HTTP_HX_REQUEST="true").context["tiles"][0].value
    assert (before, after) == ("0", "1")


def test_live_feed_returns_only_sessions_after_the_cursor(support_client):
    old = make_session(status="COMPLETED")
    first = support_client.get("/").context
    assert [r.session_id for r in first["feed_rows"]] == [old.session_id]
    cursor = first["feed_cursor"]
    # The cursor overlaps a few seconds (see dashboard/reads/sessions.py feed), so age the old row past it.
    type(old).objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    ts, _ = parse_cursor(cursor)
    cursor = f"{(ts - timedelta(seconds=30)).isoformat()}_0"
    new = make_session(status="FAILED", sip_code=503)
    response = support_client.get("/feed/", {"after": cursor}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert f"/sessions/{new.session_id}/" in body
    assert f"/sessions/{old.session_id}/" not in body
    assert "<html" not in body
    assert 'id="feed-poller"' in body
    assert 'hx-swap-oob="true"' in body
    assert "data-poll-when-visible" in body  # polling pauses while the tab is hidden (static/js/polling.js)


def test_feed_masks_numbers_without_permission(support_client):
    make_session(destination="+6591234567")
    body = support_client.get("/").content.decode()
    assert "+65 9•••• 4567" in body
    assert "+6591234567" not in body


def test_feed_shows_full_numbers_with_permission(numbers_client):
    make_session(destination="+6591234567")
    assert "+6591234567" in numbers_client.get("/").content.decode()


def test_overview_query_count_does_not_grow_with_sessions(support_client, django_assert_max_num_queries):
    for i in range(20):
        make_session(status="FAILED", sip_code=500 + i % 4, legs=2)
    code_rollup(timezone.now(), "503", 5)
    # 3 for the product signals (rollups, failed recordings, numbers), 1 for open incidents, 1 for sub-account
    # suggestions; 2 for the week-earlier baseline and who is behind the failure causes; 1 for the
    # disk guard (retention/disk.py); 2 for the backlog, a statement prepared on the server (3 the first
    # time on a connection: config/db.py).
    with django_assert_max_num_queries(24):
        support_client.get("/?window=1h")


def test_week_window_reads_failure_causes_from_rollups(support_client):
    code_rollup(timezone.now() - timedelta(days=2), "503", 7, size="hour")
    code_rollup(timezone.now() - timedelta(days=2), "200", 50, size="hour")
    session_rollup(timezone.now() - timedelta(days=3), "ERROR", 1, size="hour", error_code=-2004)
    causes = support_client.get("/?window=7d").context["causes"]
    assert [(c.cause, c.count) for c in causes] == [("503", 7), ("-2004", 1)]
    assert causes[0].reason == "Service Unavailable"


def _tile_change_classes(body: str) -> dict[str, str]:
    """Tile label -> the classes of its change line."""
    found = re.findall(r'<div class="tile-label">([^<]+)</div>.*?<div class="tile-change ([^"]+)"', body, re.S)
    return dict(found)


def test_changes_are_coloured_by_what_they_mean(support_client):
    now = timezone.now()
    # Previous hour: 8 answered, 2 failed. Current hour: 4 answered, 6 failed (and more traffic).
    session_rollup(now - timedelta(minutes=70), "COMPLETED", 8)
    session_rollup(now - timedelta(minutes=71), "FAILED", 2)
    session_rollup(now - timedelta(minutes=10), "COMPLETED", 4)
    session_rollup(now - timedelta(minutes=11), "FAILED", 8)
    tones = _tile_change_classes(support_client.get("/?window=1h").content.decode())
    assert tones["Answered"] == "worse"  # a fall in answered % is bad
    assert tones["Failed + error"] == "worse"  # a rise in failures is bad
    assert tones["Sessions"] == "flat"  # volume is neutral
    assert tones["Not answered"] == "flat"  # unchanged


def test_a_fall_in_failures_is_good_news():
    from dashboard.templatetags.sipdesk import change_tone, code_change_tone

    assert change_tone(-3.0, "bad") == "better"
    assert change_tone(3.0, "good") == "better"
    assert change_tone(None, "bad") == "flat"
    assert code_change_tone(50.0, "5xx") == "worse"
    assert code_change_tone(50.0, "2xx") == "flat"


def test_the_live_feed_filters_failures_and_one_sub_account(support_client):
    failed = make_session(status="FAILED", sip_code=503, sub_account="Acme_SG")
    make_session(status="COMPLETED", sub_account="Acme_SG")
    other = make_session(status="ERROR", error_code=-2004, sub_account="globex")

    def feed(**params) -> set[str]:
        response = support_client.get("/feed/", params, HTTP_HX_REQUEST="true")
        return {r.session_id for r in response.context["feed_rows"]}

    assert feed(failures="1") == {failed.session_id, other.session_id}
    assert feed(failures="1", sub_account="acme_sg") == {failed.session_id}
    assert len(feed()) == 3
    # The page itself renders the filtered feed too (without JavaScript the form reloads it).
    page = support_client.get("/", {"failures": "1", "sub_account": "GLOBEX"})
    assert [r.session_id for r in page.context["feed_rows"]] == [other.session_id]
    body = page.content.decode()
    assert 'name="failures" value="1" checked' in body
    assert 'hx-include="#feed-controls"' in body  # the poller keeps the filter
    assert 'data-cap="100"' in body
    assert "/static/js/feed.js" in body


def test_a_filtered_feed_with_nothing_to_show_says_so(support_client):
    make_session(status="COMPLETED")
    body = support_client.get("/feed/", {"failures": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "No matching session activity" in body
    # A poll (with a cursor) that finds nothing adds nothing.
    cursor = support_client.get("/feed/").context["feed_cursor"]
    polled = support_client.get("/feed/", {"failures": "1", "after": cursor}, HTTP_HX_REQUEST="true")
    assert "No matching session activity" not in polled.content.decode()
