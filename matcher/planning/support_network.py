"""A support network for every foster home, planned by travel time (issue 25).

Who is placed
    A *placement* is a child with a home: an open placement period
    (``placement_periods`` without ``end``), else the child's
    ``current_home_id``, else (for planning before move-in) the proposal of a
    run (``assignments``). One row per child, in that order of precedence.

What each placement gets (:mod:`matcher.planning.followup` solves each part exactly)
    * a supervisor (*tilsynsperson*) of the child's municipality of care or
      its pool (``[scoring.pools]``) with free visits, within
      ``support.supervisor_max_minutes`` of the foster home;
    * a relief home (*besøkshjem*, *avlastning*) when ``relief_weekends`` > 0,
      within ``support.relief_max_minutes`` of the foster home and of the
      child's school; kin (a relief home with ``kin_of`` the child or its
      sibling group) first;
    * the courses the home should be offered after move-in (the child's needs
      the home does not meet, through ``[scoring] need_competences`` and
      ``courses``, as ``training_needs`` in matching), grouped into runs of at
      most ``support.course_max_class`` families at venues;
    * a resource family (:func:`matcher.planning.support.assign_resource_families`).

The plan per home (:attr:`SupportNetwork.plan`) has one row per home with a
placement; a home has a *full* support network when every child in it has a
supervisor, every child that needs relief has a relief home, every course has
a run and (when resource families are given) the home has a resource family.
Travel times are one way, in minutes, on the road network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matcher import i18n, rules, tables
from matcher.config import Settings
from matcher.errors import raise_if_problems
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.planning import followup
from matcher.planning.support import (
    SupportAssignment,
    assign_resource_families,
    cooperation_of,
    validate_families,
)

__all__ = ["MinutesFn", "SupportNetwork", "placements_of", "read_support_table",
           "support_network"]

logger = logging.getLogger(__name__)

MinutesFn = Callable[[pd.DataFrame, str, pd.DataFrame, str], np.ndarray]
"""``(origins, origin_id, destinations, destination_id) -> (n_o, n_d)`` minutes (EPSG:4326
points with ``lon, lat``; ``inf`` for unreachable)."""

SOURCES: tuple[str, ...] = ("period", "current_home", "proposed")
"""Where a placement comes from, in order of precedence."""


def read_support_table(name: str, frame: pd.DataFrame, *, label: str | None = None
                       ) -> pd.DataFrame:
    """Read ``supervisors``, ``relief_homes`` or ``venues`` by its spec, raising every problem.

    Raises
    ------
    InputError
        Naming file, row and column of every bad cell.
    """
    label = label or name
    t = tables.read(name, frame, label=label)
    raise_if_problems(_("{source}: invalid table").format(source=label), t.problems)
    return t.frame()


def placements_of(children: pd.DataFrame, *, periods: pd.DataFrame | None = None,
                  proposals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One placement per child: ``child_id, home_id, source`` (see :data:`SOURCES`), by child id.

    Parameters
    ----------
    children
        Validated children (``current_home_id`` optional).
    periods
        Validated placement periods; open periods (empty ``end``) count. A
        child with two open periods keeps the latest start.
    proposals
        A run's ``assignments`` (``child_id, home_id``; empty ``home_id``: none).
    """
    parts = []
    if periods is not None and len(periods):
        open_ = periods[periods["end"].isna()].sort_values(["child_id", "start"], kind="stable")
        open_ = open_.drop_duplicates("child_id", keep="last")
        parts.append(open_[["child_id", "home_id"]].assign(source="period"))
    if "current_home_id" in children.columns:
        lives = children[children["current_home_id"].fillna("").astype(str) != ""]
        parts.append(lives[["child_id", "current_home_id"]].rename(
            columns={"current_home_id": "home_id"}).assign(source="current_home"))
    if proposals is not None and len(proposals):
        given = proposals[proposals["home_id"].fillna("").astype(str) != ""]
        parts.append(given[["child_id", "home_id"]].assign(source="proposed"))
    if not parts:
        return pd.DataFrame({"child_id": pd.Series([], dtype=object),
                             "home_id": pd.Series([], dtype=object),
                             "source": pd.Series([], dtype=object)})
    out = pd.concat(parts, ignore_index=True).astype({"child_id": str, "home_id": str})
    out = out.drop_duplicates("child_id", keep="first")
    return out.sort_values("child_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class SupportNetwork:
    """The support network of every placement and home.

    Attributes
    ----------
    placements
        One row per placement: ``child_id, home_id, source, municipality``
        (of care), ``pool``, ``supervisor_id, supervisor_minutes,
        supervisor_hours_year, supervisor_reason``, ``relief_weekends,
        relief_id, relief_minutes, relief_kin, relief_reason``,
        ``school_minutes`` (home -> school).
    supervisors
        Per supervisor: ``supervisor_id, pool, visits_per_year, visits, children,
        hours_year`` (travel there and back).
    relief
        Per relief home: ``relief_id, weekends_per_month, weekends, placements, kin_of``.
    courses
        One row per home and course: ``home_id, course, venue_id, run_id,
        minutes, reason``.
    runs
        ``run_id, course, venue_id, families``.
    families
        The resource-family assignment, or ``None`` without families.
    plan
        One row per home with a placement (see :func:`support_network`).
    status
        Solver status per model.
    seconds
        Wall-clock seconds per part (travel times included).
    """

    placements: pd.DataFrame
    supervisors: pd.DataFrame
    relief: pd.DataFrame
    courses: pd.DataFrame
    runs: pd.DataFrame
    families: SupportAssignment | None
    plan: pd.DataFrame
    status: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)

    def links(self) -> pd.DataFrame:
        """Home -> supporter pairs for the map: ``home_id, role, target_id, minutes``
        (roles ``supervisor``, ``relief``, ``course``, ``resource_family``), one per pair."""
        p = self.placements
        parts = [p[["home_id", "supervisor_id", "supervisor_minutes"]].set_axis(
                     ["home_id", "target_id", "minutes"], axis=1).assign(role="supervisor"),
                 p[["home_id", "relief_id", "relief_minutes"]].set_axis(
                     ["home_id", "target_id", "minutes"], axis=1).assign(role="relief"),
                 self.courses[["home_id", "venue_id", "minutes"]].set_axis(
                     ["home_id", "target_id", "minutes"], axis=1).assign(role="course")]
        if self.families is not None:
            parts.append(self.families.assignments[["home_id", "resource_id", "minutes"]]
                         .set_axis(["home_id", "target_id", "minutes"], axis=1)
                         .assign(role="resource_family"))
        out = pd.concat(parts, ignore_index=True).dropna(subset=["target_id"])
        out = out.drop_duplicates(["home_id", "role", "target_id"])
        return out[["home_id", "role", "target_id", "minutes"]].sort_values(
            ["home_id", "role", "target_id"], kind="stable").reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        p = self.placements
        needs = p["relief_weekends"] > 0
        return {
            "placements": len(p), "homes": len(self.plan),
            "homes_full": int(self.plan["full_network"].sum()),
            "with_supervisor": int(p["supervisor_id"].notna().sum()),
            "supervisor_hours_year": round(float(self.supervisors["hours_year"].sum()), 1),
            "need_relief": int(needs.sum()),
            "with_relief": int((needs & p["relief_id"].notna()).sum()),
            "relief_by_kin": int(p["relief_kin"].sum()),
            "course_requests": len(self.courses),
            "course_requests_served": int(self.courses["venue_id"].notna().sum()),
            "course_runs": len(self.runs),
            "with_resource_family": (None if self.families is None
                                     else int(self.plan["resource_id"].notna().sum())),
            "status": dict(self.status)}


