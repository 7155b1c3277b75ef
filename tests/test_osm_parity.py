"""Parity: the same OSM objects give the identical graph from XML (osmnx) and PBF (pyosmium).

Issue 16: one tag-rule function for every reader. The rule fixture covers
every rule in ``osm_builder.CASES`` and ``osm_builder.STRUCTURE``; the real
Oslo extracts are converted PBF -> XML and West Oakland XML -> PBF with
pyosmium.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from osm_builder import (
    CASES,
    STRUCTURE,
    assert_networks_equal,
    convert,
    data_path,
    rule_fixture,
    write_both,
)

from matcher import _osm, network
from matcher.config import NetworkSettings

SETTINGS = NetworkSettings()
ROAD_FIELDS = ("node_id", "lon", "lat", "seg_u", "seg_v", "seg_way", "way_id", "way_forward",
               "way_backward", "way_highway", "way_speed_kmh", "way_ferry", "way_ferry_minutes",
               "nodes_read")


def test_fixture_covers_every_rule() -> None:
    assert len({c.rule for c in CASES}) == len(CASES)
    assert len(CASES) + len(STRUCTURE) >= 60


def test_rule_fixture_identical_from_xml_and_pbf(tmp_path: Path) -> None:
    xml, pbf = write_both(tmp_path, "rules", *rule_fixture())
    from_xml, from_pbf = network.read(xml, SETTINGS), network.read(pbf, SETTINGS)
    for name in ROAD_FIELDS:
        np.testing.assert_array_equal(getattr(from_xml, name), getattr(from_pbf, name),
                                      err_msg=name)
    assert 999_999 not in from_xml.node_id
    assert_networks_equal(network.build(xml, SETTINGS), network.build(pbf, SETTINGS))


def test_osmnx_graph_kept_as_drawn_gives_the_same_network(tmp_path: Path) -> None:
    """The download path (an osmnx graph) follows the same rules as the file readers."""
    import osmnx as ox

    xml, _ = write_both(tmp_path, "rules", *rule_fixture(dangling=False))
    with _osm.osmnx_as_drawn(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = ox.graph_from_xml(xml, simplify=False, retain_all=True, bidirectional=False)
    from_graph = network.compile_roads(_osm.read_osmnx_graph(graph, SETTINGS), SETTINGS,
                                       source="rules.osm")
    assert_networks_equal(from_graph, network.build(xml, SETTINGS), exact=False)


@pytest.fixture(scope="module", params=["oslo-east-filtered.osm.pbf", "oslo-center.osm.pbf",
                                        "West-Oakland.osm.bz2"])
def both_formats(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[Path, Path]:
    source = data_path(request.param)
    folder = tmp_path_factory.mktemp("parity")
    if request.param.endswith(".pbf"):
        return convert(source, folder / "converted.osm"), source
    return source, convert(source, folder / "converted.osm.pbf")


@pytest.mark.slow
def test_real_extract_identical_from_xml_and_pbf(both_formats: tuple[Path, Path]) -> None:
    xml, pbf = both_formats
    from_xml, from_pbf = network.build(xml, SETTINGS), network.build(pbf, SETTINGS)
    assert from_pbf.n_nodes > 50
    assert_networks_equal(from_xml, from_pbf)
