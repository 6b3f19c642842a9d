"""Rollup rows and rules for the alert tests. Evaluation reads rollups only, so the tests write
rollup rows directly (as the pipeline would) and evaluate at a chosen ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.models import AlertRule, Channel
from classify.models import SessionRollup

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
OUTCOME_STATUS = {"answered": "COMPLETED", "failed": "FAILED", "error": "ERROR", "not_answered": "NO_ANSWER"}


def roll(
    n: int,
    outcome: str = "answered",
    *,
    sub: str = "acme_sg",
    minutes_ago: int = 0,
    size: str = "minute",
    now: datetime = NOW,
    sip: int | None = None,
    error: int | None = None,
    country: str = "SG",
    **extra: Any,
) -> None:
    """``n`` sessions of one kind, in the minute (or hour) bucket ``minutes_ago`` before ``now``."""
    moment = now - timedelta(minutes=minutes_ago)
    start = (
        moment.replace(second=0, microsecond=0)
        if size == "minute"
        else moment.replace(minute=0, second=0, microsecond=0)
    )
    row, _ = SessionRollup.objects.get_or_create(
        bucket_size=size, bucket_start=start, sub_account_id=sub, product=extra.get("product", "IVR"),
        status=OUTCOME_STATUS.get(outcome, "COMPLETED"), outcome_group=outcome,
        fault_side="platform" if outcome in ("failed", "error") else "none",
        destination_country=country, direction="OUTBOUND", primary_sip_code=sip, error_code=error,
        defaults={"count": 0},
    )  # fmt: skip
    row.count += n
    row.save(update_fields=["count"])


def rule(name: str = "failures", *, channels: Sequence[Channel] = (), **fields: Any) -> AlertRule:
    values = {"metric": "failure_share", "threshold": 0.05, "window_minutes": 5, "min_sessions": 50, **fields}
    made = AlertRule.objects.create(name=name, **values)
    made.channels.set(channels)
    return made


def channel(name: str = "hook", url: str = "json://127.0.0.1:9/hook") -> Channel:
    made = Channel(name=name)
    made.url = url
    made.save()
    return made
