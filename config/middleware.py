"""Refuse request parameters no stored value can hold, before any view sends them to PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.html import format_html


class RefuseNulParameters:
    """400 with the parameter named for a NUL (``%00``) in a GET request's path or query.

    PostgreSQL text cannot contain NUL, so a lookup with one raised DataError: a 500 on /codes/,
    /reference/, /sessions/<id>/ (issue 9). No sipdesk value can hold one, so no page can want
    it; refusing here covers every view and every parameter, present and future. (Django
    decodes paths and queries with replacement characters, so a lone surrogate cannot arrive.)
    Only GET and HEAD: POSTed forms validate their own fields (Django's form fields refuse NUL)
    and the webhook receiver answers for its bodies itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            bad = _nul_parameter(request)
            if bad is not None:
                return HttpResponseBadRequest(
                    format_html(
                        "<!doctype html><title>Bad request</title><h1>Bad request</h1>"
                        "<p>The parameter “{}” holds a NUL character (%00), which no sipdesk value can contain.</p>",
                        bad,
                    )
                )
        return self.get_response(request)


def _nul_parameter(request: HttpRequest) -> str | None:
    if "\x00" in request.path:
        return "path"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "\\0")[:100]
    return None
