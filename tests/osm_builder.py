"""Write tiny hand-made OSM files (XML and PBF) for tests, and find real test data."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from matcher import network, traveltime

Node = tuple[int, float, float] | tuple[int, float, float, dict[str, str]]
"""``(id, lon, lat)`` or ``(id, lon, lat, tags)``."""
Way = tuple[int, list[int], dict[str, str]]
Relation = tuple[int, list[tuple[str, int, str]], dict[str, str]]
"""``(id, members, tags)``; a member is ``(type "n"/"w", ref, role)``."""

REPO = Path(__file__).resolve().parents[1]


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle metres (mean Earth radius), written independently of the code under test."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_009.0 * math.asin(math.sqrt(a))


def data_path(name: str) -> Path:
    """Return ``<repo>/data/<name>`` (the repository's real open data, see data/SOURCES.md)."""
    path = REPO / "data" / name
    assert path.is_file(), f"real data missing: {path} (see data/SOURCES.md)"
    return path


def write_osm(path: Path, nodes: list[Node], ways: list[Way],
              relations: list[Relation] | None = None) -> Path:
    """Write nodes ``(id, lon, lat[, tags])`` and ways ``(id, node ids, tags)`` as OSM XML 0.6."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for node in nodes:
        nid, lon, lat = node[:3]
        tags = node[3] if len(node) > 3 else {}  # type: ignore[misc]
        head = f'  <node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"'
        if not tags:
            lines.append(head + "/>")
            continue
        lines.append(head + ">")
        lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("  </node>")
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines.extend(f'    <nd ref="{r}"/>' for r in refs)
        lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("  </way>")
    kinds = {"n": "node", "w": "way", "r": "relation"}
    for rid, members, tags in relations or []:
        lines.append(f'  <relation id="{rid}" version="1">')
        lines.extend(f'    <member type="{kinds[t]}" ref="{r}" role={quoteattr(role)}/>'
                     for t, r, role in members)
        lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("  </relation>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_pbf(path: Path, nodes: list[Node], ways: list[Way],
              relations: list[Relation] | None = None) -> Path:
    """Write the same objects as :func:`write_osm` to ``.osm.pbf`` with pyosmium's writer."""
    import osmium

    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path)) as writer:
        for node in nodes:
            nid, lon, lat = node[:3]
            tags = node[3] if len(node) > 3 else {}  # type: ignore[misc]
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags,
                                                    version=1))
        for wid, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
        for rid, members, tags in relations or []:
            writer.add_relation(osmium.osm.mutable.Relation(id=rid, members=members, tags=tags,
                                                            version=1))
    return path


def write_both(folder: Path, stem: str, nodes: list[Node], ways: list[Way],
               relations: list[Relation] | None = None) -> tuple[Path, Path]:
    """Write one fixture as ``<stem>.osm`` and ``<stem>.osm.pbf``."""
    return (write_osm(folder / f"{stem}.osm", nodes, ways, relations),
            write_pbf(folder / f"{stem}.osm.pbf", nodes, ways, relations))


def convert(source: Path, target: Path) -> Path:
    """Copy every object of an OSM file into another format (by suffix) with pyosmium."""
    import osmium

    target.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            writer.add(obj)
    return target


# --------------------------------------------------------------------------- the rule fixture


class Case:
    """One tag rule: a way with ``tags`` between two backbone nodes and what it must give.

    ``driven`` is ``forward``, ``backward``, ``both`` or ``none``; ``kmh`` the
    expected road speed (None: the class default); ``ferry_minutes`` the
    expected crossing time without the wait (None: by length).
    """

    def __init__(self, rule: str, tags: dict[str, str], driven: str, *,
                 kmh: float | None = None, ferry_minutes: float | None = None) -> None:
        self.rule, self.tags, self.driven = rule, tags, driven
        self.kmh, self.ferry_minutes = kmh, ferry_minutes

    def __repr__(self) -> str:
        return self.rule


def _road(highway: str, **extra: str) -> dict[str, str]:
    return {"highway": highway, **extra}


