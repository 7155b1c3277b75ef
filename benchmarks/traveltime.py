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

With ``--turns`` it instead prints the speed table of issue 20: the 1,000 x
5,000 matrix (limit 90 min, 2 workers) on the Oslo east extract, the national
sample's roads (as PBF) and, with ``--norway FILE``, the Norway-scale file of
``benchmarks/network_build.py``, with free-flow settings (the minutes before
issue 20), the defaults (delays and restrictions on the node graph) and
``turns`` (turn costs on), each run ``--repeats`` times in a child process (wall time and
peak memory of each), the build once per setting, and OSRM MLD (extract +
partition + customize, then the same table) in the same run; CH
(``osrm-contract``) too with ``--ch``, killed after ``--ch-timeout`` seconds.

Usage: ``python benchmarks/traveltime.py [--quick] [--turns [--norway FILE] [--ch] [--no-osrm]]``
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
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


# --------------------------------------------------------------------------- issue 20

TURN_PRESETS = ("free-flow", "default", "turns")


def turns_child(osm: str, preset: str, cache: str, points: str, seed: int) -> dict[str, object]:
    """Build (or load) the network with a ``realism.preset`` and time the 1,000 x 5,000 matrix.

    The points (road nodes of the file, lon/lat) are drawn by the first run and
    shared through ``points`` (``.npz``), so every setting routes between the
    same places.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import realism

    from matcher.config import NetworkSettings, TravelSettings

    settings = realism.preset(preset, NetworkSettings())
    t0 = time.perf_counter()
    net = network.build(Path(osm), settings, cache_dir=Path(cache))
    build_s = time.perf_counter() - t0
    build_peak = network.peak_memory_mb()
    where = Path(points)
    if not where.is_file():
        rng = np.random.default_rng(seed)
        at = rng.choice(net.n_road_nodes, 6000, replace=False)
        np.savez(where, lon=net.lon[at], lat=net.lat[at])
    with np.load(where) as z:
        lon, lat = z["lon"], z["lat"]
    travel = TravelSettings(limit_minutes=90.0, workers=2, max_snap_metres=5000.0)
    so = traveltime.snap(net, [f"o{i}" for i in range(1000)], lon[:1000], lat[:1000], travel)
    sd = traveltime.snap(net, [f"d{i}" for i in range(5000)], lon[1000:], lat[1000:], travel)
    t0 = time.perf_counter()
    table = traveltime.matrix(net, so, sd, travel)
    matrix_s = time.perf_counter() - t0
    return {"nodes": net.n_nodes, "road_nodes": net.n_road_nodes, "edges": int(net.graph.nnz),
            "from_cache": net.info.from_cache, "build_seconds": build_s,
            "build_peak_mb": build_peak, "matrix_seconds": matrix_s,
            "reachable": float(np.isfinite(table.minutes).mean()),
            "peak_mb": network.peak_memory_mb()}


def turns_table(files: list[tuple[str, Path]], repeats: int, ch: bool, ch_timeout: float,
                work: Path, osrm: bool = True) -> None:
    """Run :func:`turns_child` per file, setting and repeat; OSRM on the same points."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import network_build
    import realism

    python = realism.osrm_python()
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    me = str(Path(__file__).resolve())
    for name, osm in files:
        print(f"\n== {name} ({osm.name})")
        points = work / f"{name}-points.npz"
        for preset in TURN_PRESETS:
            cache = work / f"{name}-{preset}"
            shutil.rmtree(cache, ignore_errors=True)
            for k in range(repeats):
                run = network_build.run_child(
                    [sys.executable, me, "--turns-child", str(osm), preset, str(cache),
                     str(points)], timeout_s=3600, max_memory_gb=20, log_dir=logs,
                    name=f"{name}-{preset}-{k}")
                got = run.json()
                if not run.ok or not got:
                    print(f"  {preset} run {k + 1}: {run.status} {run.stderr_tail[-400:]}")
                    continue
                what = "load" if got["from_cache"] else "build"
                print(f"  {preset:<9} run {k + 1}: {got['nodes']:,} nodes "
                      f"({got['road_nodes']:,} road), {got['edges']:,} arcs; {what} "
                      f"{got['build_seconds']:.1f} s (peak {got['build_peak_mb']:,.0f} MiB); "
                      f"matrix {got['matrix_seconds']:.2f} s, reachable {got['reachable']:.1%}; "
                      f"child peak {run.peak_mb:,.0f} MiB", flush=True)
        with np.load(points) as z:
            lonlat = np.column_stack([z["lon"], z["lat"]])
        for algorithm in (("mld", "ch") if ch else ("mld",)) if osrm else ():
            folder = work / f"{name}-osrm-{algorithm}"
            base = str(folder / "extract.osrm")
            if (folder / "done").is_file():
                print(f"  OSRM {algorithm.upper()}: reusing the files in {folder}")
                steps: list[list[str]] = []
            else:
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                steps = _osrm_steps(python, osm, folder, algorithm)
            total, peak, ok = 0.0, 0.0, True
            for step in steps:
                run = network_build.run_child(
                    [str(python), "-m", "osrm", *step], max_memory_gb=20, log_dir=logs,
                    timeout_s=ch_timeout if algorithm == "ch" else 3600,
                    name=f"{name}-osrm-{step[0]}")
                total += run.seconds
                peak = max(peak, run.peak_mb)
                if not run.ok:
                    print(f"  OSRM {algorithm.upper()} {step[0]}: {run.status} after "
                          f"{run.seconds:.0f} s (timeout {ch_timeout:.0f} s for CH)")
                    ok = False
                    break
            if not ok:
                continue
            if steps:
                (folder / "done").write_text("ok\n")
                print(f"  OSRM {algorithm.upper()} build {total:.1f} s, peak {peak:,.0f} MiB")
            request = work / f"{name}-request.json"
            request.write_text(json.dumps({
                "osrm": base, "algorithm": algorithm.upper(), "coordinates": lonlat.tolist(),
                "sources": list(range(1000)), "destinations": list(range(1000, 6000))}))
            for k in range(repeats):
                run = network_build.run_child(
                    ["/bin/sh", "-c", f"'{python}' '{realism.HELPER}' table < '{request}'"],
                    timeout_s=3600, max_memory_gb=20, log_dir=logs,
                    name=f"{name}-osrm-table-{algorithm}-{k}")
                got = run.json()
                if not run.ok or not got:
                    print(f"  OSRM {algorithm.upper()} table run {k + 1}: {run.status}")
                    continue
                minutes = np.array([[np.nan if d is None else d for d in row]
                                    for row in got["minutes"]], dtype=float)
                print(f"  OSRM {algorithm.upper()} table run {k + 1}: "
                      f"{got['table_seconds']:.2f} s (+ {got['load_seconds']:.1f} s to open "
                      f"the files), within 90 min {(minutes <= 90).mean():.1%}; "
                      f"peak {run.peak_mb:,.0f} MiB", flush=True)


