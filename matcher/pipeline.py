"""One matching run, end to end: inputs -> travel times -> scores -> assignment -> run folder.

The run is pure up to :func:`write_run`, which writes the run folder
atomically: everything is written into a temporary sibling folder that is
renamed into place only when complete, so a failed run leaves no partial
output (and an earlier run folder of the same name intact).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher import (
    __version__,
    assignment,
    continuity,
    i18n,
    isochrones,
    schema,
    scoring,
    traveltime,
    waiting,
)
from matcher import decisions as decisions_mod
from matcher import network as network_mod
from matcher import report as report_mod
from matcher import run as run_mod
from matcher.config import Settings
from matcher.errors import FIRST_DATA_ROW, InputError, data_position
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.io import files
from matcher.report import Privacy
from matcher.run import RunSummary
from matcher.schema import Inputs
from matcher.traveltime import TimeTable

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "RunResult",
    "RunSummary",
    "Scale",
    "Step",
    "check_scale",
    "estimate",
    "not_heard",
    "run",
    "school_isochrones",
    "travel_times",
    "write_run",
]

logger = logging.getLogger(__name__)

Step = Callable[[str], None]
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "child_id", "home_id", "score", "school_minutes", "network_minutes", "parent_minutes",
    "municipality_match", "kinship", "training_needs", "locked", "split", "urgency",
    "municipality", "home_municipality", "reason",
    "decision", "previous_home_id", "change_reason",
)
"""Columns of ``assignments.csv``. The last three are empty without decisions or a previous
run: ``decision`` (``approved`` or ``considering`` when the proposed pair carries one),
``previous_home_id`` (the home proposed by the previous run) and ``change_reason``
(plain words: why a reservation broke or a previous proposal changed)."""


class RunResult(run_mod.RunResult):
    """A matching run (:class:`matcher.run.RunResult`) that can write its run folder."""

    def write(self, folder: str | Path, *, report: bool = True, privacy: Privacy | None = None,
              municipalities: gpd.GeoDataFrame | None = None,
              settings: Settings | None = None, synthetic: bool | None = None,
              periods: pd.DataFrame | None = None, step: Step | None = None) -> Path:
        """Write this run's folder; see :func:`write_run` for the parameters."""
        return write_run(self, folder, report=report, privacy=privacy,
                         municipalities=municipalities, settings=settings, synthetic=synthetic,
                         periods=periods, step=step)


@dataclass(frozen=True)
class Scale:
    """The size of a match and the memory it is estimated to need.

    Attributes
    ----------
    children, homes, anchors
        Counts; anchors are the travel-time destinations (schools, contacts).
    pairs
        Child x home pairs the match scores (children times homes).
    times_mb
        Size of the dense home x anchor travel-time table, in MiB.
    memory_mb
        Estimated peak memory of the match, in MiB (measured with
        ``benchmarks/scale.py``: about 300 MiB of libraries, the travel-time
        table, and 80 bytes per scored pair).
    """

    children: int
    homes: int
    anchors: int
    pairs: int
    times_mb: float
    memory_mb: float


_BASE_MB = 300.0
_BYTES_PER_PAIR = 80.0


def estimate(inputs: Inputs, settings: Settings) -> Scale:
    """Estimate the pairs and memory a match of ``inputs`` needs (cheap: counts only).

    Parameters
    ----------
    inputs
        Validated inputs.
    settings
        All settings (``assignment.max_pairs`` is the budget checked by
        :func:`check_scale`).

    Returns
    -------
    Scale
        Counts, pairs and the estimated memory in MiB.
    """
    n_c, n_h = len(inputs.children), len(inputs.homes)
    n_a = len(schema.anchors(inputs, include_home=False))
    pairs = n_c * n_h
    times_mb = n_h * n_a * 8 / 2**20
    return Scale(children=n_c, homes=n_h, anchors=n_a, pairs=pairs, times_mb=times_mb,
                 memory_mb=_BASE_MB + times_mb + pairs * _BYTES_PER_PAIR / 2**20)


