"""Links the pages build in Python: to a session's page, whatever characters 8x8 (or anyone)
put in its session id, and from the overview's failure causes to their sessions and guidance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.urls import reverse

from classify.models import CauseKind
from dashboard.reads.common import is_int

if TYPE_CHECKING:
    from dashboard.kpis import CauseWho
    from dashboard.reads.overview import Cause
    from dashboard.timerange import Window


class AnyText:
    """URL converter for a session id: any characters at all, '/' and newlines included.

    Django's ``path`` converter stops at a newline and ``str`` at '/'; either made ``reverse``
    raise NoReverseMatch, which took down every page listing such a session (issue 9).
    """

    regex = r"(?s:.+)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def session_url(session_id: str, pk: int) -> str:
    """The session's page by its 8x8 session id (the URL people share), or by primary key when the
    id would not survive a browser: an empty, '.' or '..' path segment is rewritten by the browser
    before the request is sent ("/sessions/a/../b/" asks for "/sessions/b/"), "%2E%2E" included."""
    if session_id and all(segment not in ("", ".", "..") for segment in session_id.split("/")):
        return reverse("dashboard:session", args=[session_id])
    return reverse("dashboard:session_by_pk", args=[pk])


# --- the overview's failure causes ----------------------------------------------------------


def cause_query(cause: Cause) -> str:
    """The sessions list's filter for a cause: "sip_code=486", "error_code=-2004", "status=BUSY";
    "" when no cause was recorded."""
    if not cause.cause:
        return ""
    if cause.kind == CauseKind.SIP and is_int(cause.cause):
        return f"sip_code={cause.cause}"
    if cause.kind == CauseKind.ERROR_CODE and is_int(cause.cause):
        return f"error_code={cause.cause}"
    return f"status={quote(cause.cause, safe='')}"


def cause_anchor(cause: Cause) -> str:
    """Where a cause's guidance is on the troubleshooting page: "code-486", "error--2004" ("" for none)."""
    if cause.kind == CauseKind.SIP and is_int(cause.cause):
        return f"code-{cause.cause}"
    if cause.kind == CauseKind.ERROR_CODE and is_int(cause.cause):
        return f"error-{cause.cause}"
    return ""


@dataclass(frozen=True)
class CauseRow:
    """A row of the overview's failure-cause tables (dashboard/_causes.html) with its links built
    here once: as template tags and filters, the two tables' ~100 links took half the page's
    rendering."""

    who: CauseWho
    sessions: str  # the cause's sessions in the window; "" when no cause was recorded
    sub_accounts: list[tuple[str, int, str]]  # (sub-account, sessions, its sessions' link)
    countries: list[tuple[str, int, str]]  # (country, sessions, its sessions' link)
    guidance: str  # the cause's guidance on the troubleshooting page; "" when it has none


def cause_rows(causes: list[CauseWho], window: Window) -> list[CauseRow]:
    sessions_url = f"{reverse('dashboard:sessions')}?{window.sessions_query}"
    guidance_url = f"{reverse('dashboard:troubleshooting')}?{window.query}"
    rows = []
    for who in causes:
        query = cause_query(who.cause)
        base = f"{sessions_url}&{query}" if query else sessions_url
        anchor = cause_anchor(who.cause)
        rows.append(
            CauseRow(
                who,
                base if query else "",
                [(sub, n, f"{base}&sub_account={quote(sub)}") for sub, n in who.sub_accounts],
                [(country, n, f"{base}&country={quote(country)}") for country, n in who.countries],
                f"{guidance_url}#{anchor}" if anchor else "",
            )
        )
    return rows
