"""Placement periods: what happened after move-in (issue 25).

A *placement period* is one stretch of time a child lived in a foster home:
``start`` (move-in), ``end`` (move-out, empty while it lasts), how it ended
(``end_reason``, :data:`matcher.tables.END_REASONS`; ``unintended_move`` is a
breakdown, *utilsiktet flytting*) and who ended it (``ended_by``,
:data:`matcher.tables.ENDED_BY`). The facts of the match at the start
(municipalities, kind of home, age, sibling group, minutes to school, network
and parents) are kept with the period, because children and homes leave the
other tables. Columns: ``placement_periods`` in :data:`matcher.tables.SPECS`.

Pure: frames in, frames and :class:`PeriodChanges` out. Files and stores are
written by :mod:`matcher.io.periods` and :mod:`matcher.io.stores`.

Rules across rows (:func:`check_periods`, every problem at once):

* ``end`` is not before ``start``;
* ``end_reason`` is given with ``end`` and empty without it (so is ``ended_by``);
* a child has at most one open period, and its periods do not overlap (a move
  on the day the previous period ends is no overlap).

Where periods come from
-----------------------
* an approval (``approved`` by barneverntjenesten, :mod:`matcher.decisions`)
  opens a period (:func:`from_approvals`): ``start`` is the approval's
  ``decided_on`` unless a start date is given, the facts come from the run's
  assignments when the run proposed that pair. An open period of the same
  child in another home is closed on that day as a ``planned_move`` ended by
  ``kommune`` (the move was decided). Opening is idempotent: no period is
  opened when the child has one at that home that is open, lasted until that
  day or began on or after it (so an approval whose period was started with
  another date, or has ended since, opens nothing again).
* ``matcher placement end`` closes an open period (:func:`end_period`).

Current homes
-------------
The children table may say where a child lives (``current_home_id``,
``placed_since``); an open period says it too. :func:`current_homes` fills an
empty ``current_home_id`` (and ``placed_since``) from the child's open period.
When both are given and disagree (another home, or another move-in day),
neither wins: it is a problem to fix, naming both rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher import tables
from matcher.errors import InputError, Problem, sheet_row
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.tables import END_REASONS, ENDED_BY

__all__ = [
    "COLUMNS",
    "ENDED_BY",
    "END_REASONS",
    "FACT_COLUMNS",
    "PeriodChanges",
    "check_periods",
    "current_homes",
    "empty",
    "end_period",
    "facts",
    "from_approvals",
    "open_periods",
    "start_period",
    "validate",
]

COLUMNS: tuple[str, ...] = tables.SPECS["placement_periods"].names
"""Columns of the placement_periods table, in file order."""
FACT_COLUMNS: tuple[str, ...] = ("municipality", "home_municipality", "home_kind",
                                 "age_at_start", "sibling_group_size", "school_minutes",
                                 "network_minutes", "parent_minutes")
"""The facts of the match at the start, kept with the period."""
LABEL = "placement_periods"
_CLOSE_COLUMNS: tuple[str, ...] = ("child_id", "home_id", "start", "end", "end_reason",
                                   "ended_by", "actor")


@dataclass(frozen=True)
class PeriodChanges:
    """Periods to open and periods to close, written in one transaction.

    Attributes
    ----------
    opened
        New rows with :data:`COLUMNS` (dates as ISO text, missing as ``None``).
    closed
        ``child_id, home_id, start, end, end_reason, ended_by, actor`` of open
        periods to close (``start`` identifies the period; ISO text).
    """

    opened: pd.DataFrame = field(default_factory=lambda: _text_frame(COLUMNS))
    closed: pd.DataFrame = field(default_factory=lambda: _text_frame(_CLOSE_COLUMNS))

    def __bool__(self) -> bool:
        return bool(len(self.opened) or len(self.closed))

    def apply(self, periods: pd.DataFrame) -> pd.DataFrame:
        """Return ``periods`` (text frame with :data:`COLUMNS`) with the changes made."""
        out = periods.copy()
        for c in COLUMNS:
            if c not in out.columns:
                out[c] = None
        out = out.astype(object)
        for r in self.closed.itertuples(index=False):
            hit = ((out["child_id"] == r.child_id) & (out["home_id"] == r.home_id)
                   & (out["start"].map(_iso) == r.start) & _empty(out["end"]))
            out.loc[hit, ["end", "end_reason", "ended_by", "actor"]] = [
                r.end, r.end_reason, r.ended_by, r.actor]
        if len(self.opened):
            out = pd.concat([out, self.opened[list(COLUMNS)].astype(object)],
                            ignore_index=True)
        return out


def empty() -> pd.DataFrame:
    """Return a placement_periods text frame without rows."""
    return _text_frame(COLUMNS)


def validate(frame: pd.DataFrame, *, label: str = LABEL) -> pd.DataFrame:
    """Read and check a placement_periods table; list every problem at once.

    Parameters
    ----------
    frame
        Text or typed columns of :data:`COLUMNS` (a column starting with ``_``
        is ignored).
    label
        Name of the table in problems (the file name).

    Returns
    -------
    pandas.DataFrame
        The typed columns (``start``/``end`` ``datetime64``, ``end`` NaT while
        open; minutes ``float64``, NaN when unknown; ``age_at_start`` and
        ``sibling_group_size`` ``float64``; a missing column reads as empty,
        ``sibling_group_size`` as 1) plus ``row``
        (the row as a spreadsheet shows it, :func:`matcher.errors.sheet_row`).

    Raises
    ------
    InputError
        Exit code 2, naming the table, row and column of every problem.
    """
    t = tables.read("placement_periods", frame, label=label)
    if not [p for p in t.problems if p.row is None]:
        check_periods(t)
    if t.problems:
        n = len(t.problems)
        raise InputError(ngettext("{file}: {n} problem in the placement periods",
                                  "{file}: {n} problems in the placement periods", n)
                         .format(file=label, n=n), t.problems)
    out = t.frame()
    for c in COLUMNS:  # columns the file lacks read as empty (a sibling group: 1)
        if c not in out.columns:
            out[c] = (1.0 if c == "sibling_group_size"
                      else np.nan if c.endswith("_minutes") or c == "age_at_start"
                      else pd.NaT if c in ("start", "end") else "")
    for c in ("age_at_start", "sibling_group_size"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    out["row"] = [sheet_row(i) for i in range(len(out))]
    return out


def check_periods(t: tables.Table) -> None:
    """Add the problems across rows of a placement_periods table to ``t.problems``.

    ``end`` not before ``start``; ``end_reason`` (and ``ended_by``) with ``end``
    and only with it; at most one open period per child; no overlapping
    periods of one child.
    """
    v = t.values
    n = t.n
    start = v.get("start", np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    end = v.get("end", np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    has_end = ~np.isnat(end)
    has_start = ~np.isnat(start)
    reason = v.get("end_reason", np.full(n, "", dtype=object))
    by = v.get("ended_by", np.full(n, "", dtype=object))
    text_end = t.text("end")
    text_start = t.text("start")
    t.add("end", has_end & has_start & (end < start),
          lambda i: _("end {end} is before start {start}; fix the dates").format(
              end=text_end[i][:10], start=text_start[i][:10]))
    t.add("end_reason", has_end & (reason == "") & (t.text("end_reason") == ""),
          _("end is given but end_reason is empty; give how the period ended: {allowed}")
          .format(allowed=", ".join(END_REASONS)))
    t.add("end_reason", ~has_end & (t.text("end") == "") & (reason != ""),
          _("end_reason is given but end is empty; give the end date or clear the reason"))
    t.add("ended_by", ~has_end & (t.text("end") == "") & (by != ""),
          _("ended_by is given but end is empty; give the end date or clear ended_by"))
    if "child_id" not in v:
        return
    child = v["child_id"]
    order = sorted((i for i in range(n) if child[i] and has_start[i]),
                   key=lambda i: (child[i], start[i], i))
    last: dict[str, int] = {}
    for i in order:
        j = last.get(child[i])
        if j is not None:
            if not has_end[j] and not has_end[i]:
                t.problems.append(Problem(t.label, _(
                    "child '{child}' already has an open period (row {row}); end it first "
                    "(`matcher placement end`) or give this period's end").format(
                        child=child[i], row=sheet_row(j)), row=sheet_row(i), column="end"))
            elif not has_end[j] or start[i] < end[j]:
                t.problems.append(Problem(t.label, _(
                    "period of child '{child}' overlaps its period at row {row}; a child "
                    "lives in one home at a time: fix start or end").format(
                        child=child[i], row=sheet_row(j)), row=sheet_row(i), column="start"))
        if j is None or not has_end[i] or (has_end[j] and end[i] > end[j]):
            last[child[i]] = i


def open_periods(periods: pd.DataFrame) -> pd.DataFrame:
    """Return the open periods (``end`` empty) of a validated table, one per child."""
    return periods[periods["end"].isna()].reset_index(drop=True)


def current_homes(children: pd.DataFrame, periods: pd.DataFrame, *,
                  homes: Iterable[str], locked: Iterable[tuple[str, str]] = (),
                  label: str = LABEL, children_label: str = "children"
                  ) -> tuple[pd.DataFrame, list[Problem]]:
    """Fill ``current_home_id`` and ``placed_since`` of children from their open periods.

    Parameters
    ----------
    children
        Validated children (:class:`matcher.schema.Inputs`).
    periods
        Validated periods (:func:`validate`).
    homes
        Ids of the homes table: a period at a home that left it fills nothing.
    locked
        ``(child_id, home_id)`` pairs locked for the run (placements, approvals):
        the lock holds the place already, so the period fills nothing.
    label, children_label
        Names of the tables in problems.

    Returns
    -------
    tuple
        The children with the columns filled where they were empty, and a
        problem for every child whose ``current_home_id`` or ``placed_since``
        disagrees with its open period (neither wins: fix one of them).
    """
    out = children.copy()
    if "current_home_id" not in out.columns:
        out["current_home_id"] = pd.Series([None] * len(out), dtype="str", index=out.index)
    if "placed_since" not in out.columns:
        out["placed_since"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    known = set(homes)
    skip = set(locked)
    opened = open_periods(periods).set_index("child_id")
    problems: list[Problem] = []
    for pos, (child, home, since) in enumerate(zip(out["child_id"], out["current_home_id"],
                                                   out["placed_since"], strict=True)):
        if child not in opened.index:
            continue
        p = opened.loc[child]
        if (child, p["home_id"]) in skip or p["home_id"] not in known:
            continue
        has_home = isinstance(home, str) and home != ""
        start = pd.Timestamp(p["start"])
        if has_home and home != p["home_id"]:
            problems.append(Problem(children_label, _(
                "current_home_id {home} disagrees with the open placement period at {other} "
                "({file} row {row}); end that period (`matcher placement end`) or fix "
                "current_home_id").format(home=home, other=p["home_id"], file=label,
                                          row=int(p["row"])),
                row=sheet_row(pos), column="current_home_id"))
            continue
        if not pd.isna(since) and pd.Timestamp(since).normalize() != start.normalize():
            problems.append(Problem(children_label, _(
                "placed_since {day} disagrees with the start {start} of the open placement "
                "period ({file} row {row}); fix one of them").format(
                    day=pd.Timestamp(since).date().isoformat(),
                    start=start.date().isoformat(), file=label, row=int(p["row"])),
                row=sheet_row(pos), column="placed_since"))
            continue
        out.loc[out.index[pos], "current_home_id"] = p["home_id"]
        out.loc[out.index[pos], "placed_since"] = start
    return out, problems


def facts(*, child: Mapping[str, object] | None, home: Mapping[str, object] | None,
          assignment: Mapping[str, object] | None, group_size: int | None) -> dict[str, object]:
    """The facts of a match at its start, from the inputs and the run's assignment row.

    Missing facts are ``None`` (a pair the run did not propose has no minutes).
    """
    def get(row: Mapping[str, object] | None, key: str) -> object:
        if row is None:
            return None
        value = row.get(key)
        return None if value is None or (isinstance(value, float) and np.isnan(value)) \
            or value is pd.NA or value == "" else value

    minutes = {f"{w}_minutes": (None if (m := get(assignment, f"{w}_minutes")) is None
                                or not np.isfinite(float(m))  # type: ignore[arg-type]
                                else round(float(m), 1))  # type: ignore[arg-type]
               for w in ("school", "network", "parent")}
    age = get(child, "age")
    return {"municipality": get(child, "municipality"),
            "home_municipality": get(home, "municipality"),
            "home_kind": get(home, "kind"),
            "age_at_start": None if age is None else int(age),  # type: ignore[call-overload]
            "sibling_group_size": group_size, **minutes}


def start_period(periods: pd.DataFrame, *, child_id: str, home_id: str,
                 start: datetime.date, facts: Mapping[str, object] | None = None,
                 actor: str = "", label: str = LABEL) -> PeriodChanges:
    """Open a period (and close the child's open period in another home).

    Idempotent: nothing changes when the child has a period at ``home_id``
    that is open, lasted until ``start`` or began on or after it (the approval
    already led to that placement, even if it has ended since).

    Parameters
    ----------
    periods
        Validated periods (:func:`validate`).
    child_id, home_id
        The pair.
    start
        Move-in day.
    facts
        :data:`FACT_COLUMNS` values (:func:`facts`).
    actor
        Pseudonymous id of who recorded it.
    label
        Name of the table in problems.

    Raises
    ------
    InputError
        When the new period would start before the child's open period or
        inside one of its ended periods.
    """
    mine = periods[periods["child_id"] == child_id]
    day = pd.Timestamp(start)
    # the approval already led to this placement: a period at the home that is open, or
    # that lasted until the day or began after it (also when it has ended since)
    same = mine[(mine["home_id"] == home_id)
                & (mine["end"].isna() | (mine["end"] >= day) | (mine["start"] >= day))]
    if len(same):
        return PeriodChanges()
    problems: list[Problem] = []
    closed = _text_frame(_CLOSE_COLUMNS)
    for r in mine.itertuples(index=False):
        is_open = pd.isna(r.end)
        if day < r.start or (not is_open and day < r.end):
            problems.append(Problem(label, _(
                "a period of {child} at {home} from {start} would overlap its period at "
                "{other} (row {row}); give a later start (--start) or fix that period")
                .format(child=child_id, home=home_id, start=day.date().isoformat(),
                        other=r.home_id, row=int(r.row)), row=int(r.row), column="start"))
        elif is_open:
            closed = pd.DataFrame([{"child_id": child_id, "home_id": r.home_id,
                                    "start": _iso(r.start), "end": day.date().isoformat(),
                                    "end_reason": "planned_move", "ended_by": "kommune",
                                    "actor": actor or None}])
    if problems:
        raise InputError(_("cannot open the placement period"), problems)
    row: dict[str, object] = {c: None for c in COLUMNS}
    row.update({k: v for k, v in (facts or {}).items() if k in FACT_COLUMNS})
    row.update(child_id=child_id, home_id=home_id, start=day.date().isoformat(),
               actor=actor or None)
    return PeriodChanges(opened=pd.DataFrame([row], columns=list(COLUMNS)), closed=closed)


def end_period(periods: pd.DataFrame, *, child_id: str, home_id: str, end: datetime.date,
               reason: str, by: str, actor: str, label: str = LABEL) -> PeriodChanges:
    """Close the open period of ``child_id`` at ``home_id``.

    Raises
    ------
    InputError
        Exit code 2 when there is no such open period, ``end`` is before its
        start, or ``reason``/``by`` is not an allowed value (every problem at once).
    """
    problems: list[Problem] = []
    if reason not in END_REASONS:
        problems.append(Problem(label, _("unknown end reason '{reason}'; use one of {allowed}")
                                .format(reason=reason, allowed=", ".join(END_REASONS)),
                                column="end_reason"))
    if by not in ENDED_BY:
        problems.append(Problem(label, _("unknown ended_by '{by}'; use one of {allowed}")
                                .format(by=by, allowed=", ".join(ENDED_BY)), column="ended_by"))
    if not actor.strip():
        problems.append(Problem(label, _("empty actor; give the pseudonymous id of the person "
                                         "who records it (never a name)"), column="actor"))
    hit = periods[(periods["child_id"] == child_id) & (periods["home_id"] == home_id)
                  & periods["end"].isna()]
    if hit.empty:
        problems.append(Problem(label, _("no open placement period of {child} at {home}; "
                                         "check the ids (only an open period can be ended)")
                                .format(child=child_id, home=home_id)))
    else:
        start = pd.Timestamp(hit.iloc[0]["start"])
        if pd.Timestamp(end) < start:
            problems.append(Problem(label, _("end {end} is before start {start}; fix the dates")
                                    .format(end=end.isoformat(),
                                            start=start.date().isoformat()),
                                    row=int(hit.iloc[0]["row"]), column="end"))
    if problems:
        raise InputError(_("cannot end the placement period"), problems)
    closed = pd.DataFrame([{"child_id": child_id, "home_id": home_id,
                            "start": _iso(hit.iloc[0]["start"]), "end": end.isoformat(),
                            "end_reason": reason, "ended_by": by, "actor": actor.strip()}])
    return PeriodChanges(closed=closed)


def from_approvals(approved: pd.DataFrame, periods: pd.DataFrame, *,
                   children: pd.DataFrame, homes: pd.DataFrame,
                   assignments: pd.DataFrame | None = None, label: str = LABEL
                   ) -> PeriodChanges:
    """Open a period for every approved pair that has none (idempotent).

    Parameters
    ----------
    approved
        ``child_id, home_id, decided_on`` (and ``actor`` when known) of the
        approvals in force (:attr:`matcher.decisions.Plan.accepted`).
    periods
        Validated periods (:func:`validate`).
    children, homes
        Validated input tables (facts at the start).
    assignments
        The run's assignments: minutes of the pair when the run proposed it.
    label
        Name of the table in problems.

    Returns
    -------
    PeriodChanges
        The periods to open and the open periods in other homes to close.
    """
    current = periods
    opened: list[pd.DataFrame] = []
    closed: list[pd.DataFrame] = []
    child_rows = children.set_index("child_id", drop=False)
    home_rows = homes.set_index("home_id", drop=False)
    group_size = children.groupby("sibling_group")["child_id"].count() \
        if "sibling_group" in children.columns else pd.Series(dtype="int64")
    proposals = {} if assignments is None else {
        (str(r["child_id"]), str(r["home_id"])): r
        for r in assignments.to_dict("records") if isinstance(r.get("home_id"), str)}
    for r in approved.sort_values(["child_id", "home_id"]).itertuples(index=False):
        child = child_rows.loc[r.child_id].to_dict() if r.child_id in child_rows.index else None
        home = home_rows.loc[r.home_id].to_dict() if r.home_id in home_rows.index else None
        group = child.get("sibling_group") if child else None
        size = int(group_size.get(group, 1)) if isinstance(group, str) and group else 1
        day = r.decided_on if isinstance(r.decided_on, datetime.date) \
            else pd.Timestamp(r.decided_on).date()
        change = start_period(current, child_id=r.child_id, home_id=r.home_id, start=day,
                              facts=facts(child=child, home=home,
                                          assignment=proposals.get((r.child_id, r.home_id)),
                                          group_size=size),
                              actor=str(getattr(r, "actor", "") or ""), label=label)
        if change:
            opened.append(change.opened)
            closed.append(change.closed)
            current = _typed_after(current, change)
    return PeriodChanges(
        opened=pd.concat(opened, ignore_index=True) if opened else _text_frame(COLUMNS),
        closed=pd.concat(closed, ignore_index=True) if closed else _text_frame(_CLOSE_COLUMNS))


def _typed_after(periods: pd.DataFrame, change: PeriodChanges) -> pd.DataFrame:
    """The typed periods after ``change`` (for the next pair of one batch)."""
    out = periods.copy()
    for r in change.closed.itertuples(index=False):
        hit = (out["child_id"] == r.child_id) & (out["home_id"] == r.home_id) & \
            out["end"].isna()
        out.loc[hit, "end"] = pd.Timestamp(r.end)
    new = change.opened.assign(start=pd.to_datetime(change.opened["start"]),
                               end=pd.NaT, row=0)
    return pd.concat([out, new[out.columns.intersection(new.columns)]], ignore_index=True)


def _iso(value: object) -> str:
    return pd.Timestamp(value).date().isoformat()


def _empty(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip() == "")


def _text_frame(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
