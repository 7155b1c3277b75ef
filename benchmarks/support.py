"""Benchmark: the support network (``matcher support``) on a synthetic sample, exact vs greedy.

Builds the fjord sample (``--size national`` by default: 1,000 children, 10,000
homes, 9 municipalities) with 200 supervisors, 300 relief homes and 20 venues
(:func:`matcher.scenarios.support.support_tables`), places every child in a
home of its own municipality (deterministic by seed: the nearest home with the
right ages by straight line, so that placements are spread like homes), and
times the support plan end to end (travel times on the road network and the
three exact models) with its peak memory.

The plain alternative, measured in the same run on the same travel times: a
greedy nearest assignment (children in id order each take the nearest
supervisor of their pool with free visits within the limit; placements needing
relief likewise the nearest relief home with free weekends, kin first; course
requests the nearest venue, runs counted as ``ceil(families / class size)``).
The script prints served counts, travel and runs of both, and the ratios.

Usage: ``PYTHONPATH=. python benchmarks/support.py [--size national|region|small] [--seed 1]
[--network-cache DIR]``
"""

from __future__ import annotations

import argparse
import datetime
import math
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from matcher import network, schema
from matcher.config import Settings
from matcher.planning import common, risk, support_network
from matcher.scenarios import fjord
from matcher.scenarios.support import support_tables


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _placements(children: pd.DataFrame, homes: pd.DataFrame) -> pd.DataFrame:
    """Each child in the nearest home (straight line) of its municipality with its age."""
    rows = []
    for c in children.itertuples(index=False):
        mine = homes[(homes["municipality"] == c.municipality) & (homes["min_age"] <= c.age)
                     & (homes["max_age"] >= c.age) & (homes["kind"] != "kinship")]
        d = np.hypot((mine["lon"] - c.lon) * 55.0, (mine["lat"] - c.lat) * 111.0)
        rows.append((c.child_id, mine["home_id"].iloc[int(np.argmin(d.to_numpy()))]))
    return pd.DataFrame(rows, columns=["child_id", "home_id"])


def _greedy(t: np.ndarray, demand: np.ndarray, capacity: np.ndarray, ok: np.ndarray,
            first: np.ndarray | None = None) -> np.ndarray:
    """Clients in order take the nearest allowed server with room (``first`` pairs before)."""
    left = capacity.astype(float).copy()
    out = np.full(len(demand), -1)
    for c in range(len(demand)):
        if demand[c] <= 0:
            continue
        cost = np.where(ok[c] & (left >= demand[c]), t[c], np.inf)
        if first is not None and np.isfinite(np.where(first[c], cost, np.inf)).any():
            cost = np.where(first[c], cost, np.inf)
        s = int(np.argmin(cost))
        if np.isfinite(cost[s]):
            out[c] = s
            left[s] -= demand[c]
    return out


