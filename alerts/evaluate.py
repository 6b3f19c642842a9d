"""One evaluation cycle: every enabled rule, read from the session rollups, never raw events.

Each rule is one aggregate query over the minute buckets of its window (the rollups keep minutes
for two days, and windows are at most 24 h), grouped by its ``per`` dimension; a rule scoped to
one sub-account reads only that sub-account's rows (index ``sessionrollup_sub_idx``). States are
then decided in Python (``decide``, pure) and written back with one upsert for the whole cycle;
state changes become ``AlertEvent`` rows and fire / resolve / repeat become pending
``Notification`` rows, which alerts/notify.py sends after commit. bench/alerts.py measures a
cycle.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts import signals
from alerts.models import (
    AlertEvent,
    AlertRule,
    AlertState,
    Comparison,
    Metric,
    Notification,
    NotificationKind,
    Per,
    Status,
)

log = logging.getLogger(__name__)

SPARKLINE_POINTS = 60
EVALUATION_LOCK_KEY = 0x51D0_0013  # pg advisory lock: one evaluation cycle at a time
PER_COLUMN = {
    Per.SUB_ACCOUNT: "sub_account_id",
    Per.PRODUCT: "product",
    Per.COUNTRY: "destination_country",
    Per.DIRECTION: "direction",
}
SCOPE_COLUMN = {
    "sub_account": "sub_account_id",
    "product": "product",
    "country": "destination_country",
    "direction": "direction",
}
# Status changes written as AlertEvent rows: the ones a person acts on. Flickers between
# ok / not enough traffic / no data on a quiet sub-account are not history worth keeping.
EVENTFUL = {Status.PENDING, Status.FIRING, Status.RESOLVED}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Reading:
    """What one rule measured for one key. ``value`` None: nothing to judge (see ``reason``)."""

    key: str
    value: float | None
    sessions: int
    reason: str = ""  # Status.LOW_VOLUME or Status.NO_DATA when value is None


@dataclass
class Decision:
    status: str
    breaches: int
    fire: bool = False
    resolve: bool = False


def window_for(rule: AlertRule, now: datetime) -> Window:
    """The rule's last ``window_minutes`` whole minutes, the current (partial) minute included,
    so a burst counts within the minute it happens."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Window(end - timedelta(minutes=rule.window_minutes), end)


def breaching(comparison: str, value: float, threshold: float) -> bool:
    return value > threshold if comparison == Comparison.ABOVE else value < threshold


def decide(rule: AlertRule, status: str, breaches: int, reading: Reading) -> Decision:
    """The next state of one key. Pure: the tests call it directly as well as through a cycle.

    - No value (no data, or fewer than ``min_sessions``): a firing alert stays firing (quiet
      traffic is no evidence it recovered); anything else shows why there is no value.
    - Firing resolves only once the value is back past ``resolve_threshold`` (hysteresis).
    - Otherwise ``for_count`` consecutive breaches fire; fewer are pending.
    """
    if reading.value is None:
        if status == Status.FIRING:
            return Decision(Status.FIRING, breaches)
        return Decision(reading.reason or Status.NO_DATA, 0)
    if status == Status.FIRING:
        if breaching(rule.comparison, reading.value, rule.resolve_at):
            return Decision(Status.FIRING, breaches + 1)
        return Decision(Status.RESOLVED, 0, resolve=True)
    if breaching(rule.comparison, reading.value, rule.threshold):
        breaches += 1
        if breaches >= rule.for_count:
            return Decision(Status.FIRING, breaches, fire=True)
        return Decision(Status.PENDING, breaches)
    if status == Status.RESOLVED:
        return Decision(Status.RESOLVED, 0)
    return Decision(Status.OK, 0)


# --- reading the rollups ------------------------------------------------------------------


def _scope_sql(rule: AlertRule) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for name, value in rule.scope().items():
        clauses.append(f"{SCOPE_COLUMN[name]} = %s")
        params.append(value)
    return "".join(f" AND {c}" for c in clauses), params


def _numerator_sql(rule: AlertRule) -> tuple[str, list[Any]]:
    metric = rule.metric
    if metric == Metric.FAILURE_SHARE:
        if rule.fault_side:
            return "fault_side = %s", [rule.fault_side]
        if rule.outcome_group:
            return "outcome_group = %s", [rule.outcome_group]
        return "outcome_group IN ('failed', 'error')", []
    if metric in (Metric.SIP_CODE_SHARE, Metric.SIP_CODE_COUNT):
        return "primary_sip_code = %s", [rule.sip_code]
    if metric in (Metric.ERROR_CODE_SHARE, Metric.ERROR_CODE_COUNT):
        return "error_code = %s", [rule.error_code]
    if metric == Metric.ANSWER_RATE:
        return "outcome_group = 'answered'", []
    return "TRUE", []


