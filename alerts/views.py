"""Alert pages: the rules with their state, the history, editing (``alerts.manage_alerts``), the banner.

Views stay thin: the reads are ``alerts.queries``; htmx requests get the page's partial.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from alerts import notify, queries
from alerts.forms import AlertRuleForm, ChannelForm
from alerts.models import AlertRule, Channel
from config.http import HtmxHttpRequest

MANAGE_PERM = "alerts.manage_alerts"


def _require_manage(request: HttpRequest) -> None:
    if not request.user.has_perm(MANAGE_PERM):
        raise PermissionDenied("Editing alerts needs the “Can edit alert rules and channels” permission.")


@require_GET
@login_required
@vary_on_headers("HX-Request")
def index(request: HtmxHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "rules": queries.rule_rows(),
        "history": queries.history(),
        "channels": Channel.objects.all(),
        "can_manage": request.user.has_perm(MANAGE_PERM),
    }
    name = "alerts/index.html#alerts-body" if request.htmx and not request.htmx.boosted else "alerts/index.html"
    return render(request, name, context)


@require_GET
@login_required
@never_cache
def banner(request: HttpRequest) -> HttpResponse:
    """The firing alerts, for the banner every page polls (templates/base.html)."""
    return render(request, "alerts/_banner.html", {"firing": queries.firing()})


@require_http_methods(["GET", "POST"])
@login_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    _require_manage(request)
    rule = get_object_or_404(AlertRule, pk=rule_id) if rule_id else None
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Rule “{saved.name}” saved.")
        return redirect("alerts:index")
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule})


@require_http_methods(["GET", "POST"])
@login_required
def channel_edit(request: HttpRequest, channel_id: int | None = None) -> HttpResponse:
    _require_manage(request)
    channel = get_object_or_404(Channel, pk=channel_id) if channel_id else None
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, f"Channel “{saved.name}” saved.")
        return redirect("alerts:index")
    return render(request, "alerts/channel_form.html", {"form": form, "channel": channel})


@require_POST
@login_required
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    _require_manage(request)
    channel = get_object_or_404(Channel, pk=channel_id)
    notify.send_test(channel)
    messages.info(request, f"Test notification queued for “{channel.name}”; its outcome shows in the history.")
    return redirect("alerts:index")
