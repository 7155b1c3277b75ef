"""Benchmark the assignment model on synthetic instances: HiGHS against CBC.

Instances are generated with numpy (seeded) on a unit square: children cluster
in a few towns more than homes do, so local shortages arise. Each child's
feasible homes are a random ~77 % of its 130 nearest homes (about 100); siblings
share a location, so their feasible sets overlap. Scores fall in 0.05 steps by
distance band (many ties), a few needs are met by training, 65 % of homes take
no sibling groups, most have no free place (about one place per child overall;
``--ample`` gives about three), and 1 % of children are locked.

Usage::

    python benchmarks/assignment.py [--quick] [--ample] [--cbc-limit SECONDS] [--policy POLICY]

``--quick`` runs the regional instance only (300 children x 2,000 homes);
the full run adds the national one (1,000 x 10,000). Each solver runs the
default settings (``together`` policy, mip_gap 0); CBC gets a per-stage time
limit so that the script finishes.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher import assignment
from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError

AS_OF = datetime.date(2025, 1, 1)
SHORTAGE = (0.92, 0.06, 0.015, 0.005)
"""Free places per home (0-3): about one place per child overall, short locally."""
AMPLE = (0.75, 0.20, 0.04, 0.01)
"""About three places per child: stage one places almost everyone who fits."""


@dataclass(frozen=True)
class Instance:
    """A named synthetic problem."""

    name: str
    problem: assignment.AssignmentProblem


def generate(
    name: str,
    n_children: int,
    n_homes: int,
    *,
    feasible_per_child: int = 100,
    sibling_share: float = 0.15,
    locked_share: float = 0.01,
    capacity_p: tuple[float, float, float, float] = SHORTAGE,
    seed: int = 0,
) -> Instance:
    """Generate a synthetic instance.

    Parameters
    ----------
    name
        Label printed in the report.
    n_children, n_homes
        Table sizes.
    feasible_per_child
        Target mean number of feasible homes per child.
    sibling_share
        Share of children in sibling groups of 2-3.
    locked_share
        Share of children (outside sibling groups) already placed.
    capacity_p
        Probabilities of 0, 1, 2 and 3 free places per home.
    seed
        Seed of ``numpy.random.default_rng``.
    """
    rng = np.random.default_rng(seed)
    towns = rng.random((6, 2))

    def place(n: int, clustered: float) -> np.ndarray:
        pts = rng.random((n, 2))
        near = rng.random(n) < clustered
        town = rng.integers(0, len(towns), n)
        pts[near] = towns[town[near]] + rng.normal(0.0, 0.04, (int(near.sum()), 2))
        return pts

    # Children: family by family, siblings share a location.
    sizes: list[int] = []
    in_groups = 0
    while len(sizes) < n_children:
        if in_groups < sibling_share * n_children and rng.random() < 0.5:
            k = int(rng.integers(2, 4))
            sizes.append(k)
            in_groups += k
        else:
            sizes.append(1)
    sizes_arr = np.array(sizes)
    cut = np.searchsorted(np.cumsum(sizes_arr), n_children)
    sizes_arr = sizes_arr[: cut + 1]
    sizes_arr[-1] -= int(sizes_arr.sum()) - n_children
    sizes_arr = sizes_arr[sizes_arr > 0]
    family = np.repeat(np.arange(len(sizes_arr)), sizes_arr)
    family_xy = place(len(sizes_arr), 0.7)
    family_xy[family]
    child_ids = np.array([f"C{i:05d}" for i in range(n_children)], dtype=object)
    group = np.array(
        [f"G{f:05d}" if sizes_arr[f] >= 2 else None for f in family], dtype=object
    )
    acute = rng.random(n_children) < 0.2
    waited = rng.integers(0, 730, n_children)
    since = pd.to_datetime(AS_OF) - pd.to_timedelta(waited, unit="D")
    children = pd.DataFrame(
        {
            "child_id": child_ids,
            "sibling_group": pd.Series(group, dtype=object),
            "urgency": np.where(acute, "acute", "planned"),
            "waiting_since": since,
        }
    )

    home_xy = place(n_homes, 0.5)
    homes = pd.DataFrame(
        {
            "home_id": np.array([f"H{i:05d}" for i in range(n_homes)], dtype=object),
            "capacity": rng.choice([0, 1, 2, 3], n_homes, p=list(capacity_p)),
            "accepts_sibling_groups": rng.random(n_homes) < 0.35,
        }
    )

    # Feasible pairs: a random subset of each family's nearest homes.
    near = round(feasible_per_child / 0.77)
    pc, ph, dist = [], [], []
    for start in range(0, len(sizes_arr), 256):
        block = family_xy[start : start + 256]
        d = np.sqrt(((block[:, None, :] - home_xy[None, :, :]) ** 2).sum(-1))
        idx = np.argpartition(d, near, axis=1)[:, :near]
        for f_local, homes_f in enumerate(idx):
            f = start + f_local
            for c in np.flatnonzero(family == f):
                keep = homes_f[rng.random(near) < 0.77]
                pc.append(np.full(len(keep), c))
                ph.append(keep)
                dist.append(d[f_local, keep])
    pc_arr, ph_arr, d_arr = np.concatenate(pc), np.concatenate(ph), np.concatenate(dist)
    band = np.minimum((d_arr / 0.03).astype(int), 8)
    score = np.clip(0.95 - 0.05 * band + np.where(rng.random(len(band)) < 0.02, 0.4, 0.0), 0, 1)
    pairs = pd.DataFrame(
        {
            "child_id": child_ids[pc_arr],
            "home_id": homes["home_id"].to_numpy()[ph_arr],
            "score": np.round(score, 2),
            "n_training": rng.choice([0, 1, 2], len(pc_arr), p=[0.85, 0.12, 0.03]),
        }
    )

    # Locked: a few children outside sibling groups, in a feasible home with room.
    free = homes["capacity"].to_numpy().copy()
    locked_rows = []
    candidates = rng.permutation(np.flatnonzero(sizes_arr[family] == 1))
    target = int(locked_share * n_children)
    by_child = pairs.groupby("child_id").indices
    for c in candidates:
        if len(locked_rows) >= target:
            break
        rows = by_child.get(child_ids[c])
        if rows is None:
            continue
        hs = ph_arr[rows]
        hs = hs[free[hs] > 0]
        if len(hs):
            free[hs[0]] -= 1
            locked_rows.append((child_ids[c], homes["home_id"].iat[hs[0]]))
    locked = pd.DataFrame(locked_rows, columns=["child_id", "home_id"], dtype=object)

    problem = assignment.AssignmentProblem.build(
        children, homes, pairs, locked, AssignmentSettings(), AS_OF
    )
    return Instance(name, problem)


def run(
    instance: Instance, solver: str, limit: float, policy: str
) -> assignment.AssignmentResult | None:
    """Solve once and print one line of figures (times in seconds)."""
    settings = AssignmentSettings(
        solver=solver, time_limit_seconds=limit, sibling_policy=policy  # type: ignore[arg-type]
    )
    t0 = time.perf_counter()
    try:
        result = assignment.solve(instance.problem, settings)
    except InfeasibleError as exc:
        print(f"  {solver:<6} no solution after {time.perf_counter() - t0:.1f} s: {exc}")
        return None
    t = result.timings
    print(
        f"  {solver:<6} build {t['build']:6.2f} s  stage1 {t['stage1']:7.2f} s  "
        f"stage2 {t['stage2']:7.2f} s  total {t['total']:7.2f} s  {result.status:<19} "
        f"gap {result.mip_gap:.2e}  placed {result.placed_count}/{len(result.assignments)}  "
        f"z1 {result.objective_stage1:.4f}  z2 {result.objective_stage2:.4f}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print build time, solve times, status and gap."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="regional instance only")
    parser.add_argument("--cbc-limit", type=float, default=None,
                        help="CBC time limit per stage in seconds (default 60, quick 30)")
    parser.add_argument("--ample", action="store_true",
                        help="about three free places per child instead of one")
    parser.add_argument("--policy", default="together",
                        choices=["together", "prefer_together", "independent"],
                        help="sibling policy (default: together)")
    args = parser.parse_args(argv)
    cbc_limit = args.cbc_limit or (30.0 if args.quick else 60.0)

    specs = [("regional 300 x 2,000", 300, 2_000, 1)]
    if not args.quick:
        specs.append(("national 1,000 x 10,000", 1_000, 10_000, 2))
    for label, n_c, n_h, seed in specs:
        t0 = time.perf_counter()
        inst = generate(label, n_c, n_h, seed=seed,
                        capacity_p=AMPLE if args.ample else SHORTAGE)
        p = inst.problem
        n_groups = p.children["sibling_group"].dropna().nunique()
        print(
            f"{label}: {len(p.pairs):,} feasible pairs "
            f"({len(p.pairs) / len(p.children):.0f} per child), {n_groups} sibling groups, "
            f"{int(p.homes['capacity'].sum()):,} places, {len(p.locked)} locked; "
            f"generated in {time.perf_counter() - t0:.1f} s; policy {args.policy}"
        )
        highs = run(inst, "highs", 600.0, args.policy)
        cbc = run(inst, "cbc", cbc_limit, args.policy)
        if highs is not None and cbc is not None:
            ratio = cbc.timings["total"] / highs.timings["total"]
            same = (
                abs(highs.objective_stage1 - cbc.objective_stage1) < 1e-6
                and abs(highs.objective_stage2 - cbc.objective_stage2) < 1e-6
            )
            print(f"  ratio cbc/highs total time: {ratio:.1f}x; same objectives: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
