"""The record of one matching run: :class:`RunResult` and its typed, versioned :class:`RunSummary`.

This module sits below both :mod:`matcher.pipeline` (which builds a run) and
:mod:`matcher.report` (which renders one), so that the report never imports
the pipeline. At run time it imports only :mod:`matcher.errors` and
:mod:`matcher.i18n`; the domain types of :class:`RunResult` are named for the
type checker only.

``summary.json`` in a run folder is :meth:`RunSummary.to_json`: the JSON keys
are the field names (machine-readable, English, stable) plus
``schema_version``. Files written before the version existed (no
``schema_version``) read as version 1.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from matcher.errors import InputError, Problem
from matcher.i18n import gettext as _

if TYPE_CHECKING:
    import pandas as pd

    from matcher.assignment import AssignmentResult
    from matcher.decisions import Plan
    from matcher.network import Network
    from matcher.schema import Inputs
    from matcher.scoring import Scored
    from matcher.timetable import TimeTable

__all__ = [
    "SCHEMA_VERSION",
    "ByUrgency",
    "DecisionRecord",
    "DecisionSummary",
    "Override",
    "RunResult",
    "RunSummary",
    "UrgencyCount",
    "WaitingCell",
    "WaitingSummary",
]

SCHEMA_VERSION: int = 1
"""Version of the ``summary.json`` layout this code writes and the newest it reads."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class UrgencyCount(BaseModel):
    """Children of one urgency and how many of them got a proposal."""

    model_config = _FROZEN
    children: int
    placed: int


class ByUrgency(BaseModel):
    """Counts per urgency (``acute``, ``planned``)."""

    model_config = _FROZEN
    acute: UrgencyCount
    planned: UrgencyCount


class DecisionRecord(BaseModel):
    """One decision taken since the previous run (audit): who decided what, when."""

    model_config = _FROZEN
    child_id: str
    home_id: str
    decision: str
    decided_on: str
    """ISO date."""
    by: str
    reason: str
    actor: str = ""
    """Pseudonymous id of the person who acted (empty in old logs)."""


class DecisionSummary(BaseModel):
    """Decisions in force in a run (:mod:`matcher.decisions`)."""

    model_config = _FROZEN
    accepted_locked: int
    declined_in_force: int
    considering: int
    reservations_kept: int
    reservations_broken: int
    ignored_rows: int
    decline_days: int
    """Days a decline keeps a pair from being proposed again."""
    legacy_rows: int = 0
    """Rows of an old log read as before (``accepted`` as ``approved``)."""
    since_previous_run: tuple[DecisionRecord, ...] = ()


class Override(BaseModel):
    """A lock or veto decided after the previous run (:func:`matcher.decisions.overrides_since`)."""

    model_config = _FROZEN
    kind: str
    """``lock`` or ``veto``."""
    child_id: str
    home_id: str
    decided_on: str
    """ISO date."""
    by: str


class WaitingCell(BaseModel):
    """Days waiting of the children in one cell of a breakdown."""

    model_config = _FROZEN
    children: int
    median_days: float
    p90_days: float


class WaitingSummary(BaseModel):
    """Waiting figures of a run (:func:`matcher.waiting.summary_block`); small cells left out."""

    model_config = _FROZEN
    min_cell: int
    """Cells with fewer children than this are suppressed."""
    by: dict[str, dict[str, WaitingCell]]
    """Breakdown (``all``, ``age_band``, ``urgency`` ...) -> value -> cell."""
    binding: dict[str, int]
    """Binding reason of unmatched children -> children."""
    suppressed_cells: int


# Fields written only when the run has them (absent keys in summary.json, as before).
_OPTIONAL = ("decisions", "overrides_since_previous_run", "kept", "changed", "new",
             "stability_tolerance")


