"""The grouping job: reads sessions the pipeline changed since a cursor, and opens or updates
incidents. It runs from Celery beat, off the classification hot path (bench/classify.py).

A session is read again if the pipeline touches it again (or ``reclassify`` rebuilds it); every
update recomputes the incident's numbers from the sessions, so reading twice changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Prefetch, Q, Sum
from django.utils import timezone

from classify.models import BucketSize, CallLeg, Session, SessionRollup
from incidents import fingerprint as fp_mod
from incidents.fingerprint import Fingerprint
from incidents.models import ActivityKind, GroupingCursor, Incident, IncidentActivity, State

log = logging.getLogger(__name__)

CURSOR = "sessions"
# Workers stamp updated_at before their transaction commits, so a slow batch can commit rows
# stamped just before the cursor: each run re-reads this much (dashboard/reads/sessions.py feed does too).
OVERLAP = timedelta(seconds=10)
BATCH = 5000
MAX_BATCHES_PER_RUN = 20  # after a reclassify the rest waits for the next beat


@dataclass(frozen=True)
class Threshold:
    min_sessions: int
    window: timedelta
    baseline: timedelta
    share_factor: float

    @classmethod
    def from_settings(cls) -> Threshold:
        return cls(
            settings.SIPDESK_INCIDENT_MIN_SESSIONS,
            timedelta(minutes=settings.SIPDESK_INCIDENT_WINDOW_MINUTES),
            timedelta(hours=settings.SIPDESK_INCIDENT_BASELINE_HOURS),
            settings.SIPDESK_INCIDENT_SHARE_PERCENT / 100.0,
        )


def _sub_account_sessions(sub_account_id: str, start: datetime, end: datetime, size: str) -> int:
    total = SessionRollup.objects.filter(
        bucket_size=size, sub_account_id=sub_account_id, bucket_start__gte=start, bucket_start__lt=end
    ).aggregate(n=Sum("count"))["n"]
    return total or 0


@dataclass(frozen=True)
class Crossing:
    recent: int
    share: float
    usual_share: float

    def describe(self, threshold: Threshold) -> str:
        minutes = int(threshold.window.total_seconds() // 60)
        return (
            f"{self.recent} sessions in {minutes} min: {self.share:.0%} of the sub-account's sessions "
            f"(usually {self.usual_share:.0%})"
        )


def threshold_crossing(fp: Fingerprint, now: datetime, threshold: Threshold) -> Crossing | None:
    """At least min_sessions in the window, and a larger share of the sub-account's sessions than
    usual (the baseline before the window) by share_factor. Sub-account totals come from the rollups."""
    window_start = now - threshold.window
    recent = fp.sessions(window_start, now).count()
    if recent < threshold.min_sessions:
        return None
    total = max(_sub_account_sessions(fp.sub_account_id, window_start, now, BucketSize.MINUTE), recent)
    share = recent / total
    base_start = window_start - threshold.baseline
    base_count = fp.sessions(base_start, window_start).count()
    hour = base_start.replace(minute=0, second=0, microsecond=0)
    base_total = max(_sub_account_sessions(fp.sub_account_id, hour, window_start, BucketSize.HOUR), base_count)
    usual = base_count / base_total if base_total else 0.0
    if share <= usual * threshold.share_factor:
        return None
    return Crossing(recent, share, usual)


def log_activity(incident: Incident, kind: str, *, actor=None, text: str = "", from_state: str = "") -> None:
    IncidentActivity.objects.create(
        incident=incident, kind=kind, actor=actor, text=text, from_state=from_state, to_state=incident.state
    )


def refresh_counts(incident: Incident, fp: Fingerprint) -> None:
    """Everything the incident shows about its sessions, worked out here so pages stay fast."""
    from incidents import stats

    members = fp.sessions(incident.first_seen, incident.last_seen)
    incident.sessions_count = members.count()
    incident.stats = stats.compute(fp, incident.first_seen, incident.last_seen)
    incident.numbers_count = (
        CallLeg.objects.filter(session__in=members.values("pk"))
        .exclude(destination="")
        .values("destination")
        .distinct()
        .count()
    )


def fingerprint_of(incident: Incident) -> Fingerprint:
    return Fingerprint(
        incident.cause_kind,
        incident.cause,
        incident.fault_side,
        incident.sub_account_id,
        incident.country,
        incident.product,
    )


def title_for(fp: Fingerprint) -> str:
    from reference.models import SipCode, VoiceErrorCode

    reason = ""
    code = fp_mod._int(fp.cause)
    if fp.cause_kind == "sip" and code is not None:
        reason = SipCode.objects.filter(code=code).values_list("reason_phrase", flat=True).first() or ""
    elif fp.cause_kind == "error_code" and code is not None:
        reason = VoiceErrorCode.objects.filter(code=code).values_list("message", flat=True).first() or ""
    where = " · ".join(p for p in (fp.sub_account_id, fp.country) if p)
    return f"{fp.cause_label}{' ' + reason if reason else ''} — {where or 'no sub-account'}"[:200]


def _new_incident(fp: Fingerprint, first_seen: datetime, last_seen: datetime, **extra) -> Incident | None:
    try:
        with transaction.atomic():
            return Incident.objects.create(
                fingerprint=fp.key,
                cause_kind=fp.cause_kind,
                cause=fp.cause,
                fault_side=fp.fault_side,
                sub_account_id=fp.sub_account_id,
                country=fp.country,
                product=fp.product,
                title=title_for(fp),
                first_seen=first_seen,
                last_seen=last_seen,
                **extra,
            )
    except IntegrityError:  # opened meanwhile by an alert rule or another runner
        return None


_LOOK_UP = object()


def touch(
    fp: Fingerprint, starts: list[datetime], now: datetime, threshold: Threshold, incident: Any = _LOOK_UP
) -> Incident | None:
    """New sessions with this fingerprint arrived (their start times): open, update or regress.
    ``incident``: the fingerprint's incident, already locked, or None (run() reads them per batch)."""
    if incident is _LOOK_UP:
        incident = Incident.objects.select_for_update().filter(fingerprint=fp.key).first()
    if incident is None:
        if max(starts) < now - threshold.window:
            return None  # only old sessions (a reclassify): they cannot cross the threshold now
        crossing = threshold_crossing(fp, now, threshold)
        if crossing is None:
            return None
        window = fp.sessions(now - threshold.window, now).order_by("start_time").values_list("start_time", flat=True)
        first, last = window.first(), window.last()
        if first is None or last is None:  # candidates have a start_time; none left means no crossing
            return None
        incident = _new_incident(fp, first, max(max(starts), last))
        if incident is None:
            return None
        refresh_counts(incident, fp)
        incident.save()
        log_activity(incident, ActivityKind.OPENED, text=crossing.describe(threshold))
        return incident

    latest = max(starts)
    before = incident.state
    if incident.state == State.RESOLVED:
        recurred = [s for s in starts if incident.resolved_at and s > incident.resolved_at]
        if recurred:
            incident.state = State.REGRESSED
            incident.regressions += 1
            incident.last_seen = max(incident.last_seen, latest)
            refresh_counts(incident, fp)
            incident.save()
            log_activity(
                incident,
                ActivityKind.REGRESSED,
                text=f"{len(recurred)} new session(s) after it was resolved",
                from_state=before,
            )
            return incident
        return incident
    incident.last_seen = max(incident.last_seen, latest)
    refresh_counts(incident, fp)
    if incident.state == State.IGNORED:
        if incident.ignored_until and now >= incident.ignored_until:
            reopen_from_ignore(incident, "the ignore period ended")
            return incident
        if incident.ignored_until_sessions and incident.sessions_count >= incident.ignored_until_sessions:
            reopen_from_ignore(incident, f"it reached {incident.ignored_until_sessions} sessions")
            return incident
    incident.save()
    return incident


