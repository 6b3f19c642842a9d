"""Escalation bundle pages: one click from a session, an incident or a sessions filter shows the
text to paste (with a copy button) and links to the .json and .zip. Larger sets than
SIPDESK_BUNDLE_SYNC_LIMIT are built by a Celery task with a progress page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from config.http import AuthenticatedHtmxHttpRequest
from incidents import bundle as b
from incidents import tasks
from incidents.models import BundleJob, BundleJobState, Incident

VIEW_PERM = "classify.view_session"


def _download(request: AuthenticatedHtmxHttpRequest, data: dict[str, Any], stem: str) -> HttpResponse | None:
    fmt = request.GET.get("format", "")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "json":
        response = HttpResponse(b.as_json(data), content_type="application/json; charset=utf-8")
    elif fmt == "zip":
        response = HttpResponse(b.as_zip(data), content_type="application/zip")
    elif fmt == "txt":
        response = HttpResponse(
            b.summary_text(data).encode("utf-8", "surrogatepass"), content_type="text/plain; charset=utf-8"
        )
    else:
        return None
    response["Content-Disposition"] = f'attachment; filename="sipdesk-{stem}-{stamp}.{fmt}"'
    return response


def _page(request: AuthenticatedHtmxHttpRequest, data: dict[str, Any], context: dict[str, Any]) -> HttpResponse:
    params = request.GET.copy()
    params.pop("format", None)
    context.update(
        bundle=data,
        text=b.summary_text(data),
        query=params.urlencode(),
        may_include_numbers=request.user.has_perm(b.FULL_NUMBERS_PERM),
        numbers_included=data["numbers"] == "full",
    )
    return render(request, "incidents/bundle.html", context)


def _asked_numbers(request: AuthenticatedHtmxHttpRequest) -> bool:
    return b.may_include_numbers(request.user, request.GET.get("numbers") == "1")


@require_GET
@login_required
@permission_required(VIEW_PERM, raise_exception=True)
def session_bundle(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    session_id = request.GET.get("session", "")[:64]
    if "\x00" in session_id or not session_id.isprintable():
        raise Http404("No such session")  # PostgreSQL text cannot hold NUL; 8x8 ids are printable
    data = b.build([session_id], full_numbers=_asked_numbers(request), title=f"Session {session_id}")
    if not data["sessions"]:
        raise Http404("No such session")
    return _download(request, data, "session") or _page(
        request, data, {"heading": "Escalation bundle: one session", "session_id": session_id}
    )


@require_GET
@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@permission_required("incidents.view_incident", raise_exception=True)
def incident_bundle(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    limit = settings.SIPDESK_BUNDLE_SYNC_LIMIT
    ids = b.incident_session_ids(incident, limit + 1)
    context: dict[str, Any] = {"heading": f"Escalation bundle: incident #{incident.pk}", "incident": incident}
    if len(ids) > limit:
        context.update(too_many=True, limit=limit, job_query="")
        ids = ids[:limit]
    data = b.build(ids, full_numbers=_asked_numbers(request), incident=incident, title=incident.title)
    return _download(request, data, f"incident-{incident.pk}") or _page(request, data, context)


@require_GET
@login_required
@permission_required(VIEW_PERM, raise_exception=True)
def sessions_bundle(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """The sessions list's filter (same GET parameters) as a bundle."""
    full = request.user.has_perm(b.FULL_NUMBERS_PERM)
    params = request.GET.copy()
    params.setdefault("range", "24h")
    filters = b.filters_for(params, full_numbers=full)
    limit = settings.SIPDESK_BUNDLE_SYNC_LIMIT
    ids = b.filter_session_ids(filters, limit + 1)
    context: dict[str, Any] = {"heading": "Escalation bundle: sessions filter", "filtered": True}
    if len(ids) > limit:
        context.update(too_many=True, limit=limit)
        ids = ids[:limit]
    data = b.build(
        ids, full_numbers=_asked_numbers(request), title="Sessions filter: " + urlencode(sorted(params.items()))
    )
    return _download(request, data, "sessions") or _page(request, data, context)


@require_http_methods(["POST"])
@login_required
@permission_required(VIEW_PERM, raise_exception=True)
def start_job(request: AuthenticatedHtmxHttpRequest) -> HttpResponse:
    """Build the whole set (up to SIPDESK_BUNDLE_MAX_SESSIONS) with a worker."""
    incident = None
    if request.POST.get("incident", "").isdigit():
        if not request.user.has_perm("incidents.view_incident"):
            raise Http404
        incident = get_object_or_404(Incident, pk=int(request.POST["incident"]))
    query = {
        k[:40]: v[:200]
        for k, v in request.POST.dict().items()
        if k not in ("csrfmiddlewaretoken", "incident", "numbers", "format") and "\x00" not in k + v
    }  # only the sessions filter's own fields matter (SessionFilterForm); jsonb refuses NUL
    job = BundleJob.objects.create(
        owner=request.user,
        incident=incident,
        query=query,
        include_numbers=b.may_include_numbers(request.user, request.POST.get("numbers") == "1"),
    )
    tasks.build_bundle.delay(job.pk)
    return redirect("incidents:bundle_job", pk=job.pk)


def _own_job(request: AuthenticatedHtmxHttpRequest, pk: int) -> BundleJob:
    job = get_object_or_404(BundleJob.objects.defer("result"), pk=pk)
    if job.owner_id != request.user.pk:
        raise Http404("No such bundle")  # the bundle may hold numbers the asker may not see
    return job


@require_GET
@login_required
@never_cache
def bundle_job(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    job = _own_job(request, pk)
    name = "incidents/bundle_job.html#job-status" if request.htmx else "incidents/bundle_job.html"
    return render(request, name, {"job": job, "States": BundleJobState})


@require_GET
@login_required
def bundle_job_download(request: AuthenticatedHtmxHttpRequest, pk: int) -> HttpResponse:
    job = _own_job(request, pk)
    if job.state != BundleJobState.DONE:
        return redirect("incidents:bundle_job", pk=job.pk)
    data = BundleJob.objects.filter(pk=job.pk).values_list("result", flat=True).get()
    if data is None:  # done jobs always have one; never serve an empty archive
        raise Http404
    response = HttpResponse(bytes(data), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="sipdesk-bundle-{job.pk}.zip"'
    return response
