"""Build sessions, legs, events and rollups through the ORM, the way the pipeline leaves them:
outcome groups by the real rules (``rules.outcome_group``), buckets by ``rollups.floor``."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from classify import rollups, rules
from classify.models import CallLeg, CauseKind, CodeRollup, EventClassification, Session, SessionRollup
from webhooks.models import RawEvent

_seq = itertools.count(1)


def make_session(
    *,
    status: str = "COMPLETED",
    start: datetime | None = None,
    sip_code: int | None = None,
    error_code: int | None = None,
    sub_account: str = "acme_sg",
    product: str = "IVR",
    direction: str = "OUTBOUND",
    source: str = "+6568332048",
    destination: str = "+6591234567",
    country: str = "SG",
    anomalies: list[str] | None = None,
    legs: int = 1,
    session_id: str | None = None,
    **extra: Any,
) -> Session:
    n = next(_seq)
    start = start or timezone.now() - timedelta(minutes=5)
    if sip_code is not None:
        cause, kind = str(sip_code), CauseKind.SIP
    elif error_code is not None:
        cause, kind = str(error_code), CauseKind.ERROR_CODE
    elif status not in ("COMPLETED", "IN_PROGRESS"):
        cause, kind = status, CauseKind.STATUS
    else:
        cause, kind = "", CauseKind.NONE
    session = Session.objects.create(
        session_id=f"00000000-0000-4000-8000-{n:012d}" if session_id is None else session_id,
        sub_account_id=sub_account,
        product=product,
        status=status,
        outcome_group=rules.outcome_group(status),
        start_time=start,
        end_time=None if status == "IN_PROGRESS" else start + timedelta(seconds=30),
        duration_seconds=None if status == "IN_PROGRESS" else 30,
        primary_cause=cause,
        primary_cause_kind=kind,
        primary_sip_code=sip_code,
        error_code=error_code,
        anomalies=anomalies or [],
        first_event_at=start,
        last_event_at=start + timedelta(seconds=30),
        summary_received=status != "IN_PROGRESS",
        **extra,
    )
    for i in range(legs):
        CallLeg.objects.create(
            session=session,
            call_id=f"{session.session_id}-leg{i}",
            leg_key=f"call{'AB'[i % 2]}",
            direction=direction,
            call_type="PSTN",
            source=source,
            destination=destination,
            source_country="SG",
            destination_country=country,
            status="CALL_DISCONNECTED",
            final_status=status if status != "IN_PROGRESS" else "",
            final_sip_code=sip_code,
            initiated_at=start + timedelta(seconds=i),
            duration_seconds=30,
        )
    return session


def make_event(
    session: Session,
    *,
    event_type: str = "CALL_STATUS",
    body: dict | None = None,
    event_time: datetime | None = None,
    received_at: datetime | None = None,
    sip_code: int | None = None,
    call_status: str = "CALL_DISCONNECTED",
    deliveries: int = 1,
    state: str = "processed",
    classify: bool = True,
) -> RawEvent:
    n = next(_seq)
    event_time = event_time or session.start_time
    raw = RawEvent.objects.create(
        received_at=received_at or timezone.now(),
        event_type=event_type,
        dedupe_key=f"evt-{n}",
        session_id=session.session_id,
        body=body or {"eventType": event_type, "payload": {"sessionId": session.session_id, "callStatus": call_status}},
        deliveries=deliveries,
        state=state,
    )
    if classify:
        EventClassification.objects.create(
            event=raw,
            session=session,
            event_time=event_time,
            call_status=call_status,
            sip_code=sip_code,
            sip_class=f"{sip_code // 100}xx" if sip_code else "none",
            is_final=call_status == "CALL_DISCONNECTED",
        )
    return raw


def session_rollup(moment: datetime, status: str, count: int, *, size: str = "minute", **extra: Any) -> None:
    bucket = rollups.floor(moment, size)
    SessionRollup.objects.create(
        bucket_size=size,
        bucket_start=bucket,
        sub_account_id=extra.get("sub_account_id", "acme_sg"),
        product=extra.get("product", "IVR"),
        status=status,
        outcome_group=rules.outcome_group(status),
        count=count,
        **{
            name: extra[name]
            for name in (
                "fault_side",
                "destination_country",
                "direction",
                "primary_sip_code",
                "error_code",
                "answered_seconds",
                "answer_delay_ms",
                "answer_delay_count",
            )
            if name in extra
        },
    )


def code_rollup(moment: datetime, code: str, count: int, *, size: str = "minute", **extra: Any) -> None:
    bucket = rollups.floor(moment, size)
    CodeRollup.objects.create(
        bucket_size=size,
        bucket_start=bucket,
        sip_code=code,
        sip_class=f"{code[0]}xx" if code.isdigit() and len(code) == 3 and code[0] in "123456" else "invalid",
        direction=extra.get("direction", "OUTBOUND"),
        destination_country=extra.get("destination_country", "SG"),
        sub_account_id=extra.get("sub_account_id", "acme_sg"),
        count=count,
    )
