"""The troubleshooting page (reference guidance with the window's counts) and the reference search."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from classify import rules
from classify.models import Session
from dashboard.reads.codes import counts_by_code
from dashboard.reads.common import is_int
from dashboard.timerange import Window
from reference.models import (
    BestPractice,
    LegStatus,
    SessionStatus,
    SipClass,
    SipCode,
    TroubleshootingEntry,
    VoiceErrorCode,
)

# A troubleshooting card's colour: the worst side its codes fail on (classify.rules.fault_side).
SEVERITY_BY_FAULT_SIDE = {"network": "critical", "configuration": "warning", "customer": "info", "none": "info"}
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def troubleshooting(window: Window) -> dict[str, Any]:
    counts = counts_by_code(window)
    entries, listed = [], set()
    for entry in TroubleshootingEntry.objects.prefetch_related("sip_codes"):
        codes: list[dict[str, Any]] = []
        for c in entry.sip_codes.all():
            # A code listed under two entries counts in each; "first" marks its first listing, which
            # the page gives the code's anchor (#code-487, linked from the overview).
            codes.append(
                {
                    "code": c.code,
                    "reason": c.reason_phrase,
                    "count": counts.get(str(c.code), 0),
                    "first": c.code not in listed,
                }
            )
            listed.add(c.code)
        severities = [SEVERITY_BY_FAULT_SIDE[rules.fault_side(sip_code=c["code"])] for c in codes] or ["info"]
        entries.append(
            {
                "entry": entry,
                "codes": codes,
                "total": sum(c["count"] for c in codes),
                "severity": min(severities, key=_SEVERITY_RANK.__getitem__),
            }
        )
    error_counts = dict(
        Session.objects.started_in(window)
        .filter(error_code__isnull=False)
        .values_list("error_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    error_codes = list(VoiceErrorCode.objects.all())
    for error in error_codes:
        error.count = error_counts.get(error.code, 0)  # type: ignore[attr-defined]  # read by the template
    return {
        "entries": entries,
        "practices": list(BestPractice.objects.all()),
        "classes": list(SipClass.objects.all()),
        "error_codes": error_codes,
    }


def reference(q: str) -> dict[str, Any]:
    q = q.strip()
    codes = SipCode.objects.select_related("sip_class")
    errors = VoiceErrorCode.objects.all()
    statuses, leg_statuses, classes = SessionStatus.objects.all(), LegStatus.objects.all(), SipClass.objects.all()
    if q:
        text = Q(reason_phrase__icontains=q) | Q(description__icontains=q) | Q(explanation__icontains=q)
        # isascii(): "²" and "١٢٣" are digits to str.isdigit() but not to int() and the SIP code column.
        codes = codes.filter(text | Q(code=int(q)) if q.isascii() and q.isdigit() and len(q) <= 4 else text)
        err_text = Q(message__icontains=q) | Q(guidance__icontains=q)
        errors = errors.filter(err_text | Q(code=int(q)) if is_int(q) and len(q) <= 6 else err_text)
        statuses = statuses.filter(Q(code__icontains=q) | Q(description__icontains=q))
        leg_statuses = leg_statuses.filter(Q(code__icontains=q) | Q(description__icontains=q))
        class_text = Q(name__icontains=q) | Q(meaning__icontains=q)
        if q[:1].isascii() and q[:1].isdigit():  # "486" or "4xx" also shows class 4
            class_text |= Q(digit=int(q[0]))
        classes = classes.filter(class_text)
    return {
        "codes": list(codes),
        "errors": list(errors),
        "statuses": list(statuses),
        "leg_statuses": list(leg_statuses),
        "classes": list(classes),
    }
