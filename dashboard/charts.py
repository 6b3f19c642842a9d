"""Server-side SVG charts: no JavaScript library, no CDN, readable without scripts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape  # Django's escape gives the same text, through a lazy wrapper per call

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

# Stacking order bottom-up, and the colours the CSS uses for the same groups.
SERIES = [
    ("answered", "Answered", "#2f9e44"),
    ("not_answered", "Not answered", "#f08c00"),
    ("failed", "Failed", "#e03131"),
    ("error", "Error", "#862e9c"),
    ("opt_out", "Opt-out", "#1971c2"),
    ("in_progress", "In progress", "#adb5bd"),
    ("unknown", "Unknown", "#868e96"),
]


# (bin start, outcome group or None for the whole bin) -> URL: the sessions of that bar, or the
# window zoomed to that bin.
ChartLinks = Callable[[datetime, str | None], str]


def outcome_chart(
    bins: list[tuple[datetime, dict[str, int]]],
    width: int = 900,
    height: int = 220,
    link: ChartLinks | None = None,
) -> SafeString:
    """A stacked bar per time bin, one colour per outcome group, with a <title> tooltip per bar.

    Times are in the viewer's zone (the active Django time zone), UTC in the tooltip. With
    ``link``, each coloured segment links to its sessions and the bin's background zooms in."""
    pad_left, pad_bottom, pad_top = 44, 22, 8
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    peak = max((sum(counts.values()) for _, counts in bins), default=0)
    if not bins:
        return mark_safe("")
    top = max(peak, 1)
    bar_w = plot_w / len(bins)
    # With links inside, the chart is a group of links, not an image (an image holds no controls).
    role = "group" if link else "img"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="{role}" aria-label="Sessions per outcome over time">',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 8}" y2="{pad_top + plot_h}" class="axis"/>',
        f'<text x="{pad_left - 6}" y="{pad_top + 10}" class="tick" text-anchor="end">{peak}</text>',
        f'<text x="{pad_left - 6}" y="{pad_top + plot_h}" class="tick" text-anchor="end">0</text>',
    ]
    label_every = max(1, len(bins) // 6)
    for i, (moment, counts) in enumerate(bins):
        x = pad_left + i * bar_w
        y: float = pad_top + plot_h
        local = timezone.localtime(moment)
        when = f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({moment.astimezone(UTC):%H:%M} UTC)"
        tip = escape(
            f"{when}: "
            + (", ".join(f"{label} {counts.get(key, 0)}" for key, label, _ in SERIES if counts.get(key)) or "none")
        )
        parts.append(f"<g><title>{tip}</title>")
        if link:  # the whole bin, behind its bars: click to zoom the window to it
            parts.append(
                f'<a href="{escape(link(moment, None))}" aria-label="Zoom to {escape(when)}">'
                f'<rect x="{x:.1f}" y="{pad_top}" width="{bar_w:.1f}" height="{plot_h}" class="zoom"/></a>'
            )
        for key, label, colour in SERIES:
            n = counts.get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            rect = (
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
            if link:
                rect = (
                    f'<a href="{escape(link(moment, key))}" aria-label="{escape(f"{label}: {n} sessions, {when}")}">'
                    f"<title>{escape(f'{label}: {n} — {when}')}</title>{rect}</a>"
                )
            parts.append(rect)
        parts.append("</g>")
        if i % label_every == 0:
            cx = x + bar_w / 2
            parts.append(f'<text x="{cx:.1f}" y="{height - 6}" class="tick" text-anchor="middle">{local:%H:%M}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or numeric


def bar_chart(
    items: list[tuple[str, int, str]], width: int = 600, row: int = 20, link: Callable[[str], str] | None = None
) -> SafeString:
    """Horizontal bars: (label, value, css class) per row; with ``link``, each bar links to link(label)."""
    if not items:
        return mark_safe("")
    peak = max(v for _, v, _ in items) or 1
    label_w, height = 70, row * len(items) + 4
    role = "group" if link else "img"  # links inside: a group of links, not an image
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="{role}" aria-label="Count per SIP code">']
    for i, (label, value, css) in enumerate(items):
        y = i * row + 2
        w = (width - label_w - 70) * value / peak
        bar = (
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" class="tick" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{max(w, 1):.1f}" height="{row - 4}" class="bar {escape(css)}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + row * 0.7:.1f}" class="tick">{value:,}</text>'
        )
        href = link(label) if link else ""
        if href:
            bar = f'<a href="{escape(href)}" aria-label="{escape(f"{label}: {value:,} sessions")}">{bar}</a>'
        parts.append(bar)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or numeric
