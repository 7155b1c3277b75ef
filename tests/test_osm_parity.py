"""Parity: the same OSM objects give the identical graph from XML and PBF (one pyosmium reader).

Issue 16: one tag-rule function for every reader; issue 26: XML through the
same pyosmium streaming reader as PBF, osmnx only for downloads and graph
export. The rule fixture covers
every rule in ``osm_builder.CASES`` and ``osm_builder.STRUCTURE``; the real
Oslo extracts are converted PBF -> XML and West Oakland XML -> PBF with
pyosmium.
"""

from __future__ import annotations

import bz2
import copy
import re
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
from shapely.geometry import Polygon, box
from test_network_delays import fixture as delay_fixture

from matcher import _osm, network
from matcher.config import NetworkSettings
from matcher.errors import InputError

SETTINGS = NetworkSettings()
ROAD_FIELDS = ("node_id", "lon", "lat", "seg_u", "seg_v", "seg_way", "way_id", "way_forward",
               "way_backward", "way_highway", "way_speed_kmh", "way_ferry", "way_ferry_minutes",
               "nodes_read", "node_kind")


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


def _settings_snapshot() -> dict[str, object]:
    import osmnx as ox

    plain = (str, int, float, bool, list, dict, tuple, Path, type(None))
    return {k: copy.deepcopy(v) for k, v in vars(ox.settings).items()
            if not k.startswith("_") and isinstance(v, plain)}


def _offline_osmnx(monkeypatch: pytest.MonkeyPatch, xml: Path, polygon: Polygon
                   ) -> dict[str, object]:
    """Replace osmnx's Overpass and Nominatim calls by its public readers of a local file."""
    import geopandas as gpd
    import osmnx as ox

    calls: dict[str, object] = {}

    def graph_from_polygon(poly: Polygon, **kwargs: object) -> object:
        calls["graph"] = kwargs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ox.graph_from_xml(xml, simplify=False, retain_all=True)

    def features_from_polygon(poly: Polygon, tags: dict[str, object]) -> object:
        calls["features"] = tags
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ox.features_from_xml(xml, tags=tags)

    def geocode_to_gdf(query: str) -> object:
        calls["place"] = query
        return gpd.GeoDataFrame(geometry=[polygon], crs="EPSG:4326")

    monkeypatch.setattr(ox, "graph_from_polygon", graph_from_polygon)
    monkeypatch.setattr(ox, "features_from_polygon", features_from_polygon)
    monkeypatch.setattr(ox, "geocode_to_gdf", geocode_to_gdf)
    return calls


@pytest.mark.parametrize("source", ["rules", "delays", "West-Oakland.osm.bz2"])
def test_download_path_gives_the_file_reader_network(source: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """network.download (osmnx graph + raw features) follows the same rules as the file reader.

    osmnx's Overpass calls are replaced by its public readers of the same
    local file; ``ox.settings`` must be left exactly as it was.
    """
    if source == "rules":
        xml, _ = write_both(tmp_path, "rules", *rule_fixture(dangling=False))
    elif source == "delays":
        xml, _ = write_both(tmp_path, "delays", *delay_fixture())
    else:
        xml = tmp_path / "west-oakland.osm"
        xml.write_bytes(bz2.decompress(data_path(source).read_bytes()))
    calls = _offline_osmnx(monkeypatch, xml, box(-180, -85, 180, 85))
    before = _settings_snapshot()
    roads = network.download(place="Somewhere", settings=SETTINGS)
    assert _settings_snapshot() == before
    assert calls["place"] == "Somewhere"
    assert {k: v for k, v in calls["graph"].items()  # type: ignore[attr-defined]
            if k != "custom_filter"} == {"simplify": False, "retain_all": True}
    assert calls["features"] == {"highway": True, "route": "ferry"}
    assert calls["graph"]["custom_filter"] == network.overpass_filters(SETTINGS)  # type: ignore[index]
    from_download = network.compile_roads(roads, SETTINGS, source=xml.name)
    from_file = network.build(xml, SETTINGS)
    assert from_file.n_nodes > (10 if source == "delays" else 40)
    np.testing.assert_array_equal(roads.node_kind, network.read(xml, SETTINGS).node_kind)
    assert_networks_equal(from_download, from_file, exact=False)


def test_overpass_filter_selects_exactly_the_highways_the_rules_read() -> None:
    """The Overpass highway regex (POSIX ERE, here read by ``re``) against every rule case."""
    regex = re.fullmatch(r'\["highway"~"(.*)"\]', network.overpass_filters(SETTINGS)[0])
    assert regex is not None
    rules = _osm.WayRules(SETTINGS)
    extra = ["primary ; service", "residential", "footway;residential", "primary_link",
             "residentials", "service;", "xprimary"]
    values = {c.tags["highway"] for c in CASES if "highway" in c.tags} | set(extra)
    for value in sorted(values):
        listed = rules.interpret({"highway": value}) is not None
        assert bool(re.search(regex.group(1), value)) == listed, value


def test_download_needs_exactly_one_of_place_and_polygon() -> None:
    with pytest.raises(InputError, match="exactly one"):
        network.download(settings=SETTINGS)
    with pytest.raises(InputError, match="exactly one"):
        network.download(place="x", polygon=box(0, 0, 1, 1), settings=SETTINGS)


def test_no_osmnx_private_api_or_settings_writes() -> None:
    """osmnx is used through its public API only, and ``ox.settings`` is never assigned."""
    package = Path(network.__file__).parent
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(ox|osmnx)\._|from osmnx(\.\w+)* import _|osmnx\._", text), path
        assert not re.search(r"ox\.settings\.\w+\s*=[^=]", text), path


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
