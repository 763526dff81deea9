"""Charts drawn on the server as SVG: no chart library, no script, nothing loaded at run time.

A chart is an <svg role="img"> with a <title> and <desc> (screen readers read those) inside a <figure>;
pages put the same figures in a table beside it (<details>) for whoever would rather read. Colours come
from the stylesheet's classes (.chart-series-0 ... -3; CSP forbids inline styles); each series also has
its own dash pattern so colour is never the only difference. Values are plain numbers: pass money as
minor units and a `label` function that formats them (render.money).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 40
_DASHES = ("", "6 3", "2 3", "8 3 2 3")


@dataclass(frozen=True, slots=True)
class Series:
    """A named series of (x label, value) points, in x order."""

    name: str
    points: Sequence[tuple[str, float]]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _frame(title: str, desc: str, top: float, label: Callable[[float], str], xs: Sequence[str]) -> list[str]:
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    uid = "chart-" + hashlib.sha256(title.encode()).hexdigest()[:10]  # ids unique per page, by title
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    for i in range(5):
        y = _TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="chart-grid" x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label(top * i / 4))}</text>"
        )
    every = max(1, len(xs) // 8)
    for i, x in enumerate(xs):
        if i % every == 0:
            cx = _LEFT + plot_w * (i + 0.5) / len(xs)
            parts.append(
                f'<text class="chart-axis" x="{cx:.1f}" y="{HEIGHT - _BOTTOM + 18}" text-anchor="middle">'
                f"{escape(x)}</text>"
            )
    return parts


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="chart-key chart-series-{i % 4}" aria-hidden="true"></span>{escape(s.name)}</li>'
        for i, s in enumerate(series)
    )
    return f'<ul class="chart-legend">{items}</ul>'


def _x_labels(series: Sequence[Series]) -> list[str]:
    xs: list[str] = []
    for s in series:
        for x, _ in s.points:
            if x not in xs:
                xs.append(x)
    return xs


def line_chart(
    title: str, series: Sequence[Series], label: Callable[[float], str] = lambda v: f"{v:g}"
) -> Markup:
    """Lines over shared x labels (days, hours): sales over time, stock burn-down, latency."""
    xs = _x_labels(series)
    top = _nice_max(max((v for s in series for _, v in s.points), default=0))
    desc = "; ".join(
        f"{s.name}: " + ", ".join(f"{x} {label(v)}" for x, v in s.points) for s in series
    )
    parts = _frame(title, desc, top, label, xs)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    for i, s in enumerate(series):
        at = {x: v for x, v in s.points}
        coords = [
            f"{_LEFT + plot_w * (j + 0.5) / len(xs):.1f},{_TOP + plot_h - plot_h * at[x] / top:.1f}"
            for j, x in enumerate(xs) if x in at
        ]
        dash = f' stroke-dasharray="{_DASHES[i % 4]}"' if _DASHES[i % 4] else ""
        parts.append(f'<polyline class="chart-line chart-series-{i % 4}" points="{" ".join(coords)}"{dash}/>')
        # A dot per point: a series of one point (a single day) is still seen.
        for c in coords:
            cx, cy = c.split(",")
            parts.append(f'<circle class="chart-dot chart-series-{i % 4}" cx="{cx}" cy="{cy}" r="3.5"/>')
    parts.append("</svg>")
    return Markup(f'<figure class="chart-figure">{"".join(parts)}{_legend(series)}</figure>')


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], label: Callable[[float], str] = lambda v: f"{v:g}"
) -> Markup:
    """One bar per label (a product, a channel, a day)."""
    xs = [x for x, _ in bars]
    top = _nice_max(max((v for _, v in bars), default=0))
    desc = ", ".join(f"{x} {label(v)}" for x, v in bars)
    parts = _frame(title, desc, top, label, xs)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(1, len(xs))
    for j, (x, v) in enumerate(bars):
        h = plot_h * max(v, 0) / top
        parts.append(
            f'<rect class="chart-bar chart-series-0" x="{_LEFT + slot * j + slot * 0.15:.1f}" '
            f'y="{_TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}">'
            f"<title>{escape(x)}: {escape(label(v))}</title></rect>"
        )
    parts.append("</svg>")
    return Markup(f'<figure class="chart-figure">{"".join(parts)}</figure>')
