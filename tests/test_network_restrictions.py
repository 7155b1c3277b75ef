"""OSM turn restrictions by node splitting (issue 20), against a turn-expanded networkx graph.

The fixture: a four-way junction C (node 1) with arms N 2, E 3, S 4, W 5
(ways 12, 11, 13, 10) and a ring road (way 20) joining the arm ends through
far corners, so every forbidden turn has a detour. The restrictions at C,
by kind, and the turns (from, via, to node) they forbid, written out by hand:

* ``no_left_turn`` 10 -> 12 (from W heading east, left is north): 5-1-2
* ``only_straight_on`` 13 -> 12 (from S heading north): 4-1-3, 4-1-5, 4-1-4
* ``no_right_turn`` 12 -> 10 (from N heading south, right is west): 2-1-5
* ``no_u_turn`` 11 -> 11: 3-1-3
* ``restriction:motorcar=no_straight_on`` 11 -> 10: 3-1-5
* ``no_left_turn`` 11 -> 13 with ``except=motorcar``: nothing (cars exempt)
* a via-way restriction: nothing (not modelled)
"""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from osm_builder import Node, Relation, Way, haversine, snapped, write_both

from matcher import _osm, isochrones, network, traveltime
from matcher.config import NetworkSettings, TravelSettings

SETTINGS = NetworkSettings.free_flow(turn_restrictions=True)
LAT = 60.0
NODES: list[Node] = [
    (1, 10.0, LAT), (2, 10.0, LAT + 0.001), (3, 10.002, LAT), (4, 10.0, LAT - 0.001),
    (5, 9.998, LAT), (6, 10.004, LAT + 0.002), (7, 10.004, LAT - 0.002),
    (8, 9.996, LAT - 0.002), (9, 9.996, LAT + 0.002),
]
RES = {"highway": "residential"}
WAYS: list[Way] = [
    (10, [5, 1], RES), (11, [1, 3], RES), (12, [1, 2], RES), (13, [4, 1], RES),
    (20, [2, 6, 3, 7, 4, 8, 5, 9, 2], RES),
]


def _turn(kind: str, frm: int, to: int, via: tuple[str, int] = ("n", 1),
          **extra: str) -> tuple[list[tuple[str, int, str]], dict[str, str]]:
    tags = {"type": "restriction", **({"restriction": kind} if kind else {}), **extra}
    return [("w", frm, "from"), (via[0], via[1], "via"), ("w", to, "to")], tags


RELATIONS: list[Relation] = [
    (900 + k, *_turn(*args[:3], **args[3]))  # type: ignore[misc]
    for k, args in enumerate([
        ("no_left_turn", 10, 12, {}),
        ("only_straight_on", 13, 12, {}),
        ("no_right_turn", 12, 10, {}),
        ("no_u_turn", 11, 11, {}),
        ("", 11, 10, {"restriction:motorcar": "no_straight_on"}),
        ("no_left_turn", 11, 13, {"except": "bicycle;motorcar"}),
    ])
] + [(990, [("w", 10, "from"), ("w", 11, "via"), ("w", 10, "to")],
      {"type": "restriction", "restriction": "no_u_turn"})]
FORBIDDEN = {(5, 1, 2), (4, 1, 3), (4, 1, 5), (4, 1, 4), (2, 1, 5), (3, 1, 3), (3, 1, 5)}


def metres(a: int, b: int) -> float:
    by_id = {n[0]: n for n in NODES}
    return haversine(*by_id[a][1:3], *by_id[b][1:3])


def minutes(path: list[int]) -> float:
    return sum(metres(a, b) for a, b in itertools.pairwise(path)) / (30 * 1000 / 60)


def turn_expanded_minutes() -> dict[tuple[int, int], float]:
    """All-pairs minutes on the turn-expanded graph: a node per directed segment, an arc per
    allowed turn (U-turns too, except the forbidden), built from the fixture alone."""
    segments = [(a, b) for _w, refs, _t in WAYS for a, b in itertools.pairwise(refs)]
    directed = segments + [(b, a) for a, b in segments]
    g = nx.DiGraph()
    for a, b in directed:
        g.add_edge(("start", a), (a, b), weight=minutes([a, b]))
        g.add_edge((a, b), ("end", b), weight=0.0)
        for b2, c in directed:
            if b2 == b and (a, b, c) not in FORBIDDEN:
                g.add_edge((a, b), (b, c), weight=minutes([b, c]))
    out = {}
    for s in {n[0] for n in NODES}:
        dist = nx.single_source_dijkstra_path_length(g, ("start", s), weight="weight")
        for t in {n[0] for n in NODES}:
            out[(s, t)] = 0.0 if s == t else dist[("end", t)]
    return out


@pytest.fixture(scope="module", params=["osm", "osm.pbf"])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> network.Network:
    xml, pbf = write_both(tmp_path_factory.mktemp("turns"), "turns", NODES, WAYS, RELATIONS)
    return network.build(xml if request.param == "osm" else pbf, SETTINGS)


