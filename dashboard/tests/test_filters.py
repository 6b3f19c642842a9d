"""Session filters: a value that cannot be read is an error beside its field, never quietly dropped;
a value whose meaning is plain (2004, "Philippines", "ACME_SG") is read the way it was meant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard import filters
from dashboard.tests.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_sub_accounts():
    cache.clear()
    yield
    cache.clear()


def ids(response) -> list[str]:
    page = response.context["page"]
    return [] if page is None else [row.session_id for row in page.rows]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("sip_code=9999", "sip_code", "A SIP code is three digits"),
        ("sip_code=abc", "sip_code", "A SIP code is three digits"),
        ("error_code=abc", "error_code", "An 8x8 error code is a number"),
        ("country=Atlantis", "country", "is not a country"),
        ("start=notadate", "start", "Enter a valid date/time"),
        ("start=2026-12-02T10:00&end=2026-12-02T09:00", "end", "must be after"),
    ],
)
def test_an_unreadable_filter_is_an_error_beside_its_field_and_lists_nothing(support_client, query, field, message):
    make_session()
    response = support_client.get(f"/sessions/?{query}")
    assert response.status_code == 200
    assert ids(response) == []
    assert list(response.context["form"].errors) == [field]
    body = response.content.decode()
    assert message in body
    # The message sits beside the field (its describedby target) and the field is marked invalid.
    assert f'id="id_{field}-msg" class="field-msg"><span class="error">' in body
    assert 'aria-invalid="true"' in body
    assert "nothing is listed until they can be read" in body


def test_htmx_brings_the_field_errors_along_out_of_band(support_client):
    response = support_client.get("/sessions/?sip_code=9999", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.strip().startswith('<section id="results"')
    assert '<span id="id_sip_code-msg" class="field-msg" hx-swap-oob="true"><span class="error">' in body
    # Every other field's message is cleared too, so a fixed field loses its old error.
    assert '<span id="id_country-msg" class="field-msg" hx-swap-oob="true"></span>' in body


def test_csv_export_refuses_unreadable_filters(support_client):
    make_session()
    response = support_client.get("/sessions/export.csv?country=Atlantis")
    assert response.status_code == 400
    assert "country" in response.content.decode()


def test_an_error_code_without_its_minus_is_read_as_negative(support_client):
    now = timezone.now()
    coverage = make_session(status="ERROR", error_code=-2004, start=now - timedelta(minutes=2))
    make_session(status="ERROR", error_code=-2008, start=now - timedelta(minutes=1))
    response = support_client.get("/sessions/?error_code=2004")
    assert ids(response) == [coverage.session_id]
    assert "read as -2004" in response.content.decode()
    assert ids(support_client.get("/sessions/?error_code=-2004")) == [coverage.session_id]


@pytest.mark.parametrize("typed", ["Philippines", "philippines", "PH", "ph", "PHL", " Philippines "])
def test_a_country_name_or_code_is_read_as_its_code(support_client, typed):
    now = timezone.now()
    manila = make_session(country="PH", start=now - timedelta(minutes=2))
    make_session(country="SG", start=now - timedelta(minutes=1))
    response = support_client.get("/sessions/", {"country": typed})
    assert ids(response) == [manila.session_id]
    assert response.context["form"].errors == {}


def test_country_names_people_use_are_read_too():
    assert filters.country_code("UK") == "GB"
    assert filters.country_code("Vietnam") == "VN"
    assert filters.country_code("united states") == "US"


def test_the_sub_account_filter_ignores_case_and_suggests_known_sub_accounts(support_client):
    now = timezone.now()
    acme = make_session(sub_account="Acme_SG", start=now - timedelta(minutes=2))
    make_session(sub_account="other", start=now - timedelta(minutes=1))
    make_session(sub_account="", start=now - timedelta(minutes=1))
    make_session(sub_account="beta", start=now - timedelta(days=40))

    for typed in ("acme_sg", "ACME_SG", "Acme_SG", " acme_sg "):
        assert ids(support_client.get("/sessions/", {"sub_account": typed})) == [acme.session_id]
    # Stored after the known list was cached: the case-insensitive fallback still finds it.
    make_session(sub_account="Newcomer", start=now - timedelta(minutes=3))
    assert len(ids(support_client.get("/sessions/", {"sub_account": "NEWCOMER"}))) == 1

    body = support_client.get("/sessions/").content.decode()
    assert 'list="sub-account-suggestions"' in body
    options = '<option value="Acme_SG"></option><option value="beta"></option><option value="other"></option>'
    assert f'<datalist id="sub-account-suggestions">{options}</datalist>' in body


def test_known_sub_accounts_walks_the_index_once_per_sub_account(django_assert_num_queries):
    for name in ("b", "A", "c", "a", "c"):
        make_session(sub_account=name)
    with django_assert_num_queries(1):
        assert filters.known_sub_accounts() == ["A", "a", "b", "c"]
    with django_assert_num_queries(0):  # cached
        filters.known_sub_accounts()


def test_the_list_header_counts_the_matching_sessions(support_client, monkeypatch):
    for _ in range(3):
        make_session(status="BUSY", sip_code=486)
    make_session(status="COMPLETED")
    assert "3 matching sessions" in support_client.get("/sessions/?sip_code=486").content.decode()
    monkeypatch.setattr(filters, "COUNT_LIMIT", 2)
    assert "More than 2 matching sessions" in support_client.get("/sessions/").content.decode()


@pytest.mark.parametrize(
    "hostile",
    ["%ED%A0%80", "%F0%9F%98%80", "a%00b", "x" * 10_000, "Phil%2F..%2Fippines", "%27%3B+DROP+TABLE+x%3B+--"],
)
def test_hostile_filter_values_are_errors_or_no_match_never_a_500(support_client, hostile):
    """Raw query strings: a lone surrogate's bytes, an emoji, NUL, 10,000 characters, '/', SQL."""
    make_session(sub_account="acme_sg")
    # A NUL anywhere in a query is refused before any view (400, config/middleware.py).
    expected = 400 if "%00" in hostile else 200
    for name in ("sub_account", "country", "sip_code", "error_code", "start"):
        response = support_client.get(f"/sessions/?{name}={hostile}")
        assert response.status_code == expected, (name, hostile)
        if expected == 200:
            assert ids(response) == []
    assert support_client.get(f"/feed/?failures=1&sub_account={hostile}").status_code == expected
    assert support_client.get(f"/?sub_account={hostile}").status_code == expected
