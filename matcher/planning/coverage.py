"""Emergency-home coverage: the share of children (or of the population) within each band of
an available emergency home."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from matcher.config import Settings
from matcher.i18n import gettext as _
from matcher.isochrones import check_bands
from matcher.network import Network
from matcher.planning.areas import _centres, locate
from matcher.planning.common import (
    Anchor,
    _in_crs,
    _lonlat,
    _minutes_text,
    _times,
    _transformer,
    _xy,
    anchor_points,
    free_places,
    waiting,
)
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = ["CoverageResult", "emergency_coverage", "emergency_homes", "within_network"]

logger = logging.getLogger(__name__)

# =========================================================================== emergency coverage


@dataclass(frozen=True)
class CoverageResult:
    """Emergency-home coverage per municipality.

    Attributes
    ----------
    table
        Per area: ``area_id, name, basis`` (``children``/``population``),
        ``total`` (children or persons), and per band ``b`` ``within_<b>``
        and ``share_<b>``; ``beyond_<last>``. Sorted by ``area_id``.
    points
        Per demand point: ``id`` (anchor id or ``cell:<id>``), ``area_id``,
        ``weight`` and ``minutes`` to the nearest available emergency home
        (``inf`` if none within the search limit).
    cells
        250 m cells (the working CRS ``network.crs``) with ``total``, ``uncovered`` (beyond the
        last band) and ``band`` (``<=30``, ``30-45``, ``>45``): population
        cells, or children aggregated to 250 m (never a child's position).
    bands
        The bands in minutes.
    emergency_homes
        Number of available emergency homes (kind emergency, free places > 0).
    """

    table: pd.DataFrame
    points: pd.DataFrame
    cells: gpd.GeoDataFrame
    bands: tuple[float, ...]
    emergency_homes: int
    areas: gpd.GeoDataFrame | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals."""
        total = float(self.table["total"].sum())
        out: dict[str, Any] = {"basis": self.table["basis"].iloc[0] if len(self.table) else None,
                               "total": total, "emergency_homes": self.emergency_homes,
                               "areas": len(self.table)}
        for b in self.bands:
            within = float(self.table[f"within_{b:g}"].sum())
            out[f"share_{b:g}"] = round(within / total, 4) if total else None
        return out

    def furthest(self, n: int = 5, *, min_children: int = 5) -> pd.DataFrame:
        """The ``n`` cells furthest from an available emergency home.

        Cells of children with fewer than ``min_children`` children are left
        out (as on the maps). Ties are broken by ``cell_id``.

        Returns
        -------
        pandas.DataFrame
            ``cell_id, area_id, name, total, minutes, lon, lat`` (the cell
            centre in degrees, EPSG:4326), furthest first.
        """
        cells = self.cells
        basis = self.table["basis"].iloc[0] if len(self.table) else "children"
        if basis == "children":
            cells = cells[cells["total"].to_numpy(dtype=float) >= min_children]
        cells = cells.sort_values(["minutes", "cell_id"], ascending=[False, True]).head(n)
        cx, cy = _centres(cells)
        crs = str(cells.crs)
        area = (locate(cx, cy, self.areas) if self.areas is not None
                else np.full(len(cells), None, dtype=object))
        names = (dict(zip(self.areas["area_id"], self.areas["name"], strict=True))
                 if self.areas is not None else {})
        lon, lat = _lonlat(cx, cy, crs)
        return pd.DataFrame({"cell_id": cells["cell_id"].to_numpy(dtype=object),
                             "area_id": area, "name": [names.get(a, "") for a in area],
                             "total": cells["total"].to_numpy(dtype=float),
                             "minutes": cells["minutes"].to_numpy(dtype=float),
                             "lon": lon, "lat": lat})


def emergency_homes(inputs: Inputs) -> pd.DataFrame:
    """Return the available emergency homes: kind ``emergency`` with free places > 0."""
    ok = (inputs.homes["kind"] == "emergency").to_numpy() & (free_places(inputs) > 0)
    return inputs.homes[ok].reset_index(drop=True)


def emergency_coverage(inputs: Inputs, *, settings: Settings | None = None,
                       net: Network | None = None, times: TimeTable | None = None,
                       bands: Sequence[float] | None = None,
                       areas: gpd.GeoDataFrame | None = None,
                       population: gpd.GeoDataFrame | None = None, anchor: Anchor = "home",
                       progress: Callable[[int, int], None] | None = None) -> CoverageResult:
    """Share of waiting children (or people) within each band of an available emergency home.

    Parameters
    ----------
    inputs
        Validated inputs; waiting children are the demand unless ``population``.
    settings
        All settings (default :class:`~matcher.config.Settings`):
        ``planning.emergency_bands_minutes``, ``travel`` and the working CRS
        ``network.crs``.
    net
        Road network, for the travel times when ``times`` is not given.
    times
        Travel times, origins ``home_id``, destinations the demand point ids;
        computed on ``net`` when not given.
    bands
        Ascending bands in minutes (default ``planning.emergency_bands_minutes``).
    areas
        Municipality polygons (any CRS: reprojected to the working CRS).
        Without them children are grouped by their ``municipality`` column;
        a population grid needs them (or forms one area ``all``).
    population
        Population cells (:func:`matcher.io.readers.read_population`). When given, the demand is
        the population at the cell centres instead of the children; cells
        farther than ``max_snap_metres`` from ``net`` are left out.
    anchor
        Children's point: ``home`` (default) or ``school``.
    progress
        Called with (done, total) while the travel times are computed.

    Raises
    ------
    InputError
        On bad bands, or when neither ``times`` nor ``net`` is given.
    """
    settings = settings or Settings()
    crs, travel = settings.crs, settings.travel
    bands = check_bands(settings.planning.emergency_bands_minutes if bands is None else bands,
                        example="30,45")
    areas = None if areas is None else _in_crs(areas, crs)
    em = emergency_homes(inputs)
    if population is not None:
        cells = _in_crs(population, crs)
        if net is not None:
            cells = within_network(cells, net, travel.max_snap_metres)
        cx, cy = _centres(cells)
        lon, lat = _lonlat(cx, cy, crs)
        demand = pd.DataFrame({"id": "cell:" + cells["cell_id"].astype(str).to_numpy(dtype=object),
                               "lon": lon, "lat": lat,
                               "weight": cells["population"].to_numpy(dtype=float)})
        if areas is not None:
            area = locate(cx, cy, areas)
        else:
            area = np.full(len(cells), "all", dtype=object)
        basis = "population"
    else:
        children = waiting(inputs)
        pts = anchor_points(children, anchor)
        demand = pd.DataFrame({"id": pts["anchor_id"], "lon": pts["lon"], "lat": pts["lat"],
                               "weight": 1.0})
        if areas is not None:
            area = locate(*_xy(pts["lon"], pts["lat"], crs), areas)
        else:
            area = children["municipality"].to_numpy(dtype=object)
        basis = "children"
    if len(em) and len(demand):
        table = _times(times, net, em, demand, travel, origin_id="home_id", destination_id="id",
                       progress=progress)
        nearest = table.minutes.min(axis=0)
    else:
        nearest = np.full(len(demand), np.inf)
    pts_frame = pd.DataFrame({"id": demand["id"].to_numpy(dtype=object), "area_id": area,
                              "weight": demand["weight"].to_numpy(dtype=float),
                              "minutes": nearest})
    names = dict(zip(areas["area_id"], areas["name"], strict=True)) if areas is not None else {}
    rows = []
    for a in sorted({x for x in area if x is not None}):
        mine = pts_frame["area_id"].to_numpy(dtype=object) == a
        w = pts_frame["weight"].to_numpy(dtype=float)[mine]
        m = nearest[mine]
        row: dict[str, Any] = {"area_id": a, "name": names.get(a, a), "basis": basis,
                               "total": float(w.sum())}
        for b in bands:
            within = float(w[m <= b].sum())
            row[f"within_{b:g}"] = within
            row[f"share_{b:g}"] = within / row["total"] if row["total"] else np.nan
        row[f"beyond_{bands[-1]:g}"] = float(w[~(m <= bands[-1])].sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    if population is not None:
        cell_frame = gpd.GeoDataFrame(
            {"cell_id": cells["cell_id"].to_numpy(dtype=object),
             "total": demand["weight"].to_numpy(dtype=float),
             "uncovered": np.where(nearest <= bands[-1], 0.0, demand["weight"]),
             "minutes": nearest},
            geometry=cells.geometry.to_numpy(), crs=crs)
    else:
        cell_frame = _child_cells(demand, nearest, bands[-1], crs)
    cell_frame["band"] = _band_labels(cell_frame["minutes"].to_numpy(dtype=float), bands)
    logger.info(_("emergency coverage ({basis}): {homes} emergency homes, {points} demand "
                  "points, {areas} areas").format(basis=basis, homes=len(em),
                                                  points=len(demand), areas=len(out)))
    return CoverageResult(table=out, points=pts_frame, cells=cell_frame, bands=bands,
                          emergency_homes=len(em), areas=areas)


def _band_labels(minutes: np.ndarray, bands: tuple[float, ...]) -> np.ndarray:
    edges = [f"<={bands[0]:g}"] + [f"{a:g}-{b:g}" for a, b in itertools.pairwise(bands)]
    edges.append(f">{bands[-1]:g}")
    idx = np.searchsorted(np.asarray(bands), minutes, side="left")
    return np.array(edges, dtype=object)[idx]


def within_network(cells: gpd.GeoDataFrame, net: Network, max_metres: float) -> gpd.GeoDataFrame:
    """Return the cells whose centre lies within ``max_metres`` of a network node.

    Distances are measured in the network's CRS (``net.crs``, metres).
    """
    cx, cy = _centres(cells)
    if cells.crs is not None and not cells.crs.equals(net.crs):
        cx, cy = _transformer(str(cells.crs), net.crs).transform(cx, cy)
    dist, _index = cKDTree(np.column_stack([net.x, net.y])).query(np.column_stack([cx, cy]))
    keep = dist <= max_metres
    if (~keep).any():
        logger.info(_("{n} of {total} cells lie beyond {metres} m of the road network; left "
                      "out").format(n=int((~keep).sum()), total=len(cells),
                                    metres=_minutes_text(max_metres)))
    return cells[keep].reset_index(drop=True)


def _child_cells(demand: pd.DataFrame, nearest: np.ndarray, limit: float,
                 crs: str) -> gpd.GeoDataFrame:
    """Children aggregated to 250 m cells of ``crs``; the worst time per cell."""
    x, y = _xy(demand["lon"], demand["lat"], crs)
    ci, ri = np.floor(x / 250.0).astype(np.int64), np.floor(y / 250.0).astype(np.int64)
    frame = pd.DataFrame({"cell_id": [f"sq_{a}_{b}" for a, b in zip(ci, ri, strict=True)],
                          "ci": ci, "ri": ri, "total": demand["weight"].to_numpy(dtype=float),
                          "uncovered": np.where(nearest <= limit, 0.0, demand["weight"]),
                          "minutes": nearest})
    agg = frame.groupby("cell_id", sort=True).agg(ci=("ci", "first"), ri=("ri", "first"),
                                                  total=("total", "sum"),
                                                  uncovered=("uncovered", "sum"),
                                                  minutes=("minutes", "max")).reset_index()
    geoms = shapely.box(agg["ci"] * 250.0, agg["ri"] * 250.0, (agg["ci"] + 1) * 250.0,
                        (agg["ri"] + 1) * 250.0)
    return gpd.GeoDataFrame(agg.drop(columns=["ci", "ri"]), geometry=geoms, crs=crs)
