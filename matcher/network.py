"""Road network: OpenStreetMap -> timed, directed, compact CSR graph.

The build has four pure steps and one disk step:

1. **read** a local OSM file into driven ways as drawn (``.osm``,
   ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf``, streamed by one pyosmium
   reader in one pass), optionally clipped to an area plus a buffer
   (:class:`ClipArea`), or download by place/polygon through osmnx for users
   who have internet. Every reader hands each way's raw tags to one rule
   function (:meth:`matcher._osm.WayRules.interpret`), which decides
   drivability, direction, speed and car ferries;
2. **time** each segment with the Norwegian speed model
   (:class:`matcher.config.NetworkSettings`): a parsed ``maxspeed`` where
   tagged, else a default by ``highway`` class, times ``speed_factor``; car
   ferries get the OSM ``duration`` (or length at ``ferry_kmh``) plus the
   boarding wait; an edge entering a signal, stop, give-way or crossing node
   or a junction pays its delay (:func:`delay_seconds`); with turn costs the
   graph is turn-expanded (:func:`matcher._turns.expand`: turn costs by
   angle, turn restrictions with a via node or way), else turn restrictions
   split their via nodes (:func:`split_for_restrictions`);
3. **keep** the largest strongly connected component (and report the rest);
4. **compile** a ``scipy.sparse`` CSR matrix of minutes, keeping the *minimum*
   over parallel edges, with node coordinates in a projected CRS (metres);
5. **cache** the result on disk keyed by the input file's hash, the speed
   settings, the clip area and the format version.

Ferries
-------
A ``route=ferry`` way is drivable when ``motor_vehicle`` or ``motorcar`` is
``yes``/``designated``, or when ``ferry=*`` names a road class such as
``ferry=primary`` (the OSM way of saying a ferry carries a road), unless
``motor_vehicle``/``motorcar`` is ``no``. Its total time is ``duration``
(``mm``, ``hh:mm`` or ``hh:mm:ss``) or ``length / ferry_kmh``, plus
``ferry_wait_minutes``; each segment of the way carries its length share of
that total, so a full crossing costs exactly ``duration + wait``.
"""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import json
import logging
import resource
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph

from matcher import _osm, _turns
from matcher._osm import OsmRoads, is_car_ferry, parse_duration_minutes, parse_maxspeed
from matcher.clip import ClipArea, clip_from_municipalities
from matcher.config import NetworkSettings
from matcher.errors import InputError, Problem
from matcher.i18n import format_number, ngettext
from matcher.i18n import gettext as _
from matcher.io.files import atomic_path

