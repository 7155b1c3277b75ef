r"""Follow-up after move-in: supervisors, relief homes and courses, each an exact assignment.

Three models on cost matrices (pure numpy in, frozen results out), solved to
optimality with the configured solver (:mod:`matcher.optimize`, HiGHS or CBC)
and lexicographically: the first stage serves as many as can be served, the
later stages keep that number (``add_floor``) and then minimise travel.

* :func:`assign_supervisors` - each placed child :math:`c` needs
  :math:`v_c` supervisor visits a year (*tilsynsbesøk*); supervisor :math:`s`
  can make :math:`K_s`. A generalised assignment problem.
* :func:`assign_relief` - each placement needing relief needs :math:`w_c`
  weekends a month; relief home :math:`r` (*besøkshjem*, *avlastning*) takes
  :math:`W_r`. Kin (a relief home with ``kin_of`` the child) comes first.
* :func:`group_courses` - the courses each home should be offered, grouped
  into runs of at most :math:`K` families at venues: a capacitated facility
  location problem with integer runs.

The tables, travel times and the plan per home are in :mod:`matcher.planning.support_network`.

Ties between optimal solutions: the models are built in id order and the
solver is deterministic, so the same input gives the same plan; which of two
equally good plans is returned is the solver's choice, not a rule.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pulp

from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.planning.common import _solve

__all__ = [
    "Allocation",
    "CourseGroups",
    "add_capacity_constraints",
    "add_class_constraints",
    "add_floor",
    "add_one_server_constraints",
    "add_open_constraints",
    "assign_relief",
    "assign_supervisors",
    "group_courses",
]

logger = logging.getLogger(__name__)

Solver = Literal["highs", "cbc"]
Pair = tuple[int, int]


@dataclass(frozen=True)
class Allocation:
    """Clients (children, placements) assigned to servers (supervisors, relief homes).

    Attributes
    ----------
    server
        ``(n_clients,)`` position of the client's server, ``-1`` when none.
    status
        Solver status of the last stage (``optimal`` or ``time_limit_feasible``).
    served
        Clients with a server (the stage-one optimum).
    cost
        The last stage's objective: travel of the chosen pairs, in the model's unit.
    kin
        Clients served by kin (relief only; 0 otherwise).
    variables
        Pair variables of the model (its size).
    """

    server: np.ndarray
    status: str
    served: int
    cost: float
    kin: int = 0
    variables: int = 0


@dataclass(frozen=True)
class CourseGroups:
    """Course requests grouped into runs at venues.

    Attributes
    ----------
    venue
        ``(n_requests,)`` position of the request's venue, ``-1`` when none.
    runs
        ``(n_courses, n_venues)`` runs of each course at each venue.
    status
        Solver status of the last stage.
    served
        Requests with a venue (the stage-one optimum).
    total_runs
        Runs (the stage-two optimum).
    minutes
        Sum of home -> venue minutes over served requests (the stage-three optimum).
    """

    venue: np.ndarray
    runs: np.ndarray
    status: str
    served: int
    total_runs: int
    minutes: float


# --------------------------------------------------------------------------- builders


def add_one_server_constraints(prob: pulp.LpProblem, x: Mapping[Pair, pulp.LpVariable],
                               name: str = "one") -> int:
    r"""Add :math:`\sum_s x_{cs} \le 1` for every client with a variable."""
    by_client: dict[int, list[pulp.LpVariable]] = {}
    for (c, _s), var in x.items():
        by_client.setdefault(c, []).append(var)
    for c, vars_ in sorted(by_client.items()):
        prob.addConstraint(pulp.lpSum(vars_) <= 1, f"{name}_{c}")
    return len(by_client)


def add_capacity_constraints(prob: pulp.LpProblem, x: Mapping[Pair, pulp.LpVariable],
                             demand: np.ndarray, capacity: np.ndarray) -> int:
    r"""Add :math:`\sum_c d_c x_{cs} \le K_s` for every server with a variable."""
    by_server: dict[int, list[tuple[float, pulp.LpVariable]]] = {}
    for (c, s), var in x.items():
        by_server.setdefault(s, []).append((float(demand[c]), var))
    for s, terms in sorted(by_server.items()):
        prob.addConstraint(pulp.lpSum(d * v for d, v in terms) <= float(capacity[s]),
                           f"capacity_{s}")
    return len(by_server)


def add_floor(prob: pulp.LpProblem, expression: pulp.LpAffineExpression, floor: float,
              name: str, *, sense: Literal["ge", "le"] = "ge") -> int:
    r"""Keep an earlier stage's optimum: :math:`e \ge f^*` (or :math:`\le`)."""
    prob.addConstraint(expression >= floor if sense == "ge" else expression <= floor, name)
    return 1