CASES: list[Case] = [
    Case("class listed in highway_kmh", _road("residential"), "both"),
    Case("class not listed (footway)", _road("footway"), "none"),
    Case("class: first of a ; list", _road("primary;secondary"), "both"),
    Case("oneway=yes", _road("tertiary", oneway="yes"), "forward"),
    Case("oneway=true", _road("tertiary", oneway="true"), "forward"),
    Case("oneway=1", _road("tertiary", oneway="1"), "forward"),
    Case("oneway=-1", _road("tertiary", oneway="-1"), "backward"),
    Case("oneway=reverse", _road("tertiary", oneway="reverse"), "backward"),
    Case("oneway=reversible", _road("tertiary", oneway="reversible"), "none"),
    Case("oneway=alternating", _road("tertiary", oneway="alternating"), "none"),
    Case("oneway=no", _road("tertiary", oneway="no"), "both"),
    Case("oneway=T (osmnx reverses it, OSM does not)", _road("tertiary", oneway="T"), "both"),
    Case("implied one-way: motorway", _road("motorway"), "forward"),
    Case("implied one-way: motorway_link", _road("motorway_link"), "forward"),
    Case("implied one-way lifted: motorway oneway=no", _road("motorway", oneway="no"), "both"),
    Case("implied one-way lifted: motorway_link oneway=false",
         _road("motorway_link", oneway="false"), "both"),
    Case("motorway oneway=-1", _road("motorway", oneway="-1"), "backward"),
    Case("trunk is two-way", _road("trunk"), "both"),
    Case("junction=roundabout", _road("primary", junction="roundabout"), "forward"),
    Case("junction=circular", _road("primary", junction="circular"), "forward"),
    Case("roundabout oneway=0", _road("primary", junction="roundabout", oneway="0"), "both"),
    Case("access=no", _road("service", access="no"), "none"),
    Case("access=private", _road("service", access="private"), "none"),
    Case("access=destination (drivable)", _road("service", access="destination"), "both"),
    Case("motor_vehicle=no", _road("service", motor_vehicle="no"), "none"),
    Case("motor_vehicle=private", _road("service", motor_vehicle="private"), "none"),
    Case("motor_vehicle=destination", _road("service", motor_vehicle="destination"), "both"),
    Case("motorcar=no", _road("service", motorcar="no"), "none"),
    Case("motorcar=private", _road("service", motorcar="private"), "none"),
    Case("motorcar=destination", _road("service", motorcar="destination"), "both"),
    Case("access=no, motor_vehicle=yes", _road("service", access="no", motor_vehicle="yes"),
         "both"),
    Case("access=private, motorcar=designated",
         _road("service", access="private", motorcar="designated"), "both"),
    Case("access=no, motor_vehicle=destination",
         _road("service", access="no", motor_vehicle="destination"), "both"),
    Case("access=yes, motor_vehicle=no", _road("service", access="yes", motor_vehicle="no"),
         "none"),
    Case("area=yes", _road("service", area="yes"), "none"),
    Case("area=no", _road("service", area="no"), "both"),
    Case("maxspeed 50", _road("primary", maxspeed="50"), "both", kmh=50.0),
    Case("maxspeed 50 km/h", _road("primary", maxspeed="50 km/h"), "both", kmh=50.0),
    Case("maxspeed 60kmh", _road("primary", maxspeed="60kmh"), "both", kmh=60.0),
    Case("maxspeed 30 mph", _road("primary", maxspeed="30 mph"), "both", kmh=30 * 1.609344),
    Case("maxspeed 10 knots", _road("primary", maxspeed="10 knots"), "both", kmh=18.52),
    Case("maxspeed 70,5", _road("primary", maxspeed="70,5"), "both", kmh=70.5),
    Case("maxspeed NO:urban", _road("primary", maxspeed="NO:urban"), "both", kmh=50.0),
    Case("maxspeed NO:rural", _road("secondary", maxspeed="NO:rural"), "both", kmh=80.0),
    Case("maxspeed walk", _road("primary", maxspeed="walk"), "both", kmh=7.0),
    Case("maxspeed list 50;60", _road("primary", maxspeed="50;60"), "both", kmh=50.0),
    Case("maxspeed none -> class default", _road("primary", maxspeed="none"), "both", kmh=80.0),
    Case("maxspeed signals -> class default", _road("tertiary", maxspeed="signals"), "both",
         kmh=50.0),
    Case("car ferry motor_vehicle=yes, duration hh:mm",
         {"route": "ferry", "motor_vehicle": "yes", "duration": "00:25"}, "both",
         ferry_minutes=25.0),
    Case("car ferry motorcar=designated, duration hh:mm:ss",
         {"route": "ferry", "motorcar": "designated", "duration": "1:05:30"}, "both",
         ferry_minutes=65.5),
    Case("car ferry ferry=primary, no duration (length)",
         {"route": "ferry", "ferry": "primary"}, "both"),
    Case("car ferry duration mm", {"route": "ferry", "motor_vehicle": "yes", "duration": "40"},
         "both", ferry_minutes=40.0),
    Case("car ferry duration ISO PT1H5M",
         {"route": "ferry", "motor_vehicle": "yes", "duration": "PT1H5M"}, "both",
         ferry_minutes=65.0),
    Case("car ferry duration unreadable (length)",
         {"route": "ferry", "motor_vehicle": "yes", "duration": "about an hour"}, "both"),
    Case("car ferry oneway=yes",
         {"route": "ferry", "motor_vehicle": "yes", "oneway": "yes", "duration": "20"},
         "forward", ferry_minutes=20.0),
    Case("ferry=primary, motor_vehicle=no",
         {"route": "ferry", "ferry": "primary", "motor_vehicle": "no"}, "none"),
    Case("ferry=primary, motorcar=no",
         {"route": "ferry", "ferry": "primary", "motorcar": "no"}, "none"),
    Case("passenger ferry (foot=yes)", {"route": "ferry", "foot": "yes"}, "none"),
    Case("passenger ferry (ferry=passenger)", {"route": "ferry", "ferry": "passenger"}, "none"),
]
"""Every tag rule, one way each (see :func:`rule_fixture`)."""

