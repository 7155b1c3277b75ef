"""OSM tag rules and readers: raw ways and nodes -> as-drawn road segments.

Private helper of :mod:`matcher.network`. Every reader (an OSM file, XML or
PBF, streamed by pyosmium; an osmnx download) hands each way's
*raw* tags to :meth:`WayRules.interpret`, the one place that decides whether a
way is driven, in which direction, at which speed and whether it is a car
ferry. Readers return :class:`OsmRoads`: the segments exactly as drawn in OSM
plus one interpretation per way; :func:`matcher.network.compile_roads` turns
that into directed, timed edges.

Rules (in :meth:`WayRules.interpret`)
-------------------------------------
Roads
    ``highway`` (first value of a ``;`` list) is a class listed in
    ``[network].highway_kmh``; not ``area=yes``; not ``motor_vehicle`` or
    ``motorcar`` = ``no``/``private``; not ``access`` = ``no``/``private``
    unless ``motor_vehicle``/``motorcar`` allows cars (``yes``,
    ``designated``, ``permissive``, ``destination``). ``destination`` is
    drivable: a destination-only street reaches the homes along it, and the
    engine routes to homes (the same behaviour as before this module).
Direction
    ``oneway`` = ``yes``/``true``/``1`` forward only; ``-1``/``reverse``
    backward only; ``reversible``/``alternating`` not driven at all (the
    direction changes by time of day); ``no``/``false``/``0`` both ways even
    where one-way is implied; otherwise one-way is implied on
    ``junction=roundabout``/``circular`` and on ``highway=motorway`` and
    ``motorway_link``; everything else is two-way.
Speed
    A parsed ``maxspeed`` (:func:`parse_maxspeed`) else the class default,
    times ``speed_factor``, in km/h.
Car ferries
    ``route=ferry`` with ``motor_vehicle``/``motorcar`` allowing cars, or
    ``ferry=<road class>``; never with ``motor_vehicle``/``motorcar=no``.
    Crossing time from ``duration`` (:func:`parse_duration_minutes`), else by
    length later. Direction by ``oneway`` as for roads (nothing implied).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from matcher.config import NetworkSettings
from matcher.errors import InputError
from matcher.i18n import gettext as _

__all__ = [
    "NODE_KINDS",
    "WAY_TAGS",
    "BytesProgress",
    "NodeFilter",
    "OsmRoads",
    "Tags",
    "WayRule",
    "WayRules",
    "interpret_way",
    "is_car_ferry",
    "parse_duration_minutes",
    "parse_maxspeed",
    "read_file",
    "read_osmnx",
    "restriction_of",
    "via_way_restriction_of",
]

BytesProgress = Callable[[int, int], None]
"""Called with ``(bytes read, file size)`` while a file is streamed."""

NodeFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Given node ``lon, lat`` (degrees, EPSG:4326) return a boolean mask of nodes to keep."""

_NO = frozenset({"no", "private"})
_YES = frozenset({"yes", "designated", "permissive", "destination"})
_FERRY_ROAD_CLASSES = frozenset({"motorway", "trunk", "primary", "secondary", "tertiary",
                                 "unclassified", "residential"})
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_NOT_DRIVEN = frozenset({"reversible", "alternating"})
_ONEWAY_TWO_WAY = frozenset({"no", "false", "0"})
_ROUNDABOUT = frozenset({"roundabout", "circular"})
_IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})

NODE_KINDS = ("", "traffic_signals", "stop", "give_way", "crossing")
"""``highway`` values of nodes that delay a car (code = position; 0: none).
Their delays are ``[network].node_delay_seconds``."""

WAY_TAGS = ("highway", "maxspeed", "oneway", "junction", "access", "motor_vehicle", "motorcar",
            "route", "duration", "ferry", "area")
"""The way tags the rules read."""


class Tags(Protocol):
    """Anything with ``get(key, default)``: a dict, a pyosmium ``TagList``."""

    def get(self, key: str, default: Any = None, /) -> Any: ...


# --------------------------------------------------------------------------- value parsers


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


