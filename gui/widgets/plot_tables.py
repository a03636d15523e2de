"""The CSV tables of plots whose data CSVExporter cannot write (or would write without names).

pyqtgraph's CSVExporter writes each curve's and scatter's x and y; it skips BarGraphItem,
and a scatter's x/y alone would lose which variant a point is. These functions build
(header, rows) from what each widget holds, full layer and variant names included; the
widgets pass them to gui.widgets.plot_export.add_plot_export as `data`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

Table = tuple[list[str], list[list[Any]]]


def _num(value: Any) -> Any:
    """A float as written to CSV: plain numbers, no numpy scalar reprs."""
    return float(value) if isinstance(value, (np.floating, np.integer)) else value


def layer_bars_table(bars: Any) -> Table:
    """The Run page's per-layer bars (gui.widgets.layer_bars.LayerBars): layer, value."""
    from gui.widgets.layer_bars import KINDS

    return ["layer", KINDS[bars.kind][1]], [[n, float(v)] for n, v in zip(bars.names, bars.values, strict=True)]


def dict_rows(records: list[dict[str, Any]]) -> Table:
    """Records as a table: every scalar key seen, in first-seen order (nested values left out)."""
    header: list[str] = []
    for r in records:
        header += [k for k, v in r.items() if k not in header and not isinstance(v, (dict, list))]
    return header, [[_num(r.get(k, "")) for k in header] for r in records]


def node_error_table(chart: Any) -> Table:
    """The Export page's quantization error per node (NodeErrorChart.errors), as listed."""
    return dict_rows(chart.errors)


def family_table(chart: Any, plot: pg.PlotWidget, what: str) -> Table:
    """One of FamilyChart's two bar plots: variant name, value (the parent first, as drawn)."""
    bars = [i for i in plot.getPlotItem().items if isinstance(i, pg.BarGraphItem)]
    widths = list(bars[0].opts.get("width") if bars else [])
    return ["variant", what], [[n, _num(w)] for n, w in zip(chart.names, widths, strict=False)]


def anatomy_table(chart: Any) -> Table:
    """The Model page's largest layers: full name, parameter count (largest first)."""
    return ["layer", "parameters"], [[n, int(c)] for n, c in zip(chart.names, chart._counts, strict=True)]


def activation_table(view: Any) -> Table:
    """The histogram of the tensor shown: each bin's low and high edge and its count."""
    t = view.current()
    if not t:
        return ["bin_low", "bin_high", "count"], []
    counts = list(t["counts"])
    edges = np.linspace(float(t["edges"][0]), float(t["edges"][1]), len(counts) + 1)
    header = [f"{t.get('tensor', 'tensor')} bin_low", "bin_high", "count"]
    return header, [[float(edges[i]), float(edges[i + 1]), _num(c)] for i, c in enumerate(counts)]


def bar_columns(plot: pg.PlotWidget, axis: str = "bottom") -> Table:
    """Vertical bar series side by side: the tick label at each x, then one column per series
    (the BarGraphItem's name); for charts that keep no table of their own."""
    series = [i for i in plot.getPlotItem().items if isinstance(i, pg.BarGraphItem)]
    ticks = plot.getAxis(axis)._tickLevels
    labels = dict(ticks[0]) if ticks else {}
    header = ["label"] + [str(s.opts.get("name") or f"series {k + 1}") for k, s in enumerate(series)]
    if not series:
        return header, []
    n = len(series[0].opts["height"])
    return header, [[labels.get(k, k)] + [_num(s.opts["height"][k]) for s in series] for k in range(n)]


def scatter_table(scatter: Any) -> Table:
    """The Compare plot's points: variant, id, file (fp32 = the variant), x, y, on the front."""
    from gui.widgets.compare_pareto_axes import AXIS_LABELS

    front = scatter.front
    dim_v = front.dim_variants if front else frozenset()
    dim_f = front.dim_files if front else frozenset()
    header = ["variant", "id", "file", AXIS_LABELS[scatter._axis], scatter._metric, "on_front"]
    rows = [[v.name, v.id, "fp32", x, y, i not in dim_v] for i, (v, x, y) in enumerate(scatter.points)]
    rows += [[p.variant.name, p.variant.id, p.kind, p.x, p.y, i not in dim_f]
             for i, p in enumerate(scatter.artifact_points)]  # fmt: skip
    return header, rows


def curves_table(curves: dict[str, Any], x_name: str, y_name: str) -> Table:
    """Many named curves (one per layer) as one long table: name, x, y per point, as set."""
    rows = []
    for name, curve in curves.items():
        xs, ys = curve.getOriginalDataset()
        rows += [[name, _num(x), _num(y)] for x, y in zip(xs if xs is not None else [], ys if ys is not None else [],
                                                          strict=False)]
    return ["layer", x_name, y_name], rows