__all__ = [
    "ROAD_RANK",
    "BuildInfo",
    "ClipArea",
    "ClipReport",
    "Network",
    "StepTiming",
    "build",
    "check_problems",
    "clip_from_municipalities",
    "compile_roads",
    "delay_seconds",
    "download",
    "file_key",
    "file_sha256",
    "is_car_ferry",
    "load",
    "parse_duration_minutes",
    "parse_maxspeed",
    "peak_memory_mb",
    "read",
    "record_chains",
    "recorded_chains",
    "save",
    "to_geodataframes",
    "to_gpkg",
    "to_osmnx",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 5
"""Bump when the cached file layout or the build semantics change.

5: turn costs on the turn-expanded graph (in-ports of junctions and clones of
via ways in ``copy_of``), via-way restrictions.
4: turn restrictions by node splitting (``copy_of`` in the file).
3: node and junction delays in the edge minutes (issue 20).

2: one tag-rule function for every reader (motorway_link implied one-way,
reversible ways dropped), pyosmium PBF reader, clip area in the key, step
timings in the metadata.
"""


COPY_ID_BASE = 10**15
"""Copies of via nodes are exported with node ids ``-(COPY_ID_BASE + k)``."""

CHAINS_ON_DISK_MIN_NODES = 200_000
"""From this many nodes the build also stores the contracted road chains
(``chains-forward.npz``, ``chains-backward.npz``, see ``traveltime.prepare``)."""

_XML_SUFFIXES = (".osm", ".xml", ".osm.xml", ".osm.bz2", ".xml.bz2")
_PBF_SUFFIXES = (".pbf", ".osm.pbf")

Progress = Callable[[str], None]
BytesProgress = _osm.BytesProgress


@dataclass(frozen=True)
class StepTiming:
    """Wall time and peak memory of one build step.

    Attributes
    ----------
    step
        Short name (``hash``, ``read``, ``compile``, ``cache``...).
    seconds
        Wall time of the step in seconds.
    peak_mb
        Peak resident memory of the process at the end of the step, in MiB
        (``ru_maxrss``: the high-water mark since the process started).
    """

    step: str
    seconds: float
    peak_mb: float


@dataclass(frozen=True)
class ClipReport:
    """What a clip kept (counts and an extent, never individual places).

    Attributes
    ----------
    area
        What the clip was made from (municipality numbers or a file name).
    buffer_km
        Buffer around the area in kilometres.
    nodes_read
        Road and ferry nodes found in the file.
    nodes_kept
        Those inside the buffered area.
    share_kept
        ``nodes_kept / nodes_read``.
    bbox
        ``(west, south, east, north)`` of the compiled network in degrees
        (EPSG:4326), rounded to 3 decimals.
    """

    area: str
    buffer_km: float
    nodes_read: int
    nodes_kept: int
    share_kept: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class BuildInfo:
    """What a build did, for logs and reports (counts only).

    Attributes
    ----------
    source
        File name of the OSM input (no directory).
    key
        Cache key: hash of the input file, the speed settings, the clip and
        the format.
    nodes, edges
        Size of the compiled graph (edges after merging parallel ones).
    dropped_nodes
        Nodes outside the largest strongly connected component.
    ferry_edges
        Directed ferry edges in the compiled graph.
    seconds
        Wall time of the build or of the cache load, in seconds.
    from_cache
        True when the network was loaded from the cache.
    steps
        Time and peak memory per step of this build (or of the cache load).
    clip
        What the clip kept, when the build was clipped.
    """

    source: str
    key: str
    nodes: int
    edges: int
    dropped_nodes: int
    ferry_edges: int
    seconds: float
    from_cache: bool
    steps: tuple[StepTiming, ...] = ()
    clip: ClipReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (steps and clip as nested dicts)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildInfo:
        """Rebuild from :meth:`to_dict` output."""
        clip = data.get("clip")
        return cls(**{**data,
                      "steps": tuple(StepTiming(**s) for s in data.get("steps", ())),
                      "clip": None if clip is None else ClipReport(
                          **{**clip, "bbox": tuple(clip["bbox"])})})


@dataclass(frozen=True)
class Network:
    """A routable directed drive network.

    Attributes
    ----------
    graph
        ``(n, n)`` CSR matrix; ``graph[i, j]`` is the travel time in minutes of
        the fastest edge from node ``i`` to node ``j``.
    osmid
        OSM node ids (``int64``); synthetic ferry nodes have negative ids.
    x, y
        Node coordinates in metres in :attr:`crs`.
    lon, lat
        Node coordinates in degrees (EPSG:4326).
    edges
        One row per compiled edge: ``u, v`` (node positions), ``length_m``,
        ``speed_kmh``, ``minutes``, ``highway``, ``ferry``.
    crs
        Projected CRS of ``x, y`` (default EPSG:25833).
    info
        How the network was built.
    copy_of
        The last ``len(copy_of)`` nodes are copies, ``copy_of[k]`` the node
        that node ``n_road_nodes + k`` copies (same OSM id and place): with
        turn costs an in-port per edge and the clones of via ways
        (:mod:`matcher._turns`), else the copies of via nodes of turn
        restrictions (:func:`split_for_restrictions`). Points snap to road
        nodes only; a trip starts at a node and all its copies, and a path
        reaching a copy reaches its node.
    """

    graph: sparse.csr_matrix
    osmid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    edges: pd.DataFrame
    crs: str
    info: BuildInfo
    copy_of: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    _reverse: list[sparse.csr_matrix] = field(default_factory=list, repr=False, compare=False)
    _kdtree: list[Any] = field(default_factory=list, repr=False, compare=False)
    _chains: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _folder: list[Path] = field(default_factory=list, repr=False, compare=False)

    @property
    def folder(self) -> Path | None:
        """The cache folder this network was loaded from or saved to, if any."""
        return self._folder[0] if self._folder else None

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.graph.shape[0])

    @property
    def n_road_nodes(self) -> int:
        """Number of nodes that are not copies (:attr:`copy_of`); they come first."""
        return self.n_nodes - len(self.copy_of)

    @property
    def kdtree(self) -> Any:
        """A ``scipy.spatial.cKDTree`` over the road nodes' coordinates (metres), built once."""
        if not self._kdtree:
            from scipy.spatial import cKDTree

            m = self.n_road_nodes
            self._kdtree.append(cKDTree(np.column_stack([self.x[:m], self.y[:m]])))
        return self._kdtree[0]

    def fold_copies(self, minutes: np.ndarray) -> np.ndarray:
        """Minutes per node (last axis) with each road node given the best of it and its copies."""
        m = self.n_road_nodes
        out = np.array(minutes[..., :m], dtype=float, copy=True)
        if len(self.copy_of):
            np.minimum.at(np.moveaxis(out, -1, 0), self.copy_of,
                          np.moveaxis(np.asarray(minutes)[..., m:], -1, 0))
        return out

    @property
    def reverse(self) -> sparse.csr_matrix:
        """The transposed graph (edge ``j -> i`` for every ``i -> j``), cached."""
        if not self._reverse:
            self._reverse.append(self.graph.T.tocsr())
        return self._reverse[0]



# --------------------------------------------------------------------------- compile


