"""What people do to an incident. Each action checks the state it starts from, changes the row
and writes one activity row, in one transaction. Permission checks are the views' job."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from incidents.grouping import log_activity
from incidents.models import ActivityKind, Incident, State

TEXT_LIMIT = 5000


class TransitionError(ValueError):
    """The action does not apply to the incident's current state; the message says why."""


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _clean(text: str, limit: int = TEXT_LIMIT) -> str:
    # NUL cannot be stored in PostgreSQL text; lone surrogates cannot be encoded.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()[:limit]


@transaction.atomic
def acknowledge(incident: Incident, user: User) -> Incident:
    incident = _locked(incident)
    if incident.state not in (State.OPEN, State.REGRESSED):
        raise TransitionError(f"Only an open incident can be acknowledged (this one is {incident.state}).")
    before = incident.state
    incident.state = State.ACKNOWLEDGED
    incident.acknowledged_by, incident.acknowledged_at = user, timezone.now()
    incident.save()
    log_activity(incident, ActivityKind.ACKNOWLEDGED, actor=user, from_state=before)
    return incident


@transaction.atomic
def resolve(incident: Incident, user: User, note: str) -> Incident:
    note = _clean(note)
    if not note:
        raise TransitionError("Say what fixed it: resolving needs a note.")
    incident = _locked(incident)
    if incident.state == State.RESOLVED:
        raise TransitionError("The incident is already resolved.")
    before = incident.state
    incident.state = State.RESOLVED
    incident.resolved_by, incident.resolved_at, incident.resolution_note = user, timezone.now(), note
    incident.ignored_until = incident.ignored_until_sessions = None
    incident.save()
    log_activity(incident, ActivityKind.RESOLVED, actor=user, text=note, from_state=before)
    return incident


@transaction.atomic
def ignore(
    incident: Incident, user: User, *, until: datetime | None = None, more_sessions: int | None = None
) -> Incident:
    if until is None and not more_sessions:
        raise TransitionError("Ignore until a date or until a number of further sessions.")
    if until is not None and until <= timezone.now():
        raise TransitionError("The date to ignore until is in the past.")
    incident = _locked(incident)
    if incident.state in (State.RESOLVED, State.IGNORED):
        raise TransitionError(f"A {incident.state} incident cannot be ignored.")
    before = incident.state
    incident.state = State.IGNORED
    incident.ignored_until = until
    incident.ignored_until_sessions = incident.sessions_count + more_sessions if more_sessions else None
    incident.save()
    parts = []
    if until is not None:
        parts.append(f"until {until:%Y-%m-%d %H:%M} UTC")
    if more_sessions:
        parts.append(f"until {more_sessions} more sessions (total {incident.ignored_until_sessions})")
    log_activity(incident, ActivityKind.IGNORED, actor=user, text="Ignored " + " or ".join(parts), from_state=before)
    return incident


@transaction.atomic
def reopen(incident: Incident, user: User) -> Incident:
    incident = _locked(incident)
    if incident.state not in (State.RESOLVED, State.IGNORED, State.ACKNOWLEDGED):
        raise TransitionError("The incident is already open.")
    before = incident.state
    incident.state = State.OPEN
    incident.ignored_until = incident.ignored_until_sessions = None
    incident.save()
    log_activity(incident, ActivityKind.REOPENED, actor=user, text="Reopened by hand", from_state=before)
    return incident


@transaction.atomic
def assign(incident: Incident, user: User, assignee: User | None) -> Incident:
    incident = _locked(incident)
    incident.assignee = assignee
    incident.save()
    text = f"Assigned to {assignee.get_username()}" if assignee else "Unassigned"
    log_activity(incident, ActivityKind.ASSIGNED, actor=user, text=text, from_state=incident.state)
    return incident


@transaction.atomic
def set_ticket(incident: Incident, user: User, ticket: str) -> Incident:
    incident = _locked(incident)
    incident.ticket = _clean(ticket, 200)
    incident.save()
    log_activity(
        incident, ActivityKind.TICKET, actor=user, text=incident.ticket or "Ticket cleared", from_state=incident.state
    )
    return incident


@transaction.atomic
def add_note(incident: Incident, user: User, text: str) -> Incident:
    text = _clean(text)
    if not text:
        raise TransitionError("The note is empty.")
    incident = _locked(incident)
    log_activity(incident, ActivityKind.NOTE, actor=user, text=text, from_state=incident.state)
    return incident


def ticket_url(ticket: str) -> str:
    """The ticket as a link when SIPDESK_TICKET_URL_TEMPLATE is set ("…/tickets/{ticket}")."""
    from urllib.parse import quote

    template = settings.SIPDESK_TICKET_URL_TEMPLATE
    if not template or not ticket:
        return ""
    return template.replace("{ticket}", quote(ticket, safe=""))