def check_scale(inputs: Inputs, settings: Settings) -> Scale:
    """Fail early when a match is larger than ``assignment.max_pairs``.

    Raises
    ------
    InputError
        With the counts, the pairs, the budget and the estimated memory, and
        the fix (split the run by region, or raise ``max_pairs`` on a machine
        with the memory).
    """
    scale = estimate(inputs, settings)
    budget = settings.assignment.max_pairs
    if scale.pairs > budget:
        raise InputError(_(
            "the match is too large: {children} children x {homes} homes = {pairs} pairs to "
            "score, over the budget of {budget} ([assignment] max_pairs); it would need about "
            "{memory_gib} GiB (travel times {times_gib} GiB). Split the run by region "
            "(children and the homes that can reach them), or raise max_pairs on a machine "
            "with that memory").format(
                children=i18n.format_number(scale.children),
                homes=i18n.format_number(scale.homes), pairs=i18n.format_number(scale.pairs),
                budget=i18n.format_number(budget),
                memory_gib=i18n.format_number(scale.memory_mb / 1024, 1),
                times_gib=i18n.format_number(scale.times_mb / 1024, 1)))
    logger.info(_("match size: {children} children x {homes} homes = {pairs} pairs, about "
                  "{memory_mib} MiB").format(
        children=i18n.format_number(scale.children), homes=i18n.format_number(scale.homes),
        pairs=i18n.format_number(scale.pairs), memory_mib=i18n.format_number(scale.memory_mb)))
    return scale


def travel_times(inputs: Inputs, net: network_mod.Network, settings: Settings, *,
                 progress: Callable[[int, int], None] | None = None) -> TimeTable:
    """Compute minutes from every home to every school and contact anchor.

    Every place is snapped first (foster homes, each child's former home,
    schools and contacts), so that a place far off the road network is
    reported by table, row, column and id, all at once. The former home is
    only checked: scoring does not use it, so it is left out of the matrix.

    Raises
    ------
    InputError
        Naming every place too far from the network.
    """
    homes = inputs.homes
    children = inputs.children.reset_index(drop=True)
    anchors = schema.anchors(inputs, include_home=True)
    child_row = pd.Series(np.arange(len(children)) + FIRST_DATA_ROW, index=children["child_id"])
    contact_row = pd.Series(np.arange(len(inputs.contacts)) + FIRST_DATA_ROW,
                            index=inputs.contacts["anchor_id"].to_numpy())
    problems = []
    snapped: dict[str, traveltime.Snapped] = {}
    groups = {
        "homes": (homes["home_id"], homes["lon"], homes["lat"], "homes",
                  np.arange(len(homes)) + FIRST_DATA_ROW, "lon/lat"),
    }
    for kind, source, column in (("home", "children", "lon/lat"),
                                 ("school", "children", "school_lon/school_lat"),
                                 ("contact", "contacts", "lon/lat")):
        part = anchors[anchors["kind"] == kind] if kind != "contact" else \
            anchors[~anchors["kind"].isin(["home", "school"])]
        rows = (child_row.reindex(part["child_id"]).to_numpy() if source == "children"
                else contact_row.reindex(part["anchor_id"]).to_numpy())
        groups[kind] = (part["anchor_id"], part["lon"], part["lat"], source, rows, column)
    for name, (ids, lon, lat, source, rows, column) in groups.items():
        try:
            snapped[name] = traveltime.snap(net, ids, lon, lat, settings.travel, source=source)
        except InputError as exc:
            for problem in exc.problems:
                row = rows[data_position(problem.row)] if problem.row is not None else None
                problems.append(dataclasses.replace(problem, row=int(row) if row else None,
                                                    column=column))
    if problems:
        raise InputError(ngettext(
            "some places cannot be reached from the road network ({n} problem)",
            "some places cannot be reached from the road network ({n} problems)",
            len(problems)).format(n=len(problems)), problems)
    destinations = _concat(snapped["school"], snapped["contact"])
    return traveltime.matrix(net, snapped["homes"], destinations, settings.travel,
                             progress=progress)


