"""Correctness of the network-build benchmark on a tiny generated file (no timing).

``benchmarks/network_build.py`` times ``matcher network build`` on a
Norway-scale synthetic PBF; here the same generator writes about 50,000
nodes, and the tests check that the file holds what it promises and that the
build keeps exactly the road nodes a correct drive network has.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
from loader import load_script

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
DRIVABLE = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
            "residential"}


generator = load_script(BENCH / "_norway_pbf.py")
bench = load_script(BENCH / "network_build.py")


@pytest.fixture(scope="module")
def design(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("norway") / "tiny.osm.pbf"
    return generator.generate(path, scale=0.003, other_scale=0.0003, seed=5)


def _build(osm: Path, out: Path, *extra: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    help_text = bench.cli_options()
    gpkg = ["--no-gpkg"] if "--no-gpkg" in help_text else []
    done = subprocess.run([sys.executable, "-c", bench.LAUNCH, "--json", "network", "build",
                           "--osm", str(osm), "--out", str(out), *extra, *gpkg],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class _Tally(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.node_ids: list[int] = []
        self.nodes_before_ways = True
        self.kinds: dict[str, int] = {}
        self.ferries: list[dict[str, str]] = []
        self.road_refs: set[int] = set()
        self.dropped_refs: set[int] = set()
        self.missing_locations = 0

    def node(self, n: osmium.osm.Node) -> None:
        if self.kinds:
            self.nodes_before_ways = False
        self.node_ids.append(n.id)

    def way(self, w: osmium.osm.Way) -> None:
        tags = dict(w.tags)
        refs = [r.ref for r in w.nodes]
        self.missing_locations += sum(not r.location.valid() for r in w.nodes)
        highway = tags.get("highway", "")
        if tags.get("route") == "ferry":
            kind = "ferry"
            self.ferries.append(tags)
        elif highway == "footway":
            kind = "footway"
        elif tags.get("access") == "private":
            kind = "private"
        elif highway in DRIVABLE:
            kind = "road"
            self.road_refs.update(refs)
        elif "building" in tags:
            kind = "building"
        else:
            kind = "landcover"
            assert refs[0] == refs[-1] and len(refs) == generator.LANDCOVER_RING + 1
        if kind in ("footway", "private"):
            self.dropped_refs.update(refs[1:] if kind == "private" else refs[1:-1])
        if kind == "building":
            assert refs[0] == refs[-1] and len(refs) == 5
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def test_file_holds_what_the_design_says(design: Any) -> None:
    tally = _Tally()
    tally.apply_file(str(design.path), locations=True, idx="flex_mem")
    ids = np.array(tally.node_ids)
    assert tally.nodes_before_ways
    assert np.all(np.diff(ids) > 0), "nodes must be sorted by id"
    assert len(ids) == design.total_nodes
    assert sum(tally.kinds.values()) == design.total_ways
    assert tally.missing_locations == 0
    assert tally.kinds["road"] == design.road_ways
    assert len(tally.road_refs) == design.road_nodes
    assert tally.kinds["private"] == design.private_ways > 0
    assert tally.kinds["footway"] == design.footway_ways > 0
    assert tally.kinds["building"] + tally.kinds["landcover"] == design.other_ways
    assert design.other_nodes == len(ids) - design.road_nodes - design.ferry_nodes - (
        design.dropped_nodes)
    car = [t for t in tally.ferries if t.get("motor_vehicle") != "no"]
    assert len(car) == design.ferry_ways == len(generator.FERRIES)
    assert any("duration" in t for t in car) and any(t.get("ferry") == "primary" for t in car)
    assert len(tally.ferries) == len(car) + 1  # the passenger ferry
    assert tally.dropped_refs.isdisjoint(tally.road_refs)
    assert len(design.island_junction_ids) > 0
    assert set(design.island_junction_ids.tolist()) <= set(design.kept_junction_ids.tolist())
    assert set(design.stub_node_ids.tolist()).isdisjoint(design.kept_road_ids.tolist())


def test_generation_is_deterministic(design: Any, tmp_path: Path) -> None:
    again = generator.generate(tmp_path / "again.osm.pbf", scale=0.003, other_scale=0.0003,
                               seed=5)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(again.path) == digest(design.path)


def test_floor_pass_counts_every_way(design: Any) -> None:
    floor = bench.floor_pass(str(design.path), "flex_mem")
    assert floor["ways"] == design.total_ways
    assert floor["highway_ways"] == design.road_ways + design.private_ways + design.footway_ways


def test_build_keeps_exactly_the_strongly_connected_roads(design: Any,
                                                          tmp_path: Path) -> None:
    from matcher import network

    summary = _build(design.path, tmp_path / "net")
    net = network.load(tmp_path / "net")
    # road and ferry nodes, then their copies (an in-port per edge with turn costs)
    assert summary["nodes"] == net.n_nodes
    assert net.n_road_nodes == len(design.kept_road_ids) + design.ferry_nodes
    built = set(net.osmid.tolist())
    ferry = set(design.ferry_node_ids.tolist())
    road = {i for i in built if i > 0} - ferry
    assert road == set(design.kept_road_ids.tolist())
    assert set(design.kept_junction_ids.tolist()) <= built
    assert set(design.island_junction_ids.tolist()) <= built
    assert built.isdisjoint(design.dropped_node_ids.tolist())
    assert built.isdisjoint(design.stub_node_ids.tolist())
    assert int(summary["ferry_edges"]) >= 2 * design.ferry_ways
    assert int(summary["dropped_nodes"]) >= 2 * design.stub_ways


def test_clipped_build_keeps_a_part_of_the_whole(design: Any, tmp_path: Path) -> None:
    if "--clip-polygon" not in bench.cli_options():
        pytest.skip("`matcher network build` has no --clip-polygon option in this checkout")
    from matcher import network

    polygon = bench.write_clip_polygon(tmp_path / "county.geojson", "vestland")
    _build(design.path, tmp_path / "whole")
    _build(design.path, tmp_path / "clip", "--clip-polygon", str(polygon))
    whole = network.load(tmp_path / "whole")
    clip = network.load(tmp_path / "clip")
    assert 0 < clip.n_nodes < whole.n_nodes
    kept = set(clip.osmid[clip.osmid > 0].tolist())
    assert kept <= set(whole.osmid.tolist())


def test_a_child_past_its_timeout_is_killed_and_recorded(tmp_path: Path) -> None:
    run = bench.run_child([sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=1.0,
                          max_memory_gb=4.0, log_dir=tmp_path, name="sleeper")
    assert run.status == "timeout" and not run.ok
    assert run.seconds < 30 and run.returncode < 0
