"""Road network: OpenStreetMap -> timed, directed, compact CSR graph.

The build has four pure steps and one disk step:

1. **read** a local OSM file into a table of directed segments (``.osm``,
   ``.osm.xml``, ``.osm.bz2`` through osmnx; ``.osm.pbf`` through pyrosm), or
   download by place/polygon through osmnx for users who have internet;
2. **time** each segment with the Norwegian speed model
   (:class:`matcher.config.NetworkSettings`): a parsed ``maxspeed`` where
   tagged, else a default by ``highway`` class; car ferries get the OSM
   ``duration`` (or length at ``ferry_kmh``) plus the boarding wait;
3. **keep** the largest strongly connected component (and report the rest);
4. **compile** a ``scipy.sparse`` CSR matrix of minutes, keeping the *minimum*
   over parallel edges, with node coordinates in a projected CRS (metres);
5. **cache** the result on disk keyed by the input file's hash, the speed
   settings and the format version.

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
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.sparse import csgraph

from matcher.config import NetworkSettings
from matcher.errors import InputError, Problem
from matcher.io.files import atomic_path

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the cached file layout or the build semantics change."""

_XML_SUFFIXES = (".osm", ".xml", ".osm.xml", ".osm.bz2", ".xml.bz2")
_PBF_SUFFIXES = (".pbf", ".osm.pbf")
_NO = {"no", "private"}
_FERRY_ROAD_CLASSES = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
                       "residential"}
_YES = {"yes", "designated", "permissive", "destination"}
_WAY_TAGS = (
    "highway", "maxspeed", "oneway", "junction", "access", "motor_vehicle", "motorcar",
    "route", "duration", "ferry", "area", "service",
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildInfo:
    """What a build did, for logs and reports (counts only).

    Attributes
    ----------
    source
        File name of the OSM input (no directory).
    key
        Cache key: hash of the input file, the speed settings and the format.
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
    """

    source: str
    key: str
    nodes: int
    edges: int
    dropped_nodes: int
    ferry_edges: int
    seconds: float
    from_cache: bool


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
    _reverse: list[sparse.csr_matrix] = field(default_factory=list, repr=False, compare=False)
    _kdtree: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.graph.shape[0])

    @property
    def kdtree(self) -> Any:
        """A ``scipy.spatial.cKDTree`` over the node coordinates (metres), built once."""
        if not self._kdtree:
            from scipy.spatial import cKDTree

            self._kdtree.append(cKDTree(np.column_stack([self.x, self.y])))
        return self._kdtree[0]

    @property
    def reverse(self) -> sparse.csr_matrix:
        """The transposed graph (edge ``j -> i`` for every ``i -> j``), cached."""
        if not self._reverse:
            self._reverse.append(self.graph.T.tocsr())
        return self._reverse[0]


# --------------------------------------------------------------------------- parsing


_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)\s*(mph|knots)?")


def parse_maxspeed(value: object, zone_kmh: dict[str, float]) -> float:
    """Parse an OSM ``maxspeed`` value to km/h.

    Handles ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"NO:urban"``, ``"walk"``
    and lists (``"50;60"``, lowest wins). Returns ``nan`` when there is no
    usable value (missing, ``none``, ``signals``...), so the class default applies.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, list | tuple):
        parsed = [parse_maxspeed(v, zone_kmh) for v in value]
        usable = [s for s in parsed if not math.isnan(s)]
        return min(usable) if usable else math.nan
    text = str(value).strip()
    if not text:
        return math.nan
    speeds: list[float] = []
    for part in re.split(r"[;|]", text):
        part = part.strip()
        if part in zone_kmh:
            speeds.append(zone_kmh[part])
            continue
        match = _NUMBER.fullmatch(part.lower().replace("km/h", "").replace("kmh", "").strip())
        if match:
            speed = float(match.group(1).replace(",", "."))
            if match.group(2) == "mph":
                speed *= 1.609344
            elif match.group(2) == "knots":
                speed *= 1.852
            if speed > 0:
                speeds.append(speed)
    return min(speeds) if speeds else math.nan


def parse_duration_minutes(value: object) -> float:
    """Parse an OSM ``duration`` tag (``mm``, ``hh:mm``, ``hh:mm:ss``, ISO ``PT1H5M``).

    Returns minutes, or ``nan`` if the value is missing or unreadable.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    text = str(value).strip()
    if not text:
        return math.nan
    iso = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text.upper())
    if iso and any(iso.groups()):
        h, m, s = (float(g) if g else 0.0 for g in iso.groups())
        return h * 60 + m + s / 60
    parts = text.split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return math.nan
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) == 2:
        return numbers[0] * 60 + numbers[1]
    if len(numbers) == 3:
        return numbers[0] * 60 + numbers[1] + numbers[2] / 60
    return math.nan


