"""Decisions on proposals, carried from run to run: the ``decisions`` table and its effects.

A decision records what people did with a proposal (the engine recommends;
people decide). In Norwegian practice Bufetat proposes a foster home, the
family consents (or not), and the child welfare service of the municipality of
care (barneverntjenesten) decides on the placement and approves the home for
this child. The log follows those steps (columns in
:data:`matcher.tables.SPECS`; no free text, because this is personal data):

``child_id``, ``home_id``
    The pair.
``decision`` and who may record it (``by``, the role; :data:`ROLE_DECISIONS`)
    * ``proposed`` (``bufetat``): Bufetat proposes the home;
    * ``family_consented`` / ``family_declined`` (``bufetat``, which records
      the family's answer);
    * ``approved`` / ``rejected`` (``kommune``: barneverntjenesten);
    * ``considering`` (either): the pair is talked about in a dialogue meeting.
``decided_on``
    ISO date (or timestamp), not after the run date.
``reason``
    For ``family_declined`` a code of :data:`matcher.tables.FAMILY_REASONS`,
    for ``rejected`` one of :data:`matcher.tables.SERVICE_REASONS`; empty
    otherwise.
``actor``
    The pseudonymous id of the person who acted (required in new rows).

The table is a log: rows are only appended. The last decision per pair wins
(latest ``decided_on``; on the same day the later row). Its effects on a run
(:func:`apply`, :func:`reservations`):

* ``approved``: the pair is a locked placement (as in ``placements``). Only
  an approval locks, and it needs an earlier ``family_consented`` for the
  same pair.
* ``family_declined``, ``rejected``: the pair is not proposed while the
  decision is younger than ``continuity.decline_days`` (a veto).
* ``proposed``, ``family_consented``, ``considering``: the home's place is
  held for the child, and the pair stays in the proposal unless the rules no
  longer allow it, the home has no free place left for it, or a sibling rule
  forbids it; the run then says why ("reservation for C0012 broken: H0044 no
  longer prepared for age 13").

Old logs read as before: ``accepted`` (by either role) is read as
``approved`` and ``declined`` as a decline in force, without the consent
rule; new rows may not use them (:func:`matcher.io.decision_log.append_decision`),
and a run counts how many old rows it read (:attr:`Plan.legacy`).

Rows naming a child or home that is no longer in the input tables are kept in
the log and ignored by the run (counted in :attr:`Plan.ignored`). A child with
two approved homes, or an approved pair that is vetoed or conflicts with a
locked placement, is an error.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher import i18n, tables
from matcher.config import Settings
from matcher.errors import FIRST_DATA_ROW, InputError, Problem
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.rules import Eligibility, current_home_vetoes, school_ok
from matcher.schema import Inputs
from matcher.tables import (
    DECISIONS,
    DECLINE_REASONS,
    FAMILY_REASONS,
    ROLES,
    SERVICE_REASONS,
)
from matcher.timetable import TimeTable

__all__ = [
    "COLUMNS",
    "DECISIONS",
    "DECLINE_REASONS",
    "LEGACY",
    "LOCKING",
    "REASONS",
    "RESERVING",
    "ROLES",
    "ROLE_DECISIONS",
    "VETOING",
    "Decisions",
    "Plan",
    "Reservations",
    "apply",
    "as_frame",
    "decline_text",
    "effective",
    "overrides_since",
    "reservations",
    "rule_failures",
    "validate",
]

COLUMNS: tuple[str, ...] = tables.SPECS["decisions"].names
"""Columns of the decisions table, in file order (:data:`matcher.tables.SPECS`)."""
ROLE_DECISIONS: dict[str, frozenset[str]] = {
    "bufetat": frozenset({"proposed", "considering", "family_consented", "family_declined"}),
    "kommune": frozenset({"considering", "approved", "rejected"}),
}
"""Which role may record which decision (``kommune`` is barneverntjenesten)."""
LEGACY: frozenset[str] = frozenset({"accepted", "declined"})
"""Decisions of old logs: read (``accepted`` as ``approved``), never written anew."""
LOCKING: frozenset[str] = frozenset({"approved", "accepted"})
VETOING: frozenset[str] = frozenset({"family_declined", "rejected", "declined"})
RESERVING: frozenset[str] = frozenset({"proposed", "considering", "family_consented"})
REASONS: dict[str, tuple[str, ...]] = {"family_declined": FAMILY_REASONS,
                                       "rejected": SERVICE_REASONS,
                                       "declined": DECLINE_REASONS}
"""The reason codes of each decision that needs one."""
_DECLINE_TEXT: dict[str, str] = {
    "home_declined": N_("the foster home said no"),
    "child_declined": N_("the child said no"),
    "municipality_declined": N_("the municipality said no"),
    "not_suitable": N_("not suitable"),
    "other": N_("another reason"),
    "no_room": N_("the family has no room after all"),
    "not_right_match": N_("the family did not find it the right match"),
    "timing": N_("the timing does not suit the family"),
    "closer_to_network": N_("a home closer to the child's network is wanted"),
}


def decline_text(code: str) -> str:
    """The words for a decline reason code, in the current language (the code if unknown)."""
    return _(_DECLINE_TEXT[code]) if code in _DECLINE_TEXT else code


@dataclass(frozen=True)
class Decisions:
    """A validated decisions table.

    Attributes
    ----------
    table
        Every row in file order: :data:`COLUMNS` (``decided_on`` as
        :class:`datetime.date`, ``reason`` ``""`` when empty) plus ``row``
        (the row as a spreadsheet shows it, :func:`matcher.errors.sheet_row`).
    label
        Name of the source (file name, ``file.gpkg:layer`` or store table).
    sha256
        Digest of the source (file bytes, or the table's CSV text).
    """

    table: pd.DataFrame
    label: str = "decisions"
    sha256: str = ""

    @classmethod
    def empty(cls) -> Decisions:
        """Return a table without decisions."""
        return validate(pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS}))


def validate(frame: pd.DataFrame, *, label: str = "decisions",
             as_of: datetime.date | None = None, inputs: Inputs | None = None,
             strict_ids: bool = False, sha256: str | None = None,
             new: bool = False, consent: bool = True) -> Decisions:
    """Validate a decisions table; list every problem at once.

    Pure: a frame in, :class:`Decisions` out.

    Parameters
    ----------
    frame
        Text or typed columns :data:`COLUMNS` (a column starting with ``_`` is
        ignored; geometry is dropped).
    label
        Name of the table in problems (the file name).
    as_of
        Run date: a later ``decided_on`` is an error (``None``: not checked).
    inputs
        Validated inputs for the cross-table checks (accepted pairs against
        vetoes and locked placements; with ``strict_ids`` unknown ids).
    strict_ids
        Report a child or home that is not in ``inputs`` (for a new decision;
        a run ignores old rows of children who left).
    sha256
        Digest to record (default: of the frame's CSV text).
    new
        The rows are being recorded now: the old decisions (:data:`LEGACY`)
        are refused and ``actor`` may not be empty.
    consent
        Check that every ``approved`` row follows a ``family_consented`` row of
        the same pair (``False`` for a new row checked alone, before the log).

    Returns
    -------
    Decisions
        The rows, normalised.

    Raises
    ------
    InputError
        Exit code 2, naming the table, row and column of every problem.
    """
    t = tables.read("decisions", frame, label=label)
    problems: list[Problem] = list(t.problems)
    missing = [p for p in problems if p.row is None]
    if missing:
        raise InputError(_invalid(problems, label), problems)
    v = t.values
    decision, reason, by = v["decision"], v["reason"], v["by"]
    known = np.isin(decision, DECISIONS) & np.isin(by, ROLES)
    own = np.array([d in LEGACY or d in ROLE_DECISIONS.get(b, ()) for d, b in
                    zip(decision, by, strict=True)], dtype=bool)
    t.add("by", known & ~own, lambda i: _(
        "{role} may not record '{decision}': Bufetat proposes and records the family's "
        "answer (proposed, family_consented, family_declined), barneverntjenesten (kommune) "
        "approves or rejects (approved, rejected); either may record considering").format(
            role=by[i], decision=decision[i]))
    if new:
        t.add("decision", np.isin(decision, list(LEGACY)), lambda i: _(
            "'{decision}' is only read in old logs; record approved (barneverntjenesten, "
            "after the family consented), family_declined or rejected").format(
                decision=decision[i]))
        if "actor" in v:
            t.add("actor", v["actor"] == "", _("empty actor; give the pseudonymous id of the "
                                               "person who decided (never a name)"))
    needs_reason = np.array([d in REASONS for d in decision], dtype=bool)
    fits = np.array([r in REASONS.get(d, ()) for d, r in zip(decision, reason, strict=True)],
                    dtype=bool)
    t.add("reason", needs_reason & ~fits, lambda i: (
        _("a {decision} decision needs a reason code, one of {allowed} (got '{reason}')")
        if reason[i] else _("a {decision} decision needs a reason code, one of {allowed}"))
        .format(decision=decision[i], allowed=", ".join(REASONS[decision[i]]),
                reason=reason[i]))
    t.add("reason", ~needs_reason & np.isin(decision, DECISIONS) & (reason != ""),
          _("reason is only for family_declined, rejected and declined decisions; leave it "
            "empty (codes only, no free text)"))
    day = np.array([None if np.isnat(d) else d.astype("datetime64[D]").item()
                    for d in v["decided_on"]], dtype=object)
    if as_of is not None:
        t.add("decided_on", np.array([d is not None and d > as_of for d in day], dtype=bool),
              _("decided_on is after the run date {day}; fix the date").format(
                  day=as_of.isoformat()))
    problems = t.problems
    n = t.n
    actor = v.get("actor", np.full(n, "", dtype=object))
    table = pd.DataFrame({"child_id": v["child_id"], "home_id": v["home_id"],
                          "decision": decision, "decided_on": day, "by": by,
                          "reason": np.where(needs_reason, reason, ""), "actor": actor,
                          "row": np.arange(n) + FIRST_DATA_ROW})
    if not problems:
        problems += _cross_checks(table, label, inputs, strict_ids=strict_ids,
                                  consent=consent)
    if problems:
        raise InputError(_invalid(problems, label), problems)
    digest = sha256 or hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
    return Decisions(table=table, label=label, sha256=digest)


def _cross_checks(table: pd.DataFrame, label: str, inputs: Inputs | None, *,
                  strict_ids: bool, consent: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    if inputs is not None and strict_ids:
        for column, known, what in (("child_id", inputs.children["child_id"], "children"),
                                    ("home_id", inputs.homes["home_id"], "homes")):
            for _i, r in table[~table[column].isin(set(known))].iterrows():
                problems.append(Problem(label, _("unknown {column} '{id}'; it must be in the "
                                                  "{table} table").format(
                                                      column=column, id=r[column], table=what),
                                        row=int(r["row"]), column=column))
    if consent:
        problems += _consent_checks(table, label)
    last = effective(Decisions(table=table, label=label))
    accepted = last[last["decision"].isin(LOCKING)]
    for child, rows in accepted.groupby("child_id", sort=True):
        if len(rows) > 1:
            listed = ", ".join(_("{home} (row {row})").format(home=h, row=r)
                               for h, r in zip(rows["home_id"], rows["row"],
                                                              strict=True))
            problems.append(Problem(label, _("child '{child}' has {n} approved homes: {listed}; "
                                              "reject all but one").format(
                                                  child=child, n=len(rows), listed=listed),
                                    row=int(rows["row"].max()), column="decision"))
    if inputs is not None:
        vetoed = set(zip(inputs.vetoes["child_id"], inputs.vetoes["home_id"], strict=True))
        locked = dict(zip(inputs.placements["child_id"], inputs.placements["home_id"],
                          strict=True))
        for _i, r in accepted.iterrows():
            pair = (r["child_id"], r["home_id"])
            if pair in vetoed:
                problems.append(Problem(label, _("approved pair {child} -> {home} is also "
                                                  "vetoed; remove the veto or reject the "
                                                  "pair").format(child=pair[0], home=pair[1]),
                                        row=int(r["row"]), column="decision"))
            other = locked.get(pair[0])
            if other is not None and other != pair[1]:
                problems.append(Problem(label, _("child '{child}' is approved for {home} but "
                                                  "locked to {other} in placements; keep "
                                                  "one").format(child=pair[0], home=pair[1],
                                                                other=other),
                                        row=int(r["row"]), column="decision"))
    return problems


def _consent_checks(table: pd.DataFrame, label: str) -> list[Problem]:
    """An ``approved`` row needs an earlier ``family_consented`` row for the same pair."""
    problems: list[Problem] = []
    order = table.assign(_day=pd.to_datetime(table["decided_on"])).sort_values(
        ["_day", "row"], kind="stable")
    consented: set[tuple[str, str]] = set()
    for r in order.itertuples(index=False):
        pair = (r.child_id, r.home_id)
        if r.decision == "family_consented":
            consented.add(pair)
        elif r.decision == "family_declined":
            consented.discard(pair)
        elif r.decision == "approved" and pair not in consented:
            problems.append(Problem(label, _(
                "approved before the family consented: barneverntjenesten approves {child} -> "
                "{home} only after Bufetat has recorded family_consented for the pair").format(
                    child=r.child_id, home=r.home_id), row=int(r.row), column="decision"))
    return problems


def effective(decisions: Decisions) -> pd.DataFrame:
    """Return the last decision per pair (latest ``decided_on``, then latest row).

    Returns
    -------
    pandas.DataFrame
        One row per ``(child_id, home_id)``, sorted by ``child_id, home_id``.
    """
    t = decisions.table
    if t.empty:
        return t.copy()
    order = t.assign(_day=pd.to_datetime(t["decided_on"])).sort_values(
        ["child_id", "home_id", "_day", "row"], kind="stable")
    last = order.drop_duplicates(["child_id", "home_id"], keep="last")
    return last.drop(columns="_day").reset_index(drop=True)


@dataclass(frozen=True)
class Plan:
    """What the decisions change in one run (:func:`apply`).

    Attributes
    ----------
    inputs
        The inputs with accepted pairs added to ``placements`` and the
        declines younger than ``decline_days`` added to ``vetoes``.
    accepted
        Approved pairs (and old ``accepted`` ones) that became locked
        placements: ``child_id, home_id, decided_on, by``.
    declined
        Declines in force (``family_declined``, ``rejected``, old ``declined``):
        ``child_id, home_id, decided_on, by, reason``.
    considering
        Open reservations (``proposed``, ``family_consented``, ``considering``;
        one per child, the latest): ``child_id, home_id, decided_on, by``.
    ignored
        Rows whose child or home is not in the inputs (children who left).
    legacy
        Rows of an old log (``accepted`` read as ``approved``, ``declined``).
    """

    inputs: Inputs
    accepted: pd.DataFrame
    declined: pd.DataFrame
    considering: pd.DataFrame
    ignored: int
    legacy: int = 0


def apply(decisions: Decisions, inputs: Inputs, *, as_of: datetime.date,
          settings: Settings) -> Plan:
    """Turn the decisions into locks, vetoes and reservations for one run.

    Parameters
    ----------
    decisions
        Validated decisions.
    inputs
        Validated inputs.
    as_of
        Run date; a decline is in force while ``as_of - decided_on <
        continuity.decline_days`` (days).
    settings
        All settings.

    Returns
    -------
    Plan
        The changed inputs and the decisions in force.
    """
    last = effective(decisions)
    known = last["child_id"].isin(set(inputs.children["child_id"])) & \
        last["home_id"].isin(set(inputs.homes["home_id"]))
    ignored = int((~known).sum())
    last = last[known]
    cols = ["child_id", "home_id", "decided_on", "by"]
    accepted = last.loc[last["decision"].isin(LOCKING), cols].reset_index(drop=True)
    age_days = np.array([(as_of - d).days for d in last["decided_on"]], dtype=np.int64)
    in_force = last["decision"].isin(VETOING).to_numpy() & \
        (age_days < settings.continuity.decline_days)
    declined = last.loc[in_force, [*cols, "reason"]].reset_index(drop=True)
    open_ = last[last["decision"].isin(RESERVING)
                 & ~last["child_id"].isin(set(accepted["child_id"]))
                 & ~last["child_id"].isin(set(inputs.placements["child_id"]))]
    open_ = open_.assign(_day=pd.to_datetime(open_["decided_on"])).sort_values(
        ["child_id", "_day", "row"], kind="stable")
    considering = open_.drop_duplicates("child_id", keep="last")[cols].reset_index(drop=True)

    placements = pd.concat([inputs.placements, accepted[["child_id", "home_id"]]],
                           ignore_index=True).drop_duplicates(ignore_index=True)
    vetoes = pd.concat([inputs.vetoes, declined[["child_id", "home_id"]]],
                       ignore_index=True).drop_duplicates(ignore_index=True)
    changed = dataclasses.replace(inputs, placements=placements.astype("str"),
                                  vetoes=vetoes.astype("str"))
    legacy = int(decisions.table["decision"].isin(LEGACY).sum())
    return Plan(inputs=changed, accepted=accepted, declined=declined,
                considering=considering, ignored=ignored, legacy=legacy)


@dataclass(frozen=True)
class Reservations:
    """The reservations of a run after the rules and capacity are checked.

    Attributes
    ----------
    kept
        Pairs held as fixed in the assignment: ``child_id, home_id``.
    broken
        Child id -> why its reservation cannot be kept (plain words).
    """

    kept: pd.DataFrame
    broken: Mapping[str, str]


def reservations(plan: Plan, times: TimeTable, settings: Settings) -> Reservations:
    """Check each open reservation against the rules, free places and sibling rules.

    A reservation is kept when the pair passes every hard rule of
    :mod:`matcher.rules` (kind, age, competences, school, veto; capacity is
    counted here), the home still has a free place after its locked placements
    and the children who live there (``current_home_id``; older reservations
    first, then by child id) and, for a home that does not
    take sibling groups, no sibling holds it already.

    Parameters
    ----------
    plan
        From :func:`apply`.
    times
        Travel times in minutes (for the school rule).
    settings
        All settings.

    Returns
    -------
    Reservations
        Kept pairs and the reason of every broken one.
    """
    inputs = plan.inputs
    cons = plan.considering
    broken: dict[str, str] = {}
    if cons.empty:
        return Reservations(kept=cons[["child_id", "home_id"]].copy(), broken=broken)
    reasons = rule_failures(inputs, cons, times, settings)
    homes = inputs.homes.set_index("home_id")
    free = (homes["capacity"] - inputs.placements["home_id"].value_counts().reindex(
        homes.index, fill_value=0)).to_dict()
    # a child who lives in a home uses its place there (unless locked into that home,
    # counted above); its reservation for that same home needs no further place
    lives_in: dict[str, str] = {}
    if "current_home_id" in inputs.children.columns:
        locked_pairs = set(zip(inputs.placements["child_id"], inputs.placements["home_id"],
                               strict=True))
        for c, h in zip(inputs.children["child_id"], inputs.children["current_home_id"],
                        strict=True):
            if isinstance(h, str) and h:
                lives_in[str(c)] = h
                if (c, h) not in locked_pairs and h in free:
                    free[h] -= 1
    group = inputs.children.set_index("child_id")["sibling_group"]
    held_groups: set[tuple[str, str]] = set()
    keep: list[int] = []
    order = cons.assign(_day=pd.to_datetime(cons["decided_on"])).sort_values(
        ["_day", "child_id"], kind="stable")
    for i, r in order.iterrows():
        child, home = r["child_id"], r["home_id"]
        why = reasons.get(child)
        need = 0 if lives_in.get(child) == home else 1
        if why is None and free.get(home, 0) < need:
            why = _("{home} no longer has a free place").format(home=home)
        g = group.get(child)
        if why is None and isinstance(g, str) and not bool(
                homes.at[home, "accepts_sibling_groups"]):
            if (g, home) in held_groups:
                why = _("{home} does not take sibling groups and holds a sibling already"
                        ).format(home=home)
            sibling_locked = inputs.placements[
                inputs.placements["child_id"].map(group).eq(g)
                & inputs.placements["home_id"].eq(home)]
            if why is None and len(sibling_locked):
                why = _("{home} does not take sibling groups and has a sibling placed"
                        ).format(home=home)
        if why is not None:
            broken[child] = _("reservation for {child} broken: {why}").format(child=child,
                                                                            why=why)
            continue
        free[home] = free.get(home, 0) - need
        if isinstance(g, str):
            held_groups.add((g, home))
        keep.append(i)
    kept = cons.loc[sorted(keep), ["child_id", "home_id"]].sort_values("child_id")
    return Reservations(kept=kept.reset_index(drop=True), broken=dict(sorted(broken.items())))


def rule_failures(inputs: Inputs, pairs: pd.DataFrame, times: TimeTable,
                   settings: Settings) -> dict[str, str]:
    """Return child id -> why the pair breaks a hard rule, for pairs that break one.

    The first failing rule of :data:`matcher.rules.FILTERS` after ``capacity``
    (kind, age, competences, school, veto, current home not keeping), in plain words.

    Parameters
    ----------
    inputs
        Validated inputs (children and homes must hold the pairs' ids).
    pairs
        ``child_id, home_id``, at most one row per child.
    times
        Travel times in minutes (for the school rule).
    settings
        All settings.
    """
    children = inputs.children.set_index("child_id", drop=False).loc[pairs["child_id"]]
    homes = inputs.homes.set_index("home_id", drop=False).loc[pairs["home_id"]]
    children = children.reset_index(drop=True)
    homes = homes.reset_index(drop=True)
    rules = Eligibility.build(children, homes, settings.scoring,
                              trainable_needs=settings.assignment.trainable_needs,
                              kinship_training=settings.assignment.kinship_training)
    n = len(pairs)
    masks, _counts = rules.masks(slice(0, n), places=np.ones(n, dtype=np.int64))
    diag = np.arange(n)
    school = _school_minutes(children, homes, times)
    has_school = children["school_lon"].notna().to_numpy()
    limit = children["max_school_minutes"].fillna(
        settings.scoring.default_max_school_minutes).to_numpy(dtype=float)
    school_pass = school_ok(school[:, None], limit, has_school)[:, 0]
    vetoed = set(zip(inputs.vetoes["child_id"], inputs.vetoes["home_id"], strict=True))
    current = current_home_vetoes(inputs.children, inputs.homes)
    living = set(zip(current["child_id"], current["home_id"], strict=True))
    out: dict[str, str] = {}
    for i in range(n):
        c, h = str(children.at[i, "child_id"]), str(homes.at[i, "home_id"])
        age = int(children.at[i, "age"])
        if not masks["kind"][i, diag[i]]:
            if rules.is_em[i]:
                why = _("{home} is an emergency home and {child} is no longer acute").format(
                    home=h, child=c)
            else:
                why = _("{home} is a kinship home for another child").format(home=h)
        elif not masks["age"][i, diag[i]]:
            why = _("{home} no longer approved for age {age}").format(home=h, age=age)
        elif not masks["competences"][i, diag[i]]:
            missing = [rules.need_names[k] for k in np.flatnonzero(rules.hard_needs[i])
                       if not rules.need_meets[k, i]]
            why = _("{home} no longer has a competence for {needs}").format(
                home=h, needs=", ".join(missing))
        elif not school_pass[i]:
            minutes = school[i]
            if np.isfinite(minutes):
                why = _("school is {minutes} from {home} (limit {limit})").format(
                    minutes=i18n.format_minutes(minutes), home=h,
                    limit=i18n.format_minutes(limit[i]))
            else:
                why = _("school is unreachable from {home} (limit {limit})").format(
                    home=h, limit=i18n.format_minutes(limit[i]))
        elif (c, h) in vetoed:
            why = _("{child} -> {home} is vetoed").format(child=c, home=h)
        elif (c, h) in living:
            why = _("{child} lives in {home} now, and the home has not said it keeps the "
                    "child").format(child=c, home=h)
        else:
            continue
        out[c] = why
    return out


def _school_minutes(children: pd.DataFrame, homes: pd.DataFrame,
                    times: TimeTable) -> np.ndarray:
    rows = pd.Index(times.origin_ids).get_indexer(homes["home_id"])
    cols = pd.Index(times.destination_ids).get_indexer(children["child_id"] + ":school")
    out = np.full(len(children), np.inf)
    ok = (rows >= 0) & (cols >= 0)
    out[ok] = np.asarray(times.minutes)[rows[ok], cols[ok]]
    return out


def _invalid(problems: list[Problem], label: str) -> str:
    return ngettext("invalid decisions: {n} problem in {label}",
                    "invalid decisions: {n} problems in {label}", len(problems)).format(
                        n=len(problems), label=label)


def overrides_since(inputs: Inputs,
                    previous_as_of: datetime.date | None) -> list[dict[str, str]]:
    """Locks (``placements``) and vetoes decided after the previous run (audit).

    Only dated rows (``decided_on``) can be placed in time: without
    ``previous_as_of`` every dated row is listed. Sorted by date, kind
    (``lock`` before ``veto``), child and home.

    Returns
    -------
    list of dict
        ``kind`` (``lock`` or ``veto``), ``child_id``, ``home_id``,
        ``decided_on`` (ISO date) and ``by`` (a role of :data:`ROLES`, or '').
    """
    rows: list[dict[str, str]] = []
    for kind, frame in (("lock", inputs.placements), ("veto", inputs.vetoes)):
        if "decided_on" not in frame.columns:
            continue
        day = pd.to_datetime(frame["decided_on"])
        keep = day.notna()
        if previous_as_of is not None:
            keep &= day > pd.Timestamp(previous_as_of)
        by = frame["by"] if "by" in frame.columns else pd.Series("", index=frame.index)
        rows += [{"kind": kind, "child_id": str(c), "home_id": str(h),
                  "decided_on": d.date().isoformat(), "by": b if isinstance(b, str) else ""}
                 for c, h, d, b in zip(frame["child_id"][keep], frame["home_id"][keep],
                                       day[keep], by[keep], strict=True)]
    return sorted(rows, key=lambda r: (r["decided_on"], r["kind"], r["child_id"],
                                       r["home_id"]))


def as_frame(decisions: Decisions) -> pd.DataFrame:
    """Return the decisions as the table written to files and stores (ISO dates)."""
    t = decisions.table
    return pd.DataFrame({"child_id": t["child_id"], "home_id": t["home_id"],
                         "decision": t["decision"],
                         "decided_on": [d.isoformat() for d in t["decided_on"]],
                         "by": t["by"], "reason": t["reason"], "actor": t["actor"]})
