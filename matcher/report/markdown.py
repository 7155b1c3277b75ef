"""``report.md``: a summary at a glance, placements, school travel bands, unmatched children,
training plan, solver status and fingerprints (in the language in effect)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher import escape, i18n, schema, vocabulary
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.report.common import (
    CRS,
    OSM_ATTRIBUTION,
    SCHOOL_BANDS_MINUTES,
    _title,
    synthetic_note,
)
from matcher.rules import FILTERS
from matcher.waiting import REASONS, reason_text

if TYPE_CHECKING:
    from matcher.run import Override, RunSummary

__all__ = ["REASONS", "reason_codes", "reason_text", "school_bands", "top_reasons"]

def reason_codes(history: pd.DataFrame, sibling_policy: str = "") -> dict[str, tuple[str, ...]]:
    """Reason codes of each unmatched child, from the history rows of a run.

    Parameters
    ----------
    history
        :func:`matcher.waiting.history` rows (``child_id, home_id, binding,
        sibling_group_size``), e.g. ``history.csv`` of a run folder.
    sibling_policy
        The run's sibling policy (``summary.json``): with ``together``, a
        child of a sibling group whose homes went elsewhere counts as
        ``siblings`` rather than ``competition``.

    Returns
    -------
    dict
        ``child_id -> codes`` (binding filters in :data:`FILTERS` order, or one
        of ``competition``, ``siblings``, ``other``), unmatched children only.
    """
    out: dict[str, tuple[str, ...]] = {}
    if history is None or history.empty:
        return out
    size = (pd.to_numeric(history["sibling_group_size"], errors="coerce").fillna(1)
            if "sibling_group_size" in history.columns else pd.Series(1, index=history.index))
    for cid, home, binding, n in zip(history["child_id"], history["home_id"],
                                     history["binding"].fillna("").astype(str), size,
                                     strict=True):
        if isinstance(home, str) and home:
            continue
        parts = {b for b in binding.split(";") if b}
        if parts == {"competition"}:
            codes: tuple[str, ...] = (("siblings",) if sibling_policy == "together" and n > 1
                                      else ("competition",))
        else:
            codes = tuple(f for f in FILTERS if f in parts) or ("other",)
        out[str(cid)] = codes
    return out


def top_reasons(codes: Mapping[str, Sequence[str]], k: int = 3) -> list[tuple[str, int]]:
    """The ``k`` most common reason codes: ``(code, children)``, ties in :data:`REASONS` order."""
    counts: dict[str, int] = {}
    for child_codes in codes.values():
        for code in child_codes:
            counts[code] = counts.get(code, 0) + 1
    order = list(REASONS)
    return sorted(counts.items(), key=lambda kv: (-kv[1], order.index(kv[0])
                                                  if kv[0] in order else len(order), kv[0]))[:k]

# ---- report.md


def school_bands(minutes: np.ndarray | Sequence[float], *,
                 edges_minutes: Sequence[float] = SCHOOL_BANDS_MINUTES) -> list[tuple[str, int]]:
    """Count school travel times per band.

    Parameters
    ----------
    minutes
        Travel times in minutes; non-finite values are ignored.
    edges_minutes
        Ascending upper band edges in minutes; a band holds ``lower < t <= upper``
        and the last band everything above the last edge.

    Returns
    -------
    list of (str, int)
        Band label (``"<= 15"``, ``"15-30"``, ..., ``"> 60"``) and count.
    """
    t = np.asarray(minutes, dtype=float)
    t = t[np.isfinite(t)]
    edges = [float(e) for e in edges_minutes]
    out = [(f"<= {edges[0]:g}", int((t <= edges[0]).sum()))]
    for lo, hi in itertools.pairwise(edges):
        out.append((f"{lo:g}-{hi:g}", int(((t > lo) & (t <= hi)).sum())))
    out.append((f"> {edges[-1]:g}", int((t > edges[-1]).sum())))
    return out


class _Code(str):
    """A table cell written as inline code on purpose (a hash): not escaped."""


def _cell(value: object) -> str:
    """One table cell as inert text: no HTML, no Markdown markup, one line."""
    if isinstance(value, _Code):
        return f"`{value}`"
    return escape.markdown(value)


def _overrides(rows: Sequence[Override]) -> list[str]:
    """Locks and vetoes decided since the previous run (audit), or nothing."""
    if not rows:
        return []
    kinds = {"lock": _("locked placement"), "veto": _("veto")}
    return [_("Locks and vetoes since the previous run:"), "",
            *_table((_("decided on"), _("by"), "child_id", "home_id", _("kind")),
                    [(r.decided_on, r.by, r.child_id, r.home_id, kinds.get(r.kind, r.kind))
                     for r in rows]), ""]


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _h in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _pct(part: float, whole: float) -> str:
    return f"{i18n.format_number(100.0 * part / whole, 1)} %" if whole else _("n/a")


def _urgency(code: object) -> str:
    return _("all") if str(code) == "all" else vocabulary.name("urgency", str(code))


_WISH_RULES = {"language": N_("a required language"),
               "avoid": N_("municipalities the child avoids"),
               "contacts": N_("travel limits to contacts"),
               "household": N_("the age gap to own children")}


def _voice(summary: RunSummary) -> list[str]:
    """``## The child's voice``: children not heard, and wishes that left children unmatched."""
    out = ["## " + _("The child's voice"), ""]
    unheard = summary.children_not_heard
    age, days = summary.hear_from_age, summary.heard_max_age_days
    if unheard:
        out += [_("Not heard (aged {age} or older, no `heard_on` within {days} days): {n}. "
                  "Hear them before the placement is decided: {ids}.").format(
                      age=age, days=days, n=len(unheard),
                      ids=", ".join(_cell(c) for c in unheard)), ""]
    else:
        out += [_("Every child aged {age} or older was heard within {days} days.").format(
            age=age, days=days), ""]
    binding = summary.unmatched_by_binding_rule
    rows = [(vocabulary.name("rule", k), _(text), binding[k]) for k, text in _WISH_RULES.items()
            if binding.get(k)]
    if rows:
        out += [_("Wishes and household rules that alone leave unmatched children without a "
                  "home (a child may count under several):"), ""]
        out += [*_table((_("rule"), _("what"), _("unmatched children")), rows), ""]
    return out