def _tag(tags: Tags, key: str) -> str:
    value = tags.get(key, None)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip().lower()


def is_car_ferry(tags: Tags) -> bool:
    """Return True if a way with these tags is a ferry that carries cars."""
    if _tag(tags, "route") != "ferry":
        return False
    mv, car = _tag(tags, "motor_vehicle"), _tag(tags, "motorcar")
    if mv == "no" or car == "no":
        return False
    if mv in _YES or car in _YES:
        return True
    return _tag(tags, "ferry") in _FERRY_ROAD_CLASSES


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True, slots=True)
class WayRule:
    """How one OSM way is driven.

    Attributes
    ----------
    highway
        Road class (first value of ``highway``), or ``"ferry"``.
    forward, backward
        Driven in the drawn node order / against it.
    speed_kmh
        Road speed in km/h (``nan`` for ferries, timed by length share later).
    ferry
        True for a car ferry.
    ferry_minutes
        Tagged crossing time in minutes (``nan``: use length at ``ferry_kmh``).
    """

    highway: str
    forward: bool
    backward: bool
    speed_kmh: float
    ferry: bool
    ferry_minutes: float


class WayRules:
    """The one interpretation of OSM way tags, for every reader.

    Parameters
    ----------
    settings
        Drivable classes and their default speeds (km/h), zone speeds,
        ``speed_factor``.
    """

    def __init__(self, settings: NetworkSettings) -> None:
        self.settings = settings
        self._maxspeed: dict[str, float] = {}

    def interpret(self, tags: Tags) -> WayRule | None:
        """Return how a way with these raw tags is driven, or None if it is not.

        See the module docstring for the rules.
        """
        if _tag(tags, "route") == "ferry":
            if not is_car_ferry(tags):
                return None
            direction = _direction(tags, "ferry")
            if direction is None:
                return None
            return WayRule("ferry", direction[0], direction[1], math.nan, True,
                           parse_duration_minutes(tags.get("duration", None)))
        highway = _tag(tags, "highway").split(";")[0].strip()
        default = self.settings.highway_kmh.get(highway)
        if default is None or _tag(tags, "area") == "yes":
            return None
        mv, car = _tag(tags, "motor_vehicle"), _tag(tags, "motorcar")
        if mv in _NO or car in _NO:
            return None
        if _tag(tags, "access") in _NO and mv not in _YES and car not in _YES:
            return None
        direction = _direction(tags, highway)
        if direction is None:
            return None
        speed = self._speed(_tag_raw(tags, "maxspeed"))
        kmh = (default if math.isnan(speed) else speed) * self.settings.speed_factor
        return WayRule(highway, direction[0], direction[1], kmh, False, math.nan)

    def _speed(self, raw: str) -> float:
        got = self._maxspeed.get(raw)
        if got is None:
            got = self._maxspeed[raw] = parse_maxspeed(raw, self.settings.zone_kmh)
        return got


def _tag_raw(tags: Tags, key: str) -> str:
    value = tags.get(key, None)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _direction(tags: Tags, highway: str) -> tuple[bool, bool] | None:
    """``(forward, backward)`` of a way, or None when it is not driven (reversible)."""
    oneway = _tag(tags, "oneway")
    if oneway in _ONEWAY_FORWARD:
        return True, False
    if oneway in _ONEWAY_BACKWARD:
        return False, True
    if oneway in _ONEWAY_NOT_DRIVEN:
        return None
    if oneway in _ONEWAY_TWO_WAY:
        return True, True
    if _tag(tags, "junction") in _ROUNDABOUT or highway in _IMPLIED_ONEWAY:
        return True, False
    return True, True


def interpret_way(tags: Tags, settings: NetworkSettings) -> WayRule | None:
    """Interpret one way's raw tags (see :class:`WayRules`)."""
    return WayRules(settings).interpret(tags)


# --------------------------------------------------------------------------- reader output


