"""Write a deterministic, Norway-scale synthetic ``.osm.pbf`` for the network-build benchmark.

The file imitates what ``norway-latest.osm.pbf`` holds, at the same order of
size, so that a PBF reader can be timed on it:

* a road grid over a crude outline of mainland Norway (lon 4.5-31, lat 58-71),
  with a hierarchy of ``motorway`` (two one-way carriageways, south only),
  ``trunk``, ``primary``, ``secondary``, ``tertiary``, ``unclassified`` and
  ``residential`` lines; ways span one to several junctions, and every road
  segment between two junctions is drawn with 0-6 shape nodes, as in OSM.
  Some ways carry ``maxspeed``, some local ways are ``oneway=yes`` or
  ``oneway=-1``; a share of local segments is missing;
* fjords (water bands cut into the grid) and off-shore islands joined by long
  car ferries (``route=ferry`` + ``motor_vehicle=yes`` or ``ferry=primary``,
  some with ``duration``), and one passenger-only ferry;
* ways that a drive network must drop: ``access=private`` spurs and
  ``highway=footway`` paths, each with nodes of their own; and one-way
  dead-end stubs, drivable but outside the strongly connected network;
* the bulk of the file, as in real OSM: buildings (small closed 4-node rings)
  and land-cover polygons (closed rings of 60 nodes).

Node ids are spread over a sparse id space (gaps of 1-60) and interleaved
between the kinds of data in blocks of 4,096 nodes, as edits and imports
leave them in OSM. Nodes are written sorted by id before the ways.

The bulk nodes and the building and land-cover ways are formatted as
fixed-width OPL lines with numpy and handed to pyosmium's ``SimpleWriter``
through an in-memory ``osmium.io.FileBuffer``, so libosmium parses and
encodes them without a Python object per node (about 1.5 microseconds per
node); road, ferry, private and footway ways go through ``add_way`` one by one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
import shapely
from osmium.io import FileBuffer
from osmium.osm.mutable import Way
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

OUTLINE: tuple[tuple[float, float], ...] = (
    (7.0, 57.95), (8.2, 58.1), (9.5, 58.8), (10.6, 59.0), (11.4, 58.95), (11.9, 59.8),
    (12.5, 60.4), (12.3, 61.2), (12.1, 62.3), (12.3, 63.4), (13.9, 64.4), (14.2, 65.2),
    (15.5, 66.2), (16.4, 67.4), (18.0, 68.3), (19.9, 68.4), (21.2, 69.2), (22.5, 68.7),
    (24.9, 68.6), (26.0, 69.7), (27.9, 70.0), (29.2, 69.5), (29.0, 69.0), (30.9, 69.6),
    (31.0, 70.3), (28.5, 71.0), (25.7, 71.15), (23.0, 70.7), (19.5, 70.2), (16.0, 69.3),
    (14.5, 68.6), (13.0, 67.6), (12.4, 66.3), (11.0, 65.0), (9.8, 64.0), (8.0, 63.3),
    (5.6, 62.3), (4.8, 61.2), (4.7, 60.2), (5.3, 59.1), (5.6, 58.6), (6.2, 58.1),
)
"""A crude outline of mainland Norway, (lon, lat) degrees, EPSG:4326."""

ISLANDS: tuple[tuple[float, float, float, float], ...] = (
    (11.6, 67.9, 12.9, 68.3),   # "Lofoten"
    (6.8, 63.4, 7.8, 63.8),     # "Hitra"
    (15.6, 69.8, 17.0, 70.2),   # "Senja"
    (21.0, 70.8, 22.5, 71.0),   # "Sørøya"
)
"""Off-shore land boxes (lon0, lat0, lon1, lat1) reached only by car ferry."""

FJORDS: tuple[tuple[float, float, float, float], ...] = (
    (4.5, 61.05, 7.2, 61.25),    # "Sognefjord"
    (5.2, 60.0, 6.8, 60.2),      # "Hardangerfjord"
    (8.5, 63.45, 11.0, 63.65),   # "Trondheimsfjord"
    (10.45, 59.0, 10.8, 59.8),   # "Oslofjord"
)
"""Water boxes (lon0, lat0, lon1, lat1) cut out of the road grid."""

FERRIES: tuple[tuple[float, float, float, float, dict[str, str]], ...] = (
    (12.6, 68.1, 14.6, 68.0, {"motor_vehicle": "yes", "duration": "03:15"}),
    (7.5, 63.6, 9.0, 63.3, {"motor_vehicle": "yes"}),
    (16.5, 70.0, 17.5, 69.2, {"ferry": "primary", "duration": "01:40"}),
    (21.8, 70.9, 22.5, 70.3, {"motor_vehicle": "yes", "duration": "75"}),
    (5.8, 60.95, 5.8, 61.4, {"motor_vehicle": "yes", "duration": "00:25"}),
    (6.0, 59.9, 6.0, 60.35, {"motor_vehicle": "yes", "duration": "20"}),
    (10.0, 63.35, 10.0, 63.8, {"ferry": "primary"}),
    (10.3, 59.42, 10.95, 59.42, {"motor_vehicle": "yes", "duration": "00:30"}),
)
"""Car ferries (lon_a, lat_a, lon_b, lat_b, tags); ends snap to the nearest junction."""

PASSENGER_FERRY: tuple[float, float, float, float] = (6.5, 60.9, 6.5, 61.4)
"""A ferry that carries no cars (``motor_vehicle=no``): it must be dropped."""

COUNTIES: dict[str, tuple[float, float, float, float]] = {
    "vestland": (4.5, 59.7, 8.3, 62.3),
    "trondelag": (8.5, 62.3, 14.3, 65.5),
    "nordland": (11.5, 65.5, 18.5, 69.0),
    "finnmark": (20.5, 68.5, 31.0, 71.2),
}
"""County-like boxes (lon0, lat0, lon1, lat1); a clip region is the outline cut to one."""

FULL_JUNCTIONS = 1_050_000
"""Road junctions at scale 1.0 (about 6.7 M road nodes in 1.1 M drivable ways)."""
FULL_BUILDINGS = 10_400_000
"""Buildings (4-node closed rings) at scale 1.0."""
FULL_LANDCOVER = 1_000_000
"""Land-cover polygons (60-node closed rings) at scale 1.0."""
LANDCOVER_RING = 60
BLOCK = 4096
"""Nodes per block when interleaving the ids of the kinds of data."""
_FIX = 10_000_000
"""Fixed-point factor of coordinates (1e-7 degree, as OSM stores them)."""
_LAT0 = 64.5
"""Latitude (degrees) at which grid cells are square."""

_LANDCOVER_TAGS = ("landuse=forest", "natural=wood", "natural=water", "landuse=meadow",
                   "natural=wetland", "landuse=farmland", "natural=bare_rock")
_MAXSPEED = {
    "motorway": ("110", "100", "90"), "trunk": ("80", "90", "70", "NO:rural"),
    "primary": ("80", "60", "70"), "secondary": ("60", "80", "50"),
    "tertiary": ("50", "60", "NO:urban"), "unclassified": ("50", "60", "80"),
    "residential": ("30", "50", "NO:urban", "40"),
}
# a grid line of this class every so many lines, most important first
_CLASS_EVERY = (("motorway", 162), ("trunk", 81), ("primary", 27), ("secondary", 9),
                ("tertiary", 3))


@dataclass(frozen=True)
class Design:
    """What :func:`generate` wrote, with the ids a correct drive network must hold.

    Attributes
    ----------
    path
        The ``.osm.pbf`` file.
    bytes
        Its size in bytes.
    seconds
        Wall time of the generation, in seconds.
    spacing_km
        Distance between neighbouring junctions of the grid, in km.
    road_nodes, road_ways
        Nodes on drivable roads (junctions and shape nodes) and drivable ways.
    ferry_ways, ferry_nodes
        Car-ferry ways and their inner (sea) nodes; their ends are junctions.
    dropped_ways, dropped_nodes
        Ways a drive network must drop (``access=private``, ``highway=footway``,
        the passenger ferry) and their nodes that lie on no drivable way.
    private_ways, footway_ways
        How many of ``dropped_ways`` are private spurs and footways.
    stub_ways
        One-way dead-end stubs (``oneway=yes``, two nodes of their own past a
        junction): drivable, counted in ``road_ways``, but outside the largest
        strongly connected part, so a build drops their nodes.
    other_nodes, other_ways
        Buildings and land cover: nodes and ways.
    junction_ids
        OSM ids of every junction node that lies on a drivable way.
    kept_road_ids
        OSM ids of the road nodes (junctions and shape nodes) in the largest
        strongly connected part of the design, roads and car ferries together,
        honouring one-way rules: the road nodes a correct build keeps.
    kept_junction_ids
        The junctions among ``kept_road_ids``.
    stub_node_ids
        The nodes of the one-way stubs past their junction (dropped by a build).
    ferry_node_ids
        OSM ids of the inner nodes of the car ferries.
    dropped_node_ids
        OSM ids of the nodes of private spurs, footways and the passenger
        ferry (none of them is on a drivable way).
    island_junction_ids
        Junctions on islands (reachable only by car ferry).
    county_junctions
        Junctions (on drivable ways) inside each county of :data:`COUNTIES`
        and the outline.
    """

    path: Path
    bytes: int
    seconds: float
    spacing_km: float
    road_nodes: int
    road_ways: int
    ferry_ways: int
    ferry_nodes: int
    dropped_ways: int
    dropped_nodes: int
    private_ways: int
    footway_ways: int
    stub_ways: int
    other_nodes: int
    other_ways: int
    junction_ids: np.ndarray = field(repr=False)
    kept_road_ids: np.ndarray = field(repr=False)
    kept_junction_ids: np.ndarray = field(repr=False)
    stub_node_ids: np.ndarray = field(repr=False)
    ferry_node_ids: np.ndarray = field(repr=False)
    dropped_node_ids: np.ndarray = field(repr=False)
    island_junction_ids: np.ndarray = field(repr=False)
    county_junctions: dict[str, int] = field(repr=False)

    @property
    def total_nodes(self) -> int:
        """Every node in the file."""
        return self.road_nodes + self.ferry_nodes + self.dropped_nodes + self.other_nodes

    @property
    def total_ways(self) -> int:
        """Every way in the file."""
        return self.road_ways + self.ferry_ways + self.dropped_ways + self.other_ways


def outline() -> shapely.Polygon:
    """Return the mainland outline as a shapely polygon (EPSG:4326)."""
    return shapely.Polygon(OUTLINE)


def county_polygon(name: str) -> shapely.Polygon:
    """Return county ``name`` of :data:`COUNTIES`: its box cut to the outline (EPSG:4326)."""
    if name not in COUNTIES:
        raise ValueError(f"unknown county {name!r}; use one of {sorted(COUNTIES)}")
    return shapely.intersection(outline(), shapely.box(*COUNTIES[name]))


def _in_boxes(lon: np.ndarray, lat: np.ndarray,
              boxes: tuple[tuple[float, float, float, float], ...]) -> np.ndarray:
    inside = np.zeros(lon.shape, bool)
    for lo0, la0, lo1, la1 in boxes:
        inside |= (lon >= lo0) & (lon <= lo1) & (lat >= la0) & (lat <= la1)
    return inside


def _land(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Grid points on land: inside the outline or an island, outside the fjords."""
    land = shapely.contains_xy(outline(), lon, lat) | _in_boxes(lon, lat, ISLANDS)
    return land & ~_in_boxes(lon, lat, FJORDS)