def add_open_constraints(prob: pulp.LpProblem, x: Mapping[Pair, pulp.LpVariable],
                         runs: Mapping[tuple[int, int], pulp.LpVariable],
                         course_of: np.ndarray) -> int:
    r"""Add :math:`x_{qv} \le r_{k(q)v}` (a family goes only where its course runs).

    Implied by the class constraints for integer :math:`r`; it tightens the LP
    relaxation, as in the strong formulation of facility location."""
    for (q, v), var in x.items():
        prob.addConstraint(var <= runs[(int(course_of[q]), v)], f"open_{q}_{v}")
    return len(x)


def add_class_constraints(prob: pulp.LpProblem, x: Mapping[Pair, pulp.LpVariable],
                          runs: Mapping[tuple[int, int], pulp.LpVariable],
                          course_of: np.ndarray, max_class: int) -> int:
    r"""Add :math:`\sum_{q : k(q) = k} x_{qv} \le K \, r_{kv}` for every course and venue."""
    by_run: dict[tuple[int, int], list[pulp.LpVariable]] = {}
    for (q, v), var in x.items():
        by_run.setdefault((int(course_of[q]), v), []).append(var)
    for (k, v), vars_ in sorted(by_run.items()):
        prob.addConstraint(pulp.lpSum(vars_) <= max_class * runs[(k, v)], f"class_{k}_{v}")
    return len(by_run)


# --------------------------------------------------------------------------- checks


def _check(minutes: np.ndarray, allowed: np.ndarray | None, sizes: Mapping[str, np.ndarray],
           n_clients: int, n_servers: int) -> np.ndarray:
    """The allowed pairs: given, finite minutes, positive capacity; shapes checked."""
    t = np.asarray(minutes, dtype=float)
    if t.shape != (n_clients, n_servers):
        raise InputError(_("minutes has shape {shape}; expected ({rows}, {cols})").format(
            shape=t.shape, rows=n_clients, cols=n_servers))
    for name, values in sizes.items():
        if np.any(np.asarray(values, dtype=float) < 0):
            raise InputError(_("{name} must be >= 0").format(name=name))
    ok = np.isfinite(t)
    if allowed is not None:
        a = np.asarray(allowed, dtype=bool)
        if a.shape != t.shape:
            raise InputError(_("allowed has shape {shape}; expected ({rows}, {cols})").format(
                shape=a.shape, rows=n_clients, cols=n_servers))
        ok &= a
    return ok


def _pairs(ok: np.ndarray, demand: np.ndarray, capacity: np.ndarray) -> list[Pair]:
    """Allowed pairs where the client's demand fits the server's capacity, in id order."""
    fits = (np.asarray(demand, dtype=float)[:, None] <= np.asarray(capacity, dtype=float)[None, :])
    rows, cols = np.nonzero(ok & fits)
    return [(int(c), int(s)) for c, s in zip(rows, cols, strict=True)]


