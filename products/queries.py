"""Reads for the product and virtual-number signals (the products page and the overview panel)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q, Sum
from django.urls import reverse

from classify import rollups
from classify.models import Product, Session, SessionRollup
from products.models import ProductRule, VirtualNumber


def _in_window(start: datetime, end: datetime) -> Q:
    # rollup_at is the time a session counts under everywhere else (start, else first event).
    return Q(rollup_at__gte=start, rollup_at__lt=end)


def _has_anomaly(slug: str) -> Q:
    return Q(anomalies__contains=[slug])  # jsonb containment


def add_rule_url(sub_account_id: str = "", number: str = "", product: str = "") -> str:
    """The admin's add-rule form, prefilled."""
    params = {k: v for k, v in (("sub_account_id", sub_account_id), ("number", number), ("product", product)) if v}
    url = reverse("admin:products_productrule_add")
    return f"{url}?{urlencode(params)}" if params else url


@dataclass
class Signals:
    sessions: int
    unknown: int
    unknown_share: float | None
    sub_accounts_needing_rule: int
    failed_recordings: int
    unhealthy_numbers: list[VirtualNumber]


def signals(start: datetime, end: datetime, *, products: Iterable[tuple[str, str, int]] | None = None) -> Signals:
    """Unknown-product share, failed recordings in the window; unhealthy numbers now.

    The shares come from the session rollups, as every other tile does, and the failed
    recordings through their own small index: counting the window's sessions themselves grew
    with the traffic (a 30-day window of a busy history took seconds). ``products``: the
    window's (product, sub-account, sessions) when the caller has read them already
    (dashboard/kpis.py ``window_sums``)."""
    if products is None:
        products = (
            SessionRollup.objects.filter(rollups.window_filter(start, end)[1])
            .values_list("product", "sub_account_id")
            .annotate(n=Sum("count"))
            .order_by()
        )
    counts = {"sessions": 0, "unknown": 0}
    needing: set[str] = set()
    for product, sub_account_id, n in products:
        counts["sessions"] += n
        if product == Product.UNKNOWN:
            counts["unknown"] += n
            needing.add(sub_account_id)
    failed_recordings = Session.objects.filter(_in_window(start, end), _has_anomaly("recording_failed")).count()
    share = round(100.0 * counts["unknown"] / counts["sessions"], 1) if counts["sessions"] else None
    return Signals(
        sessions=counts["sessions"],
        unknown=counts["unknown"],
        unknown_share=share,
        sub_accounts_needing_rule=len(needing),
        failed_recordings=failed_recordings,
        unhealthy_numbers=list(VirtualNumber.objects.unhealthy()[:20]),
    )


def unknown_by_sub_account(start: datetime, end: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Sub-accounts with Unknown-product sessions in the window, most first, with what they could be."""
    rows = (
        Session.objects.filter(_in_window(start, end), product=Product.UNKNOWN)
        .values("sub_account_id")
        .annotate(n=Count("id"))
        .order_by("-n", "sub_account_id")[:limit]
    )
    result = []
    for row in rows:
        reasons = (
            Session.objects.filter(
                _in_window(start, end), product=Product.UNKNOWN, sub_account_id=row["sub_account_id"]
            )
            .values("product_reason")
            .annotate(n=Count("id"))
            .order_by("-n")[:3]
        )
        result.append(
            {
                "sub_account_id": row["sub_account_id"],
                "count": row["n"],
                "reasons": [r["product_reason"] for r in reasons if r["product_reason"]],
                "add_rule_url": add_rule_url(row["sub_account_id"]) if row["sub_account_id"] else "",
            }
        )
    return result


def rules() -> list[ProductRule]:
    return list(ProductRule.objects.all())


def virtual_numbers() -> list[VirtualNumber]:
    """Unhealthy first, then by sub-account and number."""
    numbers = list(VirtualNumber.objects.all())
    numbers.sort(key=lambda n: (not n.unhealthy, n.sub_account_id, n.msisdn))
    return numbers
