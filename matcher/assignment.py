r"""Assignment of waiting children to foster homes: a lexicographic two-stage MIP.

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
    \sum_{u : (u,h) \in E} |u|\, y_{uh} \le r_h \quad \forall h
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
smaller, so this ends. Ties that only a rotation of three or more units could
resolve are left as the solver returned them (still the same on every run).
Reported objectives are recomputed from the final assignment.
"""

from __future__ import annotations

import datetime
import logging
import math
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError, InputError, Problem, raise_if_problems

logger = logging.getLogger(__name__)

__all__ = [
    "AssignmentProblem",
    "AssignmentResult",
    "diagnose",
    "priority",
    "solve",
]

TIE_TOL = 1e-9
"""Objective changes below this count as ties in the canonicalisation."""

STAGE1_ABS_TOL = 1e-6
STAGE1_REL_TOL = 1e-9
"""Stage two keeps stage one at ``>= z1 - (STAGE1_ABS_TOL + STAGE1_REL_TOL * |z1|)``."""

DAYS_PER_YEAR = 365.25

_URGENCIES = ("acute", "planned")
_MAX_LISTED = 20  # problems listed per check before summarising

Status = Literal["optimal", "time_limit_feasible"]


# --------------------------------------------------------------------------- inputs


def priority(
    children: pd.DataFrame, settings: AssignmentSettings, as_of: datetime.date
) -> pd.Series:
    """Compute each child's stage-one priority.

    ``priority = urgency_weight[urgency] + waiting_weight_per_year * years waited``,
    with years counted from ``waiting_since`` to ``as_of`` (365.25 days a year);
    a missing ``waiting_since`` (NaT) counts as 0 years.

    Parameters
    ----------
    children
        Table with columns ``urgency`` (``"acute"`` or ``"planned"``) and
        ``waiting_since`` (dates).
    settings
        Assignment settings (``urgency_weight``, ``waiting_weight_per_year``).
    as_of
        Run date; ``waiting_since`` after it is an error.

    Returns
    -------
    pandas.Series
        Float priorities (dimensionless, > 0 for valid settings), named
        ``priority``, with the index of ``children``.

    Raises
    ------
    InputError
        On missing columns, unknown urgency, unreadable or future dates; every
        problem is listed.
    """
    source = "children"
    problems: list[Problem] = []
    missing = [c for c in ("urgency", "waiting_since") if c not in children.columns]
    for col in missing:
        problems.append(Problem(source, "required column is missing; add it", column=col))
    raise_if_problems("cannot compute priorities", problems)

    urgency = children["urgency"]
    weights = urgency.map(lambda u: settings.urgency_weight.get(u, math.nan)).astype(float)
    for pos in np.flatnonzero(weights.isna().to_numpy()):
        problems.append(
            Problem(
                source,
                f"unknown urgency {urgency.iloc[pos]!r}; allowed: {', '.join(_URGENCIES)}",
                row=int(pos) + 1,
                column="urgency",
            )
        )
    raw = children["waiting_since"]
    since = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    unreadable = since.isna().to_numpy() & raw.notna().to_numpy()
    for pos in np.flatnonzero(unreadable):
        problems.append(
            Problem(
                source,
                f"cannot read date {raw.iloc[pos]!r}; use YYYY-MM-DD or leave it empty",
                row=int(pos) + 1,
                column="waiting_since",
            )
        )
    run_day = pd.Timestamp(as_of)
    days = (run_day - since).dt.days.astype(float)
    for pos in np.flatnonzero((days < 0).to_numpy()):
        problems.append(
            Problem(
                source,
                f"waiting_since {since.iloc[pos].date()} is after the run date {as_of}; "
                "fix the date",
                row=int(pos) + 1,
                column="waiting_since",
            )
        )
    raise_if_problems("cannot compute priorities", _capped(problems))
    years = days.fillna(0.0) / DAYS_PER_YEAR
    return (weights + settings.waiting_weight_per_year * years).rename("priority")


@dataclass(frozen=True, eq=False)
class AssignmentProblem:
    """The inputs of one assignment, validated on construction.

    Attributes
    ----------
    children
        One row per waiting child: ``child_id`` (str, unique), ``sibling_group``
        (str or missing), ``urgency`` (``"acute"`` | ``"planned"``) and
        ``priority`` (float > 0, stage-one weight).
    homes
        ``home_id`` (str, unique), ``capacity`` (int >= 0: free places before
        the locked placements are counted) and ``accepts_sibling_groups`` (bool).
    pairs
        Feasible pairs only: ``child_id``, ``home_id``, ``score`` (float in
        [0, 1]) and ``n_training`` (int >= 0). Other columns are ignored.
    locked
        Placements already made: ``child_id``, ``home_id`` (may be empty).

    Raises
    ------
    InputError
        If a column is missing or a value is invalid; every problem is listed.
    """

    children: pd.DataFrame
    homes: pd.DataFrame
    pairs: pd.DataFrame
    locked: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
    )

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def build(
        cls,
        children: pd.DataFrame,
        homes: pd.DataFrame,
        pairs: pd.DataFrame,
        locked: pd.DataFrame | None,
        settings: AssignmentSettings,
        as_of: datetime.date,
    ) -> AssignmentProblem:
        """Validate the tables and compute priorities from ``waiting_since``.

        Parameters
        ----------
        children
            Children table with ``child_id``, ``sibling_group``, ``urgency`` and
            ``waiting_since``; any ``priority`` column is replaced.
        homes, pairs
            As in the class attributes.
        locked
            Placements already made, or ``None`` for none.
        settings
            Assignment settings (priority weights).
        as_of
            Run date for the waiting time.

        Raises
        ------
        InputError
            On any invalid input; every problem is listed.
        """
        children = children.assign(priority=priority(children, settings, as_of))
        if locked is None:
            locked = pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
        return cls(children=children, homes=homes, pairs=pairs, locked=locked)


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= _MAX_LISTED:
        return problems
    rest = len(problems) - _MAX_LISTED
    return [*problems[:_MAX_LISTED], Problem(problems[0].source, f"... and {rest} more")]


def _require(frame: pd.DataFrame, source: str, columns: tuple[str, ...]) -> list[Problem]:
    return [
        Problem(source, "required column is missing; add it", column=c)
        for c in columns
        if c not in frame.columns
    ]


def _bad_rows(source: str, column: str, mask: np.ndarray, message: str) -> list[Problem]:
    return [
        Problem(source, message, row=int(pos) + 1, column=column)
        for pos in np.flatnonzero(mask)[: _MAX_LISTED + 1]
    ]


def _not_text(values: pd.Series, *, allow_missing: bool) -> np.ndarray:
    bad = np.array([not (isinstance(v, str) and v != "") for v in values], dtype=bool)
    return bad & ~values.isna().to_numpy(dtype=bool) if allow_missing else bad