def _haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                 lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres (mean Earth radius 6,371,009 m, as osmnx)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def compile_roads(roads: OsmRoads, settings: NetworkSettings, *, source: str = "network",
                  key: str = "") -> Network:
    """Time segments, keep the largest strongly connected component, build the CSR.

    Parameters
    ----------
    roads
        Driven ways as drawn, with one rule per way (from a reader in
        :mod:`matcher._osm`).
    settings
        Ferry speed (km/h), boarding wait (minutes) and projected CRS.

    Raises
    ------
    InputError
        If nothing drivable remains.
    """
    t0 = time.perf_counter()
    if len(roads.seg_u) == 0:
        raise InputError(_("{source}: no drivable roads or car ferries found; check the OSM "
                           "extract and the highway classes in [network].highway_kmh").format(
            source=source))
    u0, v0, w = roads.seg_u, roads.seg_v, roads.seg_way
    lon, lat = roads.lon, roads.lat
    length0 = _haversine_m(lon[u0], lat[u0], lon[v0], lat[v0])
    ferry0 = roads.way_ferry[w]
    speed0 = roads.way_speed_kmh[w].copy()
    minutes0 = np.empty(len(u0))
    road = ~ferry0
    minutes0[road] = length0[road] / (speed0[road] * 1000.0 / 60.0)
    if ferry0.any():
        minutes0[ferry0], speed0[ferry0] = _ferry_minutes(
            roads.way_id[w[ferry0]], roads.way_ferry_minutes[w[ferry0]], length0[ferry0],
            settings)
    fwd, bwd = roads.way_forward[w], roads.way_backward[w]

    def both(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[fwd], a[bwd]])

    ui = np.concatenate([u0[fwd], v0[bwd]])
    vi = np.concatenate([v0[fwd], u0[bwd]])
    length, minutes, speed = both(length0), both(minutes0), both(speed0)
    ferry, highway = both(ferry0), both(roads.way_highway[w])
    minutes = minutes + delay_seconds(ui, vi, highway, ferry, roads.node_kind, settings) / 60.0
    way_of = both(roads.way_id[w])
    n0 = len(roads.node_id)
    if settings.turn_costs:
        # the turn-expanded graph: in-ports at junctions, one arc per allowed turn
        x0, y0 = Transformer.from_crs("EPSG:4326", settings.crs, always_xy=True).transform(
            lon, lat)
        ex = _turns.expand(ui, vi, way_of, np.asarray(x0, float), np.asarray(y0, float),
                           settings, r_from=roads.restriction_from, r_via=roads.restriction_via,
                           r_to=roads.restriction_to, r_only=roads.restriction_only,
                           w_from=roads.via_way_from, w_via=roads.via_way_via,
                           w_to=roads.via_way_to, w_only=roads.via_way_only)
        ui, vi, copy_of = ex.tail, ex.head, ex.copy_of
        minutes = minutes[ex.edge] + ex.turn_minutes
        length, speed, ferry, highway = (a[ex.edge] for a in (length, speed, ferry, highway))
    elif settings.turn_restrictions:
        vi, extra, copy_of = split_for_restrictions(ui, vi, way_of, roads)
        ui = np.concatenate([ui, n0 + extra[:, 0]])
        vi = np.concatenate([vi, vi[extra[:, 1]]])
        length, minutes, speed = (np.concatenate([a, a[extra[:, 1]]])
                                  for a in (length, minutes, speed))
        ferry, highway = (np.concatenate([a, a[extra[:, 1]]]) for a in (ferry, highway))
    else:
        copy_of = np.empty(0, np.int64)
    lon, lat = np.concatenate([lon, lon[copy_of]]), np.concatenate([lat, lat[copy_of]])
    node_id = np.concatenate([roads.node_id, roads.node_id[copy_of]])

    n = len(node_id)
    n0 = len(roads.node_id)
    used = np.zeros(n, bool)
    used[ui] = used[vi] = True
    alive = np.ones(n, bool)
    while True:
        live = alive[ui] & alive[vi]
        graph = sparse.csr_matrix((np.ones(int(live.sum()), np.int8), (ui[live], vi[live])),
                                  shape=(n, n))
        labels = csgraph.connected_components(graph, directed=True, connection="strong")[1]
        counts = np.bincount(labels)
        biggest = int(np.argmax(np.where(np.bincount(labels, weights=used & alive) > 0,
                                         counts, 0)))
        keep_node = labels == biggest
        if not len(copy_of):
            break
        # a node whose arrivals all go to its copies (in-ports, a via node) is kept when a
        # copy is: reaching a copy is reaching the node, and trips start at its copies too
        copy_kept = np.zeros(n0, bool)
        copy_kept[copy_of[keep_node[n0:]]] = True
        keep_node[:n0] |= copy_kept
        orphans = keep_node[n0:] & ~keep_node[copy_of]
        if not orphans.any():
            break
        # a copy only with its node; the component is found again without the orphans
        keep_node[n0:] &= ~orphans
        alive = keep_node.copy()
    used[copy_of[used[n0:]]] = True  # a road node is used when one of its copies is
    dropped = int(used[:n0].sum() - keep_node[:n0].sum())
    new_id = np.cumsum(keep_node) - 1
    keep_edge = keep_node[ui] & keep_node[vi]
    u2, v2 = new_id[ui[keep_edge]], new_id[vi[keep_edge]]

    m = int(keep_node.sum())
    # keep the fastest of parallel edges (never sum them): by (u, v, minutes, length), the
    # first of each (u, v); numpy's stable lexsort, the order pandas' sort_values gave
    at = np.flatnonzero(keep_edge)
    u2, v2 = u2.astype(np.int64), v2.astype(np.int64)
    order = np.lexsort((length[at], minutes[at], v2, u2))
    pair = u2[order] * np.int64(m) + v2[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    pick, at = order[first], at[order[first]]
    edges = pd.DataFrame({
        "u": u2[pick], "v": v2[pick], "length_m": length[at], "speed_kmh": speed[at],
        "minutes": minutes[at], "highway": highway[at], "ferry": ferry[at],
    })
    csr = sparse.csr_matrix((edges["minutes"].to_numpy(), (edges["u"].to_numpy(),
                                                           edges["v"].to_numpy())), shape=(m, m))
    csr.sort_indices()
    k_lon, k_lat = lon[keep_node], lat[keep_node]
    x, y = Transformer.from_crs("EPSG:4326", settings.crs, always_xy=True).transform(k_lon, k_lat)
    kept_copies = np.flatnonzero(keep_node[n0:])
    copy_of_kept = new_id[copy_of[kept_copies]].astype(np.int64)
    info = BuildInfo(source=source, key=key, nodes=m, edges=len(edges), dropped_nodes=dropped,
                     ferry_edges=int(edges["ferry"].sum()), seconds=time.perf_counter() - t0,
                     from_cache=False)
    logger.info(_("network {source}: {nodes} nodes, {edges} edges, {ferry} ferry edges, "
                  "{dropped} nodes dropped outside the largest strongly connected "
                  "component").format(source=source, nodes=format_number(m),
                                      edges=format_number(len(edges)),
                                      ferry=format_number(info.ferry_edges),
                                      dropped=format_number(dropped)))
    return Network(graph=csr, osmid=node_id[keep_node], x=np.asarray(x, float),
                   y=np.asarray(y, float), lon=k_lon, lat=k_lat, edges=edges, crs=settings.crs,
                   info=info, copy_of=copy_of_kept)


def split_for_restrictions(u: np.ndarray, v: np.ndarray, way_of: np.ndarray, roads: OsmRoads
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node splitting for turn restrictions with a via node (exact, on the node graph).

    For every directed edge ``e = a -> x`` entering a via node ``x`` on a
    restriction's from-way, the allowed next edges are ``x``'s out-edges
    minus the to-way's (``no_*``) or only the to-way's (``only_*``); for a
    restriction from a way onto itself only the edge back to ``a`` counts as
    the to-way's. Where that removes something, ``e`` is turned onto a copy of
    ``x`` (one copy per via node and allowed set) whose out-edges are copies
    of the allowed ones, so a path entering ``x`` along ``e`` can only leave
    as allowed; a path that starts at ``x`` uses the original node.

    Returns
    -------
    head, extra, copy_of
        New head of every edge (copies are numbered after the nodes, from
        ``len(roads.node_id)``); ``extra`` ``(k, 2)``: copy number (0-based)
        and the edge whose copy leaves it; ``copy_of``: the node each copy
        copies.
    """
    head = v.copy()
    empty = (head, np.empty((0, 2), np.int64), np.empty(0, np.int64))
    if not len(roads.restriction_via):
        return empty
    allowed, outs = _turns.allowed_exits(
        u, v, way_of, roads.restriction_from, roads.restriction_via, roads.restriction_to,
        roads.restriction_only)
    copies: dict[tuple[int, frozenset[int]], int] = {}
    extra: list[tuple[int, int]] = []
    n = len(roads.node_id)
    for entering in sorted(allowed):
        via = int(v[entering])
        keep = frozenset(allowed[entering])
        if keep == frozenset(outs.get(via, [])):
            continue
        k = copies.get((via, keep))
        if k is None:
            k = copies[(via, keep)] = len(copies)
            extra.extend((k, f) for f in sorted(keep))
        head[entering] = n + k
    if not copies:
        return empty
    copy_of = np.empty(len(copies), np.int64)
    for (via, _keep), k in copies.items():
        copy_of[k] = via
    # compile_roads gives a copied edge the new head of its original, so a copied
    # edge into another restricted via node enters that node's copy too
    return head, np.asarray(extra, dtype=np.int64).reshape(-1, 2), copy_of


ROAD_RANK: dict[str, int] = {
    "motorway": 7, "motorway_link": 7, "trunk": 6, "trunk_link": 6, "primary": 5,
    "primary_link": 5, "secondary": 4, "secondary_link": 4, "tertiary": 3, "tertiary_link": 3,
    "unclassified": 2, "residential": 1,
}
"""Rank of a road class at junctions (``[network].junction_seconds``); others rank 0."""


def delay_seconds(u: np.ndarray, v: np.ndarray, highway: np.ndarray, ferry: np.ndarray,
                  node_kind: np.ndarray, settings: NetworkSettings) -> np.ndarray:
    """Seconds lost on each directed edge ``u -> v`` where it enters node ``v``.

    The node's own delay (``node_delay_seconds`` by its ``highway`` tag, see
    :data:`matcher._osm.NODE_KINDS`) plus, when ``v`` is a junction (three
    or more distinct road neighbours), ``junction_seconds`` by the edge's
    class rank (:data:`ROAD_RANK`) against the ranks meeting at ``v``:
    ``minor`` below the highest, ``equal`` when all ranks there are the same,
    ``major`` otherwise. Ferry edges neither pay nor count. An edge's delay
    is a property of the edge, so shortest paths (and the chain contraction)
    stay exact on the node graph.
    """
    n = len(node_kind)
    node_s = np.array([0.0] + [settings.node_delay_seconds[k] for k in _osm.NODE_KINDS[1:]])
    delay = node_s[node_kind[v]]
    road = ~np.asarray(ferry, dtype=bool)
    delay[~road] = 0.0
    codes, names = pd.factorize(pd.Series(highway, dtype=object))
    rank = np.array([ROAD_RANK.get(str(h), 0) for h in names], dtype=np.int64)[codes]
    ru, rv, rr = u[road], v[road], rank[road]
    lo, hi = np.minimum(ru, rv), np.maximum(ru, rv)
    pairs = np.unique(lo * np.int64(n) + hi)
    degree = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
    top = np.full(n, -1, dtype=np.int64)
    low = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    for ends in (ru, rv):
        np.maximum.at(top, ends, rr)
        np.minimum.at(low, ends, rr)
    into = road & (degree[v] >= 3)
    minor = into & (rank < top[v])
    equal = into & ~minor & (low[v] == top[v])
    major = into & ~minor & ~equal
    seconds = settings.junction_seconds
    delay[minor] += seconds["minor"]
    delay[equal] += seconds["equal"]
    delay[major] += seconds["major"]
    return delay


def _ferry_minutes(way_id: np.ndarray, crossing_minutes: np.ndarray, length: np.ndarray,
                   settings: NetworkSettings) -> tuple[np.ndarray, np.ndarray]:
    """Minutes and effective speed (km/h) of as-drawn ferry segments, by length share."""
    _ids, way = np.unique(way_id, return_inverse=True)
    way_len = np.bincount(way, weights=length)[way]
    share = np.divide(length, way_len, out=np.ones_like(length), where=way_len > 0)
    crossing = np.where(np.isnan(crossing_minutes),
                        way_len / (settings.ferry_kmh * 1000 / 60), crossing_minutes)
    minutes = (crossing + settings.ferry_wait_minutes) * share
    speed = np.divide(length / 1000.0, minutes / 60.0, out=np.zeros_like(length),
                      where=minutes > 0)
    return minutes, speed


# --------------------------------------------------------------------------- read + build + cache


def download(*, place: str | None = None, polygon: Any = None,
             settings: NetworkSettings | None = None) -> OsmRoads:
    """Download roads and car ferries from Overpass through osmnx (needs internet).

    osmnx fetches an unsimplified graph (node ids, coordinates, segments) and
    the raw features (every tag of every way) for the same polygon; our rules
    decide (:func:`matcher._osm.read_osmnx`). ``ox.settings`` is read, never
    changed. osmnx 2.x is required (``pyproject.toml``).

    Parameters
    ----------
    place
        A place name osmnx can geocode, e.g. ``"Alver, Vestland, Norway"``.
    polygon
        A shapely polygon in EPSG:4326, instead of ``place``.
    settings
        Speed settings (which highway classes are drivable).
    """
    import osmnx as ox

    settings = settings or NetworkSettings()
    if (place is None) == (polygon is None):
        raise InputError(_("give exactly one of place or polygon"))
    if place is not None:
        polygon = ox.geocode_to_gdf(place).geometry.union_all()
    graph = ox.graph_from_polygon(polygon, custom_filter=overpass_filters(settings),
                                  simplify=False, retain_all=True)
    # every highway: osmnx matches tag values exactly, and "primary;secondary" is a primary
    features = ox.features_from_polygon(polygon, tags={"highway": True, "route": "ferry"})
    return _osm.read_osmnx(graph, features, settings)


def overpass_filters(settings: NetworkSettings) -> list[str]:
    """Overpass filters for the ways the rules may drive: a listed class first in ``highway``
    (POSIX regex, as :meth:`matcher._osm.WayRules.interpret` reads it), or a ferry route."""
    classes = "|".join(sorted(settings.highway_kmh))
    return [f'["highway"~"^ *({classes}) *(;|$)"]', '["route"="ferry"]']


def file_key(path: Path, settings: NetworkSettings, clip: ClipArea | None = None) -> str:
    """Cache key of an OSM file: sha256 of its bytes, the settings, the clip and the format."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(settings.fingerprint().encode())
    if clip is not None:
        digest.update(f"clip{clip.fingerprint()}".encode())
    digest.update(f"format{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:24]


def read(path: Path, settings: NetworkSettings, *, clip: ClipArea | None = None,
         on_bytes: BytesProgress | None = None) -> OsmRoads:
    """Read an OSM file into driven ways as drawn, by its suffix.

    Parameters
    ----------
    clip
        Keep only nodes inside this area plus its buffer.
    on_bytes
        ``(bytes read, total)`` progress of the reader (compressed bytes for ``.bz2``).
    """
    name = path.name.lower()
    if not name.endswith(_PBF_SUFFIXES + _XML_SUFFIXES):
        raise InputError(_("{file}: unknown OSM file type; use .osm, .osm.xml, .osm.bz2 or "
                           ".osm.pbf").format(file=path.name))
    if name.endswith(".bz2"):
        try:
            with bz2.open(path) as fh:
                fh.read(16)
        except OSError:
            raise InputError(_("{file}: not a valid bz2 file; re-download or "
                               "decompress it").format(file=path.name)) from None
    keep = None if clip is None else clip.node_filter(settings.crs)
    return _osm.read_file(path, settings, keep=keep, on_bytes=on_bytes)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _Steps:
    """Record wall time and peak memory per build step."""

    def __init__(self, say: Progress) -> None:
        self.say = say
        self.done: list[StepTiming] = []
        self._name = ""
        self._t0 = 0.0

    def start(self, name: str, message: str) -> None:
        self.stop()
        self.say(message)
        self._name, self._t0 = name, time.perf_counter()

    def stop(self) -> None:
        if self._name:
            self.done.append(StepTiming(self._name, round(time.perf_counter() - self._t0, 4),
                                        round(peak_memory_mb(), 1)))
            self._name = ""


def build(osm: str | Path, settings: NetworkSettings | None = None, *,
          cache_dir: str | Path | None = None, progress: Progress | None = None,
          on_bytes: BytesProgress | None = None, clip: ClipArea | None = None) -> Network:
    """Build (or load from cache) the network of a local OSM file.

    Parameters
    ----------
    osm
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf`` file.
    settings
        Speed model and CRS; defaults to :class:`NetworkSettings`.
    cache_dir
        Folder holding ``network.npz`` and ``network.json``. When they were
        built from the same file bytes, settings and clip they are loaded
        instead of rebuilding; otherwise they are (re)written.
    progress
        Called with a short description before each step.
    on_bytes
        Called with ``(bytes read, total)`` while the file is read.
    clip
        Keep only the roads inside this area plus its buffer.

    Raises
    ------
    InputError
        If the file is missing, unreadable, holds no drivable network, or
        the clip keeps nothing.
    """
    settings = settings or NetworkSettings()
    path = Path(osm)
    if not path.is_file():
        raise InputError(_("{file}: OSM file not found; check the path").format(file=path))
    steps = _Steps(progress or (lambda _msg: None))
    t0 = time.perf_counter()
    steps.start("hash", _("hashing input"))
    key = file_key(path, settings, clip)
    if cache_dir is not None:
        cached = _try_load(Path(cache_dir), key)
        if cached is not None:
            steps.stop()
            steps.start("load", _("loaded from cache"))
            steps.stop()
            return _replace_info(cached, dataclasses.replace(
                cached.info, steps=tuple(steps.done), seconds=time.perf_counter() - t0))
    steps.start("read", _("reading {file}").format(file=path.name))
    roads = read(path, settings, clip=clip, on_bytes=on_bytes)
    if clip is not None and len(roads.node_id) == 0:
        raise InputError(
            _("{file}: the clip area ({area}, buffer {buffer} km) keeps none of the {nodes} road "
              "nodes in the file; check that the area lies inside the extract (polygons in "
              "EPSG:4326) or widen --clip-buffer-km").format(
                file=path.name, area=clip.label, buffer=format_number(clip.buffer_metres / 1000, 1),
                nodes=format_number(roads.nodes_read)))
    steps.start("compile", _("timing and compiling"))
    net = compile_roads(roads, settings, source=path.name, key=key)
    clip_report = None
    if clip is not None:
        kept = len(roads.node_id)
        clip_report = ClipReport(
            area=clip.label, buffer_km=clip.buffer_metres / 1000.0, nodes_read=roads.nodes_read,
            nodes_kept=kept, share_kept=kept / roads.nodes_read if roads.nodes_read else 0.0,
            bbox=(round(float(net.lon.min()), 3), round(float(net.lat.min()), 3),
                  round(float(net.lon.max()), 3), round(float(net.lat.max()), 3)))
    if cache_dir is not None:
        steps.start("cache", _("writing cache"))
        net = _replace_info(net, dataclasses.replace(net.info, clip=clip_report))
        save(net, Path(cache_dir))
        if net.n_nodes >= CHAINS_ON_DISK_MIN_NODES:
            from matcher import traveltime  # the chains cache lives there; imported late

            steps.start("chains", _("contracting road chains for travel times"))
            for backwards in (False, True):
                traveltime.prepare(net, backwards=backwards)
    steps.stop()
    info = dataclasses.replace(net.info, seconds=time.perf_counter() - t0,
                               steps=tuple(steps.done), clip=clip_report)
    return _replace_info(net, info)


def _replace_info(net: Network, info: BuildInfo) -> Network:
    out = Network(graph=net.graph, osmid=net.osmid, x=net.x, y=net.y, lon=net.lon, lat=net.lat,
                  edges=net.edges, crs=net.crs, info=info, copy_of=net.copy_of)
    out._folder[:] = net._folder
    out._chains.update(net._chains)
    return out


def save(net: Network, folder: Path) -> None:
    """Write ``network.npz`` and ``network.json`` atomically (owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    highway_codes, highway_names = pd.factorize(net.edges["highway"], sort=True)
    arrays = {
        "indptr": net.graph.indptr, "indices": net.graph.indices, "data": net.graph.data,
        "osmid": net.osmid, "x": net.x, "y": net.y, "lon": net.lon, "lat": net.lat,
        "u": net.edges["u"].to_numpy(), "v": net.edges["v"].to_numpy(),
        "length_m": net.edges["length_m"].to_numpy(),
        "speed_kmh": net.edges["speed_kmh"].to_numpy(),
        "minutes": net.edges["minutes"].to_numpy(), "ferry": net.edges["ferry"].to_numpy(),
        "highway_code": highway_codes.astype(np.int16),
        "highway_names": np.asarray(highway_names, dtype=str),
        "copy_of": net.copy_of,
    }
    meta: dict[str, Any] = {"format": FORMAT_VERSION, "crs": net.crs,
                            "info": net.info.to_dict()}
    # the chains of the network being replaced go first: a save that fails half-way
    # (new network.npz beside the old network.json and its key) leaves none to trust
    for stale in folder.glob("chains-*.npz"):
        stale.unlink(missing_ok=True)
    with atomic_path(folder / "network.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        meta["sha256"] = file_sha256(tmp)
    _write_meta(folder, meta)
    net._chains.clear()
    net._folder[:] = [folder]


def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
    with atomic_path(folder / "network.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


def file_sha256(path: Path) -> str:
    """Return the SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def record_chains(folder: Path, name: str, sha256: str) -> None:
    """Record the SHA-256 of ``chains-<name>.npz`` in ``network.json`` (checked on reading)."""
    meta = _read_meta(folder)
    meta.setdefault("chains", {})[name] = sha256
    _write_meta(folder, meta)


def recorded_chains(folder: Path) -> dict[str, str]:
    """Return the SHA-256 of each chains file recorded in ``network.json`` (may be empty)."""
    chains = _read_meta(folder).get("chains")
    return {str(k): str(v) for k, v in chains.items()} if isinstance(chains, dict) else {}


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "network.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(_("{folder}: no network here; build one into this folder first "
                           "(network.build with cache_dir, or `matcher network build`)").format(
            folder=folder)) from None
    except (OSError, ValueError) as exc:
        raise _damaged(path, str(exc)) from None
    if not isinstance(meta, dict):
        raise _damaged(path, _("not a JSON object"))
    return meta


