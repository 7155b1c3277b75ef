"""Why a child is left unmatched: the binding constraint in plain words."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from matcher.assignment.instance import _groups_by, _ids, _Instance, _instance
from matcher.assignment.problem import AssignmentProblem, AssignmentResult

__all__ = ["diagnose"]

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
    for pos in np.flatnonzero(home_of < 0):
        c = int(pos)
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
