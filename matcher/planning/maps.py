"""PNG maps of gaps, emergency coverage and recruitment sites (matplotlib Agg canvas).

One drawing code for the CLI files (``gaps.png``, ``coverage.png``,
``recruit.png``) and the planner notebooks: the road network faded beneath,
municipality boundaries and names, a legend with units, a scale bar, and the
attribution. Areas and cells with fewer than :data:`matcher.waiting.MIN_CELL`
(5) waiting children are hatched and carry no figure, as in the waiting
statistics. Maps show areas, 250 m cells and candidate sites only, never a
child's or a foster home's position. Coordinates are in the working CRS
(``network.crs``, metres).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import i18n
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.planning.common import ATTRIBUTION, _check_choice, _minutes_text, _xy
from matcher.planning.coverage import CoverageResult
from matcher.planning.gap_analysis import GapResult
from matcher.planning.recruitment import RecruitResult
from matcher.waiting import MIN_CELL

if TYPE_CHECKING:
    from matcher.network import Network

__all__ = ["coverage_map", "gaps_map", "recruit_map"]

_MAJOR = frozenset({"motorway", "motorway_link", "trunk", "trunk_link", "primary",
                    "primary_link", "secondary", "secondary_link"})
"""Road classes drawn a little stronger beneath the map."""
_HIDDEN: dict[str, Any] = {"facecolor": "#f2f2f2", "edgecolor": "#9a9a9a",
                           "hatch": "////", "linewidth": 0.4}
"""How an area with too few children to show is drawn."""

# =========================================================================== drawing


def _figure() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 8.0), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.07, 0.70, 0.85))
    ax.set_axis_off()
    ax.set_aspect("equal")
    return fig, ax


def _finish(fig: Any, ax: Any, title: str, handles: list[Any], legend_title: str,
            notes: list[str]) -> bytes:
    fig.suptitle(title, fontsize=12, x=0.02, ha="left", y=0.975)
    if handles:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.73, 0.92),
                   fontsize=8.5, title=legend_title, title_fontsize=9, frameon=False,
                   alignment="left")
    fig.text(0.02, 0.015, "\n".join([*notes, _(ATTRIBUTION)]), fontsize=7, color="0.35",
             va="bottom")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _extent(*frames: gpd.GeoDataFrame | None, points: np.ndarray | None = None,
            ) -> tuple[float, float, float, float]:
    bounds = [f.total_bounds for f in frames if f is not None and len(f)]
    if points is not None and len(points):
        bounds.append(np.array([points[:, 0].min(), points[:, 1].min(),
                                points[:, 0].max(), points[:, 1].max()]))
    if not bounds:
        return (0.0, 0.0, 1000.0, 1000.0)
    b = np.vstack(bounds)
    xmin, ymin, xmax, ymax = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    pad = max(xmax - xmin, ymax - ymin, 2000.0) * 0.06
    return (float(xmin - pad), float(ymin - pad), float(xmax + pad), float(ymax + pad))


def _basemap(ax: Any, extent: tuple[float, float, float, float], *, crs: str,
             net: Network | None, municipalities: gpd.GeoDataFrame | None) -> list[Any]:
    """Draw the faded roads and the municipality boundaries and names; return legend handles."""
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    xmin, ymin, xmax, ymax = extent
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    handles: list[Any] = []
    if net is not None and len(net.edges):
        u = net.edges["u"].to_numpy()
        v = net.edges["v"].to_numpy()
        x, y = (net.x, net.y) if net.crs == crs else _xy_from(net, crs)
        inside = ((x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax))
        keep = inside[u] | inside[v]
        major = net.edges["highway"].astype(str).isin(_MAJOR).to_numpy()
        for mask, colour, width in ((keep & ~major, "#d4d4d4", 0.35),
                                    (keep & major, "#b5b5b5", 0.9)):
            seg = np.stack([np.column_stack([x[u[mask]], y[u[mask]]]),
                            np.column_stack([x[v[mask]], y[v[mask]]])], axis=1)
            ax.add_collection(LineCollection(list(seg), colors=colour, linewidths=width, zorder=1))
        handles.append(Line2D([], [], color="#b5b5b5", lw=0.9, label=_("road")))
    if municipalities is not None and len(municipalities):
        polys = municipalities.to_crs(crs) if municipalities.crs != crs else municipalities
        box = shapely.box(*extent)
        polys = polys[shapely.intersects(polys.geometry.to_numpy(), box)]
        polys.boundary.plot(ax=ax, color="#404040", linewidth=1.1, zorder=5)
        for name, geom in zip(polys["name"], polys.geometry, strict=True):
            part = shapely.intersection(geom, shapely.box(*_shrink(extent, 0.1)))
            if part.is_empty:
                continue
            p = part.representative_point()
            ax.text(p.x, p.y, str(name), fontsize=10, fontweight="bold", color="#303030",
                    ha="center", va="center", zorder=8,
                    path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])
        handles.append(Line2D([], [], color="#404040", lw=1.1, label=_("municipality border")))
    _scale_bar(ax, extent)
    return handles


def _xy_from(net: Network, crs: str) -> tuple[np.ndarray, np.ndarray]:
    return _xy(net.lon, net.lat, crs)


def _shrink(extent: tuple[float, float, float, float],
            share: float) -> tuple[float, float, float, float]:
    dx, dy = (extent[2] - extent[0]) * share, (extent[3] - extent[1]) * share
    return (extent[0] + dx, extent[1] + dy, extent[2] - dx, extent[3] - dy)


def _scale_bar(ax: Any, extent: tuple[float, float, float, float]) -> None:
    """A bar of a round number of kilometres in the lower left corner."""
    width = extent[2] - extent[0]
    km = next(k for k in (0.5, 1, 2, 5, 10, 20, 50, 100, 200) if k * 1000 >= width / 8)
    x0 = extent[0] + width * 0.03
    y0 = extent[1] + (extent[3] - extent[1]) * 0.03
    ax.plot([x0, x0 + km * 1000], [y0, y0], color="black", linewidth=2.5, zorder=9,
            solid_capstyle="butt")
    ax.text(x0 + km * 1000 / 2, y0 + (extent[3] - extent[1]) * 0.012,
            _("{km} km").format(km=i18n.format_number(km, 1 if km < 1 else 0)),
            ha="center", va="bottom", fontsize=8, zorder=9)


def _label(ax: Any, x: float, y: float, text: str) -> None:
    from matplotlib import patheffects

    ax.text(x, y, text, fontsize=9, fontweight="bold", ha="center", va="center", zorder=10,
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])


def _colourbar(fig: Any, ax: Any, mappable: Any, label: str, *, percent: bool) -> None:
    from matplotlib.ticker import FuncFormatter

    cax = fig.add_axes((0.75, 0.12, 0.025, 0.30))
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(label, fontsize=8.5)
    bar.ax.tick_params(labelsize=8)
    digits = 0
    bar.ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _pos: (i18n.format_number(v, digits) + (" %" if percent else ""))))


# =========================================================================== gaps


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


def _unit(column: str) -> str:
    if column == "share_uncovered":
        return _("per cent of the waiting children")
    if column == "access_2sfca":
        return _("free places per waiting child")
    if column in ("homes",):
        return _("number of homes")
    if column in ("places",):
        return _("number of places")
    return _("number of children")


def gaps_map(result: GapResult, *, column: str = "uncovered", net: Network | None = None,
             municipalities: gpd.GeoDataFrame | None = None, top: int = 5,
             min_children: int = MIN_CELL) -> bytes:
    """Draw one gap column by area as a PNG map.

    Parameters
    ----------
    result
        The gaps (:func:`matcher.planning.gaps`).
    column
        A numeric column of the gap table (default ``uncovered``).
    net
        Road network, drawn faded beneath (optional).
    municipalities
        Municipality polygons, drawn as named boundaries (optional; any CRS).
    top
        Number of shown areas listed by name with their rank (as in the gap
        table); grid cells carry the rank on the map, municipalities and
        cooperations their name.
    min_children
        Areas with fewer waiting children are hatched and show no figure.

    Returns
    -------
    bytes
        The PNG.

    Raises
    ------
    InputError
        If ``column`` is not a numeric column of the gap table.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    numeric = [c for c in result.table.columns
               if c not in ("rank", "area_id", "name") and c in result.areas.columns]
    _check_choice(N_("map column"), column, numeric)
    areas = result.areas
    crs = str(areas.crs) if areas.crs is not None else (net.crs if net is not None else "")
    fig, ax = _figure()
    extent = _extent(areas)
    handles = _basemap(ax, extent, crs=crs, net=net, municipalities=municipalities)
    shown = areas[areas["children"] >= min_children]
    hidden = areas[areas["children"] < min_children]
    percent = column == "share_uncovered"
    values = pd.to_numeric(shown[column], errors="coerce").astype(float) * (100 if percent else 1)
    top_value = float(np.nanmax(values)) if values.notna().any() else 0.0
    norm = Normalize(vmin=0.0, vmax=100.0 if percent else max(top_value, 1.0))
    if len(hidden):
        hidden.plot(ax=ax, zorder=2, alpha=0.8, **_HIDDEN)
        handles.append(Patch(**_HIDDEN, label=_("fewer than {n} waiting children:\nnot shown")
                             .format(n=min_children)))
    if len(shown):
        shown.assign(_value=values).plot(ax=ax, column="_value", cmap="OrRd", norm=norm,
                                         edgecolor="#7a7a7a", linewidth=0.5, alpha=0.8,
                                         zorder=3, missing_kwds={"color": "#e0e0e0"})
    _colourbar(fig, ax, ScalarMappable(norm=norm, cmap="OrRd"),
               _("{column}\n({unit})").format(column=_column_label(column), unit=_unit(column)),
               percent=percent)
    notes = []
    ranked = shown.sort_values("rank").head(top)
    named = result.area_kind in ("municipality", "pool")
    for _idx, row in ranked.iterrows():
        p = row.geometry.representative_point()
        if not named:
            _label(ax, p.x, p.y, str(row["rank"]))
        elif municipalities is None:  # the basemap names municipalities; pools need a name
            _label(ax, p.x, p.y, str(row["name"]))
        value = (i18n.format_number(float(row[column]) * 100, 1) + " %" if percent else
                 i18n.format_number(float(row[column]), 2 if column == "access_2sfca" else 0))
        notes.append(_("{rank}. {name}: {value} ({children} waiting)").format(
            rank=row["rank"], name=row["name"], value=value,
            children=i18n.format_number(int(row["children"]))))
    if notes:
        fig.text(0.75, 0.55, "\n".join([_("Areas marked on the map:"), *notes]), fontsize=8,
                 va="top", wrap=True)
    by = _(_BY_AREA[result.area_kind]) if result.area_kind in _BY_AREA else result.area_kind
    title = _("{column} within {minutes} min, {by}").format(
        column=_column_label(column).capitalize(), minutes=_minutes_text(result.minutes), by=by)
    return _finish(fig, ax, title, handles, _("Map"), [])


