"""``map.png``: a static overview of the layers (matplotlib Agg canvas, no display)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import i18n
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.report.common import _COLOURS, CRS, _notes, _title

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__ = ["LegendItem", "legend_items"]

# ---- map.png


@dataclasses.dataclass(frozen=True)
class LegendItem:
    """One entry of the ``map.png`` legend.

    Attributes
    ----------
    key
        What it stands for (``road``, ``ferry``, ``home_emergency``...), stable.
    label
        The text shown, in the language in effect, with the count where it has one.
    colour
        Matplotlib colour.
    symbol
        ``line``, ``dashed``, ``border`` (dash-dot), ``square``, ``open_square``,
        ``dot`` or ``diamond``.
    """

    key: str
    label: str
    colour: str
    symbol: str


def legend_items(layers: Mapping[str, gpd.GeoDataFrame]) -> list[LegendItem]:
    """The legend of ``map.png``: an entry for each thing drawn, and only for those.

    A layer or class with nothing in it (no ferry in Oslo, no emergency home, no
    unmatched child) has no entry. Counts are written as the language writes them.
    """
    items = []
    munis = layers.get("municipalities")
    if munis is not None and len(munis):
        items.append(LegendItem("municipality", _("municipality border"),
                                _COLOURS["municipality_edge"], "border"))
    roads = layers.get("roads")
    drawn = set() if roads is None else {
        str(c) for c, g in zip(roads["road_class"], roads.geometry, strict=True)
        if g is not None and not g.is_empty}
    if drawn & {"major", "minor"}:
        items.append(LegendItem("road", _("road"), _COLOURS["major"], "line"))
    if "ferry" in drawn:
        items.append(LegendItem("ferry", _("car ferry"), _COLOURS["ferry"], "dashed"))
    lines = layers["match_lines"]
    kin = lines["kinship"].astype(bool).to_numpy() if len(lines) else np.zeros(0, bool)
    if len(lines):
        items.append(LegendItem("match", _("match ({n})").format(n=_count(len(lines))),
                                _COLOURS["match"], "line"))
    if kin.any():
        items.append(LegendItem("kinship", _("kinship match ({n})").format(
            n=_count(kin.sum())), _COLOURS["kinship"], "line"))
    used, emergency = _home_classes(layers["homes"])
    for key, sel, label, symbol in (
            ("home_free", ~used & ~emergency, N_("foster home, none assigned ({n})"),
             "open_square"),
            ("home_used", used & ~emergency, N_("foster home, assigned ({n})"), "square"),
            ("home_emergency", emergency, N_("emergency home ({n})"), "diamond")):
        if sel.any():
            items.append(LegendItem(key, _(label).format(n=_count(sel.sum())),
                                    _COLOURS["home"], symbol))
    placed = layers["children"]["placed"].astype(bool).to_numpy()
    if placed.any():
        items.append(LegendItem("placed", _("child, placed ({n})").format(
            n=_count(placed.sum())), _COLOURS["placed"], "dot"))
    if (~placed).any():
        items.append(LegendItem("unmatched", _("child, unmatched ({n})").format(
            n=_count((~placed).sum())), _COLOURS["unmatched"], "dot"))
    return items


def _home_classes(homes: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per home: children assigned to it; an emergency home."""
    used = homes["n_assigned"].to_numpy() > 0
    emergency = (homes["kind"].astype(str) == "emergency").to_numpy() \
        if "kind" in homes.columns else np.zeros(len(homes), dtype=bool)
    return used, emergency


def _handle(item: LegendItem) -> Any:
    from matplotlib.lines import Line2D

    if item.symbol in ("line", "dashed", "border"):
        style = {"line": "-", "dashed": "--", "border": (0, (6, 2, 1, 2))}[item.symbol]
        return Line2D([], [], color=item.colour, lw=1.2, ls=style, label=item.label)
    marker = {"square": "s", "open_square": "s", "dot": "o", "diamond": "D"}[item.symbol]
    return Line2D([], [], ls="", marker=marker, markersize=6, label=item.label,
                  markerfacecolor="none" if item.symbol == "open_square" else item.colour,
                  markeredgecolor=item.colour if item.symbol != "dot" else "white")


