"""Generate a deterministic SYNTHETIC matching scenario (fictional places, no real people).

The scenario is a fictional fjord region in western Norway (about lon 5.0–6.5,
lat 60.2–60.9; the ``national`` size covers lon 4.9–9.0, lat 59.4–62.3). It is
laid out in EPSG:25833 metres and written in EPSG:4326 degrees (7 decimals).
A fjord crosses the whole region from west to east, so the towns on its north
shore are reachable by car only over one car ferry (``duration=00:25``); a
second, passenger-only ferry (``motor_vehicle=no``) crosses elsewhere and must
not be used by cars.

Call :func:`generate` to write the files, or :func:`build` for the same data in
memory. The same ``seed`` and ``size`` always give byte-identical files; the
generation date is never written.

Files
-----
``roads.osm``
    OSM XML 0.6: town street grids (residential, ``maxspeed=30`` on some,
    oneway rows, one ``oneway=-1`` row), main streets (secondary/tertiary),
    primary (every other one ``maxspeed=80``), secondary and tertiary roads
    (some ``maxspeed=NO:rural``) between towns, one motorway between two
    large towns 12–60 km apart (two oneway carriageways, ``maxspeed=110``,
    with ``motorway_link`` ramps), one roundabout, footways, the car ferry and
    the passenger ferry. Loads with
    ``osmnx.graph_from_xml(path, simplify=False, retain_all=True)``.
``municipalities.geojson``
    Municipality polygons (EPSG:4326, fjord cut out): ``kommunenummer``
    (fictional, 4691–4699) and ``kommunenavn`` ("<Town> (syntetisk)").
``schools.csv``
    ``school_id,name,lon,lat,kommunenummer``.
``children.csv``
    ``child_id,lon,lat,school_lon,school_lat,municipality,age,needs,
    sibling_group,urgency,waiting_since,max_school_minutes,avoid_municipalities,
    languages,language_required,culture,heard_on,relief_weekends``.
``contacts.csv``
    ``child_id,kind,lon,lat,weight,max_minutes``.
``homes.csv``
    ``home_id,lon,lat,municipality,capacity,competences,min_age,max_age,kind,
    kin_of,accepts_sibling_groups,languages,culture,own_children_ages``.
``placements.csv``, ``vetoes.csv``
    ``child_id,home_id``: locked placements and forbidden pairs.
``supervisors.csv``, ``relief_homes.csv``, ``venues.csv``
    Synthetic support (issue 25, ``matcher support``): see
    :mod:`matcher.scenarios.support` for their distributions and for
    ``relief_weekends``.
``README.md``
    What the folder is, the seed, the size, the counts and the distributions.

Distributions
-------------
- Sizes: ``small`` 6 towns (2 north of the fjord), 4 municipalities, 60
  children, 150 homes; ``region`` 30 towns (8 north), 5 municipalities, 300
  children, 2,000 homes; ``national`` 300 towns (75 north), 9 municipalities,
  1,000 children, 10,000 homes. Town grids have 13–27 (small), 19–47
  (region) or 21–61 (national) nodes a side, 80–125 m apart; roads between
  towns have a node every 150, 40 or 40 m.
- Children: ages 0–5 5 %, 6–12 40 %, 13–17 55 % (uniform within a band).
  Under-6s (school starts at 6) have no school. Ages 6–12 attend the
  barneskule (or combined skule) of their town, 13–15 its ungdomsskule (or
  skule), 16–17 the nearest vidaregåande skule of their municipality.
- Needs (``;``-joined, independent draws): trauma 40 %; attachment 30 % under
  10 years, 12 % from 10; behaviour 6 % under 8 years, 22 % from 8;
  disability 5 %; teen 65 % from 13; substance 15 % from 14.
- About 15 % of children are in sibling groups of 2 (70 %) or 3 (30 %);
  siblings share the home address, municipality, urgency, waiting date and
  parents.
- Urgency ``acute`` 20 %, else ``planned``. ``waiting_since`` is 0–30 days
  (acute) or 14–300 days (planned) before the reference date 2026-11-01.
- ``max_school_minutes``: empty for 90 %; otherwise 20, 25, 30 (young
  children) or 60 minutes.
- Children live within 150 m of a town road node, in towns drawn by town size
  (number of road nodes).
- Contacts: 1–6 per child (probabilities 8, 20, 27, 22, 15, 8 %). 85 % of
  families have parents (1 parent 60 %, 2 parents 40 %); parents live in the
  child's town (70 %) or another town (30 %). Other contacts are relative,
  friend or activity (35/35/30 %), in the child's town except relatives 35 %,
  friends and activities 5 % in another town. Weights: parent 1.00, relative
  0.60–0.90, friend 0.40–0.70, activity 0.30–0.60.
- Homes: kinship = min(10 % of homes, 20 % of child families), one per chosen
  family (``kin_of`` = the child id, or the sibling group id), in the child's
  town 65 %, another town of the same municipality 20 %, anywhere 15 %;
  emergency 8 %, specialized 12 %, general the rest. Non-kinship homes lie
  in towns (75 %, by town size, north shore x0.6) or along rural roads
  (25 %), within 150 m of a road node.
- Capacity: general 0/1/2/3 = 15/50/27/8 %, emergency 0/1/2 = 25/50/25 %,
  specialized 0/1/2 = 20/65/15 %, kinship = size of the child's group. Where
  general and specialized homes would offer more than 2.5 (``small``) or 1.0
  (``region``, ``national``) free places per child, more of them are full
  (capacity 0; for general homes about 19 % in ``small``, 89 % in ``region``
  and 92 % in ``national``), so that competent free homes stay scarce at
  every size, as in practice, where most foster homes already have a child.
- Competences: general PRIDE 85, trygg-base 25, teen 10, EFST 4,
  disability 4, TBO-F 1 %; emergency PRIDE 90, trygg-base 50, TBO-F 10,
  teen 15 %; specialized TBO-F 60 % or else EFST, the other one 15 %,
  trygg-base 50, teen 35, disability 12, PRIDE 70 %; kinship PRIDE 25,
  trygg-base 10 %.
- Age ranges: general 0–5/0–12/0–17/4–17/6–17/10–17/13–17 =
  8/20/30/10/14/10/8 %; emergency 0–17/0–12/6–17 = 70/20/10 %; specialized
  6–17/10–17/13–17 = 40/35/25 %; kinship 0–17.
- Sibling groups accepted by: general and emergency homes with capacity >= 2
  (60 % and 50 %), specialized 10 %, kinship homes of sibling groups.
- Locked placements: 2 (small) or 3 children without siblings, each in a
  distinct general or specialized home of the child's municipality with a
  free place, the right ages and every needed competence. Vetoes (4, 10 or
  25): one kinship home of its own child, the others random homes of the
  child's municipality.
- The child's voice, language, culture and household (own random stream, so
  the columns above keep their values): languages nb 42, nn 24, nb;nn 6,
  nb;so 4, nb;ar 4, nb;pl 3, nb;ti 2, nb;uk 2, nb;se 2, uk 1.5, ar 1, so 1,
  ti 0.5 %, none 8 %; ``language_required`` for 60 % of children without
  Norwegian; culture muslim 70 % of so, 60 % of ar speakers, christian 60 %
  of ti and pl, 50 % of uk, sami 80 % of se speakers, otherwise christian 7,
  humanist 2, muslim 1 %; 6 % avoid one other municipality; aged 7 or more:
  heard 0-150 days before the reference date 75 %, 181-400 days 10 %, never
  15 %. Contacts: ``max_minutes`` 20/30/45 for 15 % of friends and activities,
  45/60 for 6 % of relatives. Homes: nb 62 % or nn, plus en 30, nn/nb 10,
  pl 2, ar 2, so 1.5, uk 1.5, se 1, ti 0.5 %; culture christian 25, humanist 8,
  muslim 4, sami 2 %; 0/1/2/3 own children 45/25/22/8 %, ages 0-20. Siblings
  share their wishes; kinship homes speak their child's languages and share
  its culture. Constants in :mod:`matcher.scenarios.tables`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from matcher.errors import InputError, Problem
from matcher.i18n import format_number, ngettext
from matcher.i18n import gettext as _
from matcher.periods import empty as periods_empty
from matcher.scenarios._people import (
    _children,
    _Contacts,
    _contacts,
    _Homes,
    _homes,
    _locks,
    _municipalities,
    _People,
    _Schools,
    _schools,
)
from matcher.scenarios._roads import _Geo, _layout, _Roads, _roads
from matcher.scenarios.support import relief_weekends, support_tables
from matcher.scenarios.tables import (
    _KOMMUNENUMMER_BASE,
    _NODE_ID_BASE,
    _PROFILES,
    _SYNTHETIC,
    _WAY_ID_BASE,
    CAR_FERRY_DURATION,
    CHILD_COLUMNS,
    CONTACT_COLUMNS,
    CONTACT_KINDS,
    HOME_COLUMNS,
    HOME_KINDS,
    PAIR_COLUMNS,
    REFERENCE_DATE,
    SCHOOL_COLUMNS,
    SIZES,
    WORK_CRS,
    Size,
    Tags,
    _draw_child_voice,
    _draw_contact_limits,
    _draw_home_household,
)

__all__ = [
    "CHILD_COLUMNS", "CONTACT_COLUMNS", "DISTRIBUTIONS", "HOME_COLUMNS", "PAIR_COLUMNS",
    "REFERENCE_DATE", "SCHOOL_COLUMNS", "SIZES", "RoadNetwork", "SampleManifest", "Scenario",
    "build", "generate", "write",
]

log = logging.getLogger(__name__)

DISTRIBUTIONS = __doc__.split("Distributions\n-------------\n", 1)[1] if __doc__ else ""
"""The "Distributions" section of this docstring, copied into each scenario's README."""


