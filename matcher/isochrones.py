"""Isochrones: the area reachable from a point within travel-time bands.

Each polygon covers the *reached* road edges (both ends within the band;
ferries excluded, since nobody lives on the fjord) widened by
``buffer_metres``, on a grid aligned to ``cell_metres``. A band's cells are a
superset of the previous band's, so 15 min lies inside 30 min inside 45 min
by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

from matcher.config import DEFAULT_BANDS_MINUTES, TravelSettings
from matcher.errors import InputError
from matcher.i18n import format_number
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.traveltime import Snapped, snap

__all__ = ["as_multi", "check_bands", "isochrones", "reached_minutes", "school_isochrones"]

logger = logging.getLogger(__name__)



def check_bands(bands_minutes: Sequence[float], *,
                example: str = "15,30,45,60") -> tuple[float, ...]:
    """Return travel-time bands as floats, or raise if they are not usable.

    Raises
    ------
    InputError
        If the bands are empty, not positive or not strictly ascending (minutes).
    """
    bands = tuple(float(b) for b in bands_minutes)
    if not bands or any(not b > 0 for b in bands) or list(bands) != sorted(set(bands)):
        raise InputError(_("bands {bands} must be positive minutes, strictly ascending, "
                           "e.g. {example}").format(bands=list(bands), example=example))
    return bands


def reached_minutes(net: Network, points: Snapped, *, limit_minutes: float,
                    towards: bool = False) -> np.ndarray:
    """Minutes from each point to every node (``inf`` beyond the limit).

    Includes the point's access leg. Shape ``(len(points.ids), net.n_nodes)``.
    With ``towards``, minutes from every node *to* the point (the reversed graph).
    A node and its copies (turn restrictions, :attr:`Network.copy_of`) get the
    best of their minutes: they are one place.
    """
    if len(net.copy_of):
        # trips start and end at the point's node or any of its copies (in-ports, turn
        # restrictions): search from all of them at once
        graph = net.reverse if towards else net.graph
        rows = [dijkstra(graph, directed=True, min_only=True, limit=limit_minutes,
                         indices=np.concatenate([[node], net.n_road_nodes
                                                 + np.flatnonzero(net.copy_of == node)]))
                for node in points.node]
        dist = np.vstack(rows) if rows else np.empty((0, net.n_nodes))
    else:
        graph = net.reverse if towards else net.graph
        dist = dijkstra(graph, directed=True, indices=points.node, limit=limit_minutes)
    dist = np.atleast_2d(dist) + points.access_minutes[:, None]
    dist[~(dist <= limit_minutes)] = np.inf
    if len(net.copy_of):  # a copy of a via node is the same place: node and copies alike
        m = net.n_road_nodes
        dist[:, :m] = net.fold_copies(dist)
        dist[:, m:] = dist[:, net.copy_of]
    return dist


def isochrones(net: Network, points: Snapped,
               bands_minutes: Sequence[float] = DEFAULT_BANDS_MINUTES,
               *, buffer_metres: float = 150.0, cell_metres: float = 100.0,
               towards: bool = False,
               progress: Callable[[int, int], None] | None = None) -> gpd.GeoDataFrame:
    """Build nested isochrone polygons for each point.

    Reached roads are sampled every half cell, the grid cells they touch are
    dilated by ``buffer_metres`` and merged with a coverage union. This is a
    rasterised "buffer the reached edges and union them": much faster than
    unioning thousands of buffers, and exactly nested because a band's cells
    are a superset of the previous band's cells.

    Parameters
    ----------
    net
        Road network; polygons are in its CRS (metres, EPSG:25833 by default).
    points
        Snapped points (:func:`matcher.traveltime.snap`).
    bands_minutes
        Ascending travel-time bands in minutes, e.g. ``(15, 30, 45, 60)``.
    buffer_metres
        Half-width of the corridor around each reached road, in metres.
    cell_metres
        Grid resolution in metres; the grid is aligned to multiples of it, as
        SSB's statistical grids are.
    towards
        Bands of travel time *to* each point (from every place around it)
        instead of *from* it; the two differ on one-way roads and ferries.
    progress
        Called with ``(points done, points total)``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id, minutes, geometry``; one row per point and band, in
        point order then band order. An unreachable band is an empty polygon.

    Raises
    ------
    InputError
        If the bands are not positive and strictly ascending, or the sizes are not positive.
    """
    bands = list(check_bands(bands_minutes))
    if not (buffer_metres > 0 and cell_metres > 0):
        raise InputError(_("buffer_metres and cell_metres must be > 0 metres"))
    sample_edge, sx, sy = _edge_samples(net, cell_metres / 2)
    u = net.edges["u"].to_numpy()
    v = net.edges["v"].to_numpy()
    radius = int(np.ceil(buffer_metres / cell_metres))
    kernel = np.array([(a, b) for a in range(-radius, radius + 1)
                       for b in range(-radius, radius + 1)
                       if (max(abs(a) - 0.5, 0) ** 2 + max(abs(b) - 0.5, 0) ** 2) * cell_metres**2
                       <= buffer_metres**2], dtype=np.int64)
    sample_key = _cell_key(sx, sy, cell_metres)
    rows: list[tuple[str, float, shapely.Geometry]] = []
    total = len(points.ids)
    if progress:
        progress(0, total)
    for k in range(total):
        one = Snapped(points.ids[k:k + 1], points.node[k:k + 1],
                      points.access_minutes[k:k + 1], points.distance_m[k:k + 1])
        t = reached_minutes(net, one, limit_minutes=bands[-1], towards=towards)[0]
        sample_t = np.maximum(t[u], t[v])[sample_edge]
        node = points.node[k]
        own = _cell_key(net.x[node:node + 1], net.y[node:node + 1], cell_metres)
        cells = np.empty(0, dtype=np.int64)
        for band in bands:
            if t[node] > band:  # the access leg alone exceeds the band
                rows.append((str(points.ids[k]), band, shapely.Polygon()))
                continue
            base = np.unique(np.concatenate([own, sample_key[sample_t <= band]]))
            bx, by = np.divmod(base, _KEY)
            grown = ((bx[:, None] + kernel[None, :, 0]) * _KEY + by[:, None] + kernel[None, :, 1])
            cells = np.union1d(cells, grown.ravel())
            gx, gy = np.divmod(cells, _KEY)
            gx = (gx - _OFFSET) * cell_metres
            gy = (gy - _OFFSET) * cell_metres
            boxes = shapely.box(gx, gy, gx + cell_metres, gy + cell_metres)
            rows.append((str(points.ids[k]), band, shapely.coverage_union_all(boxes)))
        if progress:
            progress(k + 1, total)
    logger.info(_("isochrones: {points} points x {bands} bands").format(
        points=format_number(total), bands=len(bands)))
    return gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "minutes": [r[1] for r in rows]},
        geometry=[r[2] for r in rows], crs=net.crs,
    )


def school_isochrones(net: Network, children: pd.DataFrame, settings: TravelSettings, *,
                      bands_minutes: Sequence[float] = DEFAULT_BANDS_MINUTES,
                      crs: str | None = None) -> gpd.GeoDataFrame:
    """Reachable-area bands towards each child's school (as ``school_minutes`` are timed).

    Children sharing a school share its polygons; one search runs per school.

    Parameters
    ----------
    net
        Road network.
    children
        Children indexed by ``child_id`` with ``school_lon``/``school_lat``
        (EPSG:4326 degrees); children without a school are left out.
    settings
        Snapping options.
    bands_minutes
        Ascending bands in minutes.
    crs
        CRS of the result (default: the network's; metres).

    Returns
    -------
    geopandas.GeoDataFrame
        ``child_id``, ``minutes`` and (multi)polygons, one row per child and
        non-empty band.
    """
    crs = crs or net.crs
    children = children[children["school_lon"].notna()]
    empty = gpd.GeoDataFrame({"child_id": pd.Series(dtype="str"),
                              "minutes": pd.Series(dtype=float)},
                             geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    if children.empty:
        return empty
    schools = children[["school_lon", "school_lat"]].drop_duplicates().reset_index(drop=True)
    school_ids = np.array([f"school-{i + 1}" for i in range(len(schools))], dtype=object)
    snapped = snap(net, school_ids, schools["school_lon"].to_numpy(),
                   schools["school_lat"].to_numpy(), settings, source="schools")
    polygons = isochrones(net, snapped, bands_minutes, towards=True).to_crs(crs)
    school_of = pd.Series(school_ids, index=pd.MultiIndex.from_frame(schools))
    child_school = school_of.reindex(pd.MultiIndex.from_frame(
        children[["school_lon", "school_lat"]])).to_numpy()
    link = pd.DataFrame({"child_id": children.index.to_numpy(dtype=object),
                         "id": child_school})
    out = link.merge(pd.DataFrame(polygons), on="id", how="inner", sort=False)
    out = out[~shapely.is_empty(out["geometry"].to_numpy())]
    logger.info(_("school isochrones: {children} children, {schools} schools, {bands} "
                  "bands").format(children=format_number(len(children)),
                                  schools=format_number(len(schools)),
                                  bands=len(tuple(bands_minutes))))
    return gpd.GeoDataFrame({"child_id": out["child_id"].astype(str).to_numpy(),
                             "minutes": out["minutes"].to_numpy(dtype=float)},
                            geometry=as_multi(out["geometry"].to_numpy()), crs=crs)


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Promote polygons and lines to their multi type, as a GeoPackage layer stores them."""
    out = np.array(geoms, dtype=object)
    kinds = shapely.get_type_id(out)
    for kind, multi in ((1, shapely.MultiLineString), (3, shapely.MultiPolygon)):
        for i in np.flatnonzero(kinds == kind):
            out[i] = multi([out[i]])
    return out


_OFFSET = 1 << 20
_KEY = 1 << 22


def _cell_key(x: np.ndarray, y: np.ndarray, cell_metres: float) -> np.ndarray:
    """Encode grid cells as one int64 each (offset so that keys stay positive)."""
    cx = np.floor(np.asarray(x) / cell_metres).astype(np.int64) + _OFFSET
    cy = np.floor(np.asarray(y) / cell_metres).astype(np.int64) + _OFFSET
    return cx * _KEY + cy


def _edge_samples(net: Network, step_metres: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``step_metres`` along each non-ferry edge: (edge index, x, y)."""
    road = np.flatnonzero(~net.edges["ferry"].to_numpy())
    u = net.edges["u"].to_numpy()[road]
    v = net.edges["v"].to_numpy()[road]
    dx = net.x[v] - net.x[u]
    dy = net.y[v] - net.y[u]
    pieces = np.maximum(1, np.ceil(np.hypot(dx, dy) / step_metres)).astype(np.int64)
    counts = pieces + 1
    edge = np.repeat(np.arange(len(road)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(counts.sum()) - starts) / np.repeat(pieces, counts)
    return road[edge], net.x[u][edge] + frac * dx[edge], net.y[u][edge] + frac * dy[edge]
