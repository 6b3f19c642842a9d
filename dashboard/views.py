"""Read-only pages for the support team. Views parse the request, ask dashboard/reads/, render.

htmx requests get only the page's partial ("page.html#part"); the same URL without htmx renders
the whole page, so every state can be shared as a link and works without JavaScript.
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from audit.number_search import allow_number_search
from classify import rules
from classify.models import FaultSide
from config.http import AuthenticatedHtmxHttpRequest, HtmxHttpRequest
from config.metrics import exposition as metrics_exposition
from dashboard import charts, kpis, links, timerange
from dashboard import filters as filter_reads
from dashboard.forms import SessionFilterForm
from dashboard.reads import codes as code_reads
from dashboard.reads import health as health_reads
from dashboard.reads import overview as overview_reads
from dashboard.reads import reference as reference_reads
from dashboard.reads import session as session_reads
from dashboard.reads import sessions as session_list
from products import queries as product_queries
from retention import disk

FULL_NUMBERS_PERM = "classify.view_full_numbers"
FEED_ROWS_KEPT = 100  # the live feed drops older rows beyond this (static/js/feed.js)
WEBHOOK_PATH = "/webhooks/8x8/"


def _full_numbers(request: HtmxHttpRequest) -> bool:
    return request.user.has_perm(FULL_NUMBERS_PERM)


def _session_filters(request: HtmxHttpRequest, params: Any) -> tuple[SessionFilterForm, dict[str, Any]]:
    full_numbers = _full_numbers(request)
    form = SessionFilterForm(params, full_numbers=full_numbers)
    # Without the number permission a fragment would let someone confirm masked digits one search
    # at a time, so only a whole number matches.
    filters = form.filters()
    if "number" in filters and not full_numbers:
        filters["number_exact"] = True
    return form, filters


def _number_search_refused(
    request: AuthenticatedHtmxHttpRequest, filters: dict[str, Any], *, via: str
) -> HttpResponse | None:
    """A 429 when a user who sees numbers masked is over the whole-number search limit.

    Trying every candidate for a masked number's hidden digits is a series of whole-number
    searches; audit.number_search counts and records them."""
    if not filters.get("number_exact"):
        return None
    number = "+" + "".join(filters["number"].split()).removeprefix("+")  # one spelling per number
    if allow_number_search(request.user, number, via=via):
        return None
    context = {"limit": settings.SIPDESK_NUMBER_SEARCHES_PER_MINUTE}
    template = "audit/too_many_searches.html"
    response = render(request, f"{template}#refusal" if request.htmx else template, context, status=429)
    response["Retry-After"] = "60"
    return response


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). Values
# come from 8x8's payloads (sub-account, numbers), so they are neutralised with a leading quote,
# except plain and phone numbers ("+6591234567", "+65 9•••• 4567", "-2004"): made of these
# characters only, a cell cannot call a function or another program.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_CHARS = frozenset("0123456789+-() .•")


def spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not set(value) <= _NUMBER_CHARS:
        return "'" + value
    return value


def _window(request: HtmxHttpRequest) -> tuple[timerange.Window, dict[str, Any]]:
    """The page's window ("last 1 h" or an absolute start/end) and the window picker's context."""
    window, error = timerange.window_from(request.GET)
    return window, timerange.window_context(window, error)


def _render(request: HtmxHttpRequest, template: str, partial: str, context: dict[str, Any]) -> HttpResponse:
    name = f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context)


def _webhook_url(request: HtmxHttpRequest) -> str:
    return settings.SIPDESK_WEBHOOK_PUBLIC_URL or request.build_absolute_uri(WEBHOOK_PATH)


# The overview's tiles (dashboard/reads/overview.py): name, css tone, and what a rise means for
# its colour ("bad", "good" or "neutral" for volume).
TILES = {
    "sessions": ("Sessions", "neutral", "neutral"),
    "answered": ("Answered", "answered", "good"),
    "not_answered": ("Not answered", "not_answered", "bad"),
    "failed": ("Failed + error", "failed", "bad"),
}


@dataclass(frozen=True)
class Tile:
    label: str
    tone: str
    rising: str
    value: str
    change: float | None
    unit: str
    week_change: float | None


def _tile(figures: overview_reads.Tile) -> Tile:
    if figures.key == "sessions":
        value = f"{int(figures.value or 0):,}"
    else:
        value = "–" if figures.value is None else f"{figures.value}%"
    return Tile(*TILES[figures.key], value, figures.change, figures.unit, figures.week_change)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def overview(request: HtmxHttpRequest) -> HttpResponse:
    window, window_ui = _window(request)
    # The feed sits outside the htmx partial (it polls on its own), so a partial skips it.
    feed_filter = filter_reads.FeedFilter.from_params(request.GET)
    rows, cursor = (
        ([], None)
        if request.htmx
        else session_list.feed(None, full_numbers=_full_numbers(request), where=feed_filter.q())
    )
    stride = overview_reads.chart_bin(window)
    sums = kpis.window_sums(window, stride)
    causes = kpis.who(window, overview_reads.failure_causes(window, sums.error_codes))
    context = {
        **window_ui,
        "tiles": [_tile(t) for t in overview_reads.overview_tiles(window, sums.outcomes)],
        "kpis": sums.totals,
        "chart": charts.outcome_chart(
            overview_reads.outcome_series(window, sums.by_bin), link=_chart_links(window, stride)
        ),
        "series": charts.SERIES,
        "causes": [c.cause for c in causes],
        "fault_causes": links.cause_rows([c for c in causes if c.side != FaultSide.CUSTOMER], window),
        "customer_causes": links.cause_rows([c for c in causes if c.side == FaultSide.CUSTOMER], window),
        "health": health_reads.receiver_health(window),
        "feed_rows": rows,
        "feed_cursor": cursor,
        "feed_filter": feed_filter,
        "feed_cap": FEED_ROWS_KEPT,
        "sub_accounts": [] if request.htmx else filter_reads.known_sub_accounts(),
        "webhook_url": _webhook_url(request),
        "signals": product_queries.signals(window.start, window.end, products=sums.products),
    }
    return _render(request, "dashboard/overview.html", "overview-body", context)


def _chart_links(window: timerange.Window, stride: timedelta) -> charts.ChartLinks:
    """Where a bar of the outcome chart leads: the sessions of that bin and outcome, and (the
    bin itself) the overview zoomed to that bin."""
    sessions_url, overview_url = reverse("dashboard:sessions"), reverse("dashboard:overview")
    spans: dict[datetime, timerange.Window] = {}  # a bin's bars share its span (and its query strings)

    def bar(moment: datetime, outcome: str | None) -> str:
        span = spans.get(moment)
        if span is None:
            span = spans[moment] = timerange.Window(
                timerange.CUSTOM_WINDOW, max(moment, window.start), min(moment + stride, window.end)
            )
        if outcome is None:
            return f"{overview_url}?{span.query}"
        return f"{sessions_url}?{span.sessions_query}&outcome={outcome}"

    return bar


@require_GET
@login_required
@vary_on_headers("HX-Request")
def kpi_page(request: HtmxHttpRequest) -> HttpResponse:
    window, window_ui = _window(request)
    totals, per = kpis.breakdowns(window)
    context = {
        **window_ui,
        "totals": totals,
        "breakdowns": [(label, kpis.SESSION_FILTER[dim], per[dim]) for dim, label in kpis.BREAKDOWNS.items()],
        "definitions": kpis.DEFINITIONS,
        "min_sessions": kpis.min_sessions(),
    }
    return _render(request, "dashboard/kpis.html", "kpis-body", context)


@require_GET
@login_required
@never_cache
def live_feed(request: HtmxHttpRequest) -> HttpResponse:
    """Only the sessions that changed after the cursor; the poller element comes back with a new one.

    Without a cursor (the feed's filter changed) it answers the newest rows, which replace the list."""
    feed_filter = filter_reads.FeedFilter.from_params(request.GET)
    after = request.GET.get("after")
    rows, cursor = session_list.feed(after, full_numbers=_full_numbers(request), where=feed_filter.q())
    context = {"feed_rows": rows, "feed_cursor": cursor, "feed_filter": feed_filter, "replacing": not after}
    return render(request, "dashboard/overview.html#feed-update", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def sessions(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    params = request.GET.copy()
    params.setdefault("range", "24h")  # so the select shows the range the list actually uses
    form, filters = _session_filters(request, params)
    if refused := _number_search_refused(request, filters, via="page"):
        return refused
    # A filter that cannot be read shows its error, never the unfiltered list (dashboard/filters.py).
    page = (
        None
        if form.errors
        else session_list.session_page(filters, full_numbers=_full_numbers(request), cursor=request.GET.get("after"))
    )
    query = request.GET.copy()
    query.pop("after", None)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        # A number search already reads the legs once for the page; it is not counted (bench/pages.py).
        "matching": None
        if form.errors or "number" in filters
        else filter_reads.capped_count(session_list.filter_sessions(filters)),
        "query": query.urlencode(),
        "filtered": bool(set(filters) - {"range", "sort"}),
        "anomaly_labels": rules.ANOMALY_LABELS,
        "webhook_url": _webhook_url(request),
    }
    if not request.htmx:  # the signals and the suggestions sit outside the results partial
        context.update(_signals_over(params.get("range") or "24h"))
        context["sub_accounts"] = filter_reads.known_sub_accounts()
    return _render(request, "dashboard/sessions.html", "results", context)


def _signals_over(range_key: str) -> dict[str, Any]:
    """The product / recording / number signals over the sessions list's time range."""
    key = range_key if range_key in session_list.SESSION_RANGES else "24h"
    now, span = timezone.now(), session_list.SESSION_RANGES[key]
    start = now - span if span else datetime(1970, 1, 1, tzinfo=UTC)
    return {"window": timerange.Window(key, start, now), "signals": product_queries.signals(start, now)}


@require_GET
@login_required
def sessions_csv(request: AuthenticatedHtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    form, filters = _session_filters(request, request.GET)
    if form.errors:
        problems = [f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
        return HttpResponse(
            "\n".join(["Cannot export: fix these filter parameters first.", *problems]) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    if refused := _number_search_refused(request, filters, via="csv"):
        return refused

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines():
        yield writer.writerow(session_list.CSV_HEADER)
        for row in session_list.session_csv_rows(filters, full_numbers=_full_numbers(request)):
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sipdesk-sessions-{stamp}.csv"'
    return response


@require_GET
@login_required
@vary_on_headers("HX-Request")
def session(request: HtmxHttpRequest, session_id: str | None = None, pk: int | None = None) -> HttpResponse:
    """One session by its 8x8 session id, or by primary key (dashboard.links.session_url)."""
    detail = session_reads.session_detail(session_id, pk=pk, full_numbers=_full_numbers(request))
    if detail is None:
        raise Http404("No such session")
    # Escaped: a session id may hold '?', '#' or '%', which the decoded request.path keeps as they are.
    context = {
        "d": detail,
        "s": detail.session,
        "permalink": request.build_absolute_uri(escape_uri_path(request.path)),
        "can_add_rule": request.user.has_perm("products.add_productrule"),
        "add_rule_url": product_queries.add_rule_url(detail.session.sub_account_id),
    }
    return _render(request, "dashboard/session_detail.html", "session-body", context)


SPLIT_TITLES = {"direction": "Direction", "destination_country": "Destination country", "sub_account_id": "Sub-account"}


@require_GET
@login_required
@vary_on_headers("HX-Request")
def codes(request: HtmxHttpRequest) -> HttpResponse:
    window, window_ui = _window(request)
    focus = request.GET.get("code", "").strip()[:32] or None
    known, unknown, total = code_reads.code_breakdown(window)
    css = {"1xx": "c1", "2xx": "c2", "3xx": "c3", "4xx": "c4", "5xx": "c5", "6xx": "c6"}
    top = sorted(known + unknown, key=lambda line: -line.count)[:20]
    sessions_url = reverse("dashboard:sessions")
    context = {
        **window_ui,
        "known": known,
        "unknown": unknown,
        "total": total,
        "focus": focus,
        "chart": charts.bar_chart(
            [(line.code, line.count, css.get(line.sip_class, "cx")) for line in top],
            # Each bar opens the sessions whose final code it is, over the same window.
            link=lambda code: f"{sessions_url}?sip_code={code}&{window.sessions_query}" if code.isdigit() else "",
        ),
        "splits": [(SPLIT_TITLES[k], k, rows) for k, rows in code_reads.code_splits(window, focus).items()],
        # Checked here, not only in the template: the link is for reference admins.
        "extra_query": f"&code={quote(focus)}" if focus else "",
        "can_add_code": request.user.has_perm("reference.add_sipcode"),
        "webhook_url": _webhook_url(request),
    }
    return _render(request, "dashboard/codes.html", "codes-body", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def troubleshooting(request: HtmxHttpRequest) -> HttpResponse:
    window, window_ui = _window(request)
    context = {**window_ui, **reference_reads.troubleshooting(window)}
    return _render(request, "dashboard/troubleshooting.html", "troubleshooting-body", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def reference(request: HtmxHttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    user = request.user
    context = {
        "q": q,
        **reference_reads.reference(q),
        # Edit links only for users who may edit; decided here so a template slip cannot leak them.
        "can_edit": {
            "code": user.has_perm("reference.change_sipcode"),
            "class": user.has_perm("reference.change_sipclass"),
            "status": user.has_perm("reference.change_sessionstatus"),
            "leg_status": user.has_perm("reference.change_legstatus"),
            "error": user.has_perm("reference.change_voiceerrorcode"),
        },
    }
    return _render(request, "dashboard/reference.html", "reference-results", context)


@require_GET
@never_cache
def healthz(request: HtmxHttpRequest) -> JsonResponse:
    """Liveness for load balancers: database and broker reachable, and a queue that moves (503 when
    the oldest pending event has waited past SIPDESK_PENDING_AGE_LIMIT_SECONDS)."""
    db_ok, db_detail = health_reads.database_ok()
    broker_ok, broker_detail = _broker_ok()
    body: dict[str, Any] = {
        "status": "unavailable",
        "database": db_detail,
        "broker": broker_detail,
    }
    queue_ok = True
    if db_ok:
        backlog = health_reads.pending_backlog()
        body.update(backlog)
        # A stuck queue (issue 9): events are stored but nothing gets classified.
        queue_ok = backlog["oldest_pending_age_seconds"] <= backlog["pending_age_limit_seconds"]
        body["queue"] = "ok" if queue_ok else "stuck: the oldest pending event is older than the limit"
        # A warning, not a 503: a load balancer must not take a working receiver out for it.
        body["disk_warnings"] = disk.warnings()
    healthy = db_ok and broker_ok and queue_ok
    body["status"] = "ok" if healthy else "unavailable"
    return JsonResponse(body, status=200 if healthy else 503)


def _broker_ok() -> tuple[bool, str]:
    from kombu import Connection

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return True, "not used (tasks run in-process)"

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=1, transport_options={"max_retries": 0}) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:  # any failure means "not reachable" for a health probe
        return False, type(exc).__name__


@require_GET
@never_cache
def metrics(request: HtmxHttpRequest) -> HttpResponse:
    """Prometheus text format (config/metrics.py). Open by default; set SIPDESK_METRICS_TOKEN to
    require a bearer token."""
    token = settings.SIPDESK_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes
