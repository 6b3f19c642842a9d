"""Messages and their delivery through Apprise.

Evaluation writes ``Notification`` rows (pending) and, after commit, nudges the ``alerts.send``
task with their ids. The task claims a row with one conditional UPDATE (pending → sending), so a
row goes out once however many tasks or retries run; it then records sent, or failed with the
reason Apprise logged. A failure is retried with backoff (30 s, 60 s, 120 s …) up to
``SIPDESK_ALERTS_SEND_ATTEMPTS``; ``alerts.sweep_notifications`` re-nudges rows whose task was
lost (broker down, worker killed before it ran) and takes back rows whose sender died mid-send
after ``SENDING_LEASE`` (that one case can send twice: the message may have left before the crash).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import apprise
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts.models import (
    AlertEvent,
    AlertRule,
    Channel,
    Metric,
    Notification,
    NotificationKind,
    NotificationStatus,
    Per,
    format_value,
    window_label,
)

log = logging.getLogger(__name__)

SENDING_LEASE = timedelta(minutes=10)
_NOTIFICATIONS = Notification._meta.db_table
FIRST_BACKOFF = timedelta(seconds=30)
# The sessions list's filter names (dashboard.forms.SessionFilterForm) for a rule's scope.
SESSION_FILTER = {"sub_account": "sub_account", "product": "product", "country": "country", "direction": "direction"}
PER_FILTER: dict[str, str] = {
    Per.SUB_ACCOUNT: "sub_account",
    Per.PRODUCT: "product",
    Per.COUNTRY: "country",
    Per.DIRECTION: "direction",
}


def sessions_link(rule: AlertRule, event: AlertEvent) -> str:
    """The sessions list filtered to the rule's scope (and key) over the event's window, as
    absolute UTC times: the link shows the same calls however late someone clicks it."""
    params: dict[str, Any] = {}
    if event.window_start and event.window_end:
        params["start"] = f"{event.window_start:%Y-%m-%d %H:%M}"
        params["end"] = f"{event.window_end:%Y-%m-%d %H:%M}"
    for name, value in rule.scope().items():
        params[SESSION_FILTER[name]] = value
    if rule.per and event.key:
        params[PER_FILTER[rule.per]] = event.key
    if rule.metric in (Metric.SIP_CODE_SHARE, Metric.SIP_CODE_COUNT) and rule.sip_code is not None:
        params["sip_code"] = rule.sip_code
    elif rule.metric in (Metric.ERROR_CODE_SHARE, Metric.ERROR_CODE_COUNT) and rule.error_code is not None:
        params["error_code"] = rule.error_code
    elif rule.metric == Metric.FAILURE_SHARE and rule.outcome_group:
        params["outcome"] = rule.outcome_group
    base = settings.SIPDESK_DASHBOARD_URL.rstrip("/")
    return f"{base}{reverse('dashboard:sessions')}?{urlencode(params)}"


def scope_label(rule: AlertRule, key: str) -> str:
    parts = [f"{name}={value}" for name, value in rule.scope().items()]
    if rule.per:
        parts.append(f"{rule.per}={key or '(none)'}")
    return ", ".join(parts) or "all traffic"


def compose(rule: AlertRule, event: AlertEvent, kind: str) -> tuple[str, str]:
    """(title, body) of a message; plain text, so every Apprise service renders it."""
    scope = scope_label(rule, event.key)
    value = format_value(rule.metric, event.value)
    if kind == NotificationKind.RESOLVED:
        title = f"[sipdesk] RESOLVED: {rule.name} ({scope})"
        threshold = f"resolve threshold {format_value(rule.metric, rule.resolve_at)}"
    else:
        still = "STILL FIRING" if kind == NotificationKind.REPEAT else "FIRING"
        title = f"[sipdesk] {still}: {rule.name} ({scope})"
        threshold = f"threshold {rule.comparison} {format_value(rule.metric, rule.threshold)}"
    window = f"{event.window_start:%Y-%m-%d %H:%M} – {event.window_end:%H:%M} UTC" if event.window_start else ""
    lines = [
        f"{rule.describe()}",
        f"Value: {value} ({threshold})",
        f"Sessions counted: {event.sessions}" if rule.metric not in Metric.not_from_rollups() else "",
        f"Window: {window_label(rule.window_minutes)} ({window})" if window else "",
        f"Scope: {scope}",
    ]
    if event.causes:
        lines.append("Top causes: " + ", ".join(f"{cause} ×{n}" for cause, n in event.causes))
    if rule.metric == Metric.UNHEALTHY_NUMBERS:
        lines.append(f"Numbers: {settings.SIPDESK_DASHBOARD_URL.rstrip('/')}{reverse('products:products')}")
    elif rule.metric != Metric.BACKLOG_AGE:
        lines.append(f"Sessions: {sessions_link(rule, event)}")
    lines.append(f"Alerts: {settings.SIPDESK_DASHBOARD_URL.rstrip('/')}{reverse('alerts:index')}")
    return title[:250], "\n".join(line for line in lines if line)


def enqueue(ids: list[int]) -> None:
    """Nudge the sender; a lost nudge is picked up by the sweep, so a broker error is logged only."""
    from alerts.tasks import send

    for notification_id in ids:
        try:
            send.delay(notification_id)
        except Exception:  # the row is safe; sweep_notifications retries it
            log.warning("could not enqueue notification %s; the sweep will", notification_id, exc_info=True)


def claim(notification_id: int, now: datetime | None = None) -> Notification | None:
    """Take one due notification for sending, or None if another sender has it / it is done."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_NOTIFICATIONS} SET status = %s, claimed_at = %s, attempts = attempts + 1"  # noqa: S608 - model metadata
            " WHERE id = %s AND ((status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s))"
            " OR (status = %s AND claimed_at < %s)) RETURNING id",
            [
                NotificationStatus.SENDING,
                now,
                notification_id,
                NotificationStatus.PENDING,
                now,
                NotificationStatus.SENDING,
                now - SENDING_LEASE,
            ],
        )
        if cursor.fetchone() is None:
            return None
    return Notification.objects.select_related("channel").get(pk=notification_id)