def _glance(a: pd.DataFrame, summary: RunSummary, meta: Mapping[str, Any],
            history: pd.DataFrame | None) -> list[str]:
    """``## At a glance``: waiting children, near school, own municipality, top reasons."""
    placed = a["home_id"].notna().to_numpy()
    n_placed = int(placed.sum())
    out = ["## " + _("At a glance"), ""]
    if history is not None:
        waiting, proposed = len(history), int(history["home_id"].notna().sum())
        days = pd.to_numeric(history["days_waiting"], errors="coerce").to_numpy(dtype=float)
        days = days[np.isfinite(days)]
    else:
        waiting = int((~a["locked"].to_numpy(dtype=bool)).sum())
        proposed = int((placed & ~a["locked"].to_numpy(dtype=bool)).sum())
        days = np.zeros(0)
    items = [ngettext("{n} child is waiting for a foster home (children without a locked "
                      "placement): {proposed} with a proposal, {none} without.",
                      "{n} children are waiting for a foster home (children without a locked "
                      "placement): {proposed} with a proposal, {none} without.", waiting)
             .format(n=waiting, proposed=proposed, none=waiting - proposed)]
    if len(days):
        items.append(_("They have waited {median} days (median); the longest wait is {longest} "
                       "days.").format(median=i18n.format_number(float(np.median(days)), 0),
                                       longest=i18n.format_number(float(days.max()), 0)))
    else:
        items.append(_("Waiting time unknown: no child has a `waiting_since` date."))
    near = float(meta.get("near_school_minutes") or SCHOOL_BANDS_MINUTES[0])
    school = a.loc[placed, "school_minutes"].to_numpy(dtype=float)
    with_school = school[~np.isnan(school)]
    n_near = int((with_school <= near).sum())
    items.append(_("Near school: for {k} of {n} children with a proposal and a school, the "
                   "proposed home is at most {near} from it (the first travel-time band).").format(
                       k=n_near, n=len(with_school), near=i18n.format_minutes(near)))
    own = int((a["municipality_match"].to_numpy(dtype=bool) & placed).sum())
    if summary.pools:
        coop = summary.kept_within_cooperation
        items.append(_("Own municipality: {own} of {n} proposals; own municipality or "
                       "its cooperation: {coop} of {n}.").format(own=own, coop=coop, n=n_placed))
    else:
        items.append(_("Own municipality: {own} of {n} proposals.").format(
            own=own, n=n_placed))
    out += [f"- {item}" for item in items] + [""]
    if history is not None:
        codes = reason_codes(history, summary.sibling_policy)
        top = top_reasons(codes)
        if top:
            out += [_("Most common reasons for no proposal:"), ""]
            out += [f"{i}. {reason_text(code)}: " + ngettext(
                "{n} child", "{n} children", n).format(n=n)
                for i, (code, n) in enumerate(top, start=1)]
            out.append("")
            if any(len(c) > 1 for c in codes.values()):
                out += [_("A child may count under more than one reason: each reason alone "
                          "leaves it without a home."), ""]
    return out


