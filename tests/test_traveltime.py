"""Tests of matcher.traveltime: snapping, matrices, limits, TimeTable."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from osm_builder import write_osm
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from matcher import network, traveltime
from matcher.config import NetworkSettings, TravelSettings
from matcher.errors import InputError
from matcher.timetable import TimeTable
from matcher.traveltime import Snapped

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> network.Network:
    """A 5 x 5 street grid with one oneway street and a faster primary road."""
    folder = tmp_path_factory.mktemp("town")
    nodes = [(r * 5 + c + 1, 10.0 + c * 0.004, 60.0 + r * 0.002) for r in range(5)
             for c in range(5)]
    ways = []
    wid = 1
    for r in range(5):
        tags = {"highway": "primary"} if r == 2 else {"highway": "residential"}
        if r == 4:
            tags = {"highway": "primary", "oneway": "yes"}
        ways.append((wid, [r * 5 + c + 1 for c in range(5)], tags))
        wid += 1
    for c in range(5):
        ways.append((wid, [r * 5 + c + 1 for r in range(5)], {"highway": "tertiary"}))
        wid += 1
    return network.build(write_osm(folder / "town.osm", nodes, ways), NetworkSettings())


def nx_graph(net: network.Network) -> nx.DiGraph:
    graph = nx.DiGraph()
    for u, v, w in zip(net.edges["u"], net.edges["v"], net.edges["minutes"], strict=True):
        graph.add_edge(int(u), int(v), weight=float(w))
    return graph


def brute(net: network.Network, o: Snapped, d: Snapped, limit: float) -> np.ndarray:
    """Independent expectation: networkx Dijkstra plus the two access legs.

    A destination is reached at its node or at any copy of it (the in-ports of a
    junction, :attr:`Network.copy_of`): the best of them counts.
    """
    graph = nx_graph(net)
    out = np.full((len(o.ids), len(d.ids)), np.inf)
    for i in range(len(o.ids)):
        # a trip starts at its node or any copy: one search from all of them
        node = int(o.node[i])
        starts = {node} | {net.n_road_nodes + int(k) for k in np.flatnonzero(net.copy_of == node)}
        lengths = nx.multi_source_dijkstra_path_length(graph, starts & set(graph.nodes),
                                                       weight="weight")
        for j in range(len(d.ids)):
            node = int(d.node[j])
            places = [node] + [net.n_road_nodes + k for k in np.flatnonzero(net.copy_of == node)]
            best = min(lengths.get(p, np.inf) for p in places)
            total = o.access_minutes[i] + best + d.access_minutes[j]
            out[i, j] = total if total <= limit else np.inf
    return out


def random_points(net: network.Network, n: int, seed: int, prefix: str
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(net.lon.min(), net.lon.max(), n)
    lat = rng.uniform(net.lat.min(), net.lat.max(), n)
    return [f"{prefix}{i}" for i in range(n)], lon, lat


def test_snap_access_leg_is_distance_at_access_speed(town: network.Network) -> None:
    settings = TravelSettings(access_kmh=12.0)
    ids, lon, lat = random_points(town, 20, 1, "p")
    snapped = traveltime.snap(town, ids, lon, lat, settings)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True).transform(lon, lat)
    d = np.hypot(town.x[:, None] - x[None, :], town.y[:, None] - y[None, :])
    np.testing.assert_array_equal(snapped.node, d.argmin(axis=0))  # nearest node, brute force
    np.testing.assert_allclose(snapped.distance_m, d.min(axis=0))
    np.testing.assert_allclose(snapped.access_minutes, d.min(axis=0) / (12_000 / 60))


def test_snap_reports_every_far_or_missing_point_by_id(town: network.Network) -> None:
    lon = np.array([10.008, 10.5, np.nan, 11.0])
    lat = np.array([60.004, 60.004, 60.0, 60.4])
    with pytest.raises(InputError) as info:
        traveltime.snap(town, ["ok", "far1", "nan", "far2"], lon, lat, source="homes.csv")
    text = str(info.value)
    assert "'far1'" in text and "'far2'" in text and "'nan'" in text and "'ok'" not in text
    assert "row 3" in text and "limit 2.0 km" in text  # far1, 2nd point: row 3 under a header
    assert "10.5" not in text  # never echo coordinates
    assert len(info.value.problems) == 3


@pytest.mark.parametrize("limit", [1.5, 3.0, 90.0])
@pytest.mark.parametrize(("n_o", "n_d"), [(7, 30), (30, 7)])  # both search directions
def test_matrix_matches_networkx_brute_force(town: network.Network, limit: float, n_o: int,
                                             n_d: int) -> None:
    settings = TravelSettings(limit_minutes=limit)
    o = traveltime.snap(town, *random_points(town, n_o, 2, "o"), settings)
    d = traveltime.snap(town, *random_points(town, n_d, 3, "d"), settings)
    got = traveltime.matrix(town, o, d, settings)
    expected = brute(town, o, d, limit)
    np.testing.assert_array_equal(np.isinf(got.minutes), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got.minutes[finite], expected[finite], atol=1e-9)
    assert (got.minutes > 0).all()  # unreachable is inf, never 0
    assert list(got.origin_ids) == o.ids.tolist() and list(got.destination_ids) == d.ids.tolist()


def test_matrix_is_directed(town: network.Network) -> None:
    # along the oneway top row (r=4), west -> east is direct, east -> west must detour
    west, east = town.osmid.tolist().index(21), town.osmid.tolist().index(25)
    lon = town.lon[[west, east]]
    lat = town.lat[[west, east]]
    pts = traveltime.snap(town, ["w", "e"], lon, lat)
    table = traveltime.matrix(town, pts, pts).minutes
    assert table[0, 1] < table[1, 0]
    assert table[0, 0] == pytest.approx(0.0, abs=1e-9)


def test_chunked_and_parallel_equal_serial(town: network.Network) -> None:
    o = traveltime.snap(town, *random_points(town, 40, 4, "o"))
    d = traveltime.snap(town, *random_points(town, 60, 5, "d"))
    serial = traveltime.matrix(town, o, d, TravelSettings(workers=1))
    graph = town.graph
    targets = traveltime._with_copies(town, d.node)  # a junction is reached at its in-ports
    chunked = traveltime._fold_copies(town, d.node, traveltime.node_matrix(
        graph, o.node, targets, limit_minutes=90, memory_mb=16, workers=2))
    np.testing.assert_array_equal(
        serial.minutes, np.where(chunked + o.access_minutes[:, None]
                                 + d.access_minutes[None, :] <= 90,
                                 chunked + o.access_minutes[:, None]
                                 + d.access_minutes[None, :], np.inf))


def test_progress_reports_all_searches(town: network.Network) -> None:
    o = traveltime.snap(town, *random_points(town, 10, 6, "o"))
    d = traveltime.snap(town, *random_points(town, 12, 7, "d"))
    seen: list[tuple[int, int]] = []
    traveltime.matrix(town, o, d, progress=lambda a, b: seen.append((a, b)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == len(np.unique(o.node))


def test_timetable_long_roundtrip_and_select() -> None:
    table = TimeTable(np.array(["h1", "h2"], dtype=object), np.array(["a", "b", "c"], dtype=object),
                      np.array([[1.0, np.inf, 3.0], [4.0, 5.0, np.inf]]))
    long = table.to_long(origin_col="home_id", destination_col="anchor_id")
    assert len(long) == 4 and long["minutes"].tolist() == [1.0, 3.0, 4.0, 5.0]
    back = TimeTable.from_long(long, origin_col="home_id", destination_col="anchor_id")
    np.testing.assert_array_equal(back.minutes, table.minutes)
    sub = table.select(["h2", "zz"], ["c", "a"])
    np.testing.assert_array_equal(sub.minutes, [[np.inf, 4.0], [np.inf, np.inf]])


def test_timetable_from_long_refuses_invalid_frames() -> None:
    """The leaf constructor refuses what the readers would report (see test_io)."""
    frame = pd.DataFrame({"home_id": ["h1", "h1", "h2"], "anchor_id": ["a", "a", "b"],
                          "minutes": ["3", "4", "1"]})
    with pytest.raises(ValueError, match="duplicate"):
        TimeTable.from_long(frame, origin_col="home_id", destination_col="anchor_id")
    with pytest.raises(ValueError, match="missing column"):
        TimeTable.from_long(frame.drop(columns="minutes"), origin_col="home_id",
                            destination_col="anchor_id")
    with pytest.raises(ValueError, match=">= 0"):
        TimeTable.from_long(frame.assign(minutes=["-1", "2", "3"]).iloc[[0, 2]],
                            origin_col="home_id", destination_col="anchor_id")


@pytest.mark.slow
def test_oslo_matrix_matches_networkx() -> None:
    path = DATA / "oslo-center.osm.pbf"
    assert path.is_file(), f"real data missing: {path} (see data/SOURCES.md)"
    net = network.build(path)
    o = traveltime.snap(net, *random_points(net, 12, 8, "o"))
    d = traveltime.snap(net, *random_points(net, 25, 9, "d"))  # 300 pairs
    got = traveltime.matrix(net, o, d)
    expected = brute(net, o, d, 90.0)
    np.testing.assert_allclose(got.minutes, expected, atol=1e-6)
    assert math.isfinite(float(got.minutes.max()))


# --------------------------------------------------------------------------- chain contraction



@st.composite
def road_graphs(draw: st.DrawFn) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Junctions joined by chains of shape nodes, some chains one-way, plus kept nodes."""
    n_junctions = draw(st.integers(2, 6))
    edges: dict[tuple[int, int], float] = {}
    n = n_junctions
    for _ in range(draw(st.integers(1, 10))):
        a = draw(st.integers(0, n_junctions - 1))
        b = draw(st.integers(0, n_junctions - 1))
        inner = draw(st.integers(0, 4))
        path = [a, *range(n, n + inner), b]
        n += inner
        direction = draw(st.sampled_from(["both", "forward", "backward", "broken"]))
        broken_at = draw(st.integers(0, len(path) - 2))
        for i, (p, q) in enumerate(itertools.pairwise(path)):
            if p == q:
                continue
            w = draw(st.floats(0.1, 10.0))
            if direction in ("both", "forward") or (direction == "broken" and i != broken_at):
                edges[(p, q)] = min(w, edges.get((p, q), np.inf))
            if direction in ("both", "backward") or (direction == "broken" and i != broken_at):
                edges[(q, p)] = min(w, edges.get((q, p), np.inf))
    keys = list(edges)
    graph = sparse.csr_matrix(([edges[k] for k in keys], ([k[0] for k in keys],
                                                         [k[1] for k in keys])), shape=(n, n))
    keep = np.array(sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=1,
                                             max_size=6)))), dtype=np.int64)
    return graph, keep


