"""Tables for people: runs and planning results as formatted, translated tables.

For notebooks (``fm.views.gaps(result)``): every figure is formatted as the
current language writes it (``40,7 %``, one decimal for shares and minutes),
every column title and code is in words, and every text is shown in full.
Each function returns a :class:`pandas.io.formats.style.Styler` (HTML in a
notebook) whose ``.data`` is the frame of formatted strings. Areas with fewer
than :data:`matcher.waiting.MIN_CELL` waiting children show no figures, as in
the waiting statistics and on the maps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher import i18n
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.waiting import MIN_CELL

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from matcher.network import Network
    from matcher.planning import CoverageResult, GapResult, RecruitResult, WhatIfResult
    from matcher.run import RunResult
    from matcher.schema import Inputs

__all__ = ["changed", "coverage", "coverage_change", "data", "gaps", "label", "minutes", "percent",
           "proposals", "recruit", "summary", "unmatched", "weights", "whatif"]

_URGENCY = {"acute": N_("acute"), "planned": N_("planned")}
"""Urgency codes in words."""
_MEASURES = {
    "placed": N_("children with a proposal"),
    "placed_acute": N_("acute children with a proposal"),
    "unmatched": N_("children without a proposal"),
    "kept_in_home_municipality": N_("proposals in the child's own municipality"),
    "share_kept_in_home_municipality": N_("share in the child's own municipality"),
    "median_school_minutes": N_("median travel time to school"),
    "priority_placed": N_("priority placed (stage one)"),
}
"""The what-if measures in words."""
_LABELS = {
    "school": N_("school"), "network": N_("network"), "parents": N_("parents"),
    "municipality": N_("municipality"), "kinship": N_("kinship"), "language": N_("language"),
    "culture": N_("culture"), "competence": N_("competence"), "k": N_("new homes (k)"),
    "minutes": N_("minutes"), "count": N_("homes to add"), "place": N_("place"),
    "run": N_("Run"), "show": N_("Show"),
}
"""Words for the controls of the planner notebooks (weights, options, buttons)."""


def label(key: str) -> str:
    """The word for a control (a weight name or an option), in the current language."""
    return _(_LABELS[key]) if key in _LABELS else key


def weights(values: Mapping[str, float]) -> str:
    """Say whether score weights are valid settings (kinship first), in words.

    Parameters
    ----------
    values
        Weight name -> weight, as ``[scoring] weights`` holds them.

    Returns
    -------
    str
        ``valid: ...`` with the kinship weight and the sum of the others, or
        ``not valid: ...`` with the problem and its fix.
    """
    from matcher.config import Settings
    from matcher.errors import InputError

    try:
        Settings(scoring={"weights": dict(values)})  # type: ignore[arg-type]
    except InputError as err:
        return _("not valid: {problems}").format(
            problems="; ".join(p.message for p in err.problems) or str(err))
    others = sum(v for k, v in values.items() if k != "kinship")
    return _("valid: kinship ({kinship}) weighs more than all the others together ({others})"
             ).format(kinship=i18n.format_number(values.get("kinship", 0.0), 2),
                      others=i18n.format_number(others, 2))


def data(inputs: Inputs, *, net: Network | None = None, synthetic: bool = False) -> str:
    """What a notebook runs on, in one line: children, homes, road nodes (synthetic or not)."""
    text = _("{children} waiting children and {homes} foster homes").format(
        children=_count(len(inputs.children)), homes=_count(len(inputs.homes)))
    if synthetic:
        text += " " + _("(SYNTHETIC: fictional people on real geography)")
    if net is not None:
        text += "; " + _("road network of {nodes} nodes").format(nodes=_count(net.info.nodes))
    return text + "."


def percent(share: float | None) -> str:
    """A share in [0, 1] as a percentage with one decimal (``40,7 %``); empty when undefined."""
    if share is None or pd.isna(share):
        return ""
    return i18n.format_number(float(share) * 100, 1) + "\u00a0%"


def minutes(value: Any) -> str:
    """Minutes with one decimal (``7,2 min``); empty when undefined or unreachable."""
    if value is None or pd.isna(value) or not np.isfinite(float(value)):
        return ""
    return i18n.format_number(float(value), 1) + "\u00a0min"


def _count(value: Any) -> str:
    return "" if value is None or pd.isna(value) else i18n.format_number(int(value))


def _signed(value: Any, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return ""
    v = round(float(value), digits)
    text = i18n.format_number(abs(v), digits)
    return ("+" if v > 0 else "\u2212" if v < 0 else "\u00b1") + text


def _style(frame: pd.DataFrame, *, wrap: tuple[str, ...] = ()) -> Styler:
    """Left-aligned, no index; only the ``wrap`` columns (long texts) break lines."""
    style = (frame.style.hide(axis="index")
             .set_properties(**{"text-align": "left", "white-space": "nowrap"})
             .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))
    if wrap:
        style = style.set_properties(subset=list(wrap), **{"white-space": "normal"})
    return style


def _two_decimals(value: Any) -> str:
    return "" if value is None or pd.isna(value) else i18n.format_number(float(value), 2)


def _yes(value: Any) -> str:
    return _("yes") if bool(value) else _("no")


# =========================================================================== runs


def summary(run: RunResult) -> str:
    """The run in one paragraph of words."""
    s = run.summary
    parts = [i18n.ngettext("{placed} of {children} child has a proposal",
                           "{placed} of {children} children have a proposal",
                           s.children).format(placed=_count(s.placed), children=_count(s.children))]
    acute = s.by_urgency.acute
    parts.append(_("{placed} of {children} acute").format(placed=_count(acute.placed),
                                                           children=_count(acute.children)))
    if s.share_kept_in_home_municipality is not None:
        parts.append(_("{share} in the child's own municipality").format(
            share=percent(s.share_kept_in_home_municipality)))
    if s.median_school_minutes is not None:
        parts.append(_("median travel time to school {minutes}").format(
            minutes=minutes(s.median_school_minutes)))
    text = ", ".join(parts) + "."
    if s.unmatched:
        text += " " + i18n.ngettext("{n} child is left without a proposal.",
                                    "{n} children are left without a proposal.",
                                    s.unmatched).format(n=_count(s.unmatched))
    return text


def proposals(run: RunResult) -> Styler:
    """The proposals: child, home, score, minutes to school, own municipality, kinship."""
    a = run.assignments[run.assignments["home_id"].notna()].sort_values("child_id")
    frame = pd.DataFrame({
        _("child"): a["child_id"].to_numpy(),
        _("home"): a["home_id"].to_numpy(),
        _("score"): [i18n.format_number(v, 3) for v in a["score"]],
        _("to school"): [minutes(v) for v in a["school_minutes"]],
        _("own municipality"): [_yes(v) for v in a["municipality_match"]],
        _("kinship"): [_yes(v) for v in a["kinship"]],
        _("training needed"): [str(v or "") for v in a["training_needs"]],
    })
    return _style(frame)


def unmatched(run: RunResult) -> Styler:
    """The children without a proposal, most urgent first, with the full reason."""
    a = run.assignments[run.assignments["home_id"].isna()]
    a = a.assign(_acute=(a["urgency"] != "acute")).sort_values(["_acute", "child_id"])
    frame = pd.DataFrame({
        _("child"): a["child_id"].to_numpy(),
        _("urgency"): [_(_URGENCY.get(str(u), str(u))) for u in a["urgency"]],
        _("why no proposal"): [str(r) for r in a["reason"]],
    })
    return _style(frame, wrap=(_("why no proposal"),))


def changed(before: RunResult, after: RunResult) -> Styler:
    """The children whose proposal differs between two runs: home and minutes to school.

    The caption counts them; the minutes columns are there when the runs have
    them (``school_minutes`` of the assignments).
    """
    b = before.assignments.set_index("child_id")
    c = after.assignments.set_index("child_id")
    ids = sorted(set(b.index) | set(c.index))
    none = _("no proposal")

    def home(frame: pd.DataFrame, i: str) -> Any:
        value = frame["home_id"].get(i) if i in frame.index else None
        return None if value is None or pd.isna(value) else value

    rows = [i for i in ids if home(b, i) != home(c, i)]
    frame = pd.DataFrame({_("child"): rows,
                          _("before"): [home(b, i) or none for i in rows],
                          _("after"): [home(c, i) or none for i in rows]}, dtype=object)
    if "school_minutes" in b.columns and "school_minutes" in c.columns:
        frame[_("to school before")] = [minutes(b["school_minutes"].get(i)) for i in rows]
        frame[_("to school after")] = [minutes(c["school_minutes"].get(i)) for i in rows]
    caption = i18n.ngettext("{n} child gets another proposal",
                            "{n} children get another proposal", len(rows)).format(
        n=_count(len(rows)))
    return _style(frame).set_caption(caption)


# =========================================================================== planning


def gaps(result: GapResult, *, top: int = 10, min_children: int = MIN_CELL) -> Styler:
    """The ``top`` areas of a gap analysis, in words; small areas show no figures."""
    t = result.table.head(top)
    needs = [c for c in t.columns if c.startswith("need:")]
    small = t["children"] < min_children
    hidden = _("fewer than {n}").format(n=min_children)

    def missing(row: pd.Series) -> str:
        items = [f"{c.removeprefix('need:')} ({_count(row[c])})" for c in needs if row[c]]
        return ", ".join(items)

    frame = pd.DataFrame({
        _("rank"): t["rank"].astype(str).to_numpy(),
        _("area"): t["name"].to_numpy(),
        _("waiting children"): np.where(small, hidden, [_count(v) for v in t["children"]]),
        _("without a suitable home"): np.where(small, "", [_count(v) for v in t["uncovered"]]),
        _("share"): np.where(small, "", [percent(v) for v in t["share_uncovered"]]),
        _("need no reachable home meets"): np.where(small, "", [missing(r) for _i, r
                                                                in t.iterrows()]),
        _("free places"): [_count(v) for v in t["places"]],
        _("places per child (2SFCA)"): np.where(
            small, "", [i18n.format_number(v, 2) if pd.notna(v) else "" for v in
                        t["access_2sfca"]]),
    })
    return _style(frame, wrap=(_("need no reachable home meets"),))


def coverage(*results: CoverageResult) -> Styler:
    """Emergency coverage per area and band, furthest areas first (children, population).

    Areas are sorted by the share within the last band (lowest first), then
    by the median minutes to the nearest emergency home (longest first).
    """
    rows = []
    for res in results:
        last = res.bands[-1]
        pts = res.points
        median = {a: _weighted_median(g["minutes"].to_numpy(dtype=float),
                                      g["weight"].to_numpy(dtype=float))
                  for a, g in pts.groupby("area_id", sort=True)}
        table = res.table.assign(_median=[median.get(a, np.nan) for a in res.table["area_id"]])
        table = table.sort_values([f"share_{last:g}", "_median", "area_id"],
                                  ascending=[True, False, True])
        for _idx, r in table.iterrows():
            row = {_("area"): r["name"],
                   _("counted"): _("waiting children") if r["basis"] == "children"
                   else _("inhabitants"),
                   _("total"): _count(r["total"]),
                   _("median to the nearest"): minutes(r["_median"])}
            for b in res.bands:
                row[_("within {minutes} min").format(minutes=i18n.format_number(b))] = \
                    percent(r[f"share_{b:g}"])
            row[_("beyond {minutes} min").format(minutes=i18n.format_number(last))] = \
                _count(r[f"beyond_{last:g}"])
            rows.append(row)
    return _style(pd.DataFrame(rows))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    if not len(values) or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def coverage_change(before: CoverageResult, after: CoverageResult) -> Styler:
    """Shares within each band before and after a change, and the change in points."""
    rows = []
    for b in before.bands:
        x = float(before.table[f"within_{b:g}"].sum() / before.table["total"].sum())
        y = float(after.table[f"within_{b:g}"].sum() / after.table["total"].sum())
        rows.append({_("within"): _("{minutes} min").format(minutes=i18n.format_number(b)),
                     _("before"): percent(x), _("after"): percent(y),
                     _("change (percentage points)"): _signed((y - x) * 100, 1)})
    return _style(pd.DataFrame(rows))


def recruit(result: RecruitResult) -> Styler:
    """The chosen sites, ranked, with the children each brings within reach."""
    s = result.sites
    frame = pd.DataFrame({
        _("rank"): s["rank"].astype(str).to_numpy(),
        _("children within {minutes} min").format(minutes=i18n.format_number(result.minutes)):
            [_count(v) for v in s["children_within"]],
        _("only this site reaches"): [_count(v) for v in s["only_here"]],
        _("inhabitants in the cell"): [_count(v) for v in s["population"]],
        _("position (lat, lon)"): [f"{la:.4f}, {lo:.4f}" for la, lo in
                                   zip(s["lat"], s["lon"], strict=True)],
    })
    return _style(frame)


def whatif(result: WhatIfResult) -> Styler:
    """Before, after and the change of each measure of a what-if, in words."""
    rows = []
    for _idx, r in result.diff.iterrows():
        m = str(r["measure"])
        fmt: Callable[[Any], str]
        if m == "share_kept_in_home_municipality":
            fmt = percent
            change = _signed(None if r["change"] is None else float(r["change"]) * 100, 1)
            change = change and change + " " + _("points")
        elif m == "median_school_minutes":
            fmt = minutes
            change = _signed(r["change"], 1)
            change = change and change + "\u00a0min"
        elif m == "priority_placed":
            fmt = _two_decimals
            change = _signed(r["change"], 2)
        else:
            fmt = _count
            change = _signed(r["change"])
        rows.append({_("measure"): _(_MEASURES.get(m, m)), _("before"): fmt(r["baseline"]),
                     _("after"): fmt(r["scenario"]), _("change"): change})
    return _style(pd.DataFrame(rows))
