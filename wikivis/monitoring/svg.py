"""Small server-rendered SVG charts for the monitoring page (no JavaScript, no CDN).

Three shapes cover the page: stacked vertical bars (stage durations per run, gate outcomes
per run), lines with an optional dashed ceiling (fetch throughput against the policy limit,
index recall against its threshold, index size), and a time line of markers per row
(dataset freshness against the dump and EventStreams positions).

Every chart is one ``<svg class="chart" id=...>`` element whose data marks carry
``class="mark"`` and a ``<title>`` (the browser's tooltip), so tests can count what was
drawn.  All text goes through :func:`html.escape`.  Empty data renders a one-line note
instead of an empty frame.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

#: colour-blind-safe palette (Okabe-Ito), cycled for series without a fixed colour
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
           "#999999", "#882255", "#44aa99", "#117733")
OUTCOME_COLOURS = {"pass": "#00a32a", "warn": "#dba617", "fail": "#d63638"}

_W, _H = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 150, 28, 78


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def colour_for(names: Sequence[str], fixed: Mapping[str, str] | None = None) -> dict[str, str]:
    fixed = fixed or {}
    out: dict[str, str] = {}
    free = iter(PALETTE * (1 + len(names) // len(PALETTE)))
    for name in names:
        out[name] = fixed.get(name) or next(free)
    return out


def empty(chart_id: str, title: str, note: str) -> str:
    return (f'<figure class="chart-box"><figcaption>{_e(title)}</figcaption>'
            f'<p class="empty" id="{_e(chart_id)}">{_e(note)}</p></figure>')


def _frame(chart_id: str, title: str, body: list[str], *, width: int = _W, height: int = _H) -> str:
    return (f'<figure class="chart-box"><figcaption>{_e(title)}</figcaption>'
            f'<svg class="chart" id="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="{_e(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            + "".join(body) + "</svg></figure>")


def _y_axis(ticks: list[float], y_of: Callable[[float], float], unit: str, width: int) -> list[str]:
    out = []
    for t in ticks:
        y = y_of(t)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_num(t))}</text>')
    out.append(f'<text class="unit" x="{_LEFT - 6}" y="{_TOP - 12}" text-anchor="end">{_e(unit)}</text>')
    return out


def _legend(colours: Mapping[str, str], width: int, *, dashed: Sequence[str] = ()) -> list[str]:
    out = []
    x = width - _RIGHT + 14
    for i, (name, colour) in enumerate(colours.items()):
        y = _TOP + 4 + i * 17
        if name in dashed:
            out.append(f'<line x1="{x}" x2="{x + 12}" y1="{y + 5}" y2="{y + 5}" stroke="{colour}" '
                       'stroke-width="2" stroke-dasharray="4 3"/>')
        else:
            out.append(f'<rect x="{x}" y="{y}" width="12" height="10" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{x + 17}" y="{y + 9}">{_e(name)}</text>')
    return out


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float], height: int) -> list[str]:
    out = []
    every = max(1, math.ceil(len(labels) / 12))
    for i, label in enumerate(labels):
        if i % every and i != len(labels) - 1:
            continue
        x = x_of(i)
        out.append(f'<text class="tick" x="{x:.1f}" y="{height - _BOTTOM + 14}" text-anchor="end" '
                   f'transform="rotate(-30 {x:.1f} {height - _BOTTOM + 14})">{_e(label)}</text>')
    return out


def stacked_bars(chart_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *,
                 unit: str = "", colours: Mapping[str, str] | None = None, width: int = _W, height: int = _H,
                 hints: Sequence[str] | None = None) -> str:
    """Vertical bars, one per label (oldest left), stacked by series (drawn in series order)."""
    if not labels or not series:
        return empty(chart_id, title, "nothing recorded yet")
    names = list(series)
    palette = colour_for(names, colours)
    totals = [sum(float(series[n][i] or 0) for n in names) for i in range(len(labels))]
    ticks = nice_ticks(max(totals) if totals else 1.0)
    top = ticks[-1] or 1.0
    plot_h = height - _TOP - _BOTTOM
    plot_w = width - _LEFT - _RIGHT
    slot = plot_w / len(labels)
    bar_w = max(2.0, min(40.0, slot * 0.7))

    def y_of(v: float) -> float:
        return _TOP + plot_h * (1 - v / top)

    def x_of(i: int) -> float:
        return _LEFT + slot * (i + 0.5)

    body = _y_axis(ticks, y_of, unit, width)
    for i, label in enumerate(labels):
        base = 0.0
        for name in names:
            value = float(series[name][i] or 0)
            if value <= 0:
                continue
            y0, y1 = y_of(base), y_of(base + value)
            hint = f" ({hints[i]})" if hints and hints[i] else ""
            body.append(
                f'<rect class="mark" data-series="{_e(name)}" x="{x_of(i) - bar_w / 2:.1f}" y="{y1:.1f}" '
                f'width="{bar_w:.1f}" height="{max(0.5, y0 - y1):.1f}" fill="{palette[name]}">'
                f"<title>{_e(label)}{_e(hint)}: {_e(name)} {_e(_num(value))} {_e(unit)}</title></rect>"
            )
            base += value
    body.append(f'<line class="axis" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y_of(0):.1f}" y2="{y_of(0):.1f}"/>')
    body += _x_labels(labels, x_of, height)
    body += _legend(palette, width)
    return _frame(chart_id, title, body, width=width, height=height)


def lines(chart_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *,
          unit: str = "", ceiling: float | None = None, ceiling_label: str = "limit", y_min: float = 0.0,
          width: int = _W, height: int = _H) -> str:
    """Lines with points, one x position per label (oldest left); ``ceiling`` is a dashed limit."""
    values = [float(v) for s in series.values() for v in s if v is not None]
    if not labels or not values:
        return empty(chart_id, title, "nothing recorded yet")
    palette = colour_for(list(series))
    peak = max(values + ([ceiling] if ceiling is not None else []))
    ticks = [y_min + t for t in nice_ticks(peak - y_min)]
    top = ticks[-1] if ticks[-1] > y_min else y_min + 1
    plot_h = height - _TOP - _BOTTOM
    plot_w = width - _LEFT - _RIGHT
    slot = plot_w / len(labels)

    def y_of(v: float) -> float:
        return _TOP + plot_h * (1 - (v - y_min) / (top - y_min))

    def x_of(i: int) -> float:
        return _LEFT + slot * (i + 0.5)

    body = _y_axis(ticks, y_of, unit, width)
    legend = dict(palette)
    if ceiling is not None:
        y = y_of(ceiling)
        body.append(f'<line class="ceiling" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#d63638" stroke-width="2" stroke-dasharray="6 4"><title>{_e(ceiling_label)}: '
                    f"{_e(_num(ceiling))} {_e(unit)}</title></line>")
        legend[ceiling_label] = "#d63638"
    for name, points in series.items():
        coords = [(x_of(i), y_of(float(v)), label, float(v))
                  for i, (label, v) in enumerate(zip(labels, points, strict=True)) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
            body.append(f'<polyline fill="none" stroke="{palette[name]}" stroke-width="2" points="{path}"/>')
        for x, y, label, v in coords:
            body.append(f'<circle class="mark" data-series="{_e(name)}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                        f'fill="{palette[name]}"><title>{_e(label)}: {_e(name)} {_e(_num(v))} {_e(unit)}</title></circle>')
    body.append(f'<line class="axis" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y_of(y_min):.1f}" y2="{y_of(y_min):.1f}"/>')
    body += _x_labels(labels, x_of, height)
    body += _legend(legend, width, dashed=[ceiling_label] if ceiling is not None else [])
    return _frame(chart_id, title, body, width=width, height=height)


#: marker shapes of :func:`timeline`
TIMELINE_KINDS = {
    "dump": ("#0072b2", "newest dump"),
    "events": ("#e69f00", "events position"),
    "latest": ("#999999", "newest snapshot"),
    "published": ("#009e73", "published"),
}


def timeline(chart_id: str, title: str, rows: Sequence[tuple[str, Mapping[str, datetime | None]]], now: datetime, *,
             width: int = _W) -> str:
    """One row per label, markers at the times of :data:`TIMELINE_KINDS`; the right edge is ``now``.

    The bar from the published marker to ``now`` is the published data's age."""
    times = [t for _, marks in rows for t in marks.values() if t is not None]
    if not rows or not times:
        return empty(chart_id, title, "no dataset written yet")
    start = min(times)
    span = max((now - start).total_seconds(), 3600.0)
    label_w = 190
    row_h = 20
    height = _TOP + row_h * len(rows) + 40
    left, right = label_w, width - _RIGHT

    def x_of(t: datetime) -> float:
        return left + (right - left) * (t - start).total_seconds() / span

    body: list[str] = []
    days = span / 86400
    step_days = next(s for s in (0.25, 0.5, 1, 2, 7, 14, 30, 90, 365, 3650) if days / s <= 8)
    k = 0
    while k * step_days <= days + 1e-9:
        x = right - (right - left) * (k * step_days) / days
        body.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP - 4}" y2="{height - 34}"/>')
        body.append(f'<text class="tick" x="{x:.1f}" y="{height - 20}" text-anchor="middle">'
                    f'{"now" if k == 0 else "-" + _num(k * step_days) + " d"}</text>')
        k += 1
    for i, (label, marks) in enumerate(rows):
        y = _TOP + row_h * i + row_h / 2
        body.append(f'<text class="tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        published = marks.get("published")
        if published is not None:
            age_days = (now - published).total_seconds() / 86400
            body.append(f'<rect class="age" x="{x_of(published):.1f}" y="{y - 3:.1f}" '
                        f'width="{max(0.5, right - x_of(published)):.1f}" height="6" fill="#009e73" opacity="0.25">'
                        f"<title>{_e(label)}: published data is {_e(_num(age_days))} days old</title></rect>")
        for kind, (colour, name) in TIMELINE_KINDS.items():
            when = marks.get(kind)
            if when is None:
                continue
            x = x_of(when)
            tip = f"<title>{_e(label)}: {_e(name)} {_e(when.isoformat(timespec='minutes'))}</title>"
            if kind in ("dump", "events"):
                body.append(f'<rect class="mark" data-series="{kind}" x="{x - 1.5:.1f}" y="{y - 8:.1f}" width="3" '
                            f'height="16" fill="{colour}">{tip}</rect>')
            else:
                r = 5 if kind == "published" else 3.5
                body.append(f'<circle class="mark" data-series="{kind}" cx="{x:.1f}" cy="{y:.1f}" r="{r}" '
                            f'fill="{colour}">{tip}</circle>')
    body += _legend({name: colour for colour, name in TIMELINE_KINDS.values()}, width)
    return _frame(chart_id, title, body, width=width, height=max(height, _TOP + 4 * 17 + 10))
