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

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
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
from classify.models import SessionRollup
from products.models import OperationalStatus, VirtualNumber
from webhooks.models import RawEvent

log = logging.getLogger(__name__)

# Table names from the models, for the raw SQL below.
_ROLLUPS = SessionRollup._meta.db_table
_STATES, _RULES = AlertState._meta.db_table, AlertRule._meta.db_table

SPARKLINE_POINTS = 60
EVALUATION_LOCK_KEY = 0x51D0_0013  # pg advisory lock: one evaluation cycle at a time
PER_COLUMN: dict[str, str] = {
    Per.SUB_ACCOUNT: "sub_account_id",
    Per.PRODUCT: "product",
    Per.COUNTRY: "destination_country",
    Per.DIRECTION: "direction",
}
PER_SCOPE: dict[str, str] = {
    Per.SUB_ACCOUNT: "sub_account",
    Per.PRODUCT: "product",
    Per.COUNTRY: "country",
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
QUIET = {Status.OK, Status.LOW_VOLUME, Status.NO_DATA, Status.RESOLVED}


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
            return Decision(Status.FIRING, breaches)
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
    """`` AND column = %s …`` for the rule's scope (empty for all traffic)."""
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


def read_window(rules: list[AlertRule], window: Window) -> dict[int, dict[str, tuple[int, int, int]]]:
    """Every rule sharing one window, from ONE scan of its minute buckets.

    The scan groups by ``GROUPING SETS``: one set per combination of scope and ``per`` columns
    the rules use (``()`` for all traffic, ``(sub_account_id)`` for a rule scoped to or split by
    sub-account, …), and sums, besides finished and all sessions, each distinct numerator the
    rules need (failed + error, answered, SIP 503 …) once. Each rule then takes the rows of its
    set that match its scope. Returns ``rule id -> key -> (finished, matching, total)``."""
    sets: dict[int, tuple[str, ...]] = {}
    numerators: dict[tuple[str, tuple], int] = {}
    rule_numerator: dict[int, int] = {}
    for rule in rules:
        rule_dims = set(rule.scope()) | ({PER_SCOPE[rule.per]} if rule.per else set())
        sets[rule.id] = tuple(sorted(rule_dims))
        sql, params = _numerator_sql(rule)
        rule_numerator[rule.id] = numerators.setdefault((sql, tuple(params)), len(numerators))
    dims = sorted({d for names in sets.values() for d in names})
    columns = [SCOPE_COLUMN[d] for d in dims]
    grouping = ", ".join(f"({', '.join(SCOPE_COLUMN[d] for d in names)})" for names in sorted(set(sets.values())))
    select = [
        *columns,
        *(f"GROUPING({c})" for c in columns),
        "coalesce(sum(count) FILTER (WHERE outcome_group <> 'in_progress'), 0)",
        "coalesce(sum(count), 0)",
        *(f"coalesce(sum(count) FILTER (WHERE {sql}), 0)" for sql, _ in numerators),
    ]
    params = [p for _, ps in numerators for p in ps]
    sql = (
        f"SELECT {', '.join(select)} FROM {_ROLLUPS}"  # noqa: S608 - columns and names from constants
        " WHERE bucket_size = 'minute' AND bucket_start >= %s AND bucket_start < %s"
        f" GROUP BY GROUPING SETS ({grouping})"
    )
    by_set: dict[tuple[str, ...], list[tuple[dict[str, str], int, int, tuple]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, window.start, window.end])
        n = len(dims)
        for row in cursor.fetchall():
            present = tuple(d for d, grouped in zip(dims, row[n : 2 * n], strict=True) if not grouped)
            values = {d: row[dims.index(d)] or "" for d in present}
            by_set.setdefault(present, []).append((values, int(row[2 * n]), int(row[2 * n + 1]), row[2 * n + 2 :]))
    out: dict[int, dict[str, tuple[int, int, int]]] = {}
    for rule in rules:
        scope = rule.scope()
        mine = out[rule.id] = {}
        for values, finished, total, nums in by_set.get(sets[rule.id], []):
            if total and all(values[d] == v for d, v in scope.items()):
                key = values[PER_SCOPE[rule.per]] if rule.per else ""
                if rule.per and not key:
                    continue  # sessions without that value (no sub-account, no legs) have no state of their own
                mine[key] = (finished, int(nums[rule_numerator[rule.id]]), total)
    return out


def seed_keys(rule: AlertRule, window: Window) -> set[str]:
    """A per-value volume rule's first evaluation: a value already quiet has no rows in the
    window, so take the values of the day before as well (hour buckets)."""
    scope_sql, scope_params = _scope_sql(rule)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT {PER_COLUMN[rule.per]} FROM {_ROLLUPS} WHERE bucket_size = 'hour'"  # noqa: S608
            f" AND bucket_start >= %s AND bucket_start < %s{scope_sql}",
            [window.start - timedelta(days=1), window.start, *scope_params],
        )
        return {key for (key,) in cursor.fetchall() if key}


