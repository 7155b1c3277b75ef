r"""Recruitment and support planning: gaps, accessibility, what-if, recruitment, coverage.

Where are foster homes missing, which competence is missing where, what would
new homes change, where should the next homes be recruited, how far is every
child from an emergency home, and which resource family supports which home.
Everything works on travel times in minutes from the road network
(:mod:`matcher.traveltime`) and in EPSG:25833 metres for areas.

Terms
-----
*Waiting child*
    A child of the children table without a locked placement.
*Anchor* of a child
    The point its travel times are measured to: the school (``school``, the
    default for gaps and recruitment; a child without a school position falls
    back to the home it lived in) or the home it lived in (``home``, the
    default for emergency coverage). Anchor ids follow
    :func:`matcher.schema.anchors`: ``<child_id>:school`` / ``<child_id>:home``.
*Free places* of a home
    ``capacity`` minus its locked placements.
*Reachable* home of a child
    Free places > 0, the child's age within ``min_age..max_age``, the kind rule
    of :mod:`matcher.scoring` (a kinship home only for its own child or sibling
    group, an emergency home only for acute children) and travel time from the
    home to the child's anchor ``<= T`` minutes.
*Suitable* home
    A reachable home with a competence for every need of the child
    (``ScoringSettings.need_competences``; a need that is itself a competence
    tag requires that tag). Planning is strict: needs that the matcher may
    meet by training (``AssignmentSettings.trainable_needs``) still count as
    needs here, because recruitment is about the competence that is missing.
*Covered* child
    A waiting child with a suitable home within ``T`` minutes.

Functions
---------
* :func:`gaps` - per area (municipality polygons or a hexagonal/square grid),
  waiting and unmatched children without a suitable home within ``T``,
  broken down by the need (and so the competence) that is missing, ranked;
  plus mean two-step floating catchment accessibility (:func:`two_step_fca`).
* :func:`whatif` - add hypothetical homes, rerun the match
  (:func:`matcher.pipeline.run`) and compare with the baseline.
* :func:`recruit` - the ``k`` candidate sites that most increase the number
  of covered children: a maximal covering location problem (:func:`mclp`).
* :func:`emergency_coverage` - share of children (or of the population)
  within 30 and 45 minutes of an available emergency home, per municipality.
* :func:`assign_resource_families`, :func:`local_networks` and
  :func:`cafes` - support structures for foster homes.
* :func:`oslo_scenario` - a synthetic demonstration on real Oslo data.

Maps (:func:`gaps_map`, :func:`coverage_map`) are drawn with matplotlib's Agg
canvas (no pyplot, no display) and returned as PNG bytes; the CLI writes them.
Maps only show areas and 250 m cells, never a child's position.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import itertools
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely
from pyproj import Transformer
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from matcher import pipeline, schema, traveltime
from matcher.config import ScoringSettings, Settings, TravelSettings
from matcher.errors import InfeasibleError, InputError, Problem, raise_if_problems
from matcher.isochrones import check_bands
from matcher.network import Network
from matcher.schema import Inputs
from matcher.traveltime import TimeTable

logger = logging.getLogger(__name__)

WORK_CRS = "EPSG:25833"
"""Projected CRS of areas, cells and candidate sites (UTM 33N, metres)."""

AREA_KINDS: tuple[str, ...] = ("municipality", "hex", "square")
ANCHORS: tuple[str, ...] = ("school", "home")
DEFAULT_MINUTES = 30.0
"""Default catchment ``T`` in minutes."""
DEFAULT_BANDS: tuple[float, ...] = (30.0, 45.0)
"""Default emergency-coverage bands in minutes."""
MAX_HOMES_PER_FAMILY = 5
"""A resource family supports at most this many foster homes (default)."""
ATTRIBUTION = ("Road data © OpenStreetMap contributors (ODbL 1.0). Municipalities: Kartverket. "
               "Population: SSB 250 m grid. Children and homes are synthetic.")

AreaKind = Literal["municipality", "hex", "square"]
Anchor = Literal["school", "home"]
Step = Callable[[str], None]


# =========================================================================== areas


def municipality_areas(polygons: gpd.GeoDataFrame, *, code_column: str = "kommunenummer",
                       name_column: str | None = "kommunenavn") -> gpd.GeoDataFrame:
    """Return municipality polygons as planning areas in EPSG:25833.

    Geometries are repaired with :func:`shapely.make_valid` (the Kartverket
    derived files are partly invalid) and parts of one code are dissolved.

    Parameters
    ----------
    polygons
        Polygon layer with a CRS and a 4-digit municipality code column.
    code_column, name_column
        Columns with the code (``kommunenummer``) and the name (optional).

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` (4-digit code, str), ``name`` (str), ``geometry``
        (EPSG:25833), sorted by ``area_id``.

    Raises
    ------
    InputError
        If the layer has no CRS or lacks the code column.
    """
    if polygons.crs is None:
        raise InputError("municipality polygons have no CRS; set it (e.g. "
                         "GeoDataFrame.set_crs('EPSG:4326')) and write the file again")
    if code_column not in polygons.columns:
        raise InputError(f"municipality polygons lack column '{code_column}'; columns: "
                         f"{', '.join(map(str, polygons.columns))}")
    codes = polygons[code_column].astype(str).str.strip()
    codes = codes.where(~(codes.str.isdigit() & (codes.str.len() == 3)), codes.str.zfill(4))
    names = (polygons[name_column].astype(str) if name_column and name_column in polygons.columns
             else codes)
    geoms = shapely.make_valid(polygons.geometry.to_crs(WORK_CRS).to_numpy())
    geoms = shapely.get_parts(geoms, return_index=True)
    keep = np.isin(shapely.get_type_id(geoms[0]), (3, 6))  # polygon parts only
    frame = gpd.GeoDataFrame(
        {"area_id": codes.to_numpy(dtype=object)[geoms[1][keep]],
         "name": names.to_numpy(dtype=object)[geoms[1][keep]]},
        geometry=geoms[0][keep], crs=WORK_CRS)
    out = frame.dissolve(by="area_id", aggfunc="first", sort=True).reset_index()
    return gpd.GeoDataFrame(out[["area_id", "name", "geometry"]].astype(
        {"area_id": "str", "name": "str"}), geometry="geometry", crs=WORK_CRS)


def grid_areas(bounds: Sequence[float], *, cell_metres: float,
               shape: Literal["hex", "square"] = "hex") -> gpd.GeoDataFrame:
    """Return a hexagonal or square grid covering ``bounds``.

    The grid is anchored at the origin of EPSG:25833, so the same cell size
    always gives the same cells (and ids) whatever the bounds. Hexagons are
    flat-topped; column ``c`` has centres at ``x = 1.5 R c`` and
    ``y = h r + (h / 2 if c is odd)``, with ``h = cell_metres`` and
    ``R = h / sqrt(3)``.

    Parameters
    ----------
    bounds
        ``(xmin, ymin, xmax, ymax)`` in EPSG:25833 metres.
    cell_metres
        Distance in metres between the centres of neighbouring cells: the
        side of a square, the flat-to-flat width of a hexagon.
    shape
        ``"hex"`` or ``"square"``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id`` (``hex_<col>_<row>`` / ``sq_<col>_<row>``), ``name`` (same),
        ``geometry`` (EPSG:25833), sorted by ``area_id``.

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
        raise InputError(f"a grid of {cell_metres:g} m cells would have "
                         f"{len(cols) * len(rows):,} cells over this extent (limit 200,000); "
                         "use a larger cell size")
    ci, ri = (a.ravel() for a in np.meshgrid(cols, rows, indexing="ij"))
    frame = _grid_frame(ci, ri, h, shape)
    hit = shapely.intersects(frame.geometry.to_numpy(), shapely.box(xmin, ymin, xmax, ymax))
    return frame[hit].reset_index(drop=True)


def grid_cells(x: np.ndarray, y: np.ndarray, *, cell_metres: float,
               shape: Literal["hex", "square"] = "hex") -> gpd.GeoDataFrame:
    """Return only the grid cells (see :func:`grid_areas`) that hold at least one point.

    Parameters
    ----------
    x, y
        Points in EPSG:25833 metres.
    cell_metres, shape
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
    return _grid_frame(pairs[:, 0], pairs[:, 1], h, shape)


def _check_grid(cell_metres: float, shape: str) -> None:
    if shape not in ("hex", "square"):
        raise InputError(f"grid shape '{shape}' is unknown; use one of hex, square")
    if not cell_metres > 0:
        raise InputError(f"cell size {cell_metres} m must be > 0 metres")


def _grid_frame(ci: np.ndarray, ri: np.ndarray, h: float, shape: str) -> gpd.GeoDataFrame:
    """Cells ``(col, row)`` as polygons (EPSG:25833), sorted by ``area_id``."""
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
                              "name": pd.Series(ids, dtype="str")}, geometry=geoms, crs=WORK_CRS)
    return frame.sort_values("area_id", kind="stable").reset_index(drop=True)


def locate(x: np.ndarray, y: np.ndarray, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Return the ``area_id`` holding each point (EPSG:25833 metres), or ``None``.

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


def read_municipalities(path: str | Path) -> gpd.GeoDataFrame:
    """Read municipality polygons (GeoJSON/GeoPackage) as planning areas (EPSG:25833).

    The file needs ``kommunenummer`` (else ``id``) and optionally
    ``kommunenavn`` (else ``name``); see :func:`municipality_areas`.

    Raises
    ------
    InputError
        If the file is missing, unreadable or lacks a code column.
    """
    frame = _read_layer(Path(path), "municipality polygons")
    code = next((c for c in ("kommunenummer", "id") if c in frame.columns), "kommunenummer")
    name = next((c for c in ("kommunenavn", "name") if c in frame.columns), None)
    return municipality_areas(frame, code_column=code, name_column=name)


def read_population(path: str | Path) -> gpd.GeoDataFrame:
    """Read an SSB population grid (``ru250m``, ``pop_tot``) as cells in EPSG:25833.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id`` (str), ``population`` (float, persons), ``geometry``
        (cell polygons, EPSG:25833), cells with population > 0 only.

    Raises
    ------
    InputError
        If the file is missing, unreadable, has no CRS or lacks the columns.
    """
    frame = _read_layer(Path(path), "population grid")
    missing = [c for c in ("pop_tot",) if c not in frame.columns]
    if missing:
        raise InputError(f"{Path(path).name}: population grid lacks column(s) {missing}; an SSB "
                         "250 m grid has ru250m and pop_tot")
    if frame.crs is None:
        raise InputError(f"{Path(path).name}: population grid has no CRS; set EPSG:25833")
    ids = (frame["ru250m"].astype(str) if "ru250m" in frame.columns
           else pd.Series([f"cell{i}" for i in range(len(frame))]))
    pop = pd.to_numeric(frame["pop_tot"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    cells = gpd.GeoDataFrame({"cell_id": ids.to_numpy(dtype=object), "population": pop},
                             geometry=frame.geometry.to_crs(WORK_CRS).to_numpy(), crs=WORK_CRS)
    cells = cells[cells["population"] > 0].astype({"cell_id": "str"})
    return cells.sort_values("cell_id", kind="stable").reset_index(drop=True)


def _read_layer(path: Path, what: str) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found; check the path")
    try:
        return gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises many kinds on a bad file
        raise InputError(f"{path.name}: cannot read the {what} ({type(exc).__name__}); check "
                         "that it is a complete GeoJSON or GeoPackage file") from None


# =========================================================================== shared pieces


_TO_WORK = Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)
_TO_LONLAT = Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)


def _xy(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _TO_WORK.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _lonlat(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _TO_LONLAT.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def waiting(inputs: Inputs) -> pd.DataFrame:
    """Return the waiting children (without a locked placement), in table order."""
    locked = set(inputs.placements["child_id"])
    return inputs.children[~inputs.children["child_id"].isin(locked)].reset_index(drop=True)


def free_places(inputs: Inputs) -> np.ndarray:
    """Return each home's free places: ``capacity`` minus its locked placements (>= 0)."""
    used = inputs.placements["home_id"].value_counts()
    taken = inputs.homes["home_id"].map(used).fillna(0).to_numpy(dtype=np.int64)
    return np.maximum(inputs.homes["capacity"].to_numpy(dtype=np.int64) - taken, 0)


def anchor_points(children: pd.DataFrame, anchor: Anchor = "school") -> pd.DataFrame:
    """Return one anchor point per child: ``anchor_id, child_id, kind, lon, lat``.

    ``anchor="school"`` uses the school position, and the home the child lived
    in for children without one; ``anchor="home"`` always uses the home.
    Coordinates are EPSG:4326 degrees.
    """
    _check_choice("anchor", anchor, ANCHORS)
    has_school = children["school_lon"].notna().to_numpy() if anchor == "school" else \
        np.zeros(len(children), dtype=bool)
    kind = np.where(has_school, "school", "home")
    return pd.DataFrame({
        "anchor_id": (children["child_id"] + ":" + kind).to_numpy(dtype=object),
        "child_id": children["child_id"].to_numpy(dtype=object),
        "kind": kind.astype(object),
        "lon": np.where(has_school, children["school_lon"], children["lon"]).astype(float),
        "lat": np.where(has_school, children["school_lat"], children["lat"]).astype(float),
    })


def travel_times(net: Network, origins: pd.DataFrame, destinations: pd.DataFrame,
                 settings: TravelSettings | None = None, *, origin_id: str = "id",
                 destination_id: str = "id",
                 progress: Callable[[int, int], None] | None = None) -> TimeTable:
    """Snap two point tables (EPSG:4326) and return origin -> destination minutes.

    Raises
    ------
    InputError
        Naming every point too far from the network (by id).
    """
    settings = settings or TravelSettings()
    problems: list[Problem] = []
    snapped: list[traveltime.Snapped] = []
    for frame, col, source in ((origins, origin_id, "origins"),
                               (destinations, destination_id, "destinations")):
        try:
            snapped.append(traveltime.snap(net, frame[col].astype(str).to_numpy(dtype=object),
                                           frame["lon"], frame["lat"], settings, source=source))
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_problems("some points cannot be placed on the road network", problems)
    return traveltime.matrix(net, snapped[0], snapped[1], settings, progress=progress)


def _accepted(need: str, settings: ScoringSettings) -> tuple[str, ...]:
    accepted = list(settings.need_competences.get(need, ()))
    if need in settings.competences and need not in accepted:
        accepted.append(need)
    return tuple(accepted)


def need_tags(settings: ScoringSettings, children: pd.DataFrame | None = None) -> list[str]:
    """Need tags reported in breakdowns: ``need_competences`` keys, then any others present."""
    tags = list(settings.need_competences)
    if children is not None:
        seen = sorted({n for needs in children["needs"] for n in needs} - set(tags))
        tags += seen
    return tags


@dataclass(frozen=True)
class _Fit:
    """Which homes each child may use, before travel time and competences."""

    base: np.ndarray  # (n_children, n_homes): free place, age, kind
    meets: dict[str, np.ndarray]  # need -> (n_homes,) home has an accepted competence
    needs: list[tuple[str, ...]]  # per child

    def suitable(self) -> np.ndarray:
        """``base`` and every need of the child met by the home."""
        out = self.base.copy()
        for c, needs in enumerate(self.needs):
            for need in needs:
                out[c] &= self.meets[need]
        return out


def _fit(children: pd.DataFrame, homes: pd.DataFrame, free: np.ndarray,
         settings: ScoringSettings) -> _Fit:
    age = children["age"].to_numpy(dtype=np.int64)[:, None]
    age_ok = (homes["min_age"].to_numpy(dtype=np.int64)[None, :] <= age) & \
        (age <= homes["max_age"].to_numpy(dtype=np.int64)[None, :])
    kind = homes["kind"].to_numpy(dtype=object)
    kin_of = homes["kin_of"].to_numpy(dtype=object)
    child_id = children["child_id"].to_numpy(dtype=object)[:, None]
    group = children["sibling_group"].to_numpy(dtype=object)[:, None]
    own_kin = (kin_of[None, :] == child_id) | ((kin_of[None, :] == group)
                                               & pd.notna(group))
    acute = (children["urgency"] == "acute").to_numpy()[:, None]
    kind_ok = np.where((kind == "kinship")[None, :], own_kin,
                       np.where((kind == "emergency")[None, :], acute, True))
    base = (np.asarray(free) > 0)[None, :] & age_ok & kind_ok
    comps = [set(c) for c in homes["competences"]]
    needs = [tuple(n) for n in children["needs"]]
    tags = {n for ns in needs for n in ns}
    meets = {t: np.array([bool(set(_accepted(t, settings)) & c) for c in comps], dtype=bool)
             for t in tags}
    return _Fit(base=base.astype(bool), meets=meets, needs=needs)


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InputError(f"{name} '{value}' is unknown; use one of {', '.join(allowed)}")


def _check_minutes(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{name} {value!r} must be a number of minutes > 0")


def _times(times: TimeTable | None, net: Network | None, origins: pd.DataFrame,
           destinations: pd.DataFrame, settings: TravelSettings, *, origin_id: str,
           destination_id: str, progress: Callable[[int, int], None] | None) -> TimeTable:
    """Given times restricted to the points, or times computed on the network."""
    if times is None:
        if net is None:
            raise InputError("give a road network (--network/--osm) or a travel-time table")
        return travel_times(net, origins, destinations, settings, origin_id=origin_id,
                            destination_id=destination_id, progress=progress)
    return times.select(origins[origin_id].astype(str).to_numpy(dtype=object),
                        destinations[destination_id].astype(str).to_numpy(dtype=object))


# =========================================================================== 2SFCA


@dataclass(frozen=True)
class FCAResult:
    """Two-step floating catchment accessibility.

    Attributes
    ----------
    ratio
        Per supply location: supply / demand inside its catchment (places per
        child); 0 where no demand is inside.
    access
        Per demand location: sum of the ratios of the supply locations whose
        catchment holds it (places per child); 0 where none does.
    catchment_minutes
        The catchment ``T`` in minutes.
    """

    ratio: np.ndarray
    access: np.ndarray
    catchment_minutes: float


def two_step_fca(minutes: np.ndarray, supply: np.ndarray, demand: np.ndarray, *,
                 catchment_minutes: float) -> FCAResult:
    r"""Two-step floating catchment area (2SFCA) accessibility on a dense matrix.

    With travel time :math:`t_{jk}` (minutes) from supply location :math:`j`
    to demand location :math:`k`, supply :math:`S_j` (free places) and demand
    :math:`D_k` (children):

    .. math::

        R_j = \frac{S_j}{\sum_{k : t_{jk} \le T} D_k}, \qquad
        A_k = \sum_{j : t_{jk} \le T} R_j

    (Luo & Wang 2003). :math:`R_j = 0` when no demand lies in the catchment.

    Why not PySAL ``access``: it installs from PyPI (1.1.10) and its
    functional ``access.fca.two_stage_fca`` gives the same numbers, but its
    ``Access`` class calls ``DataFrame.set_index(inplace=True)``, which raises
    ``Pandas4Warning`` under pandas 3.1, and this project runs with warnings as
    errors. It also needs the matrix in long form merged through pandas and
    leaves demand points without supply out of its result (here they get 0).
    On a dense :class:`~matcher.traveltime.TimeTable` 2SFCA is two
    matrix-vector products, so a dependency is not worth it.

    Parameters
    ----------
    minutes
        ``(n_supply, n_demand)`` travel times in minutes; ``inf``/NaN are
        outside every catchment.
    supply, demand
        Non-negative weights per supply and per demand location.
    catchment_minutes
        ``T`` in minutes (inclusive).

    Raises
    ------
    InputError
        On mismatched shapes, negative or non-finite weights, or ``T <= 0``.
    """
    t = np.asarray(minutes, dtype=float)
    s = np.asarray(supply, dtype=float)
    d = np.asarray(demand, dtype=float)
    problems = []
    if t.ndim != 2 or t.shape != (len(s), len(d)):
        problems.append(Problem("2SFCA", f"minutes has shape {t.shape}; expected "
                                         f"({len(s)}, {len(d)}) = (supply, demand)"))
    if not (np.isfinite(s).all() and (s >= 0).all()):
        problems.append(Problem("2SFCA", "supply must be finite and >= 0"))
    if not (np.isfinite(d).all() and (d >= 0).all()):
        problems.append(Problem("2SFCA", "demand must be finite and >= 0"))
    raise_if_problems("cannot compute 2SFCA", problems)
    _check_minutes("catchment", catchment_minutes)
    inside = (t <= catchment_minutes).astype(float)
    demand_in = inside @ d
    ratio = np.divide(s, demand_in, out=np.zeros_like(s), where=demand_in > 0)
    access = inside.T @ ratio
    return FCAResult(ratio=ratio, access=access, catchment_minutes=float(catchment_minutes))


# =========================================================================== gaps


@dataclass(frozen=True)
class GapResult:
    """Recruitment gaps per area.

    Attributes
    ----------
    table
        One row per area with at least one waiting child or home, ranked:
        ``rank, area_id, name, children, uncovered, share_uncovered, no_home,
        need:<tag>...`` (uncovered children whose need ``tag`` no reachable
        home meets), ``needs_not_in_one_home`` (each need met by some reachable
        home, never all by one), ``unmatched``, ``unmatched_uncovered`` (NA
        without a run), ``homes``, ``places`` (free places of homes in the
        area) and ``access_2sfca`` (mean 2SFCA accessibility of its children,
        places per child). Ranked by ``uncovered``, ``unmatched_uncovered``,
        ``children`` (descending), then ``area_id``.
    areas
        The same rows with area polygons (EPSG:25833), for maps and GeoPackage.
    by_need
        Long form ``area_id, need, competences, uncovered`` (competences that
        would meet the need, ``|``-joined), rows with ``uncovered > 0``.
    children
        Per waiting child: ``child_id, anchor_id, area_id, covered, reachable``
        (reachable homes), ``suitable`` (suitable homes), ``missing_needs``
        (``;``-joined) and ``access_2sfca``. Ids only, no positions.
    minutes
        The catchment ``T`` in minutes.
    area_kind
        ``municipality``, ``hex`` or ``square``.
    outside
        Waiting children whose anchor lies in no area (left out of the table).
    """

    table: pd.DataFrame
    areas: gpd.GeoDataFrame
    by_need: pd.DataFrame
    children: pd.DataFrame
    minutes: float
    area_kind: str
    outside: int

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        t = self.table
        unmatched = t["unmatched"].dropna()
        return {
            "minutes": self.minutes, "area_kind": self.area_kind, "areas": len(t),
            "children": int(t["children"].sum()), "uncovered": int(t["uncovered"].sum()),
            "no_home": int(t["no_home"].sum()),
            "unmatched": int(unmatched.sum()) if len(unmatched) else None,
            "outside": self.outside,
            "top_areas": t["area_id"].head(5).tolist(),
        }


def gaps(inputs: Inputs, *, settings: ScoringSettings, areas: gpd.GeoDataFrame | None = None,
         area_kind: AreaKind = "municipality", cell_metres: float = 1000.0,
         minutes: float = DEFAULT_MINUTES, anchor: Anchor = "school",
         unmatched: Collection[str] | None = None, times: TimeTable | None = None,
         net: Network | None = None, travel: TravelSettings | None = None,
         progress: Callable[[int, int], None] | None = None) -> GapResult:
    """Count waiting children without a suitable home within ``minutes``, per area.

    Parameters
    ----------
    inputs
        Validated inputs.
    settings
        Scoring settings: ``need_competences`` and ``competences``.
    areas
        Municipality polygons (:func:`municipality_areas`); required for
        ``area_kind="municipality"``, ignored for grids.
    area_kind
        ``municipality`` or a ``hex``/``square`` grid of ``cell_metres``
        (EPSG:25833) over the children's anchors and the homes.
    cell_metres
        Grid cell size in metres (see :func:`grid_areas`).
    minutes
        Catchment ``T`` in minutes (home -> anchor), also the 2SFCA catchment.
    anchor
        ``school`` (default) or ``home``; see the module docstring.
    unmatched
        Ids of children a matching run left unmatched (``None``: no run).
    times
        Travel times, origins ``home_id``, destinations anchor ids; computed
        on ``net`` when not given. Missing pairs are unreachable.
    net, travel
        Road network and travel settings, used when ``times`` is not given.

    Raises
    ------
    InputError
        On bad options, or when neither ``times`` nor ``net`` is given.
    """
    _check_choice("area kind", area_kind, AREA_KINDS)
    _check_choice("anchor", anchor, ANCHORS)
    _check_minutes("minutes", minutes)
    if area_kind == "municipality" and areas is None:
        raise InputError("municipality areas need polygons (--municipalities FILE); or use a "
                         "grid: --areas hex or --areas square")
    children = waiting(inputs)
    homes = inputs.homes
    free = free_places(inputs)
    points = anchor_points(children, anchor)
    table = _times(times, net, homes, points, travel or TravelSettings(), origin_id="home_id",
                   destination_id="anchor_id", progress=progress)
    t = table.minutes.T  # (children, homes)

    fit = _fit(children, homes, free, settings)
    reach = fit.base & (t <= minutes)
    suitable = fit.suitable() & (t <= minutes)
    covered = suitable.any(axis=1)
    tags = need_tags(settings, children)
    missing: list[tuple[str, ...]] = []
    for c, needs in enumerate(fit.needs):
        if covered[c] or not reach[c].any():
            missing.append(())
            continue
        missing.append(tuple(n for n in needs if not (reach[c] & fit.meets[n]).any()))

    not_kin = (homes["kind"] != "kinship").to_numpy()
    fca = two_step_fca(table.minutes, np.where(not_kin, free, 0), np.ones(len(children)),
                       catchment_minutes=minutes)

    ax, ay = _xy(points["lon"], points["lat"])
    hx, hy = _xy(homes["lon"], homes["lat"])
    if area_kind == "municipality":
        assert areas is not None
        polys = areas
    else:
        polys = grid_cells(np.concatenate([ax, hx]), np.concatenate([ay, hy]),
                           cell_metres=cell_metres, shape=area_kind)  # type: ignore[arg-type]
    child_area = locate(ax, ay, polys)
    home_area = locate(hx, hy, polys)
    unmatched_set = set(unmatched) if unmatched is not None else None
    per_child = pd.DataFrame({
        "child_id": children["child_id"].to_numpy(dtype=object),
        "anchor_id": points["anchor_id"].to_numpy(dtype=object),
        "area_id": child_area,
        "covered": covered,
        "reachable": reach.sum(axis=1).astype(np.int64),
        "suitable": suitable.sum(axis=1).astype(np.int64),
        "no_home": ~reach.any(axis=1),
        "missing_needs": [";".join(m) for m in missing],
        "access_2sfca": fca.access,
    })
    if unmatched_set is not None:
        per_child["unmatched"] = per_child["child_id"].isin(unmatched_set).to_numpy()
    outside = int(pd.isna(child_area).sum())
    if outside:
        logger.warning("%d waiting children lie in no area; they are left out of the gap "
                       "table", outside)

    rows = []
    used = sorted({a for a in child_area if a is not None} | {a for a in home_area
                                                             if a is not None})
    names = dict(zip(polys["area_id"], polys["name"], strict=True))
    long_rows = []
    for area in used:
        mine = per_child["area_id"].to_numpy(dtype=object) == area
        unc = mine & ~covered
        row: dict[str, Any] = {"area_id": area, "name": names.get(area, area),
                               "children": int(mine.sum()), "uncovered": int(unc.sum())}
        row["share_uncovered"] = row["uncovered"] / row["children"] if row["children"] else 0.0
        row["no_home"] = int((mine & ~reach.any(axis=1)).sum())
        for tag in tags:
            n = sum(1 for c in np.flatnonzero(unc) if tag in missing[c])
            row[f"need:{tag}"] = n
            if n:
                long_rows.append({"area_id": area, "need": tag,
                                  "competences": "|".join(_accepted(tag, settings)),
                                  "uncovered": n})
        row["needs_not_in_one_home"] = int(sum(1 for c in np.flatnonzero(unc)
                                               if reach[c].any() and not missing[c]))
        if unmatched_set is not None:
            um = per_child["unmatched"].to_numpy(dtype=bool)
            row["unmatched"] = int((mine & um).sum())
            row["unmatched_uncovered"] = int((unc & um).sum())
        else:
            row["unmatched"] = pd.NA
            row["unmatched_uncovered"] = pd.NA
        in_area = home_area == area
        row["homes"] = int((in_area & (free > 0)).sum())
        row["places"] = int(free[in_area].sum())
        row["access_2sfca"] = float(fca.access[mine].mean()) if mine.any() else np.nan
        rows.append(row)
    columns = (["area_id", "name", "children", "uncovered", "share_uncovered", "no_home"]
               + [f"need:{t}" for t in tags]
               + ["needs_not_in_one_home", "unmatched", "unmatched_uncovered", "homes", "places",
                  "access_2sfca"])
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("unmatched", "unmatched_uncovered"):
        frame[col] = frame[col].astype("Int64")
    key = frame[["uncovered", "unmatched_uncovered", "children"]].fillna(0).astype(np.int64)
    order = np.lexsort((frame["area_id"].to_numpy(dtype=str), -key["children"].to_numpy(),
                        -key["unmatched_uncovered"].to_numpy(), -key["uncovered"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    geo = polys.set_index("area_id").geometry
    areas_out = gpd.GeoDataFrame(frame.copy(), geometry=geo.loc[frame["area_id"]].to_numpy(),
                                 crs=WORK_CRS)
    by_need = pd.DataFrame(long_rows, columns=["area_id", "need", "competences", "uncovered"])
    logger.info("gaps: %d waiting children, %d uncovered within %g min, %d areas", len(children),
                int((~covered).sum()), minutes, len(frame))
    return GapResult(table=frame, areas=areas_out, by_need=by_need,
                     children=per_child.drop(columns=["no_home"]), minutes=float(minutes),
                     area_kind=area_kind, outside=outside)


# =========================================================================== maps


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 8.0), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    fig.text(0.01, 0.01, ATTRIBUTION, fontsize=6, color="0.35")
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
    _check_choice("map column", column, numeric)
    fig, ax = _figure(f"Waiting children without a suitable home within {result.minutes:g} min "
                      f"({column}), by {result.area_kind}")
    areas = result.areas.assign(_value=pd.to_numeric(result.areas[column], errors="coerce")
                                .astype(float))
    if len(areas):
        top = float(np.nanmax(areas["_value"].to_numpy())) if areas["_value"].notna().any() \
            else 0.0
        areas.plot(ax=ax, column="_value", cmap="OrRd", edgecolor="0.5", linewidth=0.4,
                   vmin=0.0, vmax=max(top, 1.0), legend=True,
                   legend_kwds={"label": column, "shrink": 0.6},
                   missing_kwds={"color": "0.9"})
    return _png(fig)


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
        250 m cells (EPSG:25833) with ``total``, ``uncovered`` (beyond the
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


def emergency_homes(inputs: Inputs) -> pd.DataFrame:
    """Return the available emergency homes: kind ``emergency`` with free places > 0."""
    ok = (inputs.homes["kind"] == "emergency").to_numpy() & (free_places(inputs) > 0)
    return inputs.homes[ok].reset_index(drop=True)


def emergency_coverage(inputs: Inputs, *, bands: Sequence[float] = DEFAULT_BANDS,
                       areas: gpd.GeoDataFrame | None = None,
                       population: gpd.GeoDataFrame | None = None, anchor: Anchor = "home",
                       times: TimeTable | None = None, net: Network | None = None,
                       travel: TravelSettings | None = None,
                       progress: Callable[[int, int], None] | None = None) -> CoverageResult:
    """Share of waiting children (or people) within each band of an available emergency home.

    Parameters
    ----------
    inputs
        Validated inputs; waiting children are the demand unless ``population``.
    bands
        Ascending bands in minutes (default 30 and 45).
    areas
        Municipality polygons (EPSG:25833). Without them children are grouped
        by their ``municipality`` column; a population grid needs them (or
        forms one area ``all``).
    population
        Population cells (:func:`read_population`). When given, the demand is
        the population at the cell centres instead of the children; cells
        farther than ``max_snap_metres`` from ``net`` are left out.
    anchor
        Children's point: ``home`` (default) or ``school``.
    times
        Travel times, origins ``home_id``, destinations the demand point ids;
        computed on ``net`` when not given.
    net, travel
        Road network and travel settings.

    Raises
    ------
    InputError
        On bad bands, or when neither ``times`` nor ``net`` is given.
    """
    bands = check_bands(bands, example="30,45")
    travel = travel or TravelSettings()
    em = emergency_homes(inputs)
    if population is not None:
        cells = population
        if net is not None:
            cells = within_network(cells, net, travel.max_snap_metres)
        cx, cy = _centres(cells)
        lon, lat = _lonlat(cx, cy)
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
            area = locate(*_xy(pts["lon"], pts["lat"]), areas)
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
            geometry=cells.geometry.to_numpy(), crs=WORK_CRS)
    else:
        cell_frame = _child_cells(demand, nearest, bands[-1])
    cell_frame["band"] = _band_labels(cell_frame["minutes"].to_numpy(dtype=float), bands)
    logger.info("emergency coverage (%s): %d emergency homes, %d demand points, %d areas",
                basis, len(em), len(demand), len(out))
    return CoverageResult(table=out, points=pts_frame, cells=cell_frame, bands=bands,
                          emergency_homes=len(em), areas=areas)


def _band_labels(minutes: np.ndarray, bands: tuple[float, ...]) -> np.ndarray:
    edges = [f"<={bands[0]:g}"] + [f"{a:g}-{b:g}" for a, b in itertools.pairwise(bands)]
    edges.append(f">{bands[-1]:g}")
    idx = np.searchsorted(np.asarray(bands), minutes, side="left")
    return np.array(edges, dtype=object)[idx]


def _centres(cells: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    c = shapely.centroid(cells.geometry.to_numpy())
    return shapely.get_x(c), shapely.get_y(c)


def within_network(cells: gpd.GeoDataFrame, net: Network, max_metres: float) -> gpd.GeoDataFrame:
    """Return the cells whose centre lies within ``max_metres`` of a network node."""
    cx, cy = _centres(cells)
    dist, _ = cKDTree(np.column_stack([net.x, net.y])).query(np.column_stack([cx, cy]))
    keep = dist <= max_metres
    if (~keep).any():
        logger.info("%d of %d cells lie beyond %g m of the road network; left out",
                    int((~keep).sum()), len(cells), max_metres)
    return cells[keep].reset_index(drop=True)


def _child_cells(demand: pd.DataFrame, nearest: np.ndarray, limit: float) -> gpd.GeoDataFrame:
    """Children aggregated to 250 m cells (EPSG:25833); the worst time per cell."""
    x, y = _xy(demand["lon"], demand["lat"])
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
    return gpd.GeoDataFrame(agg.drop(columns=["ci", "ri"]), geometry=geoms, crs=WORK_CRS)


def coverage_map(result: CoverageResult) -> bytes:
    """Draw areas by share within the last band and the uncovered cells, as PNG bytes."""
    last = result.bands[-1]
    basis = result.table["basis"].iloc[0] if len(result.table) else "children"
    fig, ax = _figure(f"Emergency homes: {basis} beyond {last:g} min (red cells); share within "
                      f"{last:g} min by area")
    if result.areas is not None and len(result.table):
        shown = result.areas[result.areas["area_id"].isin(result.table["area_id"])]
        shown = shown.merge(result.table[["area_id", f"share_{last:g}"]], on="area_id")
        shown.plot(ax=ax, column=f"share_{last:g}", cmap="Greens", vmin=0.0, vmax=1.0,
                   edgecolor="0.4", linewidth=0.6, alpha=0.6, legend=True,
                   legend_kwds={"label": f"share within {last:g} min", "shrink": 0.6})
    cells = result.cells
    if len(cells):
        colours = {f"<={result.bands[0]:g}": "#d9f0d3"}
        for a, b in itertools.pairwise(result.bands):
            colours[f"{a:g}-{b:g}"] = "#fee08b"
        colours[f">{last:g}"] = "#d73027"
        cells.plot(ax=ax, color=[colours.get(b, "#999999") for b in cells["band"]],
                   edgecolor="none")
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=f"{label} min") for label, c in colours.items()],
                  loc="lower left", fontsize=8, title="nearest emergency home",
                  title_fontsize=8)
        ax.set_xlim(*_pad(cells.total_bounds[[0, 2]]))
        ax.set_ylim(*_pad(cells.total_bounds[[1, 3]]))
    return _png(fig)


def _pad(lims: np.ndarray) -> tuple[float, float]:
    span = float(lims[1] - lims[0]) or 1000.0
    return float(lims[0] - 0.05 * span), float(lims[1] + 0.05 * span)


# =========================================================================== what-if


@dataclass(frozen=True)
class Addition:
    """Hypothetical homes to add in one area.

    Attributes
    ----------
    area
        4-digit municipality code (``area_id`` of the municipality polygons).
    competences
        Competence tags of each new home (may be empty).
    count
        Number of homes (>= 1).
    capacity
        Places per home (>= 1, default 1).
    min_age, max_age
        Ages each home accepts (default 0-17).
    """

    area: str
    competences: tuple[str, ...]
    count: int
    capacity: int = 1
    min_age: int = 0
    max_age: int = 17


def parse_addition(text: str, settings: ScoringSettings) -> Addition:
    """Parse ``AREA:COMPETENCES:COUNT[:CAPACITY]``, e.g. ``"4631:TBO-F:3"``.

    Competences are separated by ``+``, ``,`` or ``;`` (``"0301:TBO-F+teen:2"``)
    and may be empty (``"0301::2"``).

    Raises
    ------
    InputError
        On a malformed text or an unknown competence (listing the allowed ones).
    """
    parts = text.split(":")
    fmt = "use AREA:COMPETENCES:COUNT[:CAPACITY], e.g. 4631:TBO-F:3"
    if len(parts) not in (3, 4):
        raise InputError(f"--add '{text}': {fmt}")
    area, comps, count = parts[0].strip(), parts[1], parts[2].strip()
    problems = []
    if area.isdigit() and len(area) == 3:
        area = area.zfill(4)
    if not (area.isdigit() and len(area) == 4):
        problems.append(Problem("--add", f"'{text}': area '{area}' is not a 4-digit "
                                         "kommunenummer"))
    tags = tuple(sorted({t.strip() for t in comps.replace("+", ";").replace(",", ";").split(";")
                         if t.strip()}))
    unknown = [t for t in tags if t not in settings.competences]
    if unknown:
        problems.append(Problem("--add", f"'{text}': unknown competence(s) {unknown}; allowed: "
                                         f"{', '.join(settings.competences)}"))
    numbers = []
    for label, value in (("count", count), ("capacity", parts[3].strip() if len(parts) == 4
                                            else "1")):
        if not (value.isdigit() and int(value) >= 1):
            problems.append(Problem("--add", f"'{text}': {label} '{value}' must be a whole "
                                             "number >= 1"))
            numbers.append(1)
        else:
            numbers.append(int(value))
    raise_if_problems(f"--add '{text}': {fmt}", problems)
    return Addition(area=area, competences=tags, count=numbers[0], capacity=numbers[1])


def place_additions(additions: Sequence[Addition], areas: gpd.GeoDataFrame, *, net: Network,
                    population: gpd.GeoDataFrame | None = None,
                    max_snap_metres: float = 2000.0, prefix: str = "WHATIF") -> pd.DataFrame:
    """Place hypothetical homes inside their municipality, deterministically.

    Candidates are the population cells whose centre lies inside the polygon
    (weighted by population) when ``population`` is given, otherwise the road
    network nodes inside it (equal weights); only candidates within
    ``max_snap_metres`` of the network count. Candidates are ordered along
    1 km serpentine rows (west-east, then east-west on the next row north) and
    the ``n`` homes of an area take the candidates at cumulative-weight
    quantiles ``(i + 0.5) / n``: systematic sampling, proportional to weight,
    spread over the area, no randomness.

    Returns
    -------
    pandas.DataFrame
        Normalised homes (the dtypes of :attr:`matcher.schema.Inputs.homes`):
        ``home_id`` = ``<prefix>-<area>-<k>``, kind ``general``,
        ``accepts_sibling_groups`` when capacity >= 2.

    Raises
    ------
    InputError
        If an area is not among the polygons or has no candidate inside it.
    """
    by_area: dict[str, list[Addition]] = {}
    for add in additions:
        by_area.setdefault(add.area, []).append(add)
    known = set(areas["area_id"])
    problems = [Problem("--add", f"area '{a}' is not in the municipality polygons; check the "
                                 "code or the --municipalities file")
                for a in by_area if a not in known]
    raise_if_problems("cannot place hypothetical homes", problems)
    tree = cKDTree(np.column_stack([net.x, net.y]))
    rows = []
    for area, adds in sorted(by_area.items()):
        poly = areas.loc[areas["area_id"] == area].geometry.iloc[0]
        if population is not None:
            cx, cy = _centres(population)
            weight = population["population"].to_numpy(dtype=float)
        else:
            cx, cy, weight = net.x, net.y, np.ones(net.n_nodes)
        inside = shapely.contains_xy(poly, cx, cy)
        near = tree.query(np.column_stack([cx, cy]))[0] <= max_snap_metres
        ok = inside & near & (weight > 0)
        if not ok.any():
            what = "populated cell" if population is not None else "road node"
            raise InputError(f"area '{area}': no {what} inside it lies on the road network; use "
                             "a network that covers it")
        x, y, w = cx[ok], cy[ok], weight[ok]
        band = np.floor(y / 1000.0).astype(np.int64)
        order = np.lexsort((np.where(band % 2 == 0, x, -x), band))
        x, y, w = x[order], y[order], w[order]
        cum = np.cumsum(w) / w.sum()
        n = sum(a.count for a in adds)
        picks = np.searchsorted(cum, (np.arange(n) + 0.5) / n, side="left")
        picks = np.minimum(picks, len(x) - 1)
        k = 0
        for add in adds:
            for _ in range(add.count):
                lon, lat = _lonlat(x[picks[k]], y[picks[k]])
                rows.append({"home_id": f"{prefix}-{area}-{k + 1:03d}", "lon": float(lon),
                             "lat": float(lat), "municipality": area,
                             "capacity": add.capacity, "competences": add.competences,
                             "min_age": add.min_age, "max_age": add.max_age, "kind": "general",
                             "kin_of": None, "accepts_sibling_groups": add.capacity >= 2})
                k += 1
    return _homes_frame(rows)


def _homes_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(schema.COLUMNS["homes"]))
    return frame.astype({"home_id": "str", "lon": "float64", "lat": "float64",
                         "municipality": "str", "capacity": "int64", "min_age": "int64",
                         "max_age": "int64", "kind": "str", "kin_of": "str",
                         "accepts_sibling_groups": "bool"})


DIFF_MEASURES: tuple[str, ...] = (
    "placed", "placed_acute", "unmatched", "kept_in_home_municipality",
    "share_kept_in_home_municipality", "median_school_minutes", "priority_placed",
)


@dataclass(frozen=True)
class WhatIfResult:
    """Baseline and scenario runs and their difference.

    Attributes
    ----------
    baseline, scenario
        The two matching runs (:class:`matcher.pipeline.RunResult`).
    added_homes
        The hypothetical homes (normalised homes table).
    diff
        ``measure, baseline, scenario, change`` for :data:`DIFF_MEASURES`
        (``priority_placed`` = stage-one objective; ``median_school_minutes``
        over placed children with a school).
    newly_placed
        Ids of children placed in the scenario but not in the baseline.
    """

    baseline: pipeline.RunResult
    scenario: pipeline.RunResult
    added_homes: pd.DataFrame
    diff: pd.DataFrame
    newly_placed: tuple[str, ...]


def _measures(run: pipeline.RunResult) -> dict[str, float | None]:
    s = run.summary
    return {"placed": s["placed"], "placed_acute": s["by_urgency"]["acute"]["placed"],
            "unmatched": s["unmatched"],
            "kept_in_home_municipality": s["kept_in_home_municipality"],
            "share_kept_in_home_municipality": s["share_kept_in_home_municipality"],
            "median_school_minutes": s["median_school_minutes"],
            "priority_placed": round(float(run.result.objective_stage1), 6)}


def whatif(inputs: Inputs, additions: Sequence[Addition] | pd.DataFrame, *, settings: Settings,
           net: Network, areas: gpd.GeoDataFrame | None = None,
           population: gpd.GeoDataFrame | None = None,
           baseline: pipeline.RunResult | None = None, as_of: datetime.date | None = None,
           step: Step | None = None,
           progress: Callable[[int, int], None] | None = None) -> WhatIfResult:
    """Add hypothetical homes, rerun the match and compare with the baseline.

    Adding homes only enlarges the set of feasible assignments, so under the
    default lexicographic objective the stage-one objective (total priority
    placed) never falls; with equal priorities that is the placed count. (With
    unequal priorities a new home could in principle let one high-priority
    child displace several lower ones; the diff shows it if it happens.)

    Parameters
    ----------
    inputs
        Validated inputs of the baseline.
    additions
        :class:`Addition` items (placed by :func:`place_additions` inside
        ``areas``) or a ready normalised homes frame.
    settings
        All settings; the runs use them unchanged.
    net
        Road network (travel times for the new homes).
    areas, population
        Municipality polygons and an optional population grid for placement.
    baseline
        A baseline run on ``inputs`` to reuse (computed when not given).
    as_of
        Run date (default today).

    Raises
    ------
    InputError
        On an unknown area, a home id clash or bad additions.
    """
    say = step or (lambda _m: None)
    if isinstance(additions, pd.DataFrame):
        added = additions
    else:
        if not additions:
            raise InputError("no homes to add; give at least one --add AREA:COMPETENCES:COUNT")
        if areas is None:
            raise InputError("placing hypothetical homes needs municipality polygons "
                             "(--municipalities FILE)")
        added = place_additions(additions, areas, net=net, population=population,
                                max_snap_metres=settings.travel.max_snap_metres)
    clash = sorted(set(added["home_id"]) & set(inputs.homes["home_id"]))
    if clash:
        raise InputError(f"hypothetical home ids {clash[:5]} already exist in the homes table")
    as_of = as_of or datetime.date.today()
    if baseline is None:
        say("baseline match")
        baseline = pipeline.run(inputs, settings, net=net, as_of=as_of, step=step,
                                progress=progress)
    say("travel times of the new homes")
    base_times = baseline.times
    new_rows = travel_times(net, added, pd.DataFrame({
        "id": base_times.destination_ids,
        **_anchor_lonlat(inputs, base_times.destination_ids)}), settings.travel,
        origin_id="home_id", destination_id="id")
    times = TimeTable(np.concatenate([base_times.origin_ids, new_rows.origin_ids]),
                      base_times.destination_ids,
                      np.vstack([base_times.minutes, new_rows.minutes]))
    homes = pd.concat([inputs.homes, added], ignore_index=True)
    scenario_inputs = dataclasses.replace(inputs, homes=homes)
    say("scenario match")
    digest = hashlib.sha256(added.astype(str).to_csv(index=False).encode()).hexdigest()
    scenario = pipeline.run(scenario_inputs, settings, times=times, net=net, as_of=as_of,
                            step=step, extra_sources={"whatif_homes": digest})
    b, s = _measures(baseline), _measures(scenario)
    change = [None if (b[m] is None or s[m] is None) else _number(float(s[m]) - float(b[m]))
              for m in DIFF_MEASURES]
    diff = pd.DataFrame({"measure": pd.Series(DIFF_MEASURES, dtype="str"),
                         "baseline": pd.Series([b[m] for m in DIFF_MEASURES], dtype=object),
                         "scenario": pd.Series([s[m] for m in DIFF_MEASURES], dtype=object),
                         "change": pd.Series(change, dtype=object)})
    before = set(baseline.assignments.loc[baseline.assignments["home_id"].notna(), "child_id"])
    after = set(scenario.assignments.loc[scenario.assignments["home_id"].notna(), "child_id"])
    logger.info("what-if: %d homes added; placed %d -> %d", len(added), b["placed"],
                s["placed"])
    return WhatIfResult(baseline=baseline, scenario=scenario, added_homes=added, diff=diff,
                        newly_placed=tuple(sorted(after - before)))


def _number(value: float) -> float | int:
    """Round to 6 decimals; whole numbers become ``int`` (for tidy tables)."""
    value = round(value, 6)
    return int(value) if float(value).is_integer() else value


def _anchor_lonlat(inputs: Inputs, anchor_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Positions (EPSG:4326) of anchor ids, from :func:`matcher.schema.anchors`."""
    table = schema.anchors(inputs, include_home=True).set_index("anchor_id")
    found = table.reindex(pd.Index(anchor_ids, dtype=object))
    return {"lon": found["lon"].to_numpy(dtype=float), "lat": found["lat"].to_numpy(dtype=float)}


# =========================================================================== MCLP


@dataclass(frozen=True)
class MCLPSolution:
    """Solution of a maximal covering location problem.

    Attributes
    ----------
    status
        ``optimal`` or ``time_limit_feasible``.
    chosen
        Positions of the chosen candidate sites, ascending.
    covered
        Per demand point: covered by a chosen site.
    covered_weight
        Total weight of covered demand (the primary objective).
    objective
        Solver objective including the tie-break term.
    seconds
        Wall time of build and solve, in seconds.
    """

    status: str
    chosen: np.ndarray
    covered: np.ndarray
    covered_weight: float
    objective: float
    seconds: float


def add_coverage_constraints(prob: pulp.LpProblem, x: Sequence[pulp.LpVariable],
                             z: Mapping[int, pulp.LpVariable], cover: np.ndarray) -> int:
    r"""Add :math:`z_i \le \sum_{j \in N_i} x_j` for every demand point in ``z``.

    ``cover`` is the ``(n_sites, n_demand)`` boolean matrix :math:`a_{ji}`.
    Returns the number of rows added.
    """
    for i, zi in z.items():
        sites = np.flatnonzero(cover[:, i])
        prob.addConstraint(zi <= pulp.lpSum(x[j] for j in sites), f"cover_{i}")
    return len(z)


def add_facility_count_constraint(prob: pulp.LpProblem, x: Sequence[pulp.LpVariable],
                                  k: int) -> int:
    r"""Add :math:`\sum_j x_j = k` (exactly ``k`` sites). Returns 1."""
    prob.addConstraint(pulp.lpSum(x) == k, "facility_count")
    return 1


def mclp(minutes: np.ndarray, k: int, *, catchment_minutes: float,
         weights: np.ndarray | None = None, preference: np.ndarray | None = None,
         time_limit_seconds: float = 60.0) -> MCLPSolution:
    r"""Maximal covering location problem (Church & ReVelle 1974), solved by HiGHS.

    Sets and data: candidate sites :math:`J`, demand points :math:`I` with
    integer weights :math:`w_i` (children: 1 each), coverage
    :math:`a_{ji} = 1` iff :math:`t_{ji} \le T` (minutes from site :math:`j`
    to demand :math:`i`), :math:`N_i = \{j : a_{ji} = 1\}`, a tie-break
    preference :math:`q_j \in [0, 1]` (population share) and
    :math:`\varepsilon = 1 / (2k)`.

    .. math::

        \max\; & \sum_{i \in I} w_i z_i + \varepsilon \sum_{j \in J} q_j x_j \\
        \text{s.t.}\; & z_i \le \sum_{j \in N_i} x_j \quad \forall i \in I
            \qquad \text{(add\_coverage\_constraints)} \\
        & \sum_{j \in J} x_j = k
            \qquad \text{(add\_facility\_count\_constraint)} \\
        & x_j \in \{0, 1\}, \quad 0 \le z_i \le 1.

    :math:`z_i` may be continuous: for binary :math:`x` the optimum has
    :math:`z_i = \min(1, \sum_{j \in N_i} x_j) \in \{0, 1\}`. Because
    :math:`\varepsilon \sum_j q_j x_j \le 1/2` and the weights are integers,
    the tie-break never trades away covered demand; it only chooses among
    equally covering site sets the more populous one. Demand points with
    :math:`N_i = \emptyset` cannot be covered and get no variable.

    Parameters
    ----------
    minutes
        ``(n_sites, n_demand)`` minutes from each candidate site to each
        demand point (``inf`` = unreachable).
    k
        Number of sites to choose, ``1 <= k <= n_sites``.
    catchment_minutes
        ``T`` in minutes (inclusive).
    weights
        Integer demand weights (default 1).
    preference
        Tie-break weights per site, scaled to [0, 1] (default 0).
    time_limit_seconds
        HiGHS time limit in seconds.

    Raises
    ------
    InputError
        If ``k`` is out of range or shapes or weights are bad (checked before
        solving, with the numbers).
    InfeasibleError
        If the solver stops without a feasible solution.
    """
    t0 = time.perf_counter()
    t = np.asarray(minutes, dtype=float)
    n_sites = t.shape[0] if t.ndim == 2 else 0
    n_dem = t.shape[1] if t.ndim == 2 else 0
    w = np.ones(n_dem) if weights is None else np.asarray(weights, dtype=float)
    q = np.zeros(n_sites) if preference is None else np.asarray(preference, dtype=float)
    problems = []
    if t.ndim != 2:
        problems.append(Problem("MCLP", f"minutes must be 2-D (sites x demand), got {t.ndim}-D"))
    if not (isinstance(k, int | np.integer) and 1 <= k <= n_sites):
        problems.append(Problem("MCLP", f"k={k} must be a whole number in 1..{n_sites} (the "
                                        f"number of candidate sites); lower k or add sites"))
    if w.shape != (n_dem,) or not (np.isfinite(w).all() and (w >= 0).all()
                                   and (w == np.round(w)).all()):
        problems.append(Problem("MCLP", f"weights must be {n_dem} whole numbers >= 0"))
    if q.shape != (n_sites,) or not (np.isfinite(q).all() and (q >= 0).all()):
        problems.append(Problem("MCLP", f"preference must be {n_sites} finite numbers >= 0"))
    raise_if_problems("cannot build the covering model", problems)
    _check_minutes("catchment", catchment_minutes)
    cover = t <= catchment_minutes
    q = q / q.max() if q.max() > 0 else q
    eps = 1.0 / (2.0 * k)

    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [prob.add_variable(f"x_{j}", 0, 1, pulp.LpBinary) for j in range(n_sites)]
    coverable = np.flatnonzero(cover.any(axis=0) & (w > 0))
    z = {int(i): prob.add_variable(f"z_{i}", 0, 1) for i in coverable}
    prob.setObjective(pulp.lpSum(w[i] * zi for i, zi in z.items())
                      + pulp.lpSum(eps * q[j] * x[j] for j in range(n_sites) if q[j] > 0))
    add_coverage_constraints(prob, x, z, cover)
    add_facility_count_constraint(prob, x, int(k))
    status = _solve(prob, time_limit_seconds, "the covering model")
    chosen = np.array([j for j in range(n_sites) if (x[j].value() or 0.0) > 0.5], dtype=np.int64)
    covered = cover[chosen].any(axis=0) if len(chosen) else np.zeros(n_dem, dtype=bool)
    return MCLPSolution(status=status, chosen=chosen, covered=covered,
                        covered_weight=float(w[covered].sum()),
                        objective=float(pulp.value(prob.objective) or 0.0),
                        seconds=time.perf_counter() - t0)


def _solve(prob: pulp.LpProblem, time_limit_seconds: float, what: str) -> str:
    """Solve with HiGHS (in-process, else CBC) and check the status."""
    t0 = time.perf_counter()
    if pulp.HiGHS().available():
        import highspy

        prob.solve(pulp.HiGHS(msg=False, timeLimit=float(time_limit_seconds), gapRel=0.0))
        model = prob.solverModel
        status = model.getModelStatus()
        has = model.getInfo().primal_solution_status == \
            highspy.SolutionStatus.kSolutionStatusFeasible
        if status == highspy.HighsModelStatus.kOptimal and has:
            return "optimal"
        if status == highspy.HighsModelStatus.kTimeLimit and has:
            return "time_limit_feasible"
        name = model.modelStatusToString(status)
    else:
        prob.solve(pulp.COIN_CMD(path=pulp.PULP_CBC_CMD.pulp_cbc_path, msg=False,
                                 timeLimit=float(time_limit_seconds)))
        if prob.status == pulp.LpStatusOptimal:
            return "optimal" if prob.sol_status == pulp.LpSolutionOptimal else \
                "time_limit_feasible"
        name = pulp.LpStatus[prob.status]
    raise InfeasibleError(f"the solver found no solution of {what} after "
                          f"{time.perf_counter() - t0:.1f} s (status {name}, time limit "
                          f"{time_limit_seconds:g} s); raise the time limit")


@dataclass(frozen=True)
class RecruitResult:
    """Where to recruit ``k`` new homes of one competence.

    Attributes
    ----------
    sites
        The chosen sites: ``rank`` (by children covered, then population),
        ``site_id, lon, lat, population, children_within`` (demand children
        within ``T``) and ``only_here`` (children no other chosen site covers).
    candidates
        Every candidate site with ``chosen`` and ``children_within``.
    competence
        Competence tag of the new homes.
    k, minutes
        Sites chosen and catchment ``T`` in minutes.
    suited
        Waiting children a new home of this competence would suit.
    covered_before
        Of them, children already covered by an existing suitable home.
    newly_covered
        Children the chosen sites cover that were not covered before.
    coverable
        Uncovered children that at least one candidate site could cover.
    solution
        The :class:`MCLPSolution`.
    """

    sites: pd.DataFrame
    candidates: pd.DataFrame
    competence: str
    k: int
    minutes: float
    suited: int
    covered_before: int
    newly_covered: int
    coverable: int
    solution: MCLPSolution

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"competence": self.competence, "k": self.k, "minutes": self.minutes,
                "status": self.solution.status, "suited": self.suited,
                "covered_before": self.covered_before, "newly_covered": self.newly_covered,
                "covered_after": self.covered_before + self.newly_covered,
                "coverable": self.coverable, "candidates": len(self.candidates),
                "sites": self.sites["site_id"].tolist()}


def candidate_sites(net: Network, *, population: gpd.GeoDataFrame | None = None,
                    cell_metres: float = 500.0, max_candidates: int = 400,
                    max_snap_metres: float = 2000.0) -> pd.DataFrame:
    """Candidate sites for new homes: populated cells, else road-node grid cells.

    With ``population`` each populated cell within ``max_snap_metres`` of the
    network is a site at its centre, weighted by population; the
    ``max_candidates`` most populous are kept. Without it, square cells of
    ``cell_metres`` over the network nodes are sites at the node nearest the
    mean of the cell's nodes, weighted by their node count (a proxy for
    settlement).

    Returns
    -------
    pandas.DataFrame
        ``site_id, lon, lat`` (EPSG:4326), ``x, y`` (EPSG:25833 metres),
        ``population``, sorted by ``site_id``.
    """
    if not (isinstance(max_candidates, int) and max_candidates >= 1):
        raise InputError(f"max_candidates {max_candidates!r} must be a whole number >= 1")
    if population is not None:
        cells = within_network(population, net, max_snap_metres)
        cx, cy = _centres(cells)
        frame = pd.DataFrame({"site_id": "cell:" + cells["cell_id"].astype(str),
                              "x": cx, "y": cy,
                              "population": cells["population"].to_numpy(dtype=float)})
    else:
        if not cell_metres > 0:
            raise InputError(f"cell size {cell_metres} m must be > 0 metres")
        ci = np.floor(net.x / cell_metres).astype(np.int64)
        ri = np.floor(net.y / cell_metres).astype(np.int64)
        nodes = pd.DataFrame({"ci": ci, "ri": ri, "x": net.x, "y": net.y})
        g = nodes.groupby(["ci", "ri"], sort=True)
        mean = g[["x", "y"]].mean()
        counts = g.size()
        _, idx = cKDTree(np.column_stack([net.x, net.y])).query(mean.to_numpy())
        frame = pd.DataFrame({"site_id": [f"sq_{a}_{b}" for a, b in mean.index],
                              "x": net.x[idx], "y": net.y[idx],
                              "population": counts.to_numpy(dtype=float)})
    frame = frame.assign(_key=-frame["population"]).sort_values(["_key", "site_id"],
                                                               kind="stable")
    frame = frame.head(max_candidates).drop(columns="_key")
    lon, lat = _lonlat(frame["x"], frame["y"])
    frame = frame.assign(lon=lon, lat=lat).sort_values("site_id", kind="stable")
    return frame[["site_id", "lon", "lat", "x", "y", "population"]].reset_index(drop=True)


def recruit(inputs: Inputs, *, competence: str, k: int, settings: Settings,
            sites: pd.DataFrame | None = None, minutes: float = DEFAULT_MINUTES,
            anchor: Anchor = "school", net: Network | None = None,
            population: gpd.GeoDataFrame | None = None, site_times: TimeTable | None = None,
            home_times: TimeTable | None = None, min_age: int = 0, max_age: int = 17,
            max_candidates: int = 400, cell_metres: float = 500.0,
            progress: Callable[[int, int], None] | None = None) -> RecruitResult:
    """Choose ``k`` sites for new ``competence`` homes that cover the most children.

    The demand is the waiting children a new home (kind ``general``, one
    place, ages ``min_age..max_age``, competence ``competence``) would suit
    and who have no existing suitable home within ``minutes``; a site covers
    a child when the travel time from the site to the child's anchor is at
    most ``minutes``. Solved exactly by :func:`mclp`. Coverage ignores
    capacity: it is about distance to competence, not about places.

    Parameters
    ----------
    inputs
        Validated inputs.
    competence
        Competence tag of the new homes (one of ``ScoringSettings.competences``).
    k
        Number of sites.
    settings
        All settings (competences, travel, solver time limit).
    sites
        Candidate sites (``site_id, lon, lat, population``); default
        :func:`candidate_sites` on ``net`` and ``population``.
    minutes, anchor
        Catchment ``T`` in minutes and the children's anchor.
    site_times, home_times
        Precomputed minutes site -> anchor and home -> anchor (default: on ``net``).

    Raises
    ------
    InputError
        On an unknown competence (listing the allowed ones) or ``k`` out of range.
    InfeasibleError
        If the solver finds no solution.
    """
    _check_choice("competence", competence, settings.scoring.competences)
    _check_minutes("minutes", minutes)
    if sites is None:
        if net is None:
            raise InputError("give a road network (--network/--osm) for candidate sites")
        sites = candidate_sites(net, population=population, cell_metres=cell_metres,
                                max_candidates=max_candidates,
                                max_snap_metres=settings.travel.max_snap_metres)
    if not (isinstance(k, int) and 1 <= k <= len(sites)):
        raise InputError(f"k={k} must be in 1..{len(sites)} (the number of candidate sites); "
                         "lower --k or allow more candidates (--max-candidates)")
    children = waiting(inputs)
    points = anchor_points(children, anchor)
    new_home = _homes_frame([{"home_id": "new", "lon": 0.0, "lat": 0.0, "municipality": "0000",
                              "capacity": 1, "competences": (competence,), "min_age": min_age,
                              "max_age": max_age, "kind": "general", "kin_of": None,
                              "accepts_sibling_groups": False}])
    suits = _fit(children, new_home, np.ones(1, dtype=np.int64), settings.scoring).suitable()[:, 0]
    if suits.any():
        ht = _times(home_times, net, inputs.homes, points, settings.travel, origin_id="home_id",
                    destination_id="anchor_id", progress=progress)
        fit = _fit(children, inputs.homes, free_places(inputs), settings.scoring)
        covered_now = (fit.suitable() & (ht.minutes <= minutes).T).any(axis=1)
        st = _times(site_times, net, sites, points, settings.travel, origin_id="site_id",
                    destination_id="anchor_id", progress=progress).minutes
    else:
        covered_now = np.zeros(len(children), dtype=bool)
        st = np.full((len(sites), len(children)), np.inf)
    demand = suits & ~covered_now
    weights = demand.astype(float)
    sol = mclp(st, k, catchment_minutes=minutes, weights=weights,
               preference=sites["population"].to_numpy(dtype=float),
               time_limit_seconds=settings.assignment.time_limit_seconds)
    within = ((st <= minutes) & demand[None, :])
    cand = sites[["site_id", "lon", "lat", "population"]].copy()
    cand["children_within"] = within.sum(axis=1).astype(np.int64)
    cand["chosen"] = False
    cand.loc[cand.index[sol.chosen], "chosen"] = True
    chosen = cand.iloc[sol.chosen].copy()
    chosen_within = within[sol.chosen]
    others = chosen_within.sum(axis=0)
    chosen["only_here"] = (chosen_within & (others == 1)[None, :]).sum(axis=1).astype(np.int64)
    chosen = chosen.assign(_a=-chosen["children_within"], _b=-chosen["population"]).sort_values(
        ["_a", "_b", "site_id"], kind="stable").drop(columns=["_a", "_b", "chosen"])
    chosen.insert(0, "rank", np.arange(1, len(chosen) + 1))
    result = RecruitResult(
        sites=chosen.reset_index(drop=True), candidates=cand, competence=competence, k=k,
        minutes=float(minutes), suited=int(suits.sum()), covered_before=int((suits &
                                                                             covered_now).sum()),
        newly_covered=int((sol.covered & demand).sum()),
        coverable=int((demand & (st <= minutes).any(axis=0)).sum()), solution=sol)
    logger.info("recruit %s: k=%d, %d candidate sites, %d children newly covered of %d "
                "coverable", competence, k, len(sites), result.newly_covered, result.coverable)
    return result


# =========================================================================== resource families


FAMILY_COLUMNS: dict[str, bool] = {"resource_id": True, "lon": True, "lat": True,
                                   "municipality": True, "cooperation": False,
                                   "max_homes": False}
"""Columns of the resource-family table, mapped to whether required."""


def validate_families(frame: pd.DataFrame, *, max_homes: int = MAX_HOMES_PER_FAMILY,
                      source: str = "resource families") -> pd.DataFrame:
    """Check and normalise a resource-family table.

    Columns: ``resource_id`` (unique), ``lon, lat`` (EPSG:4326 degrees),
    ``municipality`` (4-digit code), optional ``cooperation`` (municipality
    cooperation, *interkommunalt samarbeid*; default: the municipality) and
    optional ``max_homes`` (default ``max_homes``).

    Raises
    ------
    InputError
        Listing every problem.
    """
    problems: list[Problem] = []
    for col, required in FAMILY_COLUMNS.items():
        if required and col not in frame.columns:
            problems.append(Problem(source, f"missing required column '{col}'; columns: "
                                            f"{', '.join(FAMILY_COLUMNS)}", column=col))
    unknown = [c for c in frame.columns if c not in FAMILY_COLUMNS and not str(c).startswith("_")]
    for col in unknown:
        problems.append(Problem(source, f"unknown column '{col}'; allowed: "
                                        f"{', '.join(FAMILY_COLUMNS)}", column=str(col)))
    raise_if_problems(f"{source}: invalid table", problems)
    if frame.empty:
        raise InputError(f"{source}: no rows; give at least one resource family")
    ids = frame["resource_id"].astype("string").str.strip()
    muni = frame["municipality"].astype("string").str.strip().fillna("")
    muni = muni.where(~(muni.str.isdigit() & (muni.str.len() == 3)), muni.str.zfill(4))
    lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    coop = (frame["cooperation"].astype("string").str.strip().fillna("")
            if "cooperation" in frame.columns else pd.Series([""] * len(frame), dtype="string"))
    cap = (pd.to_numeric(frame["max_homes"], errors="coerce")
           if "max_homes" in frame.columns else pd.Series(np.nan, index=frame.index))
    cap = cap.fillna(max_homes).to_numpy(dtype=float)
    for i in range(len(frame)):
        row = i + 1
        if pd.isna(ids.iloc[i]) or ids.iloc[i] == "":
            problems.append(Problem(source, "empty resource_id", row, "resource_id"))
        if not (abs(lon[i]) <= 180 and abs(lat[i]) <= 90):
            problems.append(Problem(source, "lon/lat must be WGS84 degrees (EPSG:4326)", row,
                                    "lon"))
        m = muni.iloc[i]
        if not (m.isdigit() and len(m) == 4):
            problems.append(Problem(source, f"'{m}' is not a 4-digit kommunenummer", row,
                                    "municipality"))
        if not (cap[i] >= 0 and cap[i] == round(cap[i])):
            problems.append(Problem(source, "max_homes must be a whole number >= 0", row,
                                    "max_homes"))
    dup = ids.duplicated() & ids.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        problems.append(Problem(source, f"duplicate resource_id '{ids.iloc[i]}'", int(i) + 1,
                                "resource_id"))
    raise_if_problems(f"{source}: invalid rows", problems)
    coop = coop.where(coop != "", muni)
    return pd.DataFrame({"resource_id": ids.astype(str).to_numpy(dtype=object),
                         "lon": lon, "lat": lat, "municipality": muni.to_numpy(dtype=object),
                         "cooperation": coop.to_numpy(dtype=object),
                         "max_homes": cap.astype(np.int64)})


def cooperation_of(families: pd.DataFrame,
                   mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Municipality -> cooperation: ``mapping`` first, then the families' own pairs."""
    out = dict(zip(families["municipality"], families["cooperation"], strict=True))
    out.update(mapping or {})
    return out


@dataclass(frozen=True)
class SupportAssignment:
    """Foster homes assigned to resource families.

    Attributes
    ----------
    assignments
        One row per home: ``home_id, cooperation, resource_id`` (missing when
        none), ``minutes`` (home -> family) and ``reason`` ('' when assigned).
    load
        Per family: ``resource_id, cooperation, max_homes, homes``.
    status
        Solver status (``optimal`` or ``time_limit_feasible``).
    assigned
        Homes with a family (the stage-one optimum).
    total_minutes
        Sum of minutes over assigned homes (the stage-two optimum).
    """

    assignments: pd.DataFrame
    load: pd.DataFrame
    status: str
    assigned: int
    total_minutes: float

    @property
    def unassigned(self) -> list[str]:
        """Ids of homes left without a resource family."""
        return self.assignments.loc[self.assignments["resource_id"].isna(), "home_id"].tolist()


def add_one_family_constraints(prob: pulp.LpProblem, x: Mapping[tuple[int, int], pulp.LpVariable],
                               n_homes: int) -> int:
    r"""Add :math:`\sum_f x_{hf} \le 1` for every home with a variable."""
    rows = 0
    by_home: dict[int, list[pulp.LpVariable]] = {}
    for (h, _f), var in x.items():
        by_home.setdefault(h, []).append(var)
    for h in range(n_homes):
        if h in by_home:
            prob.addConstraint(pulp.lpSum(by_home[h]) <= 1, f"one_family_{h}")
            rows += 1
    return rows


def add_family_capacity_constraints(prob: pulp.LpProblem,
                                    x: Mapping[tuple[int, int], pulp.LpVariable],
                                    capacity: np.ndarray) -> int:
    r"""Add :math:`\sum_h x_{hf} \le m_f` for every family with a variable."""
    rows = 0
    by_family: dict[int, list[pulp.LpVariable]] = {}
    for (_h, f), var in x.items():
        by_family.setdefault(f, []).append(var)
    for f, vars_ in sorted(by_family.items()):
        prob.addConstraint(pulp.lpSum(vars_) <= int(capacity[f]), f"capacity_{f}")
        rows += 1
    return rows


def add_cardinality_floor(prob: pulp.LpProblem, x: Mapping[tuple[int, int], pulp.LpVariable],
                          floor: int) -> int:
    r"""Add :math:`\sum_{h,f} x_{hf} \ge n^*` (keep the stage-one number assigned)."""
    prob.addConstraint(pulp.lpSum(x.values()) >= floor, "assigned_floor")
    return 1


def assign_resource_families(home_ids: Sequence[str], home_cooperation: Sequence[str],
                             families: pd.DataFrame, minutes: np.ndarray, *,
                             same_cooperation: bool = True, max_minutes: float | None = None,
                             time_limit_seconds: float = 60.0) -> SupportAssignment:
    r"""Assign foster homes to resource families: most homes, then least travel.

    A transportation problem solved lexicographically by two HiGHS solves.
    With homes :math:`H`, families :math:`F`, capacity :math:`m_f`
    (``max_homes``, default 5), minutes :math:`t_{hf}` (home -> family) and
    allowed pairs :math:`E` (finite time, within ``max_minutes`` and, with
    ``same_cooperation``, the same municipality cooperation):

    .. math::

        \text{stage 1:}\quad n^* = \max \sum_{(h,f) \in E} x_{hf} \qquad
        \text{stage 2:}\quad \min \sum_{(h,f) \in E} t_{hf} x_{hf}
            \;\text{ s.t. }\; \sum_{(h,f) \in E} x_{hf} \ge n^*
            \quad \text{(add\_cardinality\_floor)} \\
        \sum_{f : (h,f) \in E} x_{hf} \le 1 \;\forall h
            \quad \text{(add\_one\_family\_constraints)}, \qquad
        \sum_{h : (h,f) \in E} x_{hf} \le m_f \;\forall f
            \quad \text{(add\_family\_capacity\_constraints)}, \qquad
        x_{hf} \in \{0, 1\}.

    Minimising time alone would assign nobody, hence stage one.

    Parameters
    ----------
    home_ids, home_cooperation
        Ids of the homes and their cooperation (see :func:`cooperation_of`).
    families
        Validated families (:func:`validate_families`).
    minutes
        ``(n_homes, n_families)`` minutes home -> family (``inf`` = unreachable).
    same_cooperation
        Only pair a home with a family of its own cooperation (default).
    max_minutes
        Optional limit on the travel time of a pair.

    Raises
    ------
    InputError
        On mismatched shapes.
    InfeasibleError
        If the solver finds no solution.
    """
    t = np.asarray(minutes, dtype=float)
    n_h, n_f = len(home_ids), len(families)
    if t.shape != (n_h, n_f):
        raise InputError(f"minutes has shape {t.shape}; expected ({n_h}, {n_f}) = (homes, "
                         "resource families)")
    h_coop = np.asarray(home_cooperation, dtype=object)
    f_coop = families["cooperation"].to_numpy(dtype=object)
    cap = families["max_homes"].to_numpy(dtype=np.int64)
    allowed = np.isfinite(t)
    if max_minutes is not None:
        allowed &= t <= max_minutes
    same = h_coop[:, None] == f_coop[None, :]
    if same_cooperation:
        allowed &= same
    allowed &= (cap > 0)[None, :]
    pairs = [(int(h), int(f)) for h, f in zip(*np.nonzero(allowed), strict=True)]
    chosen: list[tuple[int, int]] = []
    status = "optimal"
    if pairs:
        prob = pulp.LpProblem("resource_families", pulp.LpMaximize)
        x = {p: prob.add_variable(f"x_{p[0]}_{p[1]}", 0, 1, pulp.LpBinary) for p in pairs}
        add_one_family_constraints(prob, x, n_h)
        add_family_capacity_constraints(prob, x, cap)
        prob.setObjective(pulp.lpSum(x.values()))
        status = _solve(prob, time_limit_seconds, "the resource-family model (stage 1)")
        n_star = round(sum(v.value() or 0.0 for v in x.values()))
        add_cardinality_floor(prob, x, n_star)
        prob.sense = pulp.LpMinimize
        prob.setObjective(pulp.lpSum(float(t[h, f]) * v for (h, f), v in x.items()))
        second = _solve(prob, time_limit_seconds, "the resource-family model (stage 2)")
        status = status if second == "optimal" else second
        chosen = [p for p, v in x.items() if (v.value() or 0.0) > 0.5]
    family_of = np.full(n_h, -1, dtype=np.int64)
    for h, f in chosen:
        family_of[h] = f
    load = np.bincount(family_of[family_of >= 0], minlength=n_f)
    ids = families["resource_id"].to_numpy(dtype=object)
    reasons = []
    for h in range(n_h):
        if family_of[h] >= 0:
            reasons.append("")
            continue
        mine = same[h] if same_cooperation else np.ones(n_f, dtype=bool)
        if not mine.any():
            reasons.append(f"no resource family in cooperation {h_coop[h]}")
        elif not allowed[h].any():
            limit = f" within {max_minutes:g} min" if max_minutes is not None else ""
            reasons.append(f"no resource family of cooperation {h_coop[h]} reachable{limit}")
        else:
            reasons.append(f"all {int(allowed[h].sum())} resource families within reach are "
                           "full")
    assignments = pd.DataFrame({
        "home_id": np.asarray(home_ids, dtype=object), "cooperation": h_coop,
        "resource_id": np.where(family_of >= 0, ids[np.maximum(family_of, 0)], None),
        "minutes": np.where(family_of >= 0, t[np.arange(n_h), np.maximum(family_of, 0)],
                            np.nan),
        "reason": reasons})
    load_frame = pd.DataFrame({"resource_id": ids, "cooperation": f_coop, "max_homes": cap,
                               "homes": load.astype(np.int64)})
    total = float(assignments["minutes"].sum())
    logger.info("resource families: %d of %d homes assigned to %d families", len(chosen), n_h,
                n_f)
    return SupportAssignment(assignments=assignments, load=load_frame, status=status,
                             assigned=len(chosen), total_minutes=total)


def group_homes(minutes: np.ndarray, *, size: int, max_iterations: int = 20) -> tuple[
        np.ndarray, np.ndarray]:
    """Partition homes into groups of at most ``size`` around host homes.

    Capacitated k-medoids, deterministic: ``g = ceil(n / size)`` hosts are
    chosen greedily (first the home with the least total travel from all
    others, then the one that cuts the total most, ties by position), homes
    are assigned to hosts with at most ``size`` per group by an exact
    assignment (:func:`scipy.optimize.linear_sum_assignment` on the hosts'
    places), then each group's host becomes the member with the least total
    travel from its group; repeated until the hosts stop changing.

    Parameters
    ----------
    minutes
        ``(n, n)`` minutes from home ``i`` to home ``j`` (``inf`` allowed).
    size
        Largest group size (>= 1).

    Returns
    -------
    tuple of numpy.ndarray
        Group host position of each home and the minutes to it.
    """
    if not (isinstance(size, int | np.integer) and size >= 1):
        raise InputError(f"network size {size!r} must be a whole number >= 1")
    t = np.asarray(minutes, dtype=float)
    n = t.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    big = 1e6
    cost = np.where(np.isfinite(t), t, big)
    np.fill_diagonal(cost, 0.0)
    g = math.ceil(n / size)
    hosts = [int(np.argmin(cost.sum(axis=0)))]
    while len(hosts) < g:
        current = cost[:, hosts].min(axis=1)
        gain = np.maximum(current[:, None] - cost, 0.0).sum(axis=0)
        gain[hosts] = -1.0
        hosts.append(int(np.argmax(gain)))
    assign = np.zeros(n, dtype=np.int64)
    for _ in range(max_iterations):
        slots = np.repeat(np.arange(len(hosts)), size)
        c = cost[:, np.asarray(hosts)][:, slots]
        for k, hst in enumerate(hosts):
            c[hst, slots != k] = big * 10  # a host stays in its own group
        rows, cols = linear_sum_assignment(c)
        assign[rows] = slots[cols]
        new_hosts = []
        for k in range(len(hosts)):
            members = np.flatnonzero(assign == k)
            within = cost[np.ix_(members, members)].sum(axis=0)
            new_hosts.append(int(members[np.argmin(within)]))
        if new_hosts == hosts:
            break
        hosts = new_hosts
    host_of = np.asarray(hosts, dtype=np.int64)[assign]
    to_host = t[np.arange(n), host_of]
    return host_of, np.where(host_of == np.arange(n), 0.0, to_host)


def local_networks(homes: pd.DataFrame, *, size: int = 6,
                   minutes_between: Callable[[pd.DataFrame], np.ndarray]) -> pd.DataFrame:
    """Group foster homes of each municipality into local networks of at most ``size``.

    Parameters
    ----------
    homes
        ``home_id, municipality`` (and whatever ``minutes_between`` needs).
    size
        Largest network size.
    minutes_between
        Returns the ``(n, n)`` minutes between the given homes (row order).

    Returns
    -------
    pandas.DataFrame
        ``home_id, municipality, network_id`` (``<municipality>-N<k>``, numbered
        by host id), ``host_home_id`` (the meeting host) and ``minutes_to_host``.
    """
    parts = []
    for muni, group in homes.sort_values("home_id", kind="stable").groupby("municipality",
                                                                          sort=True):
        group = group.reset_index(drop=True)
        host, mins = group_homes(minutes_between(group), size=size)
        ids = group["home_id"].to_numpy(dtype=object)
        host_ids = ids[host]
        number = {h: k + 1 for k, h in enumerate(sorted(set(host_ids)))}
        parts.append(pd.DataFrame({"home_id": ids, "municipality": muni,
                                   "network_id": [f"{muni}-N{number[h]:02d}" for h in host_ids],
                                   "host_home_id": host_ids, "minutes_to_host": mins}))
    if not parts:
        return pd.DataFrame(columns=["home_id", "municipality", "network_id", "host_home_id",
                                     "minutes_to_host"])
    return pd.concat(parts, ignore_index=True)


def cafes(homes: pd.DataFrame, *,
          minutes_between: Callable[[pd.DataFrame], np.ndarray]) -> pd.DataFrame:
    """Pick each municipality's *fosterhjemskafé* host: the 1-median home.

    The host is the home with the least total travel time from all homes of
    its municipality (ties by ``home_id``).

    Returns
    -------
    pandas.DataFrame
        ``municipality, host_home_id, homes, mean_minutes, max_minutes``
        (to the host; unreachable homes make them ``inf``).
    """
    rows = []
    for muni, group in homes.sort_values("home_id", kind="stable").groupby("municipality",
                                                                          sort=True):
        t = np.asarray(minutes_between(group.reset_index(drop=True)), dtype=float)
        cost = np.where(np.isfinite(t), t, 1e6)
        np.fill_diagonal(cost, 0.0)
        j = int(np.argmin(cost.sum(axis=0)))
        to_host = t[:, j].copy()
        to_host[j] = 0.0
        rows.append({"municipality": muni, "host_home_id": group["home_id"].iloc[j],
                     "homes": len(group), "mean_minutes": float(to_host.mean()),
                     "max_minutes": float(to_host.max())})
    return pd.DataFrame(rows, columns=["municipality", "host_home_id", "homes", "mean_minutes",
                                       "max_minutes"])


@dataclass(frozen=True)
class SupportPlan:
    """Resource families, local networks and cafés for the foster homes.

    Attributes
    ----------
    families
        :class:`SupportAssignment`.
    networks
        :func:`local_networks` table.
    cafes
        :func:`cafes` table.
    """

    families: SupportAssignment
    networks: pd.DataFrame
    cafes: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"homes": len(self.families.assignments), "assigned": self.families.assigned,
                "unassigned": len(self.families.unassigned),
                "total_minutes": round(self.families.total_minutes, 3),
                "status": self.families.status,
                "networks": int(self.networks["network_id"].nunique()),
                "cafes": len(self.cafes)}


def support_plan(homes: pd.DataFrame, families: pd.DataFrame, *, net: Network,
                 travel: TravelSettings | None = None, max_homes: int = MAX_HOMES_PER_FAMILY,
                 same_cooperation: bool = True,
                 cooperations: Mapping[str, str] | None = None,
                 max_minutes: float | None = None, network_size: int = 6,
                 time_limit_seconds: float = 60.0) -> SupportPlan:
    """Resource families for every foster home, plus local networks and cafés.

    Parameters
    ----------
    homes
        Normalised homes table (``home_id, lon, lat, municipality``).
    families
        Resource-family table (validated here, see :func:`validate_families`).
    net, travel
        Road network and travel settings (minutes home -> family, home -> home).
    max_homes
        Default capacity of a family.
    same_cooperation
        Only within the home's municipality cooperation (default True).
    cooperations
        Municipality -> cooperation (adds to the families' own pairs; a
        municipality in neither is its own cooperation).
    max_minutes
        Optional limit on home -> family minutes.
    network_size
        Largest local network.
    """
    travel = travel or TravelSettings()
    fam = validate_families(families, max_homes=max_homes)
    coop = cooperation_of(fam, cooperations)
    home_coop = [coop.get(m, m) for m in homes["municipality"]]
    t = travel_times(net, homes, fam, travel, origin_id="home_id", destination_id="resource_id")
    assigned = assign_resource_families(homes["home_id"].tolist(), home_coop, fam, t.minutes,
                                        same_cooperation=same_cooperation,
                                        max_minutes=max_minutes,
                                        time_limit_seconds=time_limit_seconds)

    def between(group: pd.DataFrame) -> np.ndarray:
        return travel_times(net, group, group, travel, origin_id="home_id",
                            destination_id="home_id").minutes

    networks = local_networks(homes, size=network_size, minutes_between=between)
    return SupportPlan(families=assigned, networks=networks,
                       cafes=cafes(homes, minutes_between=between))


# =========================================================================== Oslo scenario


OSLO_FILES: dict[str, str] = {
    "osm": "oslo-east-filtered.osm.pbf",
    "population": "befolkning_250m_2023_oslo.gpkg",
    "municipalities": "kommuner_2024_S.geojson",
    "schools": "grunnskoler_norge_geocoded.csv",
}
"""Files of ``../shared/data`` used by :func:`oslo_scenario`."""
OSLO_REFERENCE_DATE = "2026-11-01"


@dataclass(frozen=True)
class OsloScenario:
    """Synthetic children and homes on real Oslo data.

    Attributes
    ----------
    seed
        The generator seed.
    inputs
        Validated inputs (children, homes; no contacts, locks or vetoes).
    children, homes
        The raw tables (text tags), exactly as a CSV would hold them.
    net
        The Oslo road network.
    municipalities
        Municipality polygons touching the network (EPSG:25833).
    population
        Populated SSB 250 m cells within the network extent (EPSG:25833).
    resource_families
        A synthetic resource-family table.
    as_of
        Reference date of ``waiting_since``.
    """

    seed: int
    inputs: Inputs
    children: pd.DataFrame
    homes: pd.DataFrame
    net: Network
    municipalities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    resource_families: pd.DataFrame
    as_of: datetime.date


def oslo_scenario(data_dir: str | Path, seed: int = 1, *, n_children: int = 150,
                  n_homes: int = 60, n_families: int = 8, osm: str = OSLO_FILES["osm"],
                  extent_metres: float = 200.0, settings: Settings | None = None,
                  cache_dir: str | Path | None = None) -> OsloScenario:
    """Build the Oslo demonstration: SYNTHETIC children and homes on real data.

    Real: the Oslo road network (OSM), the SSB 250 m population grid, the
    municipality polygons (Kartverket-derived) and the primary schools
    (Udir list, geocoded). Synthetic: every child, home and resource family.
    Children, homes and families sit on centres of populated cells within
    ``extent_metres`` of the road network and inside Oslo (0301), drawn with
    probability proportional to the cell's population; a child aged 6 or more
    attends the nearest real school in the network extent (straight line).

    Distributions: ages 0-5 10 %, 6-12 40 %, 13-17 50 %; needs trauma 40 %,
    attachment 20 %, behaviour 15 % (from 8), teen 60 % (from 13),
    substance 10 % (from 14), disability 5 %; acute 20 %, waiting 0-30 days
    (acute) or 14-300 days (planned) before 2026-11-01. Homes: emergency
    10 %, specialized 15 %, general the rest; capacity general 0/1/2/3 =
    10/50/30/10 %, emergency 0/1/2 = 20/50/30 %, specialized 1/2 = 70/30 %;
    competences as in :mod:`matcher.sample`.

    Parameters
    ----------
    data_dir
        Folder holding :data:`OSLO_FILES` (``../shared/data`` beside the project).
    seed
        Seed of ``numpy.random.default_rng``.
    osm
        Road network file in ``data_dir`` (``oslo-center.osm.pbf`` also works).
    cache_dir
        Network cache folder (optional).

    Raises
    ------
    InputError
        If a file is missing (named) or the scenario does not validate.
    """
    from matcher import network as network_mod

    settings = settings or Settings()
    data = Path(data_dir)
    files = {**OSLO_FILES, "osm": osm}
    missing = [name for name in files.values() if not (data / name).is_file()]
    if missing:
        raise InputError(f"{data}: missing data file(s) {missing}; see shared/data/SOURCES.md")
    rng = np.random.default_rng(seed)
    net = network_mod.build(data / files["osm"], settings.network, cache_dir=cache_dir)
    tree = cKDTree(np.column_stack([net.x, net.y]))
    munis = read_municipalities(data / files["municipalities"])
    oslo = munis.loc[munis["area_id"] == "0301"].geometry.iloc[0]
    cells = read_population(data / files["population"])
    cx, cy = _centres(cells)
    ok = (tree.query(np.column_stack([cx, cy]))[0] <= extent_metres) & \
        shapely.contains_xy(oslo, cx, cy)
    cells = cells[ok].reset_index(drop=True)
    cx, cy = cx[ok], cy[ok]
    if len(cells) == 0:
        raise InputError(f"{files['osm']}: no populated Oslo cell lies within {extent_metres:g} m "
                         "of this network")
    bbox = shapely.box(*shapely.total_bounds(shapely.points(net.x, net.y)))
    munis = munis[shapely.intersects(munis.geometry.to_numpy(), bbox)].reset_index(drop=True)

    schools = pd.read_csv(data / files["schools"], sep=";")
    sx, sy = _xy(schools["lng"], schools["lat"])
    near = tree.query(np.column_stack([sx, sy]))[0] <= extent_metres
    sx, sy = sx[near], sy[near]
    s_lon = schools["lng"].to_numpy(dtype=float)[near]
    s_lat = schools["lat"].to_numpy(dtype=float)[near]
    p = cells["population"].to_numpy(dtype=float)
    p = p / p.sum()

    # children
    pick = rng.choice(len(cells), size=n_children, p=p)
    band = rng.choice(3, size=n_children, p=[0.10, 0.40, 0.50])
    age = np.where(band == 0, rng.integers(0, 6, n_children),
                   np.where(band == 1, rng.integers(6, 13, n_children),
                            rng.integers(13, 18, n_children)))
    needs = []
    for a in age:
        tags = []
        for tag, prob, min_age in (("trauma", 0.40, 0), ("attachment", 0.20, 0),
                                   ("behaviour", 0.15, 8), ("teen", 0.60, 13),
                                   ("substance", 0.10, 14), ("disability", 0.05, 0)):
            if rng.random() < prob and a >= min_age:
                tags.append(tag)
        needs.append(";".join(sorted(tags)))
    acute = rng.random(n_children) < 0.20
    days = np.where(acute, rng.integers(0, 31, n_children), rng.integers(14, 301, n_children))
    ref = datetime.date.fromisoformat(OSLO_REFERENCE_DATE)
    lon, lat = _lonlat(cx[pick], cy[pick])
    school = np.full(n_children, -1, dtype=np.int64)
    if len(sx):
        _, nearest = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([cx[pick],
                                                                               cy[pick]]))
        school = np.where(age >= 6, nearest, -1)
    children = pd.DataFrame({
        "child_id": [f"OSL-C{i + 1:04d}" for i in range(n_children)],
        "lon": np.round(lon, 7), "lat": np.round(lat, 7),
        "school_lon": [f"{s_lon[s]:.7f}" if s >= 0 else "" for s in school],
        "school_lat": [f"{s_lat[s]:.7f}" if s >= 0 else "" for s in school],
        "municipality": "0301", "age": age, "needs": needs, "sibling_group": "",
        "urgency": np.where(acute, "acute", "planned"),
        "waiting_since": [(ref - datetime.timedelta(days=int(d))).isoformat() for d in days],
        "max_school_minutes": "",
    })

    # homes
    pick = rng.choice(len(cells), size=n_homes, p=p)
    u = rng.random(n_homes)
    kind = np.where(u < 0.10, "emergency", np.where(u < 0.25, "specialized", "general"))
    cap_p = {"general": ((0, 1, 2, 3), (0.10, 0.50, 0.30, 0.10)),
             "emergency": ((0, 1, 2), (0.20, 0.50, 0.30)),
             "specialized": ((1, 2), (0.70, 0.30))}
    comp_p = {"general": {"PRIDE": 0.85, "trygg-base": 0.25, "teen": 0.10, "EFST": 0.04,
                          "disability": 0.04, "TBO-F": 0.02},
              "emergency": {"PRIDE": 0.90, "trygg-base": 0.50, "TBO-F": 0.10, "teen": 0.15},
              "specialized": {"trygg-base": 0.50, "teen": 0.35, "disability": 0.12,
                              "PRIDE": 0.70}}
    ages = {"general": ((0, 17), (0, 12), (6, 17), (10, 17)),
            "emergency": ((0, 17),), "specialized": ((6, 17), (10, 17))}
    capacity, comps, lo, hi = [], [], [], []
    for k in kind:
        values, probs = cap_p[k]
        capacity.append(int(rng.choice(values, p=probs)))
        tags = [t for t, q in comp_p[k].items() if rng.random() < q]
        if k == "specialized":
            tags.append("TBO-F" if rng.random() < 0.6 else "EFST")
        comps.append(";".join(sorted(set(tags))))
        a, b = ages[k][int(rng.integers(0, len(ages[k])))]
        lo.append(a)
        hi.append(b)
    lon, lat = _lonlat(cx[pick], cy[pick])
    homes = pd.DataFrame({
        "home_id": [f"OSL-H{i + 1:04d}" for i in range(n_homes)],
        "lon": np.round(lon, 7), "lat": np.round(lat, 7), "municipality": "0301",
        "capacity": capacity, "competences": comps, "min_age": lo, "max_age": hi,
        "kind": kind, "kin_of": "", "accepts_sibling_groups": np.array(capacity) >= 2,
    })
    inputs = schema.validate(children, homes, settings=settings.scoring,
                             labels={"children": "oslo children", "homes": "oslo homes"})
    pick = rng.choice(len(cells), size=n_families, p=p, replace=False)
    lon, lat = _lonlat(cx[pick], cy[pick])
    families = pd.DataFrame({"resource_id": [f"OSL-R{i + 1:02d}" for i in range(n_families)],
                             "lon": np.round(lon, 7), "lat": np.round(lat, 7),
                             "municipality": "0301", "cooperation": "Oslo"})
    logger.info("Oslo scenario (seed %d): %d children, %d homes, %d resource families, %d "
                "cells, %d schools", seed, n_children, n_homes, n_families, len(cells), len(sx))
    return OsloScenario(seed=seed, inputs=inputs, children=children, homes=homes, net=net,
                        municipalities=munis, population=cells, resource_families=families,
                        as_of=ref)