def test_restrictions_read_from_xml_and_pbf(tmp_path: Path) -> None:
    xml, pbf = write_both(tmp_path, "turns", NODES, WAYS, RELATIONS)
    got = []
    for path in (xml, pbf):
        roads = network.read(path, SETTINGS)
        via = roads.node_id[roads.restriction_via]
        got.append(sorted(zip(roads.restriction_from.tolist(), via.tolist(),
                              roads.restriction_to.tolist(), roads.restriction_only.tolist(),
                              strict=True)))
    assert got[0] == got[1] == [(10, 1, 12, False), (11, 1, 10, False), (11, 1, 11, False),
                                (12, 1, 10, False), (13, 1, 12, True)]


def test_the_hand_computed_detour(net: network.Network) -> None:
    """W -> N: the left turn at C is forbidden. The detours: the ring, or straight on to E
    (or right to S), turn round at the arm's end and come back into C, from where
    turning to N is allowed; each arm is 111 m, so the turn-rounds cost four arms."""
    candidates = [[5, 9, 2], [5, 1, 3, 6, 2], [5, 1, 3, 1, 2], [5, 1, 4, 1, 2]]
    assert minutes([5, 1, 2]) < min(minutes(p) for p in candidates)
    got = traveltime.matrix(net, snapped(net, [5]), snapped(net, [2]),
                            TravelSettings(limit_minutes=60)).minutes[0, 0]
    assert got == pytest.approx(min(minutes(p) for p in candidates), rel=1e-12)
    assert got == pytest.approx(minutes([5, 1, 3, 1, 2]), rel=1e-12)
    assert got == pytest.approx(minutes([5, 1, 4, 1, 2]), rel=1e-9)


def test_restrictions_can_be_turned_off(tmp_path: Path) -> None:
    xml, _ = write_both(tmp_path, "turns", NODES, WAYS, RELATIONS)
    net = network.build(xml, NetworkSettings.free_flow())  # free flow: no restrictions
    assert len(net.copy_of) == 0
    got = traveltime.matrix(net, snapped(net, [5]), snapped(net, [2]),
                            TravelSettings(limit_minutes=60)).minutes[0, 0]
    assert got == pytest.approx(minutes([5, 1, 2]), rel=1e-12)


@pytest.mark.parametrize("contract", [True, False])
def test_matrix_equals_the_turn_expanded_graph(net: network.Network, contract: bool) -> None:
    expected = turn_expanded_minutes()
    ids = sorted({n[0] for n in NODES})
    # fewer origins (searches from them) and fewer destinations (searches back from them)
    for origins, destinations in ((ids, ids), (ids[:2], ids), (ids, [1, 2])):
        got = traveltime.matrix(net, snapped(net, origins), snapped(net, destinations),
                                TravelSettings(limit_minutes=60, contract_chains=contract))
        want = np.array([[expected[(s, t)] for t in destinations] for s in origins])
        np.testing.assert_allclose(got.minutes, want, rtol=1e-12, atol=1e-12)
    assert len(net.copy_of) >= 3  # W, S and E arms entering C are split off


@pytest.mark.parametrize("towards", [False, True])
def test_reached_minutes_fold_copies(net: network.Network, towards: bool) -> None:
    expected = turn_expanded_minutes()
    ids = sorted({n[0] for n in NODES})
    points = snapped(net, ids)
    got = net.fold_copies(isochrones.reached_minutes(net, points, limit_minutes=60,
                                                     towards=towards))
    for i, s in enumerate(ids):
        for j, t in enumerate(ids):
            want = expected[(t, s)] if towards else expected[(s, t)]
            assert got[i, points.node[j]] == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_snapping_never_lands_on_a_copy(net: network.Network) -> None:
    via = net.osmid[:net.n_road_nodes] == 1
    lon, lat = net.lon[:net.n_road_nodes][via], net.lat[:net.n_road_nodes][via]
    got = traveltime.snap(net, ["c"], lon, lat)
    assert got.node[0] < net.n_road_nodes and net.osmid[got.node[0]] == 1


def test_cache_and_osmnx_export_keep_the_copies(net: network.Network, tmp_path: Path) -> None:
    network.save(net, tmp_path)
    again = network.load(tmp_path)
    np.testing.assert_array_equal(again.copy_of, net.copy_of)
    graph = network.to_osmnx(net)
    assert graph.number_of_nodes() == net.n_nodes
    assert sum(1 for n in graph.nodes if n <= -network.COPY_ID_BASE) == len(net.copy_of)