def _not_int(values: pd.Series, *, minimum: int) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(numbers) & (numbers == np.round(numbers)) & (numbers >= minimum)
    return ~ok


def _validate(problem: AssignmentProblem) -> None:
    """Collect every structural problem of ``problem`` and raise once."""
    problems: list[Problem] = []
    children, homes, pairs, locked = problem.children, problem.homes, problem.pairs, problem.locked
    problems += _require(children, "children", ("child_id", "sibling_group", "urgency", "priority"))
    problems += _require(homes, "homes", ("home_id", "capacity", "accepts_sibling_groups"))
    problems += _require(pairs, "pairs", ("child_id", "home_id", "score", "n_training"))
    problems += _require(locked, "locked", ("child_id", "home_id"))
    raise_if_problems("invalid assignment input", problems)

    cid = children["child_id"]
    problems += _bad_rows("children", "child_id", _not_text(cid, allow_missing=False),
                          "child_id must be non-empty text")
    problems += _bad_rows("children", "child_id", cid.duplicated().to_numpy(),
                          "duplicate child_id; each child must appear once")
    problems += _bad_rows("children", "sibling_group",
                          _not_text(children["sibling_group"], allow_missing=True),
                          "sibling_group must be text, or empty for no group")
    problems += _bad_rows("children", "urgency",
                          ~children["urgency"].isin(_URGENCIES).to_numpy(dtype=bool),
                          f"urgency must be one of {', '.join(_URGENCIES)}")
    prio = pd.to_numeric(children["priority"], errors="coerce").to_numpy(float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        problems += _bad_rows("children", "priority", ~(np.isfinite(prio) & (prio > 0)),
                              "priority must be a number > 0; check settings.urgency_weight")

    hid = homes["home_id"]
    problems += _bad_rows("homes", "home_id", _not_text(hid, allow_missing=False),
                          "home_id must be non-empty text")
    problems += _bad_rows("homes", "home_id", hid.duplicated().to_numpy(),
                          "duplicate home_id; each home must appear once")
    problems += _bad_rows("homes", "capacity", _not_int(homes["capacity"], minimum=0),
                          "capacity must be a whole number >= 0 (free places)")
    acc = homes["accepts_sibling_groups"]
    problems += _bad_rows("homes", "accepts_sibling_groups",
                          ~acc.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool),
                          "accepts_sibling_groups must be true or false")

    known_children = set(cid.dropna())
    known_homes = set(hid.dropna())
    problems += _bad_rows("pairs", "child_id", ~pairs["child_id"].isin(known_children).to_numpy(),
                          "child_id is not in the children table; drop the pair or add the child")
    problems += _bad_rows("pairs", "home_id", ~pairs["home_id"].isin(known_homes).to_numpy(),
                          "home_id is not in the homes table; drop the pair or add the home")
    problems += _bad_rows("pairs", "home_id",
                          pairs.duplicated(["child_id", "home_id"]).to_numpy(),
                          "duplicate (child_id, home_id) pair; keep one row per pair")
    score = pd.to_numeric(pairs["score"], errors="coerce").to_numpy(float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        problems += _bad_rows("pairs", "score", ~((score >= 0) & (score <= 1)),
                              "score must be a number in [0, 1]")
    problems += _bad_rows("pairs", "n_training", _not_int(pairs["n_training"], minimum=0),
                          "n_training must be a whole number >= 0")

    problems += _bad_rows("locked", "child_id", ~locked["child_id"].isin(known_children).to_numpy(),
                          "locked child is not in the children table; add the child")
    problems += _bad_rows("locked", "home_id", ~locked["home_id"].isin(known_homes).to_numpy(),
                          "locked home is not in the homes table; add the home")
    problems += _bad_rows("locked", "child_id", locked["child_id"].duplicated().to_numpy(),
                          "child is locked more than once; keep one placement per child")
    raise_if_problems("invalid assignment input", _capped(problems))


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    status
        ``"optimal"`` (both stages proven within ``mip_gap``) or
        ``"time_limit_feasible"`` (a stage stopped at its time limit with a
        feasible incumbent; see ``mip_gap``).
    solver
        ``"highs"``, ``"highs_cmd"`` or ``"cbc"``.
    sibling_policy
        The policy the model was built with.
    objective_stage1
        Total priority of placed children, locked ones included (dimensionless).
    objective_stage2
        Sum of ``score - training_penalty * n_training`` over placed children
        (locked included) minus split penalties (dimensionless).
    mip_gap
        Largest relative MIP gap of the two stages: 0 when proven optimal with
        ``mip_gap = 0``; from the solver otherwise (for CBC stopped within an
        allowed gap without a reported bound: that allowed gap, an upper bound;
        ``nan`` if unknown).
    stage_gaps
        Relative gap of each stage: ``{"stage1": ..., "stage2": ...}``.
    timings
        Wall-clock seconds: ``build`` (tables to PuLP model), ``stage1`` (LP bound
        and MIP), ``stage2`` (restriction, MIP and canonicalisation), ``total``.
    assignments
        One row per child sorted by ``child_id``: ``child_id``, ``home_id``
        (``None`` if unmatched), ``score`` and ``n_training`` (missing if
        unmatched; 0 for a locked pair that is not feasible), ``locked``,
        ``split`` (True for every member of a sibling group whose placed
        members use two or more homes).
    """

    status: Status
    solver: str
    sibling_policy: str
    objective_stage1: float
    objective_stage2: float
    mip_gap: float
    stage_gaps: Mapping[str, float]
    timings: Mapping[str, float]
    assignments: pd.DataFrame

    @property
    def placed_count(self) -> int:
        """Number of children with a home (locked ones included)."""
        return int(self.assignments["home_id"].notna().sum())

    @property
    def unmatched_count(self) -> int:
        """Number of children without a home."""
        return int(self.assignments["home_id"].isna().sum())

    @property
    def locked_count(self) -> int:
        """Number of placements that were already made."""
        return int(self.assignments["locked"].sum())

    @property
    def split_count(self) -> int:
        """Number of children in a sibling group that is split across homes."""
        return int(self.assignments["split"].sum())

    @property
    def unmatched_ids(self) -> list[str]:
        """Ids of the children without a home, sorted."""
        return self.assignments.loc[self.assignments["home_id"].isna(), "child_id"].tolist()


# --------------------------------------------------------------------------- canonical data


@dataclass(frozen=True)
class _Instance:
    """Integer-indexed, id-sorted view of a problem."""

    child_ids: np.ndarray
    priority: np.ndarray
    group: np.ndarray  # index into group_ids for groups of >= 2 waiting children, else -1
    group_ids: list[str]
    home_ids: np.ndarray
    capacity: np.ndarray
    accepts: np.ndarray
    locked_home: np.ndarray  # per child: home index, or -1
    pair_child: np.ndarray
    pair_home: np.ndarray
    pair_score: np.ndarray
    pair_training: np.ndarray

    @property
    def residual(self) -> np.ndarray:
        placed = self.locked_home[self.locked_home >= 0]
        return self.capacity - np.bincount(placed, minlength=len(self.home_ids))


def _instance(problem: AssignmentProblem) -> _Instance:
    children = problem.children.sort_values("child_id", kind="stable")
    homes = problem.homes.sort_values("home_id", kind="stable")
    child_ids = children["child_id"].to_numpy(dtype=object)
    home_ids = homes["home_id"].to_numpy(dtype=object)
    child_index = pd.Index(child_ids)
    home_index = pd.Index(home_ids)

    raw_group = children["sibling_group"].astype(object).where(children["sibling_group"].notna())
    sizes = raw_group.value_counts()
    big = sorted(g for g, n in sizes.items() if n >= 2)
    gidx = {g: i for i, g in enumerate(big)}
    group = np.array([gidx.get(g, -1) if isinstance(g, str) else -1 for g in raw_group], dtype=int)

    locked_home = np.full(len(child_ids), -1, dtype=int)
    if len(problem.locked):
        lc = child_index.get_indexer(problem.locked["child_id"])
        locked_home[lc] = home_index.get_indexer(problem.locked["home_id"])

    pairs = problem.pairs
    pc = child_index.get_indexer(pairs["child_id"])
    ph = home_index.get_indexer(pairs["home_id"])
    order = np.lexsort((ph, pc))
    return _Instance(
        child_ids=child_ids,
        priority=pd.to_numeric(children["priority"]).to_numpy(dtype=float),
        group=group,
        group_ids=big,
        home_ids=home_ids,
        capacity=pd.to_numeric(homes["capacity"]).to_numpy(dtype=np.int64),
        accepts=homes["accepts_sibling_groups"].to_numpy(dtype=bool),
        locked_home=locked_home,
        pair_child=pc[order],
        pair_home=ph[order],
        pair_score=pd.to_numeric(pairs["score"]).to_numpy(dtype=float)[order],
        pair_training=pd.to_numeric(pairs["n_training"]).to_numpy(dtype=np.int64)[order],
    )


def _check_locked(inst: _Instance) -> None:
    """Raise :class:`InfeasibleError` if the locked placements break a hard rule."""
    lines: list[str] = []
    residual = inst.residual
    for h in np.flatnonzero(residual < 0):
        kids = inst.child_ids[inst.locked_home == h]
        lines.append(
            f"home {inst.home_ids[h]} has {len(kids)} placements already made "
            f"({_ids(kids)}) but capacity {inst.capacity[h]}; raise its capacity to at "
            f"least {len(kids)} or release {len(kids) - inst.capacity[h]} placement(s)"
        )
    locked = inst.locked_home >= 0
    for g, gid in enumerate(inst.group_ids):
        homes, counts = np.unique(inst.locked_home[locked & (inst.group == g)], return_counts=True)
        for h, n in zip(homes, counts, strict=True):
            if n >= 2 and not inst.accepts[h]:
                kids = inst.child_ids[locked & (inst.group == g) & (inst.locked_home == h)]
                lines.append(
                    f"home {inst.home_ids[h]} does not take sibling groups but holds {n} locked "
                    f"children of sibling group {gid} ({_ids(kids)}); set its "
                    "accepts_sibling_groups to true or release a placement"
                )
    if lines:
        listed = "\n".join(f"  - {line}" for line in lines)
        raise InfeasibleError(f"locked placements are infeasible before solving:\n{listed}")


def _ids(ids: Iterable[object], limit: int = 6) -> str:
    """Join ids for a message: sorted, at most ``limit``, then a count."""
    items = sorted(str(i) for i in ids)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    return ", ".join(items)


@dataclass(frozen=True)
class _Candidates:
    """Decision units and their candidate (unit, home) variables, in canonical order."""

    unit_members: list[np.ndarray]  # child indices, sorted
    unit_priority: np.ndarray
    unit_size: np.ndarray
    var_unit: np.ndarray
    var_home: np.ndarray
    var_weight: np.ndarray  # stage-two weight w_uh
    var_child: np.ndarray  # child index for single-child units, -1 for group units
    locked_groups_homes: dict[int, np.ndarray]  # group -> homes of locked members

    @property
    def n_vars(self) -> int:
        return len(self.var_unit)


def _candidates(inst: _Instance, settings: AssignmentSettings) -> _Candidates:
    n_children = len(inst.child_ids)
    policy = settings.sibling_policy
    is_locked = inst.locked_home >= 0
    weight = inst.pair_score - settings.training_penalty * inst.pair_training
    residual = inst.residual

    locked_groups_homes: dict[int, np.ndarray] = {}
    for g in np.unique(inst.group[is_locked & (inst.group >= 0)]):
        locked_groups_homes[int(g)] = np.unique(inst.locked_home[is_locked & (inst.group == g)])

    # Units: group units (together policy, no locked member) or single children.
    unit_of_child = np.full(n_children, -1, dtype=int)
    members: list[np.ndarray] = []
    grouped = np.zeros(n_children, dtype=bool)
    if policy == "together":
        for g in range(len(inst.group_ids)):
            if g in locked_groups_homes:
                continue
            grouped |= inst.group == g
    for c in range(n_children):
        if is_locked[c] or unit_of_child[c] >= 0:
            continue
        mem = np.flatnonzero(inst.group == inst.group[c]) if grouped[c] else np.array([c])
        unit_of_child[mem] = len(members)
        members.append(mem)
    unit_size = np.array([len(m) for m in members], dtype=np.int64)
    unit_priority = np.array([inst.priority[m].sum() for m in members], dtype=float)

    # Pair-level exclusions for single-child units.
    pc, ph = inst.pair_child, inst.pair_home
    keep = ~is_locked[pc]
    pgroup = inst.group[pc]
    if locked_groups_homes:
        in_locked_group = np.isin(pgroup, list(locked_groups_homes))
        lg_pairs = set()
        for g, hs in locked_groups_homes.items():
            lg_pairs.update((g, int(h)) for h in hs)
        sibling_there = np.array(
            [(int(g), int(h)) in lg_pairs for g, h in zip(pgroup, ph, strict=True)], dtype=bool
        ) if in_locked_group.any() else np.zeros(len(pc), dtype=bool)
        # A home holding a locked sibling that does not take groups takes no more.
        keep &= ~(sibling_there & ~inst.accepts[ph])
        if policy == "together":
            # The rest of a group with a locked member may only join a locked sibling.
            keep &= ~in_locked_group | sibling_there

    frame = pd.DataFrame({"u": unit_of_child[pc[keep]], "h": ph[keep], "w": weight[keep],
                          "c": pc[keep]})
    agg = frame.groupby(["u", "h"], sort=True).agg(n=("c", "size"), w=("w", "sum"),
                                                   c=("c", "min"))
    u = agg.index.get_level_values("u").to_numpy(dtype=np.int64)
    h = agg.index.get_level_values("h").to_numpy(dtype=np.int64)
    size = unit_size[u] if len(u) else np.zeros(0, dtype=np.int64)
    ok = (agg["n"].to_numpy() == size) & (residual[h] >= size)
    ok &= (size == 1) | inst.accepts[h]
    u, h = u[ok], h[ok]
    var_weight = agg["w"].to_numpy(dtype=float)[ok]
    var_child = np.where(unit_size[u] == 1, agg["c"].to_numpy(dtype=np.int64)[ok], -1)

    # Canonical order: units by their smallest child id, then home id.
    unit_key = np.array([m[0] for m in members], dtype=np.int64)
    order = np.lexsort((h, unit_key[u])) if len(u) else np.zeros(0, dtype=np.int64)
    return _Candidates(
        unit_members=members,
        unit_priority=unit_priority,
        unit_size=unit_size,
        var_unit=u[order],
        var_home=h[order],
        var_weight=var_weight[order],
        var_child=var_child[order],
        locked_groups_homes=locked_groups_homes,
    )


# --------------------------------------------------------------------------- model


@dataclass
class _Model:
    """The PuLP problem and handles to its variables."""

    prob: pulp.LpProblem
    y: list[pulp.LpVariable]
    z: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    v: dict[int, pulp.LpVariable] = field(default_factory=dict)
    rows: list[tuple[str, np.ndarray, np.ndarray, float]] = field(default_factory=list)
    """``<=`` rows over pair variables only: name, variable indices, coefficients, rhs."""


def _add_row(model: _Model, name: str, idx: np.ndarray, coef: np.ndarray, rhs: float) -> None:
    """Add ``sum coef[k] * y[idx[k]] <= rhs`` and record it for reduced-cost fixing."""
    expr = pulp.LpAffineExpression(
        [(model.y[i], float(a)) for i, a in zip(idx, coef, strict=True)]
    )
    model.prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, name, float(rhs)))
    model.rows.append((name, np.asarray(idx), np.asarray(coef, dtype=float), float(rhs)))


def _groups_by(keys: np.ndarray) -> list[np.ndarray]:
    """Split ``range(len(keys))`` into runs of equal key (stable, by key)."""
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    return np.split(order, bounds)


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
    """Add ``sum_u |u| y[u, h] <= r_h`` (free places after locked ones) where binding.

    Returns
    -------
    int
        Number of constraints added.
    """
    added = 0
    sizes = cand.unit_size[cand.var_unit]
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


# --------------------------------------------------------------------------- solvers


@dataclass(frozen=True)
class _Outcome:
    status: Status
    gap: float
    seconds: float


def _solver_name(settings: AssignmentSettings) -> str:
    """``cbc``, ``highs`` (in-process API) or ``highs_cmd`` (HiGHS executable)."""
    if settings.solver == "cbc":
        return "cbc"
    if pulp.HiGHS().available():
        return "highs"
    if pulp.HiGHS_CMD(msg=False).available():
        return "highs_cmd"
    raise InputError("HiGHS is not available; install highspy (pip install highspy) or set "
                     "solver = 'cbc'")


class _HiGHSWarm(pulp.HiGHS):  # type: ignore[misc, valid-type]
    """``pulp.HiGHS`` that passes a MIP start to HiGHS before running."""

    def __init__(
        self, start: Mapping[pulp.LpVariable, float] | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self._start = start

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API)
        if self._start:
            index = np.array([v.index for v in self._start], dtype=np.int32)
            value = np.array(list(self._start.values()), dtype=float)
            lp.solverModel.setSolution(len(index), index, value)
        super().callSolver(lp)


def _run(
    model: _Model, settings: AssignmentSettings, solver: str, stage: str,
    start: Mapping[pulp.LpVariable, float] | None,
) -> _Outcome:
    """Solve ``model.prob`` and check its status; raise if there is no solution."""
    prob = model.prob
    limit = float(settings.time_limit_seconds)
    t0 = time.perf_counter()
    if solver == "highs":
        import highspy

        runner = _HiGHSWarm(start=start, msg=False, timeLimit=limit, gapRel=settings.mip_gap,
                            gapAbs=1e-9)
        prob.solve(runner)
        seconds = time.perf_counter() - t0
        highs = prob.solverModel
        status = highs.getModelStatus()
        info = highs.getInfo()
        has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else math.nan
        if status == highspy.HighsModelStatus.kOptimal and has_solution:
            # Proven optimal: report the remaining gap only if one was allowed.
            return _Outcome("optimal", 0.0 if math.isnan(gap) or gap < 1e-9 else gap, seconds)
        limited = {
            highspy.HighsModelStatus.kTimeLimit,
            highspy.HighsModelStatus.kIterationLimit,
            highspy.HighsModelStatus.kInterrupt,
            highspy.HighsModelStatus.kSolutionLimit,
        }
        if status in limited and has_solution:
            return _Outcome("time_limit_feasible", gap, seconds)
        raise InfeasibleError(
            f"HiGHS found no usable solution in {stage} after {seconds:.1f} s "
            f"(status {highs.modelStatusToString(status)}, time limit {limit:g} s, "
            f"{len(model.y)} pair variables); raise time_limit_seconds or mip_gap"
        )

    with tempfile.TemporaryDirectory(prefix="fostermatch-") as tmp:
        log_path = Path(tmp) / "solver.log"
        if solver == "cbc":
            runner = _cbc(settings, warm=start is not None, log_path=log_path)
            if start is not None:
                for var in prob.variables():
                    var.setInitialValue(start.get(var, 0.0))
        else:
            runner = pulp.HiGHS_CMD(msg=False, timeLimit=limit, gapRel=settings.mip_gap)
        prob.solve(runner)
        seconds = time.perf_counter() - t0
        log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal:
        if settings.mip_gap == 0:
            return _Outcome("optimal", 0.0, seconds)
        gap = _cbc_gap(log_text)  # optimal within the allowed gap: at most mip_gap
        return _Outcome("optimal", settings.mip_gap if math.isnan(gap) else gap, seconds)
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return _Outcome("time_limit_feasible", _cbc_gap(log_text), seconds)
    raise InfeasibleError(
        f"{solver.upper()} found no usable solution in {stage} after {seconds:.1f} s "
        f"(status {pulp.LpStatus[prob.status]}, time limit {limit:g} s, "
        f"{len(model.y)} pair variables); raise time_limit_seconds or mip_gap"
    )


def _cbc(
    settings: AssignmentSettings, *, warm: bool, log_path: Path | None, mip: bool = True
) -> pulp.COIN_CMD:
    """CBC as bundled with PuLP (the ``PULP_CBC_CMD`` binary), else ``cbc`` on PATH.

    ``COIN_CMD`` with the bundled binary's path is what ``PULP_CBC_CMD`` runs,
    without its PuLP 4.0 deprecation warning.
    """
    kwargs = dict(msg=False, timeLimit=float(settings.time_limit_seconds), mip=mip,
                  gapRel=settings.mip_gap, warmStart=warm,
                  logPath=None if log_path is None else str(log_path))
    bundled = pulp.COIN_CMD(path=pulp.PULP_CBC_CMD.pulp_cbc_path, **kwargs)
    if bundled.available():
        return bundled
    system = pulp.COIN_CMD(**kwargs)
    if not system.available():
        raise InputError("CBC is not available; install it (pip install pulp[cbc]) or use "
                         "solver = 'highs'")
    return system


def _lp_duals(model: _Model, settings: AssignmentSettings, solver: str) -> np.ndarray | None:
    """Solve the LP relaxation of the current objective; return row duals or ``None``.

    The duals are only used as multipliers in :func:`fix_by_reduced_cost`, which
    stays valid whatever they are, so a failed LP just means no fixing.
    """
    if not model.rows or solver not in ("highs", "cbc"):
        return None
    prob = model.prob
    limit = float(settings.time_limit_seconds)
    if solver == "highs":
        import highspy

        prob.solve(pulp.HiGHS(mip=False, msg=False, timeLimit=limit))
        if prob.solverModel.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
    else:
        prob.solve(_cbc(settings, warm=False, log_path=None, mip=False))
        if prob.status != pulp.LpStatusOptimal:
            return None
    duals = []
    for name, *_ in model.rows:
        row = prob.get_constraint_by_name(name)
        duals.append(row.pi if row is not None and row.pi is not None else 0.0)
    return np.array(duals, dtype=float)


def _cbc_gap(log_text: str) -> float:
    """Relative gap of a CBC run stopped at its limit, from its log (nan if absent).

    Computed from the ``Objective value`` and ``Upper/Lower bound`` lines (CBC's
    own ``Gap`` line has only two decimals, used as a fallback).
    """
    number = r"\s+([-+0-9.eE]+)"
    obj = re.search(r"^Objective value:" + number, log_text, flags=re.MULTILINE)
    bound = re.search(r"^(?:Lower|Upper) bound:" + number, log_text, flags=re.MULTILINE)
    if obj and bound:
        o, b = float(obj.group(1)), float(bound.group(1))
        return abs(b - o) / max(abs(o), 1e-9)
    found = re.search(r"^Gap:" + number, log_text, flags=re.MULTILINE)
    return abs(float(found.group(1))) if found else math.nan


# --------------------------------------------------------------------------- solve


def solve(
    problem: AssignmentProblem,
    settings: AssignmentSettings,
    *,
    progress: Callable[[str], None] | None = None,
) -> AssignmentResult:
    """Assign children to homes: maximise priority placed, then match quality.

    Parameters
    ----------
    problem
        Validated inputs (see :class:`AssignmentProblem`).
    settings
        Solver, time limit per stage (seconds), MIP gap, sibling policy and
        penalties.
    progress
        Called with a short message at each step (model build, stage 1, stage 2).

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
    solver = _solver_name(settings)
    _warn_split_locked(inst, cand, settings)
    say(f"building model: {len(cand.unit_members)} units, {cand.n_vars} pair variables")
    model, stage1, stage2 = _build(inst, cand, settings)
    timings = {"build": time.perf_counter() - t_start}

    if cand.n_vars == 0:
        chosen = np.zeros(0, dtype=bool)
        outcomes = [_Outcome("optimal", 0.0, 0.0), _Outcome("optimal", 0.0, 0.0)]
    else:
        say(f"stage 1: maximising priority placed ({solver})")
        t1 = time.perf_counter()
        model.prob.setObjective(stage1)
        duals = _lp_duals(model, settings, solver)
        first = _run(model, settings, solver, "stage 1", None)
        chosen1 = _chosen(model)
        z1 = float(cand.unit_priority[cand.var_unit[chosen1]].sum())
        delta = STAGE1_ABS_TOL + STAGE1_REL_TOL * abs(z1)
        logger.info("stage 1 %s: %d units placed, priority %.6f, gap %.3g, %.2f s",
                    first.status, int(chosen1.sum()), z1, first.gap, first.seconds)
        timings["stage1"] = time.perf_counter() - t1

        say(f"stage 2: maximising match quality ({solver})")
        t2 = time.perf_counter()
        fixed_zero = np.zeros(cand.n_vars, dtype=bool)
        face = None
        if duals is not None:
            face = add_reduced_cost_fixing(model, cand, duals, z1, delta)
            fixed_zero = face.zero
        if face is None or not face.floor_implied:
            add_priority_floor(model, cand, z1 - delta, fixed_zero)
        model.prob.setObjective(stage2)
        second = _run(model, settings, solver, "stage 2", _start(model, cand, inst, chosen1))
        chosen = _canonical(inst, cand, _chosen(model), settings)
        _verify(inst, cand, chosen, z1 - delta)
        outcomes = [first, second]
        timings["stage2"] = time.perf_counter() - t2
    timings.setdefault("stage1", 0.0)
    timings.setdefault("stage2", 0.0)
    timings["total"] = time.perf_counter() - t_start

    assignments = _assignments(problem, inst, cand, chosen)
    obj1, obj2 = _objectives(inst, assignments, settings)
    gaps = {"stage1": outcomes[0].gap, "stage2": outcomes[1].gap}
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
    )
    logger.info(
        "assignment %s (%s): %d of %d children placed (%d locked), %d in split groups; "
        "%.2f s total",
        status, solver, result.placed_count, len(assignments), result.locked_count,
        result.split_count, timings["total"],
    )
    say(f"done: {status}, {result.placed_count} of {len(assignments)} children placed")
    return result