def _map_png(layers: Mapping[str, gpd.GeoDataFrame], summary: RunSummary,
             meta: Mapping[str, Any]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(12, 10), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    children = layers["children"]
    homes = layers["homes"]
    lines = layers["match_lines"]

    if "municipalities" in layers and len(layers["municipalities"]):
        ax.add_collection(PatchCollection(
            _patches(layers["municipalities"].geometry.to_numpy()),
            facecolor=_COLOURS["municipality_fill"], edgecolor=_COLOURS["municipality_edge"],
            linewidth=0.9, linestyle=(0, (6, 2, 1, 2)), zorder=1))
    if "roads" in layers:
        for rclass, width in (("minor", 0.4), ("major", 1.0), ("ferry", 1.2)):
            geoms = layers["roads"].loc[layers["roads"]["road_class"] == rclass, "geometry"]
            segments = _segments(geoms.to_numpy())
            if segments:
                ax.add_collection(LineCollection(
                    segments, colors=_COLOURS[rclass], linewidths=width, zorder=2,
                    linestyles="--" if rclass == "ferry" else "-"))
    if len(lines):
        kin = lines["kinship"].astype(bool).to_numpy()
        colours = np.where(kin, _COLOURS["kinship"], _COLOURS["match"])
        ax.add_collection(LineCollection(_segments(lines.geometry.to_numpy()),
                                         colors=list(colours), linewidths=1.4, alpha=0.85,
                                         zorder=3))
    used, emergency = _home_classes(homes)
    x, y = homes.geometry.x.to_numpy(), homes.geometry.y.to_numpy()
    free = ~used & ~emergency
    ax.scatter(x[free], y[free], s=10, marker="s", facecolors="none",
               edgecolors=_COLOURS["home"], linewidths=0.6, zorder=4)
    ax.scatter(x[used & ~emergency], y[used & ~emergency], s=18, marker="s",
               color=_COLOURS["home"], zorder=4)
    ax.scatter(x[emergency], y[emergency], s=30, marker="D", color=_COLOURS["home"],
               edgecolors="white", linewidths=0.6, zorder=4)
    placed = children["placed"].astype(bool).to_numpy()
    ax.scatter(children.geometry.x[placed], children.geometry.y[placed], s=26,
               color=_COLOURS["placed"], edgecolors="white", linewidths=0.5, zorder=5)
    ax.scatter(children.geometry.x[~placed], children.geometry.y[~placed], s=34,
               color=_COLOURS["unmatched"], edgecolors="white", linewidths=0.5, zorder=6)

    parts = [f for f in (children, homes) if len(f)]
    if parts:
        xmin, ymin, xmax, ymax = pd.concat([f.geometry for f in parts]).total_bounds
        pad = max(xmax - xmin, ymax - ymin, 2000.0) * 0.05
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal", adjustable="box")
    km = FuncFormatter(lambda value, _pos: i18n.format_number(value / 1000, 0))
    ax.xaxis.set_major_formatter(km)
    ax.yaxis.set_major_formatter(km)
    crs = children.crs.to_string() if children.crs is not None else CRS
    ax.set_xlabel(_("easting (km, {crs})").format(crs=crs))
    ax.set_ylabel(_("northing (km, {crs})").format(crs=crs))
    ax.grid(True, color="#eeeeee", linewidth=0.5, zorder=0)
    ax.set_title(_title(summary))
    ax.legend(handles=[_handle(i) for i in legend_items(layers)], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)
    fig.text(0.01, 0.005, " | ".join(_notes(meta)), fontsize=8, color="#444444",
             ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _count(n: Any) -> str:
    """A count as the current language writes it."""
    return i18n.format_number(int(n), 0)


def _segments(geoms: np.ndarray) -> list[np.ndarray]:
    parts = shapely.get_parts(shapely.get_parts(geoms))
    parts = parts[~shapely.is_empty(parts)]
    return [shapely.get_coordinates(p) for p in parts]


def _patches(geoms: np.ndarray) -> list[Any]:
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    patches = []
    for polygon in shapely.get_parts(geoms):
        if polygon.is_empty:
            continue
        rings = [polygon.exterior, *polygon.interiors]
        path = MplPath.make_compound_path(*[MplPath(np.asarray(r.coords)[:, :2], closed=True)
                                            for r in rings])
        patches.append(PathPatch(path))
    return patches
