"""Links to a session's page, whatever characters 8x8 (or anyone) put in its session id."""

from __future__ import annotations

from django.urls import reverse


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