def readings_for(rule: AlertRule, rows: dict[str, tuple[int, int, int]], known_keys: set[str]) -> list[Reading]:
    keys = set(rows) | known_keys if rule.per else {""}
    return [_reading(rule, key, *rows.get(key, (0, 0, 0))) for key in sorted(keys)]


def read_rule(rule: AlertRule, window: Window, known_keys: set[str]) -> list[Reading]:
    """One rule alone (the cycle reads rules in groups: ``read_group``)."""
    if rule.metric == Metric.VOLUME and rule.per and not known_keys:
        known_keys = seed_keys(rule, window)
    return readings_for(rule, read_window([rule], window)[rule.id], known_keys)


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
    oldest = RawEvent.objects.pending().order_by("id").values_list("received_at", flat=True).first()
    age = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    return Reading("", age, 0)


def unhealthy_numbers(rule: AlertRule) -> list[Reading]:
    """Virtual numbers whose latest VNU said Unhealthy (products/models.py VirtualNumber), in the
    rule's sub-account or per sub-account; the reading's "sessions" is the numbers known there."""
    numbers = VirtualNumber.objects.all()
    if rule.sub_account:
        numbers = numbers.filter(sub_account_id=rule.sub_account)
    rows = numbers.values("sub_account_id").annotate(
        known=Count("id"), unhealthy_count=Count("id", filter=Q(operational_status=OperationalStatus.UNHEALTHY))
    )
    if not rule.per:
        known = sum(r["known"] for r in rows)
        unhealthy = sum(r["unhealthy_count"] for r in rows)
        return [Reading("", float(unhealthy), known) if known else Reading("", None, 0, Status.NO_DATA)]
    return [Reading(r["sub_account_id"], float(r["unhealthy_count"]), r["known"]) for r in rows if r["sub_account_id"]]


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
            f" FROM {_ROLLUPS} WHERE bucket_size = 'minute' AND bucket_start >= %s AND bucket_start < %s"
            f" AND outcome_group NOT IN ('answered', 'in_progress'){scope_sql} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [window.start, window.end, *params, limit],
        )
        return [[cause, int(n)] for cause, n in cursor.fetchall()]


# --- one cycle ----------------------------------------------------------------------------


@dataclass
class StateRow:
    """An ``AlertState`` as the cycle handles it: plain values, loaded in one query."""

    rule_id: int
    key: str
    status: str = Status.OK
    value: float | None = None
    sessions: int = 0
    breaches: int = 0
    notified_at: datetime | None = None
    fired_event_id: int | None = None
    changed_at: datetime | None = None  # None: unchanged (not loaded; kept by the upsert)
    new: bool = False

    def facts(self) -> tuple:
        return (self.status, self.value, self.sessions, self.breaches, self.notified_at, self.fired_event_id)


@dataclass
class CycleResult:
    rules: int = 0
    states: int = 0  # states evaluated
    written: int = 0  # states that changed and were written
    events: list[AlertEvent] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)


LOADED_COLUMNS = ["rule_id", "key", "status", "value", "sessions", "breaches", "notified_at", "fired_event_id"]
STATE_COLUMNS = [*LOADED_COLUMNS, "changed_at"]


def _load_states() -> dict[tuple[int, str], StateRow]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join('s.' + c for c in LOADED_COLUMNS)} FROM {_STATES} s"  # noqa: S608 - constants
            f" JOIN {_RULES} r ON r.id = s.rule_id WHERE r.enabled"
        )
        return {(row[0], row[1]): StateRow(*row) for row in cursor.fetchall()}


