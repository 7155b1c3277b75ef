"""``map.png``: a static overview of the layers (matplotlib Agg canvas, no display)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import i18n
from matcher.i18n import gettext as _
from matcher.report.common import _COLOURS, CRS, _notes, _title

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__: list[str] = []

# ---- map.png


def _map_png(layers: Mapping[str, gpd.GeoDataFrame], summary: RunSummary,
             meta: Mapping[str, Any]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(12, 10), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    children = layers["children"]
    homes = layers["homes"]
    lines = layers["match_lines"]
    handles: list[Any] = []

    if "municipalities" in layers and len(layers["municipalities"]):
        ax.add_collection(PatchCollection(
            _patches(layers["municipalities"].geometry.to_numpy()),
            facecolor=_COLOURS["municipality_fill"], edgecolor=_COLOURS["municipality_edge"],
            linewidth=0.9, linestyle=(0, (6, 2, 1, 2)), zorder=1))
        handles.append(Line2D([], [], color=_COLOURS["municipality_edge"], lw=0.9,
                              ls=(0, (6, 2, 1, 2)), label=_("municipality border")))
    if "roads" in layers:
        for rclass, width in (("minor", 0.4), ("major", 1.0), ("ferry", 1.2)):
            geoms = layers["roads"].loc[layers["roads"]["road_class"] == rclass, "geometry"]
            segments = _segments(geoms.to_numpy())
            if segments:
                ax.add_collection(LineCollection(
                    segments, colors=_COLOURS[rclass], linewidths=width, zorder=2,
                    linestyles="--" if rclass == "ferry" else "-"))
        handles.append(Line2D([], [], color=_COLOURS["major"], lw=1, label=_("road")))
        handles.append(Line2D([], [], color=_COLOURS["ferry"], lw=1.2, ls="--",
                              label=_("car ferry")))
    if len(lines):
        kin = lines["kinship"].astype(bool).to_numpy()
        colours = np.where(kin, _COLOURS["kinship"], _COLOURS["match"])
        ax.add_collection(LineCollection(_segments(lines.geometry.to_numpy()),
                                         colors=list(colours), linewidths=1.4, alpha=0.85,
                                         zorder=3))
        handles.append(Line2D([], [], color=_COLOURS["match"], lw=1.4,
                              label=_("match ({n})").format(n=_count(len(lines)))))
        if kin.any():
            handles.append(Line2D([], [], color=_COLOURS["kinship"], lw=1.4,
                                  label=_("kinship match ({n})").format(
                                      n=_count(kin.sum()))))
    used = homes["n_assigned"].to_numpy() > 0
    ax.scatter(homes.geometry.x[~used], homes.geometry.y[~used], s=10, marker="s",
               facecolors="none", edgecolors=_COLOURS["home"], linewidths=0.6, zorder=4,
               label=_("foster home, none assigned ({n})").format(n=_count((~used).sum())))
    ax.scatter(homes.geometry.x[used], homes.geometry.y[used], s=18, marker="s",
               color=_COLOURS["home"], zorder=4,
               label=_("foster home, assigned ({n})").format(n=_count(used.sum())))
    placed = children["placed"].astype(bool).to_numpy()
    ax.scatter(children.geometry.x[placed], children.geometry.y[placed], s=26,
               color=_COLOURS["placed"], edgecolors="white", linewidths=0.5, zorder=5,
               label=_("child, placed ({n})").format(n=_count(placed.sum())))
    ax.scatter(children.geometry.x[~placed], children.geometry.y[~placed], s=34,
               color=_COLOURS["unmatched"], edgecolors="white", linewidths=0.5, zorder=6,
               label=_("child, unmatched ({n})").format(n=_count((~placed).sum())))

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
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *handles], loc="upper left",
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