@dataclass(frozen=True)
class RoadNetwork:
    """A synthetic OSM road network as arrays.

    Attributes
    ----------
    node_ids
        Positive unique OSM node ids (``int64``), ascending.
    lon, lat
        Node coordinates in EPSG:4326 degrees, rounded to 7 decimals.
    way_ids
        Positive unique OSM way ids (``int64``), ascending.
    way_offsets
        ``int64`` array of length ``len(way_ids) + 1``; the node refs of way
        *i* are ``way_refs[way_offsets[i]:way_offsets[i + 1]]``.
    way_refs
        Node ids of all ways, concatenated.
    way_tags
        OSM tags ``((key, value), ...)`` of each way.
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    way_ids: np.ndarray
    way_offsets: np.ndarray
    way_refs: np.ndarray
    way_tags: tuple[Tags, ...]


@dataclass(frozen=True)
class Scenario:
    """One synthetic scenario in memory; :func:`write` puts it on disk.

    Attributes
    ----------
    seed, size
        The generator inputs.
    roads
        The road network (EPSG:4326).
    municipalities
        ``kommunenummer``, ``kommunenavn`` and ``geometry`` (polygons, CRS
        EPSG:4326).
    schools, children, contacts, homes, placements, vetoes
        The tables, with exactly the columns written to the CSV files.
        Coordinates are EPSG:4326 degrees rounded to 7 decimals; empty values
        are ``pd.NA``.
    """

    seed: int
    size: str
    roads: RoadNetwork
    municipalities: gpd.GeoDataFrame
    schools: pd.DataFrame
    children: pd.DataFrame
    contacts: pd.DataFrame
    homes: pd.DataFrame
    placements: pd.DataFrame
    vetoes: pd.DataFrame
    placement_periods: pd.DataFrame = field(default_factory=periods_empty)
    """Three years of SYNTHETIC placement periods (:mod:`matcher.scenarios.history`)."""
    supervisors: pd.DataFrame = field(default_factory=pd.DataFrame)
    relief_homes: pd.DataFrame = field(default_factory=pd.DataFrame)
    venues: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class SampleManifest:
    """Paths and counts of one written scenario.

    Attributes
    ----------
    out_dir
        Folder holding the files.
    seed, size
        The generator inputs.
    roads, municipalities, schools, children, contacts, homes, placements, vetoes, readme
        Path of each file.
    n_road_nodes, n_road_ways, n_municipalities, n_schools, n_children,
    n_sibling_groups, n_contacts, n_homes, n_placements, n_vetoes
        Counts of what was written.
    supervisors, relief_homes, venues
        Paths of the synthetic support tables (issue 25).
    """

    out_dir: Path
    seed: int
    size: str
    roads: Path
    municipalities: Path
    schools: Path
    children: Path
    contacts: Path
    homes: Path
    placements: Path
    vetoes: Path
    placement_periods: Path
    readme: Path
    n_road_nodes: int
    n_road_ways: int
    n_municipalities: int
    n_schools: int
    n_children: int
    n_sibling_groups: int
    n_contacts: int
    n_homes: int
    n_placements: int
    n_vetoes: int
    n_placement_periods: int
    supervisors: Path | None = None
    relief_homes: Path | None = None
    venues: Path | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        """Return every written file, in a fixed order."""
        support = tuple(p for p in (self.supervisors, self.relief_homes, self.venues)
                        if p is not None)
        return (self.roads, self.municipalities, self.schools, self.children, self.contacts,
                self.homes, self.placements, self.vetoes, self.placement_periods, *support,
                self.readme)


# public API


def generate(out_dir: Path, *, seed: int = 1, size: Size = "small") -> SampleManifest:
    """Generate a synthetic scenario and write it to ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write to; created if missing. Existing scenario files are
        overwritten.
    seed
        Seed of ``numpy.random.default_rng`` (>= 0). The same seed and size
        give byte-identical files.
    size
        ``"small"`` (about 3,000 road nodes, 60 children, 150 homes),
        ``"region"`` (about 35,000 nodes, 300 children, 2,000 homes) or
        ``"national"`` (over 500,000 nodes, 1,000 children, 10,000 homes).

    Returns
    -------
    SampleManifest
        Paths and counts of the written files.

    Raises
    ------
    InputError
        If ``seed`` or ``size`` is invalid or ``out_dir`` is an existing file.
    """
    problems = _check_options(seed, size)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        problems.append(Problem(source="sample", column="out_dir",
                                message=_("{path} is a file; pass a folder path")
                                .format(path=out_dir)))
    if problems:
        raise InputError(_("cannot generate the sample scenario"), problems)
    return write(build(seed=seed, size=size), out_dir)


def build(*, seed: int = 1, size: Size = "small") -> Scenario:
    """Build a synthetic scenario in memory (no disk access).

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng`` (>= 0).
    size
        ``"small"``, ``"region"`` or ``"national"``; see :func:`generate`.

    Returns
    -------
    Scenario
        The road network and every table.

    Raises
    ------
    InputError
        If ``seed`` or ``size`` is invalid.
    """
    problems = _check_options(seed, size)
    if problems:
        raise InputError(_("cannot build the sample scenario"), problems)
    seed = int(seed)
    profile = _PROFILES[size]
    rng = np.random.default_rng(seed)

    geo = _layout(profile, rng)
    roads = _roads(geo, profile, rng)
    munis = _municipalities(geo)
    schools = _schools(geo, roads, rng)
    people = _children(geo, roads, schools, profile, rng)
    contacts = _contacts(geo, roads, people, rng)
    homes = _homes(geo, roads, people, munis, profile, rng)
    placements, vetoes = _locks(people, homes, geo.muni[people.town], profile, rng)

    to_lonlat = _transformer()
    scenario = Scenario(
        seed=seed,
        size=size,
        roads=_road_frame(roads, to_lonlat),
        municipalities=_municipality_frame(munis, geo, to_lonlat),
        schools=_school_frame(schools, geo, to_lonlat),
        **_with_voice(_with_relief(_child_frame(people, schools, geo, to_lonlat), seed),
                      _contact_frame(contacts, people, to_lonlat),
                      _home_frame(homes, people, to_lonlat),
                      np.random.default_rng([seed, 13])),
        placements=_pair_frame(placements, people, homes),
        vetoes=_pair_frame(vetoes, people, homes),
    )
    scenario = _with_support(_with_history(scenario))
    log.info(_("built sample {size} (seed {seed}): {nodes} road nodes, {ways} ways, "
               "{municipalities} municipalities, {schools} schools, {children} children, "
               "{contacts} contacts, {homes} homes").format(
        size=size, seed=seed, nodes=format_number(len(scenario.roads.node_ids)),
        ways=format_number(len(scenario.roads.way_ids)),
        municipalities=format_number(len(scenario.municipalities)),
        schools=format_number(len(scenario.schools)),
        children=format_number(len(scenario.children)),
        contacts=format_number(len(scenario.contacts)), homes=format_number(len(scenario.homes))))
    return scenario


def write(scenario: Scenario, out_dir: Path) -> SampleManifest:
    """Write a scenario's files to ``out_dir`` (created if missing).

    Parameters
    ----------
    scenario
        From :func:`build`.
    out_dir
        Target folder.

    Returns
    -------
    SampleManifest
        Paths and counts of the written files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "roads": out_dir / "roads.osm",
        "municipalities": out_dir / "municipalities.geojson",
        "schools": out_dir / "schools.csv",
        "children": out_dir / "children.csv",
        "contacts": out_dir / "contacts.csv",
        "homes": out_dir / "homes.csv",
        "placements": out_dir / "placements.csv",
        "vetoes": out_dir / "vetoes.csv",
        "placement_periods": out_dir / "placement_periods.csv",
        "readme": out_dir / "README.md",
    }
    support = _write_support(scenario, out_dir)
    _write_osm(paths["roads"], scenario)
    _write_geojson(paths["municipalities"], scenario)
    for name in ("schools", "children", "contacts", "homes", "placements", "vetoes",
                 "placement_periods"):
        _write_csv(paths[name], getattr(scenario, name))
    manifest = SampleManifest(
        out_dir=out_dir,
        seed=scenario.seed,
        size=scenario.size,
        **paths,
        n_road_nodes=len(scenario.roads.node_ids),
        n_road_ways=len(scenario.roads.way_ids),
        n_municipalities=len(scenario.municipalities),
        n_schools=len(scenario.schools),
        n_children=len(scenario.children),
        n_sibling_groups=int(scenario.children["sibling_group"].nunique()),
        n_contacts=len(scenario.contacts),
        n_homes=len(scenario.homes),
        n_placements=len(scenario.placements),
        n_vetoes=len(scenario.vetoes),
        n_placement_periods=len(scenario.placement_periods),
        **support,
    )
    paths["readme"].write_text(_readme(scenario, manifest), encoding="utf-8", newline="\n")
    log.info(ngettext("wrote sample {size} (seed {seed}): {n} file",
                      "wrote sample {size} (seed {seed}): {n} files", len(manifest.paths))
             .format(size=scenario.size, seed=scenario.seed, n=len(manifest.paths)))
    return manifest


