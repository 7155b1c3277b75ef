"""Planning areas: municipality polygons, hexagonal or square grids, and locating points
in them (working CRS, metres)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import i18n
from matcher.config import DEFAULT_CRS, Settings
from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.io import readers

__all__ = [
    "AREA_KINDS",
    "AreaKind",
    "grid_areas",
    "grid_cells",
    "locate",
    "municipality_areas",
    "name_cells",
    "pool_areas",
    "read_municipalities",
]

AREA_KINDS: tuple[str, ...] = ("municipality", "pool", "hex", "square")

AreaKind = Literal["municipality", "pool", "hex", "square"]


# =========================================================================== areas


def municipality_areas(polygons: gpd.GeoDataFrame, *, code_column: str = "kommunenummer",
                       name_column: str | None = "kommunenavn",
                       crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Return municipality polygons as planning areas in the working CRS ``crs``.

    Geometries are repaired with :func:`shapely.make_valid` (the Kartverket
    derived files are partly invalid) and parts of one code are dissolved.

    Parameters
    ----------
    polygons
        Polygon layer with a CRS and a 4-digit municipality code column.
    code_column, name_column
        Columns with the code (``kommunenummer``) and the name (optional).
    crs
        The working CRS, projected in metres (``network.crs``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` (4-digit code, str), ``name`` (str), ``geometry``
        (in ``crs``), sorted by ``area_id``.

    Raises
    ------
    InputError
        If the layer has no CRS or lacks the code column.
    """
    if polygons.crs is None:
        raise InputError(_("municipality polygons have no CRS; set it (e.g. "
                           "GeoDataFrame.set_crs('EPSG:4326')) and write the file again"))
    if code_column not in polygons.columns:
        raise InputError(_("municipality polygons lack column '{column}'; columns: {columns}")
                         .format(column=code_column,
                                 columns=", ".join(map(str, polygons.columns))))
    codes = polygons[code_column].astype(str).str.strip()
    codes = codes.where(~(codes.str.isdigit() & (codes.str.len() == 3)), codes.str.zfill(4))
    names = (polygons[name_column].astype(str) if name_column and name_column in polygons.columns
             else codes)
    geoms = shapely.make_valid(polygons.geometry.to_crs(crs).to_numpy())
    geoms = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(geoms[0]), (3, 6))  # polygon parts only
    frame = gpd.GeoDataFrame(
        {"area_id": codes.to_numpy(dtype=object)[geoms[1][keep]],
         "name": names.to_numpy(dtype=object)[geoms[1][keep]]},
        geometry=geoms[0][keep], crs=crs)
    out = frame.dissolve(by="area_id", aggfunc="first", sort=True).reset_index()
    return gpd.GeoDataFrame(out[["area_id", "name", "geometry"]].astype(
        {"area_id": "str", "name": "str"}), geometry="geometry", crs=crs)


def pool_areas(municipalities: gpd.GeoDataFrame,
               pools: dict[str, tuple[str, ...]]) -> gpd.GeoDataFrame:
    """Dissolve municipality areas into municipality cooperations (``scoring.pools``).

    Parameters
    ----------
    municipalities
        Areas from :func:`municipality_areas` (``area_id`` = 4-digit code).
    pools
        Pool name -> municipality numbers.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` (the pool name, or the municipality number of a
        municipality in no pool), ``name`` (the pool name, or the municipality
        name), ``geometry`` (the CRS of ``municipalities``), sorted by ``area_id``.
    """
    pool_of = {m: name for name, codes in pools.items() for m in codes}
    ids = municipalities["area_id"].astype(str)
    frame = municipalities.assign(
        area_id=ids.map(lambda m: pool_of.get(m, m)),
        name=[pool_of.get(m, n) for m, n in zip(ids, municipalities["name"], strict=True)])
    out = frame.dissolve(by="area_id", aggfunc="first", sort=True).reset_index()
    return gpd.GeoDataFrame(out[["area_id", "name", "geometry"]].astype(
        {"area_id": "str", "name": "str"}), geometry="geometry", crs=municipalities.crs)


