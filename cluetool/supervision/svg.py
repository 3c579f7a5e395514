"""Small, dependency-free SVG charts for the HTML report: grouped bar charts and line
charts, as standalone ``<svg>`` elements (SVG 1.1, no script, no external reference)
that can be inlined in HTML or written as ``.svg`` files.

Every bar is a ``<rect class="bar">`` and every line a ``<polyline class="line">`` with
``data-series`` / ``data-category`` / ``data-value`` attributes, so that a test (or a
curious reader) can check what was drawn against the numbers. Text is XML-escaped; labels
use a font list with CJK fonts first so that Chinese renders wherever one is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

FONT = "'Noto Sans CJK SC','WenQuanYi Micro Hei','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
PALETTE = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e",
           "#316395")
SVG_NS = "http://www.w3.org/2000/svg"


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    step = 1.0
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _ticks(top: float, n: int = 5) -> list[float]:
    return [top * i / n for i in range(n + 1)]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label={quoteattr(title)} font-family="{FONT}" font-size="12">')
    return "\n".join([head, f"<title>{escape(title)}</title>",
                      f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
                      f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="15" '
                      f'font-weight="bold">{escape(title)}</text>', *body, "</svg>"])


def _axes(left: int, top: int, plot_w: int, plot_h: int, ymax: float) -> list[str]:
    out = []
    for t in _ticks(ymax):
        y = top + plot_h - plot_h * t / ymax
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555555">{_num(t)}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333333"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333333"/>')
    return out


def _legend(series: Sequence[str], x: int, y: int) -> list[str]:
    out = []
    for i, name in enumerate(series):
        yy = y + 18 * i
        out.append(f'<rect x="{x}" y="{yy - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{x + 18}" y="{yy}">{escape(name)}</text>')
    return out


def bar_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
              width: int = 760, height: int = 380) -> str:
    """A grouped bar chart: one group per category, one bar per series in each.

    Raises:
        ValueError: a series whose length is not the number of categories, or a
            negative value.
    """
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
        if any(v < 0 for v in values):
            raise ValueError(f"series {name!r} has a negative value")
    legend_w = 230 if len(series) > 1 else 0
    left, top, bottom = 48, 36, 96
    plot_w, plot_h = width - left - 16 - legend_w, height - top - bottom
    ymax = _nice_max(max([v for _, vs in series for v in vs] or [0]))
    body = _axes(left, top, plot_w, plot_h, ymax)
    group = plot_w / max(len(categories), 1)
    bar_w = group * 0.8 / max(len(series), 1)
    for c, cat in enumerate(categories):
        gx = left + group * c + group * 0.1
        for s, (name, values) in enumerate(series):
            v = values[c]
            h = plot_h * v / ymax
            body.append(f'<rect class="bar" data-series={quoteattr(name)} data-category={quoteattr(cat)} '
                        f'data-value="{_num(v)}" x="{gx + bar_w * s:.1f}" y="{top + plot_h - h:.1f}" '
                        f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                        f'<title>{escape(f"{name} {cat}: {_num(v)}")}</title></rect>')
        lx = left + group * (c + 0.5)
        body.append(f'<text x="{lx:.1f}" y="{top + plot_h + 16}" text-anchor="end" '
                    f'transform="rotate(-30 {lx:.1f} {top + plot_h + 16})">{escape(cat)}</text>')
    if legend_w:
        body += _legend([n for n, _ in series], left + plot_w + 16, top + 10)
    return _frame(width, height, title, body)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
               width: int = 760, height: int = 380) -> str:
    """A line chart: one polyline (with a dot per point) per series over ``x_labels``.

    Raises:
        ValueError: a series whose length is not the number of labels, or a negative value.
    """
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
        if any(v < 0 for v in values):
            raise ValueError(f"series {name!r} has a negative value")
    legend_w = 230 if len(series) > 1 else 0
    left, top, bottom = 48, 36, 96
    plot_w, plot_h = width - left - 16 - legend_w, height - top - bottom
    ymax = _nice_max(max([v for _, vs in series for v in vs] or [0]))
    body = _axes(left, top, plot_w, plot_h, ymax)
    step = plot_w / max(len(x_labels) - 1, 1)
    for s, (name, values) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        pts = [(left + step * i, top + plot_h - plot_h * v / ymax) for i, v in enumerate(values)]
        body.append(f'<polyline class="line" data-series={quoteattr(name)} '
                    f'data-values="{",".join(_num(v) for v in values)}" fill="none" stroke="{color}" '
                    f'stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>')
        for (x, y), v, lab in zip(pts, values, x_labels):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                        f'<title>{escape(f"{name} {lab}: {_num(v)}")}</title></circle>')
    for i, lab in enumerate(x_labels):
        x = left + step * i
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="end" '
                    f'transform="rotate(-30 {x:.1f} {top + plot_h + 16})">{escape(lab)}</text>')
    if legend_w:
        body += _legend([n for n, _ in series], left + plot_w + 16, top + 10)
    return _frame(width, height, title, body)