def reopen_from_ignore(incident: Incident, why: str) -> None:
    before = incident.state
    incident.state = State.OPEN
    incident.ignored_until = None
    incident.ignored_until_sessions = None
    incident.save()
    log_activity(incident, ActivityKind.REOPENED, text=f"Reopened: {why}", from_state=before)


def expire_ignores(now: datetime) -> int:
    """Ignored-until-a-date incidents come back even when no new session touches them."""
    count = 0
    for incident in Incident.objects.select_for_update(skip_locked=True).filter(
        state=State.IGNORED, ignored_until__lte=now
    ):
        reopen_from_ignore(incident, "the ignore period ended")
        count += 1
    return count


def _cursor(now: datetime, threshold: Threshold) -> GroupingCursor | None:
    GroupingCursor.objects.get_or_create(name=CURSOR, defaults={"position": now - threshold.window})
    return GroupingCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR).first()


def run(now: datetime | None = None, *, batch: int = BATCH) -> int:
    """Read sessions changed since the cursor, batch by batch; returns how many were read.

    Caught up, a read starts OVERLAP before the cursor. Behind (the last batch was full, e.g.
    after a reclassify), it continues on the keyset (updated_at, id) where it stopped, so any
    number of rows sharing one stamp is read once and the job always moves forward."""
    threshold = Threshold.from_settings()
    read = 0
    after: tuple[datetime, int] | None = None  # within a run, each batch continues the last one
    for _ in range(MAX_BATCHES_PER_RUN):
        at = now or timezone.now()
        with transaction.atomic():
            cursor = _cursor(at, threshold)
            if cursor is None:
                return read  # another runner holds it
            if after is None and cursor.caught_up:
                after_filter = Q(updated_at__gt=cursor.position - OVERLAP)
            else:
                stamp, pk = after or (cursor.position, cursor.last_id)
                after_filter = Q(updated_at__gt=stamp) | Q(updated_at=stamp, id__gt=pk)
            rows = list(
                fp_mod.candidates(Session.objects.filter(after_filter))
                .only(
                    "id",
                    "primary_cause",
                    "primary_cause_kind",
                    "fault_side",
                    "sub_account_id",
                    "product",
                    "start_time",
                    "updated_at",
                    "outcome_group",
                )
                .prefetch_related(
                    Prefetch(
                        "legs",
                        queryset=CallLeg.objects.only("id", "session_id", "destination_country").order_by(
                            "initiated_at", "leg_key", "id"
                        ),
                    )
                )
                .order_by("updated_at", "id")[:batch]
            )
            groups: dict[Fingerprint, list[datetime]] = defaultdict(list)
            for session in rows:
                if session.start_time is not None:  # always set on candidates (fingerprint.py)
                    groups[fp_mod.for_session(session)].append(session.start_time)
            # One query for the batch's incidents; a fingerprint without one whose sessions all
            # started before the window cannot open one now (a reclassify's old history): skip it.
            incidents = {
                i.fingerprint: i
                for i in Incident.objects.select_for_update().filter(fingerprint__in=[fp.key for fp in groups])
            }
            recent = at - threshold.window
            for fp, starts in groups.items():
                incident = incidents.get(fp.key)
                if incident is None and max(starts) < recent:
                    continue
                try:
                    with transaction.atomic():  # a savepoint: one bad group never stalls the cursor
                        touch(fp, starts, at, threshold, incident)
                except DatabaseError:
                    log.exception("incident grouping failed for %s; skipped", fp)
            expire_ignores(at)
            if rows:
                after = (rows[-1].updated_at, rows[-1].id)
            if rows and after and after > (cursor.position, cursor.last_id):
                cursor.position, cursor.last_id = after
            elif not rows and cursor.caught_up:
                # Nothing new: move up to now, minus the overlap that the next read adds back.
                cursor.position, cursor.last_id = max(cursor.position, at - OVERLAP), 0
            cursor.caught_up = len(rows) < batch
            cursor.save(update_fields=["position", "last_id", "caught_up"])
        read += len(rows)
        if len(rows) < batch:
            break
    return read


