"""KPIs on hand-computed numbers, their pages, the fault split, and who is behind each cause."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from dashboard import kpis, links
from dashboard.kpis import CauseWho
from dashboard.reads.overview import Cause
from dashboard.tests.factories import make_session, session_rollup
from dashboard.timerange import window_for

pytestmark = pytest.mark.django_db


def _traffic(moment, sub: str = "acme_sg", country: str = "SG", scale: int = 1) -> None:
    """21 sessions: 13 attempts once the 3 redirected and 5 in-progress ones are left out."""
    rows: list[tuple[str, int, dict[str, Any]]] = [
        ("COMPLETED", 6, {"answered_seconds": 600, "answer_delay_ms": 24000, "answer_delay_count": 6}),
        ("BUSY", 2, {"primary_sip_code": 486, "fault_side": "customer"}),
        ("NO_ANSWER", 1, {"fault_side": "customer"}),
        ("FAILED", 2, {"primary_sip_code": 503, "fault_side": "network"}),
        ("FAILED", 1, {"primary_sip_code": 408, "fault_side": "network"}),
        ("FAILED", 1, {"primary_sip_code": 404, "fault_side": "configuration"}),
        ("FAILED", 3, {"primary_sip_code": 302, "fault_side": "none"}),
        ("IN_PROGRESS", 5, {}),
    ]
    for status, n, extra in rows:
        extra = {**extra, **{k: v * scale for k, v in extra.items() if k.startswith("answer")}}
        session_rollup(moment, status, n * scale, sub_account_id=sub, destination_country=country, **extra)


def test_kpis_on_hand_computed_numbers(settings):
    settings.SIPDESK_KPI_MIN_SESSIONS = 10
    _traffic(timezone.now() - timedelta(minutes=5))
    k = kpis.totals(window_for("1h"))
    assert (k.sessions, k.attempts) == (21, 13)  # 3xx and in-progress are not attempts
    assert (k.asr.part, k.asr.pct) == (6, 46.2)  # 6 / 13
    assert (k.ner.part, k.ner.pct) == (9, 69.2)  # answered 6 + 486 ×2 + no answer 1
    assert (k.isa.part, k.isa.pct) == (3, 23.1)  # 503 ×2 + 408
    assert k.acd.value == 100.0  # 600 s / 6 answered
    assert k.answer_delay.value == 4.0  # 24,000 ms / 6
    assert (k.customer.pct, k.network.pct, k.configuration.pct) == (23.1, 23.1, 7.7)  # 3, 3, 1 of 13
    assert not k.asr.low


def test_rates_on_too_few_sessions_are_low(settings):
    settings.SIPDESK_KPI_MIN_SESSIONS = 14
    _traffic(timezone.now() - timedelta(minutes=5))
    k = kpis.totals(window_for("1h"))
    assert k.asr.low
    assert k.ner.low
    assert k.acd.low
    settings.SIPDESK_KPI_MIN_SESSIONS = 6
    k = kpis.totals(window_for("1h"))
    assert not k.asr.low
    assert not k.acd.low


def test_no_sessions_means_no_rate():
    k = kpis.totals(window_for("1h"))
    assert k.asr.pct is None
    assert k.acd.value is None
    assert k.asr.low
    assert all(cell.value == "–" for cell in k.cells)


def test_breakdowns_per_sub_account_country_and_product(settings):
    settings.SIPDESK_KPI_MIN_SESSIONS = 20
    moment = timezone.now() - timedelta(minutes=5)
    _traffic(moment, sub="acme_sg", country="SG", scale=2)
    session_rollup(moment, "FAILED", 4, sub_account_id="beta_ph", destination_country="PH", primary_sip_code=503)
    session_rollup(moment, "COMPLETED", 1, sub_account_id="beta_ph", destination_country="PH")
    totals, per = kpis.breakdowns(window_for("1h"))
    assert totals.attempts == 26 + 5
    subs = {k.value: k for k in per["sub_account_id"]}
    assert [k.value for k in per["sub_account_id"]] == ["acme_sg", "beta_ph"]  # most attempts first
    assert subs["acme_sg"].asr.pct == 46.2
    assert not subs["acme_sg"].asr.low
    assert (subs["beta_ph"].asr.pct, subs["beta_ph"].isa.pct, subs["beta_ph"].attempts) == (20.0, 80.0, 5)
    assert subs["beta_ph"].asr.low  # 5 attempts < 20
    assert {k.value for k in per["destination_country"]} == {"SG", "PH"}
    assert [(k.value, k.label, k.attempts) for k in per["product"]] == [("IVR", "IVR", 31)]


def test_kpi_page_shows_every_kpi_with_counts_definitions_and_greys_thin_rates(support_client, settings):
    settings.SIPDESK_KPI_MIN_SESSIONS = 10
    moment = timezone.now() - timedelta(minutes=5)
    _traffic(moment)
    session_rollup(moment, "COMPLETED", 2, sub_account_id="tiny")
    body = support_client.get("/kpis/?window=1h").content.decode()
    for name in ("ASR", "NER", "ISA", "ACD", "Answer delay", "Customer behaviour", "Network / platform"):
        assert re.search(rf'<abbr title="[^"]+">{re.escape(name)}</abbr>', body), name
    assert "RFC 6076" in body
    assert "no ringing" in body
    assert "8 of 15" in body  # ASR over all: (6 + 2) of 15 attempts
    assert 'href="/sessions/?range=1h&amp;sub_account=tiny"' in body
    # "tiny" has 2 attempts: its rates are greyed, acme_sg's (13) are not.
    tiny_row = body[body.index(">tiny</a>") : body.index("</tr>", body.index(">tiny</a>"))]
    assert 'class="num rate low"' in tiny_row
    acme_row = body[body.index(">acme_sg</a>") : body.index("</tr>", body.index(">acme_sg</a>"))]
    assert 'class="num rate" title="6 of 13"' in acme_row  # ASR on 13 attempts
    assert 'class="num rate low" title="6 answered"' in acme_row  # ACD on 6 answered < 10


def test_overview_shows_kpis_and_the_three_fault_rates(support_client, settings):
    settings.SIPDESK_KPI_MIN_SESSIONS = 100
    _traffic(timezone.now() - timedelta(minutes=5))
    body = support_client.get("/?window=1h").content.decode()
    strip = body[body.index('<section class="kpis"') : body.index("</section>", body.index('<section class="kpis"'))]
    assert "46.2%" in strip
    assert "6 of 13" in strip
    for name, share in (
        ("Customer behaviour", "3 of 13"),
        ("Network / platform", "3 of 13"),
        ("Configuration", "1 of 13"),
    ):
        assert name in strip
        assert share in strip
    assert "kpi kpi-asr low" in strip  # 13 attempts < 100: greyed, with its count
    assert "too few to trust" in strip


def test_sessions_filter_and_csv_by_fault_side(support_client):
    network = make_session(status="FAILED", sip_code=503, fault_side="network")
    make_session(status="FAILED", sip_code=404, fault_side="configuration")
    make_session(status="BUSY", sip_code=486, fault_side="customer")
    rows = support_client.get("/sessions/?fault_side=network").context["page"].rows
    assert [r.session_id for r in rows] == [network.session_id]
    body = b"".join(support_client.get("/sessions/export.csv?fault_side=network").streaming_content).decode()
    lines = list(csv.DictReader(io.StringIO(body)))
    assert [(line["session_id"], line["fault_side"]) for line in lines] == [(network.session_id, "network")]


def test_failure_causes_show_who_and_customer_behaviour_apart(support_client):
    for _ in range(3):
        make_session(status="FAILED", sip_code=503, sub_account="acme_sg", country="SG")
    make_session(status="FAILED", sip_code=503, sub_account="beta_ph", country="PH")
    make_session(status="BUSY", sip_code=486, sub_account="acme_sg")
    moment = timezone.now() - timedelta(minutes=5)
    # Who comes from the session rollups, which the pipeline keeps in step with the sessions.
    session_rollup(moment, "FAILED", 3, sub_account_id="acme_sg", destination_country="SG", primary_sip_code=503)
    session_rollup(moment, "FAILED", 1, sub_account_id="beta_ph", destination_country="PH", primary_sip_code=503)
    session_rollup(moment, "BUSY", 1, sub_account_id="acme_sg", destination_country="SG", primary_sip_code=486)
    response = support_client.get("/?window=1h")
    faults, customer = response.context["fault_causes"], response.context["customer_causes"]
    assert [(row.who.cause.cause, row.who.sub_accounts, row.who.countries) for row in faults] == [
        ("503", [("acme_sg", 3), ("beta_ph", 1)], [("SG", 3), ("PH", 1)])
    ]
    assert [row.who.cause.cause for row in customer] == ["486"]
    body = response.content.decode()
    assert 'href="/sessions/?range=1h&amp;sip_code=503&amp;sub_account=beta_ph"' in body
    assert 'href="/sessions/?range=1h&amp;sip_code=503&amp;country=PH"' in body
    faults_at = body.index("Network and configuration faults")
    assert faults_at < body.index("<strong>503</strong>", faults_at) < body.index("Customer behaviour <span")
    assert body.index("Customer behaviour <span") < body.index("<strong>486</strong>", faults_at)


def test_cause_links_encode_what_a_payload_put_in_a_status_or_a_sub_account():
    """Statuses and sub-accounts come from payloads: "&", "#" or a space must not cut a link short
    or add a filter to it."""
    cause = Cause("status", "BUSY&x=1 #", 3, 50.0, "", "", "")
    (row,) = links.cause_rows([CauseWho(cause, "customer", [("a&b/c", 2)], [("S G", 1)])], window_for("1h"))
    sessions = "/sessions/?range=1h&status=BUSY%26x%3D1%20%23"
    assert row.sessions == sessions
    assert row.sub_accounts == [("a&b/c", 2, f"{sessions}&sub_account=a%26b/c")]
    assert row.countries == [("S G", 1, f"{sessions}&country=S%20G")]
    assert row.guidance == ""
    sip = CauseWho(Cause("sip", "503", 1, 100.0, "", "", ""), "network")
    (row,) = links.cause_rows([sip], window_for("24h"))
    assert (row.sessions, row.guidance) == (
        "/sessions/?range=24h&sip_code=503",
        "/troubleshooting/?window=24h#code-503",
    )


def test_totals_folded_in_python_equal_the_sums_postgresql_filters():
    """The overview's totals are read grouped and folded by ``dashboard.reads.common.predicate``;
    the KPI page's breakdown sums the same definitions with SQL filters. Both must agree on every kind of row,
    missing codes and in-progress sessions included."""
    import random

    rng = random.Random(5)
    now = timezone.now()
    for i in range(120):
        extra: dict[str, Any] = {
            "sub_account_id": f"s{i % 7}",
            "fault_side": rng.choice(["none", "customer", "network", "configuration", "platform"]),
            "answered_seconds": rng.randrange(100),
            "answer_delay_ms": rng.randrange(5000),
            "answer_delay_count": rng.randrange(3),
        }
        code = rng.choice([None, 200, 302, 399, 408, 480, 486, 500, 503, 603])
        if code is not None:
            extra["primary_sip_code"] = code
        status = rng.choice(["COMPLETED", "BUSY", "NO_ANSWER", "FAILED", "ERROR", "IN_PROGRESS", "CANCELED"])
        session_rollup(now - timedelta(minutes=rng.randrange(1, 50)), status, rng.randrange(1, 9), **extra)
    window = window_for("1h")
    folded = kpis.totals(window)
    filtered, _ = kpis.breakdowns(window)
    assert folded == filtered
    assert folded.attempts
    assert folded.ner.part
    assert folded.isa.part
    assert folded.acd.count


def test_hash_grouping_turns_sorting_off_inside_it_and_never_past_it():
    """kpis.who reads thousands of rollup rows grouped on text fields inside hash_grouping
    (dashboard/reads/common.py; sorting them took twice as long): the planner groups by hashing
    there, and the setting ends with the block even inside a caller's transaction."""
    from django.db import connection, transaction

    from classify.models import SessionRollup
    from dashboard.reads.common import hash_grouping

    def plan() -> str:
        query = SessionRollup.objects.values("status", "sub_account_id").annotate(n=Sum("count")).order_by()
        with connection.cursor() as cursor:
            sql, params = query.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(line for (line,) in cursor.fetchall())

    def enable_sort() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_sort")
            return cursor.fetchone()[0]

    with transaction.atomic():  # a caller's transaction: the setting must not leak into it
        with hash_grouping():
            assert enable_sort() == "off"
            assert "Sort" not in plan()
        assert enable_sort() == "on"
    assert enable_sort() == "on"


