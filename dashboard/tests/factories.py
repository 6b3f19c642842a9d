"""Build sessions, legs, events and rollups through the ORM, the way the pipeline leaves them.

A session and its legs are what ``classify.rules.derive_session`` makes of the events such a
call sends (a VCS initiated and disconnected per leg, then the VSS), so outcome group, primary
cause, fault side, advice and leg state come from the real rules; the product is the test's
choice, given to the rules as a product rule. Outcome groups elsewhere come from
``rules.outcome_group``, SIP classes from ``rules.sip_class``, buckets from ``rollups.floor``.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from classify import rollups, rules
from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from classify.normalise import CALL_STATUS, SESSION_SUMMARY, NormalisedEvent, NormalisedLeg
from products.matching import ProductRuleSet, Rule
from reference.snapshot import load_snapshot
from webhooks.models import RawEvent

_seq = itertools.count(1)
CALL_SECONDS = 30  # every made call lasts this long


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
    """A session as the pipeline derives it from its events; ``extra`` sets Session fields the
    events cannot say (or overrides what the rules said, as a test's premise)."""
    n = next(_seq)
    start = start or timezone.now() - timedelta(minutes=5)
    session_id = f"00000000-0000-4000-8000-{n:012d}" if session_id is None else session_id
    calls = [
        NormalisedLeg(
            call_id=f"{session_id}-leg{i}",
            leg_key=f"call{'AB'[i % 2]}",
            direction=direction,
            call_type="PSTN",
            source=source,
            destination=destination,
            source_country="SG",
            destination_country=country,
        )
        for i in range(legs)
    ]
    events = _call_events(session_id, sub_account, calls, start=start, sip_code=sip_code)
    if status != "IN_PROGRESS":
        events.append(_summary(session_id, sub_account, calls, status=status, start=start, error_code=error_code))
    derived = rules.derive_session(
        session_id,
        [rules.StoredEvent(i, 1, event.event_time or start, event) for i, event in enumerate(events, 1)],
        load_snapshot(),
        product_rules=ProductRuleSet((Rule(1, product, sub_account_id=sub_account),)),
    )
    fields = dataclasses.asdict(derived.session)
    if anomalies is not None:
        fields["anomalies"] = anomalies
    fields.update(extra)
    session = Session.objects.create(**fields)
    for leg in derived.legs:
        CallLeg.objects.create(session=session, **dataclasses.asdict(leg))
    return session


def _call_events(
    session_id: str, sub_account: str, calls: list[NormalisedLeg], *, start: datetime, sip_code: int | None
) -> list[NormalisedEvent]:
    """Each leg's VCS: initiated (a second apart), then disconnected with the final code."""
    end = start + timedelta(seconds=CALL_SECONDS)
    events = []
    for i, call in enumerate(calls):
        initiated = NormalisedEvent(
            CALL_STATUS,
            session_id=session_id,
            sub_account_id=sub_account,
            call_id=call.call_id,
            event_time=start + timedelta(seconds=i),
            call_status="CALL_INITIATED",
            leg=call,
        )
        disconnected = dataclasses.replace(
            initiated,
            event_time=end,
            call_status="CALL_DISCONNECTED",
            leg=dataclasses.replace(call, duration_seconds=CALL_SECONDS),
            sip_code=sip_code,
            sip_code_raw="" if sip_code is None else str(sip_code),
        )
        events += [initiated, disconnected]
    return events


def _summary(
    session_id: str,
    sub_account: str,
    calls: list[NormalisedLeg],
    *,
    status: str,
    start: datetime,
    error_code: int | None,
) -> NormalisedEvent:
    """The VSS: the session's status, times and error code, each leg's final status."""
    end = start + timedelta(seconds=CALL_SECONDS)
    return NormalisedEvent(
        SESSION_SUMMARY, session_id=session_id, sub_account_id=sub_account, event_time=end, session_status=status,
        start_time=start, end_time=end, error_code=error_code,
        legs=tuple(
            dataclasses.replace(
                call, status=status, initiated_at=start + timedelta(seconds=i), disconnected_at=end,
                duration_seconds=CALL_SECONDS,
            )
            for i, call in enumerate(calls)
        ),
    )  # fmt: skip


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
        # As the pipeline does, the session's received times take the event in (the session page
        # reads the partitions they span).
        Session.objects.filter(pk=session.pk).update(
            first_received_at=Least(F("first_received_at"), Value(raw.received_at)),  # LEAST skips NULL
            last_received_at=Greatest(F("last_received_at"), Value(raw.received_at)),
        )
        EventClassification.objects.create(
            event=raw,
            session=session,
            event_time=event_time,
            call_status=call_status,
            sip_code=sip_code,
            sip_class=rules.sip_class(sip_code),
            is_final=rules.is_final(NormalisedEvent(event_type, call_status=call_status)),
        )
    return raw


def session_rollup(moment: datetime, status: str, count: int, *, size: str = "minute", **extra: Any) -> None:
    """``count`` sessions in the ``size`` bucket holding ``moment`` and, as the pipeline keeps
    them, in the coarser buckets holding it (classify/rollups.py: each size sums the finer one)."""
    defaults: tuple[tuple[str, Any], ...] = (
        ("fault_side", ""),
        ("destination_country", ""),
        ("direction", ""),
        ("primary_sip_code", None),
        ("error_code", None),
    )
    key = {
        "sub_account_id": extra.get("sub_account_id", "acme_sg"),
        "product": extra.get("product", "IVR"),
        "status": status,
        **{name: extra.get(name, default) for name, default in defaults},
    }
    measures: dict[str, int] = {"count": count}
    measures |= {m: extra[m] for m in ("answered_seconds", "answer_delay_ms", "answer_delay_count") if m in extra}
    _add_to_buckets(SessionRollup, moment, size, key, {"outcome_group": rules.outcome_group(status)}, measures)


def code_rollup(moment: datetime, code: str, count: int, *, size: str = "minute", **extra: Any) -> None:
    """``count`` final codes, in the ``size`` bucket holding ``moment`` and the coarser ones."""
    key = {
        "sip_code": code,
        "direction": extra.get("direction", "OUTBOUND"),
        "destination_country": extra.get("destination_country", "SG"),
        "sub_account_id": extra.get("sub_account_id", "acme_sg"),
    }
    _add_to_buckets(CodeRollup, moment, size, key, {"sip_class": rules.sip_class(code)}, {"count": count})


def _add_to_buckets(
    model: type[SessionRollup] | type[CodeRollup],
    moment: datetime,
    size: str,
    key: dict[str, Any],
    derived: dict[str, Any],
    measures: dict[str, int],
) -> None:
    sizes = [s.value for s in rollups.SIZES]
    for bucket_size in sizes[sizes.index(size) :]:
        row, created = model.objects.get_or_create(
            bucket_size=bucket_size,
            bucket_start=rollups.floor(moment, bucket_size),
            **key,
            defaults={**derived, **measures},
        )
        if not created:
            model.objects.filter(pk=row.pk).update(**{name: F(name) + value for name, value in measures.items()})