def _tag(tags: dict[str, Any], key: str) -> str:
    value = tags.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip().lower()


def is_car_ferry(tags: dict[str, Any]) -> bool:
    """Return True if a way with these tags is a ferry that carries cars."""
    if _tag(tags, "route") != "ferry":
        return False
    mv, car = _tag(tags, "motor_vehicle"), _tag(tags, "motorcar")
    if mv == "no" or car == "no":
        return False
    if mv in _YES or car in _YES:
        return True
    return _tag(tags, "ferry") in _FERRY_ROAD_CLASSES


def _is_drivable_road(tags: dict[str, Any], settings: NetworkSettings) -> bool:
    highway = _tag(tags, "highway").split(";")[0]
    if highway not in settings.highway_kmh or _tag(tags, "area") == "yes":
        return False
    mv, car = _tag(tags, "motor_vehicle"), _tag(tags, "motorcar")
    if mv in _NO or car in _NO:
        return False
    return not (_tag(tags, "access") in _NO and mv not in _YES and car not in _YES)


def _haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                 lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres (mean Earth radius 6,371,009 m, as osmnx)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# --------------------------------------------------------------------------- readers
# Each reader returns (nodes, segments): nodes has osmid, lon, lat; segments are
# *directed* and have u, v (osmids), way (id), highway, maxspeed, ferry (bool),
# duration (raw tag).