def test_restriction_of_ignores_what_it_cannot_model() -> None:
    members = [("w", 1, "from"), ("n", 2, "via"), ("w", 3, "to")]
    assert _osm.restriction_of({"type": "restriction", "restriction": "no_left_turn"},
                               members) == (1, 2, 3, False)
    assert _osm.restriction_of({"type": "restriction", "restriction": "only_right_turn"},
                               members) == (1, 2, 3, True)
    assert _osm.restriction_of({"type": "restriction", "restriction": "no_entry"},
                               members) == (1, 2, 3, False)  # every no_* forbids the turn
    for tags in ({"type": "restriction", "restriction": "give_way"},
                 {"type": "restriction", "restriction": "no_left_turn", "except": "motorcar"},
                 {"type": "restriction", "restriction:hgv": "no_left_turn"},
                 {"type": "multipolygon", "restriction": "no_left_turn"}):
        assert _osm.restriction_of(tags, members) is None, tags
    assert _osm.restriction_of({"type": "restriction", "restriction": "no_u_turn"},
                               [("w", 1, "from"), ("w", 4, "via"), ("w", 1, "to")]) is None
    assert _osm.restriction_of({"type": "restriction", "restriction": "no_u_turn"},
                               [("w", 1, "from"), ("n", 2, "via")]) is None


def _expanded(plain: network.Network, roads: _osm.OsmRoads) -> nx.DiGraph:
    """The turn-expanded graph of ``plain`` (no restrictions), built independently of the code
    under test: forbidden turns as OSM node-id triples from the ways' segments."""
    osmid = plain.osmid
    seg_a = roads.node_id[roads.seg_u]
    seg_b = roads.node_id[roads.seg_v]
    seg_way = roads.way_id[roads.seg_way]
    forbidden: set[tuple[int, int, int]] = set()
    for frm, via_pos, to, only in zip(roads.restriction_from, roads.restriction_via,
                                      roads.restriction_to, roads.restriction_only, strict=True):
        via = int(roads.node_id[via_pos])

        def ends(way: int, via: int = via) -> set[int]:
            on = seg_way == way
            return ({int(b) for a, b in zip(seg_a[on], seg_b[on], strict=True) if a == via}
                    | {int(a) for a, b in zip(seg_a[on], seg_b[on], strict=True) if b == via})

        froms, tos = ends(int(frm)), ends(int(to))
        around = set(plain.edges["v"][plain.edges["u"] == np.flatnonzero(osmid == via)[0]]
                     .map(lambda k: int(osmid[k]))) if (osmid == via).any() else set()
        for a in froms:
            onto = {a} & tos if frm == to else tos
            if not onto:
                continue
            if only:
                onto = (around - {a}) if frm == to else (around - tos)
            forbidden |= {(a, via, c) for c in onto}
    g = nx.DiGraph()
    u, v, w = (plain.edges[c].to_numpy() for c in ("u", "v", "minutes"))
    out: dict[int, list[int]] = {}
    for k, a in enumerate(u):
        out.setdefault(int(a), []).append(k)
    for k in range(len(u)):
        a, b = int(u[k]), int(v[k])
        g.add_edge(("start", a), k, weight=float(w[k]))
        g.add_edge(k, ("end", b), weight=0.0)
        for k2 in out.get(b, []):
            if (int(osmid[a]), int(osmid[b]), int(osmid[v[k2]])) not in forbidden:
                g.add_edge(k, k2, weight=float(w[k2]))
    return g


@pytest.mark.slow
@pytest.mark.parametrize("name", ["oslo-center.osm.pbf", "oslo-east-filtered.osm.pbf"])
def test_oslo_equals_networkx_on_the_turn_expanded_graph(name: str) -> None:
    import dataclasses

    from osm_builder import data_path

    settings = NetworkSettings(turn_costs=False)  # node splitting; turn costs: test_network_turns
    roads = network.read(data_path(name), settings)
    net = network.compile_roads(roads, settings)
    assert len(net.copy_of) > 20
    free = dataclasses.replace(roads, restriction_from=roads.restriction_from[:0],
                               restriction_via=roads.restriction_via[:0],
                               restriction_to=roads.restriction_to[:0],
                               restriction_only=roads.restriction_only[:0])
    plain = network.compile_roads(free, settings)
    g = _expanded(plain, roads)
    ours_pos = {int(o): k for k, o in enumerate(net.osmid[:net.n_road_nodes])}
    plain_pos = {int(o): k for k, o in enumerate(plain.osmid)}
    both = sorted(set(ours_pos) & set(plain_pos))
    rng = np.random.default_rng(5)
    # origins and destinations near the restricted junctions, where they matter
    vias = {int(x) for x in roads.node_id[roads.restriction_via]} & set(both)
    sources = rng.choice(sorted(vias), 8, replace=False).tolist()
    targets = rng.choice(both, 60, replace=False).tolist() + sorted(vias)[:40]
    got = traveltime.matrix(net, snapped(net, sources), snapped(net, targets),
                            TravelSettings(limit_minutes=1e6)).minutes
    for i, s in enumerate(sources):
        dist = nx.single_source_dijkstra_path_length(g, ("start", plain_pos[s]), weight="weight")
        want = [0.0 if t == s else dist.get(("end", plain_pos[t]), np.inf) for t in targets]
        np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-9)