def grid_areas(bounds: Sequence[float], *, cell_metres: float,
               shape: Literal["hex", "square"] = "hex",
               crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Return a hexagonal or square grid covering ``bounds``.

    The grid is anchored at the origin of ``crs``, so the same cell size
    always gives the same cells (and ids) whatever the bounds. Hexagons are
    flat-topped; column ``c`` has centres at ``x = 1.5 R c`` and
    ``y = h r + (h / 2 if c is odd)``, with ``h = cell_metres`` and
    ``R = h / sqrt(3)``.

    Parameters
    ----------
    bounds
        ``(xmin, ymin, xmax, ymax)`` in metres of ``crs``.
    cell_metres
        Distance in metres between the centres of neighbouring cells: the
        side of a square, the flat-to-flat width of a hexagon.
    shape
        ``"hex"`` or ``"square"``.
    crs
        The working CRS, projected in metres (``network.crs``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` (``hex_<col>_<row>`` / ``sq_<col>_<row>``), ``name`` (same),
        ``geometry`` (in ``crs``), sorted by ``area_id``.

    Raises
    ------
    InputError
        On a bad shape, a non-positive cell size or more than 200,000 cells.
    """
    _check_grid(cell_metres, shape)
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    h = cell_metres
    if shape == "square":
        cols = np.arange(math.floor(xmin / h), math.floor(xmax / h) + 1)
        rows = np.arange(math.floor(ymin / h), math.floor(ymax / h) + 1)
    else:
        dx = 1.5 * h / math.sqrt(3.0)
        cols = np.arange(math.floor(xmin / dx) - 1, math.ceil(xmax / dx) + 2)
        rows = np.arange(math.floor(ymin / h) - 1, math.ceil(ymax / h) + 2)
    if len(cols) * len(rows) > 200_000:
        raise InputError(_("a grid of {metres} m cells would have {cells} cells over this "
                           "extent (limit {limit}); use a larger cell size").format(
            metres=i18n.format_number(cell_metres, 0 if float(cell_metres).is_integer() else 1),
            cells=i18n.format_number(len(cols) * len(rows)),
            limit=i18n.format_number(200_000)))
    ci, ri = (a.ravel() for a in np.meshgrid(cols, rows, indexing="ij"))
    frame = _grid_frame(ci, ri, h, shape, crs)
    hit = shapely.intersects(frame.geometry.to_numpy(), shapely.box(xmin, ymin, xmax, ymax))
    return frame[hit].reset_index(drop=True)


def grid_cells(x: np.ndarray, y: np.ndarray, *, cell_metres: float,
               shape: Literal["hex", "square"] = "hex",
               crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Return only the grid cells (see :func:`grid_areas`) that hold at least one point.

    Parameters
    ----------
    x, y
        Points in metres of ``crs``.
    cell_metres, shape, crs
        As in :func:`grid_areas`; the cells are the same.
    """
    _check_grid(cell_metres, shape)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    h = cell_metres
    if shape == "square":
        ci, ri = np.floor(x / h).astype(np.int64), np.floor(y / h).astype(np.int64)
    else:
        # a hexagon is the Voronoi cell of its centre: take the nearest of the two
        # candidate columns around x (each with its nearest row)
        dx = 1.5 * h / math.sqrt(3.0)
        c0 = np.floor(x / dx).astype(np.int64)
        best = np.full(len(x), np.inf)
        ci = np.zeros(len(x), dtype=np.int64)
        ri = np.zeros(len(x), dtype=np.int64)
        for c in (c0, c0 + 1):
            offset = np.where(c % 2 == 1, h / 2.0, 0.0)
            r = np.round((y - offset) / h).astype(np.int64)
            d = np.hypot(x - c * dx, y - (r * h + offset))
            closer = d < best
            best = np.where(closer, d, best)
            ci, ri = np.where(closer, c, ci), np.where(closer, r, ri)
    pairs = np.unique(np.column_stack([ci, ri]), axis=0) if len(x) else np.zeros((0, 2), int)
    return _grid_frame(pairs[:, 0], pairs[:, 1], h, shape, crs)


def _check_grid(cell_metres: float, shape: str) -> None:
    if shape not in ("hex", "square"):
        raise InputError(_("grid shape '{shape}' is unknown; use one of hex, square").format(
            shape=shape))
    if not cell_metres > 0:
        raise InputError(_("cell size {metres} m must be > 0 metres").format(
            metres=cell_metres))


def _grid_frame(ci: np.ndarray, ri: np.ndarray, h: float, shape: str,
                crs: str) -> gpd.GeoDataFrame:
    """Cells ``(col, row)`` as polygons in ``crs``, sorted by ``area_id``."""
    if shape == "square":
        geoms = shapely.box(ci * h, ri * h, (ci + 1) * h, (ri + 1) * h)
        ids = [f"sq_{c}_{r}" for c, r in zip(ci, ri, strict=True)]
    else:
        radius = h / math.sqrt(3.0)
        cx = ci * 1.5 * radius
        cy = ri * h + np.where(ci % 2 == 1, h / 2.0, 0.0)
        angles = np.deg2rad(np.arange(0, 360, 60))
        ring = np.stack([cx[:, None] + radius * np.cos(angles)[None, :],
                         cy[:, None] + radius * np.sin(angles)[None, :]], axis=-1)
        geoms = shapely.polygons(ring) if len(ci) else np.array([], dtype=object)
        ids = [f"hex_{c}_{r}" for c, r in zip(ci, ri, strict=True)]
    frame = gpd.GeoDataFrame({"area_id": pd.Series(ids, dtype="str"),
                              "name": pd.Series(ids, dtype="str")}, geometry=geoms, crs=crs)
    return frame.sort_values("area_id", kind="stable").reset_index(drop=True)


def locate(x: np.ndarray, y: np.ndarray, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Return the ``area_id`` holding each point (metres in the CRS of ``areas``), or ``None``.

    A point on a shared border goes to the area that sorts first by ``area_id``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.full(len(x), None, dtype=object)
    if len(x) == 0 or len(areas) == 0:
        return out
    order = np.argsort(areas["area_id"].to_numpy(dtype=str), kind="stable")
    geoms = areas.geometry.to_numpy()[order]
    ids = areas["area_id"].to_numpy(dtype=object)[order]
    tree = shapely.STRtree(geoms)
    pts, hit = tree.query(shapely.points(x, y), predicate="intersects")
    first = np.full(len(x), len(geoms), dtype=np.int64)
    np.minimum.at(first, pts, hit)
    found = first < len(geoms)
    out[found] = ids[first[found]]
    return out


def name_cells(cells: gpd.GeoDataFrame,
               municipalities: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """Name grid cells for people: ``Oslo, rute 3`` (never the internal ``hex_<c>_<r>`` id).

    A cell takes the name of the municipality holding its centre and a number
    within that municipality, counted from the north-west (north to south,
    then west to east); a cell outside every polygon, or every cell without
    ``municipalities``, is numbered on its own (``rute 3``).

    Parameters
    ----------
    cells
        Grid cells (:func:`grid_cells`), in the working CRS (metres).
    municipalities
        Municipality polygons (:func:`municipality_areas`, any CRS).

    Returns
    -------
    numpy.ndarray
        One name per cell, in the current language, in the order of ``cells``.
    """
    cx, cy = _centres(cells)
    if municipalities is not None and len(cells):
        polys = municipalities.to_crs(cells.crs) if municipalities.crs != cells.crs \
            else municipalities
        where = locate(cx, cy, polys)
        label = dict(zip(polys["area_id"], polys["name"], strict=True))
        muni = np.array([label.get(a, "") if a is not None else "" for a in where], dtype=object)
    else:
        muni = np.full(len(cells), "", dtype=object)
    order = np.lexsort((cx, -np.round(cy, 3), muni.astype(str)))
    out = np.empty(len(cells), dtype=object)
    count: dict[str, int] = {}
    for i in order:
        n = count[muni[i]] = count.get(muni[i], 0) + 1
        out[i] = (_("{municipality}, cell {n}").format(municipality=muni[i], n=n) if muni[i]
                  else _("cell {n}").format(n=n))
    return out


def read_municipalities(path: str | Path, *, settings: Settings | None = None
                        ) -> gpd.GeoDataFrame:
    """Read municipality polygons (GeoJSON/GeoPackage) as planning areas.

    The file needs ``kommunenummer`` (else ``id``) and optionally
    ``kommunenavn`` (else ``name``); see :func:`municipality_areas`.

    Parameters
    ----------
    path
        The polygon file (any CRS).
    settings
        All settings; the areas are in the working CRS ``network.crs``
        (default :class:`~matcher.config.Settings`).

    Raises
    ------
    InputError
        If the file is missing, unreadable or lacks a code column.
    """
    frame = readers.read_polygons(path, what=_("municipality polygons"))
    code = next((c for c in ("kommunenummer", "id") if c in frame.columns), "kommunenummer")
    name = next((c for c in ("kommunenavn", "name") if c in frame.columns), None)
    crs = (settings or Settings()).crs
    return municipality_areas(frame, code_column=code, name_column=name, crs=crs)


def _centres(cells: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    c = shapely.centroid(cells.geometry.to_numpy())
    return shapely.get_x(c), shapely.get_y(c)
