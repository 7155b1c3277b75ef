"""Deterministic tie-breaking of an optimal assignment (by id), its verification and the
assignment table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pulp

from matcher.assignment.instance import _Candidates, _groups_by, _Instance, _Model
from matcher.assignment.problem import TIE_TOL, AssignmentProblem
from matcher.config import AssignmentSettings
from matcher.errors import InfeasibleError

__all__: list[str] = []

logger = logging.getLogger(__name__)

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
    inst: _Instance, cand: _Candidates, chosen: np.ndarray, settings: AssignmentSettings,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Apply objective-neutral relocate/replace/exchange moves towards lower ids.

    See the module docstring. With ``keep`` (stage-three weight per variable:
    previous proposals kept), moves must leave that objective unchanged too.
    Returns the new boolean mask of chosen variables.
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
    np.subtract.at(free, cand.var_home[chosen], cand.var_places[chosen])
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
        d_prio = d_weight = d_keep = 0.0
        d_at: dict[int, dict[int, int]] = {}
        for u, old, new in changes:
            for v, sign in ((old, -1), (new, 1)):
                if v < 0:
                    continue
                h = int(cand.var_home[v])
                load[h] = load.get(h, 0) + sign * int(cand.var_places[v])
                d_prio += sign * prio[u]
                d_weight += sign * weight[v]
                if keep is not None:
                    d_keep += sign * keep[v]
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
        return abs(d_prio) <= TIE_TOL and abs(d_weight) <= TIE_TOL and abs(d_keep) <= TIE_TOL

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
    load = np.bincount(cand.var_home[chosen], weights=cand.var_places[chosen],
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