def _chosen(x: Mapping[Pair, pulp.LpVariable], n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    for (c, s), var in x.items():
        if (var.value() or 0.0) > 0.5:
            out[c] = s
    return out


# --------------------------------------------------------------------------- supervisors


def assign_supervisors(minutes: np.ndarray, visits: Sequence[int] | np.ndarray,
                       capacity: Sequence[int] | np.ndarray, *,
                       allowed: np.ndarray | None = None, solver: Solver = "highs",
                       time_limit_seconds: float = 60.0) -> Allocation:
    r"""Give each placed child a supervisor: most children, then least travel a year.

    With children :math:`C`, supervisors :math:`S`, visits a year
    :math:`v_c`, capacity :math:`K_s` (visits a year), one-way minutes
    :math:`t_{cs}` (supervisor -> foster home) and allowed pairs :math:`E`
    (finite time, within the limit and the pool; ``allowed``):

    .. math::

        \text{stage 1:}\quad n^* = \max \sum_{(c,s) \in E} x_{cs} \qquad
        \text{stage 2:}\quad \min \sum_{(c,s) \in E} 2\, v_c\, t_{cs}\, x_{cs}
            \;\text{ s.t. }\; \sum x_{cs} \ge n^* \quad \text{(add\_floor)} \\
        \sum_{s} x_{cs} \le 1 \;\forall c \quad \text{(add\_one\_server\_constraints)},
        \qquad \sum_{c} v_c x_{cs} \le K_s \;\forall s
            \quad \text{(add\_capacity\_constraints)}, \qquad x_{cs} \in \{0, 1\}.

    The stage-two objective is the supervisors' travel in minutes a year
    (there and back for every visit).

    Parameters
    ----------
    minutes
        ``(n_children, n_supervisors)`` one-way minutes (``inf``: unreachable).
    visits, capacity
        Visits a year each child needs; visits a year each supervisor can make.
    allowed
        Optional ``(n_children, n_supervisors)`` mask (pool, limit).

    Returns
    -------
    Allocation
        ``cost`` is the minutes a year of travel (divide by 60 for hours).
    """
    v = np.asarray(visits, dtype=np.int64)
    cap = np.asarray(capacity, dtype=np.int64)
    t = np.asarray(minutes, dtype=float)
    ok = _check(t, allowed, {"visits": v, "capacity": cap}, len(v), len(cap))
    pairs = _pairs(ok, v, cap)
    if not pairs:
        return Allocation(np.full(len(v), -1, dtype=np.int64), "optimal", 0, 0.0)
    prob = pulp.LpProblem("supervisors", pulp.LpMaximize)
    x = {p: prob.add_variable(f"x_{p[0]}_{p[1]}", 0, 1, pulp.LpBinary) for p in pairs}
    add_one_server_constraints(prob, x)
    add_capacity_constraints(prob, x, v, cap)
    prob.setObjective(pulp.lpSum(x.values()))
    first = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                   what=_("the supervisor model (stage 1)"))
    n_star = round(pulp.value(prob.objective) or 0.0)
    add_floor(prob, pulp.lpSum(x.values()), n_star, "served_floor")
    cost = {p: 2.0 * float(v[p[0]]) * float(t[p]) for p in pairs}
    prob.sense = pulp.LpMinimize
    prob.setObjective(pulp.lpSum(cost[p] * var for p, var in x.items()))
    second = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                    what=_("the supervisor model (stage 2)"))
    server = _chosen(x, len(v))
    total = float(sum(cost[(c, int(s))] for c, s in enumerate(server) if s >= 0))
    return Allocation(server=server, status=first if second == "optimal" else second,
                      served=int((server >= 0).sum()), cost=total, variables=len(pairs))


# --------------------------------------------------------------------------- relief


def assign_relief(minutes: np.ndarray, weekends: Sequence[int] | np.ndarray,
                  capacity: Sequence[int] | np.ndarray, *, kin: np.ndarray | None = None,
                  allowed: np.ndarray | None = None, solver: Solver = "highs",
                  time_limit_seconds: float = 60.0) -> Allocation:
    r"""Give each placement that needs relief one relief home: most, then kin, then least travel.

    With placements :math:`C` needing :math:`w_c > 0` weekends a month,
    relief homes :math:`R` taking :math:`W_r`, minutes :math:`t_{cr}` (relief
    home -> foster home), kin pairs :math:`k_{cr} \in \{0,1\}` and allowed
    pairs :math:`E` (within the limits from the foster home and the school; a
    relief home with ``kin_of`` only for its own child):

    .. math::

        \text{stage 1:}\; n^* = \max \sum_E x_{cr} \quad
        \text{stage 2:}\; k^* = \max \sum_E k_{cr} x_{cr}
            \text{ s.t. } \sum x \ge n^* \quad
        \text{stage 3:}\; \min \sum_E t_{cr} x_{cr}
            \text{ s.t. } \sum x \ge n^*,\; \sum k x \ge k^* \quad \text{(add\_floor)} \\
        \sum_r x_{cr} \le 1 \;\forall c, \qquad
        \sum_c w_c x_{cr} \le W_r \;\forall r, \qquad x_{cr} \in \{0, 1\}.

    Placements with :math:`w_c = 0` get no variable.

    Returns
    -------
    Allocation
        ``cost`` is the sum of one-way minutes of the chosen pairs; ``kin``
        the placements served by kin.
    """
    w = np.asarray(weekends, dtype=np.int64)
    cap = np.asarray(capacity, dtype=np.int64)
    t = np.asarray(minutes, dtype=float)
    ok = _check(t, allowed, {"weekends": w, "capacity": cap}, len(w), len(cap))
    ok &= (w > 0)[:, None]
    k = np.zeros(t.shape, dtype=bool) if kin is None else np.asarray(kin, dtype=bool)
    pairs = _pairs(ok, w, cap)
    if not pairs:
        return Allocation(np.full(len(w), -1, dtype=np.int64), "optimal", 0, 0.0)
    prob = pulp.LpProblem("relief", pulp.LpMaximize)
    x = {p: prob.add_variable(f"x_{p[0]}_{p[1]}", 0, 1, pulp.LpBinary) for p in pairs}
    add_one_server_constraints(prob, x)
    add_capacity_constraints(prob, x, w, cap)
    served = pulp.lpSum(x.values())
    prob.setObjective(served)
    status = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                    what=_("the relief model (stage 1)"))
    add_floor(prob, served, round(pulp.value(prob.objective) or 0.0), "served_floor")
    kin_sum = pulp.lpSum(var for p, var in x.items() if k[p])
    if any(k[p] for p in pairs):
        prob.setObjective(kin_sum)
        _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
               what=_("the relief model (stage 2)"))
        add_floor(prob, kin_sum, round(pulp.value(prob.objective) or 0.0), "kin_floor")
    prob.sense = pulp.LpMinimize
    prob.setObjective(pulp.lpSum(float(t[p]) * var for p, var in x.items()))
    last = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                  what=_("the relief model (stage 3)"))
    server = _chosen(x, len(w))
    chosen = [(c, int(s)) for c, s in enumerate(server) if s >= 0]
    return Allocation(server=server, status=status if last == "optimal" else last,
                      served=len(chosen), cost=float(sum(t[p] for p in chosen)),
                      kin=int(sum(bool(k[p]) for p in chosen)), variables=len(pairs))