def open_for_alert(
    fp: Fingerprint, *, rule: str, since: datetime | None = None, now: datetime | None = None
) -> Incident:
    """Open (or reopen) the incident for a fingerprint because an alert rule fired, whatever its
    fault side and count: the alerts app decides, this records. ``since`` is the start of the
    rule's window (default: the grouping window). Ignored incidents stay ignored."""
    now = now or timezone.now()
    since = since or now - Threshold.from_settings().window
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(fingerprint=fp.key).first()
        if incident is None:
            starts = fp.sessions(since, now).order_by("start_time").values_list("start_time", flat=True)
            first, last = starts.first() or now, starts.last() or now
            incident = _new_incident(fp, first, last, opened_by_rule=rule[:200])
            if incident is None:
                incident = Incident.objects.select_for_update().get(fingerprint=fp.key)
            else:
                refresh_counts(incident, fp)
                incident.save()
                log_activity(incident, ActivityKind.OPENED, text=f"Opened by alert rule {rule}")
                return incident
        if incident.state == State.RESOLVED:
            before = incident.state
            incident.state = State.REGRESSED
            incident.regressions += 1
            incident.last_seen = max(incident.last_seen, now)
            incident.save()
            log_activity(incident, ActivityKind.REGRESSED, text=f"Alert rule {rule} fired", from_state=before)
        return incident