@contextlib.contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Temporarily ask osmnx to keep the way tags the speed and ferry model need."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(_WAY_TAGS))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def segments_from_osmnx(graph: Any, settings: NetworkSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn an unsimplified osmnx ``MultiDiGraph`` (EPSG:4326) into nodes and segments.

    osmnx has already applied ``oneway`` (including ``-1`` and roundabouts), so
    every graph edge is one directed segment. Non-drivable ways are dropped.
    """
    rows: list[tuple[int, int, int, str, object, bool, object]] = []
    for u, v, data in graph.edges(data=True):
        if is_car_ferry(data):
            rows.append((u, v, _first_int(data.get("osmid")), "ferry", None, True,
                         data.get("duration")))
        elif _is_drivable_road(data, settings):
            rows.append((u, v, _first_int(data.get("osmid")),
                         _tag(data, "highway").split(";")[0], data.get("maxspeed"), False, None))
    segments = pd.DataFrame(
        rows, columns=["u", "v", "way", "highway", "maxspeed", "ferry", "duration"]
    )
    used = pd.unique(np.concatenate([segments["u"].to_numpy(), segments["v"].to_numpy()]))
    coords = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in used]).reshape(-1, 2)
    nodes = pd.DataFrame({"osmid": used.astype(np.int64), "lon": coords[:, 0],
                          "lat": coords[:, 1]})
    return nodes, segments


def _first_int(value: object) -> int:
    if isinstance(value, list | tuple):
        value = value[0]
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def read_xml(path: Path, settings: NetworkSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an OSM XML file (``.osm``, ``.osm.xml``, ``.osm.bz2``) with osmnx."""
    import osmnx as ox

    with _osmnx_way_tags(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            graph = ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
        except Exception as exc:  # osmnx raises many kinds on a bad file
            raise InputError(
                f"{path.name}: cannot read as OSM XML ({type(exc).__name__}: {exc}); "
                "check that it is an uncorrupted .osm/.osm.bz2 file"
            ) from None
    return segments_from_osmnx(graph, settings)


def read_pbf(path: Path, settings: NetworkSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an OSM PBF file with pyrosm: the driving network plus car ferries."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyrosm import OSM

        try:
            osm = OSM(str(path))
            got = osm.get_network(network_type="driving", nodes=True)
        except Exception as exc:
            raise InputError(
                f"{path.name}: cannot read as OSM PBF ({type(exc).__name__}: {exc}); "
                "check that it is an uncorrupted .osm.pbf file"
            ) from None
        ferries = osm.get_data_by_custom_criteria(
            custom_filter={"route": ["ferry"]}, filter_type="keep",
            keep_nodes=False, keep_ways=True, keep_relations=False,
        )
    if got is None:
        raise InputError(f"{path.name}: no drivable roads found; is this the right area?")
    pnodes, pedges = got
    nodes = pd.DataFrame({"osmid": pnodes["id"].to_numpy(np.int64),
                          "lon": pnodes["lon"].to_numpy(float),
                          "lat": pnodes["lat"].to_numpy(float)})
    tags = pedges.drop(columns=["geometry"]).to_dict("records")
    keep = np.array([_is_drivable_road(t, settings) for t in tags], dtype=bool)
    e = pedges.loc[keep]
    oneway = _lower_column(e, "oneway")
    junction = _lower_column(e, "junction")
    highway = e["highway"].astype(str).str.split(";").str[0].to_numpy(dtype=object)
    forward_only = np.isin(oneway, ["yes", "true", "1"]) | (
        ((junction == "roundabout") | (highway == "motorway"))
        & ~np.isin(oneway, ["no", "false", "0"])
    )
    backward_only = np.isin(oneway, ["-1", "reverse"])
    u = e["u"].to_numpy(np.int64)
    v = e["v"].to_numpy(np.int64)
    way = e["id"].to_numpy(np.int64)
    maxspeed = e["maxspeed"].to_numpy(dtype=object) if "maxspeed" in e else np.full(len(e), None)
    fwd = ~backward_only
    bwd = ~forward_only
    segments = pd.DataFrame({
        "u": np.concatenate([u[fwd], v[bwd]]),
        "v": np.concatenate([v[fwd], u[bwd]]),
        "way": np.concatenate([way[fwd], way[bwd]]),
        "highway": np.concatenate([highway[fwd], highway[bwd]]),
        "maxspeed": np.concatenate([maxspeed[fwd], maxspeed[bwd]]),
        "ferry": False,
        "duration": None,
    })
    if ferries is not None and len(ferries):
        fnodes, fsegs = _pbf_ferries(ferries, nodes)
        nodes = pd.concat([nodes, fnodes], ignore_index=True)
        segments = pd.concat([segments, fsegs], ignore_index=True)
    return nodes, segments


def _lower_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A tag column as lower-case text ('' where missing or when no way has the tag)."""
    if column not in frame:
        return np.full(len(frame), "", dtype=object)
    return frame[column].astype("string").fillna("").str.lower().to_numpy(dtype=object)


def _pbf_ferries(ferries: pd.DataFrame, nodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn pyrosm ferry ways into segments joined to road nodes at the quays.

    pyrosm gives ferry ways as geometries without node ids, so the two end
    points are matched to road nodes by their exact coordinates (they are the
    same OSM node); inner points get synthetic negative ids.
    """
    key = {(round(lo, 7), round(la, 7)): i
           for i, lo, la in zip(nodes["osmid"], nodes["lon"], nodes["lat"], strict=True)}
    new_nodes: list[tuple[int, float, float]] = []
    rows: list[tuple[int, int, int, str, object, bool, object]] = []
    next_id = -1
    skipped = 0
    for rec in ferries.to_dict("records"):
        extra = rec.get("tags")
        tags = dict(json.loads(extra)) if isinstance(extra, str) and extra else {}
        tags.update({k: rec.get(k) for k in ("route", "ferry", "duration", "motor_vehicle",
                                             "motorcar", "oneway") if rec.get(k) is not None})
        if not is_car_ferry(tags):
            continue
        geom = rec["geometry"]
        lines = list(getattr(geom, "geoms", [geom]))
        for line in lines:
            coords = list(line.coords)
            ends = [key.get((round(c[0], 7), round(c[1], 7))) for c in (coords[0], coords[-1])]
            if ends[0] is None or ends[1] is None:
                skipped += 1
                continue
            ids = [ends[0]]
            for lo, la in coords[1:-1]:
                new_nodes.append((next_id, lo, la))
                ids.append(next_id)
                next_id -= 1
            ids.append(ends[1])
            way = int(rec.get("id", -1))
            oneway = _tag(tags, "oneway") in ("yes", "true", "1")
            for a, b in itertools.pairwise(ids):
                rows.append((a, b, way, "ferry", None, True, tags.get("duration")))
                if not oneway:
                    rows.append((b, a, way, "ferry", None, True, tags.get("duration")))
    if skipped:
        logger.info("ferry lines not joined to the road network: %d", skipped)
    fnodes = pd.DataFrame(new_nodes, columns=["osmid", "lon", "lat"])
    fsegs = pd.DataFrame(rows, columns=["u", "v", "way", "highway", "maxspeed", "ferry",
                                        "duration"])
    return fnodes, fsegs


def download(*, place: str | None = None, polygon: Any = None,
             settings: NetworkSettings | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Download roads and car ferries through osmnx (needs internet).

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
        raise InputError("give exactly one of place or polygon")
    classes = "|".join(sorted(settings.highway_kmh))
    filters = [f'["highway"~"^({classes})$"]', '["route"="ferry"]']
    with _osmnx_way_tags():
        if place is not None:
            graph = ox.graph_from_place(place, custom_filter=filters, simplify=False,
                                        retain_all=True)
        else:
            graph = ox.graph_from_polygon(polygon, custom_filter=filters, simplify=False,
                                          retain_all=True)
    return segments_from_osmnx(graph, settings)


# --------------------------------------------------------------------------- compile


def compile_segments(nodes: pd.DataFrame, segments: pd.DataFrame, settings: NetworkSettings, *,
                     source: str = "network", key: str = "") -> Network:
    """Time segments, keep the largest strongly connected component, build the CSR.

    Parameters
    ----------
    nodes
        ``osmid, lon, lat`` (EPSG:4326).
    segments
        Directed: ``u, v`` (osmids), ``way``, ``highway``, ``maxspeed`` (raw),
        ``ferry`` (bool), ``duration`` (raw ferry tag).
    settings
        Speed model and projected CRS.

    Raises
    ------
    InputError
        If nothing drivable remains.
    """
    t0 = time.perf_counter()
    if segments.empty:
        raise InputError(f"{source}: no drivable roads or car ferries found; check the OSM "
                         "extract and the highway classes in [network].highway_kmh")
    nodes = nodes.drop_duplicates("osmid").reset_index(drop=True)
    index = pd.Index(nodes["osmid"].to_numpy(np.int64))
    ui = index.get_indexer(segments["u"].to_numpy(np.int64))
    vi = index.get_indexer(segments["v"].to_numpy(np.int64))
    ok = (ui >= 0) & (vi >= 0) & (ui != vi)
    seg = segments.loc[ok].reset_index(drop=True)
    ui, vi = ui[ok], vi[ok]
    lon = nodes["lon"].to_numpy(float)
    lat = nodes["lat"].to_numpy(float)
    length = _haversine_m(lon[ui], lat[ui], lon[vi], lat[vi])
    ferry = seg["ferry"].to_numpy(bool)
    highway = seg["highway"].astype(str).to_numpy(dtype=object)

    raw = seg["maxspeed"].astype("string").fillna("")
    lookup = {m: parse_maxspeed(m, settings.zone_kmh) for m in pd.unique(raw)}
    parsed = raw.map(lookup).to_numpy(float)
    default = np.array([settings.highway_kmh.get(h, np.nan) for h in highway], float)
    speed = np.where(np.isnan(parsed), default, parsed) * settings.speed_factor
    minutes = np.empty(len(seg))
    road = ~ferry
    minutes[road] = length[road] / (speed[road] * 1000.0 / 60.0)
    if ferry.any():
        minutes[ferry], speed[ferry] = _ferry_minutes(seg.loc[ferry], length[ferry], settings)

    n = len(nodes)
    graph = sparse.coo_matrix((minutes, (ui, vi)), shape=(n, n))
    labels = csgraph.connected_components(graph.tocsr(), directed=True, connection="strong")[1]
    counts = np.bincount(labels)
    used = np.zeros(n, bool)
    used[ui] = used[vi] = True
    biggest = int(np.argmax(np.where(np.bincount(labels, weights=used) > 0, counts, 0)))
    keep_node = labels == biggest
    dropped = int(used.sum() - keep_node.sum())
    new_id = np.cumsum(keep_node) - 1
    keep_edge = keep_node[ui] & keep_node[vi]
    u2, v2 = new_id[ui[keep_edge]], new_id[vi[keep_edge]]

    edges = pd.DataFrame({
        "u": u2.astype(np.int64), "v": v2.astype(np.int64),
        "length_m": length[keep_edge], "speed_kmh": speed[keep_edge],
        "minutes": minutes[keep_edge], "highway": highway[keep_edge],
        "ferry": ferry[keep_edge],
    })
    # keep the fastest of parallel edges (never sum them)
    edges = (edges.sort_values(["u", "v", "minutes", "length_m"], kind="stable")
             .drop_duplicates(["u", "v"], keep="first").reset_index(drop=True))
    m = int(keep_node.sum())
    csr = sparse.csr_matrix((edges["minutes"].to_numpy(), (edges["u"].to_numpy(),
                                                           edges["v"].to_numpy())), shape=(m, m))
    csr.sort_indices()
    k_lon, k_lat = lon[keep_node], lat[keep_node]
    x, y = Transformer.from_crs("EPSG:4326", settings.crs, always_xy=True).transform(k_lon, k_lat)
    info = BuildInfo(source=source, key=key, nodes=m, edges=len(edges), dropped_nodes=dropped,
                     ferry_edges=int(edges["ferry"].sum()), seconds=time.perf_counter() - t0,
                     from_cache=False)
    logger.info("network %s: %d nodes, %d edges, %d ferry edges, %d nodes dropped outside the "
                "largest strongly connected component", source, m, len(edges),
                info.ferry_edges, dropped)
    return Network(graph=csr, osmid=nodes["osmid"].to_numpy(np.int64)[keep_node],
                   x=np.asarray(x, float), y=np.asarray(y, float), lon=k_lon, lat=k_lat,
                   edges=edges, crs=settings.crs, info=info)


def _ferry_minutes(seg: pd.DataFrame, length: np.ndarray,
                   settings: NetworkSettings) -> tuple[np.ndarray, np.ndarray]:
    """Minutes and effective speed (km/h) of ferry segments, by length share of the way."""
    frame = pd.DataFrame({"way": seg["way"].to_numpy(), "length": length,
                          "duration": [parse_duration_minutes(d) for d in seg["duration"]]})
    # each direction of a two-way ferry repeats the way: the share is within one direction
    way_len = frame.groupby("way")["length"].transform("sum").to_numpy() / _directions(seg)
    share = np.divide(length, way_len, out=np.ones_like(length), where=way_len > 0)
    crossing = frame["duration"].to_numpy()
    crossing = np.where(np.isnan(crossing), way_len / (settings.ferry_kmh * 1000 / 60), crossing)
    minutes = (crossing + settings.ferry_wait_minutes) * share
    speed = np.divide(length / 1000.0, minutes / 60.0, out=np.zeros_like(length),
                      where=minutes > 0)
    return minutes, speed


def _directions(seg: pd.DataFrame) -> np.ndarray:
    """1 for one-way ferry ways, 2 for ways present in both directions."""
    pairs = pd.DataFrame({"way": seg["way"].to_numpy(),
                          "a": np.minimum(seg["u"].to_numpy(), seg["v"].to_numpy()),
                          "b": np.maximum(seg["u"].to_numpy(), seg["v"].to_numpy())})
    per_pair = pairs.groupby(["way", "a", "b"])["way"].transform("size")
    return np.clip(pairs.assign(n=per_pair).groupby("way")["n"].transform("max").to_numpy(), 1, 2)


# --------------------------------------------------------------------------- build + cache


def file_key(path: Path, settings: NetworkSettings) -> str:
    """Cache key of an OSM file: sha256 of its bytes, the settings and the format."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(settings.fingerprint().encode())
    digest.update(f"format{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:24]


def read(path: Path, settings: NetworkSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an OSM file into nodes and directed segments, by its suffix."""
    name = path.name.lower()
    if name.endswith(_PBF_SUFFIXES):
        return read_pbf(path, settings)
    if name.endswith(_XML_SUFFIXES):
        if name.endswith(".bz2"):
            try:
                with bz2.open(path) as fh:
                    fh.read(16)
            except OSError:
                raise InputError(f"{path.name}: not a valid bz2 file; re-download or "
                                 "decompress it") from None
        return read_xml(path, settings)
    raise InputError(f"{path.name}: unknown OSM file type; use .osm, .osm.xml, .osm.bz2 or "
                     ".osm.pbf")


def build(osm: str | Path, settings: NetworkSettings | None = None, *,
          cache_dir: str | Path | None = None, progress: Progress | None = None) -> Network:
    """Build (or load from cache) the network of a local OSM file.

    Parameters
    ----------
    osm
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf`` file.
    settings
        Speed model and CRS; defaults to :class:`NetworkSettings`.
    cache_dir
        Folder holding ``network.npz`` and ``network.json``. When they were
        built from the same file bytes and settings they are loaded instead
        of rebuilding; otherwise they are (re)written.
    progress
        Called with a short description before each step.

    Raises
    ------
    InputError
        If the file is missing, unreadable or holds no drivable network.
    """
    settings = settings or NetworkSettings()
    path = Path(osm)
    if not path.is_file():
        raise InputError(f"{path}: OSM file not found; check the path")
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("hashing input")
    key = file_key(path, settings)
    if cache_dir is not None:
        cached = _try_load(Path(cache_dir), key)
        if cached is not None:
            say("loaded from cache")
            return cached
    say(f"reading {path.name}")
    nodes, segments = read(path, settings)
    say("timing and compiling")
    net = compile_segments(nodes, segments, settings, source=path.name, key=key)
    info = BuildInfo(**{**net.info.__dict__, "seconds": time.perf_counter() - t0})
    net = _replace_info(net, info)
    if cache_dir is not None:
        say("writing cache")
        save(net, Path(cache_dir))
    return net


def _replace_info(net: Network, info: BuildInfo) -> Network:
    return Network(graph=net.graph, osmid=net.osmid, x=net.x, y=net.y, lon=net.lon, lat=net.lat,
                   edges=net.edges, crs=net.crs, info=info)


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
    }
    meta = {"format": FORMAT_VERSION, "crs": net.crs, "info": net.info.__dict__}
    with atomic_path(folder / "network.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    with atomic_path(folder / "network.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


def _try_load(folder: Path, key: str) -> Network | None:
    meta_path = folder / "network.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("info", {}).get("key") != key or meta.get("format") != FORMAT_VERSION:
        return None
    return load(folder)


def load(folder: str | Path) -> Network:
    """Load a network written by :func:`build` or :func:`save`.

    Raises
    ------
    InputError
        If the folder holds no network or a damaged one.
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    try:
        meta = json.loads((folder / "network.json").read_text())
        with np.load(folder / "network.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(f"{folder}: no network here; build one into this folder first "
                         "(network.build with cache_dir, or `matcher network build`)") from None
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise InputError(f"{folder}: damaged network files ({exc}); rebuild with "
                         "`matcher network build`") from None
    if meta.get("format") != FORMAT_VERSION:
        raise InputError(f"{folder}: network format {meta.get('format')} is not "
                         f"{FORMAT_VERSION}; rebuild with `matcher network build`")
    n = len(arrays["osmid"])
    graph = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n))
    edges = pd.DataFrame({
        "u": arrays["u"], "v": arrays["v"], "length_m": arrays["length_m"],
        "speed_kmh": arrays["speed_kmh"], "minutes": arrays["minutes"],
        "highway": arrays["highway_names"][arrays["highway_code"]].astype(object),
        "ferry": arrays["ferry"],
    })
    info = BuildInfo(**{**meta["info"], "seconds": time.perf_counter() - t0, "from_cache": True})
    return Network(graph=graph, osmid=arrays["osmid"], x=arrays["x"], y=arrays["y"],
                   lon=arrays["lon"], lat=arrays["lat"], edges=edges, crs=meta["crs"], info=info)


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
        return [Problem(net.info.source, f"{int(bad.sum())} edges have non-positive or "
                        "infinite minutes; check maxspeed tags and speed settings")]
    return []
