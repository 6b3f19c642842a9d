"""The viewer's time zone and the window a page shows ("last 1 h" or an absolute start/end).

``Window`` is what every windowed read takes (dashboard/reads/, dashboard/kpis.py; the models'
``in_window`` and ``started_in`` need only its start and end); its query strings and its label
are how pages link to and name it.

The zone comes from the browser: static/js/localtime.js stores
``Intl.DateTimeFormat().resolvedOptions().timeZone`` in the ``sipdesk_tz`` cookie, and
``ViewerTimezoneMiddleware`` activates it, so times a person types are read in their zone and
times shown (and chart axes) are in it too. Until the cookie exists (the very first page), UTC.
Links always carry UTC ("…Z"), so a copied link means the same instant for everyone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from classify import rollups

TZ_COOKIE = "sipdesk_tz"
LONGEST_WINDOW = timedelta(days=400)
# Absolute ranges must fall inside these: a page also reads the window before and the week
# before, and steps through its chart's bars, none of which may leave the calendar (a range in
# year 1 or 9999 raised OverflowError deep in a page: a 500).
EARLIEST_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)

# --- the window a page shows ------------------------------------------------------------------

WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_WINDOW = "1h"
CUSTOM_WINDOW = "custom"  # an absolute start/end rather than "last …"


@dataclass(frozen=True)
class Window:
    key: str
    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def is_custom(self) -> bool:
        return self.key == CUSTOM_WINDOW

    def previous(self) -> Window:
        return Window(self.key, self.start - self.span, self.start)

    def week_earlier(self) -> Window:
        """The same window one week before: the baseline for "up, but so is traffic"."""
        return Window(self.key, self.start - timedelta(days=7), self.end - timedelta(days=7))

    def frozen(self) -> Window:
        return Window(CUSTOM_WINDOW, self.start, self.end)

    # Cached: a page asks for them many times (links, the window picker, polling URLs).
    @cached_property
    def query(self) -> str:
        """The page's own query string for this window: "window=1h", or the absolute range."""
        if not self.is_custom:
            return f"window={self.key}"
        return f"start={_stamp(self.start)}&end={_stamp(self.end)}"

    @property
    def label(self) -> str:
        """For "… in {label}": "the last 1h", or "the chosen range"."""
        return "the chosen range" if self.is_custom else f"the last {self.key}"

    @cached_property
    def sessions_query(self) -> str:
        """The sessions list's query string for the same sessions."""
        if not self.is_custom:
            return f"range={self.key}"
        return f"start={_stamp(self.start)}&end={_stamp(self.end)}"


def _stamp(moment: datetime) -> str:
    """UTC, whole seconds, "Z": safe in a URL without escaping and read back by every parser."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_for(key: str, now: datetime | None = None) -> Window:
    key = key if key in WINDOWS else DEFAULT_WINDOW
    end = now or timezone.now()
    return Window(key, end - WINDOWS[key], end)


# --- the viewer's zone --------------------------------------------------------------------------


def viewer_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    name = request.COOKIES.get(TZ_COOKIE, "")
    # IANA names are short ASCII like "Asia/Singapore"; anything else is ignored, never an error.
    if not name or len(name) > 64 or not name.isascii() or ".." in name or name.startswith("/"):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request)
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


def parse_moment(value: str | None) -> datetime | None:
    """An ISO time; without an offset it is in the viewer's zone. None when unreadable."""
    if not value or len(value) > 40:
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment, timezone.get_current_timezone())
        except (ValueError, OverflowError):
            return None
    return moment


def window_from(params: Any, *, now: datetime | None = None) -> tuple[Window, str]:
    """The page's window from its query (``window=1h`` or ``start``/``end``) and an error to show
    beside the range inputs ("" when none). A bad range falls back to the relative window.

    Absolute ranges older than the minute buckets are widened to whole hours, so what the page
    states is what the hour rollups count."""
    now = now or timezone.now()
    relative = window_for(params.get("window", DEFAULT_WINDOW), now)
    raw_start, raw_end = params.get("start", ""), params.get("end", "")
    if not raw_start and not raw_end:
        return relative, ""
    start = parse_moment(raw_start) if raw_start else relative.start
    end = parse_moment(raw_end) if raw_end else now
    if start is None or end is None:
        return relative, "Start and end must be dates and times, e.g. 2026-12-01 14:30."
    if start >= end:
        return relative, "Start must be before end."
    if start < EARLIEST_MOMENT or end > LATEST_MOMENT:
        return relative, f"A range must fall between {EARLIEST_MOMENT:%Y-%m-%d} and {LATEST_MOMENT:%Y-%m-%d}."
    if end - start > LONGEST_WINDOW:
        return relative, f"A range can span at most {LONGEST_WINDOW.days} days."
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start < now - rollups.MINUTE_READS_WITHIN:
        start = start.replace(minute=0, second=0, microsecond=0)
        if end.minute or end.second or end.microsecond:
            end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Window(CUSTOM_WINDOW, start, end), ""


def window_context(window: Window, error: str) -> dict[str, Any]:
    """What the shared window picker (templates/dashboard/_window.html) shows."""
    return {
        "window": window,
        "windows": list(WINDOWS),
        "window_error": error,
        "start_input": local_input(window.start),
        "end_input": local_input(window.end),
        "zone_name": zone_name(),
        # "Copy link" freezes "last 15 min" into the absolute range it shows now.
        "frozen_query": window.frozen().query,
    }


def local_input(moment: datetime) -> str:
    """A ``datetime-local`` input's value in the viewer's zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def zone_name() -> str:
    return timezone.get_current_timezone_name()
