"""Telecom KPIs (ASR, NER, ISA, ACD, answer delay, fault split) over a window, from the session
rollups only: a week of day and hour buckets, never the sessions or their events.

The definitions live here, once; the pages show ``DEFINITIONS`` and the README repeats them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import DurationField, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from classify import rollups, rules
from classify.models import FaultSide, OutcomeGroup, Product, SessionRollup
from dashboard.reads.common import BIN_ORIGIN, FAILING_GROUPS, DateBin, hash_grouping, is_int, predicate
from dashboard.reads.overview import Cause
from dashboard.timerange import Window

# RFC 6076 §4.8 SEER: the final responses that show the network delivered the call to the user,
# whatever the user then did. Busy / no answer without a code are the same user behaviour.
USER_BEHAVIOUR_CODES = (480, 486, 600, 603)
USER_BEHAVIOUR_STATUSES = ("BUSY", "NO_ANSWER")
# RFC 6076 §4.9 ISA: responses that say the network or platform could not handle the call.
ISA_CODES = (408, 500, 503, 504)

DEFINITIONS: list[tuple[str, str, str]] = [  # (anchor, name, definition)
    (
        "attempts",
        "Attempts",
        "Sessions that started in the window and have ended (in-progress sessions are not counted), "
        "less those whose final SIP code is a 3xx redirection (RFC 6076 excludes them).",
    ),
    ("asr", "ASR", "Answer-seizure ratio: answered sessions ÷ attempts."),
    (
        "ner",
        "NER",
        "Network effectiveness ratio, in its SIP form (RFC 6076 SEER): sessions that ended answered "
        "or in user behaviour — final code 200, 480, 486, 600 or 603, or status BUSY / NO_ANSWER — "
        "÷ attempts. A low NER means the network, not the callee, stopped calls.",
    ),
    (
        "isa",
        "ISA",
        "Ineffective session attempts (RFC 6076): sessions whose final SIP code is 408, 500, 503 or 504 ÷ attempts.",
    ),
    ("acd", "ACD", "Average call duration: talk seconds of the answered sessions ÷ answered sessions."),
    (
        "answer-delay",
        "Answer delay",
        "Average, over answered sessions, of the first leg's connected time less its initiated time. "
        "8x8 sends no ringing (180/183) event, so post-dial delay (PDD) cannot be measured.",
    ),
    (
        "customer",
        "Customer behaviour",
        "Share of attempts that failed because of the callee or caller: busy, no answer, declined, canceled.",
    ),
    (
        "network",
        "Network / platform",
        "Share of attempts that failed in a carrier or in 8x8: 408, 5xx, no final response, "
        "FAILED/ERROR without a code, 8x8 routing and coverage errors.",
    ),
    (
        "configuration",
        "Configuration",
        "Share of attempts that failed because of the request or the account: 400, 401, 403, 404, 407, "
        "410, 484, 485, 488, 604, 606 and 8x8 validation errors.",
    ),
]
DEFINITION = {anchor: text for anchor, _, text in DEFINITIONS}

BREAKDOWNS = {"sub_account_id": "Sub-account", "destination_country": "Destination country", "product": "Product"}
# The sessions-list filter each breakdown links to.
SESSION_FILTER = {"sub_account_id": "sub_account", "destination_country": "country", "product": "product"}


def min_sessions() -> int:
    return settings.SIPDESK_KPI_MIN_SESSIONS


@dataclass(frozen=True)
class Rate:
    """part ÷ whole, with the counts it rests on; ``low`` when too few sessions to trust."""

    part: int
    whole: int
    floor: int = 100

    @property
    def pct(self) -> float | None:
        return round(100.0 * self.part / self.whole, 1) if self.whole else None

    @property
    def low(self) -> bool:
        return self.whole < self.floor


@dataclass(frozen=True)
class Mean:
    """total ÷ count (seconds), with the count it rests on."""

    total: float
    count: int
    floor: int = 100

    @property
    def value(self) -> float | None:
        return round(self.total / self.count, 1) if self.count else None

    @property
    def low(self) -> bool:
        return self.count < self.floor


@dataclass
class Kpis:
    value: str  # the breakdown value ("" for the whole window)
    label: str
    sessions: int
    attempts: int
    asr: Rate
    ner: Rate
    isa: Rate
    acd: Mean
    answer_delay: Mean
    customer: Rate
    network: Rate
    configuration: Rate

    @property
    def cells(self) -> list[Cell]:
        """The KPIs in display order, each with its count and definition."""
        cells = []
        for anchor, name, _ in DEFINITIONS[1:]:
            measure = getattr(self, anchor.replace("-", "_"))
            if isinstance(measure, Rate):
                value = "–" if measure.pct is None else f"{measure.pct}%"
                count = f"{measure.part:,} of {measure.whole:,}"
            else:
                value = "–" if measure.value is None else f"{measure.value:g} s"
                count = f"{measure.count:,} answered"
            cells.append(Cell(anchor, name, value, count, measure.low, DEFINITION[anchor]))
        return cells


@dataclass(frozen=True)
class Cell:
    anchor: str
    name: str
    value: str
    count: str
    low: bool
    definition: str


_ATTEMPT = ~Q(outcome_group=OutcomeGroup.IN_PROGRESS) & ~Q(primary_sip_code__gte=300, primary_sip_code__lte=399)
_ANSWERED = _ATTEMPT & Q(outcome_group=OutcomeGroup.ANSWERED)
_AGGREGATES = {
    "sessions": Q(),
    "attempts": _ATTEMPT,
    "answered": _ANSWERED,
    "effective": _ATTEMPT
    & (
        Q(outcome_group=OutcomeGroup.ANSWERED)
        | Q(primary_sip_code__in=USER_BEHAVIOUR_CODES)
        | Q(status__in=USER_BEHAVIOUR_STATUSES)
    ),
    "isa": _ATTEMPT & Q(primary_sip_code__in=ISA_CODES),
    "customer": _ATTEMPT & Q(fault_side=FaultSide.CUSTOMER),
    "network": _ATTEMPT & Q(fault_side=FaultSide.NETWORK),
    "configuration": _ATTEMPT & Q(fault_side=FaultSide.CONFIGURATION),
}


# What the KPI definitions above look at: a rollup row grouped by these counts the same in every
# definition, so the totals can be read as a few dozen such rows and folded here (``_fold``, with
# dashboard/reads/common.py ``predicate``).
_DEFINED_BY = ("outcome_group", "primary_sip_code", "status", "fault_side")
_AGGREGATE_TESTS = {name: predicate(q) for name, q in _AGGREGATES.items()}
_ANSWERED_TEST = predicate(_ANSWERED)


def _fold(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The ``_sums`` of rows grouped by ``_DEFINED_BY`` (with their count, answered_seconds,
    answer_delay_ms and answer_delay_count summed)."""
    total: dict[str, float] = dict.fromkeys(_sums(), 0)
    for row in rows:
        for name, test in _AGGREGATE_TESTS.items():
            if test(row):
                total[name] += row["count"]
        if _ANSWERED_TEST(row):
            total["answered_seconds"] += row["answered_seconds"]
        total["delay_ms"] += row["answer_delay_ms"]
        total["delay_count"] += row["answer_delay_count"]
    return total


