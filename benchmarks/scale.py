"""Measure a whole match (scoring + assignment) as the number of homes grows.

Synthetic inputs on a 300 x 300 km square (children in a few towns, homes
spread more widely), travel times precomputed as straight-line minutes at
60 km/h (``inf`` beyond 90 minutes), so that only scoring and the assignment
are measured. Each size runs in its own process; peak RSS is its
``ru_maxrss``.

Usage::

    python benchmarks/scale.py [--children 1000] [--homes 2000,5000,10000]
    python benchmarks/scale.py --children 1000 --guard 200000

Prints, per size: children x homes (the pairs a match scores), feasible
pairs, travel-table MiB, peak RSS MiB, wall seconds and the guard's
estimate (:func:`matcher.pipeline.estimate`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from matcher import config, pipeline, schema
from matcher.errors import InputError
from matcher.timetable import TimeTable

AS_OF = datetime.date(2026, 11, 1)


def instance(n_children: int, n_homes: int, *, seed: int = 0,
             with_times: bool = True) -> tuple[schema.Inputs, TimeTable | None]:
    """Validated synthetic inputs and (``with_times``) their travel-time table (minutes)."""
    rng = np.random.default_rng(seed)
    towns = rng.uniform(0, 300, size=(12, 2))
    town = rng.integers(0, len(towns), n_children)
    child_xy = towns[town] + rng.normal(0, 8, size=(n_children, 2))
    school_xy = child_xy + rng.normal(0, 3, size=(n_children, 2))
    home_xy = np.where(rng.random((n_homes, 1)) < 0.6,
                       towns[rng.integers(0, len(towns), n_homes)]
                       + rng.normal(0, 15, size=(n_homes, 2)),
                       rng.uniform(0, 300, size=(n_homes, 2)))

    def lonlat(xy: np.ndarray) -> tuple[list[str], list[str]]:
        return ([f"{5 + x / 60:.6f}" for x in xy[:, 0]], [f"{59 + y / 110:.6f}" for y in xy[:, 1]])

    c_lon, c_lat = lonlat(child_xy)
    s_lon, s_lat = lonlat(school_xy)
    child_ids = [f"c{i:05d}" for i in range(n_children)]
    children = pd.DataFrame({
        "child_id": child_ids, "lon": c_lon, "lat": c_lat, "school_lon": s_lon,
        "school_lat": s_lat, "municipality": [f"{4600 + t:04d}" for t in town],
        "age": rng.integers(0, 18, n_children).astype(str),
        "urgency": np.where(rng.random(n_children) < 0.2, "acute", "planned")})
    h_lon, h_lat = lonlat(home_xy)
    min_age = rng.integers(0, 10, n_homes)
    homes = pd.DataFrame({
        "home_id": [f"h{i:06d}" for i in range(n_homes)], "lon": h_lon, "lat": h_lat,
        "municipality": [f"{4600 + t:04d}" for t in rng.integers(0, len(towns), n_homes)],
        "capacity": rng.choice([0, 1, 2], n_homes, p=[0.6, 0.3, 0.1]).astype(str),
        "min_age": min_age.astype(str), "max_age": (min_age + rng.integers(5, 12, n_homes))
        .astype(str), "kind": "general"})
    n_contacts = n_children
    owner = rng.integers(0, n_children, n_contacts)
    k_lon, k_lat = lonlat(child_xy[owner] + rng.normal(0, 10, size=(n_contacts, 2)))
    contacts = pd.DataFrame({"child_id": [child_ids[i] for i in owner],
                             "kind": rng.choice(["relative", "friend", "parent"], n_contacts),
                             "lon": k_lon, "lat": k_lat})
    inputs, problems = schema.check_tables(
        {"children": children, "homes": homes, "contacts": contacts},
        settings=config.ScoringSettings(), labels={}, unreadable=set())
    assert inputs is not None, problems[:3]
    if not with_times:
        return inputs, None
    anchors = schema.anchors(inputs, include_home=False)
    anchor_xy = np.column_stack([(anchors["lon"].to_numpy() - 5) * 60,
                                 (anchors["lat"].to_numpy() - 59) * 110])
    minutes = np.empty((n_homes, len(anchors)))
    for start in range(0, n_homes, 2000):
        block = home_xy[start:start + 2000, None, :] - anchor_xy[None, :, :]
        minutes[start:start + 2000] = np.hypot(block[..., 0], block[..., 1])  # km at 60 km/h
    minutes[minutes > 90] = np.inf
    times = TimeTable(inputs.homes["home_id"].to_numpy(dtype=object),
                      anchors["anchor_id"].to_numpy(dtype=object), minutes)
    return inputs, times


def guard(n_children: int, n_homes: int) -> None:
    """Time the scale guard on a match over the default budget (no travel table is made)."""
    inputs, _ = instance(n_children, n_homes, with_times=False)
    t0 = time.perf_counter()
    try:
        pipeline.check_scale(inputs, config.Settings())
        print("within the budget")
    except InputError as exc:
        print(f"refused in {time.perf_counter() - t0:.2f} s (exit {exc.exit_code}): {exc}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(inputs included)")


def measure(n_children: int, n_homes: int) -> dict[str, float]:
    """One match in this process; return its figures."""
    inputs, times = instance(n_children, n_homes)
    assert times is not None
    settings = config.Settings()
    need = pipeline.estimate(inputs, settings)
    t0 = time.perf_counter()
    result = pipeline.run(inputs, settings, times=times, as_of=AS_OF)
    seconds = time.perf_counter() - t0
    return {"children": n_children, "homes": n_homes, "pairs": n_children * n_homes,
            "feasible_pairs": int(result.scored.pairs["feasible"].sum()),
            "times_mib": times.minutes.nbytes / 2**20, "seconds": seconds,
            "estimate_mib": need.memory_mb, "placed": result.summary.placed,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--homes", default="2000,5000,10000")
    parser.add_argument("--guard", type=int, metavar="HOMES",
                        help="only time the scale guard on CHILDREN x HOMES (e.g. 200000)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.guard:
        guard(args.children, args.guard)
        return
    sizes = [int(h) for h in args.homes.split(",")]
    if args.one:
        print(json.dumps(measure(args.children, sizes[0])))
        return
    print(f"{'children':>8} {'homes':>7} {'pairs':>11} {'feasible':>9} {'times MiB':>9} "
          f"{'estimate MiB':>12} {'peak RSS MiB':>12} {'seconds':>8}")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", "--children",
                              str(args.children), "--homes", str(n)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['children']:>8,} {r['homes']:>7,} {r['pairs']:>11,} {r['feasible_pairs']:>9,} "
              f"{r['times_mib']:>9.0f} {r['estimate_mib']:>12.0f} {r['peak_rss_mib']:>12.0f} "
              f"{r['seconds']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