def evaluate_all(now: datetime | None = None) -> CycleResult:
    """Evaluate every enabled rule once. Concurrent cycles (two beats) wait on each other."""
    now = now or timezone.now()
    result = CycleResult()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVALUATION_LOCK_KEY])
        rules = list(AlertRule.objects.filter(enabled=True).prefetch_related("channels"))
        # A rule edited from per-value to one state (or back) drops the states of the old
        # shape, so a stale "firing" cannot linger in the banner.
        AlertState.objects.filter(rule__enabled=True, rule__per="").exclude(key="").delete()
        AlertState.objects.filter(rule__enabled=True, key="").exclude(rule__per="").delete()
        states = _load_states()
        keys_by_rule: dict[int, set[str]] = {}
        for rule_id, key in states:
            keys_by_rule.setdefault(rule_id, set()).add(key)

        by_window: dict[int, list[AlertRule]] = {}
        for rule in rules:
            if rule.metric not in Metric.not_from_rollups():
                by_window.setdefault(rule.window_minutes, []).append(rule)
        rows: dict[int, dict[str, tuple[int, int, int]]] = {}
        for members in by_window.values():
            rows.update(read_window(members, window_for(members[0], now)))

        backlog: Reading | None = None
        changed: list[StateRow] = []
        forgotten: list[tuple[int, str]] = []
        for rule in rules:
            window = window_for(rule, now)
            if rule.metric == Metric.BACKLOG_AGE:
                backlog = backlog or backlog_age(now)
                readings = [backlog]
            elif rule.metric == Metric.UNHEALTHY_NUMBERS:
                readings = unhealthy_numbers(rule)
            else:
                known = keys_by_rule.get(rule.id, set())
                if rule.metric == Metric.VOLUME and rule.per and not known:
                    known = seed_keys(rule, window)
                elif rule.per and rule.metric != Metric.VOLUME:
                    # A value with no traffic in the window and nothing going on is forgotten
                    # (its state row deleted), so per-value rules keep states only for the
                    # values that have traffic or an alert: the cycle stays proportional to that.
                    idle = {k for k in known - set(rows[rule.id]) if states[rule.id, k].status in QUIET}
                    forgotten += [(rule.id, k) for k in idle]
                    known = known - idle
                readings = readings_for(rule, rows[rule.id], known)
            repeat_after = now - timedelta(minutes=rule.repeat_minutes or settings.SIPDESK_ALERTS_REPEAT_MINUTES)
            for reading in readings:
                result.states += 1
                state = states.get((rule.id, reading.key))
                if (
                    state is not None
                    and state.value == reading.value
                    and state.sessions == reading.sessions
                    and (
                        state.status in QUIET
                        or (
                            state.status == Status.FIRING
                            and state.notified_at is not None
                            and state.notified_at > repeat_after
                        )
                    )
                ):
                    continue  # the same reading in a settled state: nothing can change (decide)
                state = state or StateRow(rule.id, reading.key, new=True)
                before = state.facts()
                _apply(rule, state, reading, window, now, result)
                if state.new or state.facts() != before:
                    changed.append(state)
            result.rules += 1
        _write_states(changed, now)
        if forgotten:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {_STATES} WHERE (rule_id, key) IN"  # noqa: S608 - model metadata
                    " (SELECT * FROM unnest(%s::bigint[], %s::text[]))",
                    [[r for r, _ in forgotten], [k for _, k in forgotten]],
                )
        result.written = len(changed)
        AlertRule.objects.filter(pk__in=[r.pk for r in rules]).update(evaluated_at=now)
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
    rule: AlertRule, state: StateRow, reading: Reading, window: Window, now: datetime, result: CycleResult
) -> None:
    old = state.status
    decision = decide(rule, old, state.breaches, reading)
    state.status, state.breaches = decision.status, decision.breaches
    state.value, state.sessions = reading.value, reading.sessions
    if decision.status != old:
        state.changed_at = now
        if decision.status in EVENTFUL or old in (Status.PENDING, Status.FIRING):
            event = _event(rule, state, old, reading, window, now, with_causes=decision.fire or decision.resolve)
            result.events.append(event)
            if decision.fire:
                state.fired_event_id, state.notified_at = event.id, now
                result.notifications += _notifications(rule, event, NotificationKind.FIRED)
            elif decision.resolve:
                result.notifications += _notifications(rule, event, NotificationKind.RESOLVED)
                state.fired_event_id = None
    elif state.status == Status.FIRING and state.notified_at and state.fired_event_id:
        repeat = timedelta(minutes=rule.repeat_minutes or settings.SIPDESK_ALERTS_REPEAT_MINUTES)
        if now - state.notified_at >= repeat:
            state.notified_at = now
            event = AlertEvent.objects.get(pk=state.fired_event_id)
            snapshot = AlertEvent(
                rule=rule, key=state.key, at=now, old_status=Status.FIRING, new_status=Status.FIRING,
                value=reading.value, threshold=rule.threshold, sessions=reading.sessions,
                window_start=window.start, window_end=window.end, causes=_causes(rule, state.key, window),
            )  # fmt: skip
            result.notifications += _notifications(rule, event, NotificationKind.REPEAT, snapshot=snapshot)


