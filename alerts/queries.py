"""Reads for the alert pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.models import AlertEvent, AlertRule, AlertState, Notification, Status, format_value

# Worst first: the state a rule shows is its worst key's.
SEVERITY: dict[str, int] = {
    Status.FIRING: 0,
    Status.PENDING: 1,
    Status.NO_DATA: 2,
    Status.LOW_VOLUME: 3,
    Status.RESOLVED: 4,
    Status.OK: 5,
}
SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@dataclass
class RuleRow:
    rule: AlertRule
    state: AlertState | None
    value: str
    keys: list[AlertState]  # per-value rules: the keys not OK, worst first (a few)
    key_count: int
    sparkline: str  # SVG polyline points


def sparkline(values: list[float | None]) -> str:
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return ""
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{SPARK_HEIGHT - 2 - (v - low) / span * (SPARK_HEIGHT - 4):.1f}" for i, v in points)


def rule_rows() -> list[RuleRow]:
    states: dict[int, list[AlertState]] = {}
    for state in AlertState.objects.order_by("rule_id", "key"):
        states.setdefault(state.rule_id, []).append(state)
    rows = []
    for rule in AlertRule.objects.prefetch_related("channels"):
        mine = sorted(states.get(rule.id, []), key=lambda s: (SEVERITY.get(s.status, 9), -(s.value or 0)))
        worst = mine[0] if mine else None
        rows.append(
            RuleRow(
                rule=rule,
                state=worst,
                value=format_value(rule.metric, worst.value) if worst else "—",
                keys=[s for s in mine if s.status not in (Status.OK, Status.LOW_VOLUME, Status.NO_DATA)][:10],
                key_count=len(mine),
                sparkline=sparkline(worst.recent if worst else []),
            )
        )
    return rows


def history(limit: int = 50) -> list[dict[str, Any]]:
    events = list(AlertEvent.objects.select_related("rule")[:limit])
    notes: dict[int, list[Notification]] = {}
    for n in Notification.objects.filter(event__in=events).select_related("channel").order_by("created_at"):
        if n.event_id is not None:
            notes.setdefault(n.event_id, []).append(n)
    tests = Notification.objects.filter(event__isnull=True).select_related("channel")[:10]
    return [
        {"event": e, "value": format_value(e.rule.metric, e.value), "notifications": notes.get(e.id, [])}
        for e in events
    ] + [{"event": None, "notifications": [t]} for t in tests]


def firing() -> list[AlertState]:
    return list(AlertState.objects.filter(status=Status.FIRING, rule__enabled=True).select_related("rule")[:20])