def _concat(*parts: traveltime.Snapped) -> traveltime.Snapped:
    return traveltime.Snapped(
        ids=np.concatenate([p.ids for p in parts]),
        node=np.concatenate([p.node for p in parts]),
        access_minutes=np.concatenate([p.access_minutes for p in parts]),
        distance_m=np.concatenate([p.distance_m for p in parts]),
    )


def run(inputs: Inputs, settings: Settings, *, times: TimeTable | None = None,
        net: network_mod.Network | None = None, as_of: datetime.date | None = None,
        step: Step | None = None, progress: Callable[[int, int], None] | None = None,
        extra_sources: dict[str, str] | None = None,
        decisions: decisions_mod.Decisions | None = None,
        previous: pd.DataFrame | None = None,
        previous_as_of: datetime.date | None = None) -> RunResult:
    """Run one matching: travel times, scores, two-stage assignment, diagnosis.

    Parameters
    ----------
    inputs
        Validated inputs (:func:`matcher.io.readers.read_inputs`).
    settings
        All settings.
    times
        Precomputed travel times (origins ``home_id``, destinations anchor ids).
    net
        Road network, used when ``times`` is not given.
    as_of
        Run date for waiting times (default: today). Recorded in the summary.
    step
        Called with a short message before each step.
    progress
        ``(done, total)`` callback for the travel-time searches.
    extra_sources
        More input fingerprints for the summary (e.g. the network key).
    decisions
        Decisions on earlier proposals (:mod:`matcher.decisions`): approved
        pairs are locked, recent declines are not proposed, open reservations
        are held unless they broke (the reason is in ``change_reason``).
    previous
        The previous run's assignments (``child_id``, ``home_id``): the model
        adds the stability stage (fewest changed proposals with the score
        within ``continuity.stability_tolerance``); ``previous_home_id`` and
        ``change_reason`` say what changed and why; the summary gains
        ``kept``, ``changed``, ``new`` and ``stability_tolerance``.
    previous_as_of
        Run date of the previous run: the summary and report list the
        decisions taken since (all decisions in the log without it).

    Raises
    ------
    InputError
        If neither ``times`` nor ``net`` is given, the inputs are invalid, or
        the match is larger than ``assignment.max_pairs`` (:func:`check_scale`,
        before any travel time or score is computed).
    InfeasibleError
        If the solver cannot solve the model.
    """
    with i18n.language(settings.report.language):
        return _run(inputs, settings, times=times, net=net, as_of=as_of, step=step,
                    progress=progress, extra_sources=extra_sources, decisions=decisions,
                    previous=previous, previous_as_of=previous_as_of)


