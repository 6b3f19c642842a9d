"""Read-only pages for the support team. Views parse the request, ask dashboard.queries, render.

htmx requests get only the page's partial ("page.html#part"); the same URL without htmx renders
the whole page, so every state can be shared as a link and works without JavaScript.
"""

from __future__ import annotations

import csv
import hmac
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from audit.number_search import allow_number_search
from config.metrics import exposition as metrics_exposition
from dashboard import charts, queries
from dashboard.forms import SessionFilterForm
from products import queries as product_queries
from retention import disk

FULL_NUMBERS_PERM = "classify.view_full_numbers"
WEBHOOK_PATH = "/webhooks/8x8/"


def _full_numbers(request: HttpRequest) -> bool:
    return request.user.has_perm(FULL_NUMBERS_PERM)


def _session_filters(request: HttpRequest, params: Any) -> tuple[SessionFilterForm, dict[str, Any]]:
    full_numbers = _full_numbers(request)
    form = SessionFilterForm(params, full_numbers=full_numbers)
    # Without the number permission a fragment would let someone confirm masked digits one search
    # at a time, so only a whole number matches.
    filters = form.filters()
    if "number" in filters and not full_numbers:
        filters["number_exact"] = True
    return form, filters


def _number_search_refused(request: HttpRequest, filters: dict[str, Any], *, via: str) -> HttpResponse | None:
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


def _window(request: HttpRequest) -> queries.Window:
    return queries.window_for(request.GET.get("window", queries.DEFAULT_WINDOW))


def _render(request: HttpRequest, template: str, partial: str, context: dict[str, Any]) -> HttpResponse:
    name = f"{template}#{partial}" if request.htmx and not request.htmx.boosted else template
    return render(request, name, context)


def _webhook_url(request: HttpRequest) -> str:
    return settings.SIPDESK_WEBHOOK_PUBLIC_URL or request.build_absolute_uri(WEBHOOK_PATH)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def overview(request: HttpRequest) -> HttpResponse:
    window = _window(request)
    # The feed sits outside the htmx partial (it polls on its own), so a partial skips it.
    rows, cursor = ([], None) if request.htmx else queries.feed(None, full_numbers=_full_numbers(request))
    context = {
        "window": window,
        "windows": list(queries.WINDOWS),
        "tiles": queries.overview_tiles(window),
        "chart": charts.outcome_chart(queries.outcome_series(window)),
        "series": charts.SERIES,
        "causes": queries.failure_causes(window),
        "health": queries.receiver_health(window),
        "feed_rows": rows,
        "feed_cursor": cursor,
        "webhook_url": _webhook_url(request),
        "signals": product_queries.signals(window.start, window.end),
    }
    return _render(request, "dashboard/overview.html", "overview-body", context)


@require_GET
@login_required
@never_cache
def live_feed(request: HttpRequest) -> HttpResponse:
    """Only the sessions that changed after the cursor; the poller element comes back with a new one."""
    rows, cursor = queries.feed(request.GET.get("after"), full_numbers=_full_numbers(request))
    return render(request, "dashboard/overview.html#feed-update", {"feed_rows": rows, "feed_cursor": cursor})


@require_GET
@login_required
@vary_on_headers("HX-Request")
def sessions(request: HttpRequest) -> HttpResponse:
    params = request.GET.copy()
    params.setdefault("range", "24h")  # so the select shows the range the list actually uses
    form, filters = _session_filters(request, params)
    if refused := _number_search_refused(request, filters, via="page"):
        return refused
    page = queries.session_page(filters, full_numbers=_full_numbers(request), cursor=request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": bool(set(filters) - {"range", "sort"}),
        "anomaly_labels": queries.anomaly_labels(),
        "webhook_url": _webhook_url(request),
    }
    if not request.htmx:  # the signals sit outside the results partial
        context.update(_signals_over(params.get("range") or "24h"))
    return _render(request, "dashboard/sessions.html", "results", context)


def _signals_over(range_key: str) -> dict[str, Any]:
    """The product / recording / number signals over the sessions list's time range."""
    key = range_key if range_key in queries.SESSION_RANGES else "24h"
    now, span = timezone.now(), queries.SESSION_RANGES[key]
    start = now - span if span else datetime(1970, 1, 1, tzinfo=UTC)
    return {"window": queries.Window(key, start, now), "signals": product_queries.signals(start, now)}


@require_GET
@login_required
def sessions_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    _, filters = _session_filters(request, request.GET)
    if refused := _number_search_refused(request, filters, via="csv"):
        return refused

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines():
        yield writer.writerow(queries.CSV_HEADER)
        for row in queries.session_csv_rows(filters, full_numbers=_full_numbers(request)):
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sipdesk-sessions-{stamp}.csv"'
    return response


@require_GET
@login_required
@vary_on_headers("HX-Request")
def session(request: HttpRequest, session_id: str | None = None, pk: int | None = None) -> HttpResponse:
    """One session by its 8x8 session id, or by primary key (dashboard.links.session_url)."""
    detail = queries.session_detail(session_id, pk=pk, full_numbers=_full_numbers(request))
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


@require_GET
@login_required
@vary_on_headers("HX-Request")
def codes(request: HttpRequest) -> HttpResponse:
    window = _window(request)
    focus = request.GET.get("code", "").strip()[:32] or None
    known, unknown, total = queries.code_breakdown(window)
    css = {"1xx": "c1", "2xx": "c2", "3xx": "c3", "4xx": "c4", "5xx": "c5", "6xx": "c6"}
    top = sorted(known + unknown, key=lambda line: -line.count)[:20]
    context = {
        "window": window,
        "windows": list(queries.WINDOWS),
        "known": known,
        "unknown": unknown,
        "total": total,
        "focus": focus,
        "chart": charts.bar_chart([(line.code, line.count, css.get(line.sip_class, "cx")) for line in top]),
        "splits": [(queries.SPLITS[k], k, rows) for k, rows in queries.code_splits(window, focus).items()],
        # Checked here, not only in the template: the link is for reference admins.
        "can_add_code": request.user.has_perm("reference.add_sipcode"),
        "webhook_url": _webhook_url(request),
    }
    return _render(request, "dashboard/codes.html", "codes-body", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def troubleshooting(request: HttpRequest) -> HttpResponse:
    window = _window(request)
    context = {"window": window, "windows": list(queries.WINDOWS), **queries.troubleshooting(window)}
    return _render(request, "dashboard/troubleshooting.html", "troubleshooting-body", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def reference(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    user = request.user
    context = {
        "q": q,
        **queries.reference(q),
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
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: database and broker reachable, and a queue that moves (503 when
    the oldest pending event has waited past SIPDESK_PENDING_AGE_LIMIT_SECONDS)."""
    db_ok, db_detail = queries.database_ok()
    broker_ok, broker_detail = _broker_ok()
    body: dict[str, Any] = {
        "status": "unavailable",
        "database": db_detail,
        "broker": broker_detail,
    }
    queue_ok = True
    if db_ok:
        backlog = queries.pending_backlog()
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
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (config/metrics.py). Open by default; set SIPDESK_METRICS_TOKEN to
    require a bearer token."""
    token = settings.SIPDESK_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # what generate_latest writes