def _warn_split_locked(inst: _Instance, cand: _Candidates, settings: AssignmentSettings) -> None:
    if settings.sibling_policy != "together":
        return
    for g, homes in cand.locked_groups_homes.items():
        if len(homes) > 1:
            logger.warning("sibling group %s is already split by locked placements (%d homes)",
                           inst.group_ids[g], len(homes))


def _chosen(model: _Model) -> np.ndarray:
    values = np.array([v.varValue if v.varValue is not None else 0.0 for v in model.y], dtype=float)
    return values > 0.5


def _start(
    model: _Model, cand: _Candidates, inst: _Instance, chosen: np.ndarray
) -> dict[pulp.LpVariable, float]:
    """A complete MIP start (the stage-one solution) for stage two."""
    start = {v: float(c) for v, c in zip(model.y, chosen, strict=True)}
    used = {(int(inst.group[cand.var_child[i]]), int(cand.var_home[i]))
            for i in np.flatnonzero(chosen & (cand.var_child >= 0))}
    for key, z in model.z.items():
        start[z] = 1.0 if key in used else 0.0
    groups_used = {g for g, _ in used}
    for g, v in model.v.items():
        start[v] = 1.0 if g in groups_used else 0.0
    return start


def _canonical(
    inst: _Instance, cand: _Candidates, chosen: np.ndarray, settings: AssignmentSettings
) -> np.ndarray:
    """Apply objective-neutral relocate/replace/exchange moves towards lower ids.

    See the module docstring. Returns the new boolean mask of chosen variables.
    """
    n_units = len(cand.unit_members)
    size = cand.unit_size
    prio = cand.unit_priority
    weight = cand.var_weight
    key = np.array([m[0] for m in cand.unit_members], dtype=np.int64)
    pairs = zip(cand.var_unit.tolist(), cand.var_home.tolist(), strict=True)
    var_of = {uh: i for i, uh in enumerate(pairs)}
    vars_of_unit = {int(cand.var_unit[ix[0]]): ix.tolist() for ix in _groups_by(cand.var_unit)}
    units_at = {int(cand.var_home[ix[0]]): cand.var_unit[ix].tolist()
                for ix in _groups_by(cand.var_home)}
    current = np.full(n_units, -1, dtype=np.int64)
    current[cand.var_unit[chosen]] = np.flatnonzero(chosen)
    free = inst.residual.astype(np.int64).copy()
    np.subtract.at(free, cand.var_home[chosen], size[cand.var_unit[chosen]])
    occupants: dict[int, set[int]] = {}
    for u in np.flatnonzero(current >= 0).tolist():
        occupants.setdefault(int(cand.var_home[current[u]]), set()).add(u)

    # Members of each sibling group (>= 2 children) per home, locked ones included.
    unit_group = np.full(n_units, -1, dtype=np.int64)
    single = cand.var_child >= 0
    unit_group[cand.var_unit[single]] = inst.group[cand.var_child[single]]
    at: dict[int, dict[int, int]] = {}
    for c in np.flatnonzero((inst.locked_home >= 0) & (inst.group >= 0)).tolist():
        homes = at.setdefault(int(inst.group[c]), {})
        homes[int(inst.locked_home[c])] = homes.get(int(inst.locked_home[c]), 0) + 1
    for u in np.flatnonzero((current >= 0) & (unit_group >= 0)).tolist():
        homes = at.setdefault(int(unit_group[u]), {})
        h = int(cand.var_home[current[u]])
        homes[h] = homes.get(h, 0) + 1
    split = settings.split_penalty if settings.sibling_policy == "prefer_together" else 0.0

    def neutral(changes: list[tuple[int, int, int]]) -> bool:
        """True if the changes ``(unit, old var, new var)`` keep rules and objectives."""
        load: dict[int, int] = {}
        d_prio = d_weight = 0.0
        d_at: dict[int, dict[int, int]] = {}
        for u, old, new in changes:
            for v, sign in ((old, -1), (new, 1)):
                if v < 0:
                    continue
                h = int(cand.var_home[v])
                load[h] = load.get(h, 0) + sign * int(size[u])
                d_prio += sign * prio[u]
                d_weight += sign * weight[v]
                if unit_group[u] >= 0:
                    dg = d_at.setdefault(int(unit_group[u]), {})
                    dg[h] = dg.get(h, 0) + sign
        if any(free[h] < d for h, d in load.items()):
            return False
        for g, dg in d_at.items():
            now = at.get(g, {})
            after = {h: now.get(h, 0) + dg.get(h, 0) for h in now.keys() | dg.keys()}
            if any(n > 1 and not inst.accepts[h] for h, n in after.items()):
                return False
            if split:
                used_before = sum(1 for n in now.values() if n > 0)
                used_after = sum(1 for n in after.values() if n > 0)
                d_weight -= split * (max(used_after - 1, 0) - max(used_before - 1, 0))
        return abs(d_prio) <= TIE_TOL and abs(d_weight) <= TIE_TOL

    def apply(changes: list[tuple[int, int, int]]) -> None:
        for u, old, new in changes:
            for v, sign in ((old, -1), (new, 1)):
                if v < 0:
                    continue
                h = int(cand.var_home[v])
                free[h] -= sign * int(size[u])
                if sign > 0:
                    occupants.setdefault(h, set()).add(u)
                else:
                    occupants[h].discard(u)
                if unit_group[u] >= 0:
                    homes = at.setdefault(int(unit_group[u]), {})
                    homes[h] = homes.get(h, 0) + sign
            current[u] = new

    def improve(u: int) -> bool:
        """Apply the first neutral move that gives unit ``u`` a lower home or a place."""
        v = int(current[u])
        h = int(cand.var_home[v])
        for w in vars_of_unit[u]:
            h2 = int(cand.var_home[w])
            if h2 >= h:
                break  # a unit's candidates are sorted by home
            moves = [[(u, v, w)]]  # relocate
            moves += [  # exchange with a higher id placed in the lower home
                [(u, v, w), (u2, int(current[u2]), var_of[(u2, h)])]
                for u2 in sorted(occupants.get(h2, ()))
                if key[u2] > key[u] and (u2, h) in var_of
            ]
            for change in moves:
                if neutral(change):
                    apply(change)
                    return True
        for u2 in units_at.get(h, ()):  # replace by a lower id without a place
            if current[u2] < 0 and key[u2] < key[u]:
                change = [(u, v, -1), (u2, -1, var_of[(u2, h)])]
                if neutral(change):
                    apply(change)
                    return True
        return False

    order = np.argsort(key, kind="stable").tolist()
    total = 0
    for _ in range(n_units + 10):  # each pass that moves lowers the potential
        moved = 0
        for u in order:
            while current[u] >= 0 and improve(u):
                moved += 1
        total += moved
        if not moved:
            break
    if total:
        logger.info("canonicalisation by id: %d tie-breaking move(s)", total)
    out = np.zeros(cand.n_vars, dtype=bool)
    out[current[current >= 0]] = True
    return out