# =========================================================================== coverage


def coverage_map(result: CoverageResult, *, net: Network | None = None,
                 municipalities: gpd.GeoDataFrame | None = None,
                 min_children: int = MIN_CELL,
                 new_homes: Sequence[tuple[float, float]] = ()) -> bytes:
    """Draw the travel band of each 250 m cell to the nearest emergency home, as a PNG map.

    Population cells are drawn as they are; cells of waiting children with
    fewer than ``min_children`` children are left out. The share within the
    last band is written beside each municipality.

    Parameters
    ----------
    result
        The coverage (:func:`matcher.planning.emergency_coverage`).
    net, municipalities
        Faded roads and named municipality boundaries beneath (optional).
    min_children
        Smallest number of children a cell of children needs to be drawn.
    new_homes
        Places ``(lon, lat)`` (degrees) of hypothetical emergency homes to mark.

    Returns
    -------
    bytes
        The PNG.
    """
    from matplotlib.patches import Patch

    last = result.bands[-1]
    basis = result.table["basis"].iloc[0] if len(result.table) else "children"
    cells = result.cells
    crs = str(cells.crs) if cells.crs is not None else (net.crs if net is not None else "")
    hidden = 0
    if basis == "children":
        small = cells["total"].to_numpy(dtype=float) < min_children
        hidden = int(cells.loc[small, "total"].sum())
        cells = cells[~small]
    polys = municipalities if municipalities is not None else result.areas
    if polys is not None and len(result.table):
        polys = polys.to_crs(crs) if polys.crs != crs else polys
        shown = polys[polys["area_id"].isin(result.table["area_id"])]
    else:
        shown = None
    fig, ax = _figure()
    extent = _extent(result.cells if len(result.cells) else shown)
    handles = _basemap(ax, extent, crs=crs, net=net, municipalities=polys)
    first = result.bands[0]
    colours = {f"<={first:g}": "#1a9850"}
    labels = {f"<={first:g}": _("up to {minutes} min").format(minutes=_minutes_text(first))}
    for a, b in itertools.pairwise(result.bands):
        colours[f"{a:g}-{b:g}"] = "#fee08b"
        labels[f"{a:g}-{b:g}"] = _("{low}-{high} min").format(low=_minutes_text(a),
                                                              high=_minutes_text(b))
    colours[f">{last:g}"] = "#d73027"
    labels[f">{last:g}"] = _("over {minutes} min").format(minutes=_minutes_text(last))
    if len(cells):
        cells.plot(ax=ax, color=[colours.get(b, "#999999") for b in cells["band"]],
                   edgecolor="none", alpha=0.75, zorder=3)
    handles = [Patch(color=c, alpha=0.75, label=labels[band]) for band, c in colours.items()] \
        + handles
    if new_homes:
        from matplotlib.lines import Line2D

        nx, ny = _xy([p[0] for p in new_homes], [p[1] for p in new_homes], crs)
        ax.scatter(nx, ny, marker="*", s=420, color="#08519c", edgecolors="white",
                   linewidths=1.2, zorder=10)
        handles.append(Line2D([], [], marker="*", ls="", color="#08519c", markersize=14,
                              label=_("new emergency home (hypothetical)")))
    notes = []
    if shown is not None:
        share = result.table.set_index("area_id")[f"share_{last:g}"]
        for _idx, row in shown.iterrows():
            if row["area_id"] in share.index and pd.notna(share[row["area_id"]]):
                notes.append(_("{name}: {share} within {minutes} min").format(
                    name=row["name"], share=i18n.format_number(share[row["area_id"]] * 100, 1)
                    + " %", minutes=_minutes_text(last)))
    if notes:
        fig.text(0.75, 0.40, "\n".join(notes), fontsize=8.5, va="top")
    who = _("people (SSB 250 m cells)") if basis == "population" else \
        _("waiting children (250 m cells)")
    title = _("Travel time to the nearest emergency home: {who}").format(who=who)
    extra = ([_hidden_note(hidden, min_children)] if hidden else [])
    return _finish(fig, ax, title, handles, _("nearest emergency home"), extra)


