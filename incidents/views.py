"""Incident pages and actions. Views parse, check permissions, call incidents.workflow or
incidents.queries, and render; every action is a POST that redirects back (PRG)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from config.http import AuthenticatedHtmxHttpRequest
from incidents import charts, queries, workflow
from incidents.models import Incident, State

FULL_NUMBERS_PERM = "classify.view_full_numbers"
ACK_PERM = "incidents.acknowledge_incident"
MANAGE_PERM = "incidents.manage_incident"
# Which permission each action needs: Support acknowledges and notes, managers do the rest.
ACTION_PERMS = {
    "acknowledge": ACK_PERM,
    "note": ACK_PERM,
    "resolve": MANAGE_PERM,
    "ignore": MANAGE_PERM,
    "reopen": MANAGE_PERM,
    "assign": MANAGE_PERM,
    "ticket": MANAGE_PERM,
}


def _render(
    request: AuthenticatedHtmxHttpRequest, template: str, partial: str, context: dict[str, Any]
) -> HttpResponse:
    name = f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context)


@require_GET
@login_required
@permission_required("incidents.view_incident", raise_exception=True)
@vary_on_headers("HX-Request")
def incident_list(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    filters = queries.IncidentFilters.from_params(request.GET)
    page = queries.incident_page(filters, request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "query": filters.query(),
        "states": [("active", "Open or acknowledged"), *State.choices],
        "assignees": get_user_model().objects.filter(is_active=True).order_by("username")[:200],
        "sub_accounts": queries.sub_accounts(),
        "min_sessions": settings.SIPDESK_INCIDENT_MIN_SESSIONS,
    }
    return _render(request, "incidents/list.html", "results", context)


@require_GET
@login_required
@permission_required("incidents.view_incident", raise_exception=True)
@vary_on_headers("HX-Request")
def incident_detail(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("assignee", "acknowledged_by", "resolved_by"), pk=pk)
    detail = queries.incident_detail(incident, full_numbers=request.user.has_perm(FULL_NUMBERS_PERM))
    user = request.user
    context = {
        "d": detail,
        "i": incident,
        "chart": charts.sessions_chart(detail.bins),
        "sessions_query": urlencode(detail.sessions_params),
        "ticket_url": workflow.ticket_url(incident.ticket),
        "can_ack": user.has_perm(ACK_PERM),
        "can_manage": user.has_perm(MANAGE_PERM),
        "assignees": get_user_model().objects.filter(is_active=True).order_by("username")[:200],
        "State": State,
    }
    return _render(request, "incidents/detail.html", "incident-body", context)


def _ignore_until(value: str) -> datetime | None:
    value = value.strip()[:40]
    if not value:
        return None
    try:  # a well-formed impossible date ("2026-13-45") raises rather than giving None
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise workflow.TransitionError(f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM).")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _int_or_none(value: str) -> int | None:
    value = value.strip()[:9]
    return int(value) if value.isdigit() and int(value) > 0 else None


@require_POST
@login_required
def incident_action(request: AuthenticatedHtmxHttpRequest, pk: int, action: str) -> HttpResponse:
    perm = ACTION_PERMS.get(action)
    if perm is None:
        raise PermissionDenied("Unknown action")
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"You may not {action} incidents")
    incident = get_object_or_404(Incident, pk=pk)
    post = request.POST
    try:
        if action == "acknowledge":
            workflow.acknowledge(incident, request.user)
        elif action == "note":
            workflow.add_note(incident, request.user, post.get("text", ""))
        elif action == "resolve":
            workflow.resolve(incident, request.user, post.get("note", ""))
        elif action == "ignore":
            workflow.ignore(
                incident,
                request.user,
                until=_ignore_until(post.get("until", "")),
                more_sessions=_int_or_none(post.get("sessions", "")),
            )
        elif action == "reopen":
            workflow.reopen(incident, request.user)
        elif action == "assign":
            raw = post.get("assignee", "").strip()
            assignee = None
            if raw:
                assignee_id = _int_or_none(raw)
                assignee = (
                    get_user_model().objects.filter(pk=assignee_id, is_active=True).first() if assignee_id else None
                )
                if assignee is None:
                    raise workflow.TransitionError("No such user to assign.")
            workflow.assign(incident, request.user, assignee)
        elif action == "ticket":
            workflow.set_ticket(incident, request.user, post.get("ticket", ""))
    except workflow.TransitionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Done: {action}.")
    return redirect("incidents:detail", pk=incident.pk)