def _run(inputs: Inputs, settings: Settings, *, times: TimeTable | None,
         net: network_mod.Network | None, as_of: datetime.date | None, step: Step | None,
         progress: Callable[[int, int], None] | None, extra_sources: dict[str, str] | None,
         decisions: decisions_mod.Decisions | None, previous: pd.DataFrame | None,
         previous_as_of: datetime.date | None) -> RunResult:
    check_scale(inputs, settings)
    say = step or (lambda _m: None)
    as_of = as_of or datetime.date.today()
    timings: dict[str, float] = {}
    plan = None
    given = inputs
    if decisions is not None:
        plan = decisions_mod.apply(decisions, inputs, as_of=as_of, settings=settings)
        inputs = plan.inputs
    if times is None:
        if net is None:
            raise InputError(_("give a road network (net) or a travel-time table (times)"))
        say(_("travel times"))
        t0 = time.perf_counter()
        times = travel_times(inputs, net, settings, progress=progress)
        timings["travel_times"] = time.perf_counter() - t0

    say(_("scoring pairs"))
    t0 = time.perf_counter()
    scored = scoring.score_pairs(inputs, times, settings.scoring,
                                 trainable_needs=settings.assignment.trainable_needs,
                                 kinship_training=settings.assignment.kinship_training,
                                 continuity=settings.continuity, as_of=as_of)
    timings["scoring"] = time.perf_counter() - t0

    say(_("building and solving the assignment"))
    t0 = time.perf_counter()
    pairs = scored.pairs[scored.pairs["feasible"].to_numpy() | scored.pairs["locked"].to_numpy()]
    held = _held(plan, times, settings, pairs)
    locked = inputs.placements if held is None else pd.concat(
        [inputs.placements, held.kept], ignore_index=True)
    proposals = None if previous is None else continuity.previous_proposals(previous)
    problem = assignment.AssignmentProblem.build(
        children=inputs.children, homes=inputs.homes, pairs=pairs, locked=locked,
        settings=settings.assignment, as_of=as_of, previous=proposals,
        continuity=settings.continuity,
    )
    result = assignment.solve(problem, settings.assignment, progress=say,
                              stability_tolerance=settings.continuity.stability_tolerance)
    timings["assignment"] = time.perf_counter() - t0

    say(_("diagnosis and shortlist"))
    reasons = assignment.diagnose(problem, result)
    funnel_reason = scored.funnel.set_index("child_id")["reason"]
    table = _assignments(inputs, scored, result, reasons, funnel_reason)
    cooperation = _kept(inputs, table, settings)
    if plan is not None and held is not None:
        table = _with_decisions(table, inputs, plan, held)
    compared = None
    if proposals is not None:
        compared = continuity.compare(
            table, proposals, inputs, feasible=pairs[pairs["feasible"]], times=times,
            settings=settings, declined=None if plan is None else plan.declined)
        table = _with_previous(table, compared)
    shortlist = scoring.shortlist(scored, settings.assignment.shortlist_k)
    sources = dict(inputs.sources)
    sources.update(extra_sources or {})
    if decisions is not None:
        sources["decisions"] = decisions.sha256
    fields = _summary(inputs, table, result, settings, as_of, timings, sources)
    fields.update(_wishes(inputs, table, scored, settings, as_of, cooperation))
    if plan is not None and held is not None:
        assert decisions is not None
        fields["decisions"] = {**_decision_counts(plan, held, settings),
                               "since_previous_run": _since(decisions, previous_as_of)}
    fields["overrides_since_previous_run"] = decisions_mod.overrides_since(given, previous_as_of)
    if compared is not None:
        fields.update(compared.counts())
        fields["stability_tolerance"] = settings.continuity.stability_tolerance
    history = waiting.history(inputs, table, scored.funnel, as_of)
    fields["waiting"] = waiting.summary_block(history)
    summary = RunSummary.model_validate(fields)
    logger.info(_("run: {children} children, {placed} placed, {unmatched} unmatched").format(
        children=len(table), placed=summary.placed, unmatched=summary.unmatched))
    return RunResult(inputs=given, times=times, scored=scored, result=result,
                     assignments=table, shortlist=shortlist, summary=summary, network=net,
                     plan=plan, history=history)


def _held(plan: decisions_mod.Plan | None, times: TimeTable, settings: Settings,
          pairs: pd.DataFrame) -> decisions_mod.Reservations | None:
    """Reservations to hold: kept by the rules and feasible as scored."""
    if plan is None:
        return None
    held = decisions_mod.reservations(plan, times, settings)
    feasible = set(zip(pairs.loc[pairs["feasible"], "child_id"],
                       pairs.loc[pairs["feasible"], "home_id"], strict=True))
    ok = np.array([p in feasible for p in zip(held.kept["child_id"], held.kept["home_id"],
                                               strict=True)], dtype=bool)
    broken = dict(held.broken)
    for child, home in held.kept.loc[~ok].itertuples(index=False):
        broken[child] = _("reservation for {child} broken: {home} is no longer a feasible "
                          "home").format(child=child, home=home)
    return decisions_mod.Reservations(kept=held.kept[ok].reset_index(drop=True),
                                      broken=dict(sorted(broken.items())))


