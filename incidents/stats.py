"""An incident's figures that cost a scan of its sessions: worked out by the grouping job when
sessions arrive (off the page), stored on ``Incident.stats``, read by the incident page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, F, Sum, Value
from django.db.models.functions import Coalesce

from classify.models import BucketSize, CallLeg, SessionRollup
from dashboard.reads.common import DateBin
from incidents.fingerprint import Fingerprint

CHART_BARS = 30
TOP_NUMBERS = 5
LATEST = 10


def _stride(span: timedelta) -> timedelta:
    return timedelta(minutes=max(1, int(span.total_seconds() // 60 // CHART_BARS) + 1))


def compute(fp: Fingerprint, first_seen: datetime, last_seen: datetime) -> dict[str, Any]:
    """Sessions of the sub-account over the span (rollups), sessions per chart bar, top numbers
    (unmasked: the page masks them per viewer)."""
    members = fp.sessions(first_seen, last_seen)
    hour = first_seen.replace(minute=0, second=0, microsecond=0)
    stride = _stride(last_seen - first_seen)
    origin = first_seen.replace(second=0, microsecond=0)
    rollups = SessionRollup.objects.filter(bucket_size=BucketSize.HOUR, sub_account_id=fp.sub_account_id)
    total = rollups.filter(bucket_start__gte=hour, bucket_start__lte=last_seen).aggregate(n=Coalesce(Sum("count"), 0))
    bin_expr = DateBin(Value(stride, output_field=DurationField()), F("start_time"), Value(origin))
    counts = {
        row["bin"]: row["n"] for row in members.annotate(bin=bin_expr).values("bin").annotate(n=Count("id")).order_by()
    }
    bins, moment = [], origin
    while moment <= last_seen:
        bins.append([moment.isoformat(), counts.get(moment, 0)])
        moment += stride
    top = (
        CallLeg.objects.filter(session__in=members.values("pk"))
        .exclude(destination="")
        .values("destination")
        .annotate(n=Count("id"))
        .order_by("-n", "destination")[:TOP_NUMBERS]
    )
    return {
        "sub_account_sessions": total["n"] or 0,
        "bins": bins,
        "top_numbers": [[row["destination"], row["n"]] for row in top],
        # By 8x8's id, which survives reclassify; the page reads these rows by their unique index.
        "latest": list(members.order_by("-start_time", "-id").values_list("session_id", flat=True)[:LATEST]),
    }