def _markdown(assignments: pd.DataFrame, summary: RunSummary,
              meta: Mapping[str, Any], history: pd.DataFrame | None = None, *,
              crs: str = CRS, municipalities: Mapping[str, str] | None = None) -> str:
    a = assignments
    known = vocabulary.municipality_names(municipalities)
    placed = a["home_id"].notna().to_numpy()
    n_placed = int(placed.sum())
    out = [f"# {_title(summary)}", ""]
    if meta.get("synthetic"):
        out += ["> **" + _("{note}. Do not use for casework.").format(note=synthetic_note(meta))
                + "**", ""]
    out += _glance(a, summary, meta, history)
    out += [_("The engine recommends; people decide. Child and home ids are pseudonymous; "
              "this report holds no names or addresses."), ""]
    if meta.get("privacy") == "exact":
        out += [_("Child positions in the maps are coarsened to the centre of their 250 m grid "
                  "cell ({crs}). `matches.gpkg` holds the exact positions, for analysts only: "
                  "do not share it.").format(crs=crs), ""]
    else:
        out += [_("Child positions in the maps and `matches.gpkg` are coarsened to the centre "
                  "of their 250 m grid cell ({crs}).").format(crs=crs), ""]
    n_protected = int(meta.get("protected", 0))
    if n_protected:
        out += [ngettext("{n} child has a protected address (fortrolig or strengt fortrolig "
                         "adresse): address protected, in no map and no layer.",
                         "{n} children have a protected address (fortrolig or strengt "
                         "fortrolig adresse): address protected, in no map and no layer.",
                         n_protected).format(n=n_protected), ""]

    out += ["## " + _("Proposals by urgency"), ""]
    rows = []
    for urgency in (*schema.URGENCIES, *sorted(set(a["urgency"]) - set(schema.URGENCIES))):
        sel = (a["urgency"] == urgency).to_numpy()
        rows.append((_urgency(urgency), int(sel.sum()), int((sel & placed).sum()),
                     int((sel & ~placed).sum())))
    rows.append((_urgency("all"), len(a), n_placed, len(a) - n_placed))
    out += [*_table((_("urgency"), _("children"), _("with a proposal"),
                     _("without a proposal")), rows), ""]
    locked = int(a["locked"].sum())
    if locked:
        out += [_("Locked placements kept: {n}.").format(n=locked), ""]

    kept = int((a["municipality_match"].to_numpy(dtype=bool) & placed).sum())
    kin = int((a["kinship"].to_numpy(dtype=bool) & placed).sum())
    out += ["## " + _("Home municipality"), "",
            _("In their home municipality: {kept} of {n} proposals ({share}). "
              "Proposals of kinship homes: {kin}.").format(kept=kept, n=n_placed,
                                                    share=_pct(kept, n_placed), kin=kin), ""]
    pools = summary.pools
    if pools:
        coop = summary.kept_within_cooperation
        listed = "; ".join(
            f"{escape.markdown(vocabulary.pool(k))} "
            f"({', '.join(escape.markdown(vocabulary.municipality(m, known)) for m in v)})"
            for k, v in sorted(pools.items()))
        out += [_("Within the cooperation (own municipality or another municipality of its "
                  "cooperation): {coop} of {n} proposals ({share}). Cooperations: {pools}.")
                .format(
                      coop=coop, n=n_placed, share=_pct(coop, n_placed), pools=listed), ""]
    out += [_("Siblings count a home in any member's municipality as their own."), ""]
    out += _voice(summary)

    school = a.loc[placed, "school_minutes"].to_numpy(dtype=float)
    school = school[np.isfinite(school)]
    out += ["## " + _("School travel time"), "",
            _("Children with a proposal and a school: {n} (car, proposed home to school, "
              "minutes).")
            .format(n=len(school)), ""]
    bands = school_bands(school)
    out += [*_table((_("minutes"), _("children"), _("share")),
                    [(label, n, _pct(n, len(school))) for label, n in bands]), ""]
    median = (_("{minutes} min").format(minutes=i18n.format_number(float(np.median(school)), 1))
              if len(school) else _("n/a"))
    out += [_("Median: {median}.").format(median=median), ""]

    out += ["## " + _("Unmatched children"), ""]
    unmatched = a.loc[~placed]
    if unmatched.empty:
        out += [_("None: every child has a recommended home."), ""]
    else:
        out += [*_table(("child_id", _("urgency"), _("reason")),
                        [(r.child_id, _urgency(r.urgency), r.reason or _("no proposal"))
                         for r in unmatched.itertuples()]), ""]

    d = summary.decisions
    if d is not None:
        out += ["## " + _("Decisions taken into account"), "",
                _("{accepted} approved (locked), {declined} declines in force (younger than "
                  "{days} days), {kept} reservations held and {broken} broken (the reason is in "
                  "`change_reason`).").format(
                      accepted=d.accepted_locked, declined=d.declined_in_force,
                      days=d.decline_days, kept=d.reservations_kept,
                      broken=d.reservations_broken), ""]
        since = d.since_previous_run
        if since:
            out += [_("Decisions since the previous run:"), ""]
            out += [*_table((_("decided on"), _("by"), _("who"), "child_id", "home_id",
                             _("decision"), _("reason")),
                            [(r.decided_on, vocabulary.name("role", r.by), r.actor, r.child_id,
                              r.home_id, vocabulary.name("decision", r.decision),
                              vocabulary.cell("reason", r.reason)) for r in since]), ""]
        if d.legacy_rows:
            out += [ngettext("{n} row of an old decisions log was read as before (accepted as "
                             "approved, declined as a decline).",
                             "{n} rows of an old decisions log were read as before (accepted "
                             "as approved, declined as a decline).", d.legacy_rows)
                    .format(n=d.legacy_rows), ""]
        else:
            out += [_("No decisions since the previous run."), ""]
    out += _overrides(summary.overrides_since_previous_run)
    if summary.kept is not None:
        tolerance = 100 * (summary.stability_tolerance or 0.0)
        out += ["## " + _("Changes since the previous run"), "",
                _("{kept} proposals kept, {changed} changed, {new} new (score within {tolerance} "
                  "of the best).").format(
                      kept=summary.kept, changed=summary.changed, new=summary.new,
                      tolerance=f"{i18n.format_number(tolerance, 1)} %"),
                ""]
        changed = a[a["change_reason"].fillna("").astype(str) != ""] \
            if "change_reason" in a.columns else a.iloc[0:0]
        if len(changed):
            out += [*_table(("child_id", _("previous home"), _("home"), _("why")),
                            [(r.child_id, r.previous_home_id if isinstance(
                                r.previous_home_id, str) else "", r.home_id if isinstance(
                                r.home_id, str) else _("none"), r.change_reason)
                             for r in changed.itertuples()]), ""]
    from matcher import waiting

    out += ["## " + _("Children waiting for a foster home"), "",
            waiting.markdown(summary.waiting, municipalities=known)]

    out += ["## " + _("Support plan: training needs"), ""]
    needs = a["training_needs"].fillna("").astype(str).to_numpy()
    train = a.loc[placed & (needs != "")]
    if train.empty:
        out += [_("No proposed home needs training for its child."), ""]
    else:
        out += [_("These homes lack a competence the child needs; plan the training before "
                  "or soon after the move."), ""]
        out += [*_table(("child_id", "home_id", _("needs to train")),
                        [(r.child_id, r.home_id, vocabulary.cell("need", r.training_needs))
                         for r in train.itertuples()]), ""]

    out += ["## " + _("Solver"), ""]
    gap = summary.mip_gap
    na = _("n/a")
    solver_rows: list[tuple[object, ...]] = [
            (_("status"), summary.status), (_("solver"), summary.solver),
            (_("sibling policy"), summary.sibling_policy),
            (_("MIP gap"), f"{i18n.format_number(100 * gap, 2)} %" if gap is not None else na),
            (_("objective, stage 1 (priority)"), summary.objective_stage1),
            (_("objective, stage 2 (score)"), summary.objective_stage2)]
    solver_rows += [(_("time: {step} (s)").format(step=k), v)
                    for k, v in sorted(summary.timings_seconds.items())]
    out += [*_table((_("measure"), _("value")), solver_rows), ""]

    out += ["## " + _("Inputs"), ""]
    sources = summary.inputs_sha256
    out += [*_table((_("input"), "sha256"), [(_Code(k), _Code(v)) for k, v in sources.items()]), ""]
    out += [_("Configuration hash: `{hash}`; software: {software}; run date: {date}.").format(
        hash=summary.config_hash, software=summary.software,
        date=summary.as_of.isoformat()), ""]
    if meta.get("osm", True):
        out += [_("Road data {attribution}.").format(attribution=_(OSM_ATTRIBUTION)), ""]
    return "\n".join(out)