def _with_decisions(table: pd.DataFrame, inputs: Inputs, plan: decisions_mod.Plan,
                    held: decisions_mod.Reservations) -> pd.DataFrame:
    """Mark decisions in the table; reservations are proposals, not locked placements."""
    out = table.copy()
    real = set(zip(inputs.placements["child_id"], inputs.placements["home_id"], strict=True))
    pairs = list(zip(out["child_id"], out["home_id"], strict=True))
    out["locked"] = np.array([p in real for p in pairs], dtype=bool)
    accepted = set(zip(plan.accepted["child_id"], plan.accepted["home_id"], strict=True))
    kept = set(zip(held.kept["child_id"], held.kept["home_id"], strict=True))
    out["decision"] = ["approved" if p in accepted else "considering" if p in kept else ""
                       for p in pairs]
    out["change_reason"] = [held.broken.get(c, "") for c in out["child_id"]]
    return out


def _with_previous(table: pd.DataFrame, compared: continuity.Comparison) -> pd.DataFrame:
    """Fill ``previous_home_id`` and, where empty, ``change_reason``."""
    out = table.copy()
    ids = out["child_id"]
    out["previous_home_id"] = compared.previous_home.reindex(ids).to_numpy(dtype=object)
    why = compared.reason.reindex(ids).fillna("").to_numpy(dtype=object)
    current = out["change_reason"].to_numpy(dtype=object)
    out["change_reason"] = np.where(current == "", why, current)
    return out


def _since(decisions: decisions_mod.Decisions,
           previous_as_of: datetime.date | None) -> list[dict[str, str]]:
    """Decisions dated after the previous run (audit): who decided what, when."""
    t = decisions.table
    if previous_as_of is not None:
        t = t[[d > previous_as_of for d in t["decided_on"]]]
    t = t.assign(_day=pd.to_datetime(t["decided_on"])).sort_values(
        ["_day", "child_id", "home_id", "row"], kind="stable")
    return [{"child_id": r.child_id, "home_id": r.home_id, "decision": r.decision,
             "decided_on": r.decided_on.isoformat(), "by": r.by, "reason": r.reason,
             "actor": r.actor}
            for r in t.itertuples(index=False)]


def _decision_counts(plan: decisions_mod.Plan, held: decisions_mod.Reservations,
                     settings: Settings) -> dict[str, Any]:
    return {"accepted_locked": len(plan.accepted), "declined_in_force": len(plan.declined),
            "considering": len(plan.considering), "reservations_kept": len(held.kept),
            "reservations_broken": len(held.broken), "ignored_rows": plan.ignored,
            "legacy_rows": plan.legacy,
            "decline_days": settings.continuity.decline_days}