def _with_history(scenario: Scenario) -> Scenario:
    """Add three years of synthetic placement periods (issue 25)."""
    from matcher.scenarios import history

    return replace(scenario, placement_periods=history.placement_history(
        scenario.children, scenario.homes, seed=scenario.seed, as_of=REFERENCE_DATE))


def _check_options(seed: object, size: object) -> list[Problem]:
    problems = []
    if size not in SIZES:
        problems.append(Problem(source="sample", column="size",
                                message=_("unknown size {size}; use one of {allowed}")
                                .format(size=repr(size), allowed=", ".join(SIZES))))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(Problem(source="sample", column="seed",
                                message=_("seed must be an integer >= 0, got {seed}")
                                .format(seed=repr(seed))))
    return problems


@lru_cache(maxsize=1)
def _transformer() -> Transformer:
    return Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)


# frames (EPSG:4326, formatted as written)


def _lonlat(to_lonlat: Transformer, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.round(np.asarray(lon), 7), np.round(np.asarray(lat), 7)


def _road_frame(roads: _Roads, to_lonlat: Transformer) -> RoadNetwork:
    lon, lat = _lonlat(to_lonlat, roads.x, roads.y)
    lengths = np.array([len(r) for r, _tags in roads.ways], dtype=np.int64)
    refs = np.concatenate([r for r, _tags in roads.ways]) + _NODE_ID_BASE + 1
    return RoadNetwork(
        node_ids=np.arange(len(lon), dtype=np.int64) + _NODE_ID_BASE + 1,
        lon=lon, lat=lat,
        way_ids=np.arange(len(lengths), dtype=np.int64) + _WAY_ID_BASE + 1,
        way_offsets=np.concatenate(([0], np.cumsum(lengths))),
        way_refs=refs,
        way_tags=tuple(t for _refs, t in roads.ways),
    )


def _code(k: np.ndarray | int) -> np.ndarray:
    return np.char.mod("%d", np.asarray(k) + _KOMMUNENUMMER_BASE)


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.char.mod("%d", np.arange(1, n + 1)), width))


