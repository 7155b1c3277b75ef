"""Benchmark: ``matcher network build`` on a Norway-scale PBF vs one pyosmium pass (issue 11).

Generates a deterministic synthetic ``.osm.pbf`` of Norway's size with
pyosmium's writer (:mod:`_norway_pbf`: at scale 1.0 about 6.7 M road nodes in
1.1 M drivable ways, 102 M building and land-cover nodes in 11.4 M ways, long
car ferries, private and footway ways that must be dropped) into a temporary
folder, then times, in the same run and each in a child process:

1. **the floor**: one pyosmium pass over the file with node locations
   (``SimpleHandler.apply_file(..., locations=True)``), counting ways;
2. **the whole build**: ``matcher network build --osm FILE --out DIR``
   (GeoPackage export off when the CLI has ``--no-gpkg``);
3. **a clipped build** of one county with ``--clip-polygon`` (skipped, with a
   message, when the installed CLI has no such option);
4. **a 1,000 x 5,000 travel-time matrix** (90-minute limit) on the built
   network, through ``matcher.network.load`` and ``matcher.traveltime.matrix``.

For each it prints wall time, peak memory of the child (``wait4`` rusage,
and the summed proportional set size of its process tree, sampled), the
ratio to the floor, and the issue's target. The file is generated in a child
process too, so that this process stays small: on Linux a child's
``ru_maxrss`` starts from its parent's peak when it is spawned. The CLI runs
as a subprocess, so the figures hold for whichever PBF reader is installed.
A child that runs past ``--timeout`` seconds or holds more than
``--max-memory-gb`` is killed, and the run records it as such.

Usage::

    python benchmarks/network_build.py [--scale 1.0] [--keep FILE] [--timeout 1800]
                                       [--max-memory-gb 16] [--county vestland]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import _norway_pbf

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = "from matcher.cli import main; main()"
"""Run the CLI of this checkout (``python -m matcher.cli`` needs a ``__main__``)."""

TARGET_BUILD_S = 600.0
TARGET_BUILD_GB = 6.0
TARGET_FLOOR_RATIO = 15.0
TARGET_CLIP_S = 120.0
TARGET_MATRIX_S = 30.0


@dataclass(frozen=True)
class ChildRun:
    """How a child process ended.

    Attributes
    ----------
    status
        ``"ok"``, ``"failed"`` (non-zero exit), ``"timeout"`` or ``"memory"``
        (killed above the memory cap).
    returncode
        Exit code (negative: killed by that signal).
    seconds
        Wall time in seconds.
    peak_mb
        Peak memory in MiB: the larger of the child's ``ru_maxrss`` (``wait4``:
        its own peak, or its largest reaped descendant's) and the summed
        proportional set size of its process tree, sampled every 0.25 s.
    stdout
        Everything the child printed on stdout.
    stderr_tail
        The last 1,500 characters of its stderr.
    """

    status: str
    returncode: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr_tail: str

    @property
    def ok(self) -> bool:
        """True when the child exited with code 0."""
        return self.status == "ok"

    def json(self) -> dict[str, object]:
        """Return the last JSON object the child printed on stdout (``{}`` if none)."""
        for line in reversed(self.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return dict(json.loads(line))
                except json.JSONDecodeError:
                    continue
        try:
            return dict(json.loads(self.stdout))
        except (json.JSONDecodeError, TypeError, ValueError):
            return {}


def _tree_memory_mb(pid: int) -> float:
    """Memory (MiB) of ``pid`` and all its descendants, from ``/proc``.

    Sums the proportional set size (``Pss`` of ``smaps_rollup``), so pages
    that forked workers share with their parent are counted once; falls back
    to the resident set size where ``smaps_rollup`` cannot be read.
    """
    parents: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        parents.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * page
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _pss_bytes(p, rss.get(p, 0))
        todo.extend(parents.get(p, []))
    return total / 2**20


def _pss_bytes(pid: int, fallback: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return fallback


def run_child(cmd: list[str], *, timeout_s: float, max_memory_gb: float,
              log_dir: Path, name: str) -> ChildRun:
    """Run ``cmd`` in its own process group; time it and track its peak memory.

    The child is killed (whole group, SIGKILL) when it runs longer than
    ``timeout_s`` seconds or its process tree holds more than
    ``max_memory_gb`` GiB; stdout and stderr go to files in ``log_dir``.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT,
                                start_new_session=True)
        status, sampled, code, usage = "ok", 0.0, 0, None
        while True:
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(wait_status)
                proc.returncode = code
                break
            sampled = max(sampled, _tree_memory_mb(proc.pid))
            elapsed = time.perf_counter() - t0
            if elapsed > timeout_s or sampled > max_memory_gb * 1024:
                status = "timeout" if elapsed > timeout_s else "memory"
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                _, wait_status, usage = os.wait4(proc.pid, 0)
                code = os.waitstatus_to_exitcode(wait_status)
                proc.returncode = code
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - t0
    if status == "ok" and code != 0:
        status = "failed"
    peak = max(sampled, (usage.ru_maxrss / 1024) if usage is not None else 0.0)
    return ChildRun(status=status, returncode=code, seconds=seconds, peak_mb=peak,
                    stdout=out_path.read_text(errors="replace"),
                    stderr_tail=err_path.read_text(errors="replace")[-1500:])