def _assignments(inputs: Inputs, scored: scoring.Scored, result: assignment.AssignmentResult,
                 reasons: dict[str, str], funnel_reason: pd.Series) -> pd.DataFrame:
    children = inputs.children.set_index("child_id")
    homes = inputs.homes.set_index("home_id")
    a = result.assignments.copy()
    pairs = scored.pairs.set_index(["child_id", "home_id"])
    placed = a["home_id"].notna().to_numpy()
    keys = list(zip(a["child_id"], a["home_id"], strict=True))
    found = pairs.index.get_indexer([k for k, p in zip(keys, placed, strict=True) if p])
    pair_rows = pairs.iloc[np.where(found >= 0, found, 0)]

    def from_pairs(column: str, fill: object) -> np.ndarray:
        out = np.full(len(a), fill, dtype=object)
        values = pair_rows[column].to_numpy(dtype=object)
        out[np.flatnonzero(placed)] = np.where(found >= 0, values, np.array(fill, dtype=object))
        return out

    out = pd.DataFrame({"child_id": a["child_id"].to_numpy(dtype=object)})
    out["home_id"] = a["home_id"].to_numpy(dtype=object)
    out["score"] = pd.to_numeric(from_pairs("score", np.nan))
    for col in ("school_minutes", "network_minutes", "parent_minutes"):
        out[col] = pd.to_numeric(from_pairs(col, np.nan))
    out["municipality"] = children.loc[out["child_id"], "municipality"].to_numpy(dtype=object)
    home_muni = np.full(len(a), None, dtype=object)
    home_muni[placed] = homes.loc[a.loc[placed, "home_id"], "municipality"].to_numpy(dtype=object)
    out["home_municipality"] = home_muni
    group_munis = _group_municipalities(inputs.children)
    out["municipality_match"] = [bool(p) and h in group_munis[c] for p, h, c in
                                 zip(placed, home_muni, out["child_id"], strict=True)]
    out["kinship"] = from_pairs("kinship", 0.0).astype(float) >= 1.0
    out["training_needs"] = from_pairs("training_needs", "")
    out["locked"] = a["locked"].to_numpy(dtype=bool)
    out["split"] = a["split"].to_numpy(dtype=bool)
    out["urgency"] = children.loc[out["child_id"], "urgency"].to_numpy(dtype=object)
    reason = np.full(len(a), "", dtype=object)
    for i in np.flatnonzero(~placed):
        cid = out.at[i, "child_id"]
        reason[i] = reasons.get(cid) or funnel_reason.get(cid, "") or _("not placed")
    out["reason"] = reason
    out["decision"] = ""
    out["previous_home_id"] = pd.Series([None] * len(out), dtype=object)
    out["change_reason"] = ""
    return out[list(ASSIGNMENT_COLUMNS)].sort_values("child_id", kind="stable").reset_index(
        drop=True)


def _summary(inputs: Inputs, table: pd.DataFrame, result: assignment.AssignmentResult,
             settings: Settings, as_of: datetime.date, timings: dict[str, float],
             sources: dict[str, str]) -> dict[str, Any]:
    placed = table["home_id"].notna()
    by_urgency = {
        u: {"children": int((table["urgency"] == u).sum()),
            "placed": int(((table["urgency"] == u) & placed).sum())}
        for u in ("acute", "planned")
    }
    school = table.loc[placed, "school_minutes"].to_numpy(dtype=float)
    school = school[np.isfinite(school)]
    n_placed = int(placed.sum())
    return {
        "schema_version": run_mod.SCHEMA_VERSION,
        "software": f"fostermatch {__version__}",
        "language": i18n.current(),
        "as_of": as_of.isoformat(),
        "status": result.status,
        "solver": result.solver,
        "sibling_policy": result.sibling_policy,
        "mip_gap": _finite(result.mip_gap),
        "objective_stage1": _finite(result.objective_stage1),
        "objective_stage2": _finite(result.objective_stage2),
        "children": len(table),
        "homes": len(inputs.homes),
        "placed": n_placed,
        "unmatched": int((~placed).sum()),
        "locked": int(table["locked"].sum()),
        "split_children": int(table["split"].sum()),
        "by_urgency": by_urgency,
        "kept_in_home_municipality": int(table["municipality_match"].sum()),
        "share_kept_in_home_municipality": (
            round(float(table["municipality_match"].sum()) / n_placed, 4) if n_placed else None),
        "kinship_placements": int(table["kinship"].sum()),
        "median_school_minutes": round(float(np.median(school)), 2) if len(school) else None,
        "children_with_training_needs": int((table["training_needs"] != "").sum()),
        "timings_seconds": {**{k: round(v, 3) for k, v in timings.items()},
                            **{f"solver_{k}": round(float(v), 3)
                               for k, v in result.timings.items()}},
        "inputs_sha256": dict(sorted(sources.items())),
        "config_hash": settings.fingerprint(),
    }


def _group_municipalities(children: pd.DataFrame) -> dict[str, set[str]]:
    """Child id -> the municipalities that count as its own.

    A child's own municipality; for a sibling, the municipality of any member
    of its sibling group (a home there keeps the group in "its own" municipality).
    """
    by_group = children.dropna(subset=["sibling_group"]).groupby("sibling_group")[
        "municipality"].agg(set).to_dict()
    return {c: ({m} | (by_group.get(g, set()) if isinstance(g, str) else set()))
            for c, m, g in zip(children["child_id"], children["municipality"],
                               children["sibling_group"], strict=True)}