def _grid_axes(spacing_km: float) -> tuple[np.ndarray, np.ndarray]:
    dlat = spacing_km / 111.2
    dlon = dlat / np.cos(np.radians(_LAT0))
    return np.arange(4.5, 31.0, dlon), np.arange(58.0, 71.2, dlat)


def _spacing_for(junctions: float) -> float:
    """Grid spacing (km) that puts about ``junctions`` grid points on land."""
    trial = 10.0
    lons, lats = _grid_axes(trial)
    glon, glat = np.meshgrid(lons, lats)
    n0 = int(_land(glon, glat).sum())
    return trial * float(np.sqrt(n0 / max(junctions, 1.0)))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width decimal ASCII of non-negative integers, one row per value (uint8)."""
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((len(values), width), np.uint8)
    for k in range(width):
        out[:, width - 1 - k] = (values // 10**k) % 10 + 48
    return out


def _text(s: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(s.encode(), np.uint8), (n, len(s)))


def _opl_nodes(ids: np.ndarray, lon_fix: np.ndarray, lat_fix: np.ndarray) -> bytes:
    """OPL lines ``n<id> x<lon> y<lat>`` for fixed-point coordinates (1e-7 degree)."""
    n = len(ids)
    lon_fix = lon_fix.astype(np.int64)
    lat_fix = lat_fix.astype(np.int64)
    parts = [_text("n", n), _digits(ids, 10),
             _text(" x", n), _digits(lon_fix // _FIX, 2), _text(".", n), _digits(lon_fix % _FIX, 7),
             _text(" y", n), _digits(lat_fix // _FIX, 2), _text(".", n), _digits(lat_fix % _FIX, 7),
             _text("\n", n)]
    return np.hstack(parts).tobytes()


def _opl_rings(way_ids: np.ndarray, tags: np.ndarray, refs: np.ndarray) -> bytes:
    """OPL lines of closed rings: ``w<id> T<tag> Nn<r0>,n<r1>,...,n<r0>``.

    ``tags`` is a ``(n, width)`` uint8 array of space-padded ``key=value``
    text; ``refs`` is ``(n, k)`` node ids, the ring is closed here.
    """
    n, k = refs.shape
    parts = [_text("w", n), _digits(way_ids, 10), _text(" T", n), tags, _text(" Nn", n),
             _digits(refs[:, 0], 10)]
    for j in [*range(1, k), 0]:
        parts += [_text(",n", n), _digits(refs[:, j], 10)]
    parts.append(_text("\n", n))
    return np.hstack(parts).tobytes()


def _padded_tags(names: tuple[str, ...], pick: np.ndarray) -> np.ndarray:
    width = max(len(s) for s in names)
    table = np.frombuffer("".join(s.ljust(width) for s in names).encode(),
                          np.uint8).reshape(len(names), width)
    return table[pick]


def _road_class(line: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Road class of a segment from the index of its grid line (motorways south of 61.5 N)."""
    cls = np.full(line.shape, "", dtype=object)
    for name, every in _CLASS_EVERY:
        hit = (cls == "") & (line % every == 0)
        if name == "motorway":
            hit &= lat < 61.5
        cls[hit] = name
    local = cls == ""
    cls[local & (line % 2 == 0)] = "unclassified"
    cls[local & (line % 2 == 1)] = "residential"
    return cls


