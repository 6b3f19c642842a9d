"""Helpers for classify's database tests: store bodies the receiver's way, dump derived state."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from classify import rollups
from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from demo.traffic import session_events
from webhooks.ingest import ingest
from webhooks.models import RawEvent

# Recent, so minute rollups (kept two days) are written as well as hour rollups.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def store(body: dict) -> None:
    """Store one delivery exactly as the receiver does (a repeat bumps ``deliveries``)."""
    result = ingest(json.dumps(body).encode(), remote_addr="127.0.0.1", user_agent="pytest")
    assert result.status in ("stored", "duplicate"), result


def session_bodies(rng: random.Random, count: int) -> list[list[dict]]:
    """Bodies of ``count`` sessions from the receiver's traffic simulator."""
    return [session_events(rng, start=START.replace(minute=rng.randrange(60))) for _ in range(count)]


def drain(batch_size: int | None = None) -> int:
    from classify.pipeline import process_pending

    total = 0
    while taken := process_pending(batch_size):
        total += taken
    return total


def reset_all() -> None:
    EventClassification.objects.all().delete()
    Session.objects.all().delete()
    SessionRollup.objects.all().delete()
    CodeRollup.objects.all().delete()
    RawEvent.objects.all().delete()


def dump(*, ignore_out_of_order: bool = False) -> dict:
    """Everything classification derives, without ids and processing times, in a stable order."""

    def anomalies(values: list[str]) -> list[str]:
        return [a for a in values if not (ignore_out_of_order and a == "out_of_order")]

    sessions = []
    for values in Session.objects.order_by("session_id").values():
        row: dict[str, Any] = dict(values)
        # Arrival facts, as processing times are: another arrival order or a reclassify moves them.
        row.pop("id"), row.pop("updated_at"), row.pop("first_received_at"), row.pop("last_received_at")
        row["anomalies"] = anomalies(row["anomalies"])
        sessions.append(row)
    legs = []
    for row in CallLeg.objects.order_by("call_id", "session__session_id").values(
        *_fields(CallLeg, "id", "session"), "session__session_id"
    ):
        legs.append(row)
    verdicts = []
    for row in EventClassification.objects.order_by("event__dedupe_key").values(
        *_fields(EventClassification, "event", "session", "call_leg", "classified_at"),
        "event__dedupe_key",
        "call_leg__call_id",
        "session__session_id",
    ):
        row["anomalies"] = anomalies(row["anomalies"])
        verdicts.append(row)
    # Ordered by the whole bucket key: rows that tie on part of it would come in storage order.
    session_rollups = list(
        SessionRollup.objects.order_by(*rollups.bucket_key(SessionRollup)).values(*_fields(SessionRollup, "id"))
    )
    code_rollups = list(CodeRollup.objects.order_by(*rollups.bucket_key(CodeRollup)).values(*_fields(CodeRollup, "id")))
    return {
        "sessions": sessions,
        "legs": legs,
        "verdicts": verdicts,
        "session_rollups": session_rollups,
        "code_rollups": code_rollups,
    }


def _fields(model, *exclude: str) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in exclude]
