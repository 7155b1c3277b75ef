"""Turn costs and turn restrictions on the turn-expanded graph (issue 20).

Hand-computed minutes on a small fixture (XML and PBF), the turn cost of
OSRM's ``car.lua`` at exact angles, and the engine against networkx on an
independently built line graph of both Oslo extracts.

The fixture: junction C (node 1) where a primary road runs north-south
(N arm ``1-31-2`` with a signal at 31, S arm ``4-32-1`` with a stop sign at
32) and a residential road runs west-east (W arm ``5-33-1``, give way at
33; E link ``1-34-3``, pedestrian crossing at 34) to junction D (node 3),
whose residential arms run north to 21 (111 m), south to 22 (167 m) and east
to 23 (56 m). Every arm ends in a dead end, the only place where a car may
turn round (a U-turn, 27.5 s, as in OSRM). The restrictions:

* ``no_left_turn`` from W (way 10) via node C onto N (way 12);
* ``only_straight_on`` from S (way 13) via node C onto N (way 12);
* ``no_left_turn`` from W (way 10) via the *way* E (11) onto D's N arm (14).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from osm_builder import Node, Relation, Way, data_path, haversine, snapped, write_both

from matcher import _turns, network, traveltime
from matcher.config import NetworkSettings, TravelSettings
from matcher.errors import InputError

LAT, LON = 60.0, 15.0  # on UTM 33's central meridian: north is grid north
NODE_S = {"traffic_signals": 5.0, "stop": 7.0, "give_way": 11.0, "crossing": 13.0}
JUNCTION_S = {"minor": 17.0, "equal": 19.0, "major": 23.0}
SETTINGS = NetworkSettings.free_flow(turn_restrictions=True, turn_costs=True,
                                     node_delay_seconds=NODE_S, junction_seconds=JUNCTION_S)

# OSRM car.lua at 7.5 s, bias 1.075, 2 s across oncoming traffic, 20 s for a U-turn
STRAIGHT, RIGHT, LEFT = 0.0069187517715335635, 2.1052555445044834, 7.320090680807256
RIGHT45, LEFT45, U_TURN = 0.13971570123677463, 1.541808817549732, 27.454800311951242

NODES: list[Node] = [
    (1, LON, LAT), (31, LON, LAT + 0.0005, {"highway": "traffic_signals"}),
    (2, LON, LAT + 0.001), (32, LON, LAT - 0.0005, {"highway": "stop"}),
    (4, LON, LAT - 0.001), (33, LON - 0.001, LAT, {"highway": "give_way"}),
    (5, LON - 0.002, LAT), (34, LON + 0.001, LAT, {"highway": "crossing"}),
    (3, LON + 0.002, LAT), (21, LON + 0.002, LAT + 0.001), (22, LON + 0.002, LAT - 0.0015),
    (23, LON + 0.003, LAT),
]
PRIMARY, RESIDENTIAL = {"highway": "primary"}, {"highway": "residential"}
WAYS: list[Way] = [
    (10, [5, 33, 1], RESIDENTIAL), (11, [1, 34, 3], RESIDENTIAL), (12, [1, 31, 2], PRIMARY),
    (13, [4, 32, 1], PRIMARY), (14, [3, 21], RESIDENTIAL), (15, [3, 22], RESIDENTIAL),
    (16, [3, 23], RESIDENTIAL),
]
RELATIONS: list[Relation] = [
    (900, [("w", 10, "from"), ("n", 1, "via"), ("w", 12, "to")],
     {"type": "restriction", "restriction": "no_left_turn"}),
    (901, [("w", 13, "from"), ("n", 1, "via"), ("w", 12, "to")],
     {"type": "restriction", "restriction": "only_straight_on"}),
    (902, [("w", 10, "from"), ("w", 11, "via"), ("w", 14, "to")],
     {"type": "restriction", "restriction": "no_left_turn"}),
]
PRIMARY_NODES = {1, 31, 2, 32, 4}


def osrm_turn(angle: float, u_turn: bool = False) -> float:
    """car.lua's process_turn, written out again (> 0 right, < 0 left), in seconds."""
    bias, penalty = 1.075, 7.5
    if angle >= 0:
        s = penalty / (1 + math.exp(-((13 / bias) * angle / 180 - 6.5 * bias)))
    else:
        s = penalty / (1 + math.exp(-((13 * bias) * -angle / 180 - 6.5 / bias)))
    if angle < 0 and not u_turn:
        s += 2.0 / (1 + math.exp(-(13 * abs(angle) / 180 - 3.25)))
    return s + (20.0 if u_turn else 0.0)


