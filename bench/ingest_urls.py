"""The product's URLs plus /bench/bare/: a view that only parses JSON (the baseline for the ratio)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as product_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    json.loads(request.body)
    return HttpResponse('{"status": "ok"}', content_type="application/json")


urlpatterns = [path("bench/bare/", bare), *product_urlpatterns]