def _sums() -> dict[str, Any]:
    sums = {name: Coalesce(Sum("count", filter=q), 0) for name, q in _AGGREGATES.items()}
    sums["answered_seconds"] = Coalesce(Sum("answered_seconds", filter=_ANSWERED), 0)
    sums["delay_ms"] = Coalesce(Sum("answer_delay_ms"), 0)
    sums["delay_count"] = Coalesce(Sum("answer_delay_count"), 0)
    return sums


def _kpis(row: dict[str, Any], value: str, label: str, floor: int) -> Kpis:
    attempts = row["attempts"]
    return Kpis(
        value=value,
        label=label,
        sessions=row["sessions"],
        attempts=attempts,
        asr=Rate(row["answered"], attempts, floor),
        ner=Rate(row["effective"], attempts, floor),
        isa=Rate(row["isa"], attempts, floor),
        acd=Mean(row["answered_seconds"], row["answered"], floor),
        answer_delay=Mean(row["delay_ms"] / 1000.0, row["delay_count"], floor),
        customer=Rate(row["customer"], attempts, floor),
        network=Rate(row["network"], attempts, floor),
        configuration=Rate(row["configuration"], attempts, floor),
    )


def totals(window: Window) -> Kpis:
    """The KPIs of every session in the window."""
    return window_sums(window).totals


@dataclass
class WindowSums:
    """What the overview reads of a window's session rollups, in one scan (``window_sums``)."""

    totals: Kpis
    outcomes: dict[str, int]  # sessions per outcome group (the overview tiles)
    by_bin: dict[datetime, dict[str, int]]  # sessions per chart bin and outcome group
    error_codes: dict[int, int]  # sessions per 8x8 error code (failure causes beyond a day)
    products: list[tuple[str, str, int]]  # (product, sub-account, sessions): the product signals


_MEASURE_FIELDS = list(rollups.MEASURES[SessionRollup])