@hsettings(max_examples=150, deadline=None)
@given(road_graphs())
def test_contraction_keeps_every_shortest_path_between_kept_nodes(
        case: tuple[sparse.csr_matrix, np.ndarray]) -> None:
    graph, keep = case
    small = traveltime.contract(graph, keep)
    full = dijkstra(graph, indices=keep)[:, keep]
    got = dijkstra(small.graph, indices=small.position[keep])[:, small.position[keep]]
    np.testing.assert_allclose(got, full, atol=1e-9)
    assert (small.position[keep] >= 0).all()
    assert len(small.kept) <= graph.shape[0]


def _tree_sum(weights: list[float]) -> float:
    """Pairwise sum over the weights padded with zeros to a power of two."""
    size = 1
    while size < len(weights):
        size *= 2
    values = weights + [0.0] * (size - len(weights))
    while len(values) > 1:
        values = [values[i] + values[i + 1] for i in range(0, len(values), 2)]
    return values[0]


def _walked_by_hand(graph: sparse.csr_matrix, keep: np.ndarray) -> dict[tuple[int, int], float]:
    """Contracted edges between kept nodes, walked one node at a time in plain Python."""
    dense = graph.toarray()
    n = graph.shape[0]
    linked = (dense > 0) | (dense.T > 0)
    neighbours = [sorted(np.flatnonzero(linked[i]).tolist()) for i in range(n)]
    passthrough = {i for i in range(n) if len(neighbours[i]) == 2} - set(keep.tolist())
    out: dict[tuple[int, int], float] = {}
    for a in range(n):
        if a in passthrough:
            continue
        for b in np.flatnonzero(dense[a] > 0).tolist():
            weights, prev, at, ok = [float(dense[a, b])], a, b, True
            while at in passthrough:
                other = next(x for x in neighbours[at] if x != prev)
                if not dense[at, other] > 0:
                    ok = False
                    break
                weights.append(float(dense[at, other]))
                prev, at = at, other
            if ok and at != a:
                out[(a, at)] = min(out.get((a, at), np.inf), _tree_sum(weights))
    return out


