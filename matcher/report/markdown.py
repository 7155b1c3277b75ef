"""``report.md``: placements, school travel bands, unmatched children, training plan,
solver status and fingerprints."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher import schema
from matcher.report.common import (
    OSM_ATTRIBUTION,
    SCHOOL_BANDS_MINUTES,
    SYNTHETIC_NOTE,
    _notes,
    _title,
)

if TYPE_CHECKING:
    pass

__all__ = ["school_bands"]

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


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")


def _cell(value: object) -> str:
    """One table cell as inert text: no HTML, no Markdown markup, one line."""
    if isinstance(value, _Code):
        return f"`{value}`"
    text = "".join(c if c.isprintable() else " " for c in str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _overrides(rows: Sequence[Mapping[str, str]]) -> list[str]:
    """Locks and vetoes decided since the previous run (audit), or nothing."""
    if not rows:
        return []
    from matcher.i18n import gettext

    kinds = {"lock": gettext("locked placement"), "veto": gettext("veto")}
    return [gettext("Locks and vetoes since the previous run:"), "",
            *_table((gettext("decided on"), gettext("by"), "child_id", "home_id",
                     gettext("kind")),
                    [(r["decided_on"], r["by"], r["child_id"], r["home_id"],
                      kinds.get(r["kind"], r["kind"])) for r in rows]), ""]


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


_WISH_RULES = {"language": "a required language", "avoid": "municipalities the child avoids",
               "contacts": "travel limits to contacts", "household": "the age gap to own children"}


def _voice(summary: Mapping[str, Any]) -> list[str]:
    """``## The child's voice``: children not heard, and wishes that left children unmatched."""
    out = ["## The child's voice", ""]
    unheard = summary.get("children_not_heard")
    if unheard is None:
        return []
    age, days = summary.get("hear_from_age", 7), summary.get("heard_max_age_days", 180)
    if unheard:
        out += [f"Not heard (aged {age} or older, no `heard_on` within {days} days): "
                f"{len(unheard)}. Hear them before the placement is decided: "
                + ", ".join(unheard) + ".", ""]
    else:
        out += [f"Every child aged {age} or older was heard within {days} days.", ""]
    binding = summary.get("unmatched_by_binding_rule") or {}
    rows = [(f"`{k}`", text, binding[k]) for k, text in _WISH_RULES.items() if binding.get(k)]
    if rows:
        out += ["Wishes and household rules that alone leave unmatched children without a "
                "home (a child may count under several):", ""]
        out += [*_table(("rule", "what", "unmatched children"), rows), ""]
    return out


