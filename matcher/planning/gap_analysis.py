"""Recruitment gaps: waiting children without a suitable home within ``T`` minutes, per area
and missing competence, ranked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher.config import Settings
from matcher.errors import InputError
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.planning.access import two_step_fca
from matcher.planning.areas import (
    AREA_KINDS,
    AreaKind,
    grid_cells,
    locate,
    name_cells,
    pool_areas,
)
from matcher.planning.common import (
    ANCHORS,
    Anchor,
    _check_choice,
    _check_minutes,
    _fit,
    _in_crs,
    _minutes_text,
    _times,
    _xy,
    anchor_points,
    by_recruiter,
    free_places,
    need_tags,
    waiting,
)
from matcher.rules import accepted_competences
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = ["GapResult", "gaps"]

logger = logging.getLogger(__name__)

# =========================================================================== gaps


@dataclass(frozen=True)
class GapResult:
    """Recruitment gaps per area.

    Attributes
    ----------
    table
        One row per area with at least one waiting child or home, ranked:
        ``rank, area_id, name, children, uncovered, share_uncovered, no_home,
        need:<tag>...`` (uncovered children whose need ``tag`` no reachable
        home meets), ``needs_not_in_one_home`` (each need met by some reachable
        home, never all by one), ``course_places`` (course places the
        covered children need: each child whose usable homes within ``T`` all
        lack a course it needs counts the courses of the home needing fewest)
        and ``course:<course>`` per course of ``scoring.courses``,
        ``unmatched``, ``unmatched_uncovered`` (NA
        without a run), ``homes``, ``places`` (free places of homes in the
        area) and ``access_2sfca`` (mean 2SFCA accessibility of its children,
        places per child). Ranked by ``uncovered``, ``unmatched_uncovered``,
        ``children`` (descending), then ``area_id``.
    areas
        The same rows with area polygons (the working CRS ``network.crs``),
        for maps and GeoPackage.
    by_need
        Long form ``area_id, need, competences, uncovered`` (competences that
        would meet the need, ``|``-joined), rows with ``uncovered > 0``.
    children
        Per waiting child: ``child_id, anchor_id, area_id, covered, reachable``
        (reachable homes), ``suitable`` (suitable homes), ``missing_needs``
        (``;``-joined), ``courses`` (the courses its best suitable home
        needs, ``;``-joined) and ``access_2sfca``. Ids only, no positions.
    minutes
        The catchment ``T`` in minutes.
    area_kind
        ``municipality``, ``pool`` (municipality cooperations), ``hex`` or ``square``.
    outside
        Waiting children whose anchor lies in no area (left out of the table).
    by_recruiter
        Per recruiter of the homes (``bufetat`` or a kommunenummer,
        :func:`matcher.planning.common.by_recruiter`): homes, free places and
        the waiting children with a suitable home of theirs within ``T``.
    """

    table: pd.DataFrame
    areas: gpd.GeoDataFrame
    by_need: pd.DataFrame
    children: pd.DataFrame
    minutes: float
    area_kind: str
    outside: int
    by_recruiter: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts."""
        t = self.table
        unmatched = t["unmatched"].dropna()
        return {
            "minutes": self.minutes, "area_kind": self.area_kind, "areas": len(t),
            "children": int(t["children"].sum()), "uncovered": int(t["uncovered"].sum()),
            "no_home": int(t["no_home"].sum()),
            "course_places": int(t["course_places"].sum()),
            "unmatched": int(unmatched.sum()) if len(unmatched) else None,
            "outside": self.outside,
            "top_areas": t["area_id"].head(5).tolist(),
        }