def _verify(inst: _Instance, cand: _Candidates, chosen: np.ndarray, floor: float) -> None:
    """Check the rounded solution against the hard rules; raise if the solver erred."""
    errors: list[str] = []
    per_unit = np.bincount(cand.var_unit[chosen], minlength=len(cand.unit_members))
    if (per_unit > 1).any():
        errors.append(f"{int((per_unit > 1).sum())} unit(s) placed in more than one home")
    load = np.bincount(cand.var_home[chosen], weights=cand.unit_size[cand.var_unit[chosen]],
                       minlength=len(inst.home_ids))
    if (load > inst.residual + 1e-9).any():
        errors.append(f"{int((load > inst.residual).sum())} home(s) over capacity")
    home = inst.locked_home.copy()
    for i in np.flatnonzero(chosen):
        home[cand.unit_members[cand.var_unit[i]]] = cand.var_home[i]
    in_group = (home >= 0) & (inst.group >= 0) & ~inst.accepts[np.maximum(home, 0)]
    _, counts = np.unique(np.stack([inst.group[in_group], home[in_group]]), axis=1,
                          return_counts=True)
    if (counts > 1).any():
        errors.append(f"{int((counts > 1).sum())} home(s) without sibling groups take siblings")
    z1 = float(cand.unit_priority[cand.var_unit[chosen]].sum())
    if z1 < floor - 1e-6:
        errors.append(f"stage-one value fell from {floor:.6f} to {z1:.6f}")
    if errors:
        raise InfeasibleError("solver returned an invalid solution after rounding: "
                              + "; ".join(errors) + "; try the other solver")


