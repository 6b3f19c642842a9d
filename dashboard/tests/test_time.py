"""Absolute windows, the viewer's time zone, click-through charts, baselines and "Copy link"."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from dashboard.tests.factories import code_rollup, make_session, session_rollup
from dashboard.timerange import CUSTOM_WINDOW, Window, window_from

pytestmark = pytest.mark.django_db

SINGAPORE = zoneinfo.ZoneInfo("Asia/Singapore")


def _recent_hour() -> datetime:
    """The start of a whole UTC hour an hour or two ago: inside the minute buckets."""
    return (timezone.now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def test_a_typed_time_is_read_in_the_viewers_zone_and_links_carry_utc():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    with timezone.override(SINGAPORE):
        window, error = window_from({"start": "2026-12-02T14:30", "end": "2026-12-02T15:30"}, now=now)
    assert error == ""
    assert window.key == CUSTOM_WINDOW
    assert window.start == datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # 14:30 in Singapore (UTC+8)
    assert window.query == "start=2026-12-02T06:30:00Z&end=2026-12-02T07:30:00Z"
    assert window.sessions_query == window.query


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "notadate", "end": "2026-12-02T10:00"}, "must be dates"),
        ({"start": "2026-12-02T10:00", "end": "2026-12-02T09:00"}, "before end"),
        ({"start": "2020-01-01T00:00", "end": "2026-12-02T09:00"}, "at most"),
        ({"start": "\x00\ud800" * 30, "end": "x"}, "must be dates"),
    ],
)
def test_a_bad_range_falls_back_to_the_relative_window_with_an_error(params, message):
    window, error = window_from({**params, "window": "24h"})
    assert message in error
    assert window.key == "24h"


def test_a_range_older_than_the_minute_buckets_is_widened_to_whole_hours():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    window, _ = window_from({"start": "2026-11-20T10:20Z", "end": "2026-11-21T10:05Z"}, now=now)
    assert (window.start, window.end) == (
        datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
    )


def test_overview_codes_and_troubleshooting_take_an_absolute_range(support_client):
    hour = _recent_hour()
    session_rollup(hour + timedelta(minutes=10), "COMPLETED", 4)
    session_rollup(hour + timedelta(minutes=70), "FAILED", 9)  # outside the range
    code_rollup(hour + timedelta(minutes=10), "503", 3)
    code_rollup(hour + timedelta(minutes=70), "503", 40)  # outside the range
    query = f"start={hour:%Y-%m-%dT%H:%MZ}&end={hour + timedelta(hours=1):%Y-%m-%dT%H:%MZ}"
    tiles = {t.label: t for t in support_client.get(f"/?{query}").context["tiles"]}
    assert tiles["Sessions"].value == "4"
    assert tiles["Answered"].value == "100.0%"
    assert support_client.get(f"/codes/?{query}").context["total"] == 3
    entries = support_client.get(f"/troubleshooting/?{query}").context["entries"]
    assert max(item["total"] for item in entries) == 3
    body = support_client.get(f"/codes/?{query}").content.decode()
    end = hour + timedelta(hours=1)
    bar = f"/sessions/?sip_code=503&amp;start={hour:%Y-%m-%dT%H:%M:%SZ}&amp;end={end:%Y-%m-%dT%H:%M:%SZ}"
    assert f'<a href="{bar}"' in body  # the chart's bar: that code's sessions over the same range


def test_a_bad_range_is_shown_as_an_error_next_to_the_inputs(support_client):
    body = support_client.get("/?start=2026-12-02T10:00&end=2026-12-02T09:00").content.decode()
    assert re.search(r'<p class="field-error" role="alert">Start must be before end.</p>', body)


def test_times_are_shown_in_the_viewers_zone_with_utc_on_hover(support_client):
    s = make_session(status="COMPLETED", start=datetime(2026, 12, 1, 23, 30, 5, 123456, tzinfo=UTC))
    support_client.cookies["sipdesk_tz"] = "Asia/Singapore"
    body = support_client.get(f"/sessions/{s.session_id}/").content.decode()
    # A valid HTML datetime: milliseconds at most, in UTC; the text in Singapore time (UTC+8).
    assert (
        '<time datetime="2026-12-01T23:30:05.123Z" title="2026-12-01 23:30:05 UTC">2026-12-02 07:30:05 +08</time>'
        in (body)
    )
    overview = support_client.get("/").content.decode()
    assert "Times in <strong>Asia/Singapore</strong>" in overview


def test_a_typed_range_on_the_page_uses_the_zone_cookie(support_client):
    hour = _recent_hour().astimezone(SINGAPORE)
    session_rollup(hour + timedelta(minutes=10), "COMPLETED", 4)
    support_client.cookies["sipdesk_tz"] = "Asia/Singapore"
    start, end = hour.strftime("%Y-%m-%dT%H:%M"), (hour + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    response = support_client.get(f"/?start={start}&end={end}")
    assert response.context["window"].start == hour
    assert response.context["tiles"][0].value == "4"
    # The range inputs show the same local times back.
    assert f'name="start" value="{start}"' in response.content.decode()


@pytest.mark.parametrize("cookie", ["../../etc/passwd", "Mars/Olympus", "x" * 500, "/etc/localtime", ""])
def test_a_hostile_zone_cookie_means_utc(support_client, cookie):
    support_client.cookies["sipdesk_tz"] = cookie
    response = support_client.get("/")
    assert response.status_code == 200
    assert "Times in <strong>UTC</strong>" in response.content.decode()


def test_utc_tag_never_writes_more_than_milliseconds():
    out = Template("{% load sipdesk %}{% utc t %}").render(
        Context({"t": datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)})
    )
    assert 'datetime="2026-01-02T03:04:05.999Z"' in out
    whole = Template("{% load sipdesk %}{% utc t %}").render(Context({"t": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}))
    assert 'datetime="2026-01-02T03:04:05Z"' in whole


def test_outcome_chart_bars_open_their_sessions_and_bins_zoom(support_client):
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=7)
    session_rollup(minute, "FAILED", 3)
    session_rollup(minute, "COMPLETED", 5)
    body = support_client.get("/?window=15m").content.decode()
    start, end = minute.strftime("%Y-%m-%dT%H:%M:%SZ"), (minute + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<a href="/sessions/?start={start}&amp;end={end}&amp;outcome=failed"' in body
    assert f'<a href="/sessions/?start={start}&amp;end={end}&amp;outcome=answered"' in body
    assert f'<a href="/?start={start}&amp;end={end}" aria-label="Zoom to' in body
    # The link leads to exactly those sessions.
    failed = make_session(status="FAILED", sip_code=503, start=minute + timedelta(seconds=20))
    make_session(status="FAILED", sip_code=503, start=minute + timedelta(minutes=2))
    rows = support_client.get(f"/sessions/?start={start}&end={end}&outcome=failed").context["page"].rows
    assert [r.session_id for r in rows] == [failed.session_id]


def test_chart_axes_follow_the_viewers_zone(support_client):
    support_client.cookies["sipdesk_tz"] = "Asia/Kolkata"  # UTC+5:30: minutes differ from UTC
    body = support_client.get("/?window=15m").content.decode()
    first_bin = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=15)
    local = first_bin.astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert f'text-anchor="middle">{local:%H:%M}</text>' in body


def test_tiles_and_code_shares_compare_with_a_week_earlier(support_client):
    now = timezone.now()
    week = now - timedelta(days=7)
    # The last 3 h read minute buckets; a week ago, hour buckets.
    session_rollup(now - timedelta(minutes=10), "COMPLETED", 8)
    session_rollup(now - timedelta(minutes=10), "FAILED", 2)
    session_rollup(week - timedelta(minutes=10), "COMPLETED", 3, size="hour")
    session_rollup(week - timedelta(minutes=10), "FAILED", 2, size="hour")
    code_rollup(now - timedelta(minutes=10), "486", 4)
    code_rollup(now - timedelta(minutes=10), "200", 4)
    code_rollup(week - timedelta(minutes=10), "486", 1, size="hour")
    code_rollup(week - timedelta(minutes=10), "200", 3, size="hour")
    window = Window("custom", now - timedelta(hours=3), now)
    query = window.query
    response = support_client.get(f"/?{query}")
    tiles = {t.label: t for t in response.context["tiles"]}
    assert tiles["Sessions"].week_change == 100.0  # 10 vs 5
    assert tiles["Answered"].week_change == 20.0  # 80 % vs 60 %
    assert "vs a week earlier" in response.content.decode()
    lines = {line.code: line for line in support_client.get(f"/codes/?{query}").context["known"]}
    assert lines["486"].share_week_change == 25.0  # 50 % of codes vs 25 %: up, beyond traffic


def test_copy_link_freezes_a_relative_window(support_client):
    response = support_client.get("/?window=15m")
    window = response.context["window"]
    frozen = f"start={window.start:%Y-%m-%dT%H:%M:%SZ}&end={window.end:%Y-%m-%dT%H:%M:%SZ}".replace("&", "&amp;")
    assert f'<a href="?{frozen}" class="copy-link" data-copy-link' in response.content.decode()
    codes = support_client.get("/codes/?window=1h&code=486").content.decode()
    assert re.search(r'<a href="\?start=[^"]+&amp;code=486" class="copy-link"', codes)


def test_the_sessions_list_reads_and_labels_times_in_the_viewers_zone(support_client):
    inside = make_session(status="COMPLETED", start=datetime(2026, 12, 1, 6, 45, tzinfo=UTC))
    make_session(status="COMPLETED", start=datetime(2026, 12, 1, 7, 45, tzinfo=UTC))
    support_client.cookies["sipdesk_tz"] = "Asia/Singapore"
    response = support_client.get("/sessions/?start=2026-12-01T14:30&end=2026-12-01T15:30")  # 06:30–07:30 UTC
    assert [r.session_id for r in response.context["page"].rows] == [inside.session_id]
    assert "From (Asia/Singapore)" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "start=0001-01-01T00:00Z&end=0001-01-09T00:00Z",
        "start=0001-01-01T00:00%2B14:00&end=0001-01-02T00:00Z",
        "start=9999-12-24T00:00Z&end=9999-12-31T23:59Z",
    ],
)
@pytest.mark.parametrize("page", ["/", "/codes/", "/kpis/", "/sessions/", "/troubleshooting/"])
def test_a_range_at_the_calendar_s_edges_is_refused_not_a_500(support_client, page, query):
    """The window before and the week before a range in year 1 left the calendar (OverflowError)."""
    response = support_client.get(f"{page}?{query}")
    assert response.status_code == 200
    if page != "/sessions/":  # the list checks its own range fields (dashboard/forms.py)
        assert "A range must fall between 1970-01-01 and 9000-01-01." in response.content.decode()