@dataclass(frozen=True)
class OsmRoads:
    """Driven OSM ways as drawn, with one interpretation per way.

    Attributes
    ----------
    node_id
        OSM node ids (``int64``, sorted ascending); positions are the
        compact node ids used by the segments.
    lon, lat
        Node coordinates in degrees (EPSG:4326).
    seg_u, seg_v
        Node positions of each segment in drawn order (``int64``).
    seg_way
        Position of each segment's way in the ``way_*`` arrays.
    way_id, way_forward, way_backward, way_highway, way_speed_kmh, way_ferry, way_ferry_minutes
        One :class:`WayRule` per way, as arrays; ways sorted by id.
    nodes_read
        Nodes with a location read before any clip.
    node_kind
        Per node, the position in :data:`NODE_KINDS` of its ``highway`` tag
        (``int8``; 0 for none).
    restriction_from, restriction_via, restriction_to, restriction_only
        Turn restrictions with a via node (:func:`restriction_of`): from-way
        id, via node *position*, to-way id, and True for ``only_*`` (False
        for ``no_*``); restrictions whose via node is not in the arrays are
        left out.
    via_way_from, via_way_via, via_way_to, via_way_only
        Turn restrictions with one via *way* (:func:`via_way_restriction_of`):
        from-way, via-way and to-way ids, and True for ``only_*``; those whose
        ways are not all driven are left out.
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_way: np.ndarray
    way_id: np.ndarray
    way_forward: np.ndarray
    way_backward: np.ndarray
    way_highway: np.ndarray
    way_speed_kmh: np.ndarray
    way_ferry: np.ndarray
    way_ferry_minutes: np.ndarray
    nodes_read: int
    node_kind: np.ndarray
    restriction_from: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    restriction_via: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    restriction_to: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    restriction_only: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    via_way_from: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    via_way_via: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    via_way_to: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    via_way_only: np.ndarray = field(default_factory=lambda: np.empty(0, bool))


_CAR_MODES = frozenset({"motorcar", "motor_vehicle", "vehicle"})


def restriction_of(tags: Tags, members: Sequence[tuple[str, int, str]]
                   ) -> tuple[int, int, int, bool] | None:
    """``(from way, via node, to way, only)`` of a ``type=restriction`` relation for cars.

    Reads ``restriction`` (or ``restriction:motorcar`` /
    ``restriction:motor_vehicle``, which win) = ``no_*`` or ``only_*``;
    ``members`` are ``(type, ref, role)`` with type ``n``/``w``. None when
    cars are exempt (``except`` names them), when the via member is a way
    (see :func:`via_way_restriction_of`), or when a member is missing or doubled.
    """
    found = _restriction(tags, members)
    if found is None or found[0] != ("w", "n", "w"):
        return None
    return found[1]


def via_way_restriction_of(tags: Tags, members: Sequence[tuple[str, int, str]]
                           ) -> tuple[int, int, int, bool] | None:
    """``(from way, via way, to way, only)`` of a restriction whose one via member is a way.

    The same rules as :func:`restriction_of`; None for a via node, several
    via ways, or a member missing or doubled.
    """
    found = _restriction(tags, members)
    if found is None or found[0] != ("w", "w", "w"):
        return None
    return found[1]


def _restriction(tags: Tags, members: Sequence[tuple[str, int, str]]
                 ) -> tuple[tuple[str, str, str], tuple[int, int, int, bool]] | None:
    """Member kinds and ``(from, via, to, only)`` of a car restriction with one member each."""
    if _tag(tags, "type") != "restriction":
        return None
    value = (_tag(tags, "restriction:motorcar") or _tag(tags, "restriction:motor_vehicle")
             or _tag(tags, "restriction"))
    if not value.startswith(("no_", "only_")):
        return None
    if _CAR_MODES & {m.strip() for m in _tag(tags, "except").split(";")}:
        return None
    by_role: dict[str, list[tuple[str, int]]] = {"from": [], "via": [], "to": []}
    for kind, ref, role in members:
        if role in by_role:
            by_role[role].append((kind, ref))
    if any(len(v) != 1 for v in by_role.values()):
        return None
    (fk, fr), (vk, vr), (tk, tr) = by_role["from"][0], by_role["via"][0], by_role["to"][0]
    return (fk, vk, tk), (fr, vr, tr, value.startswith("only_"))


def node_kind_code(value: object) -> int:
    """Position of a node's ``highway`` value in :data:`NODE_KINDS` (0: no delay)."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return NODE_KINDS.index(text) if text in NODE_KINDS[1:] else 0