def _assignments(
    problem: AssignmentProblem, inst: _Instance, cand: _Candidates, chosen: np.ndarray
) -> pd.DataFrame:
    n = len(inst.child_ids)
    home = inst.locked_home.copy()
    for i in np.flatnonzero(chosen):
        home[cand.unit_members[cand.var_unit[i]]] = cand.var_home[i]
    # Score and training of each (child, home), from the pairs table.
    key = pd.MultiIndex.from_arrays([inst.pair_child, inst.pair_home])
    score_of = pd.Series(inst.pair_score, index=key)
    train_of = pd.Series(inst.pair_training, index=key)
    placed = home >= 0
    look = pd.MultiIndex.from_arrays([np.arange(n)[placed], home[placed]])
    score = np.full(n, np.nan)
    training = pd.array([pd.NA] * n, dtype="Int64")
    score[placed] = score_of.reindex(look).fillna(0.0).to_numpy()
    training[placed] = train_of.reindex(look).fillna(0).to_numpy(dtype=np.int64)

    split = np.zeros(n, dtype=bool)
    for g in range(len(inst.group_ids)):
        mem = inst.group == g
        if len(np.unique(home[mem & placed])) > 1:
            split |= mem
    home_ids = np.array([inst.home_ids[h] if h >= 0 else None for h in home], dtype=object)
    frame = pd.DataFrame(
        {
            "child_id": pd.Series(inst.child_ids, dtype=problem.children["child_id"].dtype),
            "home_id": pd.Series(home_ids, dtype=object),
            "score": score,
            "n_training": training,
            "locked": inst.locked_home >= 0,
            "split": split,
        }
    )
    return frame


