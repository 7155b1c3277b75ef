"""Statistics on children waiting for a foster home: history rows, waiting times, trends.

Pure: frames in, frames and text out. One *history row* per child per run
(:func:`history`) holds only categories and counts, never positions or
names: ``child_id, home_id, continuity, reason, days_waiting, municipality,
age_band, needs, urgency, sibling_group_size, binding``. The nightly store
keeps them in ``match_history``; a run folder in ``history.csv``.

From history rows, :func:`waiting_table` gives days waiting (median and 90th
percentile) by municipality, age band, need, urgency and sibling-group size;
:func:`binding_counts` the binding reasons of unmatched children; :func:`trend`
one row per run. Every cell with fewer than :data:`MIN_CELL` children is
suppressed (its figures are empty and ``suppressed`` is true), so that no
small group of children can be recognised.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from matcher import vocabulary
from matcher.i18n import N_, format_number
from matcher.i18n import gettext as _
from matcher.run import WaitingCell, WaitingSummary
from matcher.schema import Inputs

__all__ = [
    "DIMENSIONS",
    "HISTORY_COLUMNS",
    "MIN_CELL",
    "REASONS",
    "binding_counts",
    "history",
    "markdown",
    "reason_text",
    "summary_block",
    "trend",
    "waiting_table",
]

HISTORY_COLUMNS: tuple[str, ...] = (
    "child_id", "home_id", "continuity", "reason", "days_waiting", "municipality", "age_band",
    "needs", "urgency", "sibling_group_size", "binding",
)
"""Columns of one history row (after ``run_id`` and ``as_of`` in the store)."""

DIMENSIONS: tuple[str, ...] = ("municipality", "age_band", "need", "urgency",
                               "sibling_group_size")
"""The breakdowns of :func:`waiting_table`."""

MIN_CELL = 5
"""Cells with fewer children are suppressed."""

_AGE_BANDS = ((0, 5, "0-5"), (6, 12, "6-12"), (13, 17, "13-17"), (18, 25, "18-25"))

REASONS: dict[str, str] = {
    "capacity": N_("no suitable home has a free place"),
    "kind": N_("the suitable homes are kinship homes for other children or emergency homes"),
    "age": N_("no home is approved for the child's age"),
    "household": N_("the home's own children are too close in age"),
    "competences": N_("no home has the competence the child needs"),
    "language": N_("no home speaks the language the child needs"),
    "avoid": N_("the homes lie in municipalities the child does not want to live in"),
    "school": N_("no home is close enough to the school"),
    "contacts": N_("no home is within the travel limits to family and friends"),
    "veto": N_("the suitable homes are vetoed"),
    "competition": N_("homes qualify, but their places went to other children"),
    "siblings": N_("the sibling group is placed together, and no home can take all of them"),
    "other": N_("several rules together leave no home"),
    "reserved": N_("the homes that qualify are reserved first for the children of another "
                   "municipality or cooperation"),
}
"""Reason codes of unmatched children (stable, English) -> the text shown (translated
where used). Codes: the binding filters of :data:`matcher.rules.FILTERS`, ``competition``
(homes qualify but went to others), ``siblings`` (a sibling group kept together) and
``other``."""


def reason_text(code: str) -> str:
    """The translated text of a reason code; ``;``-joined codes give ``;``-joined texts.

    Unknown codes are returned as they are.
    """
    return "; ".join(_(REASONS[c]) if c in REASONS else c for c in code.split(";") if c) or code



def history(inputs: Inputs, assignments: pd.DataFrame, funnel: pd.DataFrame,
            as_of: datetime.date) -> pd.DataFrame:
    """Return one history row per waiting child of a run (locked placements left out).

    Parameters
    ----------
    inputs
        The run's validated inputs.
    assignments
        The run's assignments (``child_id, home_id, locked, reason`` and, when
        present, ``change_reason``).
    funnel
        The scoring funnel (``child_id, binding``).
    as_of
        Run date; ``days_waiting`` counts from ``waiting_since`` (days; NaN
        when unknown).

    Returns
    -------
    pandas.DataFrame
        :data:`HISTORY_COLUMNS`, sorted by ``child_id``. ``continuity`` is
        ``kept``, ``changed``, ``new`` or ``""`` (from ``previous_home_id``);
        ``binding`` is the binding filter(s) of an unmatched child,
        ``competition`` when homes qualify but went to others, ``other`` when
        no home qualifies and no single rule alone is the cause, ``""`` when
        placed.
    """
    a = assignments[~assignments["locked"].astype(bool)].set_index("child_id")
    ch = inputs.children.set_index("child_id").loc[a.index]
    since = pd.to_datetime(ch["waiting_since"])
    days = (pd.Timestamp(as_of) - since).dt.days.astype(float).to_numpy()
    groups = inputs.children["sibling_group"].value_counts()
    size = ch["sibling_group"].map(groups).fillna(1).astype(int).to_numpy()
    placed = a["home_id"].notna().to_numpy()
    prev = a["previous_home_id"] if "previous_home_id" in a.columns else pd.Series(
        None, index=a.index, dtype=object)
    had = prev.notna().to_numpy()
    same = had & placed & (prev.fillna("").to_numpy() == a["home_id"].fillna("").to_numpy())
    continuity = np.where(same, "kept", np.where(had, "changed", np.where(placed, "new", "")))
    binding = funnel.set_index("child_id")["binding"].reindex(a.index).fillna("").to_numpy()
    feasible = funnel.set_index("child_id")["n_feasible"].reindex(a.index).fillna(0) \
        .to_numpy() > 0 if "n_feasible" in funnel.columns else np.ones(len(a), dtype=bool)
    binding = np.where(placed, "", np.where(binding != "", binding,
                                            np.where(feasible, "competition", "other")))
    change = a["change_reason"].fillna("") if "change_reason" in a.columns else ""
    reason = np.where(placed, change, a["reason"].fillna(""))
    out = pd.DataFrame({
        "child_id": a.index.to_numpy(dtype=object),
        "home_id": a["home_id"].to_numpy(dtype=object),
        "continuity": continuity, "reason": reason, "days_waiting": days,
        "municipality": ch["municipality"].to_numpy(dtype=object),
        "age_band": [_band(int(x)) for x in ch["age"]],
        "needs": [";".join(n) for n in ch["needs"]],
        "urgency": ch["urgency"].to_numpy(dtype=object),
        "sibling_group_size": size, "binding": binding})
    return out.sort_values("child_id", kind="stable").reset_index(drop=True)


def _band(age: int) -> str:
    return next(label for lo, hi, label in _AGE_BANDS if lo <= age <= hi) if age <= 25 else "25+"


def _exploded(rows: pd.DataFrame) -> pd.DataFrame:
    need = rows["needs"].fillna("").astype(str).str.split(";")
    out = rows.assign(need=[[n for n in x if n] or ["none"] for x in need])
    return out.explode("need")


def waiting_table(rows: pd.DataFrame, *, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """Days waiting by each of :data:`DIMENSIONS` (a child with two needs counts under both).

    Parameters
    ----------
    rows
        History rows of one run.
    min_cell
        Cells with fewer children are suppressed.

    Returns
    -------
    pandas.DataFrame
        ``dimension, value, children, median_days, p90_days, suppressed``;
        figures are NaN (and ``children`` NaN) in suppressed cells.
    """
    known = rows[np.isfinite(rows["days_waiting"].to_numpy(dtype=float))]
    parts = []
    for dim in DIMENSIONS:
        frame = _exploded(known) if dim == "need" else known
        groups = dict(list(frame.groupby(frame[dim].astype(str), sort=True)))
        for value in sorted(groups, key=lambda v, d=dim: _order(d, v)):  # type: ignore[misc]
            parts.append(_cell(dim, value, groups[value]["days_waiting"].to_numpy(dtype=float),
                               min_cell))
    parts.append(_cell("all", "all", known["days_waiting"].to_numpy(dtype=float), min_cell))
    return pd.DataFrame(parts, columns=["dimension", "value", "children", "median_days",
                                        "p90_days", "suppressed"])


def _order(dim: str, value: str) -> tuple[float, str]:
    """Sort key: age bands and group sizes by number, other values by text."""
    if dim == "age_band" or dim == "sibling_group_size":
        head = value.split("-")[0].rstrip("+")
        return (float(head) if head.isdigit() else float("inf"), value)
    return (0.0, value)


def _cell(dim: str, value: str, days: np.ndarray, min_cell: int) -> dict[str, Any]:
    hidden = len(days) < min_cell
    return {"dimension": dim, "value": value,
            "children": np.nan if hidden else float(len(days)),
            "median_days": np.nan if hidden else float(np.median(days)),
            "p90_days": np.nan if hidden else float(np.percentile(days, 90)),
            "suppressed": hidden}


def binding_counts(rows: pd.DataFrame, *, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """Count the binding reasons of unmatched children (small counts suppressed).

    Returns
    -------
    pandas.DataFrame
        ``binding, children, suppressed``, most frequent first, then by name.
    """
    unmatched = rows[rows["home_id"].isna()]
    counts = unmatched["binding"].astype(str).value_counts()
    frame = pd.DataFrame({"binding": counts.index.to_numpy(dtype=object),
                          "n": counts.to_numpy()})
    frame = frame.sort_values(["n", "binding"], ascending=[False, True], kind="stable")
    hidden = frame["n"] < min_cell
    return pd.DataFrame({"binding": frame["binding"].to_numpy(dtype=object),
                         "children": np.where(hidden, np.nan, frame["n"].astype(float)),
                         "suppressed": hidden.to_numpy()})


def trend(rows: pd.DataFrame, *, min_cell: int = MIN_CELL) -> pd.DataFrame:
    """One row per run (``as_of``, ``run_id``): children, placed, unmatched, median, p90.

    Parameters
    ----------
    rows
        History rows of several runs with ``run_id`` and ``as_of`` columns.
    min_cell
        A run with fewer children has its figures suppressed.
    """
    out = []
    for (as_of, run_id), grp in rows.groupby(["as_of", "run_id"], sort=True):
        days = grp["days_waiting"].to_numpy(dtype=float)
        days = days[np.isfinite(days)]
        hidden = len(grp) < min_cell
        out.append({"as_of": str(as_of)[:10], "run_id": run_id,
                    "children": np.nan if hidden else float(len(grp)),
                    "placed": np.nan if hidden else float(grp["home_id"].notna().sum()),
                    "unmatched": np.nan if hidden else float(grp["home_id"].isna().sum()),
                    "median_days": np.nan if hidden or not len(days) else float(np.median(days)),
                    "p90_days": np.nan if hidden or not len(days) else
                    float(np.percentile(days, 90))})
    return pd.DataFrame(out, columns=["as_of", "run_id", "children", "placed", "unmatched",
                                      "median_days", "p90_days"])


def summary_block(rows: pd.DataFrame, *, min_cell: int = MIN_CELL) -> WaitingSummary:
    """Waiting figures of one run for ``summary.json`` and the report (suppressed cells left out).
    """
    table = waiting_table(rows, min_cell=min_cell)
    shown = table[~table["suppressed"]]
    by: dict[str, dict[str, WaitingCell]] = {}
    for r in shown.itertuples(index=False):
        by.setdefault(str(r.dimension), {})[str(r.value)] = WaitingCell(
            children=int(r.children), median_days=round(float(r.median_days), 1),
            p90_days=round(float(r.p90_days), 1))
    binding = binding_counts(rows, min_cell=min_cell)
    return WaitingSummary(
        min_cell=min_cell, by=by,
        binding={str(r.binding): int(r.children)
                 for r in binding.itertuples(index=False) if not r.suppressed},
        suppressed_cells=int(table["suppressed"].sum() + binding["suppressed"].sum()))


def markdown(block: WaitingSummary, trend_table: pd.DataFrame | None = None, *,
             municipalities: Mapping[str, str] | None = None) -> str:
    """Render waiting figures (:func:`summary_block`) and an optional trend as markdown.

    Municipalities are shown by name (``municipalities``: number -> name, default
    the register, :func:`matcher.vocabulary.municipality_names`), needs and
    urgency by their names.
    """
    out = [_("Days waiting since `waiting_since` (children not yet placed). Cells with fewer "
             "than {min_cell} children are suppressed ({suppressed} here).").format(
                 min_cell=block.min_cell, suppressed=block.suppressed_cells), ""]
    rows = []
    for dim in ("all", *DIMENSIONS):
        cells = block.by.get(dim, {})
        for value in sorted(cells, key=lambda v, d=dim: _order(d, v)):  # type: ignore[misc]
            rows.append((dim, value, cells[value].children, cells[value].median_days,
                         cells[value].p90_days))
    if rows:
        out += ["| " + " | ".join((_("breakdown"), _("value"), _("children"), _("median days"),
                                   _("90th percentile days"))) + " |", "|---|---|---|---|---|"]
        out += [f"| {_dimension(d)} | {_value(d, v, municipalities)} | {_num(n)} | {_num(m)} "
                f"| {_num(p)} |"
                for d, v, n, m, p in rows]
        out.append("")
    binding = block.binding
    if binding:
        out += [_("Binding reasons of unmatched children:"), "",
                "| " + _("reason") + " | " + _("children") + " |", "|---|---|"]
        out += [f"| {reason_text(k)} | {_num(v)} |" for k, v in binding.items()]
        out.append("")
    if trend_table is not None and len(trend_table):
        out += ["| " + " | ".join((_("run date"), _("children"), _("placed"), _("unmatched"),
                                   _("median days"), _("p90 days"))) + " |",
                "|---|---|---|---|---|---|"]
        for r in trend_table.itertuples(index=False):
            out.append(f"| {r.as_of} | {_num(r.children)} | {_num(r.placed)} | "
                       f"{_num(r.unmatched)} | {_num(r.median_days)} | {_num(r.p90_days)} |")
        out.append("")
    return "\n".join(out)


_DIMENSION_TEXT: dict[str, str] = {
    "all": N_("all children"), "municipality": N_("municipality"), "age_band": N_("age band"),
    "need": N_("need"), "urgency": N_("urgency"), "sibling_group_size": N_("sibling group size"),
}
_VALUE_TEXT: dict[str, str] = {"all": N_("all"), "none": N_("no registered need")}


def _dimension(code: str) -> str:
    return _(_DIMENSION_TEXT[code]) if code in _DIMENSION_TEXT else code


def _value(dimension: str, value: str, municipalities: Mapping[str, str] | None = None) -> str:
    """A cell label: 'all' and 'none' translated, urgency and needs by name (the
    vocabulary), municipalities by name; age bands and group sizes as they are."""
    if value in _VALUE_TEXT and (dimension == "all" or value == "none"):
        return _(_VALUE_TEXT[value])
    if dimension == "urgency":
        return vocabulary.name("urgency", value)
    if dimension == "need":
        return vocabulary.name("need", value)
    if dimension == "municipality":
        return vocabulary.municipality(value, vocabulary.municipality_names(municipalities))
    return value


def _num(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return _("suppressed")
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return format_number(number, 0 if number.is_integer() else 1)
    return str(value)