def main(size: str, seed: int, cache: Path | None) -> None:
    settings = Settings()
    cfg = settings.support
    t0 = time.perf_counter()
    scenario = fjord.build(seed=seed, size=size)  # type: ignore[arg-type]
    counts = ({"n_supervisors": 200, "n_relief": 300, "n_venues": 20} if size == "national"
              else {})
    extra = support_tables(scenario.children, scenario.homes, seed, **counts)
    inputs = schema.validate(scenario.children, scenario.homes, settings=settings.scoring)
    placed = support_network.placements_of(
        inputs.children, proposals=_placements(inputs.children, inputs.homes))
    t_build = time.perf_counter() - t0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        osm = Path(tmp) / "roads.osm"
        fjord._write_osm(osm, scenario)
        t0 = time.perf_counter()
        net = network.build(osm, settings.network, cache_dir=cache or Path(tmp) / "net")
        t_net = time.perf_counter() - t0
    print(f"{size} sample (seed {seed}): {len(placed):,} placements in "
          f"{placed['home_id'].nunique():,} homes, {len(extra['supervisors'])} supervisors, "
          f"{len(extra['relief_homes'])} relief homes, {len(extra['venues'])} venues; "
          f"sample {t_build:.1f} s, network {t_net:.1f} s ({net.n_nodes:,} nodes)")

    cache_t: dict[tuple[int, int, str, str], np.ndarray] = {}

    def minutes(o: pd.DataFrame, oid: str, d: pd.DataFrame, did: str) -> np.ndarray:
        key = (len(o), len(d), str(o[oid].iloc[0]) if len(o) else "", did)
        if key not in cache_t:
            cache_t[key] = common.travel_times(net, o, d, settings.travel, origin_id=oid,
                                               destination_id=did).minutes
        return cache_t[key]

    t0 = time.perf_counter()
    plan = support_network.support_network(
        placed, inputs.homes, inputs.children, supervisors=extra["supervisors"],
        relief_homes=extra["relief_homes"], venues=extra["venues"], minutes=minutes,
        settings=settings)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    support_network.support_network(
        placed, inputs.homes, inputs.children, supervisors=extra["supervisors"],
        relief_homes=extra["relief_homes"], venues=extra["venues"], minutes=minutes,
        settings=settings)
    t_solve = time.perf_counter() - t0  # travel times cached: the models and the assembly
    flags = risk.risk_flags(plan, inputs.children,
                            as_of=datetime.date.fromisoformat(str(fjord.REFERENCE_DATE)),
                            minutes=minutes, contacts=inputs.contacts, homes=inputs.homes,
                            settings=settings)
    s = plan.summary()
    print(f"support plan: {t_plan:.1f} s with travel times, {t_solve:.1f} s models only; "
          f"peak memory {peak_rss_mb():,.0f} MiB; status {s['status']}; seconds by part "
          f"{plan.seconds}")

    # ---- the greedy alternative on the same matrices
    sup = support_network.read_support_table("supervisors", extra["supervisors"])
    sup = sup.sort_values("supervisor_id").reset_index(drop=True)
    p = plan.placements
    pts = inputs.homes.set_index("home_id").loc[p["home_id"], ["lon", "lat"]].reset_index()
    pts["id"] = [f"{c}@{h}" for c, h in zip(p["child_id"], p["home_id"], strict=True)]
    t_sup = minutes(pts, "id", sup, "supervisor_id")
    pool = {m: n for n, codes in settings.scoring.pools.items() for m in codes}
    ok = ((p["pool"].to_numpy()[:, None]
           == np.array([pool.get(m, m) for m in sup["municipality"]])[None, :])
          & (t_sup <= cfg.supervisor_max_minutes))
    cap = np.array([round(v) if np.isfinite(v) else cfg.supervisor_visits
                    for v in sup["visits_per_year"].astype(float)])
    v = np.full(len(p), cfg.visits_per_child)
    g = _greedy(t_sup, v, cap, ok)
    g_served = int((g >= 0).sum())
    g_hours = float(sum(2 * v[c] * t_sup[c, s] for c, s in enumerate(g) if s >= 0)) / 60
    o_hours = s["supervisor_hours_year"]
    print(f"supervisors  exact: {s['with_supervisor']:,} served, {o_hours:,.1f} h/year | "
          f"greedy: {g_served:,} served, {g_hours:,.1f} h/year | "
          f"greedy/exact travel {g_hours / max(o_hours, 1e-9):.2f}x")
    print(f"relief       exact: {s['with_relief']:,} of {s['need_relief']:,} served "
          f"({s['relief_by_kin']} by kin), "
          f"{float(p.loc[p['relief_id'].notna(), 'relief_minutes'].sum()):,.0f} min in total")
    courses = plan.courses
    ven = support_network.read_support_table("venues", extra["venues"])
    ven = ven.sort_values("venue_id").reset_index(drop=True)
    req = inputs.homes.set_index("home_id").loc[courses["home_id"], ["lon", "lat"]].reset_index()
    req["id"] = [f"{h}:{k}" for h, k in zip(courses["home_id"], courses["course"], strict=True)]
    t_ven = minutes(req, "id", ven, "venue_id")
    near = np.where(t_ven <= cfg.course_max_minutes, t_ven, np.inf)
    best = near.argmin(axis=1) if len(courses) else np.zeros(0, dtype=int)
    reach = np.isfinite(near.min(axis=1)) if len(courses) else np.zeros(0, dtype=bool)
    per = pd.Series(1, index=pd.MultiIndex.from_arrays(
        [courses["course"][reach], best[reach]])).groupby(level=[0, 1]).sum()
    g_runs = int(sum(math.ceil(n / cfg.course_max_class) for n in per))
    g_min = float(near.min(axis=1)[reach].sum()) if len(courses) else 0.0
    o_min = float(courses["minutes"].sum())
    print(f"courses      exact: {s['course_requests_served']:,} of {s['course_requests']:,} "
          f"requests in {s['course_runs']} runs, {o_min:,.0f} min | nearest venue: "
          f"{int(reach.sum()):,} in {g_runs} runs, {g_min:,.0f} min | runs nearest/exact "
          f"{g_runs / max(s['course_runs'], 1):.2f}x, travel exact/nearest "
          f"{o_min / max(g_min, 1e-9):.2f}x")
    print(f"homes with a full support network: 0 before, {s['homes_full']:,} of {s['homes']:,} "
          f"after; flags by reason: {flags['flag'].value_counts().sort_index().to_dict()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=fjord.SIZES, default="national")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--network-cache", type=Path, default=None)
    args = parser.parse_args()
    main(args.size, args.seed, args.network_cache)