def _damaged(path: Path, what: str) -> InputError:
    """The error for a damaged cache file: which file, what is wrong, and the fix."""
    return InputError(_("{file}: damaged network cache ({what}); build the network again with "
                        "`matcher network build --osm FILE --out {folder}`").format(
        file=path, what=what, folder=path.parent))


def _try_load(folder: Path, key: str) -> Network | None:
    meta_path = folder / "network.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("info"), dict) \
            or meta["info"].get("key") != key or meta.get("format") != FORMAT_VERSION:
        return None
    try:
        net = load(folder)
        from matcher import traveltime  # the chains live there; imported late

        traveltime.check_chains(net)
    except InputError as exc:
        # the OSM file is at hand: a damaged cache is rebuilt, never used
        logger.warning(_("{folder}: the network cache is damaged ({error}); rebuilding it from "
                         "the OSM file").format(folder=folder,
                                                error=exc.summary.splitlines()[0][:300]))
        for stale in folder.glob("chains-*.npz"):
            stale.unlink(missing_ok=True)
        return None
    return net


def load(folder: str | Path) -> Network:
    """Load a network written by :func:`build` or :func:`save`.

    Raises
    ------
    InputError
        If the folder holds no network or a damaged one.
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    meta = _read_meta(folder)
    npz = folder / "network.npz"
    if meta.get("format") != FORMAT_VERSION:
        raise InputError(_("{folder}: network format {found} is not {expected}; rebuild with "
                           "`matcher network build`").format(
            folder=folder, found=meta.get("format"), expected=FORMAT_VERSION))
    try:
        digest = file_sha256(npz)
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(_("{folder}: no network here; build one into this folder first "
                           "(network.build with cache_dir, or `matcher network build`)").format(
            folder=folder)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(npz, str(exc)[:200]) from None
    meta_problems = _check_meta(meta)
    if meta_problems:
        raise _damaged(folder / "network.json", "; ".join(meta_problems))
    recorded = meta.get("sha256")
    if recorded is not None and recorded != digest:
        raise _damaged(npz, _("its content differs from the one recorded in network.json at "
                              "build time"))
    problems = _check_arrays(arrays)
    if problems:
        raise _damaged(npz, "; ".join(problems[:5]))
    n = len(arrays["osmid"])
    graph = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n))
    edges = pd.DataFrame({
        "u": arrays["u"], "v": arrays["v"], "length_m": arrays["length_m"],
        "speed_kmh": arrays["speed_kmh"], "minutes": arrays["minutes"],
        # index an object array of the few names: no new str per edge
        "highway": arrays["highway_names"].astype(object)[arrays["highway_code"]],
        "ferry": arrays["ferry"],
    })
    info = dataclasses.replace(BuildInfo.from_dict(meta["info"]),
                               seconds=time.perf_counter() - t0, from_cache=True)
    net = Network(graph=graph, osmid=arrays["osmid"], x=arrays["x"], y=arrays["y"],
                  lon=arrays["lon"], lat=arrays["lat"], edges=edges, crs=meta["crs"], info=info,
                  copy_of=arrays["copy_of"].astype(np.int64))
    net._folder[:] = [folder]
    return net


_ARRAY_KINDS: dict[str, str] = {
    "indptr": "iu", "indices": "iu", "data": "f", "osmid": "iu", "x": "f", "y": "f",
    "lon": "f", "lat": "f", "u": "iu", "v": "iu", "length_m": "f", "speed_kmh": "f",
    "minutes": "f", "ferry": "b", "highway_code": "iu", "highway_names": "U", "copy_of": "iu",
}
"""The arrays of ``network.npz`` and their dtype kinds (numpy ``dtype.kind``)."""


def _check_meta(meta: dict[str, Any]) -> list[str]:
    """Problems of ``network.json`` (a valid CRS text, build info)."""
    problems = []
    if not isinstance(meta.get("crs"), str) or not meta["crs"]:
        problems.append(_("no 'crs'"))
    if meta.get("sha256") is not None and not isinstance(meta["sha256"], str):
        problems.append(_("'sha256' is not text"))
    try:
        info = BuildInfo.from_dict(meta["info"])
        if not isinstance(info.nodes, int) or not isinstance(info.key, str):
            raise TypeError
    except (KeyError, TypeError, ValueError, AttributeError):
        problems.append(_("no valid 'info'"))
    return problems


def _check_arrays(arrays: dict[str, np.ndarray]) -> list[str]:
    """Problems of the arrays of ``network.npz``, checked before scipy sees them.

    Every array present, one-dimensional, of its dtype kind; node arrays of
    one length ``n``; a CSR structure with ``indptr`` rising from 0 to the
    number of entries and every index in ``[0, n)``; edge arrays of one
    length with node positions in ``[0, n)``; minutes finite and >= 0.
    """
    problems = []
    for name, kinds in _ARRAY_KINDS.items():
        a = arrays.get(name)
        if a is None:
            problems.append(_("array '{name}' missing").format(name=name))
        elif a.ndim != 1 or a.dtype.kind not in kinds:
            problems.append(_("array '{name}' has dtype {dtype} and {ndim} dimensions").format(
                name=name, dtype=a.dtype, ndim=a.ndim))
    if problems:
        return problems
    n = len(arrays["osmid"])
    for name in ("x", "y", "lon", "lat"):
        if len(arrays[name]) != n:
            problems.append(_("array '{name}' has {found} values, not {n}").format(
                name=name, found=len(arrays[name]), n=n))
    indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
    if (len(indptr) != n + 1 or indptr[0] != 0 or indptr[-1] != len(indices)
            or len(data) != len(indices) or (np.diff(indptr.astype(np.int64)) < 0).any()):
        problems.append(_("the CSR structure (indptr, indices, data) does not fit {n} nodes")
                        .format(n=n))
    elif len(indices) and (indices.min() < 0 or indices.max() >= n):
        problems.append(_("a node index in 'indices' is outside 0..{last}").format(last=n - 1))
    if not (np.isfinite(data).all() and (data >= 0).all()):
        problems.append(_("'data' holds minutes that are negative or not finite"))
    m = len(arrays["u"])
    for name in ("v", "length_m", "speed_kmh", "minutes", "ferry", "highway_code"):
        if len(arrays[name]) != m:
            problems.append(_("array '{name}' has {found} values, not {n}").format(
                name=name, found=len(arrays[name]), n=m))
    if problems:
        return problems
    for name in ("u", "v"):
        if m and (arrays[name].min() < 0 or arrays[name].max() >= n):
            problems.append(_("a node index in '{name}' is outside 0..{last}").format(
                name=name, last=n - 1))
    codes = arrays["highway_code"]
    if m and (codes.min() < 0 or codes.max() >= len(arrays["highway_names"])):
        problems.append(_("a code in 'highway_code' has no name in 'highway_names'"))
    if not (np.isfinite(arrays["minutes"]).all() and (arrays["minutes"] >= 0).all()):
        problems.append(_("'minutes' holds values that are negative or not finite"))
    copy_of = arrays["copy_of"]
    # the copies of via nodes come last; each names an original node before them
    if len(copy_of) > n or (len(copy_of) and (copy_of.min() < 0
                                              or copy_of.max() >= n - len(copy_of))):
        problems.append(_("a node index in '{name}' is outside 0..{last}").format(
            name="copy_of", last=n - len(copy_of) - 1))
    return problems


# --------------------------------------------------------------------------- export


def to_geodataframes(net: Network) -> tuple[Any, Any]:
    """Return ``(nodes, edges)`` GeoDataFrames in the network CRS.

    Edges carry ``u, v, length_m, speed_kmh, minutes, highway, ferry``;
    nodes carry ``node`` (position) and ``osmid``.
    """
    import geopandas as gpd
    import shapely

    nodes = gpd.GeoDataFrame(
        {"node": np.arange(net.n_nodes), "osmid": net.osmid},
        geometry=shapely.points(net.x, net.y), crs=net.crs,
    )
    u = net.edges["u"].to_numpy()
    v = net.edges["v"].to_numpy()
    coords = np.stack([np.column_stack([net.x[u], net.y[u]]),
                       np.column_stack([net.x[v], net.y[v]])], axis=1)
    edges = gpd.GeoDataFrame(net.edges.copy(), geometry=shapely.linestrings(coords), crs=net.crs)
    return nodes, edges


def to_osmnx(net: Network) -> Any:
    """Export the compiled network as an osmnx graph (``ox.convert.graph_from_gdfs``).

    Nodes are keyed by OSM id with ``x, y`` in the network CRS (metres) and
    ``lon, lat`` (degrees, EPSG:4326); each directed edge has key 0 and
    carries osmnx's ``length`` (metres), ``speed_kph`` and ``travel_time``
    (seconds) besides our ``minutes``, ``highway`` and ``ferry``, so osmnx and
    networkx routing by ``travel_time`` give our minutes times 60. Copies of
    via nodes (turn restrictions) are keyed ``-(COPY_ID_BASE + k)``.
    """
    import osmnx as ox

    nodes, edges = to_geodataframes(net)
    osmid = np.asarray(net.osmid, dtype=np.int64).copy()
    osmid[net.n_road_nodes:] = -(COPY_ID_BASE + np.arange(len(net.copy_of)))
    nodes = nodes.assign(x=net.x, y=net.y, lon=net.lon, lat=net.lat)
    nodes.index = pd.Index(osmid, name="osmid")
    nodes = nodes.drop(columns=["osmid"])
    u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
    edges = edges.rename(columns={"length_m": "length", "speed_kmh": "speed_kph"})
    edges["travel_time"] = edges["minutes"] * 60.0
    edges.index = pd.MultiIndex.from_arrays([osmid[u], osmid[v], np.zeros(len(u), np.int64)],
                                            names=["u", "v", "key"])
    edges = edges.drop(columns=["u", "v"])
    return ox.convert.graph_from_gdfs(nodes, edges)


def to_gpkg(net: Network, path: str | Path) -> Path:
    """Export nodes and edges to a GeoPackage (layers ``nodes``, ``edges``), atomically."""
    path = Path(path)
    nodes, edges = to_geodataframes(net)
    with atomic_path(path) as tmp:
        nodes.to_file(tmp, layer="nodes", driver="GPKG", engine="pyogrio")
        edges.to_file(tmp, layer="edges", driver="GPKG", engine="pyogrio")
    return path


def check_problems(net: Network) -> list[Problem]:
    """Return sanity problems of a compiled network (non-positive or non-finite times)."""
    bad = ~(net.graph.data > 0) | ~np.isfinite(net.graph.data)
    if bad.any():
        count = int(bad.sum())
        return [Problem(net.info.source, ngettext(
            "{n} edge has non-positive or infinite minutes; check maxspeed tags and speed "
            "settings",
            "{n} edges have non-positive or infinite minutes; check maxspeed tags and speed "
            "settings", count).format(n=format_number(count)))]
    return []
