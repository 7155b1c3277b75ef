"""Benchmark: our minutes against OSRM's on the same OSM file and the same points (issue 20).

For each OSM file the script builds our network (``network.build``) and an
OSRM graph (``osrm-extract`` with the wheel's standard ``car.lua``, then
``osrm-contract`` for CH or ``osrm-partition`` + ``osrm-customize`` for MLD),
snaps real Oslo primary schools (``data/grunnskoler_norge_geocoded.csv``) as
origins and the centres of populated SSB 250 m cells
(``data/befolkning_250m_2023_oslo.gpkg``) as destinations to our nodes, and
asks both engines for the node-to-node minutes. OSRM gets the coordinates of
our snapped nodes, so both route between the same places; access legs are
left out of both.

It prints the ratio OSRM ÷ fostermatch (p10, median, p90) overall, by trip
length (OSRM minutes: < 5, 5–15, 15–45, > 45) and by the share of the route's
metres on urban roads (limit 50 km/h or less before ``speed_factor``, along
our shortest path).

OSRM needs Python >= 3.12 (the ``osrm-bindings`` wheel); it runs in its own
venv as a subprocess (``benchmarks/osrm_table.py``) and is never a dependency
of the package. The venv is ``$FOSTERMATCH_OSRM_VENV`` or ``.osrm-venv`` in
the repository, created on first use with a Python 3.12 interpreter
(``$FOSTERMATCH_PYTHON312``, ``python3.12`` on ``PATH`` or under pyenv).

With ``--national`` it compares on the road network of the synthetic national
sample instead (``matcher sample --size national``, generated into the work
folder on first use and written as PBF with pyosmium's writer, since the
sample is OSM XML), from the sample's schools to its foster homes.

``--preset`` picks the network settings compared: ``default`` (the node
graph with node and junction delays and turn restrictions), ``turns`` (the
same with ``turn_costs`` on: the turn-expanded graph, with the delays of its
own calibration) or ``free-flow`` (:meth:`NetworkSettings.free_flow`, the
minutes before issue 20).

Usage::

    python benchmarks/realism.py [--osm FILE ...] [--national] [--algorithm ch|mld]
        [--max-origins N] [--max-destinations N] [--settings matcher.toml]
        [--preset default|turns|free-flow] [--json OUT]
    python benchmarks/realism.py --setup    # only create the OSRM venv
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csgraph

from matcher import network, traveltime
from matcher.config import NetworkSettings, Settings, TravelSettings
from matcher.config import load as load_settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
HELPER = Path(__file__).resolve().parent / "osrm_table.py"
DEFAULT_FILES = ("oslo-east-filtered.osm.pbf", "oslo-center.osm.pbf")
LENGTH_BANDS = ((0.0, 5.0, "< 5 min"), (5.0, 15.0, "5-15 min"), (15.0, 45.0, "15-45 min"),
                (45.0, np.inf, "> 45 min"))
URBAN_BANDS = ((0.0, 0.25, "urban < 25 %"), (0.25, 0.5, "urban 25-50 %"),
               (0.5, 0.75, "urban 50-75 %"), (0.75, 1.01, "urban >= 75 %"))
URBAN_KMH = 50.0
"""A road is urban when its limit (before ``speed_factor``) is at most this, in km/h."""


# --------------------------------------------------------------------------- the OSRM venv


def _works(python: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == "True"


def find_python312() -> str:
    """A working Python >= 3.12 interpreter, or ``SystemExit`` naming where we looked."""
    candidates = [os.environ.get("FOSTERMATCH_PYTHON312", ""), shutil.which("python3.12") or "",
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
                  "/usr/bin/python3.12", "/usr/local/bin/python3.12"]
    for python in candidates:
        if python and _works(python):
            return python
    raise SystemExit("realism: no Python >= 3.12 found (set FOSTERMATCH_PYTHON312)")


def osrm_python(venv: Path | None = None) -> Path:
    """The Python of the OSRM venv, created with ``osrm-bindings`` if it does not exist."""
    venv = venv or Path(os.environ.get("FOSTERMATCH_OSRM_VENV", ROOT / ".osrm-venv"))
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import osrm"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    subprocess.run([find_python312(), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "osrm-bindings"], check=True)
    subprocess.run(check, check=True)
    return python


# --------------------------------------------------------------------------- OSRM build + table


def osrm_build(python: Path, osm: Path, work: Path, algorithm: str) -> tuple[Path, float]:
    """Build (or reuse) the OSRM files of ``osm``; return the ``.osrm`` base and seconds spent."""
    digest = hashlib.sha256(osm.read_bytes()).hexdigest()[:16]
    ext = next((e for e in (".osm.pbf", ".osm.bz2", ".osm", ".pbf")
                if osm.name.lower().endswith(e)), ".osm.pbf")
    folder = work / f"osrm-{digest}-{algorithm}"
    base, local = folder / "extract.osrm", folder / f"extract{ext}"
    done = folder / "done"
    if done.exists():
        return base, 0.0
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(osm, local)
    profile = subprocess.run([str(python), str(HELPER), "profile"], capture_output=True,
                             text=True, check=True).stdout.strip()
    steps = [["extract", "-p", profile, str(local)]]
    steps += ([["contract", str(base)]] if algorithm == "ch"
              else [["partition", str(base)], ["customize", str(base)]])
    t0 = time.perf_counter()
    for step in steps:
        out = subprocess.run([str(python), "-m", "osrm", *step], capture_output=True, text=True,
                             check=False, cwd=folder)
        if out.returncode != 0:
            raise RuntimeError(f"osrm-{step[0]} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    done.write_text("ok\n")
    return base, time.perf_counter() - t0


def osrm_minutes(python: Path, base: Path, algorithm: str, lonlat: np.ndarray,
                 sources: np.ndarray, destinations: np.ndarray) -> np.ndarray:
    """OSRM table minutes between points (``nan`` where OSRM finds no route)."""
    return osrm_table(python, base, algorithm, lonlat, sources, destinations)[0]


def osrm_table(python: Path, base: Path, algorithm: str, lonlat: np.ndarray,
               sources: np.ndarray, destinations: np.ndarray
               ) -> tuple[np.ndarray, dict[str, float]]:
    """OSRM table minutes (``nan`` where no route) and its ``load_seconds``, ``table_seconds``."""
    request = {"osrm": str(base), "algorithm": algorithm.upper(),
               "coordinates": lonlat.tolist(), "sources": sources.tolist(),
               "destinations": destinations.tolist()}
    out = subprocess.run([str(python), str(HELPER), "table"], input=json.dumps(request),
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"OSRM table failed:\n{out.stderr[-2000:]}")
    answer = json.loads(out.stdout)
    minutes = np.array([[np.nan if d is None else d for d in row] for row in answer["minutes"]],
                       dtype=float)
    return minutes, {k: float(answer.get(k, np.nan)) for k in ("load_seconds", "table_seconds")}


# --------------------------------------------------------------------------- points


def oslo_schools() -> pd.DataFrame:
    """Primary schools in Oslo: ``id, lon, lat`` (degrees, EPSG:4326)."""
    frame = pd.read_csv(DATA / "grunnskoler_norge_geocoded.csv", sep=";")
    frame = frame[frame["Kommune"] == "Oslo"].reset_index(drop=True)
    return pd.DataFrame({"id": [f"school{k}" for k in range(len(frame))],
                         "lon": frame["lng"].astype(float), "lat": frame["lat"].astype(float)})


def populated_cells() -> pd.DataFrame:
    """Centres of populated SSB 250 m cells in Oslo: ``id, lon, lat`` (degrees, EPSG:4326)."""
    import geopandas as gpd

    cells = gpd.read_file(DATA / "befolkning_250m_2023_oslo.gpkg", engine="pyogrio")
    cells = cells[cells["pop_tot"] > 0]
    centres = cells.geometry.centroid.to_crs("EPSG:4326")
    return pd.DataFrame({"id": cells["ru250m"].astype(str).to_numpy(),
                         "lon": centres.x.to_numpy(), "lat": centres.y.to_numpy()})


def national_sample(work: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The national sample's roads as PBF, its schools and its homes (``id, lon, lat``)."""
    import osmium

    from matcher.scenarios import fjord

    folder = work / "national-sample"
    if not (folder / "homes.csv").is_file():
        fjord.generate(folder, seed=1, size="national")
    pbf = folder / "roads.osm.pbf"
    if not pbf.is_file():
        tmp = folder / "roads.tmp.osm.pbf"
        tmp.unlink(missing_ok=True)
        with osmium.SimpleWriter(str(tmp)) as writer:
            for obj in osmium.FileProcessor(str(folder / "roads.osm")):
                writer.add(obj)
        tmp.rename(pbf)

    def points(name: str, id_col: str) -> pd.DataFrame:
        frame = pd.read_csv(folder / name)
        return pd.DataFrame({"id": frame[id_col].astype(str), "lon": frame["lon"].astype(float),
                             "lat": frame["lat"].astype(float)})

    return pbf, points("schools.csv", "school_id"), points("homes.csv", "home_id")