def _objectives(
    inst: _Instance, assignments: pd.DataFrame, settings: AssignmentSettings
) -> tuple[float, float]:
    placed = assignments["home_id"].notna().to_numpy()
    obj1 = float(inst.priority[placed].sum())
    score = assignments["score"].to_numpy(dtype=float)[placed]
    training = assignments["n_training"].to_numpy(dtype=float, na_value=0.0)[placed]
    obj2 = float((score - settings.training_penalty * training).sum())
    if settings.sibling_policy == "prefer_together" and settings.split_penalty > 0:
        homes = assignments["home_id"].to_numpy(dtype=object)
        for g in range(len(inst.group_ids)):
            used = {h for h in homes[(inst.group == g) & placed]}
            obj2 -= settings.split_penalty * max(len(used) - 1, 0)
    return obj1, obj2


# --------------------------------------------------------------------------- diagnosis


def diagnose(problem: AssignmentProblem, result: AssignmentResult) -> dict[str, str]:
    """Explain, in plain language, why each unmatched child with feasible homes is unmatched.

    Parameters
    ----------
    problem
        The problem that was solved.
    result
        Its result from :func:`solve`.

    Returns
    -------
    dict[str, str]
        ``child_id -> reason`` for every unmatched child that has at least one
        feasible pair, in ``child_id`` order. Reasons name homes and children by
        their pseudonymous ids only; priorities are dimensionless.
    """
    inst = _instance(problem)
    assign = result.assignments.set_index("child_id")["home_id"].reindex(inst.child_ids)
    home_of = pd.Index(inst.home_ids).get_indexer(assign.astype(object))
    home_of[assign.isna().to_numpy()] = -1
    ctx = _Diagnosis(inst, home_of, result)
    reasons: dict[str, str] = {}
    for c in np.flatnonzero(home_of < 0):
        c = int(c)
        if c not in ctx.feasible:
            continue
        g = int(inst.group[c])
        if result.sibling_policy == "together" and g >= 0:
            reasons[str(inst.child_ids[c])] = ctx.together_reason(c, g)
        else:
            reasons[str(inst.child_ids[c])] = ctx.child_reason(c)
    return reasons


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


