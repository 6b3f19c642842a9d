"""Re-derive the sessions a product rule covers, after the rule changed (a scoped reclassify).

The sessions' stored events go back to pending and the normal pipeline derives them again with
the new rules, exactly as ``manage.py reclassify`` would, but only for these sessions.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from classify.models import Session
from webhooks.models import EventState, RawEvent


def sessions_covered(sub_account_ids: Iterable[str], numbers: Iterable[str]) -> list[str]:
    """Session ids of these sub-accounts, or with one of these virtual numbers on a leg."""
    subs = sorted({s for s in sub_account_ids if s})
    spellings = sorted({v for n in numbers if n for v in (n, n.removeprefix("+"))})
    condition = Q(sub_account_id__in=subs) if subs else Q(pk__in=[])
    if spellings:
        condition |= Q(legs__direction="OUTBOUND", legs__source__in=spellings)
        condition |= Q(legs__direction="INBOUND", legs__destination__in=spellings)
    return list(Session.objects.filter(condition).values_list("session_id", flat=True).distinct())


def rederive(sub_account_ids: Iterable[str], numbers: Iterable[str]) -> int:
    """Send the covered sessions' events back to the classifier; returns how many events."""
    session_ids = sessions_covered(sub_account_ids, numbers)
    if not session_ids:
        return 0
    pended = RawEvent.objects.filter(session_id__in=session_ids, state=EventState.PROCESSED).update(
        state=EventState.PENDING
    )
    if pended:
        from webhooks import enqueue

        transaction.on_commit(enqueue.request_processing)
    return pended