def generate(path: str | Path, *, scale: float = 1.0, other_scale: float | None = None,
             seed: int = 11) -> Design:
    """Write the synthetic Norway file to ``path`` and return what it holds.

    Parameters
    ----------
    path
        Output ``.osm.pbf`` (overwritten).
    scale
        1.0 writes about 6.7 M road nodes in 1.1 M drivable ways and 102 M
        other nodes in 11.4 M other ways; sizes scale linearly.
    other_scale
        Scale of the buildings and land cover alone (default: ``scale``);
        tests use a smaller one to stay fast.
    seed
        Seed of the numpy generator; the same seed and scales give the same file.

    Returns
    -------
    Design
        Counts, timings and the ids a correct drive network must keep or drop.
    """
    t0 = time.perf_counter()
    path = Path(path)
    other_scale = scale if other_scale is None else other_scale
    rng = np.random.default_rng(seed)
    spacing_km = _spacing_for(FULL_JUNCTIONS * scale)
    lons, lats = _grid_axes(spacing_km)
    rows, cols = len(lats), len(lons)
    glon, glat = np.meshgrid(lons, lats)
    land = _land(glon, glat)
    del glon, glat

    # ---- segments between neighbouring land junctions, along grid lines
    segs = []  # (row_a, col_a, row_b, col_b, line, position, horizontal)
    r, c = np.nonzero(land[:, :-1] & land[:, 1:])
    segs.append((r, c, r, c + 1, r, c, np.ones(len(r), bool)))
    r, c = np.nonzero(land[:-1, :] & land[1:, :])
    segs.append((r, c, r + 1, c, c, r, np.zeros(len(r), bool)))
    ra, ca, rb, cb, line, pos, horiz = (np.concatenate(x) for x in zip(*segs, strict=True))
    cls = _road_class(line, lats[ra])
    local = (cls == "residential") | (cls == "unclassified")
    keep = ~(local & (rng.random(len(ra)) < 0.08))
    ra, ca, rb, cb, line, pos, horiz, cls = (x[keep] for x in (ra, ca, rb, cb, line, pos,
                                                               horiz, cls))

    grid_id = np.full((rows, cols), -1, np.int64)
    used = np.zeros((rows, cols), bool)
    used[ra, ca] = used[rb, cb] = True
    jr, jc = np.nonzero(used)
    n_junctions = len(jr)
    grid_id[jr, jc] = np.arange(n_junctions)
    cell_lat = lats[1] - lats[0]
    cell_lon = lons[1] - lons[0]
    j_lon = lons[jc] + rng.uniform(-0.25, 0.25, n_junctions) * cell_lon
    j_lat = lats[jr] + rng.uniform(-0.25, 0.25, n_junctions) * cell_lat
    a = grid_id[ra, ca]
    b = grid_id[rb, cb]

    # motorways: a second, reversed carriageway with its own shape nodes
    mway = cls == "motorway"
    a, b = np.concatenate([a, b[mway]]), np.concatenate([b, a[mway]])
    group = np.concatenate([line * 2 + horiz, (line * 2 + horiz)[mway] + 2 * (rows + cols) + 2])
    pos = np.concatenate([pos, -pos[mway]])
    cls = np.concatenate([cls, cls[mway]])
    n_seg = len(a)

    # ---- ways: consecutive segments along a line, broken at gaps and at random
    order = np.lexsort((pos, group))
    a, b, group, pos, cls = a[order], b[order], group[order], pos[order], cls[order]
    new_way = np.ones(n_seg, bool)
    new_way[1:] = ((group[1:] != group[:-1]) | (pos[1:] != pos[:-1] + 1)
                   | (cls[1:] != cls[:-1]) | (rng.random(n_seg - 1) < 0.6))
    way_of_seg = np.cumsum(new_way) - 1
    n_road_ways = int(way_of_seg[-1]) + 1
    way_first = np.flatnonzero(new_way)
    way_cls = cls[way_first]

    # ---- shape nodes between junctions (node index space: junctions first)
    n_shape = rng.integers(0, 7, n_seg)
    shape_start = n_junctions + np.concatenate([[0], np.cumsum(n_shape)[:-1]])
    total_shape = int(n_shape.sum())
    seg_of_shape = np.repeat(np.arange(n_seg), n_shape)
    k_in_seg = np.arange(total_shape) - np.repeat(shape_start - n_junctions, n_shape)
    t = (k_in_seg + 1) / (n_shape[seg_of_shape] + 1)
    sa, sb = a[seg_of_shape], b[seg_of_shape]
    wiggle = rng.uniform(-0.08, 0.08, total_shape)
    dlon, dlat = j_lon[sb] - j_lon[sa], j_lat[sb] - j_lat[sa]
    s_lon = j_lon[sa] + t * dlon - wiggle * dlat * cell_lon / cell_lat
    s_lat = j_lat[sa] + t * dlat + wiggle * dlon * cell_lat / cell_lon
    del sa, sb, wiggle, dlon, dlat, t, k_in_seg, seg_of_shape
    n_road = n_junctions + total_shape

    # flat way refs: per segment [a, shapes...], plus b at the end of each way
    last = np.ones(n_seg, bool)
    last[:-1] = new_way[1:]
    seg_len = 1 + n_shape + last
    seg_off = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
    refs = np.empty(int(seg_len.sum()), np.int64)
    refs[seg_off] = a
    refs[np.repeat(seg_off + 1, n_shape) + (np.arange(total_shape)
                                            - np.repeat(shape_start - n_junctions, n_shape))] = (
        np.arange(n_junctions, n_road))
    refs[(seg_off + seg_len - 1)[last]] = b[last]
    way_ptr = np.concatenate([seg_off[way_first], [len(refs)]])

    oneway_draw = rng.random(n_road_ways)
    local_way = (way_cls == "residential") | (way_cls == "unclassified")
    way_oneway = np.where(way_cls == "motorway", "yes",
                          np.where(local_way & (oneway_draw < 0.04), "yes",
                                   np.where(local_way & (oneway_draw > 0.99), "-1", "")))
    speed_pick = rng.integers(0, 4, n_road_ways)
    has_speed = rng.random(n_road_ways) < 0.4
    seg_oneway = way_oneway[way_of_seg]

    # ---- ferries: sea nodes between two junctions that lie on roads
    tree = cKDTree(np.column_stack([j_lon * np.cos(np.radians(_LAT0)), j_lat]))
    ferry_specs = [(*spec[:4], spec[4]) for spec in FERRIES]
    ferry_specs.append((*PASSENGER_FERRY, {"motor_vehicle": "no", "foot": "yes"}))
    ferry_ends = []
    ferry_inner = []
    next_node = n_road
    f_lon_parts, f_lat_parts = [], []
    for lo_a, la_a, lo_b, la_b, _tags in ferry_specs:
        ends = tree.query([[lo_a * np.cos(np.radians(_LAT0)), la_a],
                           [lo_b * np.cos(np.radians(_LAT0)), la_b]])[1]
        ea, eb = int(ends[0]), int(ends[1])
        km = np.hypot((j_lon[eb] - j_lon[ea]) * 111.2 * np.cos(np.radians(j_lat[ea])),
                      (j_lat[eb] - j_lat[ea]) * 111.2)
        k = max(3, int(km / 2.0))
        tt = np.arange(1, k + 1) / (k + 1)
        bow = 0.05 * np.sin(np.pi * tt)
        f_lon_parts.append(j_lon[ea] + tt * (j_lon[eb] - j_lon[ea]) + bow)
        f_lat_parts.append(j_lat[ea] + tt * (j_lat[eb] - j_lat[ea]) + bow / 3)
        ferry_ends.append((ea, eb))
        ferry_inner.append(np.arange(next_node, next_node + k))
        next_node += k
    n_car_ferries = len(FERRIES)
    ferry_nodes_total = next_node - n_road

    # ---- private spurs and footways (their own nodes; must be dropped)
    n_private = max(1, int(0.02 * n_junctions))
    private_j = rng.choice(n_junctions, n_private, replace=False)
    p_lon = (j_lon[private_j][:, None] + np.array([0.1, 0.2, 0.3]) * 0.5 * cell_lon).ravel()
    p_lat = (j_lat[private_j][:, None] + np.array([0.1, 0.2, 0.3]) * 0.4 * cell_lat).ravel()
    private_start = next_node
    next_node += 3 * n_private
    diag = grid_id[:-1, :-1] >= 0
    diag &= grid_id[1:, 1:] >= 0
    dr, dc = np.nonzero(diag)
    n_foot = max(1, min(len(dr), int(0.02 * n_junctions)))
    pick = rng.choice(len(dr), n_foot, replace=False)
    foot_a = grid_id[dr[pick], dc[pick]]
    foot_b = grid_id[dr[pick] + 1, dc[pick] + 1]
    tt = np.array([1 / 3, 2 / 3])
    fo_lon = (j_lon[foot_a][:, None] + tt * (j_lon[foot_b] - j_lon[foot_a])[:, None]
              + 0.05 * cell_lon).ravel()
    fo_lat = (j_lat[foot_a][:, None] + tt * (j_lat[foot_b] - j_lat[foot_a])[:, None]).ravel()
    foot_start = next_node
    next_node += 2 * n_foot
    # one-way dead-end stubs: drivable, but outside the strongly connected part
    n_stub = max(1, int(0.005 * n_junctions))
    stub_j = rng.choice(n_junctions, n_stub, replace=False)
    st_lon = (j_lon[stub_j][:, None] - np.array([0.15, 0.3]) * cell_lon).ravel()
    st_lat = (j_lat[stub_j][:, None] + np.array([0.1, 0.2]) * cell_lat).ravel()
    stub_start = next_node
    next_node += 2 * n_stub
    n_special = next_node

    # ---- buildings and land cover
    n_build = max(1, int(FULL_BUILDINGS * other_scale))
    n_land = max(1, int(FULL_LANDCOVER * other_scale))
    near = rng.integers(0, n_junctions, n_build)
    coslat = np.cos(np.radians(j_lat[near]))
    c_lon = j_lon[near] + rng.normal(0, 0.3, n_build) * cell_lon
    c_lat = j_lat[near] + rng.normal(0, 0.3, n_build) * cell_lat
    half = rng.uniform(5.0, 12.0, n_build) / 111_200.0
    angle = rng.uniform(0, np.pi / 2, n_build)
    corners = angle[:, None] + np.array([0.25, 0.75, 1.25, 1.75]) * np.pi
    b_lon = (c_lon[:, None] + half[:, None] * np.sqrt(2) * np.cos(corners) / coslat[:, None])
    b_lat = (c_lat[:, None] + half[:, None] * np.sqrt(2) * np.sin(corners))
    del near, coslat, c_lon, c_lat, half, angle, corners
    centre = rng.integers(0, n_junctions, n_land)
    radius = rng.uniform(150.0, 1500.0, n_land) / 111_200.0
    phase = rng.uniform(0, 2 * np.pi, n_land)
    theta = np.linspace(0, 2 * np.pi, LANDCOVER_RING, endpoint=False)
    rr = radius[:, None] * (1 + 0.2 * np.sin(3 * theta[None, :] + phase[:, None]))
    l_lon = (j_lon[centre] + rng.uniform(-0.5, 0.5, n_land) * cell_lon)[:, None] + (
        rr * np.cos(theta) / np.cos(np.radians(j_lat[centre]))[:, None])
    l_lat = (j_lat[centre] + rng.uniform(-0.5, 0.5, n_land) * cell_lat)[:, None] + (
        rr * np.sin(theta))
    del rr, centre, radius, phase
    build_start = n_special
    land_start = build_start + 4 * n_build
    n_nodes = land_start + LANDCOVER_RING * n_land

    # ---- all coordinates, fixed point (uint32 holds lon 4.5..31 and lat 58..71 at 1e-7)
    def fix(*parts: np.ndarray) -> np.ndarray:
        return np.concatenate([np.round(np.ravel(p) * _FIX).astype(np.uint32) for p in parts])

    lon_fix = fix(j_lon, s_lon, *f_lon_parts, p_lon, fo_lon, st_lon, b_lon, l_lon)
    del s_lon, b_lon, l_lon
    lat_fix = fix(j_lat, s_lat, *f_lat_parts, p_lat, fo_lat, st_lat, b_lat, l_lat)
    del s_lat, b_lat, l_lat
    assert len(lon_fix) == n_nodes

    # ---- sparse ids, interleaved by blocks; position in id order of every node
    n_blocks = -(-n_nodes // BLOCK)
    sizes = np.full(n_blocks, BLOCK, np.int64)
    sizes[-1] = n_nodes - BLOCK * (n_blocks - 1)
    shuffled = rng.permutation(n_blocks)
    start_of = np.empty(n_blocks, np.int64)
    start_of[shuffled] = np.concatenate([[0], np.cumsum(sizes[shuffled])[:-1]])
    position = np.repeat(start_of, sizes) + np.arange(n_nodes) % BLOCK
    sorted_ids = 1_000_000 + np.cumsum(rng.integers(1, 61, n_nodes))
    node_id = sorted_ids[position]
    slon = np.empty_like(lon_fix)
    slon[position] = lon_fix
    del lon_fix
    slat = np.empty_like(lat_fix)
    slat[position] = lat_fix
    del lat_fix, position

    # ---- write
    if path.exists():
        path.unlink()
    chunk = 2_000_000
    way_id = 0
    with osmium.SimpleWriter(str(path), bufsz=64 * 1024 * 1024) as writer:
        for i in range(0, n_nodes, chunk):
            osmium.apply(FileBuffer(_opl_nodes(sorted_ids[i:i + chunk], slon[i:i + chunk],
                                               slat[i:i + chunk]), "opl"), writer)
        del slon, slat, sorted_ids
        way = Way(id=0, nodes=[], tags={})
        refs_id = node_id[refs]
        for w in range(n_road_ways):
            tags = {"highway": str(way_cls[w])}
            if has_speed[w]:
                options = _MAXSPEED[str(way_cls[w])]
                tags["maxspeed"] = options[speed_pick[w] % len(options)]
            if way_oneway[w]:
                tags["oneway"] = str(way_oneway[w])
            way_id += 1
            way.id, way.nodes, way.tags = way_id, refs_id[way_ptr[w]:way_ptr[w + 1]].tolist(), tags
            writer.add_way(way)
        del refs_id
        for (ea, eb), inner, spec in zip(ferry_ends, ferry_inner, ferry_specs, strict=True):
            way_id += 1
            way.id = way_id
            way.nodes = [int(node_id[ea]), *node_id[inner].tolist(), int(node_id[eb])]
            way.tags = {"route": "ferry", **spec[4]}
            writer.add_way(way)
        for i, j in enumerate(private_j):
            way_id += 1
            way.id = way_id
            way.nodes = [int(node_id[j]),
                         *node_id[private_start + 3 * i:private_start + 3 * i + 3].tolist()]
            way.tags = ({"highway": "service", "access": "private"} if i % 2 == 0
                        else {"highway": "residential", "access": "private"})
            writer.add_way(way)
        for i in range(n_foot):
            way_id += 1
            way.id = way_id
            way.nodes = [int(node_id[foot_a[i]]),
                         *node_id[foot_start + 2 * i:foot_start + 2 * i + 2].tolist(),
                         int(node_id[foot_b[i]])]
            way.tags = {"highway": "footway"}
            writer.add_way(way)
        for i, j in enumerate(stub_j):
            way_id += 1
            way.id = way_id
            way.nodes = [int(node_id[j]),
                         *node_id[stub_start + 2 * i:stub_start + 2 * i + 2].tolist()]
            way.tags = {"highway": "residential", "oneway": "yes"}
            writer.add_way(way)
        building_tags = _padded_tags(("building=yes", "building=house"),
                                     rng.integers(0, 2, n_build))
        wchunk = 500_000
        for i in range(0, n_build, wchunk):
            m = min(wchunk, n_build - i)
            ring = node_id[build_start + 4 * i:build_start + 4 * (i + m)].reshape(m, 4)
            osmium.apply(FileBuffer(_opl_rings(way_id + 1 + np.arange(m), building_tags[i:i + m],
                                               ring), "opl"), writer)
            way_id += m
        land_tags = _padded_tags(_LANDCOVER_TAGS, rng.integers(0, len(_LANDCOVER_TAGS), n_land))
        lchunk = 50_000
        for i in range(0, n_land, lchunk):
            m = min(lchunk, n_land - i)
            ring = node_id[land_start + LANDCOVER_RING * i:
                           land_start + LANDCOVER_RING * (i + m)].reshape(m, LANDCOVER_RING)
            osmium.apply(FileBuffer(_opl_rings(way_id + 1 + np.arange(m), land_tags[i:i + m],
                                               ring), "opl"), writer)
            way_id += m

    # ---- what a correct build keeps: the largest strongly connected part
    fwd = seg_oneway != "-1"
    bwd = seg_oneway != "yes"
    car_a = np.array([e[0] for e in ferry_ends[:n_car_ferries]], np.int64)
    car_b = np.array([e[1] for e in ferry_ends[:n_car_ferries]], np.int64)
    u = np.concatenate([a[fwd], b[bwd], car_a, car_b])
    v = np.concatenate([b[fwd], a[bwd], car_b, car_a])
    graph = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n_junctions, n_junctions))
    labels = csgraph.connected_components(graph.tocsr(), directed=True, connection="strong")[1]
    core = labels == np.bincount(labels).argmax()
    seg_kept = core[a] & core[b]
    kept_shapes = np.repeat(seg_kept, n_shape)
    kept_road = np.concatenate([np.flatnonzero(core),
                                n_junctions + np.flatnonzero(kept_shapes)])
    on_island = _in_boxes(j_lon, j_lat, ISLANDS)
    counties = {}
    for name in COUNTIES:
        counties[name] = int(shapely.contains_xy(county_polygon(name), j_lon, j_lat).sum())
    dropped_idx = np.concatenate([ferry_inner[-1], np.arange(private_start, n_special)])
    return Design(
        path=path, bytes=path.stat().st_size, seconds=time.perf_counter() - t0,
        spacing_km=spacing_km, road_nodes=n_road + 2 * n_stub, road_ways=n_road_ways + n_stub,
        stub_ways=n_stub,
        ferry_ways=n_car_ferries, ferry_nodes=sum(len(x) for x in ferry_inner[:n_car_ferries]),
        dropped_ways=n_private + n_foot + 1,
        dropped_nodes=ferry_nodes_total - sum(len(x) for x in ferry_inner[:n_car_ferries])
        + 3 * n_private + 2 * n_foot,
        private_ways=n_private, footway_ways=n_foot,
        other_nodes=n_nodes - n_special, other_ways=n_build + n_land,
        junction_ids=node_id[:n_junctions].copy(),
        kept_road_ids=node_id[kept_road],
        stub_node_ids=node_id[stub_start:stub_start + 2 * n_stub],
        kept_junction_ids=node_id[np.flatnonzero(core)],
        ferry_node_ids=node_id[np.concatenate(ferry_inner[:n_car_ferries])],
        dropped_node_ids=node_id[dropped_idx],
        island_junction_ids=node_id[np.flatnonzero(on_island)],
        county_junctions=counties,
    )
