"""Server-rendered SVG charts: plain functions from labelled values to markup.

Only presentation attributes (no style attributes), so the page's CSP can forbid
inline styles; every label is escaped."""

from __future__ import annotations

from markupsafe import Markup, escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 150
BAR_WIDTH = 320
COLOURS = ("#1f5fa8", "#2e7d32", "#b26a00", "#8e24aa", "#c62828", "#00796b")


def bars(title: str, values: list[tuple[str, int]]) -> Markup:
    """A horizontal bar chart, one bar per (label, value), the value written beside it."""
    top = max((v for _, v in values), default=0) or 1
    height = len(values) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(values):
        y = GAP + i * (BAR_HEIGHT + GAP)
        w = round(BAR_WIDTH * value / top)
        colour = COLOURS[i % len(COLOURS)]
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end" font-size="13"'
            f' fill="#1a1a1a">{escape(label)}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{w}" height="{BAR_HEIGHT}" fill="{colour}"/>',
            f'<text x="{LABEL_WIDTH + w + 6}" y="{y + 16}" font-size="13" fill="#1a1a1a">'
            f"{value}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(title: str, counts: dict[int, int], x_label: str) -> Markup:
    """Vertical bars for 0, 1, 2, ... (e.g. enterprises by number of meetings)."""
    top = max(counts.values(), default=0) or 1
    n = max(len(counts), 1)
    col = 36
    plot = 140
    width = n * col + 40
    height = plot + 50
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (k, v) in enumerate(sorted(counts.items())):
        h = round(plot * v / top)
        x = 20 + i * col
        parts += [
            f'<rect x="{x}" y="{plot - h + 16}" width="{col - 6}" height="{h}" fill="#1f5fa8"/>',
            f'<text x="{x + (col - 6) / 2}" y="{plot - h + 12}" text-anchor="middle"'
            f' font-size="12" fill="#1a1a1a">{v}</text>',
            f'<text x="{x + (col - 6) / 2}" y="{plot + 32}" text-anchor="middle"'
            f' font-size="12" fill="#1a1a1a">{k}</text>',
        ]
    parts.append(
        f'<text x="{width / 2}" y="{height - 2}" text-anchor="middle" font-size="12"'
        f' fill="#1a1a1a">{escape(x_label)}</text></svg>'
    )
    return Markup("".join(parts))
