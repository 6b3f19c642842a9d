"""The codes page: final SIP codes in a window by class (known and unknown to the reference),
against the window before and a week earlier, and split by direction, country and sub-account."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Sum

from classify.models import CodeRollup
from dashboard.reads.common import is_int, pct
from dashboard.timerange import Window
from reference.models import SipCode


@dataclass
class CodeLine:
    code: str
    sip_class: str
    count: int
    share: float | None
    change: float | None  # percent vs previous window; None when new
    reason: str
    known: bool
    is_int: bool
    share_change: float | None = None  # percentage points of share vs the previous window
    share_week_change: float | None = None  # … vs the same window a week earlier


def code_counts(window: Window) -> dict[tuple[str, str], int]:
    """Final codes in the window: (code, class) -> count."""
    rows = CodeRollup.objects.in_window(window).values("sip_code", "sip_class").annotate(n=Sum("count"))
    return {(r["sip_code"], r["sip_class"]): r["n"] for r in rows}


def counts_by_code(window: Window) -> dict[str, int]:
    """Final codes in the window: code -> count."""
    counts: dict[str, int] = defaultdict(int)
    for (code, _), n in code_counts(window).items():
        counts[code] += n
    return counts


def code_breakdown(window: Window) -> tuple[list[CodeLine], list[CodeLine], int]:
    """(known codes grouped by class, unknown codes, total) for the window."""
    current = code_counts(window)
    prev_by_code, week_by_code = counts_by_code(window.previous()), counts_by_code(window.week_earlier())
    prev_total, week_total = sum(prev_by_code.values()), sum(week_by_code.values())

    def share_delta(n: int, total: int, then: int, then_total: int) -> float | None:
        return round(100.0 * n / total - 100.0 * then / then_total, 1) if total and then_total else None

    ints = {int(code) for code, _ in current if is_int(code)}
    refs = {c.code: c for c in SipCode.objects.filter(code__in=ints)} if ints else {}
    total = sum(current.values())
    known: list[CodeLine] = []
    unknown: list[CodeLine] = []
    for (code, sip_class), n in current.items():
        ref = refs.get(int(code)) if is_int(code) else None
        before = prev_by_code.get(code, 0)
        line = CodeLine(
            code,
            sip_class,
            n,
            pct(n, total),
            round(100.0 * (n - before) / before, 1) if before else None,
            ref.reason_phrase if ref else "",
            ref is not None,
            is_int(code),
            share_delta(n, total, before, prev_total),
            share_delta(n, total, week_by_code.get(code, 0), week_total),
        )
        (known if ref else unknown).append(line)
    known.sort(key=lambda line: (line.sip_class, -line.count, line.code))
    unknown.sort(key=lambda line: (-line.count, line.code))
    return known, unknown, total


SPLITS = ("direction", "destination_country", "sub_account_id")  # the code rollup's columns


def code_splits(window: Window, code: str | None, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Per dimension: total final codes, failures (3xx–6xx and invalid) and the top failing code.

    One grouped read of the rollup, folded three ways in Python: cheaper than six GROUP BYs
    over the same rows for a week of hour buckets.
    """
    qs = CodeRollup.objects.in_window(window)
    if code:
        qs = qs.filter(sip_code=code)
    rows = qs.values_list(*SPLITS, "sip_code", "sip_class").annotate(n=Sum("count")).order_by()
    totals: dict[str, dict[str, list[int]]] = {dim: defaultdict(lambda: [0, 0]) for dim in SPLITS}
    by_code: dict[str, dict[tuple[str, str], int]] = {dim: defaultdict(int) for dim in SPLITS}
    for direction, country, sub, sip_code, sip_class, n in rows:
        failing = sip_class not in ("1xx", "2xx")
        for dim, value in zip(SPLITS, (direction, country, sub), strict=True):
            slot = totals[dim][value]
            slot[0] += n
            if failing:
                slot[1] += n
                by_code[dim][(value, sip_code)] += n
    result = {}
    for dim in SPLITS:
        top: dict[str, tuple[int, str]] = {}
        for (value, sip_code), n in by_code[dim].items():
            if value not in top or (n, sip_code) > top[value]:
                top[value] = (n, sip_code)
        ranked = sorted(totals[dim].items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:limit]
        result[dim] = [
            {
                "value": value or "—",
                "raw": value,
                "total": total,
                "failures": failures,
                "failure_pct": pct(failures, total),
                "top_code": top.get(value, (0, ""))[1],
            }
            for value, (total, failures) in ranked
        ]
    return result
