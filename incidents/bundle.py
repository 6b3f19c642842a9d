"""The escalation bundle for 8x8 support: what a ticket needs, from one session, an incident or a
sessions filter. One dict (``build``) rendered three ways: plain text to paste, .json, .zip.

Numbers are masked unless the user has ``classify.view_full_numbers`` AND asked to include them.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from dashboard.forms import SessionFilterForm
from dashboard.reads.session import session_detail
from dashboard.reads.sessions import filter_sessions
from incidents.grouping import fingerprint_of
from incidents.models import BundleJob, BundleJobState, Incident
from notes.models import SessionNote
from webhooks.masking import mask_payload

FULL_NUMBERS_PERM = "classify.view_full_numbers"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if moment else None


def may_include_numbers(user: Any, asked: bool) -> bool:
    return bool(asked) and user.has_perm(FULL_NUMBERS_PERM)


def filters_for(params: Any, *, full_numbers: bool) -> dict[str, Any]:
    """The sessions list's filters (dashboard.views._session_filters, without a request)."""
    filters = SessionFilterForm(params, full_numbers=full_numbers).filters()
    if "number" in filters and not full_numbers:
        filters["number_exact"] = True
    return filters


def incident_session_ids(incident: Incident, limit: int) -> list[str]:
    fp = fingerprint_of(incident)
    qs = fp.sessions(incident.first_seen, incident.last_seen).order_by("start_time", "id")
    return list(qs.values_list("session_id", flat=True)[:limit])


def filter_session_ids(filters: dict[str, Any], limit: int) -> list[str]:
    return list(filter_sessions(filters).order_by("start_time", "id").values_list("session_id", flat=True)[:limit])


def session_entry(session_id: str, *, full_numbers: bool) -> dict[str, Any] | None:
    d = session_detail(session_id, full_numbers=full_numbers)
    if d is None:
        return None
    s = d.session
    g = d.guidance
    return {
        "session_id": s.session_id,
        "sub_account_id": s.sub_account_id,
        "product": s.product,
        "status": s.status,
        "start_time_utc": _iso(s.start_time),
        "end_time_utc": _iso(s.end_time),
        "duration_seconds": s.duration_seconds,
        "error_code": s.error_code,
        "error_message": s.error_message,
        "classification": {
            "outcome_group": s.outcome_group,
            "primary_cause": s.primary_cause,
            "primary_cause_kind": s.primary_cause_kind,
            "fault_side": s.fault_side,
            "retry_advice": s.retry_advice,
            "responsibility": s.responsibility,
            "anomalies": list(s.anomalies or []),
        },
        "guidance": None
        if g is None
        else {
            "title": g.title,
            "explanation": g.explanation,
            "common_cause": g.common_cause,
            "retry": g.retry,
            "responsibility": g.responsibility,
            "troubleshooting": [{"issue": t.issue, "action": t.action} for t in g.troubleshooting],
        },
        "legs": [
            {
                "call_id": lv.leg.call_id,
                "leg": lv.leg.leg_key,
                "direction": lv.leg.direction,
                "call_type": lv.leg.call_type,
                "source": lv.source,
                "destination": lv.destination,
                "source_country": lv.leg.source_country,
                "destination_country": lv.leg.destination_country,
                "status": lv.leg.status,
                "final_status": lv.leg.final_status,
                "sip_code": lv.sip_code,
                "sip_reason": lv.sip_reason,
                "initiated_utc": _iso(lv.leg.initiated_at),
                "connected_utc": _iso(lv.leg.connected_at),
                "disconnected_utc": _iso(lv.leg.disconnected_at),
            }
            for lv in d.legs
        ],
        "timeline": [
            {
                "event_time_utc": _iso(e.event_time),
                "received_utc": _iso(e.raw.received_at),
                "event_type": e.raw.event_type,
                "call_status": e.classification.call_status if e.classification else "",
                "sip_code": e.classification.sip_code if e.classification else None,
                "anomalies": e.anomalies,
            }
            for e in d.timeline
        ],
        "payloads": [
            {
                "event_type": e.raw.event_type,
                "received_utc": _iso(e.raw.received_at),
                "body": e.raw.body if full_numbers else mask_payload(e.raw.body),
            }
            for e in d.timeline
        ],
        "notes": [
            {
                "at_utc": _iso(n.created_at),
                "label": n.get_label_display(),
                "text": n.text,
                "ticket": n.ticket,
                "by": n.author.get_username() if n.author else "",
            }
            for n in SessionNote.objects.for_session(s.session_id)
        ],
    }


