"""A small SVG bar chart of an incident's sessions over time (no script, see dashboard/charts.py)."""

from __future__ import annotations

from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def sessions_chart(bins: list[tuple[datetime, int]], width: int = 600, height: int = 90) -> SafeString:
    if not bins:
        return mark_safe("")
    peak = max(n for _, n in bins) or 1
    plot_h = height - 16
    bar_w = width / len(bins)
    parts = [f'<svg class="chart spark" viewBox="0 0 {width} {height}" role="img" aria-label="Sessions over time">']
    for i, (moment, n) in enumerate(bins):
        h = plot_h * n / peak
        tip = escape(f"{moment:%Y-%m-%d %H:%M} UTC: {n} sessions")
        parts.append(
            f'<g><title>{tip}</title><rect x="{i * bar_w + 1:.1f}" y="{plot_h - h:.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{max(h, 0.5):.1f}" fill="#e03131"/></g>'
        )
    parts.append(f'<text x="0" y="{height - 2}" class="tick">{bins[0][0]:%m-%d %H:%M}</text>')
    parts.append(
        f'<text x="{width}" y="{height - 2}" class="tick" text-anchor="end">{bins[-1][0]:%m-%d %H:%M} UTC</text>'
    )
    parts.append(f'<text x="{width}" y="10" class="tick" text-anchor="end">max {peak}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped or numeric