class RunSummary(BaseModel):
    """The typed summary of one matching run; ``summary.json`` is its serialisation.

    Minutes and seconds are as the field names say; shares are fractions in
    [0, 1]; ``None`` means not defined (no child placed, solver gave no gap).

    Attributes
    ----------
    schema_version
        Layout version (:data:`SCHEMA_VERSION`).
    software, language, as_of, config_hash
        Who wrote the run, in which language (``nb``, ``nn``, ``en``), for
        which run date, with which settings (fingerprint).
    status, solver, sibling_policy, mip_gap, objective_stage1, objective_stage2
        The assignment's solver status and objectives.
    children, homes, placed, unmatched, locked, split_children
        Counts.
    by_urgency
        Children and proposals per urgency.
    kept_in_home_municipality, share_kept_in_home_municipality
        Proposals in the child's (or its sibling group's) own municipality.
    kept_within_cooperation, share_kept_within_cooperation, pools
        The same within a cooperation pool (``pools``: pool -> municipality numbers).
    kinship_placements, children_with_training_needs
        Counts of proposals.
    median_school_minutes
        Median travel time, in minutes, to school of the placed children.
    timings_seconds
        Seconds per step (``travel_times``, ``scoring``, ``assignment``,
        ``solver_*``).
    inputs_sha256
        Fingerprint of every input (table name -> SHA-256; the network key).
    children_not_heard, hear_from_age, heard_max_age_days
        Children old enough to be heard (years) and not heard within the days.
    unmatched_by_binding_rule
        Rule -> unmatched children it binds.
    waiting
        Waiting figures.
    decisions, overrides_since_previous_run
        Decisions in force and overrides since the previous run, when any.
    kept, changed, new, stability_tolerance
        Against the previous run's proposals (``None`` without one).
    """

    model_config = _FROZEN

    schema_version: int = SCHEMA_VERSION
    software: str
    language: str
    as_of: datetime.date
    status: str
    solver: str
    sibling_policy: str
    mip_gap: float | None
    objective_stage1: float | None
    objective_stage2: float | None
    children: int
    homes: int
    placed: int
    unmatched: int
    locked: int
    split_children: int
    by_urgency: ByUrgency
    kept_in_home_municipality: int
    share_kept_in_home_municipality: float | None
    kinship_placements: int
    median_school_minutes: float | None
    children_with_training_needs: int
    timings_seconds: dict[str, float]
    inputs_sha256: dict[str, str]
    config_hash: str
    pools: dict[str, tuple[str, ...]]
    kept_within_cooperation: int
    share_kept_within_cooperation: float | None
    children_not_heard: tuple[str, ...]
    hear_from_age: int
    heard_max_age_days: int
    unmatched_by_binding_rule: dict[str, int]
    waiting: WaitingSummary
    decisions: DecisionSummary | None = None
    overrides_since_previous_run: tuple[Override, ...] = ()
    kept: int | None = None
    changed: int | None = None
    new: int | None = None
    stability_tolerance: float | None = None
    """Share of the stage-2 score given up to keep previous proposals."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping (the keys of ``summary.json``)."""
        out = self.model_dump(mode="json")
        for key in _OPTIONAL:
            if out[key] is None or out[key] == []:
                del out[key]
        return out

    def to_json(self) -> str:
        """Return ``summary.json``: indented, keys sorted, a final newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "summary.json") -> RunSummary:
        """Read a summary mapping, of this version or older (no version = 1).

        Parameters
        ----------
        data
            The parsed ``summary.json``.
        source
            File name for the problems.

        Raises
        ------
        InputError
            If the layout is newer than :data:`SCHEMA_VERSION`, or a field is
            missing or of the wrong type (naming the file and the field).
        """
        if not isinstance(data, Mapping):
            raise InputError(_("{source}: not a run summary (a JSON object is expected)")
                             .format(source=source))
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(_("{source}: schema_version {version!r} is not a version "
                               "number; the file is damaged: re-run the match").format(
                                   source=source, version=version))
        if version > SCHEMA_VERSION:
            raise InputError(_(
                "{source} has schema_version {version}, newer than this fostermatch "
                "reads ({supported}); upgrade fostermatch (pip install -U fostermatch) "
                "to read this run, or run the match again with this version").format(
                    source=source, version=version, supported=SCHEMA_VERSION))
        try:
            return cls.model_validate({**data, "schema_version": SCHEMA_VERSION})
        except ValidationError as exc:
            problems = [Problem(source, _("{error}; re-run the match to write a complete "
                                          "summary").format(error=e["msg"]),
                                column=".".join(str(p) for p in e["loc"]))
                        for e in exc.errors()]
            raise InputError(_("{source}: not a run summary of this version").format(
                source=source), problems) from None

    @classmethod
    def from_json(cls, text: str, *, source: str = "summary.json") -> RunSummary:
        """Parse ``summary.json`` text (:meth:`from_dict`); bad JSON is an ``InputError``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(_("{source}: not valid JSON ({error}); re-run the match").format(
                source=source, error=exc)) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def read(cls, path: str | Path) -> RunSummary:
        """Read a run folder's ``summary.json`` (or the file itself).

        Raises
        ------
        InputError
            If the file is missing, unreadable or not a summary (naming the file).
        """
        path = Path(path)
        if path.is_dir():
            path = path / "summary.json"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(_("{path}: cannot read the run summary ({error}); give a run "
                               "folder written by `matcher match --out`").format(
                                   path=path, error=exc)) from None
        return cls.from_json(text, source=str(path))


@dataclass(frozen=True)
class RunResult:
    """Everything a report needs about one matching run.

    Built by :func:`matcher.pipeline.run`, which returns the subclass
    :class:`matcher.pipeline.RunResult` that can also write the run folder.

    Attributes
    ----------
    inputs
        The validated inputs.
    times
        Travel times home -> anchor, in minutes (``inf`` = unreachable).
    scored
        Feasible pairs with scores and explanations, and the per-child funnel.
    result
        The solved assignment (status, objectives, gap, timings).
    assignments
        One row per child: :data:`matcher.pipeline.ASSIGNMENT_COLUMNS`.
    shortlist
        Top-k feasible homes per child with explanations.
    summary
        The run summary (status, counts, shares, timings, fingerprints).
    network
        The road network, when travel times were computed here.
    plan
        Decisions in force in this run (``None`` without a decisions table).
    history
        One row per waiting child for the waiting statistics (:func:`matcher.waiting.history`).
    """

    inputs: Inputs
    times: TimeTable
    scored: Scored
    result: AssignmentResult
    assignments: pd.DataFrame
    shortlist: pd.DataFrame
    summary: RunSummary
    network: Network | None = field(default=None, repr=False)
    plan: Plan | None = field(default=None, repr=False)
    history: pd.DataFrame | None = field(default=None, repr=False)