def _causes(rule: AlertRule, key: str, window: Window) -> list[list[Any]]:
    return [] if rule.metric in Metric.not_from_rollups() else top_causes(rule, key, window)


def _event(
    rule: AlertRule, state: StateRow, old: str, reading: Reading, window: Window, now: datetime, *, with_causes: bool
) -> AlertEvent:
    return AlertEvent.objects.create(
        rule=rule, key=state.key, at=now, old_status=old, new_status=state.status, value=reading.value,
        threshold=rule.resolve_at if state.status == Status.RESOLVED else rule.threshold, sessions=reading.sessions,
        window_start=window.start, window_end=window.end,
        causes=_causes(rule, state.key, window) if with_causes else [],
    )  # fmt: skip


def _notifications(rule: AlertRule, event: AlertEvent, kind: str, *, snapshot: AlertEvent | None = None) -> list[int]:
    from alerts import notify

    title, body = notify.compose(rule, snapshot or event, kind)
    created = Notification.objects.bulk_create(
        [
            Notification(event=event, channel=channel, kind=kind, title=title, body=body)
            for channel in rule.channels.all()
        ]
    )
    return [n.id for n in created]


def _write_states(rows: list[StateRow], now: datetime) -> None:
    """The states that changed, COPYed into a staging table and upserted in one statement; the
    sparkline gets the new value appended in SQL, so the cycle never reads it."""
    if not rows:
        return
    stage_columns = [*STATE_COLUMNS, "evaluated_at"]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS alert_state_stage ON COMMIT DELETE ROWS AS"  # noqa: S608 - constants
            f" SELECT {', '.join(stage_columns)} FROM {_STATES} WITH NO DATA"
        )
        cursor.execute("DELETE FROM alert_state_stage")
        with cursor.copy(f"COPY alert_state_stage ({', '.join(stage_columns)}) FROM STDIN") as copy:
            for s in rows:
                copy.write_row([
                    s.rule_id, s.key, s.status, s.value, s.sessions, min(s.breaches, 32767), s.notified_at,
                    s.fired_event_id, s.changed_at or (now if s.new else None), now,
                ])  # fmt: skip
        updates = ", ".join(
            f"{c} = coalesce(EXCLUDED.{c}, {_STATES}.{c})" if c == "changed_at" else f"{c} = EXCLUDED.{c}"
            for c in stage_columns
            if c not in ("rule_id", "key")
        )
        cursor.execute(
            f"INSERT INTO {_STATES} ({', '.join(stage_columns)}, recent)"  # noqa: S608 - constants
            f" SELECT {', '.join(stage_columns)}, jsonb_build_array(value) FROM alert_state_stage"
            f" ON CONFLICT (rule_id, key) DO UPDATE SET {updates}, recent = (CASE WHEN"
            f" jsonb_array_length({_STATES}.recent) >= {SPARKLINE_POINTS}"
            f" THEN {_STATES}.recent - 0 ELSE {_STATES}.recent END) || jsonb_build_array(EXCLUDED.value)"
        )