def _osrm_steps(python: Path, osm: Path, folder: Path, algorithm: str) -> list[list[str]]:
    """The ``python -m osrm`` steps that build ``folder/extract.osrm`` from a copy of ``osm``."""
    import realism

    local = folder / "extract.osm.pbf"
    shutil.copyfile(osm, local)
    profile = subprocess.run([str(python), str(realism.HELPER), "profile"],
                             capture_output=True, text=True, check=True).stdout.strip()
    base = str(folder / "extract.osrm")
    return [["extract", "-p", profile, str(local)]] + (
        [["contract", base]] if algorithm == "ch"
        else [["partition", base], ["customize", base]])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--turns-child":
        osm, preset, cache, points = sys.argv[2:6]
        print(json.dumps(turns_child(osm, preset, cache, points, seed=20)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller synthetic graph")
    parser.add_argument("--turns", action="store_true",
                        help="the speed table of issue 20 (free flow vs turn costs vs OSRM)")
    parser.add_argument("--norway", type=Path, default=None,
                        help="with --turns: also this Norway-scale PBF")
    parser.add_argument("--no-oslo", action="store_true", help="with --turns: skip Oslo east")
    parser.add_argument("--no-national", action="store_true",
                        help="with --turns: skip the national sample")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ch", action="store_true", help="with --turns: OSRM CH too")
    parser.add_argument("--no-osrm", action="store_true",
                        help="with --turns: our settings only (OSRM's table is slow)")
    parser.add_argument("--ch-timeout", type=float, default=600.0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--national", action="store_true",
                        help="also the road network of the synthetic national sample "
                             "(OSM XML, >= 500k nodes; builds it first, ~2 min)")
    args = parser.parse_args()
    if args.turns:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import realism

        work = args.work or Path(tempfile.mkdtemp(prefix="fostermatch-turns-"))
        files: list[tuple[str, Path]] = []
        if not args.no_oslo:
            files.append(("oslo-east", realism.DATA / "oslo-east-filtered.osm.pbf"))
        if not args.no_national:
            files.append(("national", realism.national_sample(work)[0]))
        if args.norway:
            files.append(("norway", args.norway))
        turns_table(files, args.repeats, args.ch, args.ch_timeout, work, osrm=not args.no_osrm)
        return

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
