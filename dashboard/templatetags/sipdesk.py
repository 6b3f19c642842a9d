"""Small presentation helpers: UTC <time> elements, badges, durations."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def utc(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> SafeString | str:
    """A <time> in the viewer's zone (dashboard.timerange), UTC on hover; static/js/localtime.js
    rewrites the text in the browser's zone on pages rendered before the zone was known."""
    if moment is None:
        return "—"
    in_utc, local = moment.astimezone(UTC), timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        iso_ms(in_utc),
        in_utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime(fmt),
        local.tzname(),
    )


def iso_ms(moment: datetime) -> str:
    """A valid HTML datetime in UTC: at most three fraction digits (milliseconds), "Z"."""
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


@register.filter
def pct(rate) -> str:
    """A dashboard.kpis Rate as "97.5%", or "–" when there is nothing to divide by."""
    return "–" if rate.pct is None else f"{rate.pct}%"


@register.filter
def outcome_badge(group: str) -> str:
    return f"badge badge-{group or 'unknown'}"


@register.filter
def sip_badge(sip_class: str) -> str:
    return f"badge sip-{(sip_class or 'none').replace('xx', '')}"


@register.filter
def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@register.filter
def signed(value: float | None, unit: str = "%") -> str:
    if value is None:
        return "new" if unit == "%" else "—"
    return f"{value:+.1f}{' pp' if unit == 'pp' else '%'}"


@register.filter
def change_tone(value: float | None) -> str:
    if not value:
        return "flat"
    return "up" if value > 0 else "down"


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key, key)
