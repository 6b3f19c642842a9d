"""Adding a note to a session. Notes are append-only: there is no edit or delete view."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from config.http import AuthenticatedHtmxHttpRequest
from notes.models import NoteLabel, SessionNote


def _clean(text: str, limit: int) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()[:limit]


@require_POST
@login_required
@permission_required("notes.add_sessionnote", raise_exception=True)
def add_note(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    session_id = _clean(request.POST.get("session_id", ""), 64)
    text = _clean(request.POST.get("text", ""), 5000)
    label = request.POST.get("label", NoteLabel.NOTE)
    if label not in NoteLabel.values:
        label = NoteLabel.NOTE
    if not session_id:
        messages.error(request, "Which session? The note was not saved.")
        return redirect("dashboard:sessions")
    if text:
        SessionNote.objects.create(
            session_id=session_id,
            author=request.user,
            label=label,
            text=text,
            ticket=_clean(request.POST.get("ticket", ""), 200),
        )
        messages.success(request, "Note added.")
    else:
        messages.error(request, "The note is empty; nothing was saved.")
    try:
        return redirect(reverse("dashboard:session", args=[session_id]) + "#notes")
    except NoReverseMatch:  # an id the session URL cannot carry
        return redirect("dashboard:sessions")
