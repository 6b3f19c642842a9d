"""Incident pieces other apps' pages include in one line: the session page's workflow panel
(incident link, notes, bundle, "more like this") and the overview's open incidents."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template

from classify.models import Session
from incidents import queries
from notes.models import NoteLabel, SessionNote

register = template.Library()


@register.inclusion_tag("incidents/_session_panel.html", takes_context=True)
def session_workflow(context: dict[str, Any], session: Session, legs: list[Any] | None = None) -> dict[str, Any]:
    """``legs``: the page's legs (dashboard.reads.session.LegView), so the country costs no query."""
    user = context["request"].user
    country = None
    if legs is not None:
        countries = [lv.leg.destination_country for lv in legs if lv.leg.destination_country]
        country = countries[-1] if countries else ""
    more = queries.more_like_this_params(session, country=country)
    can_see_incidents = user.has_perm("incidents.view_incident")
    return {
        "s": session,
        "incident": queries.incident_for_session(session, country=country) if can_see_incidents else None,
        "notes": list(SessionNote.objects.for_session(session.session_id))
        if user.has_perm("notes.view_sessionnote")
        else [],
        "can_note": user.has_perm("notes.add_sessionnote"),
        "labels": NoteLabel.choices,
        "more_query": urlencode(more) if more else "",
        "bundle_query": urlencode({"session": session.session_id}),
        "csrf_token": context.get("csrf_token"),
        "request": context["request"],
    }


@register.inclusion_tag("incidents/_open_incidents.html", takes_context=True)
def open_incidents(context: dict[str, Any]) -> dict[str, Any]:
    user = context["request"].user
    return {"incidents": queries.open_incidents() if user.has_perm("incidents.view_incident") else None}


@register.filter
def state_badge(state: str) -> str:
    return f"state state-{state or 'open'}"
