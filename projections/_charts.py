"""The oversight report's charts: Vega-Lite specs rendered to self-contained inline SVG.

Each function takes rows the report's queries already computed and returns a
Vega-Lite spec (a plain dict, data inline). ``render`` turns a spec into SVG with
``vl_convert`` (Vega-Lite in an embedded JavaScript runtime, no browser), refuses
to load anything from outside (``allowed_base_urls=[]``), gives the SVG's ids a
per-chart prefix so several charts can share one HTML page, and checks that the
result references nothing external: the report must open with no network.

Text from the ledger (model ids, codes) reaches the SVG only through Vega's own
escaping; the caller makes invisible characters visible first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import vl_convert

__all__ = [
    "FONT",
    "ChartError",
    "confidence_heatmap",
    "grouped_rates",
    "ordered_bars",
    "render",
    "stacked_bars",
]

#: The page's font; the charts use the same so they read as one document.
FONT: Final = "Liberation Sans, Arial, Helvetica, sans-serif"

_SCHEMA: Final = "https://vega.github.io/schema/vega-lite/v5.json"
_WIDTH: Final = 760
_CONFIG: Final[Mapping[str, Any]] = {
    "font": FONT,
    "background": "white",
    "view": {"stroke": None},
    "axis": {
        "labelFontSize": 11,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
        "labelColor": "#222",
        "titleColor": "#222",
        "gridColor": "#e4e4e4",
        "domainColor": "#888",
        "tickColor": "#888",
    },
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal"},
    "title": {"fontSize": 13, "fontWeight": "bold", "anchor": "start", "color": "#111"},
}
_BAR_COLOR: Final = "#4c78a8"
_ROTATE_LABELS_FROM: Final = 17  # bins: past this many, horizontal time labels overlap
_FEW: Final = 8  # a count axis up to this gets one tick per integer
_THRESHOLD_COLOR: Final = "#d62728"


class ChartError(RuntimeError):
    """
    A chart's SVG would reference something outside the report.
    """


def render(spec: Mapping[str, Any], prefix: str) -> str:
    """
    The spec as an ``<svg>`` element to paste into HTML, ids prefixed with ``prefix``.
    """
    svg = vl_convert.vegalite_to_svg(dict(spec), config=dict(_CONFIG), allowed_base_urls=[])
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    # Inline SVGs share the page's id namespace: two charts' "clip1" would collide. And the
    # renderer numbers some ids (gradients) per process, not per chart, so the same report
    # made twice in one process would differ: ids are renumbered in order of appearance.
    found = dict.fromkeys(re.findall(r'\bid="([^"]+)"', svg))
    names = {old: f"{prefix}-{n}" for n, old in enumerate(found)}

    def renamed(old: str) -> str:
        return names.get(old, f"{prefix}-{old}")

    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{renamed(m[1])}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{renamed(m[1])})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{renamed(m[1])}"', svg)
    _check_self_contained(svg)
    return svg


_EXTERNAL: Final = (
    re.compile(r"""(?:xlink:)?href\s*=\s*["'](?!#)""", re.IGNORECASE),
    re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE),
    re.compile(r"@import|@font-face|<image\b|<script\b|<foreignObject\b|<iframe\b", re.IGNORECASE),
)


def _check_self_contained(svg: str) -> None:
    for pattern in _EXTERNAL:
        found = pattern.search(svg)
        if found is not None:
            msg = f"a chart would reference something outside the report: {found.group(0)!r}"
            raise ChartError(msg)


def _count_axis(heights: Sequence[float]) -> dict[str, Any]:
    # Counts have no halves: small scales get explicit integer ticks (Vega's own would be
    # 0, 0.5, 1), larger ones integer labels.
    top = int(max(heights, default=0))
    if top < _FEW:
        return {"values": list(range(top + 1)), "format": "d"}
    return {"format": ",d"}


def _base(title: str, values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"$schema": _SCHEMA, "title": title, "data": {"values": [dict(v) for v in values]}}


def _ordered_x(labels: Sequence[tuple[Any, str]], title: str | None) -> dict[str, Any]:
    """
    An x axis of ``label`` values in the order of ``labels`` ((order, label) pairs), turned
    when there are too many to sit side by side.
    """
    return {
        "field": "label",
        "type": "ordinal",
        "title": title,
        "sort": [label for _, label in labels],
        "axis": {
            "labelAngle": -45 if len(labels) >= _ROTATE_LABELS_FROM else 0,
            "labelOverlap": True,
        },
    }