def _pool_of(settings: Settings) -> dict[str, str]:
    return {m: name for name, codes in settings.scoring.pools.items() for m in codes}


def _home_courses(needs: Sequence[str], competences: Sequence[str],
                  settings: Settings) -> tuple[str, ...]:
    """Courses a home should be offered for a child: needs it does not meet, met by a course."""
    have = set(competences)
    unmet = [n for n in needs if not have & set(rules.accepted_competences(n, settings.scoring))]
    return rules.courses_for(unmet, settings.scoring)


def _minutes_text(value: float) -> str:
    return i18n.format_minutes(value) if np.isfinite(value) else "–"


def support_network(placements: pd.DataFrame, homes: pd.DataFrame, children: pd.DataFrame,
                    *, supervisors: pd.DataFrame, relief_homes: pd.DataFrame,
                    venues: pd.DataFrame, minutes: MinutesFn,
                    families: pd.DataFrame | None = None,
                    cooperations: Mapping[str, str] | None = None,
                    settings: Settings | None = None) -> SupportNetwork:
    """Plan supervisors, relief, courses and resource families for every placement.

    Parameters
    ----------
    placements
        :func:`placements_of`.
    homes, children
        Validated homes and children (:func:`matcher.schema.validate`); a
        placement whose child is not in ``children`` is planned with the home's
        municipality, no school and no needs.
    supervisors, relief_homes, venues
        Tables of those specs (validated here).
    minutes
        Travel times, see :data:`MinutesFn`.
    families, cooperations
        Optional resource families and municipality cooperations
        (:func:`matcher.planning.support.support_plan`).
    settings
        ``[support]``, ``[scoring]`` (pools, courses) and the solver of ``[assignment]``.

    Returns
    -------
    SupportNetwork
    """
    settings = settings or Settings()
    cfg = settings.support
    solver, limit_s = settings.assignment.solver, settings.assignment.time_limit_seconds
    sup = read_support_table("supervisors", supervisors)
    rel = read_support_table("relief_homes", relief_homes)
    ven = read_support_table("venues", venues)
    sup = sup.sort_values("supervisor_id", kind="stable").reset_index(drop=True)
    rel = rel.sort_values("relief_id", kind="stable").reset_index(drop=True)
    ven = ven.sort_values("venue_id", kind="stable").reset_index(drop=True)

    home = homes.set_index("home_id")
    child = children.set_index("child_id")
    p = placements[placements["home_id"].isin(home.index)].reset_index(drop=True)
    if len(p) < len(placements):
        logger.warning(_("support: {n} placements name a home that is not in the homes table; "
                         "left out").format(n=len(placements) - len(p)))
    known = p["child_id"].isin(child.index).to_numpy()

    def col(name: str, default: Any) -> np.ndarray:
        out = np.empty(len(p), dtype=object)  # element by element: cells may be tuples
        values = (child[name].reindex(p["child_id"]).to_numpy(dtype=object)
                  if name in child.columns else np.full(len(p), None, dtype=object))
        for i, (v, k) in enumerate(zip(values, known, strict=True)):
            out[i] = v if k and not _empty(v) else default
        return out

    home_muni = home["municipality"].reindex(p["home_id"]).to_numpy(dtype=object)
    muni = np.where(known, col("municipality", ""), home_muni).astype(object)
    pool_map = _pool_of(settings)
    pool = np.array([pool_map.get(m, m) for m in muni], dtype=object)
    homes_p = pd.DataFrame({"home_id": p["home_id"].to_numpy(dtype=object),
                            "lon": home["lon"].reindex(p["home_id"]).to_numpy(dtype=float),
                            "lat": home["lat"].reindex(p["home_id"]).to_numpy(dtype=float)})
    homes_p["id"] = [f"{c}@{h}" for c, h in zip(p["child_id"], p["home_id"], strict=True)]

    # ---- supervisors
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    visits = np.full(len(p), cfg.visits_per_child, dtype=np.int64)
    cap = np.array([round(float(v)) if not _empty(v) else cfg.supervisor_visits
                    for v in sup.get("visits_per_year", pd.Series([None] * len(sup)))],
                   dtype=np.int64)
    sup_pool = np.array([pool_map.get(m, m) for m in sup["municipality"]], dtype=object)
    t_sup = (minutes(homes_p, "id", sup, "supervisor_id") if len(p) and len(sup)
             else np.zeros((len(p), len(sup))))
    same_pool = pool[:, None] == sup_pool[None, :]
    ok_sup = same_pool & (t_sup <= cfg.supervisor_max_minutes)
    got_sup = followup.assign_supervisors(t_sup, visits, cap, allowed=ok_sup, solver=solver,
                                          time_limit_seconds=limit_s)
    s_of = got_sup.server
    sup_min = np.where(s_of >= 0, t_sup[np.arange(len(p)), np.maximum(s_of, 0)]
                       if len(sup) else np.nan, np.nan)
    sup_reason = []
    for c in range(len(p)):
        if s_of[c] >= 0:
            sup_reason.append("")
        elif not same_pool[c].any():
            sup_reason.append(_("no supervisor in {pool}").format(pool=pool[c]))
        elif not ok_sup[c].any():
            sup_reason.append(_("no supervisor of {pool} within {minutes}").format(
                pool=pool[c], minutes=i18n.format_minutes(cfg.supervisor_max_minutes)))
        else:
            sup_reason.append(_("the supervisors of {pool} within reach have no free visits")
                              .format(pool=pool[c]))

    seconds["supervisors"] = time.perf_counter() - clock
    # ---- relief
    clock = time.perf_counter()
    weekends = np.array([int(v) if not _empty(v) else 0 for v in col("relief_weekends", 0)],
                        dtype=np.int64)
    rcap = np.array([round(float(v)) if not _empty(v) else cfg.relief_weekends
                     for v in rel.get("weekends_per_month", pd.Series([None] * len(rel)))],
                    dtype=np.int64)
    need = weekends > 0
    t_rel = np.full((len(p), len(rel)), np.inf)
    t_school = np.full((len(p), len(rel)), np.nan)
    school_lon = col("school_lon", np.nan).astype(float)
    school_lat = col("school_lat", np.nan).astype(float)
    has_school = np.isfinite(school_lon) & np.isfinite(school_lat)
    if need.any() and len(rel):
        rows = np.flatnonzero(need)
        t_rel[rows] = minutes(homes_p.iloc[rows].reset_index(drop=True), "id", rel, "relief_id")
        srows = rows[has_school[rows]]
        if len(srows):
            schools = pd.DataFrame({"id": [f"{p['child_id'][c]}:school" for c in srows],
                                    "lon": school_lon[srows], "lat": school_lat[srows]})
            t_school[srows] = minutes(schools, "id", rel, "relief_id")
    groups = col("sibling_group", "")
    kin_of = rel["kin_of"].fillna("").astype(str).to_numpy(dtype=object) \
        if "kin_of" in rel.columns else np.full(len(rel), "", dtype=object)
    ids = p["child_id"].to_numpy(dtype=object)
    kin = ((kin_of[None, :] != "") & ((kin_of[None, :] == ids[:, None])
                                     | (kin_of[None, :] == groups[:, None])))
    open_to = (kin_of[None, :] == "") | kin
    near_home = t_rel <= cfg.relief_max_minutes
    near_school = ~has_school[:, None] | (np.nan_to_num(t_school, nan=np.inf)
                                          <= cfg.relief_max_minutes)
    ok_rel = open_to & near_home & near_school
    got_rel = followup.assign_relief(t_rel, weekends, rcap, kin=kin, allowed=ok_rel,
                                     solver=solver, time_limit_seconds=limit_s)
    r_of = got_rel.server
    rel_min = np.where(r_of >= 0, t_rel[np.arange(len(p)), np.maximum(r_of, 0)]
                       if len(rel) else np.nan, np.nan)
    rel_reason = []
    for c in range(len(p)):
        if not need[c] or r_of[c] >= 0:
            rel_reason.append("")
        elif not (open_to[c] & near_home[c] & near_school[c]).any():
            rel_reason.append(_("no relief home within {minutes} of the home and the school")
                              .format(minutes=i18n.format_minutes(cfg.relief_max_minutes)))
        else:
            rel_reason.append(_("the relief homes within reach have no free weekends"))

    seconds["relief"] = time.perf_counter() - clock
    # ---- courses
    clock = time.perf_counter()
    comps = home["competences"] if "competences" in home.columns else pd.Series(dtype=object)
    needs = col("needs", ())
    wanted: dict[str, list[str]] = {}
    for c in range(len(p)):
        h = str(p["home_id"][c])
        have = comps.get(h, ()) if len(comps) else ()
        have = have if isinstance(have, tuple | list) else ()
        for course in _home_courses(tuple(needs[c]) if isinstance(needs[c], tuple | list) else (),
                                    have, settings):
            wanted.setdefault(h, [])
            if course not in wanted[h]:
                wanted[h].append(course)
    order = {k: i for i, k in enumerate(settings.scoring.courses)}
    requests = sorted(((h, k) for h, ks in wanted.items() for k in ks),
                      key=lambda hk: (hk[0], order.get(hk[1], len(order)), hk[1]))
    course_names = sorted({k for _h, k in requests}, key=lambda k: (order.get(k, len(order)), k))
    kq = np.array([course_names.index(k) for _h, k in requests], dtype=np.int64)
    req_homes = pd.DataFrame({"id": [f"{h}:{k}" for h, k in requests],
                              "lon": [home.at[h, "lon"] for h, _k in requests],
                              "lat": [home.at[h, "lat"] for h, _k in requests]})
    t_ven = (minutes(req_homes, "id", ven, "venue_id") if len(requests) and len(ven)
             else np.full((len(requests), len(ven)), np.inf))
    max_runs = [float(v) if not _empty(v) else np.inf
                for v in ven.get("max_runs", pd.Series([None] * len(ven)))]
    ok_ven = t_ven <= cfg.course_max_minutes
    got_c = followup.group_courses(t_ven, kq, len(course_names), max_class=cfg.course_max_class,
                                   max_runs=max_runs, allowed=ok_ven, solver=solver,
                                   time_limit_seconds=limit_s)
    course_rows, run_rows = _runs(requests, got_c.venue, t_ven, ok_ven, ven, cfg.course_max_class,
                                  cfg.course_max_minutes)

    seconds["courses"] = time.perf_counter() - clock
    # ---- resource families
    clock = time.perf_counter()
    fam_result: SupportAssignment | None = None
    fam_of: dict[str, tuple[str, float]] = {}
    if families is not None:
        fam = validate_families(families, max_homes=settings.planning.max_homes_per_family,
                                cooperations=cooperations, pools=settings.scoring.pools)
        coop = cooperation_of(fam, cooperations, pools=settings.scoring.pools)
        placed_homes = homes[homes["home_id"].isin(set(p["home_id"]))].sort_values(
            "home_id", kind="stable").reset_index(drop=True)
        t_fam = (minutes(placed_homes, "home_id", fam, "resource_id") if len(placed_homes)
                 else np.zeros((0, len(fam))))
        fam_result = assign_resource_families(
            placed_homes["home_id"].tolist(),
            [coop.get(m, m) for m in placed_homes["municipality"]], fam, t_fam,
            time_limit_seconds=limit_s, solver=solver)
        for r in fam_result.assignments.to_dict("records"):
            fam_of[str(r["home_id"])] = (r["resource_id"], float(r["minutes"]))

    if fam_result is not None:
        seconds["resource_families"] = time.perf_counter() - clock
    # ---- assembly
    sup_ids = sup["supervisor_id"].to_numpy(dtype=object)
    rel_ids = rel["relief_id"].to_numpy(dtype=object)
    table = pd.DataFrame({
        "child_id": p["child_id"].to_numpy(dtype=object),
        "home_id": p["home_id"].to_numpy(dtype=object),
        "source": p["source"].to_numpy(dtype=object), "municipality": muni, "pool": pool,
        "supervisor_id": [sup_ids[s] if s >= 0 else None for s in s_of],
        "supervisor_minutes": sup_min,
        "supervisor_hours_year": np.where(s_of >= 0, 2.0 * visits * np.nan_to_num(sup_min) / 60.0,
                                          np.nan),
        "supervisor_reason": sup_reason,
        "relief_weekends": weekends,
        "relief_id": [rel_ids[r] if r >= 0 else None for r in r_of],
        "relief_minutes": rel_min,
        "relief_kin": [bool(r >= 0 and kin[c, r]) for c, r in enumerate(r_of)],
        "relief_reason": rel_reason})
    load = pd.DataFrame({"supervisor_id": sup_ids, "pool": sup_pool, "visits_per_year": cap})
    served = table.dropna(subset=["supervisor_id"])
    by = served.groupby("supervisor_id")
    load["children"] = load["supervisor_id"].map(by.size()).fillna(0).astype(np.int64)
    load["visits"] = load["children"] * cfg.visits_per_child
    load["hours_year"] = load["supervisor_id"].map(by["supervisor_hours_year"].sum()) \
        .fillna(0.0).round(2)
    rel_load = pd.DataFrame({"relief_id": rel_ids, "weekends_per_month": rcap,
                             "kin_of": kin_of})
    rserved = table.dropna(subset=["relief_id"]).groupby("relief_id")
    rel_load["placements"] = rel_load["relief_id"].map(rserved.size()).fillna(0).astype(np.int64)
    rel_load["weekends"] = rel_load["relief_id"].map(rserved["relief_weekends"].sum()) \
        .fillna(0).astype(np.int64)
    courses = pd.DataFrame(course_rows, columns=["home_id", "course", "venue_id", "run_id",
                                                 "minutes", "reason"])
    runs = pd.DataFrame(run_rows, columns=["run_id", "course", "venue_id", "families"])
    plan = _plan(table, courses, fam_of if families is not None else None, home)
    status = {"supervisors": got_sup.status, "relief": got_rel.status, "courses": got_c.status}
    if fam_result is not None:
        status["resource_families"] = fam_result.status
    logger.info(_("support: {placements} placements in {homes} homes; {full} homes with a full "
                  "support network").format(placements=len(table), homes=len(plan),
                                            full=int(plan["full_network"].sum())))
    return SupportNetwork(placements=table, supervisors=load, relief=rel_load, courses=courses,
                          runs=runs, families=fam_result, plan=plan, status=status,
                          seconds={k: round(v, 3) for k, v in seconds.items()})