class _Diagnosis:
    """Occupancy of the homes in a result, and the wording of reasons."""

    def __init__(self, inst: _Instance, home_of: np.ndarray, result: AssignmentResult) -> None:
        self.inst = inst
        self.home_of = home_of
        self.result = result
        self.occupants: dict[int, list[int]] = {}
        for c in np.flatnonzero(home_of >= 0):
            self.occupants.setdefault(int(home_of[c]), []).append(int(c))
        self.feasible = {
            int(inst.pair_child[idx[0]]): inst.pair_home[idx] for idx in _groups_by(inst.pair_child)
        }
        locked = inst.locked_home >= 0
        self.locked_groups = set(inst.group[locked & (inst.group >= 0)].tolist())

    def _unit(self, o: int) -> tuple[tuple[str, int], float, int]:
        """Key, priority and size of the unit child ``o`` was placed with."""
        inst = self.inst
        g = int(inst.group[o])
        if self.result.sibling_policy == "together" and g >= 0 and g not in self.locked_groups:
            members = np.flatnonzero(inst.group == g)
            return ("g", g), float(inst.priority[members].sum()), len(members)
        return ("c", o), float(inst.priority[o]), 1

    def _home_state(self, h: int, need: int, own: float) -> tuple[str, list[int]]:
        """Why home ``h`` cannot take ``need`` more children of total priority ``own``.

        Returns a category (``free``, ``empty``, ``locked``, ``higher``,
        ``equal``, ``lower``) and the children holding the places.
        """
        inst = self.inst
        held = self.occupants.get(h, [])
        free = int(inst.capacity[h]) - len(held)
        if free >= need:
            return "free", []
        if inst.capacity[h] == 0:
            return "empty", []
        movable = [o for o in held if inst.locked_home[o] < 0]
        units: dict[tuple[str, int], tuple[float, int]] = {}
        cost_of: dict[int, float] = {}
        for o in movable:
            key, cost, size = self._unit(o)
            units[key] = (cost, size)
            cost_of[o] = cost
        best = math.inf
        items = list(units.values())
        for mask in range(1, 2 ** min(len(items), 12)):
            chosen = [items[i] for i in range(len(items)) if mask >> i & 1]
            if sum(s for _, s in chosen) >= need - free:
                best = min(best, sum(c for c, _ in chosen))
        if not math.isfinite(best):
            return "locked", [o for o in held if inst.locked_home[o] >= 0]
        tol = 1e-9 * max(1.0, abs(own))
        if best > own + tol:
            return "higher", movable
        if best >= own - tol:
            return "equal", [o for o in movable if cost_of[o] <= own + tol]
        return "lower", [o for o in movable if cost_of[o] < own - tol]

    def _blocked(self, homes: list[int], need: int, own: float) -> str:
        """Describe why none of ``homes`` takes the child (``need == 1``) or the group.

        ``own`` is the priority of the child, or the combined priority of the group.
        """
        inst = self.inst
        by_state: dict[str, list[tuple[int, list[int]]]] = {}
        for h in homes:
            state, kids = self._home_state(h, need, own)
            by_state.setdefault(state, []).append((h, kids))

        def who(state: str) -> str:
            ids = _ids(inst.child_ids[sorted({k for _, ks in by_state[state] for k in ks})])
            if need == 1:
                relation = {"higher": "of higher priority", "equal": "of equal priority",
                            "lower": "of lower priority"}[state]
            else:
                relation = {"higher": "whose priority exceeds", "equal": "whose priority equals",
                            "lower": "of less priority than"}[state]
                relation += f" the group's combined {own:.2f}"
            return f"children {relation} ({ids})"

        def locked() -> str:
            ids = {k for _, ks in by_state["locked"] for k in ks}
            return f"placements already made ({_ids(inst.child_ids[sorted(ids)])})"

        ties = "ties are broken by match score, then by id"
        early = (f"the solve stopped early (status {self.result.status}, gap "
                 f"{self.result.mip_gap:.3g}); raise time_limit_seconds or lower mip_gap")
        if len(by_state) == 1:
            state = next(iter(by_state))
            its = "its" if len(homes) == 1 else "their"
            subject = "this child" if need == 1 else "the group"
            return {
                "higher": lambda: (f"all {its} capacity is taken by {who('higher')}"
                                   if need == 1 else f"{its} places are held by {who('higher')}"),
                "locked": lambda: f"all {its} capacity is taken by {locked()}",
                "empty": lambda: ("it has no free places" if len(homes) == 1
                                  else "none of them has free places"),
                "equal": lambda: f"placing {subject} would displace {who('equal')}; {ties}",
                "lower": lambda: f"{its} places are held by {who('lower')}, which an optimal "
                                 f"solution would not do; {early}",
                "free": lambda: f"{its} places are not all taken, yet {subject} is unmatched; "
                                + early,
            }[state]()
        parts = []
        for state, text in (
            ("higher", lambda: f"full with {who('higher')}"),
            ("locked", lambda: f"full with {locked()}"),
            ("empty", lambda: "without free places"),
            ("equal", lambda: f"full with {who('equal')} ({ties})"),
            ("lower", lambda: f"held by {who('lower')}, which an optimal solution would not "
                              f"do; {early}"),
            ("free", lambda: f"not full, yet unused; {early}"),
        ):
            if state in by_state:
                n = len(by_state[state])
                parts.append(f"{n} {'is' if n == 1 else 'are'} {text()}")
        return "; ".join(parts)

    def child_reason(self, c: int) -> str:
        inst = self.inst
        homes = [int(h) for h in self.feasible[c]]
        g = int(inst.group[c])
        parts = []
        rest = []
        for h in homes:
            sibs = [o for o in self.occupants.get(h, []) if g >= 0 and inst.group[o] == g]
            if sibs and not inst.accepts[h]:
                parts.append(f"{inst.home_ids[h]} does not take sibling groups and already has "
                             f"sibling {_ids(inst.child_ids[sibs])}")
            else:
                rest.append(h)
        if rest:
            parts.append(self._blocked(rest, 1, float(inst.priority[c])))
        return f"{_plural(len(homes), 'home qualifies', 'homes qualify')} but " + "; ".join(parts)

    def together_reason(self, c: int, g: int) -> str:
        inst = self.inst
        gid = inst.group_ids[g]
        members = np.flatnonzero(inst.group == g)
        size = len(members)
        if g in self.locked_groups:
            lhomes = sorted({int(inst.locked_home[m]) for m in members if inst.locked_home[m] >= 0})
            where = _ids(inst.home_ids[lhomes])
            head = (f"sibling group {gid} ({size} children) is kept together and already has a "
                    f"placement in {where} (made earlier), so this child may only join it; ")
            mine = [h for h in lhomes if h in set(self.feasible[c].tolist())]
            if not mine:
                return head + (f"this child qualifies for "
                               f"{_plural(len(self.feasible[c]), 'other home', 'other homes')} "
                               f"but not {where}")
            takes = [h for h in mine if inst.accepts[h]]
            if not takes:
                return head + f"{_ids(inst.home_ids[mine])} does not take sibling groups"
            return head + self._blocked(takes, 1, float(inst.priority[c]))
        sets = [set(self.feasible.get(int(m), np.zeros(0, dtype=np.int64)).tolist())
                for m in members]
        common = sorted(set.intersection(*sets))
        if not common:
            counts = sorted(len(s) for s in sets)
            return (f"sibling group {gid} ({size} children) is placed together or not at all, "
                    f"and no single home qualifies for all {size} (each qualifies for "
                    f"{counts[0]} to {counts[-1]} homes)")
        residual = inst.residual
        takes = [h for h in common if inst.accepts[h]]
        roomy = [h for h in takes if residual[h] >= size]
        if not roomy:
            detail = []
            if len(common) > len(takes):
                n = len(common) - len(takes)
                detail.append(f"{n} do{'es' if n == 1 else ''} not take sibling groups")
            if takes:
                detail.append(f"{len(takes)} ha{'s' if len(takes) == 1 else 've'} fewer than "
                              f"{size} free places")
            return (f"sibling group {gid} ({size} children) needs one home with {size} free "
                    f"places that takes sibling groups; none of its "
                    f"{_plural(len(common), 'qualifying home', 'qualifying homes')} does "
                    f"({', '.join(detail)})")
        total = float(inst.priority[members].sum())
        return (f"sibling group {gid} ({size} children, combined priority {total:.2f}) "
                f"qualifies for {_plural(len(roomy), 'home', 'homes')} with room for the whole "
                "group, but " + self._blocked(roomy, size, total))