def gaps(inputs: Inputs, *, settings: Settings | None = None, net: Network | None = None,
         times: TimeTable | None = None, areas: gpd.GeoDataFrame | None = None,
         area_kind: AreaKind = "municipality", cell_metres: float = 1000.0,
         minutes: float | None = None, anchor: Anchor = "school",
         unmatched: Collection[str] | None = None,
         progress: Callable[[int, int], None] | None = None) -> GapResult:
    """Count waiting children without a suitable home within ``minutes``, per area.

    Parameters
    ----------
    inputs
        Validated inputs.
    settings
        All settings (default :class:`~matcher.config.Settings`): the rules
        and ``need_competences`` of ``scoring``, ``planning.catchment_minutes``,
        ``travel`` and the working CRS ``network.crs``.
    net
        Road network, for the travel times when ``times`` is not given.
    times
        Travel times, origins ``home_id``, destinations anchor ids; computed
        on ``net`` when not given. Missing pairs are unreachable.
    areas
        Municipality polygons (:func:`municipality_areas`, any CRS: they are
        reprojected to the working CRS); required for
        ``area_kind="municipality"`` and ``"pool"``; for grids they name the
        cells (:func:`name_cells`).
    area_kind
        ``municipality``; ``pool``: the municipality cooperations of
        ``scoring.pools`` (:func:`pool_areas`; a municipality in no pool stays
        its own area); or a ``hex``/``square`` grid of ``cell_metres``
        (in the working CRS) over the children's anchors and the homes.
    cell_metres
        Grid cell size in metres (see :func:`grid_areas`).
    minutes
        Catchment ``T`` in minutes (home -> anchor), also the 2SFCA catchment
        (default ``planning.catchment_minutes``).
    anchor
        ``school`` (default) or ``home``; see the module docstring.
    unmatched
        Ids of children a matching run left unmatched (``None``: no run).
    progress
        Called with (done, total) while the travel times are computed.

    Raises
    ------
    InputError
        On bad options, or when neither ``times`` nor ``net`` is given.
    """
    settings = settings or Settings()
    scoring, crs = settings.scoring, settings.crs
    minutes = settings.planning.catchment_minutes if minutes is None else minutes
    _check_choice(N_("area kind"), area_kind, AREA_KINDS)
    _check_choice(N_("anchor"), anchor, ANCHORS)
    _check_minutes(N_("minutes"), minutes)
    if area_kind in ("municipality", "pool") and areas is None:
        raise InputError(_("{kind} areas need municipality polygons (areas); or use a grid: "
                           "area_kind 'hex' or 'square'").format(kind=area_kind))
    children = waiting(inputs)
    homes = inputs.homes
    free = free_places(inputs)
    points = anchor_points(children, anchor)
    table = _times(times, net, homes, points, settings.travel, origin_id="home_id",
                   destination_id="anchor_id", progress=progress)
    t = table.minutes.T  # (children, homes)

    fit = _fit(children, homes, free, scoring,
               trainable_needs=settings.assignment.trainable_needs)
    reach = fit.base & (t <= minutes)
    suitable = fit.suitable() & (t <= minutes)
    covered: np.ndarray = np.asarray(suitable.any(axis=1))
    courses = fit.courses(suitable, scoring)
    tags = need_tags(scoring, children)
    missing: list[tuple[str, ...]] = []
    for c, needs in enumerate(fit.needs):
        if covered[c] or not reach[c].any():
            missing.append(())
            continue
        missing.append(tuple(n for n in needs if n not in fit.trainable
                             and not (reach[c] & fit.meets[n]).any()))

    not_kin = (homes["kind"] != "kinship").to_numpy()
    fca = two_step_fca(table.minutes, np.where(not_kin, free, 0), np.ones(len(children)),
                       catchment_minutes=minutes)

    ax, ay = _xy(points["lon"], points["lat"], crs)
    hx, hy = _xy(homes["lon"], homes["lat"], crs)
    if area_kind == "municipality":
        assert areas is not None
        polys = _in_crs(areas, crs)
    elif area_kind == "pool":
        assert areas is not None
        polys = pool_areas(_in_crs(areas, crs), scoring.pools)
    else:
        polys = grid_cells(np.concatenate([ax, hx]), np.concatenate([ay, hy]),
                           cell_metres=cell_metres, shape=area_kind, crs=crs)
    child_area = locate(ax, ay, polys)
    home_area = locate(hx, hy, polys)
    unmatched_set = set(unmatched) if unmatched is not None else None
    per_child = pd.DataFrame({
        "child_id": children["child_id"].to_numpy(dtype=object),
        "anchor_id": points["anchor_id"].to_numpy(dtype=object),
        "area_id": child_area,
        "covered": covered,
        "reachable": reach.sum(axis=1).astype(np.int64),
        "suitable": suitable.sum(axis=1).astype(np.int64),
        "no_home": ~reach.any(axis=1),
        "missing_needs": [";".join(m) for m in missing],
        "courses": [";".join(c) for c in courses],
        "access_2sfca": fca.access,
    })
    if unmatched_set is not None:
        per_child["unmatched"] = per_child["child_id"].isin(unmatched_set).to_numpy()
    outside = int(pd.isna(child_area).sum())
    if outside:
        logger.warning(ngettext(
            "{n} waiting child lies in no area; it is left out of the gap table",
            "{n} waiting children lie in no area; they are left out of the gap table",
            outside).format(n=outside))

    rows = []
    used = sorted({a for a in child_area if a is not None} | {a for a in home_area
                                                             if a is not None})
    names = dict(zip(polys["area_id"], polys["name"], strict=True))
    if area_kind in ("hex", "square"):
        cells = polys[polys["area_id"].isin(used)]
        names = dict(zip(cells["area_id"], name_cells(cells, areas), strict=True))
    long_rows = []
    for area in used:
        mine = per_child["area_id"].to_numpy(dtype=object) == area
        unc = mine & ~covered
        row: dict[str, Any] = {"area_id": area, "name": names.get(area, area),
                               "children": int(mine.sum()), "uncovered": int(unc.sum())}
        row["share_uncovered"] = row["uncovered"] / row["children"] if row["children"] else 0.0
        row["no_home"] = int((mine & ~reach.any(axis=1)).sum())
        for tag in tags:
            n = sum(1 for c in np.flatnonzero(unc) if tag in missing[c])
            row[f"need:{tag}"] = n
            if n:
                long_rows.append({"area_id": area, "need": tag,
                                  "competences": "|".join(accepted_competences(tag, scoring)),
                                  "uncovered": n})
        row["needs_not_in_one_home"] = int(sum(1 for c in np.flatnonzero(unc)
                                               if reach[c].any() and not missing[c]))
        mine_courses = [courses[c] for c in np.flatnonzero(mine)]
        row["course_places"] = sum(len(c) for c in mine_courses)
        for course in scoring.courses:
            row[f"course:{course}"] = sum(course in c for c in mine_courses)
        if unmatched_set is not None:
            um = per_child["unmatched"].to_numpy(dtype=bool)
            row["unmatched"] = int((mine & um).sum())
            row["unmatched_uncovered"] = int((unc & um).sum())
        else:
            row["unmatched"] = pd.NA
            row["unmatched_uncovered"] = pd.NA
        in_area = home_area == area
        row["homes"] = int((in_area & (free > 0)).sum())
        row["places"] = int(free[in_area].sum())
        row["access_2sfca"] = float(fca.access[mine].mean()) if mine.any() else np.nan
        rows.append(row)
    columns = (["area_id", "name", "children", "uncovered", "share_uncovered", "no_home"]
               + [f"need:{t}" for t in tags]
               + ["needs_not_in_one_home", "course_places"]
               + [f"course:{c}" for c in scoring.courses]
               + ["unmatched", "unmatched_uncovered", "homes", "places", "access_2sfca"])
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("unmatched", "unmatched_uncovered"):
        frame[col] = frame[col].astype("Int64")
    key = frame[["uncovered", "unmatched_uncovered", "children"]].fillna(0).astype(np.int64)
    order = np.lexsort((frame["area_id"].to_numpy(dtype=str), -key["children"].to_numpy(),
                        -key["unmatched_uncovered"].to_numpy(), -key["uncovered"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    geo = polys.set_index("area_id").geometry
    areas_out = gpd.GeoDataFrame(frame.copy(), geometry=geo.loc[frame["area_id"]].to_numpy(),
                                 crs=crs)
    by_need = pd.DataFrame(long_rows, columns=["area_id", "need", "competences", "uncovered"])
    logger.info(_("gaps: {children} waiting children, {uncovered} uncovered within {minutes} "
                  "min, {areas} areas").format(children=len(children),
                                               uncovered=int((~covered).sum()),
                                               minutes=_minutes_text(minutes),
                                               areas=len(frame)))
    return GapResult(table=frame, areas=areas_out, by_need=by_need,
                     children=per_child.drop(columns=["no_home"]), minutes=float(minutes),
                     area_kind=area_kind, outside=outside,
                     by_recruiter=by_recruiter(homes, free, suitable))
