"""Tests of the one tag-rule function (matcher._osm.WayRules) and its effect on graphs.

Every rule has a case in ``osm_builder.CASES``; each case is checked on the
rule function itself and on the graph built from the same fixture written as
OSM XML and as PBF, so removing any single rule fails a test here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from osm_builder import (
    CASES,
    LAT0,
    Case,
    backbone_node,
    haversine,
    mid_node,
    rule_fixture,
    write_both,
    write_osm,
    write_pbf,
)
from scipy.sparse.csgraph import dijkstra

from matcher import _osm, network
from matcher.config import NetworkSettings

SETTINGS = NetworkSettings.free_flow()  # hand-computed minutes at the limit
FORMATS = ["osm", "osm.pbf"]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_function(case: Case) -> None:
    rule = _osm.interpret_way(case.tags, SETTINGS)
    if case.driven == "none":
        assert rule is None
        return
    assert rule is not None
    assert (rule.forward, rule.backward) == {"forward": (True, False),
                                             "backward": (False, True),
                                             "both": (True, True)}[case.driven]
    if "route" in case.tags:
        assert rule.ferry and rule.highway == "ferry"
        if case.ferry_minutes is None:
            assert math.isnan(rule.ferry_minutes)
        else:
            assert rule.ferry_minutes == pytest.approx(case.ferry_minutes)
    else:
        highway = case.tags["highway"].split(";")[0]
        assert not rule.ferry and rule.highway == highway
        kmh = case.kmh if case.kmh is not None else SETTINGS.highway_kmh[highway]
        assert rule.speed_kmh == pytest.approx(kmh)


def test_rule_function_reads_pyosmium_tags(tmp_path: Path) -> None:
    import osmium

    path = write_pbf(tmp_path / "one.osm.pbf", [(1, 10.0, 60.0), (2, 10.01, 60.0)],
                     [(7, [1, 2], {"highway": "motorway", "maxspeed": "90"})])
    rules = _osm.WayRules(SETTINGS)
    got = [rules.interpret(w.tags) for w in osmium.FileProcessor(str(path), osmium.osm.WAY)]
    assert len(got) == 1 and got[0] is not None
    assert (got[0].highway, got[0].forward, got[0].backward, got[0].speed_kmh) == (
        "motorway", True, False, 90.0)


def test_speed_factor_scales_every_road() -> None:
    slow = NetworkSettings(speed_factor=0.5)
    rule = _osm.interpret_way({"highway": "primary", "maxspeed": "60"}, slow)
    assert rule is not None and rule.speed_kmh == pytest.approx(30.0)


@pytest.fixture(scope="module", params=FORMATS)
def fixture_net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> network.Network:
    nodes, ways = rule_fixture()
    xml, pbf = write_both(tmp_path_factory.mktemp("rules"), "rules", nodes, ways)
    return network.build(xml if request.param == "osm" else pbf, SETTINGS)


@pytest.mark.parametrize("case", list(enumerate(CASES)), ids=lambda c: repr(c[1]))
def test_rule_on_graph(fixture_net: network.Network, case: tuple[int, Case]) -> None:
    i, c = case
    pos = {int(o): k for k, o in enumerate(fixture_net.osmid)}
    a, m, b = backbone_node(i), mid_node(i), backbone_node(i + 1)
    g = fixture_net.graph
    if c.driven == "none":
        assert m not in pos
        return
    forward = g[pos[a], pos[m]] > 0 and g[pos[m], pos[b]] > 0
    backward = g[pos[b], pos[m]] > 0 and g[pos[m], pos[a]] > 0
    assert (forward, backward) == {"forward": (True, False), "backward": (False, True),
                                   "both": (True, True)}[c.driven]
    if "route" in c.tags:
        minutes = (g[pos[a], pos[m]] + g[pos[m], pos[b]] if forward
                   else g[pos[b], pos[m]] + g[pos[m], pos[a]])
        lon = {int(o): (lo, la) for o, lo, la in zip(fixture_net.osmid, fixture_net.lon,
                                                      fixture_net.lat, strict=True)}
        length = haversine(*lon[a], *lon[m]) + haversine(*lon[m], *lon[b])
        crossing = (c.ferry_minutes if c.ferry_minutes is not None
                    else length / (SETTINGS.ferry_kmh * 1000 / 60))
        assert minutes == pytest.approx(crossing + SETTINGS.ferry_wait_minutes)
    else:
        highway = c.tags["highway"].split(";")[0]
        kmh = c.kmh if c.kmh is not None else SETTINGS.highway_kmh[highway]
        edge = (pos[a], pos[m]) if forward else (pos[m], pos[a])
        lon = {int(o): (lo, la) for o, lo, la in zip(fixture_net.osmid, fixture_net.lon,
                                                      fixture_net.lat, strict=True)}
        length = haversine(*lon[a], *lon[m])
        assert g[edge] == pytest.approx(length / (kmh * 1000 / 60))


# --------------------------------------------------------------------------- issue 16's table


def five_way(folder: Path) -> tuple[Path, Path]:
    """A -> B on an untagged motorway; B -> A only by a slow residential detour via C, D."""
    nodes = [(1, 10.00, LAT0), (2, 10.02, LAT0), (3, 10.02, LAT0 + 0.01),
             (4, 10.00, LAT0 + 0.01), (5, 10.01, LAT0 + 0.01)]
    ways = [
        (10, [1, 2], {"highway": "motorway"}),
        (11, [2, 3], {"highway": "residential"}),
        (12, [3, 5], {"highway": "residential"}),
        (13, [5, 4], {"highway": "residential"}),
        (14, [4, 1], {"highway": "residential"}),
    ]
    return write_both(folder, "five-way", nodes, ways)


def test_motorway_is_one_way_from_xml_and_pbf(tmp_path: Path) -> None:
    times = []
    for path in five_way(tmp_path):
        net = network.build(path, SETTINGS)
        pos = {int(o): k for k, o in enumerate(net.osmid)}
        d = dijkstra(net.graph, indices=[pos[1], pos[2]])
        times.append((d[0, pos[2]], d[1, pos[1]]))
    (xml_ab, xml_ba), (pbf_ab, pbf_ba) = times
    assert (xml_ab, xml_ba) == (pbf_ab, pbf_ba)
    motorway = haversine(10.0, LAT0, 10.02, LAT0) / (110 * 1000 / 60)
    assert xml_ab == pytest.approx(motorway)
    assert xml_ba > 4 * xml_ab  # the detour, never against the implied one-way


def test_reader_drops_segments_of_missing_nodes(tmp_path: Path) -> None:
    nodes = [(1, 10.0, 60.0), (2, 10.01, 60.0)]
    ways = [(5, [1, 2, 3], {"highway": "primary"})]  # node 3 is not in the file
    for path in (write_osm(tmp_path / "x.osm", nodes, ways),
                 write_pbf(tmp_path / "x.osm.pbf", nodes, ways)):
        roads = network.read(path, SETTINGS)
        assert len(roads.seg_u) == 1 and list(roads.node_id) == [1, 2]
        assert np.array_equal(roads.way_id, [5])