def deliver(channel: Channel, title: str, body: str) -> tuple[bool, str]:
    """Send through Apprise; (ok, reason it failed)."""
    url = channel.url
    if not url:
        return False, "channel URL is empty or unreadable (encryption key changed?)"
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False, "not a valid Apprise URL"
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
        ok = bool(notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
        reason = captured.getvalue().strip()
    return ok, "" if ok else (reason.splitlines()[-1] if reason else "the service refused the message")[:1000]


def send_one(notification_id: int) -> str:
    """Claim, send, record. Returns the row's status afterwards ("" when it was not ours)."""
    notification = claim(notification_id)
    if notification is None:
        return ""
    ok, reason = deliver(notification.channel, notification.title, notification.body)
    now = timezone.now()
    if ok:
        Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.SENT, sent_at=now, error="")
        return NotificationStatus.SENT
    if notification.attempts >= settings.SIPDESK_ALERTS_SEND_ATTEMPTS:
        Notification.objects.filter(pk=notification.pk).update(status=NotificationStatus.FAILED, error=reason)
        log.warning("notification %s failed for good: %s", notification.pk, reason)
        return NotificationStatus.FAILED
    delay = FIRST_BACKOFF * 2 ** (notification.attempts - 1)
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.PENDING, next_attempt_at=now + delay, error=reason
    )
    from alerts.tasks import send

    try:
        send.apply_async((notification.pk,), countdown=delay.total_seconds())
    except Exception:  # the sweep picks it up
        log.warning("could not schedule retry of notification %s", notification.pk, exc_info=True)
    return NotificationStatus.PENDING


def due_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending rows whose time has come and rows whose sender died mid-send."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {_NOTIFICATIONS} WHERE (status = %s"  # noqa: S608 - model metadata
            " AND (next_attempt_at IS NULL OR next_attempt_at <= %s) AND created_at <= %s)"
            " OR (status = %s AND claimed_at < %s) ORDER BY id LIMIT %s",
            [
                NotificationStatus.PENDING,
                now,
                now - timedelta(seconds=10),
                NotificationStatus.SENDING,
                now - SENDING_LEASE,
                limit,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def send_test(channel: Channel) -> Notification:
    """A test message, through the same claim-once path as real ones."""
    base = settings.SIPDESK_DASHBOARD_URL.rstrip("/")
    notification = Notification.objects.create(
        channel=channel,
        kind=NotificationKind.TEST,
        title="[sipdesk] Test notification",
        body=f"This is a test of the channel {channel.name!r}. Alerts: {base}{reverse('alerts:index')}",
    )
    enqueue([notification.pk])
    return notification
