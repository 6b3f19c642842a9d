from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from dashboard.reads.sessions import PAGE_SIZE
from dashboard.tests.factories import make_session

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    return [row.session_id for row in response.context["page"].rows]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_support_user_sees_sessions_newest_first(support_client):
    older = make_session(start=timezone.now() - timedelta(hours=2))
    newer = make_session(start=timezone.now() - timedelta(minutes=2))
    response = support_client.get("/sessions/")
    assert response.status_code == 200
    assert ids(response) == [newer.session_id, older.session_id]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sip_code=486", ["busy"]),
        ("sip_class=5xx", ["server"]),
        ("error_code=-2004", ["coverage"]),
        ("status=BUSY", ["busy"]),
        ("outcome=failed", ["server"]),
        ("outcome=error", ["coverage"]),
        ("sub_account=other_acct", ["coverage"]),
        ("product=NUMBER_MASKING", ["server"]),
        ("direction=INBOUND", ["server"]),
        ("country=lk", ["busy"]),
        ("number=%2B6598764567", ["ok"]),
        ("anomaly=out_of_order", ["busy"]),
        ("range=15m", ["ok", "busy", "server", "coverage"]),
        ("range=1h", ["ok", "busy", "server", "coverage", "old"]),
    ],
)
def test_filters_narrow_the_results(support_client, query, expected):
    now = timezone.now()
    made = {
        "coverage": make_session(
            status="ERROR", error_code=-2004, sub_account="other_acct", start=now - timedelta(minutes=4)
        ),
        "server": make_session(
            status="FAILED",
            sip_code=503,
            product="NUMBER_MASKING",
            direction="INBOUND",
            start=now - timedelta(minutes=3),
        ),
        "busy": make_session(
            status="BUSY", sip_code=486, country="LK", anomalies=["out_of_order"], start=now - timedelta(minutes=2)
        ),
        "ok": make_session(status="COMPLETED", destination="+6598764567", start=now - timedelta(minutes=1)),
        "old": make_session(status="COMPLETED", destination="+6590000000", start=now - timedelta(minutes=40)),
        "ancient": make_session(status="COMPLETED", start=now - timedelta(days=3)),
    }
    names = {s.session_id: name for name, s in made.items()}
    response = support_client.get(f"/sessions/?{query}")
    assert [names[i] for i in ids(response)] == expected


@pytest.mark.parametrize("match_limit", [5000, 2], ids=["rare-fragment-by-id", "common-fragment-by-exists"])
def test_number_search_finds_the_same_sessions_whichever_way_it_looks(numbers_client, monkeypatch, match_limit):
    monkeypatch.setattr("classify.models.NUMBER_MATCH_LIMIT", match_limit)
    now = timezone.now()
    inbound = make_session(direction="INBOUND", destination="+6591234567", start=now - timedelta(minutes=3))
    outbound = make_session(direction="OUTBOUND", destination="+6591234999", start=now - timedelta(minutes=2))
    make_session(direction="INBOUND", destination="+6580000000", start=now - timedelta(minutes=1))

    assert ids(numbers_client.get("/sessions/?number=912")) == [outbound.session_id, inbound.session_id]
    # Leg filters apply to the same leg as the number.
    assert ids(numbers_client.get("/sessions/?number=912&direction=INBOUND")) == [inbound.session_id]


def test_without_the_number_permission_only_a_whole_number_matches(support_client):
    made = make_session(destination="+6591234567")
    make_session(destination="+6591234999")

    # A fragment would let a user confirm masked digits one search at a time.
    assert ids(support_client.get("/sessions/?number=91234")) == []
    assert ids(support_client.get("/sessions/?number=%2B6591234567")) == [made.session_id]
    assert ids(support_client.get("/sessions/?number=65+9123+4567")) == [made.session_id]  # typed without +
    assert "Whole number" in support_client.get("/sessions/").content.decode()


def test_an_empty_list_without_filters_still_explains_how_to_point_8x8_here(support_client):
    body = support_client.get("/sessions/").content.decode()
    assert "httpAuthHeader" in body


def test_invalid_filter_values_are_errors_not_fatal(support_client):
    make_session()
    response = support_client.get("/sessions/?sip_code=abc&status=NOPE&after=garbage")
    assert response.status_code == 200
    assert response.context["page"] is None  # never the unfiltered list under a bad filter
    assert set(response.context["form"].errors) == {"sip_code", "status"}


def test_a_bad_cursor_alone_is_ignored(support_client):
    s = make_session()
    assert ids(support_client.get("/sessions/?after=garbage")) == [s.session_id]


