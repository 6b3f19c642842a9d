"""Alert rules over the session rollups, their per-value states, the state changes as rows
(``AlertEvent``, healthchecks' ``Flip``) and the notifications a sender claims once each.

Evaluation (alerts/evaluate.py) only writes states, events and pending notifications; sending
(alerts/notify.py) claims a notification row and never blocks evaluation (docs: README "Alerts").
"""

from __future__ import annotations

import os
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from alerts import crypto


class Metric(models.TextChoices):
    FAILURE_SHARE = "failure_share", "Failure share"
    SIP_CODE_SHARE = "sip_code_share", "Share of one SIP code"
    SIP_CODE_COUNT = "sip_code_count", "Count of one SIP code"
    ERROR_CODE_SHARE = "error_code_share", "Share of one 8x8 error code"
    ERROR_CODE_COUNT = "error_code_count", "Count of one 8x8 error code"
    ANSWER_RATE = "answer_rate", "Answer rate"
    VOLUME = "volume", "Session volume"
    BACKLOG_AGE = "backlog_age", "Classification backlog age (s)"
    UNHEALTHY_NUMBERS = "unhealthy_numbers", "Unhealthy virtual numbers"

    @classmethod
    def not_from_rollups(cls) -> set[str]:
        """Metrics read from elsewhere than the session rollups: no sessions, no sessions link."""
        return {cls.BACKLOG_AGE, cls.UNHEALTHY_NUMBERS}

    @classmethod
    def shares(cls) -> set[str]:
        """Metrics that are a ratio of finished sessions: these need ``min_sessions``."""
        return {cls.FAILURE_SHARE, cls.SIP_CODE_SHARE, cls.ERROR_CODE_SHARE, cls.ANSWER_RATE}


class Per(models.TextChoices):
    NONE = "", "—"
    SUB_ACCOUNT = "sub_account", "Sub-account"
    PRODUCT = "product", "Product"
    COUNTRY = "country", "Destination country"
    DIRECTION = "direction", "Direction"


class Comparison(models.TextChoices):
    ABOVE = "above", "above"
    BELOW = "below", "below"


class Status(models.TextChoices):
    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    LOW_VOLUME = "low_volume", "Not enough traffic"
    NO_DATA = "no_data", "No data"


class Channel(models.Model):
    """Where notifications go: one Apprise URL (mailto://, slack://, json://, …), stored
    encrypted, or read from an environment variable so the secret never enters the database."""

    name = models.CharField(max_length=100, unique=True)
    url_encrypted = models.TextField(blank=True, editable=False)
    url_env = models.CharField(
        max_length=100, blank=True, help_text="Name of an environment variable holding the URL (instead of storing it)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        if self.url_env:
            return os.environ.get(self.url_env, "").strip()
        return crypto.decrypt(self.url_encrypted)

    @url.setter
    def url(self, value: str) -> None:
        self.url_encrypted = crypto.encrypt(value.strip()) if value else ""

    def safe_url(self) -> str:
        """The URL with its secrets hidden (Apprise's privacy mode), for pages and logs."""
        import apprise

        if self.url_env:
            return f"${self.url_env}"
        plugin = apprise.Apprise.instantiate(self.url) if self.url else None
        return plugin.url(privacy=True) if plugin else "(unreadable or invalid URL)"


class AlertRule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    # failure_share counts failed + error sessions, or only this outcome group / fault side.
    outcome_group = models.CharField(max_length=16, blank=True)
    fault_side = models.CharField(max_length=16, blank=True)
    sip_code = models.SmallIntegerField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    # Scope: empty means any.
    sub_account = models.CharField(max_length=64, blank=True)
    product = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=8, blank=True)
    direction = models.CharField(max_length=16, blank=True)
    per = models.CharField(max_length=16, choices=Per.choices, blank=True, default=Per.NONE)
    comparison = models.CharField(max_length=5, choices=Comparison.choices, default=Comparison.ABOVE)
    threshold = models.FloatField()
    # Hysteresis: a firing alert resolves only past this value (default: the threshold).
    resolve_threshold = models.FloatField(null=True, blank=True)
    window_minutes = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    min_sessions = models.PositiveIntegerField(default=50)
    for_count = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Consecutive breaching evaluations before firing",
    )
    repeat_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Repeat while firing after this long (default SIPDESK_ALERTS_REPEAT_MINUTES)"
    )
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)  # the last cycle that read it

    class Meta:
        ordering = ["name"]
        permissions = [("manage_alerts", "Can edit alert rules and channels")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Stored as the sessions store them, so the rollup filter and the sessions link agree.
        self.country, self.direction = self.country.upper(), self.direction.upper()
        super().save(*args, **kwargs)

    @property
    def resolve_at(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def scope(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("sub_account", self.sub_account),
                ("product", self.product),
                ("country", self.country),
                ("direction", self.direction),
            )
            if v
        }

    def describe(self) -> str:
        what = self.get_metric_display()
        if self.metric in (Metric.SIP_CODE_SHARE, Metric.SIP_CODE_COUNT):
            what += f" {self.sip_code}"
        elif self.metric in (Metric.ERROR_CODE_SHARE, Metric.ERROR_CODE_COUNT):
            what += f" {self.error_code}"
        elif self.metric == Metric.FAILURE_SHARE and (self.fault_side or self.outcome_group):
            what += f" ({self.fault_side or self.outcome_group})"
        threshold = format_value(self.metric, self.threshold)
        return f"{what} {self.comparison} {threshold} over {window_label(self.window_minutes)}"


class AlertState(models.Model):
    """One rule's state for one value of its ``per`` dimension ("" when the rule has no ``per``)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    key = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OK)
    value = models.FloatField(null=True, blank=True)
    sessions = models.PositiveIntegerField(default=0)
    breaches = models.PositiveSmallIntegerField(default=0)  # consecutive breaching evaluations
    evaluated_at = models.DateTimeField(null=True, blank=True)  # last evaluation that changed a fact
    changed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)  # last fire/repeat message queued
    fired_event = models.ForeignKey("AlertEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recent = models.JSONField(default=list, blank=True)  # the last values that changed, for the sparkline

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "key"], name="unique_alert_state")]
        indexes = [models.Index(fields=["status"], name="alertstate_status_idx")]

    def __str__(self) -> str:
        return f"{self.rule} [{self.key}] {self.status}"


class AlertEvent(models.Model):
    """A state change, as a row (healthchecks' Flip): pending, fired, resolved, no data…"""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    key = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(db_index=True)
    old_status = models.CharField(max_length=12, choices=Status.choices)
    new_status = models.CharField(max_length=12, choices=Status.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    sessions = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    causes = models.JSONField(default=list, blank=True)  # [[cause, count], …] top causes at the time

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule} [{self.key}] {self.old_status} → {self.new_status}"


class NotificationKind(models.TextChoices):
    FIRED = "fired", "Fired"
    REPEAT = "repeat", "Still firing"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One message to one channel. Written pending by evaluation; a sender claims it with a
    conditional UPDATE (pending → sending), so it goes out once however many tasks run."""

    event = models.ForeignKey(AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=10, choices=NotificationKind.choices)
    title = models.CharField(max_length=250)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="notification_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.channel}: {self.status}"


def window_label(minutes: int) -> str:
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in Metric.shares():
        return f"{value * 100:.1f}%"
    if metric == Metric.BACKLOG_AGE:
        return f"{value:.0f}s"
    return f"{value:g}"
