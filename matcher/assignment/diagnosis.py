"""Why a child is left unmatched: the binding constraint in plain words."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from matcher import i18n
from matcher.assignment.instance import _groups_by, _ids, _Instance, _instance
from matcher.assignment.problem import AssignmentProblem, AssignmentResult
from matcher.i18n import gettext as _
from matcher.i18n import ngettext

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


class _Diagnosis:
    """Occupancy of the homes in a result, and the wording of reasons."""

    def __init__(self, inst: _Instance, home_of: np.ndarray, result: AssignmentResult) -> None:
        self.inst = inst
        self.home_of = home_of
        self.result = result
        self.occupants: dict[int, list[int]] = {}
        for c in np.flatnonzero(home_of >= 0):
            self.occupants.setdefault(int(home_of[c]), []).append(int(c))
        # a child who lives in a home and is not placed there keeps using its place
        # (the residual capacity of the model): it cannot be moved out by this run
        for c in np.flatnonzero((inst.current_home >= 0) & (home_of != inst.current_home)):
            self.occupants.setdefault(int(inst.current_home[c]), []).append(int(c))
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
        movable = [o for o in held if inst.locked_home[o] < 0 and self.home_of[o] == h]
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
            if sum(s for _c, s in chosen) >= need - free:
                best = min(best, sum(c for c, _s in chosen))
        if not math.isfinite(best):
            return "locked", [o for o in held if o not in cost_of]
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
        by_state: dict[str, list[tuple[int, list[int]]]] = {}
        for h in homes:
            state, kids = self._home_state(h, need, own)
            by_state.setdefault(state, []).append((h, kids))

        # Other children are counted, never named: a reason reaches each child's brief.
        def who(state: str) -> str:
            n = len({k for _h, ks in by_state[state] for k in ks})
            if need == 1:
                text = {"higher": ngettext("{n} child of higher priority",
                                           "{n} children of higher priority", n),
                        "equal": ngettext("{n} child of equal priority",
                                          "{n} children of equal priority", n),
                        "lower": ngettext("{n} child of lower priority",
                                          "{n} children of lower priority", n)}[state]
            else:
                text = {"higher": ngettext("{n} child whose priority exceeds the group's "
                                           "combined {priority}",
                                           "{n} children whose priority exceeds the group's "
                                           "combined {priority}", n),
                        "equal": ngettext("{n} child whose priority equals the group's "
                                          "combined {priority}",
                                          "{n} children whose priority equals the group's "
                                          "combined {priority}", n),
                        "lower": ngettext("{n} child of less priority than the group's "
                                          "combined {priority}",
                                          "{n} children of less priority than the group's "
                                          "combined {priority}", n)}[state]
            return text.format(n=n, priority=i18n.format_number(own, 2))

        def locked() -> str:
            n = len({k for _h, ks in by_state["locked"] for k in ks})
            return ngettext("{n} placement already made", "{n} placements already made",
                            n).format(n=n)

        ties = _("ties are broken by match score, then by id")
        early = _("the solve stopped early (status {status}, gap {gap}); raise "
                  "time_limit_seconds or lower mip_gap").format(
                      status=self.result.status, gap=f"{self.result.mip_gap:.3g}")
        if len(by_state) == 1:
            state = next(iter(by_state))
            one = len(homes) == 1
            child = need == 1
            return {
                "higher": lambda: ((_("all its capacity is taken by {who}") if one
                                    else _("all their capacity is taken by {who}")) if child
                                   else (_("its places are held by {who}") if one
                                         else _("their places are held by {who}")))
                .format(who=who("higher")),
                "locked": lambda: (_("all its capacity is taken by {who}") if one
                                   else _("all their capacity is taken by {who}"))
                .format(who=locked()),
                "empty": lambda: (_("it has no free places") if one
                                  else _("none of them has free places")),
                "equal": lambda: (_("placing this child would displace {who}; {ties}") if child
                                  else _("placing the group would displace {who}; {ties}"))
                .format(who=who("equal"), ties=ties),
                "lower": lambda: (_("its places are held by {who}, which an optimal solution "
                                    "would not do; {early}") if one
                                  else _("their places are held by {who}, which an optimal "
                                         "solution would not do; {early}"))
                .format(who=who("lower"), early=early),
                "free": lambda: ((_("its places are not all taken, yet this child is "
                                    "unmatched; {early}") if one
                                  else _("their places are not all taken, yet this child is "
                                         "unmatched; {early}")) if child
                                 else (_("its places are not all taken, yet the group is "
                                         "unmatched; {early}") if one
                                       else _("their places are not all taken, yet the group "
                                              "is unmatched; {early}")))
                .format(early=early),
            }[state]()
        parts = []
        for state, text in (
            ("higher", lambda k: ngettext("{n} is full with {who}", "{n} are full with {who}",
                                          k).format(n=k, who=who("higher"))),
            ("locked", lambda k: ngettext("{n} is full with {who}", "{n} are full with {who}",
                                          k).format(n=k, who=locked())),
            ("empty", lambda k: ngettext("{n} is without free places",
                                         "{n} are without free places", k).format(n=k)),
            ("equal", lambda k: ngettext("{n} is full with {who} ({ties})",
                                         "{n} are full with {who} ({ties})", k).format(
                                             n=k, who=who("equal"), ties=ties)),
            ("lower", lambda k: ngettext(
                "{n} is held by {who}, which an optimal solution would not do; {early}",
                "{n} are held by {who}, which an optimal solution would not do; {early}",
                k).format(n=k, who=who("lower"), early=early)),
            ("free", lambda k: ngettext("{n} is not full, yet unused; {early}",
                                        "{n} are not full, yet unused; {early}", k).format(
                                            n=k, early=early)),
        ):
            if state in by_state:
                parts.append(text(len(by_state[state])))
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
                parts.append(ngettext("{home} does not take sibling groups and already has "
                                      "{n} of the siblings",
                                      "{home} does not take sibling groups and already has "
                                      "{n} of the siblings", len(sibs)).format(
                    home=inst.home_ids[h], n=len(sibs)))
            else:
                rest.append(h)
        if rest:
            parts.append(self._blocked(rest, 1, float(inst.priority[c])))
        return ngettext("{n} home qualifies but {reasons}", "{n} homes qualify but {reasons}",
                        len(homes)).format(n=len(homes), reasons="; ".join(parts))

    def together_reason(self, c: int, g: int) -> str:
        inst = self.inst
        gid = inst.group_ids[g]
        members = np.flatnonzero(inst.group == g)
        size = len(members)
        if g in self.locked_groups:
            lhomes = sorted({int(inst.locked_home[m]) for m in members if inst.locked_home[m] >= 0})
            where = _ids(inst.home_ids[lhomes])
            head = _("sibling group {group} ({size} children) is kept together and already has "
                     "a placement in {where} (made earlier), so this child may only join it; "
                     "{why}")
            mine = [h for h in lhomes if h in set(self.feasible[c].tolist())]
            takes = [h for h in mine if inst.accepts[h]]
            k = len(self.feasible[c])
            if not mine:
                why = ngettext("this child qualifies for {n} other home but not {where}",
                               "this child qualifies for {n} other homes but not {where}",
                               k).format(n=k, where=where)
            elif not takes:
                why = _("{homes} does not take sibling groups").format(
                    homes=_ids(inst.home_ids[mine]))
            else:
                why = self._blocked(takes, 1, float(inst.priority[c]))
            return head.format(group=gid, size=size, where=where, why=why)
        sets = [set(self.feasible.get(int(m), np.zeros(0, dtype=np.int64)).tolist())
                for m in members]
        common = sorted(set.intersection(*sets))
        if not common:
            counts = sorted(len(s) for s in sets)
            return _("sibling group {group} ({size} children) is placed together or not at "
                     "all, and no single home qualifies for all {size} (each qualifies for "
                     "{low} to {high} homes)").format(group=gid, size=size, low=counts[0],
                                                      high=counts[-1])
        residual = inst.residual
        takes = [h for h in common if inst.accepts[h]]
        roomy = [h for h in takes if residual[h] >= size]
        if not roomy:
            detail = []
            if len(common) > len(takes):
                n = len(common) - len(takes)
                detail.append(ngettext("{n} does not take sibling groups",
                                       "{n} do not take sibling groups", n).format(n=n))
            if takes:
                detail.append(ngettext("{n} has fewer than {size} free places",
                                       "{n} have fewer than {size} free places",
                                       len(takes)).format(n=len(takes), size=size))
            return ngettext("sibling group {group} ({size} children) needs one home with {size} "
                            "free places that takes sibling groups; none of its {n} qualifying "
                            "home does ({detail})",
                            "sibling group {group} ({size} children) needs one home with {size} "
                            "free places that takes sibling groups; none of its {n} qualifying "
                            "homes does ({detail})", len(common)).format(
                                group=gid, size=size, n=len(common), detail=", ".join(detail))
        total = float(inst.priority[members].sum())
        return ngettext("sibling group {group} ({size} children, combined priority {priority}) "
                        "qualifies for {n} home with room for the whole group, but {why}",
                        "sibling group {group} ({size} children, combined priority {priority}) "
                        "qualifies for {n} homes with room for the whole group, but {why}",
                        len(roomy)).format(group=gid, size=size,
                                           priority=i18n.format_number(total, 2), n=len(roomy),
                                           why=self._blocked(roomy, size, total))