def _kept(inputs: Inputs, table: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Per row of ``table``: placed in its own municipality or one of its pool.

    Siblings count their group's municipalities (see :func:`_group_municipalities`).
    """
    pools = settings.scoring
    own = _group_municipalities(inputs.children)
    out = np.zeros(len(table), dtype=bool)
    for i, (c, h, match) in enumerate(zip(table["child_id"], table["home_municipality"],
                                          table["municipality_match"], strict=True)):
        if h is None or pd.isna(h):
            continue
        home_pool = pools.pool_of(h)
        out[i] = bool(match) or (home_pool is not None
                                 and any(pools.pool_of(m) == home_pool for m in own[c]))
    return out


def not_heard(children: pd.DataFrame, *, as_of: datetime.date, hear_from_age: int,
              heard_max_age_days: int) -> list[str]:
    """Ids of children old enough to be heard who were not heard recently enough.

    Parameters
    ----------
    children
        Validated children (``age`` in years, ``heard_on`` dates).
    as_of
        Run date.
    hear_from_age
        Children of this age (years) or older must have been heard.
    heard_max_age_days
        A hearing more than this many days before ``as_of`` is too old.

    Returns
    -------
    list of str
        Sorted child ids; a flag for caseworkers, never a block.
    """
    if "heard_on" not in children.columns:
        heard = pd.Series(pd.NaT, index=children.index)
    else:
        heard = pd.to_datetime(children["heard_on"])
    days = (pd.Timestamp(as_of) - heard).dt.days
    old_enough = children["age"].to_numpy() >= hear_from_age
    stale = (heard.isna() | (days > heard_max_age_days)).to_numpy()
    return sorted(children.loc[old_enough & stale, "child_id"].astype(str))


def _wishes(inputs: Inputs, table: pd.DataFrame, scored: scoring.Scored, settings: Settings,
            as_of: datetime.date, cooperation: np.ndarray) -> dict[str, Any]:
    """Summary entries of issue 13: cooperation, unheard children, binding rules."""
    placed = table["home_id"].notna().to_numpy()
    n_placed = int(placed.sum())
    kept = int(cooperation[placed].sum())
    unheard = not_heard(inputs.children, as_of=as_of,
                        hear_from_age=settings.report.hear_from_age,
                        heard_max_age_days=settings.report.heard_max_age_days)
    if unheard:
        logger.info(ngettext(
            "{n} child aged {age} or more not heard within {days} days",
            "{n} children aged {age} or more not heard within {days} days", len(unheard)).format(
            n=len(unheard), age=settings.report.hear_from_age,
            days=settings.report.heard_max_age_days))
    funnel = scored.funnel.set_index("child_id")
    unmatched = table.loc[~placed, "child_id"]
    binding = funnel.reindex(unmatched)["binding"].fillna("").astype(str)
    counts = {f: int(sum(f in b.split(";") for b in binding)) for f in scoring.FILTERS}
    return {
        "pools": {k: list(v) for k, v in settings.scoring.pools.items()},
        "kept_within_cooperation": kept,
        "share_kept_within_cooperation": round(kept / n_placed, 4) if n_placed else None,
        "children_not_heard": unheard,
        "hear_from_age": settings.report.hear_from_age,
        "heard_max_age_days": settings.report.heard_max_age_days,
        "unmatched_by_binding_rule": {k: v for k, v in counts.items() if v},
    }


def _finite(value: float) -> float | None:
    return round(float(value), 9) if np.isfinite(value) else None


# --------------------------------------------------------------------------- run folder


def school_isochrones(result: RunResult, settings: Settings) -> gpd.GeoDataFrame | None:
    """Reachable-area bands towards the school of every placed child, for the maps.

    Returns ``None`` when the run has no road network (travel times came
    from a table). Polygons are in the working CRS (``settings.crs``).
    """
    if result.network is None:
        logger.info(_("school isochrones skipped: the run has no road network (travel times "
                      "came from a table)"))
        return None
    placed = result.assignments.loc[result.assignments["home_id"].notna(), "child_id"]
    children = result.inputs.children.set_index("child_id").loc[placed]
    return isochrones.school_isochrones(result.network, children, settings.travel,
                                        bands_minutes=settings.scoring.bands_minutes,
                                        crs=settings.crs)


def write_run(run_result: RunResult, out: str | Path, *, report: bool = False,
              privacy: Privacy | None = None, municipalities: gpd.GeoDataFrame | None = None,
              settings: Settings | None = None, synthetic: bool | None = None,
              periods: pd.DataFrame | None = None, step: Step | None = None) -> Path:
    """Write the run folder atomically (owner-only files; all or nothing).

    Files: ``assignments.csv``, ``pairs.csv``, ``shortlist.csv``,
    ``summary.json``, ``history.csv`` (:mod:`matcher.waiting`) and, with
    ``report``, ``matches.gpkg``, ``map.html``, ``map.png`` and ``report.md``
    (:func:`matcher.report.write_outputs`).

    Parameters
    ----------
    run_result
        The run (:func:`run`).
    out
        The run folder. An existing one is replaced only after the new one is
        complete, and only if it holds a previous run (:data:`files.RUN_MARKER`,
        written into every run folder) or is empty.
    report
        Also write the maps and the report.
    privacy
        Child positions in ``matches.gpkg``: ``"coarse"`` (250 m grid-cell
        centres) or ``"exact"`` (for analysts); default
        ``settings.report.privacy`` (coarse). The maps, ``report.md``, the
        briefs and the workbook never hold an exact child position.
    municipalities
        Municipality polygons (any CRS) for the maps.
    settings
        All settings (default: the defaults).
    synthetic
        Mark the maps as synthetic data (``None`` detects it).
    periods
        Validated placement periods (:func:`matcher.periods.validate`): the
        folder gains ``stability.csv`` and ``report.md`` a section "Stability
        of placements" (:mod:`matcher.stability`, followed to the run date).
    step
        Called with the name of each part as it starts (the tables; the maps,
        report, briefs and workbook), for a progress line.

    Returns
    -------
    pathlib.Path
        The run folder.

    Raises
    ------
    InputError
        If ``out`` is a file or a non-empty folder that holds no previous run.
    """
    settings = settings or Settings()
    privacy = privacy or settings.report.privacy
    if report:
        report_mod.check_privacy(privacy)
    out = Path(out)
    with i18n.language(settings.report.language), \
            files.atomic_folder(out, marker=files.RUN_MARKER,
                                lock_wait_seconds=settings.output.lock_wait_seconds) as tmp:
        say = step or (lambda _message: None)
        say(_("tables"))
        files.write_csv(run_result.assignments, tmp / "assignments.csv")
        pairs = run_result.scored.pairs.drop(columns=["feasible"], errors="ignore")
        files.write_csv(pairs, tmp / "pairs.csv")
        files.write_csv(run_result.shortlist, tmp / "shortlist.csv")
        if run_result.history is not None:
            files.write_csv(run_result.history, tmp / "history.csv")
        files.write_text(tmp / "summary.json", run_result.summary.to_json())
        if report:
            say(_("maps, report, briefs and workbook"))
            report_mod.write_outputs(run_result, tmp, privacy=privacy,
                                     municipalities=municipalities, settings=settings,
                                     isochrones=school_isochrones(run_result, settings),
                                     synthetic=synthetic)
        if periods is not None:
            from matcher import stability

            result = stability.stability(periods, as_of=run_result.summary.as_of)
            files.write_csv(result.table, tmp / "stability.csv")
            if report and (tmp / "report.md").is_file():
                text = (tmp / "report.md").read_text(encoding="utf-8").rstrip("\n")
                files.write_text(tmp / "report.md", text + "\n\n"
                                 + stability.markdown(result, heading="##"))
    return out