def test_the_turn_costs_written_out() -> None:
    assert osrm_turn(0) == pytest.approx(STRAIGHT, rel=1e-12)
    assert osrm_turn(90) == pytest.approx(RIGHT, rel=1e-12)
    assert osrm_turn(-90) == pytest.approx(LEFT, rel=1e-12)
    assert osrm_turn(180, u_turn=True) == pytest.approx(U_TURN, rel=1e-12)
    got = _turns.turn_seconds(np.array([0.0, 90.0, -90.0, 45.0, -45.0, 7.0]),
                              np.array([False, False, False, False, False, True]),
                              NetworkSettings())
    np.testing.assert_allclose(got, [STRAIGHT, RIGHT, LEFT, RIGHT45, LEFT45, U_TURN],
                               rtol=1e-12)


def test_expand_prices_each_turn_at_a_star() -> None:
    """A five-arm junction 0 drawn in metres: arcs from each in-port cost turn + edge."""
    x = np.array([0.0, -100.0, 100.0, 0.0, 0.0, 100.0])
    y = np.array([0.0, 0.0, 0.0, 100.0, -100.0, 100.0])  # W 1, E 2, N 3, S 4, NE 5
    arms = [1, 2, 3, 4, 5]
    u = np.array([a for a in arms] + [0] * 5)
    v = np.array([0] * 5 + arms)
    none = np.empty(0, np.int64)
    ex = _turns.expand(u, v, u * 0 + 7, x, y, NetworkSettings(), r_from=none, r_via=none,
                       r_to=none, r_only=none.astype(bool), w_from=none, w_via=none,
                       w_to=none, w_only=none.astype(bool))
    assert ex.copy_of.tolist() == [0] * 5 + arms  # one in-port per edge, at its head
    port = {(int(a), int(b)): 6 + k for k, (a, b) in enumerate(zip(u, v, strict=True))}
    turn = {(int(t), int(v[e])): float(m) * 60
            for t, e, m in zip(ex.tail, ex.edge, ex.turn_minutes, strict=True) if t >= 6}
    # from W heading east: straight E, left N, right S, 45 degrees left NE; no U-turn back
    # to W while there is a way on
    want = {2: STRAIGHT, 3: LEFT, 4: RIGHT, 5: LEFT45}
    for arm, seconds in want.items():
        assert turn[(port[(1, 0)], arm)] == pytest.approx(seconds, rel=1e-9), arm
    assert (port[(1, 0)], 1) not in turn
    # from S heading north: NE is 45 degrees right
    assert turn[(port[(4, 0)], 5)] == pytest.approx(RIGHT45, rel=1e-9)
    # at the end of each arm the only way on is a U-turn
    for arm in arms:
        assert turn[(port[(0, arm)], 0)] == pytest.approx(U_TURN, rel=1e-9), arm
    # the junction and the dead ends start trips along their edges at no turn cost
    starts = ex.tail < 6
    got = sorted(zip(ex.tail[starts].tolist(), ex.edge[starts].tolist(), strict=True))
    assert got == sorted((int(a), k) for k, a in enumerate(u))
    assert (ex.turn_minutes[starts] == 0).all()


def metres(a: int, b: int) -> float:
    by_id = {n[0]: n for n in NODES}
    return haversine(*by_id[a][1:3], *by_id[b][1:3])


def drive(path: list[int]) -> float:
    """Minutes along ``path`` at the class speeds (primary 80, residential 30 km/h)."""
    total = 0.0
    for a, b in itertools.pairwise(path):
        kmh = 80.0 if a in PRIMARY_NODES and b in PRIMARY_NODES else 30.0
        total += metres(a, b) / (kmh * 1000 / 60)
    return total