# --------------------------------------------------------------------------- courses


def group_courses(minutes: np.ndarray, course_of: Sequence[int] | np.ndarray, n_courses: int,
                  *, max_class: int, max_runs: Sequence[float] | np.ndarray | None = None,
                  allowed: np.ndarray | None = None, solver: Solver = "highs",
                  time_limit_seconds: float = 60.0) -> CourseGroups:
    r"""Group course requests into runs at venues: most served, fewest runs, least travel.

    A request :math:`q` is one home that should be offered course
    :math:`k(q)`; :math:`t_{qv}` the minutes from its home to venue :math:`v`,
    :math:`K` the largest class, :math:`M_v` the most runs venue :math:`v`
    can hold, :math:`E` the allowed pairs (within the limit). With
    :math:`x_{qv} \in \{0,1\}` and runs :math:`r_{kv} \in \mathbb{Z}_{\ge 0}`:

    .. math::

        \text{stage 1:}\; n^* = \max \sum_E x_{qv} \quad
        \text{stage 2:}\; r^* = \min \sum_{k,v} r_{kv}
            \text{ s.t. } \sum x \ge n^* \quad
        \text{stage 3:}\; \min \sum_E t_{qv} x_{qv}
            \text{ s.t. } \sum x \ge n^*,\; \sum r \le r^* \quad \text{(add\_floor)} \\
        \sum_v x_{qv} \le 1 \;\forall q \quad \text{(add\_one\_server\_constraints)}, \qquad
        \sum_{q : k(q) = k} x_{qv} \le K\, r_{kv} \;\forall k, v
            \quad \text{(add\_class\_constraints)}, \qquad
        \sum_k r_{kv} \le M_v \;\forall v, \qquad
        x_{qv} \le r_{k(q)v} \quad \text{(add\_open\_constraints)}.

    Without a finite :math:`M_v` the courses share nothing, and each course is
    solved on its own (the same optimum at every stage, as the three
    objectives are sums over courses).

    Without stage two every family would go to its nearest venue and every
    venue would run every course; the fewest runs is what a region can staff,
    and within that the families travel least. Dates are left to people.

    Parameters
    ----------
    minutes
        ``(n_requests, n_venues)`` one-way minutes home -> venue.
    course_of
        Course number (``0..n_courses-1``) of each request.
    max_class
        Most families in one run (>= 1).
    max_runs
        Per venue, the most runs (``inf`` or ``None``: no limit).
    """
    if not (isinstance(max_class, int | np.integer) and max_class >= 1):
        raise InputError(_("max_class {value} must be a whole number >= 1").format(
            value=repr(max_class)))
    kq = np.asarray(course_of, dtype=np.int64)
    t = np.asarray(minutes, dtype=float)
    n_v = t.shape[1] if t.ndim == 2 else 0
    if (max_runs is None or np.all(np.isinf(np.asarray(max_runs, dtype=float)))) \
            and n_courses > 1:
        return _per_course(t, kq, n_courses, max_class=int(max_class), allowed=allowed,
                           solver=solver, time_limit_seconds=time_limit_seconds)
    limit = (np.full(n_v, np.inf) if max_runs is None
             else np.asarray(max_runs, dtype=float))
    ok = _check(t, allowed, {"max_runs": np.nan_to_num(limit, posinf=0.0)}, len(kq), n_v)
    ok &= (limit > 0)[None, :]
    rows, cols = np.nonzero(ok)
    pairs = [(int(q), int(v)) for q, v in zip(rows, cols, strict=True)]
    runs_out = np.zeros((n_courses, n_v), dtype=np.int64)
    if not pairs:
        return CourseGroups(np.full(len(kq), -1, dtype=np.int64), runs_out, "optimal", 0, 0, 0.0)
    prob = pulp.LpProblem("courses", pulp.LpMaximize)
    x = {p: prob.add_variable(f"x_{p[0]}_{p[1]}", 0, 1, pulp.LpBinary) for p in pairs}
    keys = sorted({(int(kq[q]), v) for q, v in pairs})
    r = {kv: prob.add_variable(f"r_{kv[0]}_{kv[1]}", 0, None, pulp.LpInteger) for kv in keys}
    add_one_server_constraints(prob, x)
    add_class_constraints(prob, x, r, kq, int(max_class))
    add_open_constraints(prob, x, r, kq)
    for v in sorted({v for _k, v in keys}):
        if math.isfinite(limit[v]):
            prob.addConstraint(pulp.lpSum(r[kv] for kv in keys if kv[1] == v) <= int(limit[v]),
                               f"venue_runs_{v}")
    served = pulp.lpSum(x.values())
    total_runs = pulp.lpSum(r.values())
    prob.setObjective(served)
    status = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                    what=_("the course model (stage 1)"))
    add_floor(prob, served, round(pulp.value(prob.objective) or 0.0), "served_floor")
    prob.sense = pulp.LpMinimize
    prob.setObjective(total_runs)
    _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
           what=_("the course model (stage 2)"))
    r_star = round(pulp.value(prob.objective) or 0.0)
    add_floor(prob, total_runs, r_star, "runs_ceiling", sense="le")
    prob.setObjective(pulp.lpSum(float(t[p]) * var for p, var in x.items()))
    last = _solve(prob, solver=solver, time_limit_seconds=time_limit_seconds,
                  what=_("the course model (stage 3)"))
    venue = _chosen(x, len(kq))
    for q, v in enumerate(venue):
        if v >= 0:
            runs_out[kq[q], v] += 1
    # runs actually needed: ceil(families / class size), never more than the model opened
    runs_out = np.ceil(runs_out / max_class).astype(np.int64)
    chosen = [(q, int(v)) for q, v in enumerate(venue) if v >= 0]
    return CourseGroups(venue=venue, runs=runs_out,
                        status=status if last == "optimal" else last, served=len(chosen),
                        total_runs=int(runs_out.sum()),
                        minutes=float(sum(t[p] for p in chosen)))