STRUCTURE = [
    "ways that share nodes (backbone junctions and a crossing way through two mid nodes)",
    "a closed roundabout ring (first node = last node)",
    "a way repeating a node (zero-length segment dropped)",
    "a way referencing a node missing from the file (that segment dropped)",
]
"""Structural cases in :func:`rule_fixture` beside the tag rules."""

LON0, LAT0, STEP = 10.0, 60.0, 0.01


def backbone_node(i: int) -> int:
    """OSM id of backbone node ``i`` (case ``i`` runs from node ``i`` to node ``i + 1``)."""
    return 1000 + i


def mid_node(i: int) -> int:
    """OSM id of the middle node of case ``i``'s way."""
    return 2000 + i


def rule_fixture(*, dangling: bool = True) -> tuple[list[Node], list[Way]]:
    """Nodes and ways covering every case of :data:`CASES` and :data:`STRUCTURE`.

    A two-way residential backbone ``1000 -> 1001 -> ...`` runs east; case
    ``i`` is a way ``1000+i -> 2000+i -> 1000+i+1`` bowing north, so every
    driven case stays in the strongly connected component.
    """
    n = len(CASES)
    nodes: list[Node] = [(backbone_node(i), round(LON0 + i * STEP, 7), LAT0)
                         for i in range(n + 3)]
    nodes += [(mid_node(i), round(LON0 + (i + 0.5) * STEP, 7), round(LAT0 + 0.004, 7))
              for i in range(n)]
    ways: list[Way] = [(1 + i, [backbone_node(i), backbone_node(i + 1)], _road("residential"))
                       for i in range(n + 2)]
    ways += [(100 + i, [backbone_node(i), mid_node(i), backbone_node(i + 1)], case.tags)
             for i, case in enumerate(CASES)]
    # a crossing way that shares the middle nodes of cases 0 and 2
    ways.append((500, [mid_node(0), mid_node(2)], _road("unclassified")))
    # a closed roundabout ring on the last backbone nodes
    r = [3000, 3001, 3002]
    base = LON0 + n * STEP
    nodes += [(3000, round(base + 0.003, 7), round(LAT0 - 0.003, 7)),
              (3001, round(base + 0.006, 7), round(LAT0 - 0.004, 7)),
              (3002, round(base + 0.009, 7), round(LAT0 - 0.003, 7))]
    ways.append((501, [backbone_node(n), r[0], r[1], r[2], backbone_node(n + 1),
                       backbone_node(n)], _road("primary", junction="roundabout")))
    ways.append((502, [backbone_node(n + 1), backbone_node(n + 1), backbone_node(n + 2)],
                 _road("secondary")))
    if dangling:
        ways.append((503, [backbone_node(n + 2), 999_999, backbone_node(n + 1)],
                     _road("secondary")))
    return nodes, ways


def assert_networks_equal(a: object, b: object, *, exact: bool = True) -> None:
    """Assert two :class:`matcher.network.Network` have the same nodes, edges and minutes.

    ``exact`` compares minutes bit for bit; otherwise to 1e-12 relative.
    """
    import numpy as np
    import pandas as pd

    np.testing.assert_array_equal(a.osmid, b.osmid)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(a.lon, b.lon)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(a.lat, b.lat)  # type: ignore[attr-defined]
    ga, gb = a.graph, b.graph  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ga.indptr, gb.indptr)
    np.testing.assert_array_equal(ga.indices, gb.indices)
    if exact:
        np.testing.assert_array_equal(ga.data, gb.data)
        pd.testing.assert_frame_equal(a.edges, b.edges, check_exact=True)  # type: ignore[attr-defined]
    else:
        np.testing.assert_allclose(ga.data, gb.data, rtol=1e-12, atol=0)
        pd.testing.assert_frame_equal(a.edges, b.edges, rtol=1e-12)  # type: ignore[attr-defined]


def snapped(net: network.Network, ids: list[int]) -> traveltime.Snapped:
    """Points exactly on the road nodes with OSM ids ``ids`` (no access leg)."""
    pos = {int(o): k for k, o in enumerate(net.osmid[:net.n_road_nodes])}
    nodes = np.array([pos[i] for i in ids])
    return traveltime.Snapped(ids=np.array([str(i) for i in ids], dtype=object), node=nodes,
                              access_minutes=np.zeros(len(ids)), distance_m=np.zeros(len(ids)))
