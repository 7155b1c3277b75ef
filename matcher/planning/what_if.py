"""What-if: add hypothetical homes, rerun the match and compare with the baseline."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from matcher import pipeline, schema
from matcher.config import Settings
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.planning.areas import _centres, locate
from matcher.planning.common import (
    Step,
    _anchor_lonlat,
    _in_crs,
    _lonlat,
    _number,
    _xy,
    travel_times,
)
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = ["DIFF_MEASURES", "Addition", "WhatIfResult", "add_homes", "place_additions", "whatif"]

logger = logging.getLogger(__name__)

# =========================================================================== what-if


@dataclass(frozen=True)
class Addition:
    """Hypothetical homes to add in one area.

    Attributes
    ----------
    area
        4-digit municipality code (``area_id`` of the municipality polygons);
        may be left out when ``at`` is given (the polygon holding ``at``).
    competences
        Competence tags of each new home (may be empty).
    count
        Number of homes (>= 1).
    capacity
        Places per home (>= 1, default 1).
    min_age, max_age
        Ages each home accepts (default 0-17).
    kind
        Kind of each home: ``general`` (default), ``specialized`` or
        ``emergency``.
    at
        ``(lon, lat)`` in degrees (EPSG:4326) where every home of this
        addition lies; ``None`` (default) places them over the area as
        :func:`place_additions` describes.
    """

    area: str | None = None
    competences: tuple[str, ...] = ()
    count: int = 1
    capacity: int = 1
    min_age: int = 0
    max_age: int = 17
    kind: str = "general"
    at: tuple[float, float] | None = None


def place_additions(additions: Sequence[Addition], areas: gpd.GeoDataFrame, *, net: Network,
                    population: gpd.GeoDataFrame | None = None,
                    max_snap_metres: float = 2000.0, prefix: str = "WHATIF") -> pd.DataFrame:
    """Place hypothetical homes inside their municipality, deterministically.

    Candidates are the population cells whose centre lies inside the polygon
    (weighted by population) when ``population`` is given, otherwise the road
    network nodes inside it (equal weights); only candidates within
    ``max_snap_metres`` of the network count. Candidates are ordered along
    1 km serpentine rows (west-east, then east-west on the next row north) and
    the ``n`` homes of an area take the candidates at cumulative-weight
    quantiles ``(i + 0.5) / n``: systematic sampling, proportional to weight,
    spread over the area, no randomness. Places are compared in the
    network's CRS (``net.crs``, metres): ``areas`` and ``population`` are
    reprojected to it when they are in another CRS.

    An addition with ``at`` puts its homes at that point instead.

    Returns
    -------
    pandas.DataFrame
        Normalised homes (the dtypes of :attr:`matcher.schema.Inputs.homes`):
        ``home_id`` = ``<prefix>-<area>-<k>``, the addition's kind,
        ``accepts_sibling_groups`` when capacity >= 2.

    Raises
    ------
    InputError
        If an area is not among the polygons or has no candidate inside it.
    """
    areas = _in_crs(areas, net.crs)
    by_area: dict[str, list[Addition]] = {}
    problems = []
    for add in additions:
        area = add.area
        if area is None and add.at is not None:
            area = locate(*_xy([add.at[0]], [add.at[1]], net.crs), areas)[0]
        if area is None:
            problems.append(Problem("additions", _(
                "a hypothetical home needs an area or a place inside the municipality "
                "polygons (at=(lon, lat))")))
            continue
        by_area.setdefault(str(area), []).append(add)
    known = set(areas["area_id"])
    problems += [Problem("additions", _("area '{area}' is not in the municipality polygons; "
                                        "check the code or the polygons").format(area=a))
                 for a in by_area if a not in known]
    problems += [Problem("additions", _("kind '{kind}' of hypothetical homes is unknown; use "
                                        "one of {allowed}").format(kind=a.kind,
                                                                    allowed=", ".join(_KINDS)))
                 for a in additions if a.kind not in _KINDS]
    raise_if_problems(_("cannot place hypothetical homes"), problems)
    population = None if population is None else _in_crs(population, net.crs)
    tree = cKDTree(np.column_stack([net.x, net.y]))
    rows = []
    for area, adds in sorted(by_area.items()):
        poly = areas.loc[areas["area_id"] == area].geometry.iloc[0]
        if population is not None:
            cx, cy = _centres(population)
            weight = population["population"].to_numpy(dtype=float)
        else:
            cx, cy, weight = net.x, net.y, np.ones(net.n_nodes)
        inside = shapely.contains_xy(poly, cx, cy)
        near = tree.query(np.column_stack([cx, cy]))[0] <= max_snap_metres
        ok = inside & near & (weight > 0)
        if not ok.any():
            text = (_("area '{area}': no populated cell inside it lies on the road network; "
                      "use a network that covers it") if population is not None else
                    _("area '{area}': no road node inside it lies on the road network; use a "
                      "network that covers it"))
            raise InputError(text.format(area=area))
        x, y, w = cx[ok], cy[ok], weight[ok]
        band = np.floor(y / 1000.0).astype(np.int64)
        order = np.lexsort((np.where(band % 2 == 0, x, -x), band))
        x, y, w = x[order], y[order], w[order]
        cum = np.cumsum(w) / w.sum()
        n = sum(a.count for a in adds)
        picks = np.searchsorted(cum, (np.arange(n) + 0.5) / n, side="left")
        picks = np.minimum(picks, len(x) - 1)
        k = 0
        for add in adds:
            for _i in range(add.count):
                lon, lat = (add.at if add.at is not None
                            else _lonlat(x[picks[k]], y[picks[k]], net.crs))
                rows.append({"home_id": f"{prefix}-{area}-{k + 1:03d}", "lon": float(lon),
                             "lat": float(lat), "municipality": area,
                             "capacity": add.capacity, "competences": add.competences,
                             "min_age": add.min_age, "max_age": add.max_age, "kind": add.kind,
                             "kin_of": None, "accepts_sibling_groups": add.capacity >= 2})
                k += 1
    return _homes_frame(rows)


_KINDS = ("general", "specialized", "emergency")
"""Kinds a hypothetical home can have (kinship homes belong to one child)."""


def add_homes(inputs: Inputs, additions: Sequence[Addition], *, net: Network,
              settings: Settings | None = None, areas: gpd.GeoDataFrame | None = None,
              population: gpd.GeoDataFrame | None = None) -> Inputs:
    """Return the inputs with hypothetical homes added (placed by :func:`place_additions`).

    Parameters
    ----------
    inputs
        Validated inputs.
    additions
        The homes to add.
    net
        Road network (its CRS, metres, for the placement).
    settings
        All settings (default :class:`~matcher.config.Settings`):
        ``travel.max_snap_metres``.
    areas, population
        Municipality polygons (required) and an optional population grid.

    Raises
    ------
    InputError
        On an unknown area or kind, no additions, or a home id clash.
    """
    added = _new_homes(inputs, additions, net=net, settings=settings or Settings(),
                       areas=areas, population=population)
    return dataclasses.replace(inputs, homes=pd.concat([inputs.homes, added], ignore_index=True))


def _new_homes(inputs: Inputs, additions: Sequence[Addition] | pd.DataFrame, *, net: Network,
               settings: Settings, areas: gpd.GeoDataFrame | None,
               population: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """The hypothetical homes (placed unless given as a frame), their ids checked for clashes."""
    if isinstance(additions, pd.DataFrame):
        added = additions
    else:
        if not additions:
            raise InputError(_("no homes to add; give at least one addition"))
        if areas is None:
            raise InputError(_("placing hypothetical homes needs municipality polygons "
                               "(areas)"))
        added = place_additions(additions, areas, net=net, population=population,
                                max_snap_metres=settings.travel.max_snap_metres)
    clash = sorted(set(added["home_id"]) & set(inputs.homes["home_id"]))
    if clash:
        raise InputError(_("hypothetical home ids {ids} already exist in the homes table")
                         .format(ids=", ".join(clash[:5])))
    return added


def _homes_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(schema.COLUMNS["homes"]))
    for column in ("languages", "culture", "own_children_ages"):  # tuples, () when not given
        frame[column] = pd.Series([row.get(column, ()) for row in rows], dtype=object)
    return frame.astype({"home_id": "str", "lon": "float64", "lat": "float64",
                         "municipality": "str", "capacity": "int64", "min_age": "int64",
                         "max_age": "int64", "kind": "str", "kin_of": "str",
                         "accepts_sibling_groups": "bool"})


DIFF_MEASURES: tuple[str, ...] = (
    "placed", "placed_acute", "unmatched", "kept_in_home_municipality",
    "share_kept_in_home_municipality", "median_school_minutes", "priority_placed",
)


@dataclass(frozen=True)
class WhatIfResult:
    """Baseline and scenario runs and their difference.

    Attributes
    ----------
    baseline, scenario
        The two matching runs (:class:`matcher.pipeline.RunResult`).
    added_homes
        The hypothetical homes (normalised homes table).
    diff
        ``measure, baseline, scenario, change`` for :data:`DIFF_MEASURES`
        (``priority_placed`` = stage-one objective; ``median_school_minutes``
        over placed children with a school).
    newly_placed
        Ids of children placed in the scenario but not in the baseline.
    """

    baseline: pipeline.RunResult
    scenario: pipeline.RunResult
    added_homes: pd.DataFrame
    diff: pd.DataFrame
    newly_placed: tuple[str, ...]


def _measures(run: pipeline.RunResult) -> dict[str, float | None]:
    s = run.summary
    return {"placed": s.placed, "placed_acute": s.by_urgency.acute.placed,
            "unmatched": s.unmatched,
            "kept_in_home_municipality": s.kept_in_home_municipality,
            "share_kept_in_home_municipality": s.share_kept_in_home_municipality,
            "median_school_minutes": s.median_school_minutes,
            "priority_placed": round(float(run.result.objective_stage1), 6)}


def _difference(before: float | None, after: float | None) -> float | int | None:
    return None if before is None or after is None else _number(float(after) - float(before))


def whatif(inputs: Inputs, additions: Sequence[Addition] | pd.DataFrame, *, net: Network,
           settings: Settings | None = None, areas: gpd.GeoDataFrame | None = None,
           population: gpd.GeoDataFrame | None = None,
           baseline: pipeline.RunResult | None = None, as_of: datetime.date | None = None,
           step: Step | None = None,
           progress: Callable[[int, int], None] | None = None) -> WhatIfResult:
    """Add hypothetical homes, rerun the match and compare with the baseline.

    Adding homes only enlarges the set of feasible assignments, so under the
    default lexicographic objective the stage-one objective (total priority
    placed) never falls; with equal priorities that is the placed count. (With
    unequal priorities a new home could in principle let one high-priority
    child displace several lower ones; the diff shows it if it happens.)

    Parameters
    ----------
    inputs
        Validated inputs of the baseline.
    additions
        :class:`Addition` items (placed by :func:`place_additions` inside
        ``areas``) or a ready normalised homes frame.
    net
        Road network (travel times for the new homes).
    settings
        All settings (default :class:`~matcher.config.Settings`); the runs use
        them unchanged.
    areas, population
        Municipality polygons and an optional population grid for placement.
    baseline
        A baseline run on ``inputs`` to reuse (computed when not given).
    as_of
        Run date (default today).

    Raises
    ------
    InputError
        On an unknown area, a home id clash or bad additions.
    """
    settings = settings or Settings()
    say = step or (lambda _m: None)
    added = _new_homes(inputs, additions, net=net, settings=settings, areas=areas,
                       population=population)
    as_of = as_of or datetime.date.today()
    if baseline is None:
        say(_("baseline match"))
        baseline = pipeline.run(inputs, settings, net=net, as_of=as_of, step=step,
                                progress=progress)
    say(_("travel times of the new homes"))
    base_times = baseline.times
    new_rows = travel_times(net, added, pd.DataFrame({
        "id": base_times.destination_ids,
        **_anchor_lonlat(inputs, base_times.destination_ids)}), settings.travel,
        origin_id="home_id", destination_id="id")
    times = TimeTable(np.concatenate([base_times.origin_ids, new_rows.origin_ids]),
                      base_times.destination_ids,
                      np.vstack([base_times.minutes, new_rows.minutes]))
    homes = pd.concat([inputs.homes, added], ignore_index=True)
    scenario_inputs = dataclasses.replace(inputs, homes=homes)
    say(_("scenario match"))
    digest = hashlib.sha256(added.astype(str).to_csv(index=False).encode()).hexdigest()
    scenario = pipeline.run(scenario_inputs, settings, times=times, net=net, as_of=as_of,
                            step=step, extra_sources={"whatif_homes": digest})
    b, s = _measures(baseline), _measures(scenario)
    change = [_difference(b[m], s[m]) for m in DIFF_MEASURES]
    diff = pd.DataFrame({"measure": pd.Series(DIFF_MEASURES, dtype="str"),
                         "baseline": pd.Series([b[m] for m in DIFF_MEASURES], dtype=object),
                         "scenario": pd.Series([s[m] for m in DIFF_MEASURES], dtype=object),
                         "change": pd.Series(change, dtype=object)})
    before = set(baseline.assignments.loc[baseline.assignments["home_id"].notna(), "child_id"])
    after = set(scenario.assignments.loc[scenario.assignments["home_id"].notna(), "child_id"])
    logger.info(_("what-if: {n} homes added; placed {before} -> {after}").format(
        n=len(added), before=b["placed"], after=s["placed"]))
    return WhatIfResult(baseline=baseline, scenario=scenario, added_homes=added, diff=diff,
                        newly_placed=tuple(sorted(after - before)))