@hsettings(max_examples=150, deadline=None)
@given(road_graphs(), st.lists(st.integers(0, 40), max_size=6))
def test_chains_prepared_once_serve_every_keep_set_exactly(
        case: tuple[sparse.csr_matrix, np.ndarray], more: list[int]) -> None:
    graph, keep = case
    prepared = traveltime.chains(graph)
    other = np.array(sorted({k % graph.shape[0] for k in more}), dtype=np.int64)
    for wanted in (keep, other, np.union1d(keep, other)):
        small = traveltime.contract(graph, wanted, prepared=prepared)
        expected = _walked_by_hand(graph, wanted)
        coo = small.graph.tocoo()
        got = {(int(small.kept[r]), int(small.kept[c])): float(w)
               for r, c, w in zip(coo.row, coo.col, coo.data, strict=True)}
        assert got == expected  # the same floats, not only close ones
        assert (small.position[wanted] >= 0).all()


def test_prepared_chains_are_cached_beside_the_network(
        town: network.Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traveltime, "CHAINS_ON_DISK_MIN_NODES", 0)
    network.save(town, tmp_path)
    loaded = network.load(tmp_path)
    first = traveltime.prepare(loaded, backwards=True)
    path = tmp_path / "chains-backward.npz"
    assert path.is_file() and (path.stat().st_mode & 0o077) == 0
    again = traveltime.prepare(network.load(tmp_path), backwards=True)
    for name in ("passthrough", "neighbours", "chain", "u", "end", "minutes", "first"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    fresh = traveltime.chains(town.reverse)
    np.testing.assert_array_equal(again.minutes, fresh.minutes)
    network.save(town, tmp_path)  # a rewritten network drops its stale chains
    assert not path.exists()


def test_chains_written_by_another_format_are_not_used(
        town: network.Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traveltime, "CHAINS_FORMAT", 1, raising=False)
    monkeypatch.setattr(traveltime, "CHAINS_ON_DISK_MIN_NODES", 0)
    network.save(town, tmp_path)
    traveltime.prepare(network.load(tmp_path))
    path = tmp_path / "chains-forward.npz"
    with np.load(path) as z:  # plant a wrong result under the same key and size
        arrays = {k: z[k] for k in z.files}
    arrays["minutes"] = arrays["minutes"] + 1.0
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    monkeypatch.setattr(traveltime, "CHAINS_FORMAT", 2, raising=False)  # code changed
    again = traveltime.prepare(network.load(tmp_path))
    np.testing.assert_array_equal(again.minutes, traveltime.chains(town.graph).minutes)


def test_a_save_that_fails_half_way_leaves_no_stale_chains(
        town: network.Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traveltime, "CHAINS_ON_DISK_MIN_NODES", 0)
    network.save(town, tmp_path)
    traveltime.prepare(network.load(tmp_path))
    path = tmp_path / "chains-forward.npz"
    assert path.is_file()
    real = network.atomic_path

    def failing(target: Path, **kwargs: object) -> object:
        if Path(target).name == "network.json":
            raise OSError("disk full")
        return real(target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(network, "atomic_path", failing)
    with pytest.raises(OSError):
        network.save(town, tmp_path)  # network.npz replaced, network.json not
    assert not path.exists()


def test_contraction_on_oslo_is_exact_and_small() -> None:
    path = DATA / "oslo-east-filtered.osm.pbf"
    assert path.is_file(), f"real data missing: {path} (see data/SOURCES.md)"
    for settings, share in ((NetworkSettings(), 0.25), (NetworkSettings(turn_costs=True), 0.6)):
        _contraction_is_exact_and_small(network.build(path, settings), share)


def _contraction_is_exact_and_small(net: network.Network, share: float) -> None:
    keep = np.random.default_rng(0).choice(net.n_nodes, 200, replace=False)
    for graph in (net.graph, net.reverse):
        small = traveltime.contract(graph, keep)
        # OSM draws roads with many shape nodes; with turn costs the in-ports of junctions
        # and the road nodes next to them stay
        assert len(small.kept) < share * net.n_nodes
        full = dijkstra(graph, indices=keep[:40])[:, keep]
        got = dijkstra(small.graph, indices=small.position[keep[:40]])[:, small.position[keep]]
        np.testing.assert_allclose(got, full, atol=1e-9)


def test_matrix_with_and_without_contraction_agree(town: network.Network) -> None:
    o = traveltime.snap(town, *random_points(town, 3, 11, "o"))
    d = traveltime.snap(town, *random_points(town, 4, 12, "d"))
    on = traveltime.matrix(town, o, d, TravelSettings(contract_chains=True))
    off = traveltime.matrix(town, o, d, TravelSettings(contract_chains=False))
    np.testing.assert_allclose(on.minutes, off.minutes, atol=1e-9)


_ORPHAN_SCRIPT = """
import sys, time
from scipy import sparse
from matcher import traveltime
pool = traveltime._pool(2, sparse.csr_matrix((3, 3)))
futures = [pool.submit(time.sleep, 120) for _ in range(2)]
print("ready", flush=True)
time.sleep(120)
"""


def _children_of(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_pool_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    # issue 15, case 3: SIGKILL of a match left its pool workers running, re-parented to
    # PID 1 (about 170 MB each) until killed by hand.
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE,
                            text=True, env={**os.environ})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _children_of(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, workers
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [w for w in workers if _alive(w)]
        for w in left:
            os.kill(w, signal.SIGKILL)
        assert left == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# issue 24: chains files are checked before scipy sees them (hash recorded in network.json,
# then lengths, dtypes and node ranges); a damaged one is exit 2 naming the file and the fix.
CHAIN_DAMAGES = {
    "shifted": lambda z: z.update(u=z["u"][1:], end=z["end"][:-1]),
    "end beyond the nodes": lambda z: z["end"].__setitem__(0, 10**7),
    "neighbours short": lambda z: z.update(neighbours=z["neighbours"][:-1]),
    "minutes as text": lambda z: z.update(minutes=z["minutes"].astype(str)),
    "minutes scaled": lambda z: z.update(minutes=z["minutes"] * 0.05),
}


@pytest.mark.parametrize(("damage", "with_hash"), [
    (d, h) for d in sorted(CHAIN_DAMAGES) for h in (True, False)
    if h or d != "minutes scaled"])  # well-formed minutes: only the recorded hash can tell
def test_damaged_chains_are_an_input_error(town: network.Network, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, damage: str,
                                           with_hash: bool) -> None:
    monkeypatch.setattr(traveltime, "CHAINS_ON_DISK_MIN_NODES", 0)
    network.save(town, tmp_path)
    traveltime.prepare(network.load(tmp_path))
    assert set(network.recorded_chains(tmp_path)) == {"forward"}
    path = tmp_path / "chains-forward.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    CHAIN_DAMAGES[damage](arrays)
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    if not with_hash:
        meta = json.loads((tmp_path / "network.json").read_text())
        del meta["chains"]
        (tmp_path / "network.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"chains-forward\.npz: damaged network cache") as info:
        traveltime.prepare(network.load(tmp_path))
    assert "matcher network build" in str(info.value)