PRESETS = ("default", "turns", "free-flow")


def preset(name: str, base: NetworkSettings) -> NetworkSettings:
    """Network settings of a ``--preset`` (see the module docstring)."""
    if name == "free-flow":
        return NetworkSettings.free_flow(crs=base.crs)
    if name == "turns":  # validated again, so that the delays take the turn calibration
        kept = base.model_dump(exclude={"turn_costs", "node_delay_seconds", "junction_seconds"})
        return NetworkSettings(**kept, turn_costs=True)
    return base


def snap_inside(net: network.Network, points: pd.DataFrame, max_metres: float,
                limit: int | None) -> np.ndarray:
    """Unique nodes of the points within ``max_metres`` of our network (at most ``limit``,
    an even spread in input order)."""
    x, y = traveltime._to_crs(points["lon"].to_numpy(), points["lat"].to_numpy(), net.crs)
    dist, node = net.kdtree.query(np.column_stack([x, y]))
    nodes = np.unique(node[dist <= max_metres])
    if limit is not None and len(nodes) > limit:
        nodes = nodes[np.linspace(0, len(nodes) - 1, limit).round().astype(int)]
    return nodes


def _at_nodes(nodes: np.ndarray) -> traveltime.Snapped:
    """Points exactly on these nodes (no access leg)."""
    return traveltime.Snapped(ids=np.array([str(n) for n in nodes], dtype=object), node=nodes,
                              access_minutes=np.zeros(len(nodes)),
                              distance_m=np.zeros(len(nodes)))


