"""The realism benchmark (``benchmarks/realism.py``, issue 20) on a tiny cut of Oslo.

OSRM runs from the ``osrm-bindings`` wheel in its own Python 3.12 venv
(``$FOSTERMATCH_OSRM_VENV``, which ``.ci/run`` creates; the benchmark creates
it when missing). No skips: without Python 3.12 the test fails and says so.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from loader import load_script
from scipy import sparse
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
BOX = (10.755, 59.915, 10.775, 59.925)  # west, south, east, north: four schools inside


realism = load_script(BENCH / "realism.py")


def cut(source: Path, target: Path, box: tuple[float, float, float, float]) -> Path:
    """Ways with a node inside ``box`` (degrees), with all their nodes, as a new file."""
    west, south, east, north = box
    inside: set[int] = set()
    for node in osmium.FileProcessor(str(source), osmium.osm.NODE):
        if west <= node.location.lon <= east and south <= node.location.lat <= north:
            inside.add(node.id)
    ways: set[int] = set()
    needed: set[int] = set()
    for way in osmium.FileProcessor(str(source), osmium.osm.WAY):
        refs = [n.ref for n in way.nodes]
        if any(r in inside for r in refs):
            ways.add(way.id)
            needed.update(refs)
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(source), osmium.osm.NODE | osmium.osm.WAY):
            if (obj.is_node() and obj.id in needed) or (obj.is_way() and obj.id in ways):
                writer.add(obj)
    return target


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                lat2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(a))


def test_tree_sums_equal_the_networkx_path_sums() -> None:
    rng = np.random.default_rng(3)
    graph = nx.gnm_random_graph(60, 200, seed=3, directed=True)
    for u, v in graph.edges:
        graph[u][v]["w"] = float(rng.uniform(1, 5))
        graph[u][v]["m"] = float(rng.uniform(10, 500))
    nodes = list(range(60))
    w = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="w", format="csr")
    m = sparse.csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="m",
                                                   format="csr"))
    _, pred = csgraph.dijkstra(w, indices=0, return_predecessors=True)
    has = pred >= 0
    arcs = np.asarray(m[pred[has], np.flatnonzero(has)]).ravel()
    sums = realism._tree_sums(pred, has, arcs)
    paths = nx.single_source_dijkstra_path(graph, 0, weight="w")
    assert len(paths) > 30
    for target, path in paths.items():
        expected = sum(graph[a][b]["m"] for a, b in itertools.pairwise(path))
        assert sums[target] == pytest.approx(expected, rel=1e-12)


def test_summary_rows_hand_computed() -> None:
    ours = np.array([2.0, 4.0, 10.0, 10.0, 20.0, 60.0])
    osrm = np.array([3.0, 4.4, 12.0, 14.0, 30.0, 54.0])  # ratios 1.5 1.1 1.2 1.4 1.5 0.9
    urban = np.array([0.9, 0.8, 0.1, 0.3, 0.6, 0.0])
    c = realism.Comparison("x", ours, osrm, urban, 0.0, 0.0)
    rows = {r["group"]: r for r in realism.summarise(c)}
    assert rows["all"]["pairs"] == 6 and rows["all"]["median"] == pytest.approx(1.3)
    assert rows["< 5 min"]["pairs"] == 2  # OSRM 3.0 and 4.4
    assert rows["< 5 min"]["median"] == pytest.approx(1.3)
    assert rows["5-15 min"]["pairs"] == 2 and rows["5-15 min"]["median"] == pytest.approx(1.3)
    assert rows["15-45 min"]["pairs"] == 1 and rows["15-45 min"]["median"] == 1.5
    assert rows["> 45 min"]["pairs"] == 1 and rows["> 45 min"]["median"] == 0.9
    assert rows["urban < 25 %"]["pairs"] == 2 and rows["urban >= 75 %"]["pairs"] == 2
    assert rows["urban >= 75 %"]["median"] == pytest.approx(1.3)
    assert rows["all"]["p10"] == pytest.approx(np.percentile([1.5, 1.1, 1.2, 1.4, 1.5, 0.9], 10))


@pytest.mark.slow
def test_benchmark_on_a_tiny_oslo_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    osm = cut(ROOT / "data" / "oslo-center.osm.pbf", tmp_path / "tiny.osm.pbf", BOX)
    python = realism.osrm_python()
    settings = realism.Settings()
    net = realism.network.build(osm, settings.network)
    origins = realism.snap_inside(net, realism.oslo_schools(), 250.0, None)
    cells = realism.snap_inside(net, realism.populated_cells(), 250.0, 25)
    assert len(origins) >= 4 and len(cells) == 25
    c = realism.compare(osm, settings, python=python, work=tmp_path / "work", algorithm="ch",
                        max_origins=None, max_destinations=25)
    # every pair but those on the same node, and a few OSRM cannot route on the cut
    same = int(np.isin(origins, cells).sum())
    assert 0.9 * (len(origins) * len(cells) - same) <= len(c.ours) <= len(origins) * len(cells)
    assert np.isfinite(c.ratio).all()
    # neither engine beats the crow flying at 110 km/h between the same nodes
    d = haversine_m(net.lon[origins][:, None], net.lat[origins][:, None],
                    net.lon[cells][None, :], net.lat[cells][None, :])
    floor = d[d > 0] / (110 * 1000 / 60)
    assert c.ours.min() >= floor.min() * 0.999 and c.osrm.min() >= floor.min() * 0.999
    rows = {r["group"]: r for r in realism.summarise(c)}
    assert rows["all"]["pairs"] == len(c.ours)
    assert sum(rows[b[2]]["pairs"] for b in realism.LENGTH_BANDS) == len(c.ours)
    assert sum(rows[b[2]]["pairs"] for b in realism.URBAN_BANDS) == len(c.ours)
    assert 0.7 < rows["all"]["median"] < 2.5
    realism.print_table(c.name, realism.summarise(c))
    assert "OSRM / fostermatch" in capsys.readouterr().out
