"""SYNTHETIC support data for the samples (issue 25): supervisors, relief homes, venues and
the children's relief needs, deterministic by seed, drawn from their own random stream
(``[seed, 25]``) so that every other column of a sample keeps its values.

Distributions
-------------
- Supervisors: one per 5 children (at least 3), at the position of a random
  non-kinship home of the sample (so on the road network), in its
  municipality; ``visits_per_year`` 8, 12, 16 or 20 (20/30/30/20 %).
- Relief homes: one per 3 children (at least 3), placed like supervisors;
  ``weekends_per_month`` 1, 2 or 3 (30/50/20 %). One in ten is kin: it lies
  within 2 km of a child of the sample (at a home position) and has
  ``kin_of`` that child (or its sibling group).
- Venues: two per municipality (at least 2), at home positions; ``max_runs``
  empty (no limit).
- Children: ``relief_weekends`` 1 (25 %), 2 (8 %), else empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SYNTHETIC_LABEL", "relief_weekends", "support_tables"]

SYNTHETIC_LABEL = "SYNTHETIC"
"""Written in the id of every synthetic supporter (``SYN-S001``) is the ``SYN`` prefix."""

_VISITS = (np.array([8, 12, 16, 20]), np.array([0.2, 0.3, 0.3, 0.2]))
_WEEKENDS = (np.array([1, 2, 3]), np.array([0.3, 0.5, 0.2]))
_NEED = (np.array([0, 1, 2]), np.array([0.67, 0.25, 0.08]))


def relief_weekends(children: pd.DataFrame, seed: int) -> pd.arrays.IntegerArray:
    """Weekends a month of relief each child's placement needs (empty: none); siblings share."""
    rng = np.random.default_rng([seed, 25, 1])
    drawn = rng.choice(_NEED[0], size=len(children), p=_NEED[1])
    group = children["sibling_group"].astype(object).to_numpy()
    first: dict[str, int] = {}
    for i, g in enumerate(group):
        if isinstance(g, str):
            drawn[i] = drawn[first.setdefault(g, i)]
    return pd.array([None if v == 0 else int(v) for v in drawn], dtype="Int64")


def support_tables(children: pd.DataFrame, homes: pd.DataFrame, seed: int, *,
                   prefix: str = "SYN", n_supervisors: int | None = None,
                   n_relief: int | None = None, n_venues: int | None = None
                   ) -> dict[str, pd.DataFrame]:
    """Draw supervisors, relief homes and venues for a sample (see the module docstring).

    Parameters
    ----------
    children, homes
        The sample's tables (``lon, lat`` EPSG:4326, ``municipality``).
    seed
        The sample's seed.
    prefix
        Start of every id (``SYN-S001``, ``SYN-R001``, ``SYN-V01``).
    n_supervisors, n_relief, n_venues
        Counts instead of the rules above (venues: spread over the municipalities
        in turn, for the benchmark).

    Returns
    -------
    dict
        ``supervisors``, ``relief_homes``, ``venues``.
    """
    rng = np.random.default_rng([seed, 25])
    pool = homes[homes["kind"].astype(str) != "kinship"].reset_index(drop=True)
    n_c = len(children)
    n_s = max(3, n_c // 5) if n_supervisors is None else n_supervisors
    pick = rng.choice(len(pool), size=min(n_s, len(pool)), replace=False)
    supervisors = pd.DataFrame({
        "supervisor_id": [f"{prefix}-S{i + 1:03d}" for i in range(len(pick))],
        "lon": pool["lon"].to_numpy()[pick], "lat": pool["lat"].to_numpy()[pick],
        "municipality": pool["municipality"].astype(str).to_numpy()[pick],
        "visits_per_year": rng.choice(_VISITS[0], size=len(pick), p=_VISITS[1])})
    n_r = max(3, n_c // 3) if n_relief is None else n_relief
    pick = rng.choice(len(pool), size=min(n_r, len(pool)), replace=False)
    kin_of = np.full(len(pick), "", dtype=object)
    lon = pool["lon"].to_numpy(dtype=float)[pick].copy()
    lat = pool["lat"].to_numpy(dtype=float)[pick].copy()
    # one in ten is kin of a child: moved to the home position nearest that child
    hl, ha = pool["lon"].to_numpy(dtype=float), pool["lat"].to_numpy(dtype=float)
    for k in np.flatnonzero(rng.random(len(pick)) < 0.1):
        c = int(rng.integers(n_c))
        cl, ca = float(children["lon"].iloc[c]), float(children["lat"].iloc[c])
        d = np.hypot((hl - cl) * 55.0, (ha - ca) * 111.0)  # km, good enough at 60° N
        j = int(np.argmin(d))
        if d[j] <= 2.0:
            g = children["sibling_group"].iloc[c]
            kin_of[k] = g if isinstance(g, str) and g else str(children["child_id"].iloc[c])
            lon[k], lat[k] = hl[j], ha[j]
    relief = pd.DataFrame({
        "relief_id": [f"{prefix}-R{i + 1:03d}" for i in range(len(pick))], "lon": lon,
        "lat": lat, "municipality": pool["municipality"].astype(str).to_numpy()[pick],
        "weekends_per_month": rng.choice(_WEEKENDS[0], size=len(pick), p=_WEEKENDS[1]),
        "kin_of": pd.array([v or None for v in kin_of], dtype="string")})
    rows = []
    munis = sorted(set(pool["municipality"].astype(str)))
    per = {m: 2 for m in munis} if n_venues is None else {
        m: n_venues // len(munis) + (k < n_venues % len(munis)) for k, m in enumerate(munis)}
    for muni in munis:
        mine = np.flatnonzero(pool["municipality"].astype(str).to_numpy() == muni)
        for j in rng.choice(mine, size=min(per[muni], len(mine)), replace=False):
            rows.append((muni, float(hl[j]), float(ha[j])))
    venues = pd.DataFrame({"venue_id": [f"{prefix}-V{i + 1:02d}" for i in range(len(rows))],
                           "lon": [r[1] for r in rows], "lat": [r[2] for r in rows],
                           "municipality": [r[0] for r in rows],
                           "max_runs": pd.array([None] * len(rows), dtype="Int64")})
    return {"supervisors": supervisors, "relief_homes": relief, "venues": venues}
