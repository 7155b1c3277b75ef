r"""Assignment of waiting children to foster homes: a lexicographic two- or three-stage MIP.

The model is solved with PuLP, by HiGHS (in-process, ``pulp.HiGHS``) or CBC.

Formulation
-----------
Sets and data (all ids are strings; the model is built in sorted id order):

* :math:`C` waiting children, priority :math:`p_c > 0` (stage-one weight);
  :math:`H` homes with free places :math:`\kappa_h \in \mathbb{Z}_{\ge 0}` and
  flag :math:`a_h \in \{0, 1\}` (takes sibling groups).
* :math:`P \subseteq C \times H` feasible pairs with score :math:`s_{ch} \in [0, 1]` and
  :math:`n_{ch}` needs met by training; stage-two weight
  :math:`w_{ch} = s_{ch} - \tau\, n_{ch}` (:math:`\tau` = ``training_penalty``).
* :math:`L \subseteq C \times H` locked placements (already made). They are constants
  :math:`x_{ch} = 1`: they use capacity, their child is placed and their weight
  :math:`w_{ch}` counts (0 if the pair is not in :math:`P`). With
  :math:`\ell_h = |\{c : (c, h) \in L\}|` the residual capacity is
  :math:`r_h = \kappa_h - \ell_h \ge 0` (checked before solving).
* Current placements: :math:`o_c \in H \cup \{\emptyset\}` is the home child
  :math:`c` lives in now (``current_home_id``); its place counts as used, so
  :math:`r_h = \max(0, \kappa_h - \ell_h - |\{c : o_c = h, (c, h) \notin L\}|)`
  (a child locked into the home it lives in takes one place, not two). The pair
  :math:`(c, o_c)` is a candidate only when the home keeps the child
  (``current_home_keeps``), and staying takes no further place: below,
  :math:`|u|` in the capacity row counts the members of :math:`u` with
  :math:`o_c \ne h` (:math:`\pi_{uh}`, ``var_places``).
* :math:`G` sibling groups with at least two waiting children (members :math:`M_g`).

Decision units. Every non-locked child is its own unit, except under the
``together`` policy, where a sibling group without locked members is one unit
:math:`u = g` of size :math:`|M_g|`, priority :math:`p_u = \sum_{c \in M_g} p_c`
and weight :math:`w_{uh} = \sum_{c \in M_g} w_{ch}`; its candidate homes are those
feasible for *every* member with :math:`a_h = 1` and :math:`r_h \ge |M_g|`. A
group with a locked member is not a unit: each other member may join only a home
holding a locked sibling (if that home takes sibling groups) or stay unmatched.
Binary :math:`y_{uh}` exists only for candidate pairs :math:`E` (feasible pairs
minus the ones excluded above and the ones with :math:`r_h < |u|`).

Constraints (one ``add_*`` function each):

.. math::

    \sum_{h : (u,h) \in E} y_{uh} \le 1 \quad \forall u
        \qquad \text{(one home: add\_one\_home\_constraints)} \\
    \sum_{u : (u,h) \in E} \pi_{uh}\, y_{uh} \le r_h \quad \forall h
        \qquad \text{(capacity: add\_capacity\_constraints)} \\
    \sum_{c \in M_g} y_{ch} \le 1 \quad \forall g,\ h : a_h = 0
        \qquad \text{(add\_sibling\_home\_constraints)}

The last rule (a home that does not take sibling groups takes at most one child
of any group of two or more) is a property of the home and holds under every
policy; a home already holding a locked member of :math:`g` gets no variables
for the rest of :math:`g`. Group units never use such homes. Under
``prefer_together``, with :math:`z_{gh} \in [0, 1]` "group :math:`g` uses home
:math:`h`" and :math:`v_g \in [0, 1]` "group :math:`g` is placed"
(add\_split\_constraints):

.. math::

    y_{ch} \le z_{gh} \quad \forall g,\ c \in M_g,\ (c,h) \in E, \qquad
    v_g \le \sum_h z_{gh}, \qquad
    \mathrm{extra}_g = \sum_h z_{gh} - v_g + (|K_g| - 1)^+ ,

with :math:`K_g` the homes of locked members (if :math:`K_g \ne \emptyset`,
:math:`z` exists only for :math:`h \notin K_g` and :math:`v_g` is dropped). The
relaxation is exact because :math:`z` and :math:`v` appear only in the penalty:
at an optimum :math:`z_{gh} = \max_c y_{ch}` and :math:`v_g = \min(1, \sum_h z_{gh})`.

Objectives, solved lexicographically by two solves (no big-M blend):

.. math::

    \text{stage 1:}\quad z_1^* = \max \sum_{(u,h) \in E} p_u\, y_{uh}
        \; \Big(+ \sum_{(c,h) \in L} p_c\Big) \\
    \text{stage 2:}\quad \max \sum_{(u,h) \in E} w_{uh}\, y_{uh}
        - \sigma \sum_g \mathrm{extra}_g
    \quad \text{s.t.}\quad \sum_{(u,h) \in E} p_u\, y_{uh} \ge z_1^* - \delta
        \qquad \text{(add\_priority\_floor)}

with :math:`\sigma` = ``split_penalty`` (``prefer_together`` only) and the stage-one
tolerance :math:`\delta = 10^{-6} + 10^{-9} |z_1^*|`, far below one day of waiting
(:math:`0.5 / 365.25 \approx 1.4 \cdot 10^{-3}` at the default weight) yet above
the solvers' primal feasibility tolerance (:math:`10^{-7}`), so the stage-one
incumbent is always feasible for stage two (it is also passed as a MIP start).

Stage three (stability), only with the proposals of a previous run. With
:math:`\pi_c` the home proposed for child :math:`c` in the previous run (if any)
and :math:`k_{uh} = |\{c \in M_u : \pi_c = h\}|` the previous proposals that
:math:`y_{uh}` keeps, and :math:`z_2^*` the stage-two optimum:

.. math::

    \text{stage 3:}\quad \max \sum_{(u,h) \in E} k_{uh}\, y_{uh}
    \quad \text{s.t.}\quad \text{the stage-one floor and}\quad
    \sum_{(u,h) \in E} w_{uh}\, y_{uh} - \sigma \sum_g \mathrm{extra}_g
        \ge z_2^* - \varepsilon\, |z_2^*| - \delta
        \qquad \text{(add\_stability\_floor)}

with :math:`\varepsilon` = ``stability_tolerance`` (relative, default 0.005).
Maximising the kept proposals is minimising the changed ones,
:math:`|\{c : \pi_c \text{ defined, } c \notin L\}| - \sum k_{uh} y_{uh}`: a
change is a child with a previous proposal who now has another home or none.
Stage one stays optimal (its floor and fixings are kept); stage two may lose
at most :math:`\varepsilon |z_2^*|`. The stage-two solution is the MIP start.
Without previous proposals stage three is not built and the model is the
two-stage one above.

Stage-two restriction. The floor is one dense row over all variables, which
slows branch and bound badly. Before stage two, the LP relaxation of stage one
is solved for its duals :math:`\pi`, and add\_reduced\_cost\_fixing uses the exact
Lagrangian bound to fix variables and make rows tight that no solution within
:math:`\delta` of :math:`z_1^*` can change. When what remains cannot lose more
than :math:`\delta` (the usual case: the relaxation is tight), the floor is
implied and left out, and stage two keeps only sparse rows. The bound is
recomputed from :math:`\pi` in numpy, so it is valid whatever the LP returned.

Ties. The model is built in sorted ``(child_id, home_id)`` order, so the same
inputs in any row order give the same model, and both solvers are deterministic
on the same model. The solver's optimum is then made canonical by id
(:func:`_canonical`, a post-process in exact arithmetic, no perturbation of the
objective): while some move leaves both objective values unchanged (within
:math:`10^{-9}`) and all rules satisfied, apply it, where a move is

* *relocate*: a placed unit moves to a lower home id;
* *replace*: an unmatched unit of equal priority takes the place of a placed
  unit with a higher id;
* *exchange*: two placed units swap homes so that the lower id gets the lower
  home id.

Each move makes the list "home of each unit, by unit id" lexicographically
smaller, so this ends. With stage three, a move must also keep the number of
kept previous proposals. Ties that only a rotation of three or more units could
resolve are left as the solver returned them (still the same on every run).
Reported objectives are recomputed from the final assignment.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pulp

from matcher import optimize
from matcher.assignment.canonical import (
    _assignments,
    _canonical,
    _chosen,
    _objectives,
    _start,
    _verify,
)
from matcher.assignment.instance import (
    _add_row,
    _Candidates,
    _candidates,
    _check_locked,
    _groups_by,
    _Instance,
    _instance,
    _Model,
)
from matcher.assignment.problem import (
    STAGE1_ABS_TOL,
    STAGE1_REL_TOL,
    AssignmentProblem,
    AssignmentResult,
    Status,
)
from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError
from matcher.i18n import gettext as _
from matcher.i18n import ngettext

__all__ = [
    "add_capacity_constraints",
    "add_one_home_constraints",
    "add_priority_floor",
    "add_reduced_cost_fixing",
    "add_sibling_home_constraints",
    "add_split_constraints",
    "add_stability_floor",
    "keep_weights",
    "solve",
]

logger = logging.getLogger(__name__)









def add_one_home_constraints(model: _Model, cand: _Candidates) -> int:
    """Add ``sum_h y[u, h] <= 1`` for every unit with two or more candidate homes.

    Returns
    -------
    int
        Number of constraints added.
    """
    added = 0
    for idx in _groups_by(cand.var_unit):
        if len(idx) < 2:
            continue
        _add_row(model, f"one_home_{cand.var_unit[idx[0]]}", idx, np.ones(len(idx)), 1.0)
        added += 1
    return added


def add_capacity_constraints(model: _Model, cand: _Candidates, residual: np.ndarray) -> int:
    """Add ``sum_u pi_uh y[u, h] <= r_h`` (free places after locked ones and children
    living there; ``pi_uh`` = members of ``u`` not living in ``h``) where binding.

    Returns
    -------
    int
        Number of constraints added.
    """
    added = 0
    sizes = cand.var_places
    for idx in _groups_by(cand.var_home):
        h = int(cand.var_home[idx[0]])
        if sizes[idx].sum() <= residual[h]:
            continue  # cannot bind
        _add_row(model, f"capacity_{h}", idx, sizes[idx], float(residual[h]))
        added += 1
    return added


def add_sibling_home_constraints(model: _Model, cand: _Candidates, inst: _Instance) -> int:
    """Add ``sum_{c in g} y[c, h] <= 1`` for homes that do not take sibling groups.

    Group units never use such homes and homes holding a locked sibling have no
    variables for the rest of the group, so only single-child variables of
    groups of two or more children need the constraint.

    Returns
    -------
    int
        Number of constraints added.
    """
    single = cand.var_child >= 0
    group = np.where(single, inst.group[np.maximum(cand.var_child, 0)], -1)
    rows = np.flatnonzero(single & (group >= 0) & ~inst.accepts[cand.var_home])
    if len(rows) == 0:
        return 0
    key = group[rows] * len(inst.home_ids) + cand.var_home[rows]
    added = 0
    for idx in _groups_by(key):
        if len(idx) < 2:
            continue
        g, h = int(group[rows[idx[0]]]), int(cand.var_home[rows[idx[0]]])
        _add_row(model, f"sibling_home_{g}_{h}", rows[idx], np.ones(len(idx)), 1.0)
        added += 1
    return added


def add_split_constraints(
    model: _Model, cand: _Candidates, inst: _Instance, split_penalty: float
) -> pulp.LpAffineExpression:
    """Add home-use variables for sibling groups and return the split penalty term.

    Creates ``z[g, h] >= y[c, h]`` for each member ``c`` of group ``g`` and, for
    groups without locked members, ``v[g] <= sum_h z[g, h]``. The returned
    expression is ``split_penalty * (sum_h z[g, h] - v[g])`` summed over groups
    (the constant penalty of groups already split by locked placements is left
    out; it does not change the optimum).

    Returns
    -------
    pulp.LpAffineExpression
        Penalty to subtract from the stage-two objective.
    """
    terms: list[tuple[pulp.LpVariable, float]] = []
    single = cand.var_child >= 0
    group = np.where(single, inst.group[np.maximum(cand.var_child, 0)], -1)
    rows = np.flatnonzero(group >= 0)
    for idx in _groups_by(group[rows]):
        g = int(group[rows[idx[0]]])
        mine = rows[idx]
        locked_homes = cand.locked_groups_homes.get(g)
        if locked_homes is None and len(np.unique(cand.var_child[mine])) < 2:
            continue  # only one member can be placed: no split possible
        for hidx in _groups_by(cand.var_home[mine]):
            h = int(cand.var_home[mine[hidx[0]]])
            if locked_homes is not None and h in locked_homes:
                continue  # already used: joining adds no home
            z = model.prob.add_variable(f"z_{g:06d}_{h:07d}", 0.0, 1.0)
            model.z[(g, h)] = z
            terms.append((z, split_penalty))
            for i in mine[hidx]:
                model.prob.addConstraint(
                    pulp.LpConstraint(
                        pulp.LpAffineExpression([(model.y[i], 1.0), (z, -1.0)]),
                        pulp.LpConstraintLE, f"uses_{g}_{h}_{i}", 0.0,
                    )
                )
        if locked_homes is None:
            zs = [model.z[(g, int(h))] for h in np.unique(cand.var_home[mine])]
            v = model.prob.add_variable(f"v_{g:06d}", 0.0, 1.0)
            model.v[g] = v
            terms.append((v, -split_penalty))
            model.prob.addConstraint(
                pulp.LpConstraint(
                    pulp.LpAffineExpression([(v, 1.0)] + [(z, -1.0) for z in zs]),
                    pulp.LpConstraintLE, f"placed_{g}", 0.0,
                )
            )
    return pulp.LpAffineExpression(terms)


def add_priority_floor(
    model: _Model, cand: _Candidates, floor: float, fixed_zero: np.ndarray
) -> None:
    """Add the stage-one floor ``sum p_u y[u, h] >= floor`` for stage two.

    Variables in ``fixed_zero`` (bool mask) are fixed to 0 and left out of the row.
    """
    prio = cand.unit_priority[cand.var_unit]
    expr = pulp.LpAffineExpression(
        [(model.y[i], float(prio[i])) for i in np.flatnonzero(~fixed_zero)]
    )
    model.prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, "priority_floor", floor))


def add_stability_floor(model: _Model, stage2: pulp.LpAffineExpression, floor: float) -> None:
    """Add the stage-two floor ``sum w y - sigma extra >= floor`` for the stability stage."""
    model.prob.addConstraint(pulp.LpConstraint(stage2, pulp.LpConstraintGE, "stage2_floor",
                                               floor))


def keep_weights(inst: _Instance, cand: _Candidates) -> np.ndarray:
    """Return ``k[u, h]`` per variable: the previous proposals that the variable keeps."""
    keep = np.zeros(cand.n_vars, dtype=float)
    for i in range(cand.n_vars):
        members = cand.unit_members[cand.var_unit[i]]
        keep[i] = float((inst.previous_home[members] == cand.var_home[i]).sum())
    return keep


@dataclass(frozen=True)
class _Face:
    """What the stage-one bound fixed: variables at 0 and 1, rows made tight."""

    zero: np.ndarray
    one: np.ndarray
    tight_rows: int
    floor_implied: bool


def add_reduced_cost_fixing(
    model: _Model, cand: _Candidates, duals: np.ndarray, z1: float, delta: float
) -> _Face:
    r"""Restrict stage two to solutions that can keep stage one within ``delta``.

    For any multipliers :math:`\pi \ge 0` on the ``<=`` rows :math:`A y \le b`
    (slack :math:`s = b - A y \ge 0`, integral because :math:`A, b` are), every
    feasible :math:`y` satisfies, with reduced costs :math:`\bar p = p - A^\top \pi`
    and the bound :math:`U = \pi^\top b + \sum_j \max(\bar p_j, 0)`,

    .. math::

        p^\top y = U - \Big[\sum_{\bar p_j < 0} |\bar p_j|\, y_j
            + \sum_{\bar p_j > 0} \bar p_j (1 - y_j) + \pi^\top s\Big].

    The floor :math:`p^\top y \ge z_1 - \delta` therefore bounds the bracket by
    :math:`\Gamma = U - z_1 + \delta`, so :math:`y_j = 0` if :math:`\bar p_j < -\Gamma`,
    :math:`y_j = 1` if :math:`\bar p_j > \Gamma` and row :math:`i` is tight if
    :math:`\pi_i > \Gamma`. If what is left of the bracket cannot exceed
    :math:`\Gamma` (:math:`\sum |\bar p_j| + \sum \pi_i b_i` over the free variables
    and non-tight rows), the floor itself is implied and need not be added:
    stage two keeps only sparse rows. This holds for any :math:`\pi \ge 0`;
    :math:`U` and :math:`\bar p` are recomputed here, so solver tolerances cannot
    make it cut off a solution (the stage-one LP duals just make it strong).

    Parameters
    ----------
    model
        The model; fixed variables get new bounds, tight rows become equalities.
    cand
        Candidate variables.
    duals
        One multiplier per row of ``model.rows`` (any sign convention: both
        orientations are tried and the tighter bound is used).
    z1
        Stage-one value over the pair variables (locked placements excluded).
    delta
        Stage-one tolerance of the floor.

    Returns
    -------
    _Face
        Masks of the variables fixed to 0 and 1, the number of rows made tight
        and whether the floor is implied.
    """
    n = cand.n_vars
    prio = cand.unit_priority[cand.var_unit]
    idx = np.concatenate([r[1] for r in model.rows]).astype(np.int64)
    coef = np.concatenate([r[2] for r in model.rows])
    rhs = np.array([r[3] for r in model.rows], dtype=float)
    lengths = np.array([len(r[1]) for r in model.rows], dtype=np.int64)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for sign in (1.0, -1.0):
        pi = np.maximum(sign * np.nan_to_num(duals), 0.0)
        reduced = prio - np.bincount(idx, weights=coef * np.repeat(pi, lengths), minlength=n)
        bound = float(pi @ rhs + np.maximum(reduced, 0.0).sum())
        if best is None or bound < best[0]:
            best = (bound, reduced, pi)
    assert best is not None
    bound, reduced, pi = best
    gamma = bound - z1 + delta
    margin = 1e-9 * (1.0 + abs(bound))  # rounding in the sums, always to the safe side
    zero = reduced < -(gamma + margin)
    one = reduced > gamma + margin
    tight = pi > gamma + margin
    for i in np.flatnonzero(zero):
        model.y[i].upBound = 0
    for i in np.flatnonzero(one):
        model.y[i].lowBound = 1
    for r in np.flatnonzero(tight):
        model.prob.get_constraint_by_name(model.rows[r][0]).sense = pulp.LpConstraintEQ
    free = ~(zero | one)
    rest = float(np.abs(reduced[free]).sum() + (pi[~tight] * rhs[~tight]).sum())
    implied = rest <= gamma - margin
    logger.info(
        "stage-one bound %.6f (gamma %.3g): %d variables fixed to 0, %d to 1, %d rows tight; "
        "floor %s", bound, gamma, int(zero.sum()), int(one.sum()), int(tight.sum()),
        "implied" if implied else "kept",
    )
    return _Face(zero=zero, one=one, tight_rows=int(tight.sum()), floor_implied=implied)


def _build(inst: _Instance, cand: _Candidates, settings: AssignmentSettings) -> tuple[
    _Model, pulp.LpAffineExpression, pulp.LpAffineExpression
]:
    prob = pulp.LpProblem("fostermatch_assignment", pulp.LpMaximize)
    y = [prob.add_variable(f"y_{i:07d}", 0, 1, pulp.LpBinary) for i in range(cand.n_vars)]
    model = _Model(prob=prob, y=y)
    n1 = add_one_home_constraints(model, cand)
    n2 = add_capacity_constraints(model, cand, inst.residual)
    n3 = add_sibling_home_constraints(model, cand, inst)
    penalty = pulp.LpAffineExpression()
    if settings.sibling_policy == "prefer_together" and settings.split_penalty > 0:
        penalty = add_split_constraints(model, cand, inst, settings.split_penalty)
    logger.info(
        "assignment model: %d units, %d pair variables, %d split variables; constraints: "
        "%d one-home, %d capacity, %d sibling-home",
        len(cand.unit_members), cand.n_vars, len(model.z) + len(model.v), n1, n2, n3,
    )
    stage1 = pulp.LpAffineExpression(
        [(v, float(p)) for v, p in zip(y, cand.unit_priority[cand.var_unit], strict=True)]
    )
    stage2 = pulp.LpAffineExpression(
        [(v, float(c)) for v, c in zip(y, cand.var_weight, strict=True)]
    )
    for var, c in penalty.items():
        stage2[var] = -c
    return model, stage1, stage2


def solve(
    problem: AssignmentProblem,
    settings: AssignmentSettings,
    *,
    progress: Callable[[str], None] | None = None,
    stability_tolerance: float = 0.005,
) -> AssignmentResult:
    """Assign children to homes: maximise priority placed, then match quality, then stability.

    Parameters
    ----------
    problem
        Validated inputs (see :class:`AssignmentProblem`).
    settings
        Solver, time limit per stage (seconds), MIP gap, sibling policy and
        penalties.
    progress
        Called with a short message at each step (model build, stage 1, stage 2).
    stability_tolerance
        With previous proposals (``problem.previous``): the stage-two score may
        fall this far below its optimum (relative) to change fewer of them.

    Returns
    -------
    AssignmentResult
        Status, objectives of both stages, MIP gap, timings in seconds and one
        assignment row per child.

    Raises
    ------
    InfeasibleError
        If locked placements break capacity or sibling rules (checked before
        solving), or a solver stops without a feasible solution.
    InputError
        If the selected solver is not installed.
    """
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    inst = _instance(problem)
    _check_locked(inst)
    cand = _candidates(inst, settings)
    solver = optimize.solver_name(settings.solver)
    _warn_split_locked(inst, cand, settings)
    say(_("building model: {units} units, {variables} pair variables").format(
        units=len(cand.unit_members), variables=cand.n_vars))
    model, stage1, stage2 = _build(inst, cand, settings)
    timings = {"build": time.perf_counter() - t_start}
    has_previous = len(problem.previous) > 0
    keep = keep_weights(inst, cand) if has_previous else np.zeros(cand.n_vars)
    stable = bool((keep > 0).any())
    floor2: float | None = None

    if cand.n_vars == 0:
        chosen = np.zeros(0, dtype=bool)
        outcomes = [optimize.Outcome("optimal", 0.0, 0.0), optimize.Outcome("optimal", 0.0, 0.0)]
    else:
        say(_("stage 1: maximising priority placed ({solver})").format(solver=solver))
        t1 = time.perf_counter()
        model.prob.setObjective(stage1)
        duals = optimize.lp_duals(model.prob, [r[0] for r in model.rows], solver=solver,
                                  time_limit_seconds=settings.time_limit_seconds)
        first = _run(model, settings, solver, 1, None)
        chosen1 = _chosen(model)
        z1 = float(cand.unit_priority[cand.var_unit[chosen1]].sum())
        delta = STAGE1_ABS_TOL + STAGE1_REL_TOL * abs(z1)
        logger.info("stage 1 %s: %d units placed, priority %.6f, gap %.3g, %.2f s",
                    first.status, int(chosen1.sum()), z1, first.gap, first.seconds)
        timings["stage1"] = time.perf_counter() - t1

        say(_("stage 2: maximising match quality ({solver})").format(solver=solver))
        t2 = time.perf_counter()
        fixed_zero = np.zeros(cand.n_vars, dtype=bool)
        face = None
        if duals is not None:
            face = add_reduced_cost_fixing(model, cand, duals, z1, delta)
            fixed_zero = face.zero
        if face is None or not face.floor_implied:
            add_priority_floor(model, cand, z1 - delta, fixed_zero)
        model.prob.setObjective(stage2)
        second = _run(model, settings, solver, 2, _start(model, cand, inst, chosen1))
        outcomes = [first, second]
        if not stable:
            chosen = _canonical(inst, cand, _chosen(model), settings)
        timings["stage2"] = time.perf_counter() - t2
        if stable:
            say(_("stage 3: changing the fewest previous proposals ({solver})").format(
                solver=solver))
            t3 = time.perf_counter()
            chosen2 = _chosen(model)
            z2 = float(pulp.value(stage2) or 0.0)
            floor2 = z2 - stability_tolerance * abs(z2) - STAGE1_ABS_TOL
            add_stability_floor(model, stage2, floor2)
            model.prob.setObjective(pulp.LpAffineExpression(
                [(model.y[i], float(keep[i])) for i in np.flatnonzero(keep > 0)]))
            third = _run(model, settings, solver, 3, _start(model, cand, inst, chosen2))
            outcomes.append(third)
            chosen = _canonical(inst, cand, _chosen(model), settings, keep)
            timings["stage3"] = time.perf_counter() - t3
        _verify(inst, cand, chosen, z1 - delta)
    timings.setdefault("stage1", 0.0)
    timings.setdefault("stage2", 0.0)
    timings["total"] = time.perf_counter() - t_start

    assignments = _assignments(problem, inst, cand, chosen)
    obj1, obj2 = _objectives(inst, assignments, settings)
    if floor2 is not None and obj2 < floor2 - 1e-6:
        raise InfeasibleError(_("solver returned an invalid solution: stage-two value fell "
                                "from {before} to {after}; try the other solver").format(
                                    before=f"{floor2:.6f}", after=f"{obj2:.6f}"))
    gaps = {"stage1": outcomes[0].gap, "stage2": outcomes[1].gap}
    if len(outcomes) > 2:
        gaps["stage3"] = outcomes[2].gap
    status: Status = (
        "optimal" if all(o.status == "optimal" for o in outcomes) else "time_limit_feasible"
    )
    result = AssignmentResult(
        status=status,
        solver=solver,
        sibling_policy=settings.sibling_policy,
        objective_stage1=obj1,
        objective_stage2=obj2,
        mip_gap=max(gaps.values()) if not any(math.isnan(g) for g in gaps.values()) else math.nan,
        stage_gaps=MappingProxyType(gaps),
        timings=MappingProxyType(timings),
        assignments=assignments,
        kept_previous=int(keep[chosen].sum()) if has_previous else None,
        stability_tolerance=stability_tolerance if has_previous else None,
    )
    logger.info(
        "assignment %s (%s): %d of %d children placed (%d locked), %d in split groups; "
        "%.2f s total",
        status, solver, result.placed_count, len(assignments), result.locked_count,
        result.split_count, timings["total"],
    )
    say(_("done: {status}, {placed} of {n} children placed").format(
        status=status, placed=result.placed_count, n=len(assignments)))
    return result


def _run(model: _Model, settings: AssignmentSettings, solver: str, stage: int,
         start: Mapping[pulp.LpVariable, float] | None) -> optimize.Outcome:
    """Solve one stage through :func:`matcher.optimize.solve`."""
    return optimize.solve(model.prob, solver=solver, time_limit_seconds=settings.time_limit_seconds,
                          mip_gap=settings.mip_gap,
                          what=ngettext("stage {stage} ({n} pair variable)",
                                        "stage {stage} ({n} pair variables)",
                                        len(model.y)).format(stage=stage, n=len(model.y)),
                          start=start)


def _warn_split_locked(inst: _Instance, cand: _Candidates, settings: AssignmentSettings) -> None:
    if settings.sibling_policy != "together":
        return
    for g, homes in cand.locked_groups_homes.items():
        if len(homes) > 1:
            logger.warning(_("sibling group {group} is already split by locked placements "
                             "({n} homes)").format(group=inst.group_ids[g], n=len(homes)))