# route, then the seconds it loses: node delays, junction delays (C: minor from W/E, major
# from N/S; D: equal) and turns, written out by hand
CASES = [
    ([5, 33, 1, 32, 4], 11 + 17 + RIGHT + 7),
    # W -> N: the left turn is forbidden; right to S, turn round at its end, straight on
    ([5, 33, 1, 32, 4, 32, 1, 31, 2], 11 + 17 + RIGHT + 7 + U_TURN + 7 + 23 + STRAIGHT + 5),
    # S -> W: only straight on; to N, turn round at its end, back, right to W
    ([4, 32, 1, 31, 2, 31, 1, 33, 5], 7 + 23 + STRAIGHT + 5 + U_TURN + 5 + 23 + RIGHT + 11),
    # W -> D's N arm: left at D is forbidden after W -> E (via way); straight on to 23,
    # turn round, right to 21
    ([5, 33, 1, 34, 3, 23, 3, 21], 11 + 17 + STRAIGHT + 13 + 19 + STRAIGHT + U_TURN + 19
     + RIGHT),
    # S -> D's N arm: via N and back, left at C onto E, left at D is allowed from 12
    ([4, 32, 1, 31, 2, 31, 1, 34, 3, 21], 7 + 23 + STRAIGHT + 5 + U_TURN + 5 + 23 + LEFT + 13
     + 19 + LEFT),
    ([3, 34, 1, 33, 5], 13 + 17 + STRAIGHT + 11),  # from a junction: no turn there
    ([5, 33, 1, 34, 3], 11 + 17 + STRAIGHT + 13 + 19),  # to a junction: ends on arrival
    ([21, 3, 23], 19 + LEFT),
    ([23, 3, 22], 19 + LEFT),
    ([21, 3, 22], 19 + STRAIGHT),
    ([2, 31, 1, 34, 3], 5 + 23 + LEFT + 13 + 19),
]


@pytest.fixture(scope="module", params=["osm", "osm.pbf"])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> network.Network:
    xml, pbf = write_both(tmp_path_factory.mktemp("turns"), "turns", NODES, WAYS, RELATIONS)
    return network.build(xml if request.param == "osm" else pbf, SETTINGS)


@pytest.mark.parametrize("contract", [True, False])
def test_hand_computed_minutes(net: network.Network, contract: bool) -> None:
    for route, seconds in CASES:
        want = drive(route) + seconds / 60.0
        for origins, destinations in (([route[0]], [route[-1]]),
                                      ([route[0], 21, 22, 23], [route[-1]])):  # backwards
            got = traveltime.matrix(net, snapped(net, origins), snapped(net, destinations),
                                    TravelSettings(limit_minutes=60, contract_chains=contract))
            # angles from UTM 33 coordinates: a right angle drawn in degrees is off by
            # thousandths of a degree there, 1e-4 s of turn cost
            assert got.minutes[0, 0] == pytest.approx(want, abs=1e-5), route


def test_via_way_restrictions_read_from_xml_and_pbf(tmp_path: Path) -> None:
    xml, pbf = write_both(tmp_path, "turns", NODES, WAYS, RELATIONS)
    for path in (xml, pbf):
        roads = network.read(path, SETTINGS)
        assert (roads.via_way_from.tolist(), roads.via_way_via.tolist(),
                roads.via_way_to.tolist(), roads.via_way_only.tolist()) == (
            [10], [11], [14], [False])
        assert len(roads.restriction_via) == 2


def test_turn_costs_off_is_the_node_graph(tmp_path: Path) -> None:
    xml, _ = write_both(tmp_path, "turns", NODES, WAYS, RELATIONS)
    net = network.build(xml, NetworkSettings.free_flow())
    got = traveltime.matrix(net, snapped(net, [5]), snapped(net, [2]),
                            TravelSettings(limit_minutes=60)).minutes[0, 0]
    assert got == pytest.approx(drive([5, 33, 1, 31, 2]), rel=1e-12)


@pytest.mark.parametrize("field", ["turn_penalty_seconds", "oncoming_turn_seconds",
                                   "u_turn_seconds", "turn_bias"])
def test_bad_turn_settings(field: str) -> None:
    with pytest.raises(InputError) as info:
        NetworkSettings(**{field: -1.0})
    assert any(p.column == f"network.{field}" for p in info.value.problems), \
        info.value.problems


# --------------------------------------------------------------------------- real data


