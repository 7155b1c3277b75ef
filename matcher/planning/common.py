"""Shared pieces of planning: waiting children, free places, anchors, travel times, the
eligibility of :mod:`matcher.rules` (courses after move-in as in matching), and option
checks."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
from pyproj import Transformer

from matcher import i18n, optimize, schema, traveltime
from matcher.config import PlanningSettings, ScoringSettings, TravelSettings
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.network import Network
from matcher.rules import Eligibility, courses_for, recruiters
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = [
    "ANCHORS",
    "ATTRIBUTION",
    "MAX_HOMES_PER_FAMILY",
    "Anchor",
    "Step",
    "anchor_points",
    "by_recruiter",
    "free_places",
    "need_tags",
    "travel_times",
    "waiting",
]


logger = logging.getLogger(__name__)

ANCHORS: tuple[str, ...] = ("school", "home")
MAX_HOMES_PER_FAMILY = PlanningSettings().max_homes_per_family
"""A resource family supports at most this many foster homes (``planning.max_homes_per_family``)."""
ATTRIBUTION = N_("Road data © OpenStreetMap contributors (ODbL 1.0). Municipalities: "
                 "Kartverket. Population: SSB 250 m grid. Children and homes are synthetic.")
"""Sources under the planning maps (English source text: show it with ``_(ATTRIBUTION)``)."""
Anchor = Literal["school", "home"]
Step = Callable[[str], None]


# =========================================================================== shared pieces


@functools.cache
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _xy(lon: Any, lat: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4326 degrees -> metres in the working CRS ``crs``."""
    x, y = _transformer("EPSG:4326", crs).transform(np.asarray(lon, dtype=float),
                                                    np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _lonlat(x: Any, y: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Metres in ``crs`` -> EPSG:4326 degrees."""
    lon, lat = _transformer(crs, "EPSG:4326").transform(np.asarray(x, dtype=float),
                                                        np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _in_crs(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """``frame`` in the working CRS (reprojected when it is in another one)."""
    if frame.crs is None:
        raise InputError(_("the polygons have no CRS; set it (e.g. "
                           "GeoDataFrame.set_crs('EPSG:4326'))"))
    return frame if frame.crs.equals(crs) else frame.to_crs(crs)


def waiting(inputs: Inputs) -> pd.DataFrame:
    """Return the waiting children (without a locked placement), in table order."""
    locked = set(inputs.placements["child_id"])
    return inputs.children[~inputs.children["child_id"].isin(locked)].reset_index(drop=True)


def free_places(inputs: Inputs) -> np.ndarray:
    """Return each home's free places: ``capacity`` minus its locked placements (>= 0)."""
    used = inputs.placements["home_id"].value_counts()
    taken = inputs.homes["home_id"].map(used).fillna(0).to_numpy(dtype=np.int64)
    return np.maximum(inputs.homes["capacity"].to_numpy(dtype=np.int64) - taken, 0)


def anchor_points(children: pd.DataFrame, anchor: Anchor = "school") -> pd.DataFrame:
    """Return one anchor point per child: ``anchor_id, child_id, kind, lon, lat``.

    ``anchor="school"`` uses the school position, and the home the child lived
    in for children without one; ``anchor="home"`` always uses the home.
    Coordinates are EPSG:4326 degrees.
    """
    _check_choice(N_("anchor"), anchor, ANCHORS)
    has_school = children["school_lon"].notna().to_numpy() if anchor == "school" else \
        np.zeros(len(children), dtype=bool)
    kind = np.where(has_school, "school", "home")
    return pd.DataFrame({
        "anchor_id": (children["child_id"] + ":" + kind).to_numpy(dtype=object),
        "child_id": children["child_id"].to_numpy(dtype=object),
        "kind": kind.astype(object),
        "lon": np.where(has_school, children["school_lon"], children["lon"]).astype(float),
        "lat": np.where(has_school, children["school_lat"], children["lat"]).astype(float),
    })


def travel_times(net: Network, origins: pd.DataFrame, destinations: pd.DataFrame,
                 settings: TravelSettings | None = None, *, origin_id: str = "id",
                 destination_id: str = "id",
                 progress: Callable[[int, int], None] | None = None) -> TimeTable:
    """Snap two point tables (EPSG:4326) and return origin -> destination minutes.

    Raises
    ------
    InputError
        Naming every point too far from the network (by id).
    """
    settings = settings or TravelSettings()
    problems: list[Problem] = []
    snapped: list[traveltime.Snapped] = []
    for frame, col, source in ((origins, origin_id, "origins"),
                               (destinations, destination_id, "destinations")):
        try:
            snapped.append(traveltime.snap(net, frame[col].astype(str).to_numpy(dtype=object),
                                           frame["lon"], frame["lat"], settings, source=source))
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_problems(_("some points cannot be placed on the road network"), problems)
    return traveltime.matrix(net, snapped[0], snapped[1], settings, progress=progress)


def need_tags(settings: ScoringSettings, children: pd.DataFrame | None = None) -> list[str]:
    """Need tags reported in breakdowns: ``need_competences`` keys, then any others present."""
    tags = list(settings.need_competences)
    if children is not None:
        seen = sorted({n for needs in children["needs"] for n in needs} - set(tags))
        tags += seen
    return tags


@dataclass(frozen=True)
class _Fit:
    """Which homes each child may use, by the rules of :mod:`matcher.rules`.

    ``base``: free place, kind, age, household, language and avoided
    municipality (every rule but competences that needs no travel time);
    ``meets``: need -> homes with an accepted tag (target group or course);
    ``trainable``: needs a course can meet after move-in (met by every home);
    ``competent``: every need met, by a tag or by a course after move-in;
    ``training``: per pair, the needs met by a course after move-in, as a bit
    set over ``need_names``.
    """

    base: np.ndarray  # (n_children, n_homes)
    meets: dict[str, np.ndarray]  # need -> (n_homes,)
    competent: np.ndarray  # (n_children, n_homes): every need met
    needs: list[tuple[str, ...]]  # per child
    trainable: frozenset[str] = frozenset()
    training: np.ndarray | None = None  # (n_children, n_homes) int64 bit sets
    need_names: tuple[str, ...] = ()

    def suitable(self) -> np.ndarray:
        """``base`` and every need of the child met by the home (or by a course there)."""
        return self.base & self.competent

    def courses(self, usable: np.ndarray, settings: ScoringSettings
                ) -> list[tuple[str, ...]]:
        """Per child: the courses its best usable home needs (none when a usable home
        meets every need already; ``()`` also when no home is usable).

        The best home is the one with the fewest needs met by a course, then
        the first in table order.
        """
        out: list[tuple[str, ...]] = []
        code = (self.training if self.training is not None
                else np.zeros(usable.shape, dtype=np.int64))
        bits = np.array([bin(int(v)).count("1") for v in code.ravel()],
                        dtype=np.int64).reshape(code.shape) if code.size else code
        for c in range(usable.shape[0]):
            homes = np.flatnonzero(usable[c])
            if not len(homes):
                out.append(())
                continue
            best = homes[int(np.argmin(bits[c, homes]))]  # first of the fewest
            trained = [n for j, n in enumerate(self.need_names) if int(code[c, best]) >> j & 1]
            out.append(courses_for(trained, settings))
        return out


def _fit(children: pd.DataFrame, homes: pd.DataFrame, free: np.ndarray,
         settings: ScoringSettings, *, trainable_needs: Sequence[str] | None = None) -> _Fit:
    """The rules of :mod:`matcher.rules` for planning: ``trainable_needs`` as in matching
    (``None``: the rule of :func:`matcher.rules.trainable_needs`), no kinship training."""
    rules = Eligibility.build(children, homes, settings, trainable_needs=trainable_needs)
    masks, counts = rules.masks(slice(None), places=free)
    meets = {n: rules.need_meets[j] for j, n in enumerate(rules.need_names)}
    base = np.logical_and.reduce([masks[f] for f in ("capacity", "kind", "age", "household",
                                                      "language", "avoid")])
    trainable = frozenset(n for j, n in enumerate(rules.need_names)
                          if rules.train_needs[:, j].any())
    return _Fit(base=base, meets=meets, competent=masks["competences"],
                needs=[tuple(n) for n in children["needs"]], trainable=trainable,
                training=np.asarray(counts.training_code, dtype=np.int64),
                need_names=rules.need_names)


def by_recruiter(homes: pd.DataFrame, free: np.ndarray, usable: np.ndarray) -> pd.DataFrame:
    """Homes, free places and children served per recruiter of the homes.

    Parameters
    ----------
    homes
        Validated homes (``recruited_by``: ``bufetat`` or a kommunenummer).
    free
        Free places per home.
    usable
        ``(n_children, n_homes)``: the home is suitable for the child and
        within the catchment.

    Returns
    -------
    pandas.DataFrame
        ``recruited_by, homes`` (with a free place), ``places`` (free),
        ``children`` (children with a usable home of this recruiter),
        ``children_only_here`` (children whose every usable home is this
        recruiter's); sorted by ``recruited_by``.
    """
    who = recruiters(homes)
    rows = []
    for name in sorted(set(who)):
        mine = who == name
        served = usable[:, mine].any(axis=1)
        only = served & ~usable[:, ~mine].any(axis=1)
        rows.append({"recruited_by": name, "homes": int((mine & (free > 0)).sum()),
                     "places": int(free[mine].sum()), "children": int(served.sum()),
                     "children_only_here": int(only.sum())})
    return pd.DataFrame(rows, columns=["recruited_by", "homes", "places", "children",
                                       "children_only_here"])


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    """Raise unless ``value`` is allowed; ``name`` is English, marked with ``N_``."""
    if value not in allowed:
        raise InputError(_("{name} '{value}' is unknown; use one of {allowed}").format(
            name=_(name), value=value, allowed=", ".join(allowed)))


def _check_minutes(name: str, value: float) -> None:
    """Raise unless ``value`` is minutes > 0; ``name`` is English, marked with ``N_``."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(_("{name} {value} must be a number of minutes > 0").format(
            name=_(name), value=repr(value)))


def _times(times: TimeTable | None, net: Network | None, origins: pd.DataFrame,
           destinations: pd.DataFrame, settings: TravelSettings, *, origin_id: str,
           destination_id: str, progress: Callable[[int, int], None] | None) -> TimeTable:
    """Given times restricted to the points, or times computed on the network."""
    if times is None:
        if net is None:
            raise InputError(_("give a road network (net) or a travel-time table (times)"))
        return travel_times(net, origins, destinations, settings, origin_id=origin_id,
                            destination_id=destination_id, progress=progress)
    return times.select(origins[origin_id].astype(str).to_numpy(dtype=object),
                        destinations[destination_id].astype(str).to_numpy(dtype=object))


def _minutes_text(minutes: float) -> str:
    """Minutes as the current language writes them: whole minutes without decimals."""
    value = float(minutes)
    return i18n.format_number(value, 0 if value.is_integer() else 1)


def _number(value: float) -> float | int:
    """Round to 6 decimals; whole numbers become ``int`` (for tidy tables)."""
    value = round(value, 6)
    return int(value) if float(value).is_integer() else value


def _anchor_lonlat(inputs: Inputs, anchor_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Positions (EPSG:4326) of anchor ids, from :func:`matcher.schema.anchors`."""
    table = schema.anchors(inputs, include_home=True).set_index("anchor_id")
    found = table.reindex(pd.Index(anchor_ids, dtype=object))
    return {"lon": found["lon"].to_numpy(dtype=float), "lat": found["lat"].to_numpy(dtype=float)}


def _solve(prob: pulp.LpProblem, *, solver: Literal["highs", "cbc"],
           time_limit_seconds: float, what: str) -> str:
    """Solve to optimality with the configured solver (:mod:`matcher.optimize`).

    ``what`` names the model in the solver's messages (already translated).
    """
    outcome = optimize.solve(prob, solver=optimize.solver_name(solver),
                             time_limit_seconds=time_limit_seconds, mip_gap=0.0, what=what,
                             fix=_("raise the time limit"))
    return outcome.status
