"""Reads for the incident pages, the session page's panel and the overview's list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator

from classify.models import Session
from incidents import fingerprint as fp_mod
from incidents import stats as stats_mod
from incidents.grouping import fingerprint_of
from incidents.models import ACTIVE_STATES, Incident, IncidentActivity, State
from webhooks.masking import show_number

PAGE_SIZE = 50


@dataclass
class IncidentFilters:
    state: str = ""  # "" = every state, "active" = open/regressed/acknowledged
    assignee: str = ""  # user id, "none"
    sub_account: str = ""

    @classmethod
    def from_params(cls, params: Any) -> IncidentFilters:
        state = str(params.get("state", ""))[:16]
        if state not in {"", "active", *State.values}:
            state = ""
        assignee = str(params.get("assignee", ""))[:12]
        if assignee != "none" and not assignee.isdigit():
            assignee = ""
        return cls(state, assignee, str(params.get("sub_account", "")).replace("\x00", "")[:64])

    def query(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if v})


def incident_page(f: IncidentFilters, page_number: Any) -> Page:
    qs = Incident.objects.select_related("assignee").open_first()
    if f.state == "active":
        qs = qs.filter(state__in=ACTIVE_STATES)
    elif f.state:
        qs = qs.filter(state=f.state)
    if f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee:
        qs = qs.filter(assignee_id=int(f.assignee))
    if f.sub_account:
        qs = qs.filter(sub_account_id=f.sub_account)
    return Paginator(qs, PAGE_SIZE).get_page(page_number)


def open_incidents(limit: int = 8) -> list[Incident]:
    return list(Incident.objects.active().select_related("assignee").open_first()[:limit])


def sub_accounts() -> list[str]:
    return list(Incident.objects.order_by().values_list("sub_account_id", flat=True).distinct()[:500])


@dataclass
class IncidentDetail:
    incident: Incident
    fingerprint: fp_mod.Fingerprint
    grouped_by: list[tuple[str, str]]
    share: float | None
    sub_account_sessions: int
    bins: list[tuple[datetime, int]]
    top_numbers: list[tuple[str, int]]
    recent: list[dict[str, Any]]
    activity: list[IncidentActivity]
    sessions_params: dict[str, Any]


def incident_detail(incident: Incident, *, full_numbers: bool) -> IncidentDetail:
    fp = fingerprint_of(incident)
    stats = incident.stats or stats_mod.compute(fp, incident.first_seen, incident.last_seen)
    total = max(stats["sub_account_sessions"], incident.sessions_count)
    share = round(100.0 * incident.sessions_count / total, 1) if total else None
    bins = [(datetime.fromisoformat(moment), n) for moment, n in stats["bins"]]
    top_numbers = [(show_number(number, full=full_numbers), n) for number, n in stats["top_numbers"]]
    recent = []
    latest = Session.objects.filter(session_id__in=stats.get("latest", [])).prefetch_related("legs")
    for s in sorted(latest, key=lambda s: (s.start_time, s.id), reverse=True):
        legs = list(s.legs.all())
        recent.append(
            {
                "session_id": s.session_id,
                "start_time": s.start_time,
                "status": s.status,
                "outcome_group": s.outcome_group,
                "legs": [
                    (leg.leg_key, leg.call_id, show_number(leg.destination, full=full_numbers), leg.final_sip_code)
                    for leg in legs
                ],
            }
        )
    return IncidentDetail(
        incident,
        fp,
        fp.explain(),
        share,
        total,
        bins,
        top_numbers,
        recent,
        list(incident.activity.select_related("actor")),
        fp.sessions_list_params(incident.first_seen, incident.last_seen),
    )


def incident_for_session(session: Session, *, country: str | None = None) -> Incident | None:
    """The incident a session belongs to: same fingerprint, started within its span."""
    if session.start_time is None or not session.primary_cause:
        return None
    fp = fp_mod.for_session(session, country=country)
    incident = Incident.objects.filter(fingerprint=fp.key).first()
    if incident and incident.first_seen <= session.start_time <= incident.last_seen:
        return incident
    return None


# Around a session, "more like this" looks this far either side.
MORE_LIKE_THIS_SPAN = timedelta(hours=1)


def more_like_this_params(session: Session, *, country: str | None = None) -> dict[str, Any] | None:
    if session.start_time is None or not session.primary_cause:
        return None
    fp = fp_mod.for_session(session, country=country)
    params = fp.sessions_list_params(session.start_time - MORE_LIKE_THIS_SPAN, session.start_time + MORE_LIKE_THIS_SPAN)
    params.pop("product", None)  # same cause, sub-account and country
    return params