# --------------------------------------------------------------------------- urban share


def urban_share(net: network.Network, settings: NetworkSettings, sources: np.ndarray,
                targets: np.ndarray) -> np.ndarray:
    """Share of metres on urban roads along our shortest paths, per pair."""
    edges = net.edges
    n = net.n_nodes
    # the fastest of parallel arcs, as in the graph: its metres and urban metres by arc key
    order = np.lexsort((edges["minutes"].to_numpy(), edges["v"].to_numpy(),
                        edges["u"].to_numpy()))
    key = edges["u"].to_numpy()[order].astype(np.int64) * n + edges["v"].to_numpy()[order]
    first = np.concatenate([[True], key[1:] != key[:-1]])
    key, order = key[first], order[first]
    metres = edges["length_m"].to_numpy()[order]
    urban = metres * (edges["speed_kmh"].to_numpy()[order] / settings.speed_factor
                      <= URBAN_KMH + 1e-9)
    out = np.full((len(sources), len(targets)), np.nan)
    m = net.n_road_nodes
    # a trip starts at its node or any copy (in-ports) and ends at the nearest of a target
    # and its copies
    places = [np.concatenate([[t], m + np.flatnonzero(net.copy_of == t)]) for t in targets]
    for i, source in enumerate(sources):
        starts = np.concatenate([[source], m + np.flatnonzero(net.copy_of == source)])
        dist, pred, _from = csgraph.dijkstra(net.graph, indices=starts, min_only=True,
                                             return_predecessors=True)
        has = pred >= 0
        at = np.searchsorted(key, pred[has].astype(np.int64) * n + np.flatnonzero(has))
        total, part = (_tree_sums(pred, has, w[at]) for w in (metres, urban))
        best = np.array([c[np.argmin(dist[c])] for c in places])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = part[best] / total[best]
    return out