def _empty(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value == ""


def _runs(requests: Sequence[tuple[str, str]], venue: np.ndarray, t: np.ndarray,
          ok: np.ndarray, venues: pd.DataFrame, size: int, limit: float
          ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Course rows per request and the runs: the families of a course at a venue, split into
    runs of at most ``size`` by home id."""
    ids = venues["venue_id"].to_numpy(dtype=object)
    at: dict[tuple[str, str], list[int]] = {}
    for q, v in enumerate(venue):
        if v >= 0:
            at.setdefault((requests[q][1], str(ids[v])), []).append(q)
    run_of: dict[int, str] = {}
    runs = []
    for (course, vid), qs in sorted(at.items()):
        qs = sorted(qs, key=lambda q: requests[q][0])
        for k in range(0, len(qs), size):
            run_id = f"{course}@{vid}#{k // size + 1}"
            runs.append((run_id, course, vid, len(qs[k:k + size])))
            for q in qs[k:k + size]:
                run_of[q] = run_id
    rows: list[tuple[Any, ...]] = []
    for q, (h, course) in enumerate(requests):
        v = int(venue[q])
        if v >= 0:
            rows.append((h, course, ids[v], run_of[q], float(t[q, v]), ""))
        elif not ok[q].any():
            rows.append((h, course, None, None, np.nan,
                         _("no venue within {minutes}").format(
                             minutes=i18n.format_minutes(limit))))
        else:
            rows.append((h, course, None, None, np.nan,
                         _("the venues within reach hold no more runs")))
    return rows, runs


_PARTS = (N_("supervisor"), N_("relief home"), N_("course"), N_("resource family"))


def _plan(table: pd.DataFrame, courses: pd.DataFrame,
          families: Mapping[str, tuple[str, float]] | None, home: pd.DataFrame) -> pd.DataFrame:
    """One row per home with a placement: what it has, and in words what is missing."""
    rows = []
    empty = courses.iloc[0:0]
    by_home = {str(h): g for h, g in courses.groupby("home_id", sort=False)}
    for h, g in table.groupby("home_id", sort=True):
        c = by_home.get(str(h), empty)
        missing = []
        no_sup = g[g["supervisor_id"].isna()]
        if len(no_sup):
            missing.append(ngettext("supervisor for {n} child ({reason})",
                                    "supervisor for {n} children ({reason})", len(no_sup))
                           .format(n=len(no_sup), reason=no_sup["supervisor_reason"].iloc[0]))
        no_rel = g[(g["relief_weekends"] > 0) & g["relief_id"].isna()]
        if len(no_rel):
            missing.append(_("relief home ({reason})").format(
                reason=no_rel["relief_reason"].iloc[0]))
        no_run = c[c["venue_id"].isna()]
        for r in no_run.itertuples(index=False):
            missing.append(_("course {course} ({reason})").format(course=r.course,
                                                                  reason=r.reason))
        resource_id: Any = None
        resource_minutes = np.nan
        if families is not None:
            resource_id, resource_minutes = families.get(str(h), (None, np.nan))
            if resource_id is None or _empty(resource_id):
                resource_id = None
                missing.append(_("resource family"))
        rows.append({
            "home_id": h, "municipality": home.at[h, "municipality"],
            "children": ";".join(sorted(g["child_id"])),
            "supervisors": ";".join(sorted(set(g["supervisor_id"].dropna()))),
            "supervisor_minutes": _max(g["supervisor_minutes"]),
            "relief_homes": ";".join(sorted(set(g["relief_id"].dropna()))),
            "relief_minutes": _max(g["relief_minutes"]),
            "courses": ";".join(c["course"]),
            "course_runs": ";".join(c["run_id"].dropna()),
            "course_minutes": _max(c["minutes"]),
            "resource_id": resource_id, "resource_minutes": resource_minutes,
            "full_network": not missing, "missing": "; ".join(missing)})
    return pd.DataFrame(rows, columns=[
        "home_id", "municipality", "children", "supervisors", "supervisor_minutes",
        "relief_homes", "relief_minutes", "courses", "course_runs", "course_minutes",
        "resource_id", "resource_minutes", "full_network", "missing"])


def _max(values: pd.Series) -> float:
    v = values.dropna()
    return round(float(v.max()), 2) if len(v) else np.nan