def test_window_sums_read_once_equal_a_read_per_way():
    """kpis.window_sums reads a window's rollups once, grouped four ways (GROUPING SETS): each
    way equals its own read, on windows of every bucket mix (minutes; days with edge hours; a
    finer chart bin that cannot read day buckets; a week half a year back)."""
    import random
    from collections import defaultdict

    from classify.models import SessionRollup
    from dashboard.reads import overview as overview_reads
    from dashboard.timerange import CUSTOM_WINDOW, Window

    rng = random.Random(11)
    now = timezone.now()
    for _ in range(150):
        back = rng.choice([timedelta(minutes=rng.randrange(1, 600)), timedelta(hours=rng.randrange(30, 24 * 200))])
        extra: dict[str, Any] = {
            "sub_account_id": rng.choice(["acme_sg", "beta_uk", "", "x/\u00e9"]),
            "product": rng.choice(["IVR", "VOICE_MESSAGING", "NUMBER_MASKING", "UNKNOWN"]),
            "fault_side": rng.choice(["", "customer", "network"]),
            "answered_seconds": rng.randrange(100),
        }
        if rng.random() < 0.5:
            extra["primary_sip_code"] = rng.choice([486, 503, 404])
        if rng.random() < 0.3:
            extra["error_code"] = rng.choice([-2004, -1001, 0])
        status = rng.choice(["COMPLETED", "BUSY", "FAILED", "ERROR", "IN_PROGRESS"])
        size = "minute" if back < timedelta(days=1) else "hour"
        session_rollup(now - back, status, rng.randrange(1, 9), size=size, **extra)

    windows = [window_for(key) for key in ("15m", "1h", "24h", "7d")] + [
        Window(CUSTOM_WINDOW, now - timedelta(days=187), now - timedelta(days=180)),
        Window(CUSTOM_WINDOW, now - timedelta(days=3, hours=5), now - timedelta(hours=7)),  # 2-hour bins
        Window(CUSTOM_WINDOW, now - timedelta(days=40), now),
    ]
    for window in windows:
        stride = overview_reads.chart_bin(window)
        sums = kpis.window_sums(window, stride)
        rows = SessionRollup.objects.in_window(window)
        assert sums.totals == kpis.breakdowns(window)[0], window
        assert sums.outcomes == overview_reads.outcome_counts(window), window
        binned = (
            SessionRollup.objects.in_window(window, resolution=stride)
            .annotate(bin=kpis._bin(stride))
            .values_list("bin", "outcome_group")
            .annotate(n=Sum("count"))
        )
        expected: dict = defaultdict(dict)
        for moment, group, n in binned:
            expected[moment][group] = n
        assert {m: dict(g) for m, g in sums.by_bin.items()} == expected, window
        errors = rows.filter(error_code__isnull=False).values_list("error_code").annotate(n=Sum("count"))
        assert sums.error_codes == dict(errors), window
        products = rows.values_list("product", "sub_account_id").annotate(n=Sum("count"))
        assert sorted(sums.products) == sorted(products), window
    # the data reached the last window
    assert sums.error_codes
    assert sums.products
    assert sums.by_bin
