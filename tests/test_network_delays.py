"""Node and junction delays in the edge minutes (issue 20), hand-computed, from XML and PBF.

The fixture: a primary road ``1-2-3-4-5-11-12`` running east with a signal
at 2, a stop sign at 4, a give-way sign at 5 and a pedestrian crossing at 11;
a residential road ``3-6-7`` north from the junction at 3; and a residential
road ``8-7-9`` crossing it at 7, where three residential roads meet.
Distinct delays (prime seconds) make every sum identify its parts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from osm_builder import Node, Way, haversine, write_both

from matcher import network, traveltime
from matcher.config import NetworkSettings
from matcher.errors import InputError

LAT = 60.0
NODE_S = {"traffic_signals": 5.0, "stop": 7.0, "give_way": 11.0, "crossing": 13.0}
JUNCTION_S = {"minor": 17.0, "equal": 19.0, "major": 23.0}


def fixture() -> tuple[list[Node], list[Way]]:
    nodes: list[Node] = [
        (1, 10.000, LAT), (2, 10.002, LAT, {"highway": "traffic_signals"}), (3, 10.004, LAT),
        (4, 10.006, LAT, {"highway": "stop"}), (5, 10.008, LAT, {"highway": "give_way"}),
        (11, 10.010, LAT, {"highway": "crossing", "crossing": "marked"}), (12, 10.012, LAT),
        (6, 10.004, LAT + 0.002), (7, 10.004, LAT + 0.004), (8, 10.002, LAT + 0.004),
        (9, 10.006, LAT + 0.004, {"highway": "bus_stop"}),  # not a delay kind
    ]
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 5, 11, 12], {"highway": "primary"}),
        (101, [3, 6, 7], {"highway": "residential"}),
        (102, [8, 7, 9], {"highway": "residential"}),
    ]
    return nodes, ways


def road_minutes(path: list[int], factor: float) -> float:
    """Minutes at the class default (primary 80, residential 30 km/h) times ``factor``."""
    by_id = {n[0]: n for n in fixture()[0]}
    primary = {1, 2, 3, 4, 5, 11, 12}
    total = 0.0
    for a, b in itertools.pairwise(path):
        kmh = 80.0 if a in primary and b in primary else 30.0
        total += haversine(*by_id[a][1:3], *by_id[b][1:3]) / (kmh * factor * 1000 / 60)
    return total


# path, seconds of delay on entering each node after the first
CASES = [
    ([1, 2, 3, 4, 5, 11, 12], 5 + 23 + 7 + 11 + 13 + 0),  # signal, major, stop, give way, crossing
    ([12, 11, 5, 4, 3, 2, 1], 13 + 11 + 7 + 23 + 5 + 0),
    ([1, 2, 3, 6, 7, 8], 5 + 23 + 0 + 19 + 0),  # along the major road, then equal at 7
    ([8, 7, 6, 3, 2, 1], 19 + 0 + 17 + 5 + 0),  # minor into the primary at 3
    ([9, 7, 8], 19 + 0),
    ([12, 11, 5, 4, 3, 6, 7, 9], 13 + 11 + 7 + 23 + 0 + 19 + 0),
]


@pytest.fixture(scope="module", params=["osm", "osm.pbf"])
def path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    xml, pbf = write_both(tmp_path_factory.mktemp("delays"), "delays", *fixture())
    return xml if request.param == "osm" else pbf


@pytest.mark.parametrize("factor", [1.0, 0.82])
def test_delays_hand_computed(path: Path, factor: float) -> None:
    settings = NetworkSettings.free_flow(speed_factor=factor, node_delay_seconds=NODE_S,
                                         junction_seconds=JUNCTION_S)
    net = network.build(path, settings)
    pos = {int(o): k for k, o in enumerate(net.osmid)}
    for route, seconds in CASES:
        src, dst = np.array([pos[route[0]]]), np.array([pos[route[-1]]])
        expected = road_minutes(route, factor) + seconds / 60.0
        for contract in (True, False):  # the chain contraction stays exact
            got = traveltime.shortest_minutes(net.graph, src, dst, limit_minutes=np.inf,
                                              contract_chains=contract)[0, 0]
            assert got == pytest.approx(expected, rel=1e-12), (route, contract)


def test_free_flow_has_no_delays(path: Path) -> None:
    net = network.build(path, NetworkSettings.free_flow())
    pos = {int(o): k for k, o in enumerate(net.osmid)}
    for route, _seconds in CASES:
        got = traveltime.shortest_minutes(net.graph, np.array([pos[route[0]]]),
                                          np.array([pos[route[-1]]]), limit_minutes=np.inf)
        assert got[0, 0] == pytest.approx(road_minutes(route, 1.0), rel=1e-12)


def test_xml_and_pbf_read_the_same_node_kinds(tmp_path: Path) -> None:
    xml, pbf = write_both(tmp_path, "delays", *fixture())
    kinds = [network.read(p, NetworkSettings()).node_kind for p in (xml, pbf)]
    np.testing.assert_array_equal(kinds[0], kinds[1])
    roads = network.read(xml, NetworkSettings())
    named = {int(i): k for i, k in zip(roads.node_id, kinds[0], strict=True) if k}
    assert named == {2: 1, 4: 2, 5: 3, 11: 4}  # positions in _osm.NODE_KINDS; bus stop none


def test_ferry_edges_pay_no_delay() -> None:
    u = np.array([0, 1, 2])
    v = np.array([1, 2, 1])
    kind = np.array([0, 1, 0], dtype=np.int8)  # node 1 has a signal
    ferry = np.array([True, False, False])
    settings = NetworkSettings(node_delay_seconds=NODE_S, junction_seconds=JUNCTION_S)
    got = network.delay_seconds(u, v, np.array(["ferry", "primary", "primary"], dtype=object),
                                ferry, kind, settings)
    # node 1 has two road neighbours (2) plus a ferry: no junction; 2 -> 1 pays the signal
    np.testing.assert_array_equal(got, [0.0, 0.0, 5.0])


@pytest.mark.parametrize(("field", "value", "match"), [
    ("node_delay_seconds", {"traffic_light": 3.0}, "unknown keys traffic_light"),
    ("junction_seconds", {"minor": -1.0}, ">= 0"),
])
def test_bad_delay_settings(field: str, value: dict[str, float], match: str) -> None:
    with pytest.raises(InputError) as info:
        NetworkSettings(**{field: value})
    assert any(match in p.message and p.column and p.column.startswith(f"network.{field}")
               for p in info.value.problems), info.value.problems


def test_partial_delay_settings_keep_the_other_defaults() -> None:
    s = NetworkSettings(node_delay_seconds={"stop": 9.0})
    assert s.node_delay_seconds["stop"] == 9.0
    assert s.node_delay_seconds["traffic_signals"] == NetworkSettings().node_delay_seconds[
        "traffic_signals"]


def test_the_delays_follow_turn_costs_unless_given(tmp_path: Path) -> None:
    from matcher import config

    plain = NetworkSettings()
    assert not plain.turn_costs  # the node graph by default (issue 20: speed)
    assert plain.node_delay_seconds["traffic_signals"] == 5.0
    assert plain.junction_seconds == {"minor": 3.0, "equal": 1.0, "major": 0.0}
    # turn costs price the turn, so the delays that stood in for it shrink
    turns = NetworkSettings(turn_costs=True)
    assert turns.node_delay_seconds == {"traffic_signals": 4.0, "stop": 2.0,
                                        "give_way": 1.0, "crossing": 0.0}
    assert turns.junction_seconds == {"minor": 1.0, "equal": 0.0, "major": 0.0}
    # a value the field reads as true ("yes", 1) picks the turn calibration too
    for lax in ("yes", 1):
        assert NetworkSettings(turn_costs=lax).junction_seconds == turns.junction_seconds
    assert NetworkSettings(turn_costs="no").junction_seconds == plain.junction_seconds
    # what the file says wins, key by key, and a TOML file behaves the same
    path = tmp_path / "matcher.toml"
    path.write_text("[network]\nturn_costs = true\njunction_seconds = { equal = 2.5 }\n",
                    encoding="utf-8")
    loaded = config.load(path).network
    assert loaded.turn_costs
    assert loaded.junction_seconds == {"minor": 1.0, "equal": 2.5, "major": 0.0}
    assert loaded.node_delay_seconds["traffic_signals"] == 4.0
    assert NetworkSettings(turn_costs=False, junction_seconds={"equal": 2.5}).junction_seconds \
        == {"minor": 3.0, "equal": 2.5, "major": 0.0}
