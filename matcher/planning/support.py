"""Support for foster homes: resource families (an assignment model), local networks and cafés."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pulp
from scipy.optimize import linear_sum_assignment

from matcher import i18n, tables
from matcher.config import Settings
from matcher.errors import InputError, raise_if_problems
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.planning import followup
from matcher.planning.common import MAX_HOMES_PER_FAMILY, _solve, travel_times

__all__ = [
    "FAMILY_COLUMNS",
    "SupportAssignment",
    "SupportPlan",
    "add_cardinality_floor",
    "add_family_capacity_constraints",
    "add_one_family_constraints",
    "assign_resource_families",
    "cafes",
    "cooperation_of",
    "group_homes",
    "local_networks",
    "support_plan",
    "validate_families",
]

logger = logging.getLogger(__name__)

# =========================================================================== resource families


FAMILY_COLUMNS: dict[str, bool] = {c.name: c.required for c in
                                   tables.SPECS["resource_families"].columns}
"""Columns of the resource-family table, mapped to whether required."""


def validate_families(frame: pd.DataFrame, *, max_homes: int = MAX_HOMES_PER_FAMILY,
                      source: str = N_("resource families"),
                      cooperations: Mapping[str, str] | None = None,
                      pools: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Check and normalise a resource-family table.

    Columns: ``resource_id`` (unique), ``lon, lat`` (EPSG:4326 degrees),
    ``municipality`` (4-digit code), optional ``cooperation`` (municipality
    cooperation, *interkommunalt samarbeid*) and optional ``max_homes``
    (default ``max_homes``). A family without a ``cooperation`` gets its
    municipality's: from ``cooperations`` (municipality -> cooperation), else
    the pool of ``pools`` (``scoring.pools``) holding it, else the
    municipality itself.

    Raises
    ------
    InputError
        Listing every problem.
    """
    source = _(source)  # the default is English; a file name stays as it is
    t = tables.read("resource_families", frame, label=source)
    raise_if_problems(_("{source}: invalid table").format(source=source), t.problems)
    out = t.frame()
    max_given = t.text("max_homes") != ""
    out["max_homes"] = np.where(max_given, out["max_homes"], max_homes).astype(np.int64)
    default = _default_cooperation(cooperations, pools)
    out["cooperation"] = [c if c != "" else default.get(m, m) for m, c in
                          zip(out["municipality"], out["cooperation"], strict=True)]
    return out[list(FAMILY_COLUMNS)]


def _default_cooperation(mapping: Mapping[str, str] | None,
                         pools: Mapping[str, Sequence[str]] | None) -> dict[str, str]:
    """Municipality -> cooperation from ``mapping``, then from the pools."""
    out = {m: name for name, codes in (pools or {}).items() for m in codes}
    out.update(mapping or {})
    return out