def read_rule(rule: AlertRule, window: Window, known_keys: set[str]) -> list[Reading]:
    """One aggregate over the rule's window: per key, (finished sessions, matching, all)."""
    key_sql = PER_COLUMN.get(rule.per, "''")
    scope_sql, scope_params = _scope_sql(rule)
    num_sql, num_params = _numerator_sql(rule)
    sql = (
        f"SELECT {key_sql}, coalesce(sum(count) FILTER (WHERE outcome_group <> 'in_progress'), 0),"  # noqa: S608 - columns from constants
        f" coalesce(sum(count) FILTER (WHERE {num_sql}), 0), coalesce(sum(count), 0)"
        " FROM classify_sessionrollup WHERE bucket_size = 'minute' AND bucket_start >= %s AND bucket_start < %s"
        f"{scope_sql} GROUP BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*num_params, window.start, window.end, *scope_params])
        rows = {key or "": (finished, matching, total) for key, finished, matching, total in cursor.fetchall()}
        if rule.metric == Metric.VOLUME and rule.per and not known_keys:
            # First evaluation of a per-value volume rule: a value that is already quiet has no
            # rows in the window, so take the values of the day before as well.
            cursor.execute(
                f"SELECT DISTINCT {key_sql} FROM classify_sessionrollup WHERE bucket_size = 'hour'"  # noqa: S608
                f" AND bucket_start >= %s AND bucket_start < %s{scope_sql}",
                [window.start - timedelta(days=1), window.start, *scope_params],
            )
            known_keys = {key for (key,) in cursor.fetchall() if key}
    if not rule.per:
        known_keys = {""}
    readings = []
    for key in sorted(set(rows) | known_keys):
        finished, matching, total = rows.get(key, (0, 0, 0))
        readings.append(_reading(rule, key, int(finished), int(matching), int(total)))
    return readings


def _reading(rule: AlertRule, key: str, finished: int, matching: int, total: int) -> Reading:
    metric = rule.metric
    if metric == Metric.VOLUME:
        return Reading(key, float(total), total)
    if metric in (Metric.SIP_CODE_COUNT, Metric.ERROR_CODE_COUNT):
        return Reading(key, float(matching), finished)
    if finished == 0:
        return Reading(key, None, 0, Status.NO_DATA)
    if finished < rule.min_sessions:
        return Reading(key, None, finished, Status.LOW_VOLUME)
    return Reading(key, matching / finished, finished)


def backlog_age(now: datetime) -> Reading:
    """Seconds since the oldest event still waiting for classification arrived (0: none).
    One row through the pending partial index; no event is read."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT received_at FROM webhooks_rawevent WHERE state = 'pending' ORDER BY id LIMIT 1")
        row = cursor.fetchone()
    age = max((now - row[0]).total_seconds(), 0.0) if row else 0.0
    return Reading("", age, 0)


def top_causes(rule: AlertRule, key: str, window: Window, limit: int = 3) -> list[list[Any]]:
    """The commonest primary causes (SIP code, else 8x8 error code, else status) of the
    sessions that did not answer, in the rule's scope and key."""
    scope_sql, params = _scope_sql(rule)
    if rule.per:
        scope_sql += f" AND {PER_COLUMN[rule.per]} = %s"
        params.append(key)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(primary_sip_code::text, error_code::text, status), sum(count)"  # noqa: S608
            " FROM classify_sessionrollup WHERE bucket_size = 'minute' AND bucket_start >= %s AND bucket_start < %s"
            f" AND outcome_group NOT IN ('answered', 'in_progress'){scope_sql} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [window.start, window.end, *params, limit],
        )
        return [[cause, int(n)] for cause, n in cursor.fetchall()]


# --- one cycle ----------------------------------------------------------------------------


@dataclass
class CycleResult:
    rules: int = 0
    states: int = 0
    events: list[AlertEvent] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)


def evaluate_all(now: datetime | None = None) -> CycleResult:
    """Evaluate every enabled rule once. Concurrent cycles (two beats) wait on each other."""
    now = now or timezone.now()
    result = CycleResult()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVALUATION_LOCK_KEY])
        rules = list(AlertRule.objects.filter(enabled=True).prefetch_related("channels"))
        # A rule edited from per-value to one state (or back) drops the states of the old shape,
        # so a stale "firing" cannot linger in the banner.
        AlertState.objects.filter(rule__enabled=True, rule__per="").exclude(key="").delete()
        AlertState.objects.filter(rule__enabled=True, key="").exclude(rule__per="").delete()
        states: dict[tuple[int, str], AlertState] = {
            (s.rule_id, s.key): s for s in AlertState.objects.filter(rule__enabled=True)
        }
        keys_by_rule: dict[int, set[str]] = {}
        for rule_id, key in states:
            keys_by_rule.setdefault(rule_id, set()).add(key)
        backlog: Reading | None = None
        rows: list[AlertState] = []
        for rule in rules:
            window = window_for(rule, now)
            if rule.metric == Metric.BACKLOG_AGE:
                backlog = backlog or backlog_age(now)
                readings = [backlog]
            else:
                readings = read_rule(rule, window, keys_by_rule.get(rule.id, set()))
            for reading in readings:
                state = states.get((rule.id, reading.key)) or AlertState(rule=rule, key=reading.key, status=Status.OK)
                rows.append(_apply(rule, state, reading, window, now, result))
            result.rules += 1
        _upsert_states(rows)
        result.states = len(rows)
        for event in result.events:  # incidents (issue 15) and others hook in here
            if event.new_status == Status.FIRING:
                signals.alert_fired.send(sender=AlertRule, event=event)
            elif event.new_status == Status.RESOLVED:
                signals.alert_resolved.send(sender=AlertRule, event=event)
        if result.notifications:
            from alerts import notify

            ids = list(result.notifications)
            transaction.on_commit(lambda: notify.enqueue(ids))
    return result


