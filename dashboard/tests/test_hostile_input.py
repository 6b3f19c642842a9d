"""Issue 9 #3, #4: any id from a payload renders and links safely; any parameter is 400 or ignored, never 500.

A sweep, not a list of known cases: every page's every parameter gets every hostile value.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote

import pytest

from dashboard.tests.factories import make_event, make_session

pytestmark = pytest.mark.django_db

PAGES = {
    "/": ["window"],
    "/feed/": ["after"],
    "/sessions/": [
        "range", "start", "end", "status", "outcome", "sip_code", "sip_class", "error_code", "sub_account",
        "product", "direction", "country", "number", "anomaly", "sort", "after",
    ],
    "/sessions/export.csv": ["start", "end", "sip_code", "number", "sub_account"],
    "/codes/": ["window", "code"],
    "/troubleshooting/": ["window"],
    "/reference/": ["q"],
    "/healthz": ["x"],
    "/metrics": ["x"],
}  # fmt: skip
# Percent-encoded as sent on the wire; %ED%A0%80 is a UTF-8-encoded lone surrogate.
HOSTILE = [
    "%00", "a%00b", "%ED%A0%80", "0001-01-01T00:00:00%2B14:00_1", "9999-12-31T23:59:59-14:00_1",
    "0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00", "0001-01-01", "x" * 10_000, "9" * 40,
    "-" + "9" * 40, "_" + "9" * 40, "%C2%B2", "%D9%A1%D9%A2", "..", "%2F", "%", "1e400", "nan", "-1",
    "%3Cscript%3E", "%20", "",
]  # fmt: skip


def ok_or_refused(response) -> bool:
    if response.status_code == 400:
        return b"parameter" in response.content  # a visible reason, not a blank page
    if response.status_code == 200 and response.streaming:
        b"".join(response.streaming_content)  # a streamed body (the CSV) fails while it is read
    return response.status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_no_parameter_value_makes_a_page_fail(support_client, page):
    make_session(status="BUSY", sip_code=486)
    failures = []
    for value in HOSTILE:
        # Every parameter of the page at once: each is parsed on its own, so whichever fails shows.
        query = "&".join(f"{name}={value}" for name in PAGES[page])
        try:
            response = support_client.get(f"{page}?{query}")
            if not ok_or_refused(response):
                failures.append((value[:30], response.status_code))
        except Exception as exc:  # the test client re-raises what would be a 500
            failures.append((value[:30], f"{type(exc).__name__}: {exc}"[:200]))
    assert failures == []


@pytest.mark.parametrize("value", HOSTILE)
def test_no_session_path_makes_the_session_page_fail(support_client, value):
    assert support_client.get(f"/sessions/{value}/").status_code in (400, 404)
    assert support_client.get(f"/sessions/{value}/{value}/").status_code in (400, 404)


@pytest.mark.parametrize("pk", ["0", "9" * 30, "123"])
def test_an_unknown_primary_key_is_404(support_client, pk):
    assert support_client.get(f"/session/{pk}/").status_code == 404


ODD_IDS = [
    "a/b", "..", ".", "../../admin", "a/../b", "/leading", "trailing/", "a//b", "sp ace", "q?x=1", "h#frag",
    "per%cent", "back\\slash", "new\nline", "tab\tx", "<script>alert(1)</script>", '"quote\'', "é✓😀",
    "x" * 55, "export.csv",
]  # fmt: skip


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_a_session_id_of_any_characters_is_listed_linked_and_opens(support_client, session_id):
    """Issue 9 #3: a '/' in a session id answered 500 on /, /feed/ and /sessions/ (NoReverseMatch)
    and its own page was 404."""
    session = make_session(status="BUSY", sip_code=486, session_id=session_id)
    make_event(session)
    for page in ("/", "/feed/", "/sessions/?range=all"):
        response = support_client.get(page)
        assert response.status_code == 200, page
        links = re.findall(r'href="(/sessions?/[^"]*)"', response.content.decode())
        session_links = [link for link in links if re.match(r"/sessions/[^?]|/session/", link)]
        session_links = [link for link in session_links if not link.startswith("/sessions/export.csv?")]
        assert len(session_links) == 1, (page, links)
        # A browser resolves "." and ".." segments (and "%2E%2E") before it sends the request.
        segments = unquote(session_links[0]).split("/")[1:-1]
        assert not {"", ".", ".."} & set(segments), session_links[0]
    detail = support_client.get(html.unescape(session_links[0]))
    assert detail.status_code == 200
    assert session.session_id in detail.content.decode() or "<" in session_id or '"' in session_id


def test_a_plain_session_id_keeps_its_shareable_url(support_client):
    session = make_session(session_id="a089b40d-f059-11f0-8937-99c7872ee3c4")
    body = support_client.get("/sessions/?range=all").content.decode()
    assert 'href="/sessions/a089b40d-f059-11f0-8937-99c7872ee3c4/"' in body
    assert support_client.get(f"/sessions/{quote(session.session_id)}/").status_code == 200


def test_a_session_id_with_a_slash_opens_by_its_own_url_too(support_client):
    make_session(session_id="acme/42")
    assert support_client.get("/sessions/acme/42/").status_code == 200
    assert support_client.get("/sessions/acme%2F42/").status_code == 200
