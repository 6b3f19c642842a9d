"""The products page: sessions whose product is Unknown (by sub-account, with an add-rule link),
the product rules, and the company's virtual numbers with their latest operational status."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from config.http import HtmxHttpRequest
from dashboard import timerange
from products import queries
from webhooks.masking import show_number

FULL_NUMBERS_PERM = "classify.view_full_numbers"


@require_GET
@login_required
@vary_on_headers("HX-Request")
def products(request: HtmxHttpRequest) -> HttpResponse:
    window = timerange.window_for(request.GET.get("window", timerange.DEFAULT_WINDOW))
    full = request.user.has_perm(FULL_NUMBERS_PERM)
    numbers = queries.virtual_numbers()
    for number in numbers:
        setattr(number, "shown", show_number(number.msisdn, full=full))  # noqa: B010 - a display value, not a field
    context = {
        "window": window,
        "windows": list(timerange.WINDOWS),
        "signals": queries.signals(window.start, window.end),
        "unknown": queries.unknown_by_sub_account(window.start, window.end),
        "rules": queries.rules(),
        "numbers": numbers,
        "can_add_rule": request.user.has_perm("products.add_productrule"),
        "add_rule_url": queries.add_rule_url(),
    }
    name = (
        "products/products.html#products-body"
        if request.htmx and not request.htmx.boosted
        else "products/products.html"
    )
    return render(request, name, context)