def window_sums(window: Window, stride: timedelta | None = None) -> WindowSums:
    """The window's KPIs, its sessions per outcome group, per 8x8 error code and per product and
    sub-account and, with a ``stride``, per chart bin (``reads.overview.outcome_series``).

    One scan of the window's buckets grouped each of those ways (``grouping_sets``), where a read
    per way scanned a busy week of 5 M sessions four times. The totals are grouped by what the
    KPIs are defined by and folded here (``_fold``): a few dozen rows, where a sum per KPI with
    its filter evaluated on every row took twice as long. The bins join that scan when they read
    the same buckets (a bin of whole days, or no coarser buckets in the window); a finer bin
    reads buckets no coarser than itself (classify/rollups.py ``window_filter``) on its own."""
    sets: dict[str, tuple[str, ...]] = {
        "kpis": _DEFINED_BY,
        "errors": ("error_code",),
        "products": ("product", "sub_account_id"),
    }
    buckets = SessionRollup.objects.in_window(window)
    bins_alike = stride is not None and rollups.window_filter(
        window.start, window.end, resolution=stride
    ) == rollups.window_filter(window.start, window.end)
    if stride is not None and bins_alike:
        buckets = buckets.annotate(bin=_bin(stride))
        sets["bins"] = ("bin", "outcome_group")
    found = buckets.grouping_sets(sets, _MEASURE_FIELDS)
    rows = found["kpis"]
    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        outcomes[row["outcome_group"]] += row["count"]
    by_bin: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if bins_alike:
        for row in found["bins"]:
            by_bin[row["bin"]][row["outcome_group"]] += row["count"]
    elif stride is not None:
        binned = (
            SessionRollup.objects.in_window(window, resolution=stride)
            .annotate(bin=_bin(stride))
            .values_list("bin", "outcome_group")
            .annotate(n=Sum("count"))
            .order_by()
        )
        for moment, group, n in binned:
            by_bin[moment][group] += n
    return WindowSums(
        totals=_kpis(_fold(rows), "", "All sessions", min_sessions()),
        outcomes=dict(outcomes),
        by_bin=by_bin,
        error_codes={row["error_code"]: row["count"] for row in found["errors"] if row["error_code"] is not None},
        products=[(row["product"], row["sub_account_id"], row["count"]) for row in found["products"]],
    )


def _bin(stride: timedelta) -> DateBin:
    return DateBin(Value(stride, output_field=DurationField()), F("bucket_start"), Value(BIN_ORIGIN))


def breakdowns(window: Window, limit: int = 25) -> tuple[Kpis, dict[str, list[Kpis]]]:
    """The window's KPIs and, per dimension (sub-account, country, product), the KPIs per value,
    most attempts first.

    One grouped read over the three dimensions together, folded here: one scan of a week of day
    buckets instead of four."""
    dims = list(BREAKDOWNS)
    rows = SessionRollup.objects.in_window(window).values(*dims).annotate(**_sums()).order_by()
    names = list(_sums())
    total: dict[str, float] = dict.fromkeys(names, 0)
    per: dict[str, dict[str, dict[str, float]]] = {dim: {} for dim in dims}
    for row in rows:
        for name in names:
            total[name] += row[name]
        for dim in dims:
            slot = per[dim].setdefault(row[dim], dict.fromkeys(names, 0))
            for name in names:
                slot[name] += row[name]
    floor = min_sessions()
    products = dict(Product.choices)
    result = {}
    for dim in dims:
        ranked = sorted(per[dim].items(), key=lambda kv: (-kv[1]["attempts"], -kv[1]["sessions"], kv[0]))[:limit]
        labels = products if dim == "product" else {}
        result[dim] = [_kpis(sums, value, labels.get(value, value or "—"), floor) for value, sums in ranked]
    return _kpis(total, "", "All sessions", floor), result


# --- who is behind each failure cause ----------------------------------------------------------


@dataclass
class CauseWho:
    cause: Cause
    side: str  # a FaultSide value
    sub_accounts: list[tuple[str, int]] = field(default_factory=list)
    countries: list[tuple[str, int]] = field(default_factory=list)


def cause_side(cause: Cause) -> str:
    """The fault side of a cause, the classifier's way (classify/rules.py ``fault_side``)."""
    number = int(cause.cause) if is_int(cause.cause) else None
    if cause.kind == "sip":
        return rules.fault_side(sip_code=number)
    if cause.kind == "error_code":
        return rules.fault_side(error_code=number)
    return rules.fault_side(status=cause.cause)


def who(window: Window, causes: list[Cause], top: int = 3) -> list[CauseWho]:
    """Each cause with its top sub-accounts and destination countries, from the session rollups
    (one grouped read for all causes)."""
    sip = {int(c.cause) for c in causes if c.kind == "sip" and is_int(c.cause)}
    err = {int(c.cause) for c in causes if c.kind == "error_code" and is_int(c.cause)}
    statuses = {c.cause for c in causes if c.kind == "status"}
    found: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(
        lambda: {"sub": defaultdict(int), "country": defaultdict(int)}
    )
    if sip or err or statuses:
        match = Q(primary_sip_code__in=sip) | Q(primary_sip_code__isnull=True, error_code__in=err)
        match |= Q(primary_sip_code__isnull=True, error_code__isnull=True, status__in=statuses)
        with hash_grouping():  # thousands of rows grouped on three text fields
            rows = list(
                SessionRollup.objects.in_window(window)
                .filter(match, outcome_group__in=FAILING_GROUPS)
                .values_list("primary_sip_code", "error_code", "status", "sub_account_id", "destination_country")
                .annotate(n=Sum("count"))
                .order_by()
            )
        for code, error, status, sub, country, n in rows:
            if code is not None:
                key = ("sip", str(code))
            elif error is not None:
                key = ("error_code", str(error))
            else:
                key = ("status", status)
            found[key]["sub"][sub] += n
            found[key]["country"][country] += n
    result = []
    for cause in causes:
        seen = found.get((cause.kind, cause.cause), {"sub": {}, "country": {}})

        def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
            return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

        result.append(CauseWho(cause, cause_side(cause), ranked(seen["sub"]), ranked(seen["country"])))
    return result
