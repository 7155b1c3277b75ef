"""Where to recruit: a maximal covering location problem (MCLP) over candidate sites."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
from scipy.spatial import cKDTree

from matcher.config import ScoringSettings, Settings
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.planning.areas import _centres
from matcher.planning.common import (
    Anchor,
    _check_choice,
    _check_minutes,
    _fit,
    _lonlat,
    _solve,
    _times,
    _transformer,
    anchor_points,
    by_recruiter,
    free_places,
    waiting,
)
from matcher.planning.coverage import within_network
from matcher.planning.what_if import _homes_frame
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = [
    "MCLPSolution",
    "RecruitResult",
    "add_coverage_constraints",
    "add_facility_count_constraint",
    "candidate_sites",
    "mclp",
    "recruit",
]

logger = logging.getLogger(__name__)

# =========================================================================== MCLP


@dataclass(frozen=True)
class MCLPSolution:
    """Solution of a maximal covering location problem.

    Attributes
    ----------
    status
        ``optimal`` or ``time_limit_feasible``.
    chosen
        Positions of the chosen candidate sites, ascending.
    covered
        Per demand point: covered by a chosen site.
    covered_weight
        Total weight of covered demand (the primary objective).
    objective
        Solver objective including the tie-break term.
    seconds
        Wall time of build and solve, in seconds.
    """

    status: str
    chosen: np.ndarray
    covered: np.ndarray
    covered_weight: float
    objective: float
    seconds: float


def add_coverage_constraints(prob: pulp.LpProblem, x: Sequence[pulp.LpVariable],
                             z: Mapping[int, pulp.LpVariable], cover: np.ndarray) -> int:
    r"""Add :math:`z_i \le \sum_{j \in N_i} x_j` for every demand point in ``z``.

    ``cover`` is the ``(n_sites, n_demand)`` boolean matrix :math:`a_{ji}`.
    Returns the number of rows added.
    """
    for i, zi in z.items():
        sites = np.flatnonzero(cover[:, i])
        prob.addConstraint(zi <= pulp.lpSum(x[int(j)] for j in sites), f"cover_{i}")
    return len(z)


def add_facility_count_constraint(prob: pulp.LpProblem, x: Sequence[pulp.LpVariable],
                                  k: int) -> int:
    r"""Add :math:`\sum_j x_j \le k` (at most ``k`` sites). Returns 1."""
    prob.addConstraint(pulp.lpSum(x) <= k, "facility_count")
    return 1


def mclp(minutes: np.ndarray, k: int, *, catchment_minutes: float,
         weights: np.ndarray | None = None, preference: np.ndarray | None = None,
         time_limit_seconds: float = 60.0,
         solver: Literal["highs", "cbc"] = "highs") -> MCLPSolution:
    r"""Maximal covering location problem (Church & ReVelle 1974), solved by HiGHS.

    Sets and data: candidate sites :math:`J`, demand points :math:`I` with
    integer weights :math:`w_i` (children: 1 each), coverage
    :math:`a_{ji} = 1` iff :math:`t_{ji} \le T` (minutes from site :math:`j`
    to demand :math:`i`), :math:`N_i = \{j : a_{ji} = 1\}`, a tie-break
    preference :math:`q_j \in [0, 1]` (population share), a site cost
    :math:`\delta = 1 / (2k)` and :math:`\varepsilon = 1 / (4k^2)`.

    .. math::

        \max\; & \sum_{i \in I} w_i z_i - \delta \sum_{j \in J} x_j
            + \varepsilon \sum_{j \in J} q_j x_j \\
        \text{s.t.}\; & z_i \le \sum_{j \in N_i} x_j \quad \forall i \in I
            \qquad \text{(add\_coverage\_constraints)} \\
        & \sum_{j \in J} x_j \le k
            \qquad \text{(add\_facility\_count\_constraint)} \\
        & x_j \in \{0, 1\}, \quad 0 \le z_i \le 1.

    :math:`z_i` may be continuous: for binary :math:`x` the optimum has
    :math:`z_i = \min(1, \sum_{j \in N_i} x_j) \in \{0, 1\}`. The order is
    lexicographic: most covered weight, then fewest sites, then most
    population. The weights are integers and
    :math:`(\delta + \varepsilon) k \le 3/4 < 1`, so neither term trades away
    covered demand; and :math:`\varepsilon q_j < \delta`, so a site that
    covers no further child is never chosen for its population. At most
    ``k`` sites are chosen: fewer when fewer cover every coverable child.
    Demand points with :math:`N_i = \emptyset` cannot be covered and get no
    variable.

    Parameters
    ----------
    minutes
        ``(n_sites, n_demand)`` minutes from each candidate site to each
        demand point (``inf`` = unreachable).
    k
        Most sites to choose, ``1 <= k <= n_sites`` (fewer when fewer cover
        every coverable demand point).
    catchment_minutes
        ``T`` in minutes (inclusive).
    weights
        Integer demand weights (default 1).
    preference
        Tie-break weights per site, scaled to [0, 1] (default 0).
    time_limit_seconds
        HiGHS time limit in seconds.

    Raises
    ------
    InputError
        If ``k`` is out of range or shapes or weights are bad (checked before
        solving, with the numbers).
    InfeasibleError
        If the solver stops without a feasible solution.
    """
    t0 = time.perf_counter()
    t = np.asarray(minutes, dtype=float)
    n_sites = t.shape[0] if t.ndim == 2 else 0
    n_dem = t.shape[1] if t.ndim == 2 else 0
    w = np.ones(n_dem) if weights is None else np.asarray(weights, dtype=float)
    q = np.zeros(n_sites) if preference is None else np.asarray(preference, dtype=float)
    problems = []
    if t.ndim != 2:
        problems.append(Problem("MCLP", _("minutes must be 2-D (sites x demand), got "
                                          "{ndim}-D").format(ndim=t.ndim)))
    if not (isinstance(k, int | np.integer) and 1 <= k <= n_sites):
        problems.append(Problem("MCLP", _("k={k} must be a whole number in 1..{sites} (the "
                                          "number of candidate sites); lower k or add sites")
                                .format(k=k, sites=n_sites)))
    if w.shape != (n_dem,) or not (np.isfinite(w).all() and (w >= 0).all()
                                   and (w == np.round(w)).all()):
        problems.append(Problem("MCLP", _("weights must be {n} whole numbers >= 0").format(
            n=n_dem)))
    if q.shape != (n_sites,) or not (np.isfinite(q).all() and (q >= 0).all()):
        problems.append(Problem("MCLP", _("preference must be {n} finite numbers >= 0").format(
            n=n_sites)))
    raise_if_problems(_("cannot build the covering model"), problems)
    _check_minutes(N_("catchment"), catchment_minutes)
    cover = t <= catchment_minutes
    q = q / q.max() if q.max() > 0 else q
    delta = 1.0 / (2.0 * k)
    eps = 1.0 / (4.0 * k * k)

    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [prob.add_variable(f"x_{j}", 0, 1, pulp.LpBinary) for j in range(n_sites)]
    coverable = np.flatnonzero(cover.any(axis=0) & (w > 0))
    z = {int(i): prob.add_variable(f"z_{i}", 0, 1) for i in coverable}
    prob.setObjective(pulp.lpSum(w[i] * zi for i, zi in z.items())
                      + pulp.lpSum((eps * q[j] - delta) * x[j] for j in range(n_sites)))
    add_coverage_constraints(prob, x, z, cover)
    add_facility_count_constraint(prob, x, int(k))
    status = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                    what=_("the covering model"))
    chosen = np.array([j for j in range(n_sites) if (x[j].value() or 0.0) > 0.5], dtype=np.int64)
    covered: np.ndarray = (np.asarray(cover[chosen].any(axis=0)) if len(chosen)
                           else np.zeros(n_dem, dtype=bool))
    return MCLPSolution(status=status, chosen=chosen, covered=covered,
                        covered_weight=float(w[covered].sum()),
                        objective=float(pulp.value(prob.objective) or 0.0),
                        seconds=time.perf_counter() - t0)


@dataclass(frozen=True)
class RecruitResult:
    """Where to recruit ``k`` new homes of one competence.

    Attributes
    ----------
    sites
        The chosen sites: ``rank`` (by children covered, then population),
        ``site_id, lon, lat, population, children_within`` (demand children
        within ``T``) and ``only_here`` (children no other chosen site covers).
    candidates
        Every candidate site with ``chosen`` and ``children_within``.
    competence
        Competence tag of the new homes.
    k, minutes
        Most sites asked for (``len(sites)`` may be fewer) and catchment ``T`` in minutes.
    suited
        Waiting children a new home of this competence would suit.
    covered_before
        Of them, children already covered by an existing suitable home.
    newly_covered
        Children the chosen sites cover that were not covered before.
    coverable
        Uncovered children that at least one candidate site could cover.
    solution
        The :class:`MCLPSolution`.
    by_pool
        The same counts per municipality cooperation of the children
        (``scoring.pools``; a municipality in no pool is its own group):
        ``pool, children, suited, covered_before, newly_covered``,
        ``course_places`` and ``course:<course>`` (course places the covered
        children need after move-in: with an existing home within ``T`` its
        best home's, else with a new home's), sorted by ``newly_covered``
        (descending), then ``pool``.
    by_recruiter
        The existing homes per recruiter (``bufetat`` or a kommunenummer,
        :func:`matcher.planning.common.by_recruiter`): homes, free places and
        the waiting children with a suitable home of theirs within ``T``.
    """

    sites: pd.DataFrame
    candidates: pd.DataFrame
    competence: str
    k: int
    minutes: float
    suited: int
    covered_before: int
    newly_covered: int
    coverable: int
    solution: MCLPSolution
    by_pool: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_recruiter: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"competence": self.competence, "k": self.k, "minutes": self.minutes,
                "status": self.solution.status, "suited": self.suited,
                "covered_before": self.covered_before, "newly_covered": self.newly_covered,
                "covered_after": self.covered_before + self.newly_covered,
                "coverable": self.coverable, "candidates": len(self.candidates),
                "chosen": len(self.sites),
                "course_places": int(self.by_pool["course_places"].sum())
                if "course_places" in self.by_pool.columns else 0,
                "sites": self.sites["site_id"].tolist()}


def _by_pool(children: pd.DataFrame, scoring: ScoringSettings, *, suits: np.ndarray,
             covered_now: np.ndarray, newly: np.ndarray,
             courses: Sequence[tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Recruitment counts per municipality cooperation of the waiting children, with the
    course places the covered children need (``course_places``, ``course:<course>``)."""
    pool = [scoring.pool_of(m) or m for m in children["municipality"].astype(str)]
    courses = list(courses) if courses is not None else [()] * len(children)
    frame = pd.DataFrame({"pool": pool, "children": 1, "suited": suits.astype(np.int64),
                          "covered_before": (suits & covered_now).astype(np.int64),
                          "newly_covered": np.asarray(newly, dtype=np.int64),
                          "course_places": [len(c) for c in courses],
                          **{f"course:{k}": [int(k in c) for c in courses]
                             for k in scoring.courses}})
    out = frame.groupby("pool", sort=True).sum().reset_index()
    out = out.assign(_k=-out["newly_covered"]).sort_values(["_k", "pool"], kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


def candidate_sites(net: Network, *, population: gpd.GeoDataFrame | None = None,
                    cell_metres: float = 500.0, max_candidates: int = 400,
                    max_snap_metres: float = 2000.0) -> pd.DataFrame:
    """Candidate sites for new homes: populated cells, else road-node grid cells.

    With ``population`` each populated cell within ``max_snap_metres`` of the
    network is a site at its centre, weighted by population; the
    ``max_candidates`` most populous are kept. Without it, square cells of
    ``cell_metres`` over the network nodes are sites at the node nearest the
    mean of the cell's nodes, weighted by their node count (a proxy for
    settlement).

    Returns
    -------
    pandas.DataFrame
        ``site_id, lon, lat`` (EPSG:4326), ``x, y`` (metres in the network's
        CRS ``net.crs``),
        ``population``, sorted by ``site_id``.
    """
    if not (isinstance(max_candidates, int) and max_candidates >= 1):
        raise InputError(_("max_candidates {value} must be a whole number >= 1").format(
            value=repr(max_candidates)))
    if population is not None:
        cells = within_network(population, net, max_snap_metres)
        cx, cy = _centres(cells)
        if cells.crs is not None and not cells.crs.equals(net.crs):
            cx, cy = _transformer(str(cells.crs), net.crs).transform(cx, cy)
        frame = pd.DataFrame({"site_id": "cell:" + cells["cell_id"].astype(str),
                              "x": cx, "y": cy,
                              "population": cells["population"].to_numpy(dtype=float)})
    else:
        if not cell_metres > 0:
            raise InputError(_("cell size {metres} m must be > 0 metres").format(
                metres=cell_metres))
        x, y = net.x[:net.n_road_nodes], net.y[:net.n_road_nodes]  # no via-node copies
        ci = np.floor(x / cell_metres).astype(np.int64)
        ri = np.floor(y / cell_metres).astype(np.int64)
        nodes = pd.DataFrame({"ci": ci, "ri": ri, "x": x, "y": y})
        g = nodes.groupby(["ci", "ri"], sort=True)
        mean = g[["x", "y"]].mean()
        counts = g.size()
        _dist, idx = cKDTree(np.column_stack([x, y])).query(mean.to_numpy())
        frame = pd.DataFrame({"site_id": [f"sq_{a}_{b}" for a, b in mean.index],
                              "x": x[idx], "y": y[idx],
                              "population": counts.to_numpy(dtype=float)})
    frame = frame.assign(_key=-frame["population"]).sort_values(["_key", "site_id"],
                                                               kind="stable")
    frame = frame.head(max_candidates).drop(columns="_key")
    lon, lat = _lonlat(frame["x"], frame["y"], net.crs)
    frame = frame.assign(lon=lon, lat=lat).sort_values("site_id", kind="stable")
    return frame[["site_id", "lon", "lat", "x", "y", "population"]].reset_index(drop=True)


def recruit(inputs: Inputs, *, competence: str, k: int, settings: Settings | None = None,
            net: Network | None = None, sites: pd.DataFrame | None = None,
            minutes: float | None = None, anchor: Anchor = "school",
            population: gpd.GeoDataFrame | None = None, site_times: TimeTable | None = None,
            home_times: TimeTable | None = None, min_age: int = 0, max_age: int = 17,
            max_candidates: int = 400, cell_metres: float = 500.0,
            progress: Callable[[int, int], None] | None = None) -> RecruitResult:
    """Choose up to ``k`` sites for new ``competence`` homes that cover the most children.

    The demand is the waiting children a new home (kind ``general``, one
    place, ages ``min_age..max_age``, competence ``competence``) would suit
    and who have no existing suitable home within ``minutes``; a site covers
    a child when the travel time from the site to the child's anchor is at
    most ``minutes``. Solved exactly by :func:`mclp`. Coverage ignores
    capacity: it is about distance to competence, not about places. The new
    homes list no language, so a child whose language is required is not
    counted as suited (recruit for the language separately).

    Parameters
    ----------
    inputs
        Validated inputs.
    competence
        Competence tag of the new homes (one of ``ScoringSettings.competences``).
    k
        Number of sites.
    settings
        All settings (default :class:`~matcher.config.Settings`): competences
        and rules of ``scoring``, ``planning.catchment_minutes``, ``travel``,
        the solver and its time limit of ``assignment``.
    net
        Road network, for candidate sites and travel times.
    sites
        Candidate sites (``site_id, lon, lat, population``); default
        :func:`candidate_sites` on ``net`` and ``population``.
    minutes, anchor
        Catchment ``T`` in minutes (default ``planning.catchment_minutes``) and
        the children's anchor.
    site_times, home_times
        Precomputed minutes site -> anchor and home -> anchor (default: on ``net``).

    Raises
    ------
    InputError
        On an unknown competence (listing the allowed ones) or ``k`` out of range.
    InfeasibleError
        If the solver finds no solution.
    """
    settings = settings or Settings()
    minutes = settings.planning.catchment_minutes if minutes is None else minutes
    _check_choice(N_("competence"), competence, settings.scoring.competences)
    _check_minutes(N_("minutes"), minutes)
    if sites is None:
        if net is None:
            raise InputError(_("give a road network (net) for candidate sites, or the sites"))
        sites = candidate_sites(net, population=population, cell_metres=cell_metres,
                                max_candidates=max_candidates,
                                max_snap_metres=settings.travel.max_snap_metres)
    if not (isinstance(k, int) and 1 <= k <= len(sites)):
        raise InputError(_("k={k} must be in 1..{sites} (the number of candidate sites); "
                           "lower k or allow more candidates (max_candidates)").format(
            k=k, sites=len(sites)))
    children = waiting(inputs)
    points = anchor_points(children, anchor)
    new_home = _homes_frame([{"home_id": "new", "lon": 0.0, "lat": 0.0, "municipality": "0000",
                              "capacity": 1, "competences": (competence,), "min_age": min_age,
                              "max_age": max_age, "kind": "general", "kin_of": None,
                              "accepts_sibling_groups": False}])
    trainable = settings.assignment.trainable_needs
    new_fit = _fit(children, new_home, np.ones(1, dtype=np.int64), settings.scoring,
                   trainable_needs=trainable)
    suits = new_fit.suitable()[:, 0]
    courses_new = new_fit.courses(new_fit.suitable(), settings.scoring)
    courses_now: list[tuple[str, ...]] = [()] * len(children)
    usable = np.zeros((len(children), len(inputs.homes)), dtype=bool)
    if suits.any():
        ht = _times(home_times, net, inputs.homes, points, settings.travel, origin_id="home_id",
                    destination_id="anchor_id", progress=progress)
        fit = _fit(children, inputs.homes, free_places(inputs), settings.scoring,
                   trainable_needs=trainable)
        usable = fit.suitable() & (ht.minutes <= minutes).T
        covered_now = usable.any(axis=1)
        courses_now = fit.courses(usable, settings.scoring)
        st = _times(site_times, net, sites, points, settings.travel, origin_id="site_id",
                    destination_id="anchor_id", progress=progress).minutes
    else:
        covered_now = np.zeros(len(children), dtype=bool)
        st = np.full((len(sites), len(children)), np.inf)
    demand = suits & ~covered_now
    weights = demand.astype(float)
    sol = mclp(st, k, catchment_minutes=minutes, weights=weights,
               preference=sites["population"].to_numpy(dtype=float),
               time_limit_seconds=settings.assignment.time_limit_seconds,
               solver=settings.assignment.solver)
    within = ((st <= minutes) & demand[None, :])
    cand = sites[["site_id", "lon", "lat", "population"]].copy()
    cand["children_within"] = within.sum(axis=1).astype(np.int64)
    cand["chosen"] = False
    cand.loc[cand.index[sol.chosen], "chosen"] = True
    chosen = cand.iloc[sol.chosen].copy()
    chosen_within = within[sol.chosen]
    others = chosen_within.sum(axis=0)
    chosen["only_here"] = (chosen_within & (others == 1)[None, :]).sum(axis=1).astype(np.int64)
    chosen = chosen.assign(_a=-chosen["children_within"], _b=-chosen["population"]).sort_values(
        ["_a", "_b", "site_id"], kind="stable").drop(columns=["_a", "_b", "chosen"])
    chosen.insert(0, "rank", np.arange(1, len(chosen) + 1))
    result = RecruitResult(
        sites=chosen.reset_index(drop=True), candidates=cand, competence=competence, k=k,
        minutes=float(minutes), suited=int(suits.sum()), covered_before=int((suits &
                                                                             covered_now).sum()),
        newly_covered=int((sol.covered & demand).sum()),
        coverable=int((demand & (st <= minutes).any(axis=0)).sum()), solution=sol,
        by_pool=_by_pool(children, settings.scoring, suits=suits,
                         covered_now=np.asarray(covered_now, dtype=bool),
                         newly=sol.covered & demand,
                         courses=[courses_new[c] if (sol.covered & demand)[c]
                                  else courses_now[c] for c in range(len(children))]),
        by_recruiter=by_recruiter(inputs.homes, free_places(inputs), usable))
    logger.info(_("recruit {competence}: k={k}, {sites} candidate sites, {newly} children newly "
                  "covered of {coverable} coverable").format(
        competence=competence, k=k, sites=len(sites), newly=result.newly_covered,
        coverable=result.coverable))
    return result
