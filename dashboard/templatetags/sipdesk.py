"""Small presentation helpers: UTC <time> elements, badges, durations."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from dashboard import links

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


@register.simple_tag
def session_url(session_id: str, pk: int) -> str:
    """``{% session_url r.session_id r.id %}``: see dashboard.links.session_url."""
    return links.session_url(session_id, pk)


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
def change_tone(value: float | None, rising: str = "bad") -> str:
    """The colour of a change by what it means: rising is "bad" (failures), "good" (answered %)
    or "neutral" (volume). Classes: worse (red), better (green), flat (grey)."""
    if not value or rising == "neutral":
        return "flat"
    return "worse" if (value > 0) == (rising == "bad") else "better"


@register.filter
def code_change_tone(value: float | None, sip_class: str) -> str:
    """More of a failure code (3xx-6xx, invalid) is bad; more 1xx/2xx is just more traffic."""
    return change_tone(value, "neutral" if sip_class in ("1xx", "2xx") else "bad")


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key, key)


@register.filter
def field_label(form, name: str) -> str:
    """A form field's label by name ("" for a form-wide error)."""
    field = form.fields.get(name)
    return str(field.label or name) if field else ""


@register.filter
def value_or_blank(mapping: dict, key: str) -> str:
    """mapping[key], or "" when it has none (get_item falls back to the key itself)."""
    return mapping.get(key, "")