# --------------------------------------------------------------------------- child modes


def floor_pass(path: str, index: str) -> dict[str, object]:
    """One pyosmium pass with node locations in a ``index`` store; count ways and roads.

    Returns
    -------
    dict
        ``ways``, ``highway_ways`` and ``seconds`` (inside the child).
    """
    import osmium

    class Count(osmium.SimpleHandler):
        def __init__(self) -> None:
            super().__init__()
            self.ways = 0
            self.highways = 0

        def way(self, w: osmium.osm.Way) -> None:
            self.ways += 1
            if "highway" in w.tags:
                self.highways += 1

    t0 = time.perf_counter()
    handler = Count()
    handler.apply_file(path, locations=True, idx=index)
    return {"ways": handler.ways, "highway_ways": handler.highways,
            "seconds": time.perf_counter() - t0, "index": index}


def matrix_run(network_dir: str, origins: int, destinations: int, limit: float,
               seed: int) -> dict[str, object]:
    """Load the network, snap random points near its nodes, time the matrix.

    Points are random network nodes moved by up to about 200 m, so they lie
    inside the road area. Returns load, snap and matrix seconds and the
    share of pairs reachable within ``limit`` minutes.
    """
    import numpy as np

    from matcher import network, traveltime
    from matcher.config import TravelSettings

    t0 = time.perf_counter()
    net = network.load(network_dir)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)

    def points(n: int) -> tuple[np.ndarray, np.ndarray]:
        # road nodes only, so that every setting (turn costs add copies) gets the same points
        at = rng.choice(net.n_road_nodes, n, replace=False)
        return (net.lon[at] + rng.uniform(-0.003, 0.003, n),
                net.lat[at] + rng.uniform(-0.0015, 0.0015, n))

    settings = TravelSettings(limit_minutes=limit)
    t0 = time.perf_counter()
    o_lon, o_lat = points(origins)
    d_lon, d_lat = points(destinations)
    so = traveltime.snap(net, [f"o{i}" for i in range(origins)], o_lon, o_lat, settings)
    sd = traveltime.snap(net, [f"d{i}" for i in range(destinations)], d_lon, d_lat, settings)
    snap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    table = traveltime.matrix(net, so, sd, settings)
    matrix_s = time.perf_counter() - t0
    return {"nodes": net.n_nodes, "load_seconds": load_s, "snap_seconds": snap_s,
            "matrix_seconds": matrix_s, "workers": settings.workers,
            "reachable": float(np.isfinite(table.minutes).mean())}


# --------------------------------------------------------------------------- report


def _gb(mb: float) -> str:
    return f"{mb / 1024:.2f} GB"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _describe(run: ChildRun) -> str:
    if run.status == "timeout":
        return f"KILLED after {run.seconds:.0f} s (--timeout)"
    if run.status == "memory":
        return f"KILLED at {_gb(run.peak_mb)} (--max-memory-gb) after {run.seconds:.0f} s"
    if run.status == "failed":
        return f"FAILED (exit {run.returncode}) after {run.seconds:.1f} s"
    return "ok"


def _print_failure(run: ChildRun) -> None:
    print(f"  {_describe(run)}; peak {_gb(run.peak_mb)}")
    if run.stderr_tail.strip():
        tail = "\n".join("    " + line for line in run.stderr_tail.strip().splitlines()[-8:])
        print(f"  stderr (tail):\n{tail}")


def _steps(info: dict[str, object]) -> None:
    """Print per-step figures if the build's JSON has them (any list/dict of steps)."""
    for key in ("steps", "timings", "step_seconds", "profile"):
        value = info.get(key)
        if isinstance(value, dict):
            for step, figures in value.items():
                print(f"    step {step}: {figures}")
        elif isinstance(value, list):
            for figures in value:
                print(f"    step {figures}")