def cooperation_of(families: pd.DataFrame, mapping: Mapping[str, str] | None = None, *,
                   pools: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Municipality -> cooperation: ``mapping`` first, then the families' own pairs, then
    the pools (``scoring.pools``). A municipality in none is its own cooperation."""
    out = {m: name for name, codes in (pools or {}).items() for m in codes}
    out.update(zip(families["municipality"], families["cooperation"], strict=True))
    out.update(mapping or {})
    return out


@dataclass(frozen=True)
class SupportAssignment:
    """Foster homes assigned to resource families.

    Attributes
    ----------
    assignments
        One row per home: ``home_id, cooperation, resource_id`` (missing when
        none), ``minutes`` (home -> family) and ``reason`` ('' when assigned).
    load
        Per family: ``resource_id, cooperation, max_homes, homes``.
    status
        Solver status (``optimal`` or ``time_limit_feasible``).
    assigned
        Homes with a family (the stage-one optimum).
    total_minutes
        Sum of minutes over assigned homes (the stage-two optimum).
    """

    assignments: pd.DataFrame
    load: pd.DataFrame
    status: str
    assigned: int
    total_minutes: float

    @property
    def unassigned(self) -> list[str]:
        """Ids of homes left without a resource family."""
        return self.assignments.loc[self.assignments["resource_id"].isna(), "home_id"].tolist()


def add_one_family_constraints(prob: pulp.LpProblem, x: Mapping[tuple[int, int], pulp.LpVariable],
                               n_homes: int) -> int:
    r"""Add :math:`\sum_f x_{hf} \le 1` for every home with a variable (the homes are the
    clients of :func:`~matcher.planning.followup.add_one_server_constraints`; ``n_homes`` is
    kept for callers)."""
    return followup.add_one_server_constraints(prob, x, name="one_family")


def add_family_capacity_constraints(prob: pulp.LpProblem,
                                    x: Mapping[tuple[int, int], pulp.LpVariable],
                                    capacity: np.ndarray) -> int:
    r"""Add :math:`\sum_h x_{hf} \le m_f` for every family with a variable (each home
    counts 1, :func:`~matcher.planning.followup.add_capacity_constraints`)."""
    homes = 1 + max((h for h, _f in x), default=-1)
    return followup.add_capacity_constraints(prob, x, np.ones(homes), capacity)


def add_cardinality_floor(prob: pulp.LpProblem, x: Mapping[tuple[int, int], pulp.LpVariable],
                          floor: int) -> int:
    r"""Add :math:`\sum_{h,f} x_{hf} \ge n^*` (keep the stage-one number assigned)."""
    return followup.add_floor(prob, pulp.lpSum(x.values()), floor, "assigned_floor")


def assign_resource_families(home_ids: Sequence[str], home_cooperation: Sequence[str],
                             families: pd.DataFrame, minutes: np.ndarray, *,
                             same_cooperation: bool = True, max_minutes: float | None = None,
                             time_limit_seconds: float = 60.0,
                             solver: Literal["highs", "cbc"] = "highs") -> SupportAssignment:
    r"""Assign foster homes to resource families: most homes, then least travel.

    A transportation problem solved lexicographically by two HiGHS solves.
    With homes :math:`H`, families :math:`F`, capacity :math:`m_f`
    (``max_homes``, default 5), minutes :math:`t_{hf}` (home -> family) and
    allowed pairs :math:`E` (finite time, within ``max_minutes`` and, with
    ``same_cooperation``, the same municipality cooperation):

    .. math::

        \text{stage 1:}\quad n^* = \max \sum_{(h,f) \in E} x_{hf} \qquad
        \text{stage 2:}\quad \min \sum_{(h,f) \in E} t_{hf} x_{hf}
            \;\text{ s.t. }\; \sum_{(h,f) \in E} x_{hf} \ge n^*
            \quad \text{(add\_cardinality\_floor)} \\
        \sum_{f : (h,f) \in E} x_{hf} \le 1 \;\forall h
            \quad \text{(add\_one\_family\_constraints)}, \qquad
        \sum_{h : (h,f) \in E} x_{hf} \le m_f \;\forall f
            \quad \text{(add\_family\_capacity\_constraints)}, \qquad
        x_{hf} \in \{0, 1\}.

    Minimising time alone would assign nobody, hence stage one.

    Parameters
    ----------
    home_ids, home_cooperation
        Ids of the homes and their cooperation (see :func:`cooperation_of`).
    families
        Validated families (:func:`validate_families`).
    minutes
        ``(n_homes, n_families)`` minutes home -> family (``inf`` = unreachable).
    same_cooperation
        Only pair a home with a family of its own cooperation (default).
    max_minutes
        Optional limit on the travel time of a pair.

    Raises
    ------
    InputError
        On mismatched shapes.
    InfeasibleError
        If the solver finds no solution.
    """
    t = np.asarray(minutes, dtype=float)
    n_h, n_f = len(home_ids), len(families)
    if t.shape != (n_h, n_f):
        raise InputError(_("minutes has shape {shape}; expected ({homes}, {families}) = "
                           "(homes, resource families)").format(shape=t.shape, homes=n_h,
                                                                families=n_f))
    h_coop = np.asarray(home_cooperation, dtype=object)
    f_coop = families["cooperation"].to_numpy(dtype=object)
    cap = families["max_homes"].to_numpy(dtype=np.int64)
    allowed = np.isfinite(t)
    if max_minutes is not None:
        allowed &= t <= max_minutes
    same = h_coop[:, None] == f_coop[None, :]
    if same_cooperation:
        allowed &= same
    allowed &= (cap > 0)[None, :]
    pairs = [(int(h), int(f)) for h, f in zip(*np.nonzero(allowed), strict=True)]
    chosen: list[tuple[int, int]] = []
    status = "optimal"
    if pairs:
        prob = pulp.LpProblem("resource_families", pulp.LpMaximize)
        x = {p: prob.add_variable(f"x_{p[0]}_{p[1]}", 0, 1, pulp.LpBinary) for p in pairs}
        add_one_family_constraints(prob, x, n_h)
        add_family_capacity_constraints(prob, x, cap)
        prob.setObjective(pulp.lpSum(x.values()))
        status = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                        what=_("the resource-family model (stage 1)"))
        n_star = round(sum(v.value() or 0.0 for v in x.values()))
        add_cardinality_floor(prob, x, n_star)
        prob.sense = pulp.LpMinimize
        prob.setObjective(pulp.lpSum(float(t[h, f]) * v for (h, f), v in x.items()))
        second = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                        what=_("the resource-family model (stage 2)"))
        status = status if second == "optimal" else second
        chosen = [p for p, v in x.items() if (v.value() or 0.0) > 0.5]
    family_of = np.full(n_h, -1, dtype=np.int64)
    for h, f in chosen:
        family_of[h] = f
    load = np.bincount(family_of[family_of >= 0], minlength=n_f)
    ids = families["resource_id"].to_numpy(dtype=object)
    reasons = []
    for h in range(n_h):
        if family_of[h] >= 0:
            reasons.append("")
            continue
        mine = same[h] if same_cooperation else np.ones(n_f, dtype=bool)
        if not mine.any():
            reasons.append(_("no resource family in cooperation {cooperation}").format(
                cooperation=h_coop[h]))
        elif not allowed[h].any() and max_minutes is not None:
            reasons.append(_("no resource family of cooperation {cooperation} reachable within "
                             "{minutes}").format(cooperation=h_coop[h],
                                                 minutes=i18n.format_minutes(max_minutes)))
        elif not allowed[h].any():
            reasons.append(_("no resource family of cooperation {cooperation} reachable")
                           .format(cooperation=h_coop[h]))
        else:
            n = int(allowed[h].sum())
            reasons.append(ngettext("the only resource family within reach is full",
                                    "all {n} resource families within reach are full", n)
                           .format(n=n))
    assignments = pd.DataFrame({
        "home_id": np.asarray(home_ids, dtype=object), "cooperation": h_coop,
        "resource_id": np.where(family_of >= 0, ids[np.maximum(family_of, 0)], None),
        "minutes": np.where(family_of >= 0, t[np.arange(n_h), np.maximum(family_of, 0)],
                            np.nan),
        "reason": reasons})
    load_frame = pd.DataFrame({"resource_id": ids, "cooperation": f_coop, "max_homes": cap,
                               "homes": load.astype(np.int64)})
    total = float(assignments["minutes"].sum())
    logger.info(_("resource families: {assigned} of {homes} homes assigned to {families} "
                  "families").format(assigned=len(chosen), homes=n_h, families=n_f))
    return SupportAssignment(assignments=assignments, load=load_frame, status=status,
                             assigned=len(chosen), total_minutes=total)


def group_homes(minutes: np.ndarray, *, size: int, max_iterations: int = 20) -> tuple[
        np.ndarray, np.ndarray]:
    """Partition homes into groups of at most ``size`` around host homes.

    Capacitated k-medoids, deterministic: ``g = ceil(n / size)`` hosts are
    chosen greedily (first the home with the least total travel from all
    others, then the one that cuts the total most, ties by position), homes
    are assigned to hosts with at most ``size`` per group by an exact
    assignment (:func:`scipy.optimize.linear_sum_assignment` on the hosts'
    places), then each group's host becomes the member with the least total
    travel from its group; repeated until the hosts stop changing.

    Parameters
    ----------
    minutes
        ``(n, n)`` minutes from home ``i`` to home ``j`` (``inf`` allowed).
    size
        Largest group size (>= 1).

    Returns
    -------
    tuple of numpy.ndarray
        Group host position of each home and the minutes to it.
    """
    if not (isinstance(size, int | np.integer) and size >= 1):
        raise InputError(_("network size {size} must be a whole number >= 1").format(
            size=repr(size)))
    t = np.asarray(minutes, dtype=float)
    n = t.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    big = 1e6
    cost = np.where(np.isfinite(t), t, big)
    np.fill_diagonal(cost, 0.0)
    g = math.ceil(n / size)
    hosts = [int(np.argmin(cost.sum(axis=0)))]
    while len(hosts) < g:
        current = cost[:, hosts].min(axis=1)
        gain = np.maximum(current[:, None] - cost, 0.0).sum(axis=0)
        gain[hosts] = -1.0
        hosts.append(int(np.argmax(gain)))
    assign = np.zeros(n, dtype=np.int64)
    for _round in range(max_iterations):
        slots = np.repeat(np.arange(len(hosts)), size)
        c = cost[:, np.asarray(hosts)][:, slots]
        for k, hst in enumerate(hosts):
            c[hst, slots != k] = big * 10  # a host stays in its own group
        rows, cols = linear_sum_assignment(c)
        assign[rows] = slots[cols]
        new_hosts = []
        for k in range(len(hosts)):
            members = np.flatnonzero(assign == k)
            within = cost[np.ix_(members, members)].sum(axis=0)
            new_hosts.append(int(members[np.argmin(within)]))
        if new_hosts == hosts:
            break
        hosts = new_hosts
    host_of = np.asarray(hosts, dtype=np.int64)[assign]
    to_host = t[np.arange(n), host_of]
    return host_of, np.where(host_of == np.arange(n), 0.0, to_host)


def local_networks(homes: pd.DataFrame, *, size: int = 6,
                   minutes_between: Callable[[pd.DataFrame], np.ndarray]) -> pd.DataFrame:
    """Group foster homes of each municipality into local networks of at most ``size``.

    Parameters
    ----------
    homes
        ``home_id, municipality`` (and whatever ``minutes_between`` needs).
    size
        Largest network size.
    minutes_between
        Returns the ``(n, n)`` minutes between the given homes (row order).

    Returns
    -------
    pandas.DataFrame
        ``home_id, municipality, network_id`` (``<municipality>-N<k>``, numbered
        by host id), ``host_home_id`` (the meeting host) and ``minutes_to_host``.
    """
    parts = []
    for muni, group in homes.sort_values("home_id", kind="stable").groupby("municipality",
                                                                          sort=True):
        group = group.reset_index(drop=True)
        host, mins = group_homes(minutes_between(group), size=size)
        ids = group["home_id"].to_numpy(dtype=object)
        host_ids = ids[host]
        number = {h: k + 1 for k, h in enumerate(sorted(set(host_ids)))}
        parts.append(pd.DataFrame({"home_id": ids, "municipality": muni,
                                   "network_id": [f"{muni}-N{number[h]:02d}" for h in host_ids],
                                   "host_home_id": host_ids, "minutes_to_host": mins}))
    if not parts:
        return pd.DataFrame(columns=["home_id", "municipality", "network_id", "host_home_id",
                                     "minutes_to_host"])
    return pd.concat(parts, ignore_index=True)


def cafes(homes: pd.DataFrame, *,
          minutes_between: Callable[[pd.DataFrame], np.ndarray]) -> pd.DataFrame:
    """Pick each municipality's *fosterhjemskafé* host: the 1-median home.

    The host is the home with the least total travel time from all homes of
    its municipality (ties by ``home_id``).

    Returns
    -------
    pandas.DataFrame
        ``municipality, host_home_id, homes, mean_minutes, max_minutes``
        (to the host; unreachable homes make them ``inf``).
    """
    rows = []
    for muni, group in homes.sort_values("home_id", kind="stable").groupby("municipality",
                                                                          sort=True):
        t = np.asarray(minutes_between(group.reset_index(drop=True)), dtype=float)
        cost = np.where(np.isfinite(t), t, 1e6)
        np.fill_diagonal(cost, 0.0)
        j = int(np.argmin(cost.sum(axis=0)))
        to_host = t[:, j].copy()
        to_host[j] = 0.0
        rows.append({"municipality": muni, "host_home_id": group["home_id"].iloc[j],
                     "homes": len(group), "mean_minutes": float(to_host.mean()),
                     "max_minutes": float(to_host.max())})
    return pd.DataFrame(rows, columns=["municipality", "host_home_id", "homes", "mean_minutes",
                                       "max_minutes"])


@dataclass(frozen=True)
class SupportPlan:
    """Resource families, local networks and cafés for the foster homes.

    Attributes
    ----------
    families
        :class:`SupportAssignment`.
    networks
        :func:`local_networks` table.
    cafes
        :func:`cafes` table.
    """

    families: SupportAssignment
    networks: pd.DataFrame
    cafes: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"homes": len(self.families.assignments), "assigned": self.families.assigned,
                "unassigned": len(self.families.unassigned),
                "total_minutes": round(self.families.total_minutes, 3),
                "status": self.families.status,
                "networks": int(self.networks["network_id"].nunique()),
                "cafes": len(self.cafes)}


def support_plan(homes: pd.DataFrame, families: pd.DataFrame, *, net: Network,
                 settings: Settings | None = None, max_homes: int | None = None,
                 same_cooperation: bool = True,
                 cooperations: Mapping[str, str] | None = None,
                 max_minutes: float | None = None, network_size: int = 6) -> SupportPlan:
    """Resource families for every foster home, plus local networks and cafés.

    Parameters
    ----------
    homes
        Normalised homes table (``home_id, lon, lat, municipality``).
    families
        Resource-family table (validated here, see :func:`validate_families`).
    net
        Road network (minutes home -> family, home -> home).
    settings
        All settings (default :class:`~matcher.config.Settings`):
        ``planning.max_homes_per_family``, ``travel``, and the solver and its
        time limit of ``assignment``.
    max_homes
        Default capacity of a family (default ``planning.max_homes_per_family``).
    same_cooperation
        Only within the home's municipality cooperation (default True).
    cooperations
        Municipality -> cooperation, for homes and for families without a
        ``cooperation`` of their own. Municipalities it leaves out take their
        pool of ``scoring.pools``; a municipality in neither is its own
        cooperation.
    max_minutes
        Optional limit on home -> family minutes.
    network_size
        Largest local network.
    """
    settings = settings or Settings()
    travel = settings.travel
    if max_homes is None:
        max_homes = settings.planning.max_homes_per_family
    pools = settings.scoring.pools
    fam = validate_families(families, max_homes=max_homes, cooperations=cooperations,
                            pools=pools)
    coop = cooperation_of(fam, cooperations, pools=pools)
    home_coop = [coop.get(m, m) for m in homes["municipality"]]
    t = travel_times(net, homes, fam, travel, origin_id="home_id", destination_id="resource_id")
    assigned = assign_resource_families(homes["home_id"].tolist(), home_coop, fam, t.minutes,
                                        same_cooperation=same_cooperation,
                                        max_minutes=max_minutes,
                                        time_limit_seconds=settings.assignment
                                        .time_limit_seconds,
                                        solver=settings.assignment.solver)

    def between(group: pd.DataFrame) -> np.ndarray:
        return travel_times(net, group, group, travel, origin_id="home_id",
                            destination_id="home_id").minutes

    networks = local_networks(homes, size=network_size, minutes_between=between)
    return SupportPlan(families=assigned, networks=networks,
                       cafes=cafes(homes, minutes_between=between))
