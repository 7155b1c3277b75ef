"""The inputs and the result of the assignment: priorities, validated pairs, result object."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher import optimize
from matcher.config import AssignmentSettings, ContinuitySettings
from matcher.errors import Problem, raise_if_problems, sheet_row
from matcher.i18n import N_
from matcher.i18n import gettext as _

__all__ = [
    "DAYS_PER_YEAR",
    "STAGE1_ABS_TOL",
    "STAGE1_REL_TOL",
    "TIE_TOL",
    "AssignmentProblem",
    "AssignmentResult",
    "Status",
    "emergency_over_norm",
    "priority",
]

TIE_TOL = 1e-9
"""Objective changes below this count as ties in the canonicalisation."""

STAGE1_ABS_TOL = 1e-6
STAGE1_REL_TOL = 1e-9
"""Stage two keeps stage one at ``>= z1 - (STAGE1_ABS_TOL + STAGE1_REL_TOL * |z1|)``."""

DAYS_PER_YEAR = 365.25

_URGENCIES = ("acute", "planned")
_MAX_LISTED = 20  # problems listed per check before summarising

Status = optimize.Status


def priority(
    children: pd.DataFrame, settings: AssignmentSettings, as_of: datetime.date, *,
    in_emergency: np.ndarray | None = None, continuity: ContinuitySettings | None = None,
) -> pd.Series:
    """Compute each child's stage-one priority.

    ``priority = urgency_weight[urgency] + waiting_weight_per_year * years waited
    + emergency_weight_per_week * max(0, weeks - emergency_weeks_norm)``,
    with years counted from ``waiting_since`` to ``as_of`` (365.25 days a year);
    a missing ``waiting_since`` (NaT) counts as 0 years. The last term is only
    for a child who lives in an emergency home (``in_emergency``), with weeks
    from ``placed_since`` to ``as_of`` (7 days a week; none without the date):
    it is positive exactly when the weeks exceed the norm.

    Parameters
    ----------
    children
        Validated children (:mod:`matcher.schema`): ``urgency`` (``"acute"``
        or ``"planned"``) and ``waiting_since`` (dates, NaT when unknown).
    settings
        Assignment settings (``urgency_weight``, ``waiting_weight_per_year``).
    as_of
        Run date; ``waiting_since`` after it is an error.
    in_emergency
        Per row of ``children``: the child lives in an emergency home now
        (``None``: nobody does).
    continuity
        ``emergency_weeks_norm`` (weeks) and ``emergency_weight_per_week``
        (default: their defaults).

    Returns
    -------
    pandas.Series
        Float priorities (dimensionless, > 0 for valid settings), named
        ``priority``, with the index of ``children``.

    Raises
    ------
    InputError
        On a ``waiting_since`` after ``as_of`` (the run date is not known when
        the tables are validated); every such row is listed.
    ValueError
        If ``children`` was not validated (:mod:`matcher.schema` checks the
        urgency and reads the dates).
    """
    source = "children"
    weights = children["urgency"].map(settings.urgency_weight).astype(float)
    if weights.isna().any():
        raise ValueError("children must be validated by matcher.schema (unknown urgency)")
    since = pd.to_datetime(children["waiting_since"], format="ISO8601")
    problems: list[Problem] = []
    run_day = pd.Timestamp(as_of)
    days = (run_day - since).dt.days.astype(float)
    for pos in np.flatnonzero((days < 0).to_numpy()):
        problems.append(
            Problem(
                source,
                _("waiting_since {day} is after the run date {as_of}; fix the date").format(
                    day=since.iloc[pos].date().isoformat(), as_of=as_of.isoformat()),
                row=sheet_row(pos),
                column="waiting_since",
            )
        )
    raise_if_problems(_("cannot compute priorities"), _capped(problems))
    years = days.fillna(0.0) / DAYS_PER_YEAR
    out = weights + settings.waiting_weight_per_year * years
    if in_emergency is not None and in_emergency.any() and "placed_since" in children.columns:
        c = continuity or ContinuitySettings()
        over = emergency_over_norm(children["placed_since"], as_of, c.emergency_weeks_norm)
        out = out + c.emergency_weight_per_week * np.where(in_emergency, over, 0.0)
    return out.rename("priority")


def emergency_over_norm(placed_since: pd.Series, as_of: datetime.date,
                        norm_weeks: float) -> np.ndarray:
    """Weeks beyond ``norm_weeks`` from ``placed_since`` to ``as_of`` (0 within it or unknown)."""
    since = pd.to_datetime(placed_since)
    weeks = (pd.Timestamp(as_of) - since).dt.days.to_numpy(dtype=float) / 7.0
    return np.nan_to_num(np.maximum(weeks - norm_weeks, 0.0), nan=0.0)


@dataclass(frozen=True, eq=False)
class AssignmentProblem:
    """The inputs of one assignment, validated on construction.

    Attributes
    ----------
    children
        One row per waiting child: ``child_id`` (str, unique), ``sibling_group``
        (str or missing), ``urgency`` (``"acute"`` | ``"planned"``) and
        ``priority`` (float > 0, stage-one weight).
    homes
        ``home_id`` (str, unique), ``capacity`` (int >= 0: free places before
        the locked placements are counted) and ``accepts_sibling_groups`` (bool).
    pairs
        Feasible pairs only: ``child_id``, ``home_id``, ``score`` (float in
        [0, 1]) and ``n_training`` (int >= 0). Other columns are ignored.
    locked
        Placements already made: ``child_id``, ``home_id`` (may be empty).

    ``children`` may also carry ``current_home_id`` (the home the child lives in
    now, or missing) and ``current_home_keeps`` (bool). A current home's place
    counts as used: its free places are ``capacity`` minus the locked
    placements minus the children who live there. The pair (child, current
    home) is a candidate only when ``current_home_keeps`` is true; staying
    uses no further place.
    previous
        Proposals of the previous run: ``child_id``, ``home_id`` (may be
        empty; rows of children or homes not in this problem are ignored).
        When not empty, :func:`solve` adds the stability stage.

    Raises
    ------
    InputError
        If a column is missing or a value is invalid; every problem is listed.
    """

    children: pd.DataFrame
    homes: pd.DataFrame
    pairs: pd.DataFrame
    locked: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
    )
    previous: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
    )

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def build(
        cls,
        children: pd.DataFrame,
        homes: pd.DataFrame,
        pairs: pd.DataFrame,
        locked: pd.DataFrame | None,
        settings: AssignmentSettings,
        as_of: datetime.date,
        previous: pd.DataFrame | None = None,
        continuity: ContinuitySettings | None = None,
    ) -> AssignmentProblem:
        """Validate the tables and compute priorities from ``waiting_since``.

        Parameters
        ----------
        children
            Children table with ``child_id``, ``sibling_group``, ``urgency`` and
            ``waiting_since``; any ``priority`` column is replaced.
        homes, pairs
            As in the class attributes.
        locked
            Placements already made, or ``None`` for none.
        settings
            Assignment settings (priority weights).
        as_of
            Run date for the waiting time.
        previous
            Proposals of the previous run (``child_id``, ``home_id``), or ``None``.
        continuity
            Weeks norm and weight of the emergency-home priority (:func:`priority`);
            it applies to children whose ``current_home_id`` is an emergency home.

        Raises
        ------
        InputError
            On any invalid input; every problem is listed.
        """
        in_emergency = None
        if "current_home_id" in children.columns and "kind" in homes.columns:
            kind = homes.set_index("home_id")["kind"]
            in_emergency = (children["current_home_id"].map(kind) == "emergency").to_numpy(bool)
        children = children.assign(priority=priority(children, settings, as_of,
                                                     in_emergency=in_emergency,
                                                     continuity=continuity))
        if locked is None:
            locked = pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
        if previous is None:
            previous = pd.DataFrame({"child_id": [], "home_id": []}, dtype=object)
        return cls(children=children, homes=homes, pairs=pairs, locked=locked,
                   previous=previous)


def _capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= _MAX_LISTED:
        return problems
    rest = len(problems) - _MAX_LISTED
    return [*problems[:_MAX_LISTED],
            Problem(problems[0].source, _("... and {n} more").format(n=rest))]


def _require(frame: pd.DataFrame, source: str, columns: tuple[str, ...]) -> list[Problem]:
    return [
        Problem(source, _("required column is missing; add it"), column=c)
        for c in columns
        if c not in frame.columns
    ]


def _bad_rows(source: str, column: str, mask: np.ndarray, message: str) -> list[Problem]:
    return [
        Problem(source, _(message), row=sheet_row(pos), column=column)
        for pos in np.flatnonzero(mask)[: _MAX_LISTED + 1]
    ]


def _not_text(values: pd.Series, *, allow_missing: bool) -> np.ndarray:
    bad = np.array([not (isinstance(v, str) and v != "") for v in values], dtype=bool)
    return bad & ~values.isna().to_numpy(dtype=bool) if allow_missing else bad


def _not_int(values: pd.Series, *, minimum: int) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(numbers) & (numbers == np.round(numbers)) & (numbers >= minimum)
    return ~ok


def _validate(problem: AssignmentProblem) -> None:
    """Collect every structural problem of ``problem`` and raise once."""
    problems: list[Problem] = []
    children, homes, pairs, locked = problem.children, problem.homes, problem.pairs, problem.locked
    problems += _require(children, "children", ("child_id", "sibling_group", "urgency", "priority"))
    problems += _require(homes, "homes", ("home_id", "capacity", "accepts_sibling_groups"))
    problems += _require(pairs, "pairs", ("child_id", "home_id", "score", "n_training"))
    problems += _require(locked, "locked", ("child_id", "home_id"))
    problems += _require(problem.previous, "previous", ("child_id", "home_id"))
    raise_if_problems(_("invalid assignment input"), problems)

    cid = children["child_id"]
    problems += _bad_rows("children", "child_id", _not_text(cid, allow_missing=False),
                          N_("child_id must be non-empty text"))
    problems += _bad_rows("children", "child_id", cid.duplicated().to_numpy(),
                          N_("duplicate child_id; each child must appear once"))
    problems += _bad_rows("children", "sibling_group",
                          _not_text(children["sibling_group"], allow_missing=True),
                          N_("sibling_group must be text, or empty for no group"))
    problems += _bad_rows("children", "urgency",
                          ~children["urgency"].isin(_URGENCIES).to_numpy(dtype=bool),
                          N_("urgency must be one of acute, planned"))
    prio = pd.to_numeric(children["priority"], errors="coerce").to_numpy(float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        problems += _bad_rows("children", "priority", ~(np.isfinite(prio) & (prio > 0)),
                              N_("priority must be a number > 0; check settings.urgency_weight"))

    hid = homes["home_id"]
    problems += _bad_rows("homes", "home_id", _not_text(hid, allow_missing=False),
                          N_("home_id must be non-empty text"))
    problems += _bad_rows("homes", "home_id", hid.duplicated().to_numpy(),
                          N_("duplicate home_id; each home must appear once"))
    problems += _bad_rows("homes", "capacity", _not_int(homes["capacity"], minimum=0),
                          N_("capacity must be a whole number >= 0 (free places)"))
    acc = homes["accepts_sibling_groups"]
    problems += _bad_rows("homes", "accepts_sibling_groups",
                          ~acc.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool),
                          N_("accepts_sibling_groups must be true or false"))

    known_children = set(cid.dropna())
    known_homes = set(hid.dropna())
    problems += _bad_rows("pairs", "child_id", ~pairs["child_id"].isin(known_children).to_numpy(),
                          N_("child_id is not in the children table; drop the pair or add "
                             "the child"))
    problems += _bad_rows("pairs", "home_id", ~pairs["home_id"].isin(known_homes).to_numpy(),
                          N_("home_id is not in the homes table; drop the pair or add the home"))
    problems += _bad_rows("pairs", "home_id",
                          pairs.duplicated(["child_id", "home_id"]).to_numpy(),
                          N_("duplicate (child_id, home_id) pair; keep one row per pair"))
    score = pd.to_numeric(pairs["score"], errors="coerce").to_numpy(float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        problems += _bad_rows("pairs", "score", ~((score >= 0) & (score <= 1)),
                              N_("score must be a number in [0, 1]"))
    problems += _bad_rows("pairs", "n_training", _not_int(pairs["n_training"], minimum=0),
                          N_("n_training must be a whole number >= 0"))

    problems += _bad_rows("locked", "child_id", ~locked["child_id"].isin(known_children).to_numpy(),
                          N_("locked child is not in the children table; add the child"))
    problems += _bad_rows("locked", "home_id", ~locked["home_id"].isin(known_homes).to_numpy(),
                          N_("locked home is not in the homes table; add the home"))
    problems += _bad_rows("locked", "child_id", locked["child_id"].duplicated().to_numpy(),
                          N_("child is locked more than once; keep one placement per child"))
    problems += _bad_rows("previous", "child_id",
                          problem.previous["child_id"].duplicated().to_numpy(),
                          N_("child has two previous proposals; keep one per child"))
    raise_if_problems(_("invalid assignment input"), _capped(problems))


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    status
        ``"optimal"`` (both stages proven within ``mip_gap``) or
        ``"time_limit_feasible"`` (a stage stopped at its time limit with a
        feasible incumbent; see ``mip_gap``).
    solver
        ``"highs"``, ``"highs_cmd"`` or ``"cbc"``.
    sibling_policy
        The policy the model was built with.
    objective_stage1
        Total priority of placed children, locked ones included (dimensionless).
    objective_stage2
        Sum of ``score - training_penalty * n_training`` over placed children
        (locked included) minus split penalties (dimensionless).
    mip_gap
        Largest relative MIP gap of the two stages: 0 when proven optimal with
        ``mip_gap = 0``; from the solver otherwise (for CBC stopped within an
        allowed gap without a reported bound: that allowed gap, an upper bound;
        ``nan`` if unknown).
    stage_gaps
        Relative gap of each stage: ``{"stage1": ..., "stage2": ...}``.
    timings
        Wall-clock seconds: ``build`` (tables to PuLP model), ``stage1`` (LP bound
        and MIP), ``stage2`` (restriction, MIP and canonicalisation), ``stage3``
        (the stability stage; only when it ran), ``total``.
    assignments
        One row per child sorted by ``child_id``: ``child_id``, ``home_id``
        (``None`` if unmatched), ``score`` and ``n_training`` (missing if
        unmatched; 0 for a locked pair that is not feasible), ``locked``,
        ``split`` (True for every member of a sibling group whose placed
        members use two or more homes).
    kept_previous
        With previous proposals: the children (not locked) whose previous
        home is kept (the stage-three objective); ``None`` without.
    stability_tolerance
        The relative stage-two tolerance of the stability stage (``None`` without).
    """

    status: Status
    solver: str
    sibling_policy: str
    objective_stage1: float
    objective_stage2: float
    mip_gap: float
    stage_gaps: Mapping[str, float]
    timings: Mapping[str, float]
    assignments: pd.DataFrame
    kept_previous: int | None = None
    stability_tolerance: float | None = None

    @property
    def placed_count(self) -> int:
        """Number of children with a home (locked ones included)."""
        return int(self.assignments["home_id"].notna().sum())

    @property
    def unmatched_count(self) -> int:
        """Number of children without a home."""
        return int(self.assignments["home_id"].isna().sum())

    @property
    def locked_count(self) -> int:
        """Number of placements that were already made."""
        return int(self.assignments["locked"].sum())

    @property
    def split_count(self) -> int:
        """Number of children in a sibling group that is split across homes."""
        return int(self.assignments["split"].sum())

    @property
    def unmatched_ids(self) -> list[str]:
        """Ids of the children without a home, sorted."""
        return self.assignments.loc[self.assignments["home_id"].isna(), "child_id"].tolist()
