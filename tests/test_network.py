"""Tests of matcher.network: parsing, speeds, ferries, SCC, CSR, cache, export."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import Sample
from osm_builder import data_path, haversine, write_osm, write_pbf
from scipy.sparse.csgraph import dijkstra

from matcher import network
from matcher.config import NetworkSettings
from matcher.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
def node_of(net: network.Network, osmid: int) -> int:
    return int(np.flatnonzero(net.osmid == osmid)[0])


def shortest(net: network.Network, a: int, b: int) -> float:
    return float(dijkstra(net.graph, indices=node_of(net, a))[node_of(net, b)])


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("raw", "kmh"), [
    ("50", 50.0), ("50 km/h", 50.0), ("60kmh", 60.0), ("30 mph", 30 * 1.609344),
    ("NO:urban", 50.0), ("NO:rural", 80.0), ("50;60", 50.0), ("walk", 7.0),
    ("none", math.nan), ("signals", math.nan), ("", math.nan), (None, math.nan),
    (float("nan"), math.nan), (["70", "50"], 50.0), ("0", math.nan),
])
def test_parse_maxspeed(raw: object, kmh: float) -> None:
    got = network.parse_maxspeed(raw, NetworkSettings().zone_kmh)
    assert (math.isnan(got) and math.isnan(kmh)) or got == pytest.approx(kmh)


@pytest.mark.parametrize(("raw", "minutes"), [
    ("00:25", 25.0), ("25", 25.0), ("1:05", 65.0), ("1:05:30", 65.5), ("PT1H5M", 65.0),
    ("PT20M", 20.0), ("abc", math.nan), ("", math.nan), (None, math.nan),
])
def test_parse_duration(raw: object, minutes: float) -> None:
    got = network.parse_duration_minutes(raw)
    assert (math.isnan(got) and math.isnan(minutes)) or got == pytest.approx(minutes)


@pytest.mark.parametrize(("tags", "expected"), [
    ({"route": "ferry", "motor_vehicle": "yes"}, True),
    ({"route": "ferry", "motorcar": "designated"}, True),
    ({"route": "ferry", "ferry": "primary"}, True),
    ({"route": "ferry", "ferry": "primary", "motor_vehicle": "no"}, False),
    ({"route": "ferry", "foot": "yes", "motor_vehicle": "no"}, False),
    ({"route": "ferry", "foot": "yes"}, False),
    ({"route": "ferry", "ferry": "passenger"}, False),
    ({"highway": "primary"}, False),
])
def test_is_car_ferry(tags: dict[str, str], expected: bool) -> None:
    assert network.is_car_ferry(tags) is expected


# --------------------------------------------------------------------------- ferry region

LAT = 60.40
SHORE1 = [(1, 5.300, LAT), (2, 5.310, LAT)]
SHORE2 = [(3, 5.350, LAT), (4, 5.360, LAT)]
MID = (9, 5.330, LAT + 0.002)  # a point of the ferry line out on the fjord


def fjord(tmp_path: Path, *, ferry_tags: dict[str, str] | None = None,
          with_passenger_shortcut: bool = True, with_car_ferry: bool = True) -> Path:
    """Two shores joined only by a car ferry 2 -> 9 -> 3 (and a passenger shortcut 1 -> 4)."""
    nodes = [*SHORE1, *SHORE2, MID]
    ways = [
        (100, [1, 2], {"highway": "residential"}),
        (101, [3, 4], {"highway": "primary", "maxspeed": "80"}),
    ]
    if with_car_ferry:
        tags = {"route": "ferry", "motor_vehicle": "yes", "duration": "00:25"}
        ways.append((200, [2, 9, 3], ferry_tags if ferry_tags is not None else tags))
    if with_passenger_shortcut:
        ways.append((201, [1, 4], {"route": "ferry", "foot": "yes", "motor_vehicle": "no"}))
    return write_osm(tmp_path / "fjord.osm", nodes, ways)


def test_ferry_crossing_time_uses_duration_and_wait(tmp_path: Path) -> None:
    settings = NetworkSettings.free_flow(ferry_wait_minutes=10.0)
    net = network.build(fjord(tmp_path), settings)
    road1 = haversine(5.300, LAT, 5.310, LAT) / (30 * 1000 / 60)  # residential default 30
    road2 = haversine(5.350, LAT, 5.360, LAT) / (80 * 1000 / 60)  # tagged 80
    expected = road1 + 25.0 + 10.0 + road2
    assert shortest(net, 1, 4) == pytest.approx(expected, abs=1e-9)
    assert shortest(net, 4, 1) == pytest.approx(expected, abs=1e-9)  # two-way ferry
    assert net.info.ferry_edges == 4  # 2 segments x 2 directions
    assert net.edges.loc[net.edges["ferry"], "highway"].eq("ferry").all()


def test_ferry_without_duration_uses_length_and_ferry_speed(tmp_path: Path) -> None:
    tags = {"route": "ferry", "ferry": "primary"}
    settings = NetworkSettings.free_flow(ferry_kmh=20.0, ferry_wait_minutes=7.5)
    net = network.build(fjord(tmp_path, ferry_tags=tags), settings)
    crossing_m = haversine(5.310, LAT, *MID[1:]) + haversine(*MID[1:], 5.350, LAT)
    ferry_edges = net.edges.loc[net.edges["ferry"]]
    one_way = ferry_edges.loc[ferry_edges["u"].isin([node_of(net, 2), node_of(net, 9)])
                              & ferry_edges["v"].isin([node_of(net, 9), node_of(net, 3)])]
    assert one_way["minutes"].sum() == pytest.approx(crossing_m / (20_000 / 60) + 7.5)


def test_passenger_ferry_is_not_driven_and_lone_shore_is_dropped(tmp_path: Path) -> None:
    net = network.build(fjord(tmp_path, with_car_ferry=False), NetworkSettings.free_flow())
    # only one shore survives: the largest SCC; the passenger line is not an edge
    assert net.n_nodes == 2
    assert net.info.dropped_nodes == 2
    assert not net.edges["ferry"].any()


def test_oneway_and_parallel_edges_keep_minimum(tmp_path: Path) -> None:
    nodes = [(1, 10.0, 60.0), (2, 10.01, 60.0), (3, 10.02, 60.0)]
    ways = [
        (1, [1, 2], {"highway": "residential"}),                        # 30 km/h
        (2, [1, 2], {"highway": "residential", "maxspeed": "60"}),      # parallel, faster
        (3, [2, 3], {"highway": "secondary", "oneway": "yes"}),
        (4, [3, 1], {"highway": "tertiary", "oneway": "-1"}),           # drives 1 -> 3
        (5, [3, 2], {"highway": "service", "access": "private"}),       # not drivable
        (6, [2, 3], {"highway": "footway"}),                            # not a road class
        (7, [3, 1], {"highway": "residential", "oneway": "yes"}),       # drives 3 -> 1
    ]
    net = network.build(write_osm(tmp_path / "x.osm", nodes, ways), NetworkSettings.free_flow())
    a, b, c = (node_of(net, i) for i in (1, 2, 3))
    d12 = haversine(10.0, 60.0, 10.01, 60.0)
    assert net.graph[a, b] == pytest.approx(d12 / (60 * 1000 / 60))  # min, not the sum
    assert net.graph[b, a] == pytest.approx(d12 / (60 * 1000 / 60))
    assert net.graph[b, c] > 0 and net.graph[c, b] == 0  # oneway=yes; private way ignored
    d13 = haversine(10.0, 60.0, 10.02, 60.0)
    assert net.graph[a, c] == pytest.approx(d13 / (50 * 1000 / 60))  # oneway=-1 reversed
    assert net.graph[c, a] == pytest.approx(d13 / (30 * 1000 / 60))
    assert net.info.edges == 5


def test_speed_settings_change_times(tmp_path: Path) -> None:
    path = fjord(tmp_path)
    slow = network.build(path, NetworkSettings.free_flow(highway_kmh={"residential": 15.0,
                                                            "primary": 80.0}))
    fast = network.build(path, NetworkSettings.free_flow())
    road1 = haversine(5.300, LAT, 5.310, LAT)
    diff = road1 / (15_000 / 60) - road1 / (30_000 / 60)
    assert shortest(slow, 1, 4) - shortest(fast, 1, 4) == pytest.approx(diff)


# --------------------------------------------------------------------------- cache + export


def test_cache_roundtrip_and_invalidation(tmp_path: Path) -> None:
    path = fjord(tmp_path)
    cache = tmp_path / "cache"
    first = network.build(path, NetworkSettings.free_flow(), cache_dir=cache)
    second = network.build(path, NetworkSettings.free_flow(), cache_dir=cache)
    assert not first.info.from_cache and second.info.from_cache
    assert (first.graph != second.graph).nnz == 0
    np.testing.assert_array_equal(first.x, second.x)
    pd.testing.assert_frame_equal(first.edges, second.edges)
    assert (cache / "network.npz").stat().st_mode & 0o077 == 0
    other = network.build(path, NetworkSettings.free_flow(ferry_wait_minutes=0.0), cache_dir=cache)
    assert not other.info.from_cache and other.info.key != first.info.key
    path.write_text(path.read_text().replace("00:25", "00:40"))
    changed = network.build(path, NetworkSettings.free_flow(ferry_wait_minutes=0.0),
                            cache_dir=cache)
    assert not changed.info.from_cache
    assert shortest(changed, 1, 4) - shortest(other, 1, 4) == pytest.approx(15.0)


def test_gpkg_export(tmp_path: Path) -> None:
    net = network.build(fjord(tmp_path), NetworkSettings.free_flow())
    out = network.to_gpkg(net, tmp_path / "network.gpkg")
    edges = gpd.read_file(out, layer="edges")
    nodes = gpd.read_file(out, layer="nodes")
    assert {"u", "v", "length_m", "speed_kmh", "minutes", "highway", "ferry"} <= set(edges)
    assert len(edges) == net.info.edges and len(nodes) == net.n_nodes
    assert edges.crs.to_epsg() == 25833
    assert edges["ferry"].astype(bool).sum() == net.info.ferry_edges


def test_installed_osmnx_satisfies_the_bound_in_pyproject() -> None:
    """osmnx is used (download, export) only within the range pyproject.toml declares."""
    import importlib.metadata
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((DATA.parent / "pyproject.toml").read_text(encoding="utf-8"))
    osmnx = [Requirement(r) for r in project["project"]["dependencies"]
             if Requirement(r).name == "osmnx"]
    assert len(osmnx) == 1
    spec = osmnx[0].specifier
    assert any(s.operator == "<" for s in spec) and any(s.operator == ">=" for s in spec)
    assert spec.contains(importlib.metadata.version("osmnx"))


def test_osmnx_export_routes_to_our_minutes(tmp_path: Path) -> None:
    """The osmnx graph export: same nodes and edges, and osmnx's shortest path by
    ``travel_time`` (seconds) equals our minutes times 60."""
    import osmnx as ox

    net = network.build(data_path("West-Oakland.osm.bz2"), NetworkSettings.free_flow())
    graph = network.to_osmnx(net)
    assert graph.number_of_nodes() == net.n_nodes
    assert graph.number_of_edges() == net.graph.nnz
    assert graph.graph["crs"] == net.crs
    nodes, edges = ox.convert.graph_to_gdfs(graph)
    assert sorted(nodes.index) == sorted(int(o) for o in net.osmid)
    assert {"length", "speed_kph", "travel_time", "minutes", "highway"} <= set(edges.columns)
    ours = dijkstra(net.graph)
    osmid = [int(o) for o in net.osmid]
    for a in range(0, net.n_nodes, 7):
        for b in range(0, net.n_nodes, 5):
            path = ox.routing.shortest_path(graph, osmid[a], osmid[b], weight="travel_time")
            assert path is not None
            seconds = sum(graph[x][y][0]["travel_time"] for x, y in itertools.pairwise(path))
            assert seconds == pytest.approx(ours[a, b] * 60, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(("name", "content", "match"), [
    ("roads.txt", "x", "unknown OSM file type"),
    ("broken.osm.bz2", "not bz2", "not a valid bz2"),
    ("broken.osm.pbf", "garbage", "cannot read as OSM PBF"),
    ("broken.osm", "<osm><way", "cannot read as OSM XML"),
])
def test_bad_files_raise_input_error(tmp_path: Path, name: str, content: str,
                                     match: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        network.build(path)
    with pytest.raises(InputError, match="not found"):
        network.build(tmp_path / "missing.osm")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module", params=["oslo-east-filtered.osm.pbf", "oslo-center.osm.pbf"])
def oslo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[network.Network, Path]:
    path = DATA / request.param
    assert path.is_file(), f"real data missing: {path} (see data/SOURCES.md)"
    folder = tmp_path_factory.mktemp("oslo")
    net = network.build(path, cache_dir=folder)
    return net, network.to_gpkg(net, folder / "network.gpkg")


@pytest.mark.slow
def test_oslo_matches_networkx_on_exported_graph(oslo: tuple[network.Network, Path]) -> None:
    net, gpkg = oslo
    edges = gpd.read_file(gpkg, layer="edges", ignore_geometry=True)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))  # a road node's trips start at its in-ports
    for u, v, minutes in zip(edges["u"], edges["v"], edges["minutes"], strict=True):
        if not graph.has_edge(u, v) or graph[u][v]["weight"] > minutes:
            graph.add_edge(int(u), int(v), weight=float(minutes))
    assert graph.number_of_edges() == net.graph.nnz
    # strongly connected once a node and its copies (in-ports, turn restrictions) are one
    # place: trips start at any of them and reaching one is reaching the node
    linked = graph.copy()
    linked.add_edges_from((net.n_road_nodes + k, int(v)) for k, v in enumerate(net.copy_of))
    linked.add_edges_from((int(v), net.n_road_nodes + k) for k, v in enumerate(net.copy_of))
    assert nx.is_strongly_connected(linked) and len(net.copy_of) > 0
    rng = np.random.default_rng(7)
    sources = rng.choice(net.n_nodes, 15, replace=False)
    targets = rng.choice(net.n_nodes, 20, replace=False)  # 300 pairs
    ours = dijkstra(net.graph, indices=sources)[:, targets]
    for i, s in enumerate(sources):
        ref = nx.single_source_dijkstra_path_length(graph, int(s), weight="weight")
        np.testing.assert_allclose(ours[i], [ref.get(int(t), np.inf) for t in targets],
                                   rtol=0, atol=1e-6)


@pytest.mark.slow
def test_oslo_no_pair_faster_than_straight_line_at_110(oslo: tuple[network.Network, Path]
                                                       ) -> None:
    net, _ = oslo
    rng = np.random.default_rng(3)
    sources = rng.choice(net.n_road_nodes, 40, replace=False)
    # trips start at a node or any of its copies (in-ports): one search from all of them
    minutes = net.fold_copies(np.vstack([dijkstra(net.graph, min_only=True, indices=np.concatenate(
        [[s], net.n_road_nodes + np.flatnonzero(net.copy_of == s)])) for s in sources]))
    assert np.isfinite(minutes).all()  # strongly connected, via-node copies folded in
    m = net.n_road_nodes
    for i, s in enumerate(sources):
        straight = np.array([haversine(net.lon[s], net.lat[s], lo, la)
                             for lo, la in zip(net.lon[:m], net.lat[:m], strict=True)])
        assert (minutes[i] + 1e-9 >= straight / (110_000 / 60)).all()
    lowest = 5 * NetworkSettings().speed_factor  # walk-speed streets at the default factor
    assert net.info.dropped_nodes > 0 and net.edges["speed_kmh"].between(lowest, 110).all()


# --------------------------------------------------------------------------- clip, progress, CLI


def strip(tmp_path: Path, suffix: str = "osm.pbf") -> Path:
    """Ten nodes 1 km apart going east at 60 N, one two-way primary road."""
    nodes = [(i + 1, round(10.0 + i * 0.018, 7), 60.0) for i in range(10)]
    ways = [(1, [n[0] for n in nodes], {"highway": "primary"})]
    write = write_pbf if suffix == "osm.pbf" else write_osm
    return write(tmp_path / f"strip.{suffix}", nodes, ways)


def west_box(east: float = 10.05) -> shapely.Polygon:
    return shapely.box(9.9, 59.9, east, 60.1)


@pytest.mark.parametrize("suffix", ["osm", "osm.pbf"])
def test_clip_keeps_area_plus_buffer(tmp_path: Path, suffix: str) -> None:
    path = strip(tmp_path, suffix)
    plain = network.build(path, NetworkSettings.free_flow())
    clipped = network.build(path, NetworkSettings.free_flow(), clip=network.ClipArea(west_box()))
    assert list(clipped.osmid) == [1, 2, 3]  # 10.000, 10.018, 10.036 < 10.05
    buffered = network.build(path, NetworkSettings.free_flow(),
                             clip=network.ClipArea(west_box(), buffer_metres=500.0))
    assert list(buffered.osmid) == [1, 2, 3, 4]  # 10.054 is 0.2 km east of the box, 10.072 1.2 km
    report = buffered.info.clip
    assert report is not None and (report.nodes_read, report.nodes_kept) == (10, 4)
    assert report.share_kept == pytest.approx(0.4) and report.buffer_km == 0.5
    assert report.bbox == (10.0, 60.0, 10.054, 60.0)
    assert plain.info.clip is None and plain.info.key != clipped.info.key
    assert clipped.graph[0, 1] == pytest.approx(plain.graph[0, 1])


def test_clip_outside_the_extract_is_an_input_error(tmp_path: Path) -> None:
    far = network.ClipArea(shapely.box(5.0, 58.0, 5.1, 58.1), label="kommune 1103")
    with pytest.raises(InputError, match=r"keeps none of the 10 road nodes.*clip-buffer-km"):
        network.build(strip(tmp_path), NetworkSettings.free_flow(), clip=far)


def test_clip_from_municipalities() -> None:
    path = data_path("kommuner_2024_S.geojson")
    frame = gpd.read_file(path)
    clip = network.clip_from_municipalities(frame, ["301", "4626"], buffer_km=30)
    assert clip.label == "kommune 0301,4626" and clip.buffer_metres == 30_000
    assert clip.polygon.contains(shapely.Point(10.75, 59.91))  # Oslo sentrum
    with pytest.raises(InputError, match=r"unknown municipality number.*9999"):
        network.clip_from_municipalities(frame, ["0301", "9999"])
    with pytest.raises(InputError, match="kommunenummer"):
        network.clip_from_municipalities(frame.drop(columns="kommunenummer"), ["0301"])


def test_progress_by_bytes_and_step_timings(tmp_path: Path) -> None:
    path = strip(tmp_path)
    seen: list[tuple[int, int]] = []
    net = network.build(path, NetworkSettings.free_flow(),
                        on_bytes=lambda d, t: seen.append((d, t)))
    size = path.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert [s.step for s in net.info.steps] == ["hash", "read", "compile"]
    assert all(s.seconds >= 0 and s.peak_mb > 0 for s in net.info.steps)
    cache = tmp_path / "cache"
    network.build(path, NetworkSettings.free_flow(), cache_dir=cache)
    again = network.build(path, NetworkSettings.free_flow(), cache_dir=cache)
    assert again.info.from_cache and [s.step for s in again.info.steps] == ["hash", "load"]


def test_cli_clip_polygon_json_and_gpkg_threshold(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from matcher.cli import app, network_cmds

    area = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[west_box()], crs="EPSG:4326").to_crs("EPSG:25833").to_file(area)
    osm, out = strip(tmp_path), tmp_path / "net"
    monkeypatch.setattr(network_cmds, "GPKG_DEFAULT_MAX_NODES", 3)
    result = CliRunner().invoke(app, ["--json", "network", "build", "--osm", str(osm), "--out",
                                      str(out), "--clip-polygon", str(area),
                                      "--clip-buffer-km", "0.5"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["nodes"] == 4 and summary["clip"]["nodes_kept"] == 4
    assert summary["clip"]["area"] == "area.geojson"
    assert [s["step"] for s in summary["steps"]] == ["hash", "read", "compile", "cache"]
    assert summary["gpkg"] is False and "pass --gpkg" in summary["gpkg_note"]
    assert not (out / "network.gpkg").exists()
    forced = CliRunner().invoke(app, ["--json", "network", "build", "--osm", str(osm), "--out",
                                      str(out), "--clip-polygon", str(area),
                                      "--clip-buffer-km", "0.5", "--gpkg"])
    assert forced.exit_code == 0 and (out / "network.gpkg").exists()
    assert json.loads(forced.stdout)["steps"][-1]["step"] == "gpkg"


@pytest.mark.parametrize(("extra", "match"), [
    (["--clip-polygon", "{bad}"], "cannot read clip polygons"),
    (["--clip-polygon", "{missing}"], "not found"),
    (["--clip-municipalities", "0301", "--clip-polygon", "{bad}"], "not both"),
    (["--clip-municipalities", "9999", "--municipality-file", "{kommuner}"],
     "unknown municipality number"),
    (["--clip-polygon", "{far}"], "keeps none"),
    (["--clip-buffer-km", "5"], "needs --clip-municipalities or --clip-polygon"),
])
def test_cli_bad_clip_exit_2(tmp_path: Path, extra: list[str], match: str) -> None:
    from typer.testing import CliRunner

    from matcher.cli import app

    bad = tmp_path / "bad.geojson"
    bad.write_text("not geojson")
    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(5.0, 58.0, 5.1, 58.1)], crs="EPSG:4326").to_file(far)
    kommuner = tmp_path / "kommuner.geojson"
    gpd.GeoDataFrame({"kommunenummer": ["0301"]}, geometry=[west_box()],
                     crs="EPSG:4326").to_file(kommuner)
    names = {"bad": bad, "missing": tmp_path / "missing.geojson", "far": far,
             "kommuner": kommuner}
    args = [a.format(**names) for a in extra]
    result = CliRunner().invoke(app, ["network", "build", "--osm", str(strip(tmp_path)),
                                      "--out", str(tmp_path / "net"), *args])
    assert result.exit_code == 2, result.output
    assert match in " ".join(result.output.split())


# --------------------------------------------------------------------------- damaged caches
# issue 24, case 3 and the cache cases of its list: a damaged cache reached scipy's native
# code (segmentation fault, exit 139) or gave exit 1; edited minutes were used silently.


def _copy_cache(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in ("network.npz", "network.json"):
        (target / name).write_bytes((source / name).read_bytes())
    return target


def _edit_npz(folder: Path, edit: object) -> None:
    path = folder / "network.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)  # type: ignore[operator]
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def _forget_hash(folder: Path) -> None:
    """Drop the recorded hash (a cache of an earlier version): the array checks must hold."""
    meta = json.loads((folder / "network.json").read_text())
    meta.pop("sha256", None)
    (folder / "network.json").write_text(json.dumps(meta))


def test_a_shifted_csr_index_is_an_error_not_a_segfault(small_sample: Sample,
                                                        tmp_path: Path) -> None:
    folder = _copy_cache(small_sample.net_dir, tmp_path / "net")
    _edit_npz(folder, lambda z: z.update(indices=z["indices"] + 10**6))
    _forget_hash(folder)
    script = ("import sys, numpy as np\n"
              "from matcher import network\n"
              "from matcher.errors import InputError\n"
              "from scipy.sparse.csgraph import dijkstra\n"
              "try:\n"
              "    net = network.load(sys.argv[1])\n"
              "except InputError as exc:\n"
              "    print(exc); sys.exit(2)\n"
              "dijkstra(net.graph, indices=np.arange(50), limit=30.0)\n")
    done = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])  # was -11 (SIGSEGV)
    assert "network.npz" in done.stdout and "matcher network build" in done.stdout


DAMAGES = {
    "indices beyond the nodes": lambda z: z.update(indices=z["indices"] + 10**6),
    "negative index": lambda z: z["indices"].__setitem__(0, -1),
    "indptr shifted": lambda z: z.update(indptr=z["indptr"][1:]),
    "indptr falling": lambda z: z["indptr"].__setitem__(5, 10**7),
    "no osmid": lambda z: z.pop("osmid"),
    "data as text": lambda z: z.update(data=z["data"].astype(str)),
    "edge u out of range": lambda z: z["u"].__setitem__(0, 10**7),
    "highway code without name": lambda z: z["highway_code"].__setitem__(0, 999),
    "negative minutes": lambda z: z["data"].__setitem__(0, -1.0),
    "nan minutes": lambda z: z["minutes"].__setitem__(0, np.nan),
    "lon too short": lambda z: z.update(lon=z["lon"][:-1]),
    "2-d x": lambda z: z.update(x=np.stack([z["x"], z["x"]])),
}


@pytest.mark.parametrize("with_hash", [True, False])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_network_npz_is_an_input_error_naming_file_and_fix(
        small_sample: Sample, tmp_path: Path, damage: str, with_hash: bool) -> None:
    folder = _copy_cache(small_sample.net_dir, tmp_path / "net")
    _edit_npz(folder, DAMAGES[damage])
    if not with_hash:
        _forget_hash(folder)  # the array checks alone find it
    with pytest.raises(InputError, match=r"network\.npz: damaged network cache") as info:
        network.load(folder)
    assert "matcher network build" in str(info.value)


def test_scaled_minutes_are_found_by_the_hash_recorded_at_build(small_sample: Sample,
                                                                tmp_path: Path) -> None:
    folder = _copy_cache(small_sample.net_dir, tmp_path / "net")
    assert network.load(folder).n_nodes == small_sample.net.n_nodes
    _edit_npz(folder, lambda z: z.update(data=z["data"] * 0.05, minutes=z["minutes"] * 0.05))
    with pytest.raises(InputError, match="differs from the one recorded"):
        network.load(folder)


@pytest.mark.parametrize("edit", ["no crs", "crs a number", "no info", "not an object",
                                  "not json", "sha256 a number"])
def test_damaged_network_json_is_an_input_error(small_sample: Sample, tmp_path: Path,
                                                edit: str) -> None:
    folder = _copy_cache(small_sample.net_dir, tmp_path / "net")
    path = folder / "network.json"
    meta = json.loads(path.read_text())
    text = {"no crs": lambda: json.dumps({k: v for k, v in meta.items() if k != "crs"}),
            "crs a number": lambda: json.dumps({**meta, "crs": 25833}),
            "no info": lambda: json.dumps({k: v for k, v in meta.items() if k != "info"}),
            "not an object": lambda: "[1, 2]",
            "not json": lambda: "{crs",
            "sha256 a number": lambda: json.dumps({**meta, "sha256": 1})}[edit]()
    path.write_text(text)
    with pytest.raises(InputError, match=r"network\.json: damaged network cache"):
        network.load(folder)


def test_build_rebuilds_a_damaged_cache(small_sample: Sample, tmp_path: Path) -> None:
    folder = _copy_cache(small_sample.net_dir, tmp_path / "net")
    _edit_npz(folder, lambda z: z.update(data=z["data"] * 0.05))
    net = network.build(small_sample.manifest.roads, small_sample.settings.network,
                        cache_dir=folder)
    assert not net.info.from_cache  # rebuilt from the OSM file, not used
    np.testing.assert_array_equal(net.graph.data, small_sample.net.graph.data)
    assert network.load(folder).n_nodes == small_sample.net.n_nodes  # and the cache is whole