def test_htmx_request_returns_only_the_results_partial(support_client):
    make_session(status="BUSY", sip_code=486)
    response = support_client.get("/sessions/?sip_code=486", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<section id="results"')
    assert "486" in body
    assert "HX-Request" in response["Vary"]


def test_numbers_are_masked_without_permission(support_client):
    make_session(source="+6568332048", destination="+6591234567")
    body = support_client.get("/sessions/").content.decode()
    assert "+65 6•••• 2048" in body
    assert "+65 9•••• 4567" in body
    assert "+6591234567" not in body
    assert "+6568332048" not in body


def test_numbers_are_shown_with_permission(numbers_client):
    make_session(source="+6568332048", destination="+6591234567")
    body = numbers_client.get("/sessions/").content.decode()
    assert "+6591234567" in body
    assert "+6568332048" in body


def test_keyset_pagination_walks_every_row_once(support_client):
    start = timezone.now() - timedelta(minutes=30)
    made = [make_session(start=start + timedelta(seconds=i // 2)) for i in range(PAGE_SIZE + 7)]  # ties on start_time
    first = support_client.get("/sessions/?range=1h")
    assert len(ids(first)) == PAGE_SIZE
    cursor = first.context["page"].next_cursor
    assert cursor
    second = support_client.get("/sessions/", {"range": "1h", "after": cursor})
    assert second.context["page"].next_cursor is None
    seen = ids(first) + ids(second)
    assert sorted(seen) == sorted(s.session_id for s in made)
    assert len(set(seen)) == len(seen)


def test_next_page_link_keeps_the_filters(support_client):
    for _ in range(PAGE_SIZE + 1):
        make_session(status="BUSY", sip_code=486)
    body = support_client.get("/sessions/?sip_code=486").content.decode()
    link = re.search(r'href="([^"]*after=[^"]*)"', body).group(1)
    query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
    assert query["sip_code"] == ["486"]
    assert "after" in query


def test_csv_export_streams_every_filtered_row_across_pages(support_client):
    failing = [make_session(status="FAILED", sip_code=503) for _ in range(PAGE_SIZE + 12)]
    make_session(status="COMPLETED")
    response = support_client.get("/sessions/export.csv?sip_code=503")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["session_id"] for r in rows) == sorted(s.session_id for s in failing)
    assert {r["primary_cause"] for r in rows} == {"503"}
    assert rows[0]["destination"] == "+65 9•••• 4567"


def test_csv_export_neutralises_formulas_but_keeps_numbers(numbers_client):
    make_session(sub_account='=HYPERLINK("http://evil.example","x")', source="+6568332048", destination="@SUM(A1)")
    make_session(sub_account="-cmd|' /C calc'!A0", status="ERROR", error_code=-2004)

    body = b"".join(numbers_client.get("/sessions/export.csv").streaming_content).decode()
    rows = {r["sub_account_id"]: r for r in csv.DictReader(io.StringIO(body))}

    assert set(rows) == {'\'=HYPERLINK("http://evil.example","x")', "'-cmd|' /C calc'!A0"}
    evil = rows['\'=HYPERLINK("http://evil.example","x")']
    assert (evil["source"], evil["destination"]) == ("+6568332048", "'@SUM(A1)")
    assert rows["'-cmd|' /C calc'!A0"]["error_code"] == "-2004"  # a number stays a number


def test_csv_export_searches_numbers_like_the_list(support_client):
    make_session(destination="+6591234567")
    body = b"".join(support_client.get("/sessions/export.csv?number=91234").streaming_content).decode()
    assert body.splitlines()[1:] == []


def test_csv_export_requires_login(client):
    assert client.get("/sessions/export.csv").status_code == 302


def test_list_query_count_does_not_grow_with_rows(support_client, django_assert_max_num_queries):
    for i in range(30):
        make_session(status="FAILED", sip_code=503, legs=2, start=timezone.now() - timedelta(minutes=i))
    # session + user + permissions, the page's ids, its sessions, one query for all their legs, and
    # three for the product signals (rollups, failed recordings, numbers), the capped match count and
    # the known sub-accounts (when not cached)
    with django_assert_max_num_queries(12):
        response = support_client.get("/sessions/?direction=OUTBOUND")
    assert len(ids(response)) == 30


def test_csv_query_count_is_per_chunk_not_per_row(support_client, django_assert_max_num_queries):
    for _ in range(25):
        make_session(legs=2)
    with django_assert_max_num_queries(6):
        response = support_client.get("/sessions/export.csv")
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 26


def test_country_without_a_number_is_the_sessions_destination_as_kpis_count_it(support_client):
    """A masked call's first leg goes to the virtual number at home (SG), its second to the
    callee (LK): the session's destination is LK, as the KPIs by country and the rollups say, so
    a KPI row's link lists the same sessions."""
    masked = make_session(product="NUMBER_MASKING", legs=2, country="LK")
    first_leg = masked.legs.order_by("initiated_at").first()
    first_leg.destination_country = "SG"
    first_leg.save()
    assert masked.destination_country == "LK"
    assert ids(support_client.get("/sessions/?country=LK")) == [masked.session_id]
    assert ids(support_client.get("/sessions/?country=SG")) == []