class _WayCollector:
    """Gathers way ids, rules and node refs in flat arrays as ways stream past."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.rules: list[WayRule] = []
        self.refs: list[int] = []
        self.lengths: list[int] = []
        self.kind_ids: list[int] = []
        self.kind_codes: list[int] = []
        self.restrictions: list[tuple[int, int, int, bool]] = []
        self.via_ways: list[tuple[int, int, int, bool]] = []

    def add_restriction(self, found: tuple[int, int, int, bool] | None) -> None:
        if found is not None:
            self.restrictions.append(found)

    def add_via_way(self, found: tuple[int, int, int, bool] | None) -> None:
        if found is not None:
            self.via_ways.append(found)

    def add_node_kind(self, node_id: int, code: int) -> None:
        if code:
            self.kind_ids.append(node_id)
            self.kind_codes.append(code)

    def add(self, way_id: int, rule: WayRule, refs: Sequence[int]) -> None:
        self.ids.append(way_id)
        self.rules.append(rule)
        before = len(self.refs)
        self.refs.extend(refs)
        self.lengths.append(len(self.refs) - before)

    def needed_nodes(self) -> np.ndarray:
        return np.unique(np.asarray(self.refs, dtype=np.int64))

    def assemble(self, node_id: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                 keep: NodeFilter | None) -> OsmRoads:
        """Join ways to node locations; drop segments with a missing or clipped end."""
        order = np.argsort(node_id, kind="stable")
        node_id, lon, lat = node_id[order], lon[order], lat[order]
        nodes_read = len(node_id)
        if keep is not None and nodes_read:
            inside = np.asarray(keep(lon, lat), dtype=bool)
            node_id, lon, lat = node_id[inside], lon[inside], lat[inside]
        way_id = np.asarray(self.ids, dtype=np.int64)
        lengths = np.asarray(self.lengths, dtype=np.int64)
        refs = np.asarray(self.refs, dtype=np.int64)
        pos = np.searchsorted(node_id, refs)
        pos_ok = pos < len(node_id)
        found = np.zeros(len(refs), bool)
        found[pos_ok] = node_id[pos[pos_ok]] == refs[pos_ok]
        pos = np.where(found, pos, -1)
        ref_way = np.repeat(np.arange(len(way_id)), lengths)
        starts = np.cumsum(lengths) - lengths
        last = np.zeros(len(refs), bool)
        last[(starts + lengths - 1)[lengths > 0]] = True
        first = np.flatnonzero(~last)  # a segment starts at every ref but a way's last
        u, v, seg_way = pos[first], pos[first + 1], ref_way[first]
        ok = (u >= 0) & (v >= 0) & (u != v)
        u, v, seg_way = u[ok], v[ok], seg_way[ok]
        # ways by id, segments in drawn order: the same arrays whatever the file order
        way_order = np.argsort(way_id, kind="stable")
        rank = np.empty_like(way_order)
        rank[way_order] = np.arange(len(way_order))
        seg_order = np.argsort(rank[seg_way], kind="stable")
        u, v, seg_way = u[seg_order], v[seg_order], rank[seg_way[seg_order]]
        rules = [self.rules[i] for i in way_order]
        kind = np.zeros(len(node_id), dtype=np.int8)
        if self.kind_ids and len(node_id):
            kid = np.asarray(self.kind_ids, dtype=np.int64)
            at = np.minimum(np.searchsorted(node_id, kid), len(node_id) - 1)
            hit = node_id[at] == kid
            kind[at[hit]] = np.asarray(self.kind_codes, dtype=np.int8)[hit]
        rest = sorted(set(self.restrictions))
        r_from = np.array([r[0] for r in rest], dtype=np.int64)
        r_via = np.array([r[1] for r in rest], dtype=np.int64)
        r_to = np.array([r[2] for r in rest], dtype=np.int64)
        r_only = np.array([r[3] for r in rest], dtype=bool)
        via_pos = np.minimum(np.searchsorted(node_id, r_via), max(len(node_id) - 1, 0))
        present = (node_id[via_pos] == r_via) if len(node_id) else np.zeros(len(rest), bool)
        driven = set(way_id.tolist())
        vw = np.array([r for r in sorted(set(self.via_ways))
                       if r[0] in driven and r[1] in driven and r[2] in driven],
                      dtype=np.int64).reshape(-1, 4)
        return OsmRoads(
            node_id=node_id, lon=lon, lat=lat, seg_u=u, seg_v=v, seg_way=seg_way,
            way_id=way_id[way_order],
            way_forward=np.array([r.forward for r in rules], dtype=bool),
            way_backward=np.array([r.backward for r in rules], dtype=bool),
            way_highway=np.array([r.highway for r in rules], dtype=object),
            way_speed_kmh=np.array([r.speed_kmh for r in rules], dtype=float),
            way_ferry=np.array([r.ferry for r in rules], dtype=bool),
            way_ferry_minutes=np.array([r.ferry_minutes for r in rules], dtype=float),
            nodes_read=nodes_read, node_kind=kind,
            restriction_from=r_from[present], restriction_via=via_pos[present],
            restriction_to=r_to[present], restriction_only=r_only[present],
            via_way_from=vw[:, 0], via_way_via=vw[:, 1], via_way_to=vw[:, 2],
            via_way_only=vw[:, 3].astype(bool),
        )


# --------------------------------------------------------------------------- osmnx (download)


_OSMNX_REVERSED = frozenset({"-1", "reverse", "T"})  # osmnx.graph._add_paths, case-sensitive


def read_osmnx(graph: Any, features: Any, settings: NetworkSettings) -> OsmRoads:
    """Interpret what osmnx downloaded: an unsimplified graph and the raw features.

    osmnx keeps only a few tags on a graph's edges (``ox.settings``, which we
    leave alone), so the raw tags of each way come from the features frame
    (``ox.features_from_polygon`` or ``features_from_xml``: one column per
    tag, indexed by ``("way", id)``), and the graph gives the node ids, their
    coordinates and the segments. Segments are taken in drawn order: edges
    osmnx added against the drawing (``reversed``) are skipped, and the ways
    osmnx turned round for ``oneway=-1|reverse|T`` are turned back.

    Parameters
    ----------
    graph
        ``networkx.MultiDiGraph`` from ``ox.graph_from_polygon`` /
        ``graph_from_xml`` with ``simplify=False``; node ``x, y`` in degrees
        (EPSG:4326).
    features
        GeoDataFrame from ``ox.features_from_polygon`` / ``features_from_xml``.
    """
    rules = WayRules(settings)
    raw = _way_tags(features)
    by_way: dict[int, tuple[WayRule, list[tuple[int, int]]]] = {}
    skipped: set[int] = set()
    for u, v, data in graph.edges(data=True):
        if data.get("reversed", False):
            continue
        osmid = data.get("osmid")
        way = int(osmid[0] if isinstance(osmid, list) else osmid)
        if way in skipped:
            continue
        if way not in by_way:
            tags = raw.get(way)
            rule = None if tags is None else rules.interpret(tags)
            if rule is None:
                skipped.add(way)
                continue
            by_way[way] = (rule, [])
        flip = str(raw[way].get("oneway", "")) in _OSMNX_REVERSED
        by_way[way][1].append((v, u) if flip else (u, v))
    ways = _WayCollector()
    for way, (rule, pairs) in by_way.items():
        for a, b in pairs:  # one two-node entry per segment; ferry shares group by way id
            ways.add(way, rule, (a, b))
    for node, code in _node_kinds(features):
        ways.add_node_kind(node, code)
    needed = ways.needed_nodes()
    lon = np.array([graph.nodes[n]["x"] for n in needed], float)
    lat = np.array([graph.nodes[n]["y"] for n in needed], float)
    return ways.assemble(needed, lon, lat, None)


def _node_kinds(features: Any) -> list[tuple[int, int]]:
    """``(node id, kind code)`` of the delaying nodes in an osmnx features frame."""
    if (features is None or len(features) == 0 or "node" not in features.index.unique(0)
            or "highway" not in features.columns):
        return []
    nodes = features.xs("node", level=0)["highway"]
    return [(int(i), node_kind_code(v)) for i, v in zip(nodes.index, nodes, strict=True)]


def _way_tags(features: Any) -> dict[int, dict[str, str]]:
    """Raw tags (only :data:`WAY_TAGS`) of each way in an osmnx features frame."""
    if features is None or len(features) == 0 or "way" not in features.index.unique(0):
        return {}
    ways = features.xs("way", level=0)
    columns = [c for c in WAY_TAGS if c in ways.columns]
    out: dict[int, dict[str, str]] = {}
    for way_id, values in zip(ways.index, ways[columns].itertuples(index=False), strict=True):
        out[int(way_id)] = {c: v for c, v in zip(columns, values, strict=True)
                            if isinstance(v, str)}
    return out


# --------------------------------------------------------------------------- files (pyosmium)


class _ByteProgress:
    """Poll how far libosmium has read a file (Linux ``/proc/self/fdinfo``).

    For a compressed file the offset counts compressed bytes.

    pyosmium does not expose the read offset, so a thread looks up the file
    descriptor libosmium opened for ``path`` and reads its position. Where
    ``/proc`` is missing only the end of each pass is reported.
    """

    def __init__(self, path: Path, report: BytesProgress | None, *, passes: int) -> None:
        self.path = os.path.realpath(path)
        self.size = os.path.getsize(path)
        self.report = report
        self.passes = passes
        self.done_passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _emit(self, offset: int) -> None:
        if self.report is not None:
            self.report(self.done_passes * self.size + offset, self.passes * self.size)

    def _offset(self) -> int | None:
        try:
            for fd in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/self/fd/{fd}") == self.path:
                        with open(f"/proc/self/fdinfo/{fd}") as fh:
                            return int(fh.readline().split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return None

    def _run(self) -> None:
        opened = False
        while not self._stop.wait(0.25):
            offset = self._offset()
            if offset is not None:
                opened = True
                self._emit(min(offset, self.size))
            elif opened:  # libosmium has read the whole file and closed it
                self._emit(self.size)
                return

    @contextlib.contextmanager
    def one_pass(self) -> Iterator[None]:
        if self.report is None:
            yield
            return
        self._emit(0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="osm-progress", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            self._emit(self.size)
            self.done_passes += 1


def read_file(path: Path, settings: NetworkSettings, *, keep: NodeFilter | None = None,
              on_bytes: BytesProgress | None = None,
              location_index: str = "flex_mem") -> OsmRoads:
    """Stream an OSM file (PBF or XML, plain or bz2/gz) with pyosmium in one pass.

    libosmium picks the format from the suffix (``.osm.pbf``, ``.osm``,
    ``.osm.xml``, ``.xml``, ``.osm.bz2``, ...); after parsing, XML and PBF
    take the same path, so the same objects give identical arrays.

    libosmium stores every node location in a sparse index
    (``location_index``: ``flex_mem`` in memory, or
    ``sparse_file_array,PATH`` on disk) and passes on only ways carrying
    ``highway`` or ``route`` and nodes whose ``highway`` is one of
    :data:`NODE_KINDS` (signals, stop and give-way signs, crossings); way
    tags are interpreted here and the driven ones keep their node ids and
    locations (decoded in batches from libosmium's WKB) in flat arrays. No
    Python object is made per untagged node of the file.

    Parameters
    ----------
    keep
        Optional clip: a mask of nodes to keep from their ``lon, lat``.
    on_bytes
        Called with ``(bytes read, total)``.
    location_index
        A pyosmium location-index type (``osmium.index.map_types()``).
    """
    import osmium

    rules = WayRules(settings)
    ways = _WayCollector()
    coordinates = _Coordinates(osmium)
    progress = _ByteProgress(path, on_bytes, passes=1)
    try:
        with progress.one_pass():
            way_filter = osmium.filter.KeyFilter("highway", "route")
            way_filter.enable_for(osmium.osm.WAY)
            node_filter = osmium.filter.TagFilter(*[("highway", k) for k in NODE_KINDS[1:]])
            node_filter.enable_for(osmium.osm.NODE)
            relation_filter = osmium.filter.TagFilter(("type", "restriction"))
            relation_filter.enable_for(osmium.osm.RELATION)
            source = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY
                                           | osmium.osm.RELATION)
                      .with_locations(location_index)
                      .with_filter(way_filter).with_filter(node_filter)
                      .with_filter(relation_filter))
            obj: Any
            for obj in source:
                if obj.is_node():
                    ways.add_node_kind(obj.id, node_kind_code(obj.tags.get("highway")))
                    continue
                if obj.is_relation():
                    members = [(m.type, m.ref, m.role) for m in obj.members]
                    ways.add_restriction(restriction_of(obj.tags, members))
                    ways.add_via_way(via_way_restriction_of(obj.tags, members))
                    continue
                rule = rules.interpret(obj.tags)
                if rule is not None:
                    nodes = obj.nodes
                    ways.add(obj.id, rule, [n.ref for n in nodes])
                    coordinates.add(nodes)
    except (RuntimeError, ValueError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        if ".pbf" in path.name.lower():
            message = _("{file}: cannot read as OSM PBF ({error}); check that it is an "
                        "uncorrupted .osm.pbf file")
        else:
            message = _("{file}: cannot read as OSM XML ({error}); check that it is an "
                        "uncorrupted .osm/.osm.bz2 file")
        raise InputError(message.format(file=path.name, error=error)) from None
    refs = np.asarray(ways.refs, dtype=np.int64)
    lonlat = coordinates.array()
    located = ~np.isnan(lonlat[:, 0])
    ids, first = np.unique(refs[located], return_index=True)
    return ways.assemble(ids, lonlat[located, 0][first], lonlat[located, 1][first], keep)


class _Coordinates:
    """Node coordinates of streamed ways, built in libosmium as WKB and decoded in batches.

    ``WKBFactory`` writes a way's locations as doubles (``fixed-point / 1e7``,
    the same doubles as parsing the 7-decimal XML text) without a Python
    object per node; ways with a missing location fall back to one node at a
    time, with ``nan`` for the missing ones.
    """

    _BATCH = 1 << 16

    def __init__(self, osmium: Any) -> None:
        self._wkb = osmium.geom.WKBFactory()
        self._all = osmium.geom.use_nodes.ALL
        self._missing = (osmium.InvalidLocationError, RuntimeError)
        self._hex: list[str] = []
        self._parts: list[np.ndarray] = []

    def add(self, nodes: Any) -> None:
        try:
            # skip the 9-byte header: byte order, geometry type, point count
            self._hex.append(self._wkb.create_linestring(nodes, self._all)[18:])
        except self._missing:
            self._hex.append(self._one_by_one(nodes))
        if len(self._hex) >= self._BATCH:
            self._flush()

    def _one_by_one(self, nodes: Any) -> str:
        values: list[float] = []
        for node in nodes:
            location = node.location
            values.extend((location.lon, location.lat) if location.valid()
                          else (math.nan, math.nan))
        return np.asarray(values, dtype="<f8").tobytes().hex()

    def _flush(self) -> None:
        if self._hex:
            self._parts.append(np.frombuffer(bytes.fromhex("".join(self._hex)), dtype="<f8"))
            self._hex = []

    def array(self) -> np.ndarray:
        """``(n, 2)`` lon, lat in degrees (EPSG:4326), ``nan`` where a location is missing."""
        self._flush()
        flat = np.concatenate(self._parts) if self._parts else np.empty(0)
        return flat.reshape(-1, 2)