def _per_course(t: np.ndarray, kq: np.ndarray, n_courses: int, *, max_class: int,
                allowed: np.ndarray | None, solver: Solver,
                time_limit_seconds: float) -> CourseGroups:
    """:func:`group_courses` one course at a time (no venue limit couples them)."""
    venue = np.full(len(kq), -1, dtype=np.int64)
    runs = np.zeros((n_courses, t.shape[1]), dtype=np.int64)
    statuses = []
    for k in range(n_courses):
        rows = np.flatnonzero(kq == k)
        if not len(rows):
            continue
        part = group_courses(t[rows], np.zeros(len(rows), dtype=np.int64), 1,
                             max_class=max_class,
                             allowed=None if allowed is None
                             else np.asarray(allowed, dtype=bool)[rows],
                             solver=solver, time_limit_seconds=time_limit_seconds)
        venue[rows] = part.venue
        runs[k] = part.runs[0]
        statuses.append(part.status)
    chosen = [(q, int(v)) for q, v in enumerate(venue) if v >= 0]
    return CourseGroups(venue=venue, runs=runs,
                        status=next((st for st in statuses if st != "optimal"), "optimal"),
                        served=len(chosen), total_runs=int(runs.sum()),
                        minutes=float(sum(t[p] for p in chosen)))
