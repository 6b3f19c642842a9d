"""An alert that fires opens incidents for what it saw (README "Incidents"; alerts/signals.py).

The grouping job opens incidents on its own threshold and never for customer-side causes. A team
lead's alert rule is a stronger statement: when one fires, the failing sessions in its window and
scope are grouped by fingerprint and the largest groups become incidents, customer-side included
("the rule says so"). Runs inside the alert evaluation's transaction; writes rows only.
"""

from __future__ import annotations

from django.db.models import Count
from django.dispatch import receiver

from alerts.models import AlertEvent, AlertRule, Metric
from alerts.signals import alert_fired
from classify.models import Session
from incidents import grouping
from incidents.fingerprint import FAILING_GROUPS, Fingerprint

# Scope and per-value fields of a rule, as Session columns (Session.destination_country is the
# far end's country, the same one the fingerprint uses).
RULE_COLUMN = {
    "sub_account": "sub_account_id",
    "product": "product",
    "country": "destination_country",
    "direction": "direction",
}
FINGERPRINT_COLUMNS = (
    "primary_cause_kind",
    "primary_cause",
    "fault_side",
    "sub_account_id",
    "destination_country",
    "product",
)
MAX_INCIDENTS_PER_ALERT = 3


def failing_sessions(rule: AlertRule, event: AlertEvent):  # -> QuerySet[Session]
    sessions = Session.objects.filter(
        start_time__gte=event.window_start, start_time__lt=event.window_end, outcome_group__in=FAILING_GROUPS
    ).exclude(primary_cause="")
    for name, value in rule.scope().items():
        sessions = sessions.filter(**{RULE_COLUMN[name]: value})
    if rule.per and event.key:
        sessions = sessions.filter(**{RULE_COLUMN[rule.per]: event.key})
    if rule.metric in (Metric.SIP_CODE_SHARE, Metric.SIP_CODE_COUNT):
        sessions = sessions.filter(primary_sip_code=rule.sip_code)
    elif rule.metric in (Metric.ERROR_CODE_SHARE, Metric.ERROR_CODE_COUNT):
        sessions = sessions.filter(error_code=rule.error_code)
    elif rule.metric == Metric.FAILURE_SHARE and rule.fault_side:
        sessions = sessions.filter(fault_side=rule.fault_side)
    elif rule.metric == Metric.FAILURE_SHARE and rule.outcome_group:
        sessions = sessions.filter(outcome_group=rule.outcome_group)
    return sessions


@receiver(alert_fired, dispatch_uid="incidents.open_for_fired_alert")
def open_for_fired_alert(sender: type[AlertRule], event: AlertEvent, **kwargs: object) -> None:
    rule = event.rule
    # Backlog age, volume and unhealthy numbers say nothing about which sessions failed.
    if rule.metric in Metric.not_from_rollups() or rule.metric == Metric.VOLUME or event.window_start is None:
        return
    groups = (
        failing_sessions(rule, event)
        .values(*FINGERPRINT_COLUMNS)
        .annotate(n=Count("pk"))
        .order_by("-n", *FINGERPRINT_COLUMNS)[:MAX_INCIDENTS_PER_ALERT]
    )
    for group in groups:
        fp = Fingerprint(*(group[column] for column in FINGERPRINT_COLUMNS))
        grouping.open_for_alert(fp, rule=rule.name, since=event.window_start, now=event.at)