def cli_options() -> str:
    """Return the ``matcher network build --help`` text of the installed CLI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1",
           "TERM": "dumb"}
    done = subprocess.run([sys.executable, "-c", LAUNCH, "network", "build", "--help"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    return done.stdout + done.stderr


def write_clip_polygon(path: Path, county: str) -> Path:
    """Write county ``county`` (its box cut to the outline) as GeoJSON, EPSG:4326."""
    import shapely

    feature = {"type": "Feature", "properties": {"name": county},
               "geometry": json.loads(shapely.to_geojson(_norway_pbf.county_polygon(county)))}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def main() -> None:
    """Generate the file, run the floor, the builds and the matrix; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="size of the generated file; 1.0 = Norway-scale (default)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="also keep the generated .osm.pbf at this path")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds after which a build or pass is killed (default 1800)")
    parser.add_argument("--max-memory-gb", type=float, default=16.0,
                        help="kill a child whose process tree holds more (default 16)")
    parser.add_argument("--county", default="vestland", choices=sorted(_norway_pbf.COUNTIES),
                        help="county for the clipped build")
    parser.add_argument("--clip-buffer-km", type=float, default=None,
                        help="pass --clip-buffer-km to the clipped build (default: CLI default)")
    parser.add_argument("--floor-index", default="flex_mem",
                        help="pyosmium location store of the floor pass (default flex_mem)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the temporary files (default: the system temp)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.floor:
        print(json.dumps(floor_pass(args.floor, args.floor_index)))
        return
    if args.matrix:
        print(json.dumps(matrix_run(args.matrix, 1000, 5000, 90.0, args.seed)))
        return

    with tempfile.TemporaryDirectory(prefix="fostermatch-netbench-", dir=args.workdir) as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> None:
    """Run every step of the benchmark and print the figures; see the module docstring.

    Parameters
    ----------
    args
        The parsed command line.
    tmp
        Folder for the generated file, the networks and the children's logs.
    """
    pbf = tmp / "norway-synthetic.osm.pbf"
    print(f"== generating scale {args.scale:g} (seed {args.seed}) with pyosmium's writer ...",
          flush=True)
    # in a child process, so that this one stays small while the others are measured
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        design = pool.submit(_norway_pbf.generate, pbf, scale=args.scale,
                             seed=args.seed).result()
    generator_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"file: {design.bytes / 1e6:,.1f} MB, {design.total_nodes:,} nodes, "
          f"{design.total_ways:,} ways, generated in {design.seconds:.1f} s "
          f"({design.seconds / design.total_nodes * 1e6:.2f} us/node), "
          f"generator peak {_gb(generator_mb)}")
    print(f"  drivable roads: {design.road_nodes:,} nodes in {design.road_ways:,} ways "
          f"(grid spacing {design.spacing_km:.2f} km, {len(design.junction_ids):,} junctions)")
    print(f"  car ferries: {design.ferry_ways} ways, {design.ferry_nodes:,} sea nodes; "
          f"to drop: {design.private_ways:,} private, {design.footway_ways:,} footway, "
          f"1 passenger ferry ({design.dropped_nodes:,} nodes); "
          f"{design.stub_ways:,} one-way dead-end stubs")
    print(f"  buildings and land cover: {design.other_nodes:,} nodes in "
          f"{design.other_ways:,} ways")
    expected = len(design.kept_road_ids) + design.ferry_nodes
    print(f"  a correct build keeps {expected:,} nodes "
          f"({len(design.kept_road_ids):,} road + {design.ferry_nodes:,} ferry)")
    if args.keep:
        args.keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pbf, args.keep)
        print(f"  kept a copy at {args.keep}")
    limits = {"timeout_s": args.timeout, "max_memory_gb": args.max_memory_gb, "log_dir": tmp}

    print(f"\n== floor: one pyosmium pass with node locations ({args.floor_index})", flush=True)
    floor = run_child([sys.executable, str(Path(__file__).resolve()), "--floor", str(pbf),
                       "--floor-index", args.floor_index], name="floor", **limits)
    if not floor.ok:
        _print_failure(floor)
        floor_s = float("nan")
    else:
        f = floor.json()
        floor_s = floor.seconds
        print(f"floor: {floor_s:.1f} s, peak {_gb(floor.peak_mb)}; {f.get('ways'):,} ways "
              f"({f.get('highway_ways'):,} with highway)")

    help_text = cli_options()
    gpkg = ["--no-gpkg"] if "--no-gpkg" in help_text else []
    base = [sys.executable, "-c", LAUNCH, "--json", "network", "build", "--osm", str(pbf)]

    print(f"\n== matcher network build, whole file {' '.join(gpkg)}", flush=True)
    build = run_child([*base, "--out", str(tmp / "network"), *gpkg], name="build", **limits)
    _report_build("whole build", build, floor_s, expected, TARGET_BUILD_S)
    if build.ok:
        print(f"  memory {_gb(build.peak_mb)} (target <= {TARGET_BUILD_GB:g} GB: "
              f"{_verdict(build.peak_mb <= TARGET_BUILD_GB * 1024)})")

    print(f"\n== clipped build: county '{args.county}' (--clip-polygon)", flush=True)
    if "--clip-polygon" not in help_text:
        print("SKIPPED: the installed `matcher network build` has no --clip-polygon option "
              "(issue 11, step 2, is not in this checkout yet)")
    else:
        polygon = write_clip_polygon(tmp / f"{args.county}.geojson", args.county)
        extra = ([] if args.clip_buffer_km is None
                 else ["--clip-buffer-km", f"{args.clip_buffer_km:g}"])
        clip = run_child([*base, "--out", str(tmp / "network-clip"), "--clip-polygon",
                          str(polygon), *extra, *gpkg], name="clip", **limits)
        inside = design.county_junctions[args.county]
        print(f"  the county holds {inside:,} of {len(design.junction_ids):,} junctions "
              f"({inside / len(design.junction_ids):.1%})")
        _report_build("clipped build", clip, floor_s, None, TARGET_CLIP_S)

    print("\n== travel-time matrix 1,000 x 5,000, limit 90 min, on the built network",
          flush=True)
    if not build.ok:
        print("SKIPPED: the whole build did not finish")
        return
    matrix = run_child([sys.executable, str(Path(__file__).resolve()), "--matrix",
                        str(tmp / "network"), "--seed", str(args.seed)], name="matrix", **limits)
    if not matrix.ok:
        _print_failure(matrix)
        return
    m = {k: float(v) for k, v in matrix.json().items()}
    ms = m["matrix_seconds"]
    print(f"matrix: {ms:.1f} s on {m['nodes']:,.0f} nodes ({m['workers']:.0f} workers), "
          f"{m['reachable']:.1%} of pairs reachable; load {m['load_seconds']:.1f} s, "
          f"snap {m['snap_seconds']:.1f} s; child peak {_gb(matrix.peak_mb)} "
          f"(target <= {TARGET_MATRIX_S:g} s: {_verdict(ms <= TARGET_MATRIX_S)})")