def _municipality_frame(munis: list[shapely.Geometry], geo: _Geo,
                        to_lonlat: Transformer) -> gpd.GeoDataFrame:
    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = _lonlat(to_lonlat, xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    geoms = [shapely.orient_polygons(shapely.transform(shapely.segmentize(m, 250.0), project))
             for m in munis]
    largest = [int(np.flatnonzero(geo.muni == k)[0]) for k in range(len(munis))]
    return gpd.GeoDataFrame({
        "kommunenummer": pd.array(_code(np.arange(len(munis))), dtype="string"),
        "kommunenavn": pd.array([f"{geo.names[t]} (syntetisk)" for t in largest],
                                dtype="string"),
    }, geometry=geoms, crs="EPSG:4326")


def _school_frame(s: _Schools, geo: _Geo, to_lonlat: Transformer) -> pd.DataFrame:
    lon, lat = _lonlat(to_lonlat, s.x, s.y)
    return pd.DataFrame({
        "school_id": pd.array(_ids("SK", len(s.x), 4), dtype="string"),
        "name": pd.array(s.name, dtype="string"),
        "lon": lon,
        "lat": lat,
        "kommunenummer": pd.array(_code(geo.muni[s.town]), dtype="string"),
    })


def _na_strings(values: np.ndarray, present: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(np.where(present, values.astype(object), np.array(None)), dtype="string")


def _child_ids(people: _People) -> np.ndarray:
    return _ids("C", len(people.age), 4)


def _group_ids(group: np.ndarray) -> np.ndarray:
    return np.char.add("S", np.char.zfill(np.char.mod("%d", group), 3))


def _child_frame(people: _People, schools: _Schools, geo: _Geo,
                 to_lonlat: Transformer) -> pd.DataFrame:
    lon, lat = _lonlat(to_lonlat, people.x, people.y)
    has_school = people.school >= 0
    slon, slat = _lonlat(to_lonlat, schools.x[people.school], schools.y[people.school])
    waiting = (np.datetime64(REFERENCE_DATE) - people.waiting_days.astype("timedelta64[D]"))
    needs = np.array(people.needs, dtype=object)
    return pd.DataFrame({
        "child_id": pd.array(_child_ids(people), dtype="string"),
        "lon": lon,
        "lat": lat,
        "school_lon": np.where(has_school, slon, np.nan),
        "school_lat": np.where(has_school, slat, np.nan),
        "municipality": pd.array(_code(geo.muni[people.town]), dtype="string"),
        "age": people.age.astype(np.int64),
        "needs": _na_strings(needs, needs != ""),
        "sibling_group": _na_strings(_group_ids(people.group), people.group > 0),
        "urgency": pd.array(np.where(people.urgent, "acute", "planned"), dtype="string"),
        "waiting_since": pd.array(waiting.astype(str), dtype="string"),
        "max_school_minutes": pd.array(np.where(people.max_school > 0, people.max_school,
                                                np.array(None)),
                                       dtype="Int64"),
    })


def _contact_frame(c: _Contacts, people: _People, to_lonlat: Transformer) -> pd.DataFrame:
    lon, lat = _lonlat(to_lonlat, c.x, c.y)
    return pd.DataFrame({
        "child_id": pd.array(_child_ids(people)[c.child], dtype="string"),
        "kind": pd.array(np.array(CONTACT_KINDS)[c.kind], dtype="string"),
        "lon": lon,
        "lat": lat,
        "weight": np.round(c.weight, 2),
    })


def _home_frame(homes: _Homes, people: _People, to_lonlat: Transformer) -> pd.DataFrame:
    lon, lat = _lonlat(to_lonlat, homes.x, homes.y)
    is_kin = homes.kin_family >= 0
    first = np.searchsorted(people.family, np.maximum(homes.kin_family, 0))
    kin_of = np.where(people.group[first] > 0, _group_ids(people.group[first]),
                      _child_ids(people)[first])
    competences = np.array(homes.competences, dtype=object)
    return pd.DataFrame({
        "home_id": pd.array(_ids("H", len(homes.x), 5), dtype="string"),
        "lon": lon,
        "lat": lat,
        "municipality": pd.array(_code(homes.muni), dtype="string"),
        "capacity": homes.capacity.astype(np.int64),
        "competences": _na_strings(competences, competences != ""),
        "min_age": homes.min_age.astype(np.int64),
        "max_age": homes.max_age.astype(np.int64),
        "kind": pd.array(homes.kind, dtype="string"),
        "kin_of": _na_strings(kin_of, is_kin),
        "accepts_sibling_groups": homes.accepts_siblings.astype(bool),
    })


def _with_voice(children: pd.DataFrame, contacts: pd.DataFrame, homes: pd.DataFrame,
                rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Add the child's voice, language, culture and household columns (issue 13).

    Siblings share their languages, culture, avoided municipality and hearing
    date; a kinship home speaks its child's languages and shares its culture.
    """
    munis = sorted(set(children["municipality"].astype(str)) | set(homes["municipality"]
                                                                 .astype(str)))
    voice = _draw_child_voice(children["age"].to_numpy(), children["municipality"].astype(str)
                              .to_numpy(dtype=object), munis, rng)
    group = children["sibling_group"].astype(object).to_numpy()
    first: dict[str, int] = {}
    for i, g in enumerate(group):
        if isinstance(g, str):
            j = first.setdefault(g, i)
            for col in ("avoid_municipalities", "languages", "language_required", "culture"):
                voice[col][i] = voice[col][j]
    children = children.assign(**{c: _text_or_na(v) for c, v in voice.items()})
    limits = _draw_contact_limits(contacts["kind"].astype(str).to_numpy(dtype=object), rng)
    contacts = contacts.assign(max_minutes=pd.array(
        [None if np.isnan(x) else int(x) for x in limits], dtype="Int64"))
    household = _draw_home_household(homes["kind"].astype(str).to_numpy(dtype=object), rng)
    by_child = children.set_index("child_id")
    by_group = children.dropna(subset=["sibling_group"]).drop_duplicates("sibling_group") \
        .set_index("sibling_group")
    for j, (kind, kin) in enumerate(zip(homes["kind"], homes["kin_of"], strict=True)):
        if kind != "kinship" or not isinstance(kin, str):
            continue
        row = by_child.loc[kin] if kin in by_child.index else by_group.loc[kin]
        langs = {household["languages"][j].split(";")[0]}
        if isinstance(row["languages"], str):
            langs |= set(row["languages"].split(";"))
        household["languages"][j] = ";".join(sorted(langs))
        household["culture"][j] = row["culture"] if isinstance(row["culture"], str) else ""
    homes = homes.assign(**{c: _text_or_na(v) for c, v in household.items()})
    return {"children": children[list(CHILD_COLUMNS)], "contacts": contacts[list(CONTACT_COLUMNS)],
            "homes": homes[list(HOME_COLUMNS)]}


def _text_or_na(values: np.ndarray) -> pd.arrays.StringArray:
    return pd.array([None if v == "" else str(v) for v in values], dtype="string")


def _pair_frame(pairs: list[tuple[int, int]], people: _People, homes: _Homes) -> pd.DataFrame:
    child = np.array([c for c, _home in pairs], dtype=np.int64)
    home = np.array([h for _child, h in pairs], dtype=np.int64)
    return pd.DataFrame({
        "child_id": pd.array(_child_ids(people)[child], dtype="string"),
        "home_id": pd.array(_ids("H", len(homes.x), 5)[home], dtype="string"),
    })


# writers


def _banner(scenario: Scenario) -> str:
    return (f"{_SYNTHETIC} data generated by matcher.sample (seed={scenario.seed}, "
            f"size={scenario.size}). Fictional places; no real people.")


def _write_osm(path: Path, scenario: Scenario, *, chunk: int = 200_000) -> None:
    r = scenario.roads
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        fh.write(f'<osm version="0.6" generator="fostermatch matcher.sample ({_SYNTHETIC})">\n')
        fh.write(f"  <!-- {_banner(scenario)} Not OpenStreetMap data. -->\n")
        fh.write(f'  <bounds minlat="{r.lat.min():.7f}" minlon="{r.lon.min():.7f}" '
                 f'maxlat="{r.lat.max():.7f}" maxlon="{r.lon.max():.7f}"/>\n')
        for lo in range(0, len(r.node_ids), chunk):
            sl = slice(lo, lo + chunk)
            fh.write("".join(
                f'  <node id="{i}" lat="{la:.7f}" lon="{lo_:.7f}"/>\n'
                for i, la, lo_ in zip(r.node_ids[sl].tolist(), r.lat[sl].tolist(),
                                      r.lon[sl].tolist(), strict=True)
            ))
        nd = [f'    <nd ref="{ref}"/>\n' for ref in r.way_refs.tolist()]
        tag_xml: dict[Tags, str] = {}
        parts: list[str] = []
        for w, (wid, tags) in enumerate(zip(r.way_ids.tolist(), r.way_tags, strict=True)):
            if tags not in tag_xml:
                tag_xml[tags] = "".join(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>\n"
                                        for k, v in tags)
            parts.append(f'  <way id="{wid}">\n')
            parts.extend(nd[r.way_offsets[w]:r.way_offsets[w + 1]])
            parts.append(tag_xml[tags])
            parts.append("  </way>\n")
            if len(parts) > chunk:
                fh.write("".join(parts))
                parts.clear()
        fh.write("".join(parts))
        fh.write("</osm>\n")


def _write_geojson(path: Path, scenario: Scenario) -> None:
    m = scenario.municipalities
    features = [
        {
            "type": "Feature",
            "properties": {"kommunenummer": str(code), "kommunenavn": str(name)},
            "geometry": shapely.geometry.mapping(geom),
        }
        for code, name, geom in zip(m["kommunenummer"], m["kommunenavn"], m["geometry"],
                                    strict=True)
    ]
    doc = {"type": "FeatureCollection", "name": f"municipalities ({_SYNTHETIC})",
           "description": _banner(scenario), "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8", newline="\n")


def _csv_cells(series: pd.Series) -> list[str]:
    values = series.tolist()
    if pd.api.types.is_bool_dtype(series.dtype):
        return ["true" if v else "false" for v in values]
    if pd.api.types.is_float_dtype(series.dtype):
        digits = 2 if series.name == "weight" else 7
        return ["" if v != v else f"{v:.{digits}f}" for v in values]
    cells = ["" if v is None or v is pd.NA else str(v) for v in values]
    return [f'"{c.replace(chr(34), chr(34) * 2)}"' if any(ch in c for ch in ',"\n') else c
            for c in cells]


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    columns = [_csv_cells(frame[c]) for c in frame.columns]
    lines = [",".join(frame.columns)] + [",".join(row) for row in zip(*columns, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def _readme(scenario: Scenario, m: SampleManifest) -> str:
    kinds = scenario.homes["kind"].value_counts()
    ferries = (f"OSM XML 0.6; the car ferry (`motor_vehicle=yes`, `duration={CAR_FERRY_DURATION}`) "
               "is the only car link across the fjord; the passenger ferry has "
               "`motor_vehicle=no`")
    return f"""# SYNTHETIC sample scenario (seed {scenario.seed}, size {scenario.size})

**{_banner(scenario)}** Every child, contact, home, school, municipality and road
here is invented. Do not use it for casework.

Regenerate with `matcher.sample.generate(out_dir, seed={scenario.seed}, size="{scenario.size}")`;
the same seed and size give byte-identical files. Reference date ("today"):
{REFERENCE_DATE}. Coordinates are EPSG:4326 (lon/lat, 7 decimals); the region is
a fictional fjord landscape in western Norway, laid out in {WORK_CRS} metres.

## Files and counts

| file | rows | notes |
|---|---|---|
| roads.osm | {m.n_road_nodes} nodes, {m.n_road_ways} ways | {ferries} |
| municipalities.geojson | {m.n_municipalities} | kommunenummer, kommunenavn (fictional) |
| schools.csv | {m.n_schools} | {",".join(SCHOOL_COLUMNS)} |
| children.csv | {m.n_children} | {",".join(CHILD_COLUMNS)}; {m.n_sibling_groups} sibling groups |
| contacts.csv | {m.n_contacts} | {",".join(CONTACT_COLUMNS)} |
| homes.csv | {m.n_homes} | {", ".join(f"{k} {kinds.get(k, 0)}" for k in HOME_KINDS)} |
| placements.csv | {m.n_placements} | locked placements (child_id,home_id) |
| vetoes.csv | {m.n_vetoes} | forbidden pairs (child_id,home_id) |
| placement_periods.csv | {m.n_placement_periods} | three years of SYNTHETIC placement periods \
(assumed rates: matcher.scenarios.history) |
| supervisors.csv | {len(scenario.supervisors)} | synthetic supervisors (tilsynspersoner) |
| relief_homes.csv | {len(scenario.relief_homes)} | synthetic relief homes (besøkshjem) |
| venues.csv | {len(scenario.venues)} | synthetic course venues |

## Distributions

{DISTRIBUTIONS.strip() or "See the docstring of matcher.sample."}
"""


# ---- synthetic support (issue 25); the support helper's part of the sample


def _with_relief(children: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add ``relief_weekends`` (:func:`matcher.scenarios.support.relief_weekends`)."""
    return children.assign(relief_weekends=relief_weekends(children, seed))


def _with_support(scenario: Scenario) -> Scenario:
    """Add supervisors, relief homes and venues (:mod:`matcher.scenarios.support`)."""
    return replace(scenario, **support_tables(scenario.children, scenario.homes, scenario.seed))


def _write_support(scenario: Scenario, out_dir: Path) -> dict[str, Path]:
    """Write the support tables; their paths for the manifest."""
    paths = {name: out_dir / f"{name}.csv" for name in ("supervisors", "relief_homes", "venues")}
    for name, path in paths.items():
        _write_csv(path, getattr(scenario, name))
    return paths
