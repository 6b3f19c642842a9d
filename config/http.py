"""The request types our views see: Django's, plus ``request.htmx`` from django-htmx's middleware.

django-htmx documents this annotation rather than shipping it (its "Type checking" section).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHtmxHttpRequest(HtmxHttpRequest):
    """A request that passed ``login_required``: its user is a real one."""

    user: User
