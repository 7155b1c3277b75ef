"""PNG maps of gaps and emergency coverage (matplotlib Agg canvas; areas and 250 m cells only,
never a child's position)."""

from __future__ import annotations

import io
import itertools
from typing import Any

import numpy as np
import pandas as pd

from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.planning.common import ATTRIBUTION, _check_choice, _minutes_text
from matcher.planning.coverage import CoverageResult
from matcher.planning.gap_analysis import GapResult

__all__ = ["coverage_map", "gaps_map"]

# =========================================================================== maps


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 8.0), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    fig.text(0.01, 0.01, _(ATTRIBUTION), fontsize=6, color="0.35")
    return fig, ax


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def gaps_map(result: GapResult, *, column: str = "uncovered") -> bytes:
    """Draw a choropleth of one gap column (default ``uncovered``) as PNG bytes.

    Raises
    ------
    InputError
        If ``column`` is not a numeric column of the gap table.
    """
    numeric = [c for c in result.table.columns
               if c not in ("rank", "area_id", "name") and c in result.areas.columns]
    _check_choice(N_("map column"), column, numeric)
    by = _(_BY_AREA[result.area_kind]) if result.area_kind in _BY_AREA else result.area_kind
    fig, ax = _figure(_("Waiting children without a suitable home within {minutes} min\n"
                        "{column}, {by}").format(minutes=_minutes_text(result.minutes),
                                                 column=_column_label(column),
                                                 by=by))
    areas = result.areas.assign(_value=pd.to_numeric(result.areas[column], errors="coerce")
                                .astype(float))
    if len(areas):
        top = float(np.nanmax(areas["_value"].to_numpy())) if areas["_value"].notna().any() \
            else 0.0
        areas.plot(ax=ax, column="_value", cmap="OrRd", edgecolor="0.5", linewidth=0.4,
                   vmin=0.0, vmax=max(top, 1.0), legend=True,
                   legend_kwds={"label": _column_label(column), "shrink": 0.6},
                   missing_kwds={"color": "0.9"})
    return _png(fig)


def coverage_map(result: CoverageResult) -> bytes:
    """Draw areas by share within the last band and the uncovered cells, as PNG bytes."""
    last = result.bands[-1]
    basis = result.table["basis"].iloc[0] if len(result.table) else "children"
    title = (_("Emergency homes: people beyond {minutes} min (red cells); share within "
               "{minutes} min by area") if basis == "population" else
             _("Emergency homes: children beyond {minutes} min (red cells); share within "
               "{minutes} min by area"))
    fig, ax = _figure(title.format(minutes=_minutes_text(last)))
    if result.areas is not None and len(result.table):
        shown = result.areas[result.areas["area_id"].isin(result.table["area_id"])]
        shown = shown.merge(result.table[["area_id", f"share_{last:g}"]], on="area_id")
        shown.plot(ax=ax, column=f"share_{last:g}", cmap="Greens", vmin=0.0, vmax=1.0,
                   edgecolor="0.4", linewidth=0.6, alpha=0.6, legend=True,
                   legend_kwds={"label": _("share within {minutes} min").format(
                       minutes=_minutes_text(last)), "shrink": 0.6})
    cells = result.cells
    if len(cells):
        first = result.bands[0]
        colours = {f"<={first:g}": "#d9f0d3"}
        labels = {f"<={first:g}": _("up to {minutes} min").format(minutes=_minutes_text(first))}
        for a, b in itertools.pairwise(result.bands):
            colours[f"{a:g}-{b:g}"] = "#fee08b"
            labels[f"{a:g}-{b:g}"] = _("{low}-{high} min").format(low=_minutes_text(a),
                                                                  high=_minutes_text(b))
        colours[f">{last:g}"] = "#d73027"
        labels[f">{last:g}"] = _("over {minutes} min").format(minutes=_minutes_text(last))
        cells.plot(ax=ax, color=[colours.get(b, "#999999") for b in cells["band"]],
                   edgecolor="none")
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=labels[band]) for band, c in colours.items()],
                  loc="lower left", fontsize=8, title=_("nearest emergency home"),
                  title_fontsize=8)
        ax.set_xlim(*_pad(cells.total_bounds[[0, 2]]))
        ax.set_ylim(*_pad(cells.total_bounds[[1, 3]]))
    return _png(fig)


_BY_AREA: dict[str, str] = {
    "municipality": N_("by municipality"), "pool": N_("by municipality cooperation"),
    "hex": N_("by hexagonal grid cell"), "square": N_("by square grid cell")}
"""The area kinds of :class:`GapResult`, as words in a map title."""
_GAP_COLUMNS: dict[str, str] = {
    "children": N_("waiting children"),
    "uncovered": N_("children without a suitable home"),
    "share_uncovered": N_("share without a suitable home"),
    "no_home": N_("children without any reachable home"),
    "needs_not_in_one_home": N_("needs met, but not by one home"),
    "unmatched": N_("children without a proposal"),
    "unmatched_uncovered": N_("children without a proposal or a suitable home"),
    "homes": N_("foster homes with a free place"),
    "places": N_("free places"),
    "access_2sfca": N_("places per child (2SFCA)"),
}
"""Words for the gap columns a map shows."""


def _column_label(column: str) -> str:
    """A gap column in words, in the current language."""
    if column.startswith("need:"):
        return _("children whose need {need} no reachable home meets").format(
            need=column.removeprefix("need:"))
    return _(_GAP_COLUMNS[column]) if column in _GAP_COLUMNS else column


def _pad(lims: np.ndarray) -> tuple[float, float]:
    span = float(lims[1] - lims[0]) or 1000.0
    return float(lims[0] - 0.05 * span), float(lims[1] + 0.05 * span)
