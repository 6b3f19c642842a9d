"""Incidents: failing sessions that are one problem, grouped by a fingerprint of their cause.

Membership is the fingerprint plus a time span (first_seen..last_seen), never foreign keys to
``classify.Session`` rows: ``reclassify`` rebuilds those, and an incident must survive it.
Every state change, assignment, ticket and note is an ``IncidentActivity`` row (STYLE 16).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Value, When


class State(models.TextChoices):
    OPEN = "open", "Open"
    REGRESSED = "regressed", "Regressed"  # resolved, then it happened again: open once more
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    IGNORED = "ignored", "Ignored"
    RESOLVED = "resolved", "Resolved"


# "Open first": what needs someone now, then what someone owns, then what is parked or done.
STATE_RANK = {State.OPEN: 0, State.REGRESSED: 0, State.ACKNOWLEDGED: 1, State.IGNORED: 2, State.RESOLVED: 3}
ACTIVE_STATES = (State.OPEN, State.REGRESSED, State.ACKNOWLEDGED)


class IncidentQuerySet(models.QuerySet):
    def active(self) -> IncidentQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def open_first(self) -> IncidentQuerySet:
        rank = Case(
            *[When(state=state, then=Value(r)) for state, r in STATE_RANK.items()],
            default=Value(9),
            output_field=IntegerField(),
        )
        return self.annotate(state_rank=rank).order_by("state_rank", "-last_seen", "-id")


class Incident(models.Model):
    # sha256 of the parts below (incidents.fingerprint.Fingerprint.key): one incident per fingerprint.
    fingerprint = models.CharField(max_length=64, unique=True)
    cause_kind = models.CharField(max_length=12)  # classify.CauseKind: sip / error_code / status
    cause = models.CharField(max_length=32)
    fault_side = models.CharField(max_length=16)
    sub_account_id = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=8, blank=True)
    product = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=200)

    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    opened_by_rule = models.CharField(max_length=200, blank=True)  # set when an alert rule opened it
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    sessions_count = models.PositiveIntegerField(default=0)
    numbers_count = models.PositiveIntegerField(default=0)
    # Chart bars, top numbers, the sub-account's sessions: incidents/stats.py, by the grouping job.
    stats = models.JSONField(default=dict, blank=True)

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.CharField(max_length=200, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    ignored_until = models.DateTimeField(null=True, blank=True)
    ignored_until_sessions = models.PositiveIntegerField(null=True, blank=True)  # reopen at this count
    regressions = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen", "-id"]
        permissions = [
            ("acknowledge_incident", "Can acknowledge incidents and add notes to them"),
            ("manage_incident", "Can resolve, ignore and assign incidents and set their ticket"),
        ]
        indexes = [
            models.Index(fields=["state", "-last_seen"], name="incident_state_idx"),
            models.Index(fields=["sub_account_id", "-last_seen"], name="incident_subaccount_idx"),
            models.Index(fields=["assignee", "-last_seen"], name="incident_assignee_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class ActivityKind(models.TextChoices):
    OPENED = "opened", "Opened"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    REGRESSED = "regressed", "Regressed"
    IGNORED = "ignored", "Ignored"
    REOPENED = "reopened", "Reopened"
    ASSIGNED = "assigned", "Assigned"
    TICKET = "ticket", "Ticket set"
    NOTE = "note", "Note"


class IncidentActivity(models.Model):
    """One row per change: who (null = sipdesk itself), what, when. Read back as the log."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"], name="incidentactivity_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind}"


class GroupingCursor(models.Model):
    """How far the grouping job has read ``Session.updated_at``; one row, locked while it runs."""

    name = models.CharField(max_length=32, primary_key=True)
    position = models.DateTimeField()
    last_id = models.BigIntegerField(default=0)  # with position: the keyset where a full batch stopped
    caught_up = models.BooleanField(default=True)  # the last read was not a full batch

    def __str__(self) -> str:
        return f"{self.name} @ {self.position:%Y-%m-%d %H:%M:%S}"


class BundleJobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Building"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class BundleJob(models.Model):
    """An escalation bundle too large to build in a request, built by a Celery task."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The session filter (dashboard.forms.SessionFilterForm GET parameters) or the incident's span.
    query = models.JSONField(default=dict, blank=True)
    include_numbers = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=BundleJobState.choices, default=BundleJobState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.BinaryField(null=True, blank=True)  # the .zip
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"bundle {self.pk} {self.state}"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
