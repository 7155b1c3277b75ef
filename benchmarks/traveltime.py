"""Benchmark: fostermatch travel-time matrix vs networkx, on the same graph and work.

Runs two cases and prints, for each, our time, networkx's time for the same
origins, and the ratio:

* the real Oslo extract (``../shared/data/oslo-east-filtered.osm.pbf``), with
  the network build time and the cache-load time;
* a synthetic road-like graph of >= 500,000 nodes with 1,000 origins x 5,000
  destinations (the issue's scale target: < 60 s on 2 cores, < 4 GB).

Our figure includes the exact contraction of chains of pass-through nodes
(``traveltime.shortest_minutes``), which is what ``matcher traveltime`` and
``matcher match`` do; on the synthetic grid there are few such chains, so it
measures plain Dijkstra speed.

networkx (``nx.single_source_dijkstra_path_length`` per origin, which is what
osmnx users end up calling) is timed on a subset of the same origins and its
per-origin rate is compared with ours on that same subset and extrapolated to
the full set; the script says which numbers are measured and which are
extrapolated.

Usage: ``python benchmarks/traveltime.py [--quick]``
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import networkx as nx
import numpy as np
from scipy import sparse

from matcher import network, traveltime

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def road_like_graph(side: int, seed: int = 0) -> sparse.csr_matrix:
    """A perturbed ``side x side`` street grid with a road hierarchy, in minutes.

    Cells are ~100 m; every 10th street is a 60 km/h secondary, every 50th an
    80 km/h primary, others 30-50 km/h; 8 % of local street segments are
    missing and 5 % are one-way, as in real networks.
    """
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    rows = []
    for horizontal in (True, False):
        a = idx[:, :-1] if horizontal else idx[:-1, :]
        b = idx[:, 1:] if horizontal else idx[1:, :]
        axis = np.arange(side)[:, None] if horizontal else np.arange(side)[None, :]
        line = axis * np.ones_like(a)
        speed = np.where(line % 50 == 0, 80.0, np.where(line % 10 == 0, 60.0,
                                                        rng.choice([30.0, 40.0, 50.0], a.shape)))
        metres = rng.uniform(80, 130, a.shape)
        keep = (speed > 50) | (rng.random(a.shape) > 0.08)
        minutes = metres / (speed * 1000 / 60)
        oneway = (speed <= 50) & (rng.random(a.shape) < 0.05)
        a, b, minutes, oneway = a[keep], b[keep], minutes[keep], oneway[keep]
        rows.append((a, b, minutes))
        rows.append((b[~oneway], a[~oneway], minutes[~oneway]))
    u = np.concatenate([r[0] for r in rows])
    v = np.concatenate([r[1] for r in rows])
    w = np.concatenate([r[2] for r in rows])
    graph = sparse.csr_matrix((w, (u, v)), shape=(side * side, side * side))
    # keep the largest strongly connected component, as the network build does
    labels = sparse.csgraph.connected_components(graph, directed=True, connection="strong")[1]
    keep = labels == np.bincount(labels).argmax()
    return graph[keep][:, keep].tocsr()


def to_networkx(graph: sparse.csr_matrix) -> nx.DiGraph:
    coo = graph.tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.shape[0]))
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                  strict=True))
    return g


def compare(name: str, graph: sparse.csr_matrix, n_origins: int, n_destinations: int,
            nx_origins: int, limit: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = graph.shape[0]
    origins = rng.choice(n, n_origins, replace=False)
    destinations = rng.choice(n, n_destinations, replace=False)
    print(f"\n== {name}: {n:,} nodes, {graph.nnz:,} edges; {n_origins:,} origins x "
          f"{n_destinations:,} destinations, limit {limit:g} min")

    t0 = time.perf_counter()
    ours = traveltime.shortest_minutes(graph, origins, destinations, limit_minutes=limit,
                                       workers=2)
    ours_s = time.perf_counter() - t0
    print(f"fostermatch full matrix (2 workers): {ours_s:8.2f} s  "
          f"({ours_s / n_origins * 1000:.1f} ms/origin), reachable {np.isfinite(ours).mean():.1%}")

    sub = origins[:nx_origins]
    t0 = time.perf_counter()
    ours_sub = traveltime.shortest_minutes(graph, sub, destinations, limit_minutes=limit,
                                           workers=1)
    ours_sub_s = time.perf_counter() - t0

    g = to_networkx(graph)
    t0 = time.perf_counter()
    for i, s in enumerate(sub):
        lengths = nx.single_source_dijkstra_path_length(g, int(s), cutoff=limit, weight="weight")
        ref = np.array([lengths.get(int(d), np.inf) for d in destinations])
        if not np.allclose(ref, ours_sub[i], atol=1e-6, equal_nan=False):
            raise SystemExit(f"MISMATCH with networkx at origin {s}")
    nx_s = time.perf_counter() - t0
    print(f"same {nx_origins} origins, 1 process: fostermatch {ours_sub_s:.2f} s, "
          f"networkx {nx_s:.2f} s (results equal to 1e-6)")
    print(f"ratio, single process, same work: {nx_s / ours_sub_s:6.1f}x faster")
    nx_full = nx_s / nx_origins * n_origins
    print(f"networkx extrapolated to {n_origins:,} origins: {nx_full:8.1f} s; "
          f"ratio vs our 2-worker full run: {nx_full / ours_s:6.1f}x")
    print(f"peak memory so far: {peak_rss_mb():,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller synthetic graph")
    parser.add_argument("--national", action="store_true",
                        help="also the road network of the synthetic national sample "
                             "(OSM XML, >= 500k nodes; builds it first, ~2 min)")
    args = parser.parse_args()

    pbf = DATA / "oslo-east-filtered.osm.pbf"
    if pbf.is_file():
        cache = Path("/tmp/fostermatch-bench-oslo")
        t0 = time.perf_counter()
        net = network.build(pbf, cache_dir=cache)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        network.build(pbf, cache_dir=cache)
        again = time.perf_counter() - t0
        print(f"Oslo east network: {'cached' if net.info.from_cache else 'built'} in "
              f"{first:.2f} s; second build from cache {again:.3f} s")
        compare("Oslo east (real OSM)", net.graph, 1000, 5000, 200, 90.0, seed=1)
    side = 300 if args.quick else 710
    t0 = time.perf_counter()
    graph = road_like_graph(side)
    print(f"\nsynthetic graph built in {time.perf_counter() - t0:.1f} s")
    compare("synthetic road-like", graph, 200 if args.quick else 1000, 5000,
            5 if args.quick else 10, 90.0, seed=2)
    if args.national:
        from matcher.scenarios import fjord as sample

        folder = Path("/tmp/fostermatch-bench-national")
        if not (folder / "roads.osm").is_file():
            sample.generate(folder, seed=1, size="national")
        t0 = time.perf_counter()
        net = network.build(folder / "roads.osm", cache_dir=folder / "network")
        print(f"\nnational sample network: {net.info.nodes:,} nodes, "
              f"{'cached' if net.info.from_cache else 'built'} in {time.perf_counter() - t0:.1f} s")
        compare("national sample (synthetic OSM XML)", net.graph, 1000, 5000, 10, 90.0, seed=3)


if __name__ == "__main__":
    main()