def _line_graph(roads: object, plain: network.Network, settings: NetworkSettings
                ) -> nx.DiGraph:
    """The turn-expanded (line) graph of ``plain``: a node per edge, an arc per turn.

    Built independently of :mod:`matcher._turns`: junctions (three or more
    distinct neighbours) from the ways' segments; angles from the node
    coordinates with ``math.atan2``; the turn cost from :func:`osrm_turn`;
    forbidden turns as OSM node-id triples; a U-turn only where a turn has no
    other way on (a dead end), as in OSRM.
    """
    seg_a = roads.node_id[roads.seg_u]  # type: ignore[attr-defined]
    seg_b = roads.node_id[roads.seg_v]  # type: ignore[attr-defined]
    seg_way = roads.way_id[roads.seg_way]  # type: ignore[attr-defined]
    neighbours: dict[int, set[int]] = {}
    for a, b in zip(seg_a.tolist(), seg_b.tolist(), strict=True):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    junction = {k for k, n in neighbours.items() if len(n) >= 3}
    forbidden: set[tuple[int, int, int]] = set()
    for frm, via_pos, to, only in zip(roads.restriction_from, roads.restriction_via,  # type: ignore[attr-defined]
                                      roads.restriction_to, roads.restriction_only,  # type: ignore[attr-defined]
                                      strict=True):
        via = int(roads.node_id[via_pos])  # type: ignore[attr-defined]

        def ends(way: int, via: int = via) -> set[int]:
            on = seg_way == way
            return ({int(b) for a, b in zip(seg_a[on], seg_b[on], strict=True) if a == via}
                    | {int(a) for a, b in zip(seg_a[on], seg_b[on], strict=True) if b == via})

        froms, tos = ends(int(frm)), ends(int(to))
        around = neighbours.get(via, set())
        for a in froms:
            onto = {a} & tos if frm == to else tos
            if not onto:
                continue
            if only:
                onto = (around - {a}) if frm == to else (around - tos)
            forbidden |= {(a, via, c) for c in onto}
    osmid = plain.osmid
    x, y = plain.x, plain.y
    g = nx.DiGraph()
    u, v, w = (plain.edges[c].to_numpy() for c in ("u", "v", "minutes"))
    out: dict[int, list[int]] = {}
    for k, a in enumerate(u):
        out.setdefault(int(a), []).append(k)
    for k in range(len(u)):
        a, b = int(u[k]), int(v[k])
        g.add_edge(("start", a), k, weight=float(w[k]))
        g.add_edge(k, ("end", b), weight=0.0)
        ob = int(osmid[b])
        exits = [k2 for k2 in out.get(b, [])
                 if (int(osmid[a]), ob, int(osmid[v[k2]])) not in forbidden]
        onward = [k2 for k2 in exits if int(v[k2]) != a]
        for k2 in onward or exits:
            c = int(v[k2])
            u_turn = c == a
            seconds = 0.0
            if ob in junction:
                ax, ay = x[b] - x[a], y[b] - y[a]
                bx, by = x[c] - x[b], y[c] - y[b]
                angle = -math.degrees(math.atan2(ax * by - ay * bx, ax * bx + ay * by))
                angle = 0.0 if abs(angle) < 0.01 else angle  # straight on
                seconds = osrm_turn(angle, u_turn)
            elif u_turn:
                seconds = osrm_turn(180.0, True)
            g.add_edge(k, k2, weight=float(w[k2]) + seconds / 60.0)
    return g


@pytest.mark.slow
@pytest.mark.parametrize("name", ["oslo-center.osm.pbf", "oslo-east-filtered.osm.pbf"])
def test_oslo_equals_networkx_on_the_line_graph(name: str) -> None:
    import dataclasses

    settings = NetworkSettings(turn_costs=True)  # with the delays of their calibration
    assert settings.turn_restrictions
    read = network.read(data_path(name), settings)
    # via-way restrictions need more state than a line graph has: the fixture tests them
    roads = dataclasses.replace(read, via_way_from=read.via_way_from[:0],
                                via_way_via=read.via_way_via[:0],
                                via_way_to=read.via_way_to[:0],
                                via_way_only=read.via_way_only[:0])
    net = network.compile_roads(roads, settings)
    free = dataclasses.replace(roads, restriction_from=roads.restriction_from[:0],
                               restriction_via=roads.restriction_via[:0],
                               restriction_to=roads.restriction_to[:0],
                               restriction_only=roads.restriction_only[:0])
    plain = network.compile_roads(free, settings.model_copy(update={"turn_costs": False,
                                                                    "turn_restrictions": False}))
    g = _line_graph(roads, plain, settings)
    ours_pos = {int(o): k for k, o in enumerate(net.osmid[:net.n_road_nodes])}
    plain_pos = {int(o): k for k, o in enumerate(plain.osmid)}
    both = sorted(set(ours_pos) & set(plain_pos))
    rng = np.random.default_rng(11)
    vias = {int(x) for x in roads.node_id[roads.restriction_via]} & set(both)
    sources = rng.choice(both, 6, replace=False).tolist() + rng.choice(
        sorted(vias), 4, replace=False).tolist()
    targets = rng.choice(both, 80, replace=False).tolist() + sorted(vias)[:30]
    for contract in (True, False):
        got = traveltime.matrix(net, snapped(net, sources), snapped(net, targets),
                                TravelSettings(limit_minutes=1e6,
                                               contract_chains=contract)).minutes
        for i, s in enumerate(sources):
            dist = nx.single_source_dijkstra_path_length(g, ("start", plain_pos[s]),
                                                         weight="weight")
            want = [0.0 if t == s else dist.get(("end", plain_pos[t]), np.inf)
                    for t in targets]
            np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-9)