def _apply(
    rule: AlertRule, state: AlertState, reading: Reading, window: Window, now: datetime, result: CycleResult
) -> AlertState:
    old = state.status
    decision = decide(rule, old, state.breaches, reading)
    state.status, state.breaches = decision.status, decision.breaches
    state.value, state.sessions, state.evaluated_at = reading.value, reading.sessions, now
    state.recent = [*(state.recent or [])[-(SPARKLINE_POINTS - 1) :], reading.value]
    if decision.status != old:
        state.changed_at = now
        if old in EVENTFUL or decision.status in EVENTFUL:
            event = _event(rule, state, old, reading, window, now, with_causes=decision.fire or decision.resolve)
            result.events.append(event)
            if decision.fire:
                state.fired_event, state.notified_at = event, now
                result.notifications += _notifications(rule, event, NotificationKind.FIRED, window)
            elif decision.resolve:
                result.notifications += _notifications(rule, event, NotificationKind.RESOLVED, window)
                state.fired_event = None
    elif state.status == Status.FIRING and state.notified_at:
        repeat = timedelta(minutes=rule.repeat_minutes or settings.SIPDESK_ALERTS_REPEAT_MINUTES)
        if now - state.notified_at >= repeat and state.fired_event_id:
            state.notified_at = now
            event = state.fired_event
            snapshot = AlertEvent(
                rule=rule, key=state.key, at=now, old_status=Status.FIRING, new_status=Status.FIRING,
                value=reading.value, threshold=rule.threshold, sessions=reading.sessions,
                window_start=window.start, window_end=window.end, causes=_causes(rule, state.key, window),
            )  # fmt: skip
            result.notifications += _notifications(rule, event, NotificationKind.REPEAT, window, snapshot=snapshot)
    return state


def _causes(rule: AlertRule, key: str, window: Window) -> list[list[Any]]:
    return [] if rule.metric == Metric.BACKLOG_AGE else top_causes(rule, key, window)


def _event(
    rule: AlertRule, state: AlertState, old: str, reading: Reading, window: Window, now: datetime, *, with_causes: bool
) -> AlertEvent:
    return AlertEvent.objects.create(
        rule=rule, key=state.key, at=now, old_status=old, new_status=state.status, value=reading.value,
        threshold=rule.resolve_at if state.status == Status.RESOLVED else rule.threshold, sessions=reading.sessions,
        window_start=window.start, window_end=window.end,
        causes=_causes(rule, state.key, window) if with_causes else [],
    )  # fmt: skip


def _notifications(
    rule: AlertRule, event: AlertEvent, kind: str, window: Window, *, snapshot: AlertEvent | None = None
) -> list[int]:
    from alerts import notify

    title, body = notify.compose(rule, snapshot or event, kind)
    created = Notification.objects.bulk_create(
        [
            Notification(event=event, channel=channel, kind=kind, title=title, body=body)
            for channel in rule.channels.all()
        ]
    )
    return [n.id for n in created]


def _upsert_states(rows: list[AlertState]) -> None:
    """Every state of the cycle in one INSERT … ON CONFLICT, from arrays (one round trip)."""
    if not rows:
        return
    columns = {
        "rule_id": ("bigint", [s.rule_id for s in rows]),
        "key": ("text", [s.key for s in rows]),
        "status": ("text", [s.status for s in rows]),
        "value": ("double precision", [s.value for s in rows]),
        "sessions": ("integer", [s.sessions for s in rows]),
        "breaches": ("smallint", [min(s.breaches, 32767) for s in rows]),
        "evaluated_at": ("timestamptz", [s.evaluated_at for s in rows]),
        "changed_at": ("timestamptz", [s.changed_at for s in rows]),
        "notified_at": ("timestamptz", [s.notified_at for s in rows]),
        "fired_event_id": ("bigint", [s.fired_event_id if s.fired_event_id else None for s in rows]),
        "recent": ("jsonb", [json.dumps(s.recent) for s in rows]),
    }
    names = ", ".join(columns)
    unnest = ", ".join(f"%s::{kind}[]" for kind, _ in columns.values())
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns if name not in ("rule_id", "key"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO alerts_alertstate ({names}) SELECT * FROM unnest({unnest})"  # noqa: S608 - constants
            f" ON CONFLICT (rule_id, key) DO UPDATE SET {updates}",
            [values for _, values in columns.values()],
        )