def stacked_bars(
    title: str,
    values: Sequence[Mapping[str, Any]],
    *,
    y_title: str,
    color_title: str,
    domain: Sequence[str],
    colors: Sequence[str] | None = None,
) -> dict[str, Any]:
    """
    Bars per time bin (``label``, in ``order``), stacked by ``key``, height ``n``.

    ``domain`` fixes the stacking and legend order, ``colors`` (same length) the colours.
    """
    labels = sorted({(v["order"], v["label"]) for v in values})
    totals: dict[Any, float] = {}
    for v in values:
        totals[v["order"]] = totals.get(v["order"], 0) + v["n"]
    scale: dict[str, Any] = {"domain": list(domain)}
    if colors is not None:
        scale["range"] = list(colors)
    else:
        scale["scheme"] = "tableau10"
    spec = _base(title, values)
    spec.update(
        width=_WIDTH,
        height=220,
        mark={"type": "bar", "tooltip": False},
        encoding={
            "x": _ordered_x(labels, None),
            "y": {
                "field": "n",
                "type": "quantitative",
                "title": y_title,
                "stack": True,
                "axis": _count_axis(list(totals.values())),
            },
            "color": {
                "field": "key",
                "type": "nominal",
                "title": color_title,
                "scale": scale,
                "legend": {"orient": "right"},
            },
            "order": {"field": "stack", "type": "quantitative"},
        },
    )
    return spec


def ordered_bars(
    title: str,
    values: Sequence[Mapping[str, Any]],
    *,
    x_title: str | None,
    y_title: str,
    width: int = _WIDTH,
) -> dict[str, Any]:
    """
    One bar per ``label`` (in ``order``), height ``n``.
    """
    labels = sorted({(v["order"], v["label"]) for v in values})
    spec = _base(title, values)
    spec.update(
        width=width,
        height=180,
        mark={"type": "bar", "color": _BAR_COLOR, "tooltip": False},
        encoding={
            "x": _ordered_x(labels, x_title),
            "y": {
                "field": "n",
                "type": "quantitative",
                "title": y_title,
                "axis": _count_axis([v["n"] for v in values]),
            },
        },
    )
    return spec


def grouped_rates(title: str, values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """
    Horizontal bars per ``label`` (a model), one per ``measure``, length ``rate`` in [0, 1].
    """
    labels = list(dict.fromkeys(v["label"] for v in values))
    measures = list(dict.fromkeys(v["measure"] for v in values))
    spec = _base(title, values)
    spec.update(
        width=_WIDTH - 220,
        height={"step": 12 * max(len(measures), 1)},
        mark={"type": "bar", "tooltip": False},
        encoding={
            "y": {
                "field": "label",
                "type": "nominal",
                "title": None,
                "sort": labels,
                "axis": {"labelLimit": 220},
            },
            "yOffset": {"field": "measure", "type": "nominal", "sort": measures},
            "x": {
                "field": "rate",
                "type": "quantitative",
                "title": None,
                "scale": {"domain": [0, 1]},
                "axis": {"format": ".0%"},
            },
            "color": {
                "field": "measure",
                "type": "nominal",
                "title": None,
                "sort": measures,
                "scale": {"domain": measures, "range": ["#4c78a8", "#e45756", "#72b7b2"]},
                "legend": {"orient": "bottom", "labelLimit": 320},
            },
        },
    )
    return spec


def confidence_heatmap(
    title: str,
    cells: Sequence[Mapping[str, Any]],
    thresholds: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """
    Decisions per confidence bin (``start`` to ``end``) per ``cell``, with each cell's threshold.

    ``cells`` rows: cell, start, end, n; ``thresholds`` rows: cell, threshold. The cell
    order is the order of first appearance in ``thresholds``.
    """
    order = list(dict.fromkeys(t["cell"] for t in thresholds))
    y = {
        "field": "cell",
        "type": "nominal",
        "title": None,
        "sort": order,
        "axis": {"labelLimit": 240},
    }
    return {
        "$schema": _SCHEMA,
        "title": title,
        "width": _WIDTH - 260,
        "height": {"step": 18},
        "layer": [
            {
                "data": {"values": [dict(c) for c in cells]},
                "mark": {"type": "rect", "tooltip": False},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "start",
                        "type": "quantitative",
                        "title": "model confidence (bins of 0.05)",
                        "scale": {"domain": [0, 1]},
                    },
                    "x2": {"field": "end"},
                    "color": {
                        "field": "n",
                        "type": "quantitative",
                        "title": "decisions",
                        "scale": {"scheme": "blues"},
                        "legend": {"orient": "right", "gradientLength": 120},
                    },
                },
            },
            {
                "data": {"values": [dict(t) for t in thresholds if t["threshold"] is not None]},
                "mark": {
                    "type": "tick",
                    "color": _THRESHOLD_COLOR,
                    "thickness": 3,
                    "size": 16,
                    "tooltip": False,
                },
                "encoding": {"y": y, "x": {"field": "threshold", "type": "quantitative"}},
            },
        ],
    }
