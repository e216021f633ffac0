"""Small server-side SVG charts for the report pages (no JavaScript library). Pure.

Numbers are drawn as bars (stacked: answered, abandoned) with an optional line on a second scale
(service level 0-100 %); every bar carries a <title> so a pointer shows its figures, and the chart
has a text alternative for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 900, 220, 44, 28, 12


@dataclass(frozen=True)
class Point:
    label: str  # shown under the bar (every few bars)
    answered: int
    abandoned: int
    level: float | None = None  # 0..1, the line
    title: str = ""  # shown on hover
    diverted: int = 0  # sent to the fallback at the maximum wait, stacked on top


def volume_chart(points: Sequence[Point], description: str) -> str:
    """Stacked bars of answered, abandoned and diverted calls, and the service level as a line."""
    if not points:
        return ""
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    highest = max(1, max(p.answered + p.abandoned + p.diverted for p in points))
    scale = _nice(highest)
    step = plot_w / len(points)
    bar = max(1.0, step * 0.7)
    parts = _frame(scale, description)
    every = max(1, len(points) // 12)
    line = []
    for i, p in enumerate(points):
        x = LEFT + i * step + (step - bar) / 2
        h_ans = plot_h * p.answered / scale
        h_ab = plot_h * p.abandoned / scale
        h_div = plot_h * p.diverted / scale
        base = TOP + plot_h
        title = escape(p.title or f"{p.label}: {p.answered} + {p.abandoned}")
        parts.append(
            f"<g><title>{title}</title>"
            f'<rect x="{x:.1f}" y="{base - h_ans:.1f}" width="{bar:.1f}" height="{h_ans:.1f}" '
            'class="answered"/>'
            f'<rect x="{x:.1f}" y="{base - h_ans - h_ab:.1f}" width="{bar:.1f}" height="{h_ab:.1f}" '
            'class="abandoned"/>'
            + (
                f'<rect x="{x:.1f}" y="{base - h_ans - h_ab - h_div:.1f}" width="{bar:.1f}" '
                f'height="{h_div:.1f}" class="diverted"/>'
                if p.diverted
                else ""
            )
            + "</g>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">'
                f"{escape(p.label)}</text>"
            )
        if p.level is not None:
            line.append(f"{x + bar / 2:.1f},{TOP + plot_h * (1 - p.level):.1f}")
    if len(line) > 1:
        parts.append(f'<polyline points="{" ".join(line)}" class="level"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float, str]], description: str, css: str = "answered") -> str:
    """One series of bars: (label under the bar, value, title on hover); labels every few bars."""
    if not bars:
        return ""
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    scale = _nice(max(1.0, max(value for _label, value, _title in bars)))
    step = plot_w / len(bars)
    width = max(1.0, step * 0.8)
    parts = _frame(scale, description)
    every = max(1, len(bars) // 7)
    for i, (label, value, title) in enumerate(bars):
        x = LEFT + i * step + (step - width) / 2
        height = plot_h * value / scale
        parts.append(
            f'<g><title>{escape(title)}</title><rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
            f'width="{width:.1f}" height="{height:.1f}" class="{css}"/></g>'
        )
        if label and i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="axis">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _frame(scale: float, description: str) -> list[str]:
    """The opening of a chart: its text alternative and the grid with its values up to ``scale``."""
    plot_h = HEIGHT - BOTTOM - TOP
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(description)}" class="chart">',
        f"<title>{escape(description)}</title>",
    ]
    for value in _ticks(scale):
        y = TOP + plot_h - plot_h * value / scale
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value:g}</text>')
    return parts


def _ticks(scale: float) -> list[float]:
    """Grid values from 0 to the top: quarters, or whole numbers for small counts."""
    step = scale / 4 if scale >= 8 or scale % 4 == 0 else (1 if scale <= 5 else 2)
    return [step * tick for tick in range(int(scale // step) + 1)]


def _nice(value: float) -> float:
    """A round top for the scale: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    magnitude = float(10 ** (len(str(int(value))) - 1))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10.0 * magnitude