def _markdown(assignments: pd.DataFrame, summary: Mapping[str, Any],
              meta: Mapping[str, Any]) -> str:
    a = assignments
    placed = a["home_id"].notna().to_numpy()
    n_placed = int(placed.sum())
    out = [f"# {_title(summary)}", ""]
    if meta.get("synthetic"):
        out += [f"> **{SYNTHETIC_NOTE}.** Do not use for casework.", ""]
    out += ["The engine recommends; people decide. Child and home ids are pseudonymous; "
            "this report holds no names or addresses.", ""]
    if meta.get("privacy") == "coarse":
        out += ["Child positions in the maps and `matches.gpkg` are coarsened to the centre "
                "of their 250 m grid cell (EPSG:25833).", ""]

    out += ["## Placements by urgency", ""]
    rows = []
    for urgency in (*schema.URGENCIES, *sorted(set(a["urgency"]) - set(schema.URGENCIES))):
        sel = (a["urgency"] == urgency).to_numpy()
        rows.append((urgency, int(sel.sum()), int((sel & placed).sum()),
                     int((sel & ~placed).sum())))
    rows.append(("all", len(a), n_placed, len(a) - n_placed))
    out += [*_table(("urgency", "children", "placed", "unmatched"), rows), ""]
    locked = int(a["locked"].sum())
    if locked:
        out += [f"Locked placements kept: {locked}.", ""]

    kept = int((a["municipality_match"].to_numpy(dtype=bool) & placed).sum())
    out += ["## Home municipality", "",
            f"Kept in their home municipality: {kept} of {n_placed} placed children "
            f"({_pct(kept, n_placed)}). Kinship placements: "
            f"{int((a['kinship'].to_numpy(dtype=bool) & placed).sum())}.", ""]
    pools = summary.get("pools") or {}
    if pools:
        coop = summary.get("kept_within_cooperation", 0)
        out += [f"Kept within the cooperation (own municipality or another municipality of "
                f"its pool): {coop} of {n_placed} ({_pct(coop, n_placed)}). Pools: "
                + "; ".join(f"{k} ({', '.join(v)})" for k, v in sorted(pools.items())) + ".",
                ""]
    out += ["Siblings count a home in any member's municipality as their own.", ""]
    out += _voice(summary)

    school = a.loc[placed, "school_minutes"].to_numpy(dtype=float)
    school = school[np.isfinite(school)]
    out += ["## School travel time", "",
            f"Placed children with a school: {len(school)} (car, foster home to school, "
            "minutes).", ""]
    bands = school_bands(school)
    out += [*_table(("minutes", "children", "share"),
                    [(label, n, _pct(n, len(school))) for label, n in bands]), ""]
    median = f"{float(np.median(school)):.1f} min" if len(school) else "n/a"
    out += [f"Median: {median}.", ""]

    out += ["## Unmatched children", ""]
    unmatched = a.loc[~placed]
    if unmatched.empty:
        out += ["None: every child has a recommended home.", ""]
    else:
        out += [*_table(("child_id", "urgency", "reason"),
                        [(r.child_id, r.urgency, r.reason or "not placed")
                         for r in unmatched.itertuples()]), ""]

    if "decisions" in summary:
        d = summary["decisions"]
        out += ["## Decisions taken into account", "",
                f"{d.get('accepted_locked', 0)} accepted (locked), "
                f"{d.get('declined_in_force', 0)} declines in force (younger than "
                f"{d.get('decline_days', 'n/a')} days), {d.get('reservations_kept', 0)} "
                f"reservations held and {d.get('reservations_broken', 0)} broken (the reason "
                "is in `change_reason`).", ""]
        since = d.get("since_previous_run", [])
        if since:
            out += ["Decisions since the previous run:", ""]
            out += [*_table(("decided on", "by", "child_id", "home_id", "decision", "reason"),
                            [(r["decided_on"], r["by"], r["child_id"], r["home_id"],
                              r["decision"], r["reason"]) for r in since]), ""]
        else:
            out += ["No decisions since the previous run.", ""]
    out += _overrides(summary.get("overrides_since_previous_run", []))
    if "kept" in summary:
        out += ["## Changes since the previous run", "",
                f"{summary['kept']} proposals kept, {summary['changed']} changed, "
                f"{summary['new']} new (score within "
                f"{100 * float(summary.get('stability_tolerance', 0)):.1f} % of the best).", ""]
        changed = a[a["change_reason"].fillna("").astype(str) != ""] \
            if "change_reason" in a.columns else a.iloc[0:0]
        if len(changed):
            out += [*_table(("child_id", "previous home", "home", "why"),
                            [(r.child_id, r.previous_home_id if isinstance(
                                r.previous_home_id, str) else "", r.home_id if isinstance(
                                r.home_id, str) else "none", r.change_reason)
                             for r in changed.itertuples()]), ""]
    if "waiting" in summary:
        from matcher import waiting

        out += ["## Waiting children (Bufdir measure 17)", "", waiting.markdown(summary["waiting"])]

    out += ["## Support plan: training needs", ""]
    needs = a["training_needs"].fillna("").astype(str).to_numpy()
    train = a.loc[placed & (needs != "")]
    if train.empty:
        out += ["No placed child needs training of the foster home.", ""]
    else:
        out += ["These homes lack a competence the child needs; plan the training before "
                "or soon after the move.", ""]
        out += [*_table(("child_id", "home_id", "needs to train"),
                        [(r.child_id, r.home_id, ", ".join(schema.split_tags(r.training_needs)))
                         for r in train.itertuples()]), ""]

    out += ["## Solver", ""]
    gap = summary.get("mip_gap")
    solver_rows: list[tuple[object, ...]] = [
            ("status", summary.get("status", "n/a")), ("solver", summary.get("solver", "n/a")),
            ("sibling policy", summary.get("sibling_policy", "n/a")),
            ("MIP gap", f"{100 * gap:.2f} %" if isinstance(gap, int | float) else "n/a"),
            ("objective, stage 1 (priority)", summary.get("objective_stage1", "n/a")),
            ("objective, stage 2 (score)", summary.get("objective_stage2", "n/a"))]
    solver_rows += [(f"time: {k} (s)", v)
                    for k, v in sorted(summary.get("timings_seconds", {}).items())]
    out += [*_table(("measure", "value"), solver_rows), ""]

    out += ["## Inputs", ""]
    sources = summary.get("inputs_sha256", {})
    out += [*_table(("input", "sha256"), [(k, _Code(v)) for k, v in sources.items()]), ""]
    out += [f"Configuration hash: `{summary.get('config_hash', 'n/a')}`; software: "
            f"{summary.get('software', 'n/a')}; run date: {summary.get('as_of', 'n/a')}.", ""]
    notes = [n for n in _notes(meta) if n.startswith("roads")]
    if notes:
        out += [f"Road data {OSM_ATTRIBUTION}.", ""]
    return "\n".join(out)