def _tree_sums(pred: np.ndarray, has: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sum of the arc ``weight`` (one per node with a predecessor) along the tree path
    root -> every node (pointer doubling)."""
    acc = np.zeros(len(pred))
    acc[has] = weight
    up = np.where(has, pred, -1)
    while (up >= 0).any():
        step = up >= 0
        acc[step] += acc[up[step]]
        nxt = np.full_like(up, -1)
        nxt[step] = up[up[step]]
        up = nxt
    return acc


# --------------------------------------------------------------------------- one extract


@dataclass(frozen=True)
class Comparison:
    """Paired minutes of one extract (node to node, both engines)."""

    name: str
    ours: np.ndarray
    osrm: np.ndarray
    urban: np.ndarray
    osrm_seconds: float
    our_seconds: float

    @property
    def ratio(self) -> np.ndarray:
        return self.osrm / self.ours


def compare(osm: Path, settings: Settings, *, python: Path, work: Path, algorithm: str,
            max_origins: int | None, max_destinations: int | None,
            snap_metres: float = 250.0,
            points: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Comparison:
    """Build both engines on ``osm`` and return the pairs both can route (ours > 0).

    ``points`` are the origins and destinations (``id, lon, lat``); default the
    Oslo schools and populated cells.
    """
    t0 = time.perf_counter()
    net = network.build(osm, settings.network)
    starts, ends = points if points is not None else (oslo_schools(), populated_cells())
    origins = snap_inside(net, starts, snap_metres, max_origins)
    destinations = snap_inside(net, ends, snap_metres, max_destinations)
    ours = traveltime.matrix(net, _at_nodes(origins), _at_nodes(destinations),
                             TravelSettings(limit_minutes=1e6, workers=1)).minutes
    our_seconds = time.perf_counter() - t0
    base, osrm_seconds = osrm_build(python, osm, work, algorithm)
    nodes = np.concatenate([origins, destinations])
    lonlat = np.column_stack([net.lon[nodes], net.lat[nodes]])
    t1 = time.perf_counter()
    theirs = osrm_minutes(python, base, algorithm, lonlat, np.arange(len(origins)),
                          len(origins) + np.arange(len(destinations)))
    osrm_seconds += time.perf_counter() - t1
    urban = urban_share(net, settings.network, origins, destinations)
    ok = np.isfinite(ours) & np.isfinite(theirs) & (ours > 0) & (theirs > 0)
    return Comparison(osm.name, ours[ok], theirs[ok], urban[ok], osrm_seconds, our_seconds)


def _row(label: str, c: Comparison, mask: np.ndarray) -> dict[str, object]:
    if not mask.any():
        return {"group": label, "pairs": 0}
    r = c.ratio[mask]
    p10, p50, p90 = np.percentile(r, [10, 50, 90])
    return {"group": label, "pairs": int(mask.sum()), "p10": round(float(p10), 3),
            "median": round(float(p50), 3), "p90": round(float(p90), 3),
            "ours_median_min": round(float(np.median(c.ours[mask])), 2),
            "osrm_median_min": round(float(np.median(c.osrm[mask])), 2)}


def summarise(c: Comparison) -> list[dict[str, object]]:
    """Ratio rows: overall, by OSRM trip length, by urban share."""
    rows = [_row("all", c, np.ones(len(c.ours), bool))]
    rows += [_row(label, c, (c.osrm >= lo) & (c.osrm < hi)) for lo, hi, label in LENGTH_BANDS]
    rows += [_row(label, c, (c.urban >= lo) & (c.urban < hi)) for lo, hi, label in URBAN_BANDS]
    return rows


def print_table(name: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{name}: OSRM / fostermatch")
    print(f"{'group':<16}{'pairs':>8}{'p10':>8}{'median':>8}{'p90':>8}"
          f"{'ours min':>10}{'OSRM min':>10}")
    for r in rows:
        if not r["pairs"]:
            print(f"{r['group']:<16}{0:>8}")
            continue
        print(f"{r['group']:<16}{r['pairs']:>8}{r['p10']:>8.2f}{r['median']:>8.2f}"
              f"{r['p90']:>8.2f}{r['ours_median_min']:>10.1f}{r['osrm_median_min']:>10.1f}")


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, object]]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--osm", nargs="+", type=Path,
                        default=[DATA / name for name in DEFAULT_FILES])
    parser.add_argument("--national", action="store_true",
                        help="the national sample's roads (as PBF), schools to homes")
    parser.add_argument("--preset", choices=PRESETS, default="default")
    parser.add_argument("--algorithm", choices=["ch", "mld"], default="ch")
    parser.add_argument("--max-origins", type=int, default=None)
    parser.add_argument("--max-destinations", type=int, default=None)
    parser.add_argument("--settings", type=Path, default=None, help="a matcher.toml")
    parser.add_argument("--work", type=Path, default=ROOT / ".realism")
    parser.add_argument("--osrm-venv", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the tables as JSON")
    parser.add_argument("--setup", action="store_true",
                        help="only create the OSRM venv (for CI) and print its Python")
    args = parser.parse_args(argv)
    settings = load_settings(args.settings) if args.settings else Settings()
    settings = settings.model_copy(update={"network": preset(args.preset, settings.network)})
    python = osrm_python(args.osrm_venv)
    if args.setup:
        print(python)
        return {}
    args.work.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, object]]] = {}
    runs: list[tuple[Path, tuple[pd.DataFrame, pd.DataFrame] | None]] = [
        (osm, None) for osm in args.osm]
    if args.national:
        pbf, schools, homes = national_sample(args.work)
        runs = [(pbf, (schools, homes))]
    print(f"preset {args.preset}, OSRM {args.algorithm}")
    for osm, points in runs:
        c = compare(osm, settings, python=python, work=args.work, algorithm=args.algorithm,
                    max_origins=args.max_origins, max_destinations=args.max_destinations,
                    points=points)
        tables[c.name] = summarise(c)
        print_table(c.name, tables[c.name])
        print(f"  ours: build + matrix {c.our_seconds:.1f} s; OSRM ({args.algorithm}): "
              f"build + table {c.osrm_seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(tables, indent=2) + "\n", encoding="utf-8")
    return tables


if __name__ == "__main__":
    main(sys.argv[1:])
