from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from classify.models import Session
from dashboard.tests.factories import make_session


def failures(n: int, *, sip_code: int = 503, minutes_ago: float = 5, spread: float = 0.2, **kw: Any) -> list[Session]:
    """n failing platform-side sessions with one fingerprint, started a few minutes ago."""
    now = timezone.now()
    kw.setdefault("fault_side", "platform")
    status = kw.pop("status", "FAILED")
    return [
        make_session(status=status, sip_code=sip_code, start=now - timedelta(minutes=minutes_ago - i * spread), **kw)
        for i in range(n)
    ]


def at(minutes_from_now: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes_from_now)
