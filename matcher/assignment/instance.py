"""The canonical instance of the model (sorted ids, units, candidate pairs, locked-placement
checks) and the PuLP model primitives shared by the stages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pulp

from matcher.assignment.problem import AssignmentProblem
from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError
from matcher.i18n import gettext as _

__all__: list[str] = []

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
    previous_home: np.ndarray  # per child: home index of the previous proposal, or -1
    current_home: np.ndarray  # per child: home index of the home it lives in now, or -1
    keeps: np.ndarray  # per child: the current home is willing to keep it

    @property
    def residual(self) -> np.ndarray:
        """Free places: capacity minus locked placements minus children living there now.

        A child locked into the home it lives in takes one place there, not two.
        """
        placed = self.locked_home[self.locked_home >= 0]
        living = self.current_home[(self.current_home >= 0)
                                   & (self.current_home != self.locked_home)]
        free = self.capacity - np.bincount(placed, minlength=len(self.home_ids))
        # children living there take what is left (never below 0: _check_locked
        # reports only locked placements beyond capacity)
        return np.where(free >= 0, np.maximum(
            free - np.bincount(living, minlength=len(self.home_ids)), 0), free)


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

    previous_home = np.full(len(child_ids), -1, dtype=int)
    if len(problem.previous):
        prev_c = child_index.get_indexer(problem.previous["child_id"])
        prev_h = home_index.get_indexer(problem.previous["home_id"])
        known = (prev_c >= 0) & (prev_h >= 0)
        previous_home[prev_c[known]] = prev_h[known]

    current_home = np.full(len(child_ids), -1, dtype=int)
    if "current_home_id" in children.columns:
        current_home = home_index.get_indexer(children["current_home_id"].astype(object))
    keeps = (children["current_home_keeps"].fillna(False).to_numpy(dtype=bool)
             if "current_home_keeps" in children.columns else np.zeros(len(child_ids), bool))

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
        previous_home=previous_home,
        current_home=current_home,
        keeps=keeps & (current_home >= 0),
    )


def _check_locked(inst: _Instance) -> None:
    """Raise :class:`InfeasibleError` if the locked placements break a hard rule."""
    lines: list[str] = []
    residual = inst.residual
    for h in np.flatnonzero(residual < 0):
        kids = inst.child_ids[inst.locked_home == h]
        lines.append(
            _("home {home} has {n} placements already made ({ids}) but capacity {capacity}; "
              "raise its capacity to at least {n} or release {excess} placement(s)").format(
                  home=inst.home_ids[h], n=len(kids), ids=_ids(kids),
                  capacity=inst.capacity[h], excess=len(kids) - inst.capacity[h])
        )
    locked = inst.locked_home >= 0
    for g, gid in enumerate(inst.group_ids):
        homes, counts = np.unique(inst.locked_home[locked & (inst.group == g)], return_counts=True)
        for h, n in zip(homes, counts, strict=True):
            if n >= 2 and not inst.accepts[h]:
                kids = inst.child_ids[locked & (inst.group == g) & (inst.locked_home == h)]
                lines.append(
                    _("home {home} does not take sibling groups but holds {n} locked children "
                      "of sibling group {group} ({ids}); set its accepts_sibling_groups to "
                      "true or release a placement").format(
                          home=inst.home_ids[h], n=n, group=gid, ids=_ids(kids))
                )
    if lines:
        listed = "\n".join(f"  - {line}" for line in lines)
        raise InfeasibleError(_("locked placements are infeasible before solving:") + "\n"
                              + listed)


def _ids(ids: Iterable[object], limit: int = 6) -> str:
    """Join ids for a message: sorted, at most ``limit``, then a count."""
    items = sorted(str(i) for i in ids)
    if len(items) > limit:
        return _("{list} and {n} more").format(list=", ".join(items[:limit]),
                                               n=len(items) - limit)
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
    var_places: np.ndarray  # places the variable takes in its home: members not living there
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
    # A child's current home is a candidate only when it keeps the child.
    keep &= (inst.current_home[pc] != ph) | inst.keeps[pc]
    pgroup = inst.group[pc]
    if locked_groups_homes:
        in_locked_group = np.isin(pgroup, list(locked_groups_homes))
        lg_pairs: set[tuple[int, int]] = set()
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

    stays = (inst.current_home[pc] == ph).astype(np.int64)
    frame = pd.DataFrame({"u": unit_of_child[pc[keep]], "h": ph[keep], "w": weight[keep],
                          "c": pc[keep], "s": stays[keep]})
    agg = frame.groupby(["u", "h"], sort=True).agg(n=("c", "size"), w=("w", "sum"),
                                                   c=("c", "min"), s=("s", "sum"))
    u = agg.index.get_level_values("u").to_numpy(dtype=np.int64)
    h = agg.index.get_level_values("h").to_numpy(dtype=np.int64)
    size = unit_size[u] if len(u) else np.zeros(0, dtype=np.int64)
    places = size - agg["s"].to_numpy(dtype=np.int64)
    ok = (agg["n"].to_numpy() == size) & (residual[h] >= places)
    ok &= (size == 1) | inst.accepts[h]
    u, h = u[ok], h[ok]
    var_weight = agg["w"].to_numpy(dtype=float)[ok]
    var_child = np.where(unit_size[u] == 1, agg["c"].to_numpy(dtype=np.int64)[ok], -1)
    var_places = places[ok]

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
        var_places=var_places[order],
        locked_groups_homes=locked_groups_homes,
    )


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