def _report_build(label: str, run: ChildRun, floor_s: float, expected: int | None,
                  target_s: float) -> None:
    """Print a build's time, memory, ratio to the floor, targets and node count.

    ``expected`` is the node count a correct whole build has (``None`` for a
    clipped build, which is also not held to the floor ratio).
    """
    if not run.ok:
        _print_failure(run)
        print(f"  target <= {target_s:g} s: NOT met")
        return
    info = run.json()
    ratio = run.seconds / floor_s if floor_s == floor_s else float("nan")
    print(f"{label}: {run.seconds:.1f} s wall, peak {_gb(run.peak_mb)}, {ratio:.1f}x the floor "
          f"(target <= {target_s:g} s: {_verdict(run.seconds <= target_s)}"
          + (f"; <= {TARGET_FLOOR_RATIO:g}x floor: {_verdict(ratio <= TARGET_FLOOR_RATIO)})"
             if expected is not None else ")"))
    nodes = info.get("nodes")
    print(f"  network: {nodes:,} nodes, {info.get('edges', 0):,} edges "
          f"({info.get('ferry_edges', 0)} ferry), {info.get('dropped_nodes', 0):,} dropped "
          f"outside the largest strongly connected component"
          + (f"; expected {expected:,} nodes: "
             f"{'equal' if nodes == expected else 'DIFFERENT'}" if expected is not None else ""))
    extra = {k: v for k, v in info.items()
             if k not in {"command", "nodes", "edges", "ferry_edges", "dropped_nodes", "key",
                          "source", "out", "from_cache", "seconds"}}
    if extra:
        print(f"  build summary: {json.dumps(extra)[:600]}")
    _steps(info)


if __name__ == "__main__":
    main()