def build(
    session_ids: Iterable[str],
    *,
    full_numbers: bool,
    incident: Incident | None = None,
    title: str = "",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    sessions = []
    for n, session_id in enumerate(session_ids, 1):
        entry = session_entry(session_id, full_numbers=full_numbers)
        if entry is not None:
            sessions.append(entry)
        if progress and n % 20 == 0:
            progress(n)
    bundle: dict[str, Any] = {
        "generated_utc": _iso(timezone.now()),
        "generator": "sipdesk",
        "numbers": "full" if full_numbers else "masked",
        "title": title,
        "session_count": len(sessions),
        "sessions": sessions,
    }
    if incident is not None:
        bundle["incident"] = {
            "id": incident.pk,
            "title": incident.title,
            "state": incident.state,
            "grouped_by": dict(fingerprint_of(incident).explain()),
            "first_seen_utc": _iso(incident.first_seen),
            "last_seen_utc": _iso(incident.last_seen),
            "sessions_affected": incident.sessions_count,
            "numbers_affected": incident.numbers_count,
            "ticket": incident.ticket,
        }
    return bundle


def summary_text(bundle: dict[str, Any]) -> str:
    """Plain text for a ticket: the facts 8x8 support asks for first, one session per block."""
    lines = [f"sipdesk escalation bundle, generated {bundle['generated_utc']} (all times UTC)"]
    if bundle.get("title"):
        lines.append(bundle["title"])
    inc = bundle.get("incident")
    if inc:
        lines += [
            f"Incident #{inc['id']}: {inc['title']} [{inc['state']}]",
            "Grouped by: " + "; ".join(f"{k} {v}" for k, v in inc["grouped_by"].items()),
            f"First seen {inc['first_seen_utc']}, last seen {inc['last_seen_utc']}; "
            f"{inc['sessions_affected']} sessions, {inc['numbers_affected']} numbers affected",
        ]
        if inc["ticket"]:
            lines.append(f"Our ticket reference: {inc['ticket']}")
    lines.append(f"Sessions in this bundle: {bundle['session_count']} (numbers {bundle['numbers']})")
    guidance_seen: set[str] = set()
    for s in bundle["sessions"]:
        c = s["classification"]
        lines += [
            "",
            f"Session {s['session_id']}",
            f"  Sub-account {s['sub_account_id'] or '-'} · product {s['product']} · status {s['status']}",
            f"  Start {s['start_time_utc'] or '-'} · end {s['end_time_utc'] or '-'}",
            f"  Cause {c['primary_cause'] or '-'} ({c['primary_cause_kind']}) · fault side {c['fault_side']}"
            + (f" · 8x8 error {s['error_code']} {s['error_message']}".rstrip() if s["error_code"] is not None else ""),
        ]
        for leg in s["legs"]:
            lines.append(
                f"  Leg {leg['leg'] or '-'} callId {leg['call_id']} {leg['direction']} "
                f"{leg['source'] or '-'} -> {leg['destination'] or '-'} ({leg['destination_country'] or '-'}) "
                f"SIP {leg['sip_code'] if leg['sip_code'] is not None else '-'} {leg['sip_reason']}".rstrip()
            )
        for e in s["timeline"]:
            code = f" SIP {e['sip_code']}" if e["sip_code"] is not None else ""
            lines.append(f"    {e['event_time_utc'] or '-'} {e['event_type']} {e['call_status']}{code}".rstrip())
        if c["anomalies"]:
            lines.append("  Anomalies: " + ", ".join(c["anomalies"]))
        for n in s["notes"]:
            lines.append(
                f"  Note {n['at_utc']} [{n['label']}] {n['text']}" + (f" (ticket {n['ticket']})" if n["ticket"] else "")
            )
        g = s["guidance"]
        if g and g["title"] not in guidance_seen:
            guidance_seen.add(g["title"])
            lines.append(f"  Guidance: {g['title']}. {g['explanation']}".rstrip())
            lines += [f"    - {t['issue']}: {t['action']}" for t in g["troubleshooting"]]
    return "\n".join(lines) + "\n"


def as_json(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass")


def as_zip(bundle: dict[str, Any]) -> bytes:
    """summary.txt, bundle.json, and each session's raw payloads on their own."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.txt", summary_text(bundle).encode("utf-8", "surrogatepass"))
        archive.writestr("bundle.json", as_json(bundle))
        for i, s in enumerate(bundle["sessions"], 1):
            # The session id comes from 8x8: never let it name a path.
            safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s["session_id"])[:64]
            archive.writestr(
                f"payloads/{i:04d}-{safe}.json",
                json.dumps(s["payloads"], indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass"),
            )
    return buffer.getvalue()


def job_session_ids(job: BundleJob) -> list[str]:
    limit = settings.SIPDESK_BUNDLE_MAX_SESSIONS
    if job.incident is not None:
        return incident_session_ids(job.incident, limit)
    full = job.owner.has_perm(FULL_NUMBERS_PERM)
    return filter_session_ids(filters_for(job.query, full_numbers=full), limit)


def build_job(job_id: int) -> None:
    job = BundleJob.objects.select_related("owner", "incident").get(pk=job_id)
    if job.state == BundleJobState.DONE:
        return
    try:
        ids = job_session_ids(job)
        BundleJob.objects.filter(pk=job.pk).update(state=BundleJobState.RUNNING, total=len(ids), done=0)

        def progress(n: int) -> None:
            BundleJob.objects.filter(pk=job.pk).update(done=n)

        full = may_include_numbers(job.owner, job.include_numbers)
        bundle = build(ids, full_numbers=full, incident=job.incident, title="Sessions filter", progress=progress)
        BundleJob.objects.filter(pk=job.pk).update(
            state=BundleJobState.DONE, done=len(ids), result=as_zip(bundle), finished_at=timezone.now()
        )
    except Exception as exc:  # the page shows the failure instead of spinning forever
        BundleJob.objects.filter(pk=job.pk).update(
            state=BundleJobState.FAILED, error=f"{type(exc).__name__}: {exc}"[:1000], finished_at=timezone.now()
        )
        raise