def _hidden_note(children: int, min_children: int) -> str:
    """The note under a map of children's cells that left small cells out."""
    return i18n.ngettext(
        "{n} child in cells with fewer than {min} children is not drawn",
        "{n} children in cells with fewer than {min} children are not drawn",
        children).format(n=i18n.format_number(children), min=min_children)


# =========================================================================== recruitment


def recruit_map(result: RecruitResult, *, net: Network | None = None,
                municipalities: gpd.GeoDataFrame | None = None, crs: str | None = None) -> bytes:
    """Draw the chosen recruitment sites (numbered by rank) and the candidates, as a PNG map.

    Parameters
    ----------
    result
        The sites (:func:`matcher.planning.recruit`).
    net, municipalities
        Faded roads and named municipality boundaries beneath (optional).
    crs
        Working CRS (metres) to draw in; default ``net.crs`` or EPSG:25833.

    Returns
    -------
    bytes
        The PNG.
    """
    from matplotlib.lines import Line2D

    from matcher.config import DEFAULT_CRS

    crs = crs or (net.crs if net is not None else DEFAULT_CRS)
    cand = result.candidates
    cx, cy = _xy(cand["lon"], cand["lat"], crs)
    sx, sy = _xy(result.sites["lon"], result.sites["lat"], crs)
    fig, ax = _figure()
    extent = _extent(points=np.column_stack([np.concatenate([cx, sx]),
                                             np.concatenate([cy, sy])]))
    handles = _basemap(ax, extent, crs=crs, net=net, municipalities=municipalities)
    ax.scatter(cx, cy, s=6, color="#8c8c8c", alpha=0.6, zorder=3, linewidths=0)
    ax.scatter(sx, sy, s=260, color="#b2182b", edgecolors="white", linewidths=1.2, zorder=9)
    for rank, x, y in zip(result.sites["rank"], sx, sy, strict=True):
        ax.text(x, y, str(rank), color="white", fontsize=9, fontweight="bold", ha="center",
                va="center", zorder=10)
    handles = [Line2D([], [], marker="o", ls="", color="#b2182b", markersize=10,
                      label=_("proposed site (number = rank)")),
               Line2D([], [], marker="o", ls="", color="#8c8c8c", markersize=4,
                      label=_("candidate site\n(populated 250 m cell)")), *handles]
    notes = [i18n.ngettext("{rank}. {children} child within {minutes} min",
                           "{rank}. {children} children within {minutes} min", int(n)).format(
        rank=r, children=i18n.format_number(int(n)), minutes=_minutes_text(result.minutes))
        for r, n in zip(result.sites["rank"], result.sites["children_within"], strict=True)]
    if notes:
        fig.text(0.75, 0.55, "\n".join([_("Sites:"), *notes]), fontsize=8.5, va="top")
    title = i18n.ngettext(
        "Where {k} new home with {competence} reaches the most children within {minutes} min",
        "Where {k} new homes with {competence} reach the most children within {minutes} min",
        result.k).format(k=result.k, competence=result.competence,
                         minutes=_minutes_text(result.minutes))
    summary = _("{newly} more children covered ({before} of {suited} suited children were "
                "covered already)").format(newly=i18n.format_number(result.newly_covered),
                                           before=i18n.format_number(result.covered_before),
                                           suited=i18n.format_number(result.suited))
    return _finish(fig, ax, title, handles, _("Map"), [summary])
