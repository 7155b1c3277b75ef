"""Proposals carried from run to run: kept, changed or new, and why a proposal changed.

A *change* is a child who had a proposed home in the previous run and now has
another home or none (:mod:`matcher.assignment.model`, stage three, keeps
changes few). This module compares a run with the previous one and says, in
plain words, why each change happened:

* the previous pair is no longer allowed: "H0044 no longer approved for age
  13", "H0044 declined on 1 October 2026: the foster home said no", "H0044 is no longer in
  the homes table";
* the previous home is full: "H0044 now holds an acute child" (a child who
  was not there before took the place; other children are never named, as the
  reason reaches the child's brief), or "H0044 no longer has a free place";
* the child got another home: "better home: 12 min closer to school", or
  "better home: score 0.71 -> 0.78";
* otherwise the child's place went to children of higher priority.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher import decisions as decisions_mod
from matcher import i18n
from matcher.config import Settings
from matcher.i18n import gettext as _
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = ["Comparison", "compare", "previous_proposals"]


def previous_proposals(previous: pd.DataFrame) -> pd.DataFrame:
    """Return the proposals of a previous run's assignments table: ``child_id, home_id``.

    Rows without a home are dropped; ids are text.
    """
    rows = previous.loc[previous["home_id"].notna() & (previous["home_id"].astype(str) != ""),
                        ["child_id", "home_id"]]
    return rows.astype(str).drop_duplicates("child_id").reset_index(drop=True)


@dataclass(frozen=True)
class Comparison:
    """A run compared with the previous one.

    Attributes
    ----------
    previous_home
        Per child of this run (index ``child_id``): the previous home or ``None``.
    status
        Per child: ``kept``, ``changed``, ``new`` (no previous proposal, a home
        now) or ``""`` (no home before or now).
    reason
        Per child: why a previous proposal changed (``""`` otherwise).
    """

    previous_home: pd.Series
    status: pd.Series
    reason: pd.Series

    def counts(self) -> dict[str, int]:
        """Return ``{"kept": ..., "changed": ..., "new": ...}``."""
        return {k: int((self.status == k).sum()) for k in ("kept", "changed", "new")}


def compare(table: pd.DataFrame, previous: pd.DataFrame, inputs: Inputs, *,
            feasible: pd.DataFrame, times: TimeTable, settings: Settings,
            declined: pd.DataFrame | None = None) -> Comparison:
    """Compare this run's assignments with the previous proposals.

    Parameters
    ----------
    table
        This run's assignments (``child_id, home_id, school_minutes, score,
        urgency``).
    previous
        Previous proposals: ``child_id, home_id`` (:func:`previous_proposals`).
    inputs
        This run's validated inputs (with accepted decisions locked and
        declines as vetoes).
    feasible
        This run's feasible pairs (``child_id, home_id, school_minutes, score``).
    times
        Travel times in minutes.
    settings
        All settings.
    declined
        Declines in force (``child_id, home_id, decided_on, reason``), or ``None``.

    Returns
    -------
    Comparison
        Previous home, status and reason per child.
    """
    t = table.set_index("child_id")
    prev = previous.set_index("child_id")["home_id"].reindex(t.index)
    prev = prev.where(prev.notna(), None)
    now = t["home_id"].where(t["home_id"].notna(), None)
    has_prev = prev.notna().to_numpy()
    has_now = now.notna().to_numpy()
    same = has_prev & has_now & (prev.fillna("").to_numpy() == now.fillna("").to_numpy())
    status = np.where(same, "kept", np.where(has_prev, "changed",
                                             np.where(has_now, "new", "")))
    status_s = pd.Series(status, index=t.index, dtype=object)
    reason = pd.Series("", index=t.index, dtype=object)
    changed = t.index[status == "changed"]
    if len(changed):
        reason.loc[changed] = _reasons(t, prev, changed, inputs, feasible, times, settings,
                                       declined)
    return Comparison(previous_home=prev.astype(object), status=status_s, reason=reason)


def _reasons(t: pd.DataFrame, prev: pd.Series, changed: pd.Index, inputs: Inputs,
             feasible: pd.DataFrame, times: TimeTable, settings: Settings,
             declined: pd.DataFrame | None) -> list[str]:
    homes = inputs.homes.set_index("home_id")
    pair_key = pd.MultiIndex.from_frame(feasible[["child_id", "home_id"]])
    pair_rows = feasible.set_index(pair_key)
    decl = {} if declined is None else {
        (r.child_id, r.home_id): _("{home} declined on {day}: {reason}").format(
            home=r.home_id, reason=decisions_mod.decline_text(r.reason),
            day=i18n.format_date(r.decided_on))
        for r in declined.itertuples(index=False)}
    known = [c for c in changed if prev[c] in homes.index]
    rules = decisions_mod.rule_failures(
        inputs, pd.DataFrame({"child_id": known, "home_id": [prev[c] for c in known]}),
        times, settings) if known else {}
    placed = t[t["home_id"].notna()]
    occupants = placed.groupby("home_id").groups
    out: list[str] = []
    for c in changed:
        h = prev[c]
        if h not in homes.index:
            out.append(_("{home} is no longer in the homes table").format(home=h))
            continue
        if (c, h) in decl:
            out.append(decl[(c, h)])
            continue
        if c in rules:
            out.append(rules[c])
            continue
        holders = [x for x in occupants.get(h, []) if x != c]
        full = (c, h) not in pair_rows.index or len(holders) >= int(homes.at[h, "capacity"])
        newcomers = sorted(x for x in holders if prev.get(x) != h)
        acute = [x for x in newcomers if t.at[x, "urgency"] == "acute"]
        if full and acute:
            out.append(_("{home} now holds an acute child").format(home=h))
            continue
        new_home = t.at[c, "home_id"]
        better = _better(pair_rows, c, h, t) if isinstance(new_home, str) else None
        if better is not None:
            out.append(better)
        elif full and newcomers:
            out.append(_("{home} now holds a child placed first by priority").format(home=h))
        elif full:
            out.append(_("{home} no longer has a free place").format(home=h))
        elif isinstance(new_home, str):
            out.append(_("moved to {home} to make room for others").format(home=new_home))
        else:
            out.append(_("the place in {home} went to children of higher priority")
                       .format(home=h))
    return out


def _better(pair_rows: pd.DataFrame, c: str, h: str, t: pd.DataFrame) -> str | None:
    """Why the new home is better than the previous one, or ``None`` if it is not."""
    if (c, h) not in pair_rows.index:
        return None
    old = pair_rows.loc[(c, h)]
    before, after = float(old["school_minutes"]), float(t.at[c, "school_minutes"])
    if np.isfinite(before) and np.isfinite(after) and before - after >= 0.5:
        return _("better home: {minutes} closer to school").format(
            minutes=i18n.format_minutes(before - after))
    score_before, score_after = float(old["score"]), float(t.at[c, "score"])
    if score_after > score_before + 1e-9:
        return _("better home: score {before} -> {after}").format(
            before=i18n.format_number(score_before, 2), after=i18n.format_number(score_after, 2))
    return None
