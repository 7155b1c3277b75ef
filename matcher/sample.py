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
    sibling_group,urgency,waiting_since,max_school_minutes``.
``contacts.csv``
    ``child_id,kind,lon,lat,weight``.
``homes.csv``
    ``home_id,lon,lat,municipality,capacity,competences,min_age,max_age,kind,
    kin_of,accepts_sibling_groups``.
``placements.csv``, ``vetoes.csv``
    ``child_id,home_id``: locked placements and forbidden pairs.
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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from matcher.config import ScoringSettings
from matcher.errors import InputError, Problem

__all__ = [
    "CHILD_COLUMNS", "CONTACT_COLUMNS", "DISTRIBUTIONS", "HOME_COLUMNS", "PAIR_COLUMNS",
    "REFERENCE_DATE", "SCHOOL_COLUMNS", "SIZES", "RoadNetwork", "SampleManifest", "Scenario",
    "build", "generate", "write",
]

log = logging.getLogger(__name__)

Size = Literal["small", "region", "national"]
SIZES: tuple[str, ...] = ("small", "region", "national")
REFERENCE_DATE = "2026-11-01"
"""Fixed 'today' of the scenario; every ``waiting_since`` lies before it in 2026."""
WORK_CRS = "EPSG:25833"
"""CRS the scenario is laid out in (metres)."""

NEED_TAGS: tuple[str, ...] = (
    "trauma", "behaviour", "attachment", "disability", "teen", "substance",
)
COMPETENCE_TAGS: tuple[str, ...] = ("TBO-F", "trygg-base", "EFST", "disability", "teen", "PRIDE")
HOME_KINDS: tuple[str, ...] = ("general", "kinship", "emergency", "specialized")
CONTACT_KINDS: tuple[str, ...] = ("parent", "relative", "friend", "activity")

CHILD_COLUMNS: tuple[str, ...] = (
    "child_id", "lon", "lat", "school_lon", "school_lat", "municipality", "age", "needs",
    "sibling_group", "urgency", "waiting_since", "max_school_minutes",
)
CONTACT_COLUMNS: tuple[str, ...] = ("child_id", "kind", "lon", "lat", "weight")
HOME_COLUMNS: tuple[str, ...] = (
    "home_id", "lon", "lat", "municipality", "capacity", "competences", "min_age", "max_age",
    "kind", "kin_of", "accepts_sibling_groups",
)
SCHOOL_COLUMNS: tuple[str, ...] = ("school_id", "name", "lon", "lat", "kommunenummer")
PAIR_COLUMNS: tuple[str, ...] = ("child_id", "home_id")

CAR_FERRY_DURATION = "00:25"
PASSENGER_FERRY_DURATION = "00:15"

_NODE_ID_BASE = 1_000_000_000
_WAY_ID_BASE = 500_000_000
_KOMMUNENUMMER_BASE = 4691
_SYNTHETIC = "SYNTHETIC"

# Name parts for fictional places; combinations that are real municipalities are dropped.
_NAME_HEADS = (
    "Fjord", "Nord", "Aust", "Vest", "Sol", "Kvit", "Bjørk", "Eike", "Lyng", "Stein", "Myr",
    "Kjel", "Rå", "Furu", "Havr", "Skar", "Tjørn", "Ulv", "Gran", "Hegg", "Lind", "Selje",
    "Ask", "Rogn", "Hov", "Brekke", "Strand", "Haug", "Berg", "Li",
)
_NAME_TAILS = (
    "vik", "nes", "dal", "øy", "våg", "sund", "heim", "bø", "eid", "mo", "haug", "vang",
    "seter", "lia", "stad", "fjell",
)
_REAL_NAMES = frozenset({"Vestnes", "Lyngdal", "Askøy", "Norddal"})

# --- distributions (keep in sync with the module docstring) -------------------------------
_AGE_BANDS = ((0, 5, 0.05), (6, 12, 0.40), (13, 17, 0.55))
_SIBLING_SHARE = 0.15
_GROUP_SIZE_P = {2: 0.7, 3: 0.3}
_ACUTE_SHARE = 0.20
_MAX_SCHOOL_SHARE = 0.10
_CONTACTS_P = (0.08, 0.20, 0.27, 0.22, 0.15, 0.08)  # 1..6 contacts
_HAS_PARENTS = 0.85
_KINSHIP_SHARE = 0.10
_EMERGENCY_SHARE = 0.08
_SPECIALIZED_SHARE = 0.12
_KINSHIP_MAX_FAMILY_SHARE = 0.20
_RURAL_HOME_SHARE = 0.25
_NORTH_HOME_FACTOR = 0.6
_CAPACITY_P = {
    "general": (0.15, 0.50, 0.27, 0.08),
    "emergency": (0.25, 0.50, 0.25, 0.0),
    "specialized": (0.20, 0.65, 0.15, 0.0),
}
_COMPETENCE_P = {
    "general": {"PRIDE": 0.85, "trygg-base": 0.25, "teen": 0.10, "EFST": 0.04,
                "disability": 0.04, "TBO-F": 0.01},
    "emergency": {"PRIDE": 0.90, "trygg-base": 0.50, "TBO-F": 0.10, "teen": 0.15},
    "specialized": {"trygg-base": 0.50, "teen": 0.35, "disability": 0.12, "PRIDE": 0.70},
    "kinship": {"PRIDE": 0.25, "trygg-base": 0.10},
}
_AGE_RANGES = {
    "general": (((0, 5), (0, 12), (0, 17), (4, 17), (6, 17), (10, 17), (13, 17)),
                (0.08, 0.20, 0.30, 0.10, 0.14, 0.10, 0.08)),
    "emergency": (((0, 17), (0, 12), (6, 17)), (0.70, 0.20, 0.10)),
    "specialized": (((6, 17), (10, 17), (13, 17)), (0.40, 0.35, 0.25)),
}
_SIBLING_ACCEPT_P = {"general": 0.60, "emergency": 0.50, "specialized": 0.10}

DISTRIBUTIONS = __doc__.split("Distributions\n-------------\n", 1)[1] if __doc__ else ""
"""The "Distributions" section of this docstring, copied into each scenario's README."""


@dataclass(frozen=True)
class _Profile:
    bbox: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    n_towns: int
    n_north: int
    side: tuple[int, int]  # grid nodes per side (odd numbers drawn in this range)
    spacing_m: tuple[float, float]
    town_gap_m: float
    rural_step_m: float
    motorway_step_m: float
    fjord_rel_y: float  # fjord centreline as a fraction of the box height
    fjord_width_m: float
    fjord_amplitude_m: float
    fjord_wavelength_m: float
    n_municipalities: int
    n_children: int
    n_homes: int
    free_places_per_child: float  # cap on free places in general + specialized homes
    n_locked: int
    n_vetoes: int


_PROFILES: dict[str, _Profile] = {
    "small": _Profile(
        bbox=(5.0, 60.2, 6.5, 60.9), n_towns=6, n_north=2, side=(13, 27),
        spacing_m=(95.0, 125.0), town_gap_m=6000.0, rural_step_m=150.0, motorway_step_m=250.0,
        fjord_rel_y=0.64, fjord_width_m=3000.0, fjord_amplitude_m=1500.0,
        fjord_wavelength_m=45000.0, n_municipalities=4, n_children=60, n_homes=150,
        free_places_per_child=2.5, n_locked=2, n_vetoes=4,
    ),
    "region": _Profile(
        bbox=(5.0, 60.2, 6.5, 60.9), n_towns=30, n_north=8, side=(19, 47),
        spacing_m=(85.0, 115.0), town_gap_m=4000.0, rural_step_m=40.0, motorway_step_m=100.0,
        fjord_rel_y=0.66, fjord_width_m=3000.0, fjord_amplitude_m=1500.0,
        fjord_wavelength_m=45000.0, n_municipalities=5, n_children=300, n_homes=2000,
        free_places_per_child=1.0, n_locked=3, n_vetoes=10,
    ),
    "national": _Profile(
        bbox=(4.9, 59.4, 9.0, 62.3), n_towns=300, n_north=75, side=(21, 61),
        spacing_m=(80.0, 110.0), town_gap_m=4000.0, rural_step_m=40.0, motorway_step_m=50.0,
        fjord_rel_y=0.70, fjord_width_m=4000.0, fjord_amplitude_m=4000.0,
        fjord_wavelength_m=90000.0, n_municipalities=9, n_children=1000, n_homes=10000,
        free_places_per_child=1.0, n_locked=3, n_vetoes=25,
    ),
}

Tags = tuple[tuple[str, str], ...]
_Attach = Callable[[int, float, float], int]  # (town, x, y) -> nearest node of that town


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

    @property
    def paths(self) -> tuple[Path, ...]:
        """Return every written file, in a fixed order."""
        return (self.roads, self.municipalities, self.schools, self.children, self.contacts,
                self.homes, self.placements, self.vetoes, self.readme)


# --------------------------------------------------------------------------------------------
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
                                message=f"{out_dir} is a file; pass a folder path"))
    if problems:
        raise InputError("cannot generate the sample scenario", problems)
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
        raise InputError("cannot build the sample scenario", problems)
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
        children=_child_frame(people, schools, geo, to_lonlat),
        contacts=_contact_frame(contacts, people, to_lonlat),
        homes=_home_frame(homes, people, to_lonlat),
        placements=_pair_frame(placements, people, homes),
        vetoes=_pair_frame(vetoes, people, homes),
    )
    log.info(
        "built sample %s (seed %d): %d road nodes, %d ways, %d municipalities, %d schools, "
        "%d children, %d contacts, %d homes", size, seed, len(scenario.roads.node_ids),
        len(scenario.roads.way_ids), len(scenario.municipalities), len(scenario.schools),
        len(scenario.children), len(scenario.contacts), len(scenario.homes),
    )
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
        "readme": out_dir / "README.md",
    }
    _write_osm(paths["roads"], scenario)
    _write_geojson(paths["municipalities"], scenario)
    for name in ("schools", "children", "contacts", "homes", "placements", "vetoes"):
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
    )
    paths["readme"].write_text(_readme(scenario, manifest), encoding="utf-8", newline="\n")
    log.info("wrote sample %s (seed %d): %d files", scenario.size, scenario.seed,
             len(manifest.paths))
    return manifest


def _check_options(seed: object, size: object) -> list[Problem]:
    problems = []
    if size not in SIZES:
        problems.append(Problem(source="sample", column="size",
                                message=f"unknown size {size!r}; use one of {', '.join(SIZES)}"))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(Problem(source="sample", column="seed",
                                message=f"seed must be an integer >= 0, got {seed!r}"))
    return problems


@lru_cache(maxsize=1)
def _transformer() -> Transformer:
    return Transformer.from_crs(WORK_CRS, "EPSG:4326", always_xy=True)


# --------------------------------------------------------------------------------------------
# geography: box, fjord, towns


@dataclass(frozen=True)
class _Geo:
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (m): towns stay inside
    region: shapely.Geometry  # the lon/lat bounding box, in EPSG:25833 metres
    fjord_y0: float
    fjord_amp: float
    fjord_k: float  # 2 pi / wavelength (1/m)
    fjord_phase: float
    fjord_width: float
    fjord: shapely.Geometry
    cx: np.ndarray  # town centres (m)
    cy: np.ndarray
    side: np.ndarray  # grid nodes per side
    spacing: np.ndarray  # metres
    angle: np.ndarray  # radians
    radius: np.ndarray  # metres, centre to farthest grid node
    north: np.ndarray  # bool: north of the fjord
    names: tuple[str, ...]
    muni: np.ndarray  # municipality index of each town

    def fjord_y(self, x: np.ndarray) -> np.ndarray:
        return self.fjord_y0 + self.fjord_amp * np.sin(self.fjord_k * x + self.fjord_phase)

    def fjord_half(self, x: np.ndarray) -> np.ndarray:
        """Vertical half-thickness of the fjord at ``x`` (m)."""
        slope = self.fjord_amp * self.fjord_k * np.cos(self.fjord_k * x + self.fjord_phase)
        return self.fjord_width / 2 * np.sqrt(1 + slope**2)


def _layout(p: _Profile, rng: np.random.Generator) -> _Geo:
    to_xy = Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)
    west, south, east, north = p.bbox
    xs, ys = to_xy.transform([west, east, west, east], [south, south, north, north])
    box = (max(xs[0], xs[2]), max(ys[0], ys[1]), min(xs[1], xs[3]), min(ys[2], ys[3]))
    xmin, ymin, xmax, ymax = box
    region = shapely.transform(shapely.segmentize(shapely.box(west, south, east, north), 0.01),
                               lambda c: np.column_stack(to_xy.transform(c[:, 0], c[:, 1])))
    rxmin, _, rxmax, _ = region.bounds
    k = 2 * np.pi / p.fjord_wavelength_m
    phase = float(rng.uniform(0, 2 * np.pi))
    y0 = ymin + p.fjord_rel_y * (ymax - ymin)
    fx = np.linspace(rxmin - 10_000, rxmax + 10_000, 600)
    fy = y0 + p.fjord_amplitude_m * np.sin(k * fx + phase)
    fjord = shapely.buffer(shapely.linestrings(fx, fy), p.fjord_width_m / 2, cap_style="flat")

    n = p.n_towns
    side = rng.integers((p.side[0] - 1) // 2, (p.side[1] - 1) // 2 + 1, size=n) * 2 + 1
    side = np.sort(side)[::-1]  # biggest town first: town 0 is the regional centre
    spacing = rng.uniform(*p.spacing_m, size=n)
    angle = rng.uniform(-np.pi / 6, np.pi / 6, size=n)
    radius = (side - 1) / 2 * spacing * 1.15 + 150.0
    north_flag = np.zeros(n, dtype=bool)
    north_flag[1 + rng.choice(n - 1, size=p.n_north, replace=False)] = True

    # Towns keep clear of the fjord band (so no straight road between two towns of one shore
    # crosses the water) and of the box edges.
    band = p.fjord_amplitude_m + p.fjord_width_m / 2 * 1.1 + 2500.0
    edge = 3000.0
    cx = np.full(n, np.nan)
    cy = np.full(n, np.nan)
    for i in range(n):
        r = radius[i]
        if north_flag[i]:
            ylo, yhi = y0 + band + r, ymax - edge - r
        else:
            ylo, yhi = ymin + edge + r, y0 - band - r
        for _ in range(50):
            cand_x = rng.uniform(xmin + edge + r, xmax - edge - r, size=64)
            cand_y = rng.uniform(ylo, yhi, size=64)
            placed = ~np.isnan(cx)
            if placed.any():
                d = np.hypot(cand_x[:, None] - cx[placed], cand_y[:, None] - cy[placed])
                ok = (d >= r + radius[placed] + p.town_gap_m).all(axis=1)
            else:
                ok = np.ones(len(cand_x), dtype=bool)
            if ok.any():
                j = int(np.argmax(ok))
                cx[i], cy[i] = cand_x[j], cand_y[j]
                break
        else:  # pragma: no cover - profiles are sized to leave room
            raise RuntimeError(f"no room for town {i} of {n}; lower n_towns or town_gap_m")

    names = _place_names(n, rng)
    muni = _group_towns(cx, cy, p.n_municipalities)
    return _Geo(box=box, region=region, fjord_y0=y0, fjord_amp=p.fjord_amplitude_m, fjord_k=k,
                fjord_phase=phase, fjord_width=p.fjord_width_m, fjord=fjord, cx=cx, cy=cy,
                side=side, spacing=spacing, angle=angle, radius=radius, north=north_flag,
                names=names, muni=muni)


def _place_names(n: int, rng: np.random.Generator) -> tuple[str, ...]:
    pool = [h + t for h in _NAME_HEADS for t in _NAME_TAILS if h + t not in _REAL_NAMES]
    order = rng.permutation(len(pool))[:n]
    return tuple(pool[i] for i in order)


def _group_towns(cx: np.ndarray, cy: np.ndarray, k: int) -> np.ndarray:
    """Group towns into ``k`` compact municipalities: farthest-point seeds, then k-means."""
    seeds = [0]
    d = np.hypot(cx - cx[0], cy - cy[0])
    for _ in range(1, k):
        j = int(np.argmax(d))
        seeds.append(j)
        d = np.minimum(d, np.hypot(cx - cx[j], cy - cy[j]))
    kx, ky = cx[seeds].copy(), cy[seeds].copy()
    for _ in range(20):
        group = np.argmin(np.hypot(cx[:, None] - kx, cy[:, None] - ky), axis=1)
        for g in range(k):
            if (group == g).any():
                kx[g], ky[g] = cx[group == g].mean(), cy[group == g].mean()
    group = np.argmin(np.hypot(cx[:, None] - kx, cy[:, None] - ky), axis=1)
    present = np.unique(group)  # drop any emptied group; number the others west to east
    order = present[np.argsort(kx[present], kind="stable")]
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[group]


# --------------------------------------------------------------------------------------------
# road network


class _RoadBuilder:
    """Accumulate nodes (metres) and ways (node indices, tags)."""

    def __init__(self) -> None:
        self.x = np.empty(4096)
        self.y = np.empty(4096)
        self.n = 0
        self.ways: list[tuple[np.ndarray, Tags]] = []

    def nodes(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        need = self.n + len(x)
        if need > len(self.x):
            cap = max(need, 2 * len(self.x))
            self.x = np.resize(self.x, cap)
            self.y = np.resize(self.y, cap)
        self.x[self.n:need] = x
        self.y[self.n:need] = y
        idx = np.arange(self.n, need)
        self.n = need
        return idx

    def way(self, refs: np.ndarray, tags: Tags) -> None:
        self.ways.append((np.asarray(refs, dtype=np.int64), tags))

    def line(self, a: int, b: int, *, step: float, tags: Tags, rng: np.random.Generator,
             wiggle: float = 0.0, bow_m: float = 0.0) -> np.ndarray:
        """Add a way from node ``a`` to node ``b`` with interior nodes every ``step`` metres.

        Returns the indices of the new interior nodes.
        """
        ax, ay, bx, by = self.x[a], self.y[a], self.x[b], self.y[b]
        length = float(np.hypot(bx - ax, by - ay))
        m = max(2, int(np.ceil(length / step)))
        t = np.linspace(0.0, 1.0, m + 1)[1:-1]
        nx, ny = (ay - by) / length, (bx - ax) / length
        off = np.zeros_like(t)
        if wiggle > 0:
            waves = rng.integers(1, 4)
            amp = rng.uniform(-wiggle, wiggle) * length
            off = amp * np.sin(np.pi * t) * np.sin(waves * np.pi * t + rng.uniform(0, np.pi))
        off = off + bow_m * np.sin(np.pi * t)
        inner = self.nodes(ax + t * (bx - ax) + off * nx, ay + t * (by - ay) + off * ny)
        self.way(np.concatenate(([a], inner, [b])), tags)
        return inner


@dataclass(frozen=True)
class _Roads:
    x: np.ndarray  # metres, EPSG:25833
    y: np.ndarray
    ways: tuple[tuple[np.ndarray, Tags], ...]
    town_start: np.ndarray  # town t owns nodes [town_start[t], town_start[t + 1])
    rural: np.ndarray  # indices of interior nodes of roads between towns (home anchors)


def _hw(kind: str, *extra: tuple[str, str]) -> Tags:
    return (("highway", kind), *extra)


def _roads(geo: _Geo, p: _Profile, rng: np.random.Generator) -> _Roads:
    b = _RoadBuilder()
    n = len(geo.cx)
    town_start = np.zeros(n + 1, dtype=np.int64)
    reversed_done = False
    paths = []
    for t in range(n):
        town_start[t] = b.n
        has_reversed, path = _town_grid(b, geo, t, rng, reversed_row=not reversed_done)
        reversed_done |= has_reversed
        paths.append(path)
    town_start[n] = b.n
    for (a, z), s in zip(paths, geo.spacing.tolist(), strict=True):
        # a footway across one block from each town centre (not drivable)
        b.line(a, z, step=s / 2.5, tags=_hw("footway"), rng=rng, bow_m=s * 0.2)

    def attach(t: int, px: float, py: float) -> int:
        lo, hi = town_start[t], town_start[t + 1]
        return int(lo + np.argmin(np.hypot(b.x[lo:hi] - px, b.y[lo:hi] - py)))

    rural: list[np.ndarray] = []
    big = geo.side >= np.quantile(geo.side, 0.6)
    roundabout_done = False
    n_primary = 0
    for shore in (False, True):
        towns = np.flatnonzero(geo.north == shore)
        for i, j, in_tree in _town_links(geo, towns, rng):
            if j == 0:
                i, j = j, i
            if in_tree and ((big[i] and big[j]) or i == 0):
                cls = "primary"
                # every other primary road is signed 80 km/h, the rest carry no maxspeed
                tags = _hw(cls, ("maxspeed", "80")) if n_primary % 2 == 0 else _hw(cls)
                n_primary += 1
            else:
                cls = "secondary" if in_tree or rng.random() < 0.4 else "tertiary"
                tags = _rural_tags(cls, rng)
            a = attach(i, geo.cx[j], geo.cy[j])
            if not roundabout_done and i == 0:  # town 0 is on the south shore
                a = _roundabout(b, a, geo.cx[j], geo.cy[j], cls, rng)
                roundabout_done = True
            c = attach(j, b.x[a], b.y[a])
            rural.append(b.line(a, c, step=p.rural_step_m, tags=tags, rng=rng, wiggle=0.04))

    _motorway(b, geo, p, attach, rng)
    _ferries(b, geo, p, attach, rng)
    return _Roads(x=b.x[:b.n].copy(), y=b.y[:b.n].copy(), ways=tuple(b.ways),
                  town_start=town_start, rural=np.concatenate(rural))


def _rural_tags(cls: str, rng: np.random.Generator) -> Tags:
    u = rng.random()
    if cls == "secondary":
        return _hw(cls, ("maxspeed", "60")) if u < 0.3 else _hw(cls)
    if u < 0.15:
        return _hw(cls, ("maxspeed", "NO:rural"))
    return _hw(cls)


def _town_grid(b: _RoadBuilder, geo: _Geo, t: int, rng: np.random.Generator, *,
               reversed_row: bool) -> tuple[bool, tuple[int, int]]:
    """Add town ``t``'s street grid (an ellipse of rows and columns).

    Returns whether it holds a ``oneway=-1`` row, and two nodes one block apart near the
    centre (for a footway).
    """
    n = int(geo.side[t])
    s = float(geo.spacing[t])
    c = (n - 1) // 2
    i, j = np.mgrid[0:n, 0:n]
    mask = ((i - c) / (c + 0.5)) ** 2 + ((j - c) / (c + 0.5)) ** 2 <= 1.0
    u = (j[mask] - c) * s + rng.uniform(-0.12, 0.12, mask.sum()) * s
    v = (i[mask] - c) * s + rng.uniform(-0.12, 0.12, mask.sum()) * s
    ca, sa = np.cos(geo.angle[t]), np.sin(geo.angle[t])
    idx = np.full((n, n), -1, dtype=np.int64)
    idx[mask] = b.nodes(geo.cx[t] + ca * u - sa * v, geo.cy[t] + sa * u + ca * v)

    main = _hw("secondary" if n >= 25 else "tertiary", ("maxspeed", "50" if n >= 25 else "40"))
    slow = rng.random(2 * n) < 0.45
    oneway = rng.random(n) < 0.08
    has_reversed = False
    for r in range(n):
        refs = idx[r][mask[r]]
        if len(refs) < 2:
            continue
        if r == c:
            b.way(refs, main)
            continue
        tags = _hw("residential", ("maxspeed", "30")) if slow[r] else _hw("residential")
        if reversed_row and not has_reversed and r == c + 2:
            tags = (*tags, ("oneway", "-1"))
            has_reversed = True
        elif oneway[r]:
            # alternate directions; columns stay two-way so the grid stays strongly connected
            tags = (*tags, ("oneway", "yes"))
            refs = refs if r % 2 else refs[::-1]
        b.way(refs, tags)
    for col in range(n):
        refs = idx[:, col][mask[:, col]]
        if len(refs) < 2:
            continue
        if col == c:
            b.way(refs, main)
        else:
            b.way(refs, _hw("residential", ("maxspeed", "30")) if slow[n + col]
                  else _hw("residential"))
    return has_reversed, (int(idx[c, c]), int(idx[c + 1, c + 2]))


def _town_links(geo: _Geo, towns: np.ndarray,
                rng: np.random.Generator) -> list[tuple[int, int, bool]]:
    """Road links between towns of one shore: the Euclidean MST plus some Gabriel edges."""
    if len(towns) < 2:
        return []
    pts = np.column_stack([geo.cx[towns], geo.cy[towns]])
    if len(towns) == 2:
        pairs = np.array([[0, 1]])
    else:
        tri = Delaunay(pts)
        e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]],
                            tri.simplices[:, [0, 2]]])
        pairs = np.unique(np.sort(e, axis=1), axis=0)
        mid = (pts[pairs[:, 0]] + pts[pairs[:, 1]]) / 2
        half = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T) / 2
        dist = np.hypot(mid[:, None, 0] - pts[None, :, 0], mid[:, None, 1] - pts[None, :, 1])
        dist[np.arange(len(pairs)), pairs[:, 0]] = np.inf
        dist[np.arange(len(pairs)), pairs[:, 1]] = np.inf
        pairs = pairs[(dist >= half[:, None]).all(axis=1)]  # Gabriel graph
    w = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
    graph = coo_matrix((w, (pairs[:, 0], pairs[:, 1])), shape=(len(towns), len(towns)))
    tree = minimum_spanning_tree(graph.tocsr()).tocoo()
    in_tree = {(min(a, z), max(a, z)) for a, z in zip(tree.row.tolist(), tree.col.tolist(),
                                                     strict=True)}
    keep = rng.random(len(pairs)) < 0.5
    links = []
    for (a, z), extra in zip(pairs.tolist(), keep.tolist(), strict=True):
        tree_edge = (a, z) in in_tree
        if tree_edge or extra:
            links.append((int(towns[a]), int(towns[z]), tree_edge))
    return links


def _roundabout(b: _RoadBuilder, a: int, tx: float, ty: float, cls: str,
                rng: np.random.Generator) -> int:
    """Put a roundabout just outside node ``a`` towards (tx, ty); return its exit node."""
    d = np.array([tx - b.x[a], ty - b.y[a]])
    d /= np.hypot(*d)
    cx, cy = b.x[a] + 80 * d[0], b.y[a] + 80 * d[1]
    phi0 = float(np.arctan2(-d[1], -d[0]))  # ring node 0 faces the town
    phi = phi0 + np.linspace(0, 2 * np.pi, 8, endpoint=False)  # counter-clockwise
    ring = b.nodes(cx + 22 * np.cos(phi), cy + 22 * np.sin(phi))
    b.way(np.append(ring, ring[0]), _hw(cls, ("junction", "roundabout")))
    b.way(np.array([a, ring[0]]), _hw(cls))
    stub_end = b.nodes(cx + 200 * np.cos(phi0 + np.pi / 2), cy + 200 * np.sin(phi0 + np.pi / 2))
    b.line(int(ring[2]), int(stub_end[0]), step=60.0, tags=_hw("residential"), rng=rng)
    return int(ring[4])  # faces (tx, ty)


def _motorway(b: _RoadBuilder, geo: _Geo, p: _Profile, attach: _Attach,
              rng: np.random.Generator) -> None:
    """Two oneway carriageways between two large south-shore towns 12-60 km apart, with
    ramps at both ends."""
    south = np.flatnonzero(~geo.north)  # largest first
    pairs = [(int(i), int(j)) for k, i in enumerate(south[:8]) for j in south[k + 1:8]
             if 12_000 <= np.hypot(geo.cx[i] - geo.cx[j], geo.cy[i] - geo.cy[j]) <= 60_000]
    a, z = pairs[0] if pairs else (int(south[0]), int(south[1]))
    ca, cz = np.array([geo.cx[a], geo.cy[a]]), np.array([geo.cx[z], geo.cy[z]])
    d = (cz - ca) / np.hypot(*(cz - ca))
    left = np.array([-d[1], d[0]]) * (1 if rng.random() < 0.5 else -1)
    p0 = ca + d * (geo.radius[a] + 900) + left * 900
    p1 = cz - d * (geo.radius[z] + 900) + left * 900
    m = max(2, int(np.ceil(np.hypot(*(p1 - p0)) / p.motorway_step_m)))
    t = np.linspace(0, 1, m + 1)[:, None]
    base = p0 + t * (p1 - p0)
    right = np.array([d[1], -d[0]])  # right-hand traffic
    fwd = b.nodes(*(base + 12 * right).T)
    back = b.nodes(*(base - 12 * right)[::-1].T)
    mw = _hw("motorway", ("oneway", "yes"), ("maxspeed", "110"))
    b.way(fwd, mw)
    b.way(back, mw)
    link = _hw("motorway_link", ("oneway", "yes"))
    at_a = attach(a, *p0)
    at_z = attach(z, *p1)
    b.line(at_a, int(fwd[0]), step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(int(back[-1]), at_a, step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(int(fwd[-1]), at_z, step=150.0, tags=link, rng=rng, bow_m=60.0)
    b.line(at_z, int(back[0]), step=150.0, tags=link, rng=rng, bow_m=60.0)


def _ferries(b: _RoadBuilder, geo: _Geo, p: _Profile, attach: _Attach,
             rng: np.random.Generator) -> None:
    """The car ferry (the only car link across the fjord) and a passenger-only ferry."""
    xmin, _, xmax, _ = geo.box
    width = xmax - xmin
    north = np.flatnonzero(geo.north)
    south = np.flatnonzero(~geo.north)
    gap = geo.cy[north] - geo.radius[north] - geo.fjord_y(geo.cx[north])
    car_town = int(north[np.argmin(gap)])
    xs = float(np.clip(geo.cx[car_town] + rng.uniform(-3000, 3000),
                       xmin + 0.1 * width, xmax - 0.1 * width))
    xn = float(np.clip(xs + rng.choice([-1, 1]) * rng.uniform(3000, 5000),
                       xmin + 0.05 * width, xmax - 0.05 * width))
    # passenger ferry: away from the car ferry, where towns on both shores are closest
    cand = geo.cx[(np.abs(geo.cx - xs) >= 0.2 * width) & (geo.cx > xmin + 0.1 * width)
                  & (geo.cx < xmax - 0.1 * width)]
    if len(cand):
        shore = geo.fjord_y(cand)
        reach = (np.hypot(geo.cx[south, None] - cand, geo.cy[south, None] - shore).min(axis=0)
                 + np.hypot(geo.cx[north, None] - cand, geo.cy[north, None] - shore).min(axis=0))
        xp = float(cand[np.argmin(reach)])
    else:
        xp = xmin + 0.15 * width if xs > (xmin + xmax) / 2 else xmax - 0.15 * width

    qs, qn, ts, tn = _crossing(b, geo, xs, xn, step=p.rural_step_m, attach=attach,
                               south=south, north=north, rng=rng, road="secondary")
    b.line(qs, qn, step=1500.0, rng=rng, bow_m=300.0, tags=(
        ("route", "ferry"), ("motor_vehicle", "yes"), ("foot", "yes"),
        ("duration", CAR_FERRY_DURATION),
        ("name", f"{geo.names[ts]}–{geo.names[tn]} (syntetisk)")))
    qs, qn, ts, tn = _crossing(b, geo, xp, xp + rng.uniform(-400, 400), step=p.rural_step_m,
                               attach=attach, south=south, north=north, rng=rng,
                               road="tertiary")
    b.line(qs, qn, step=1000.0, rng=rng, tags=(
        ("route", "ferry"), ("foot", "yes"), ("bicycle", "yes"), ("motor_vehicle", "no"),
        ("duration", PASSENGER_FERRY_DURATION),
        ("name", f"Snøggbåt {geo.names[ts]}–{geo.names[tn]} (syntetisk)")))


def _crossing(b: _RoadBuilder, geo: _Geo, xs: float, xn: float, *, step: float, attach: _Attach,
              south: np.ndarray, north: np.ndarray, rng: np.random.Generator,
              road: str) -> tuple[int, int, int, int]:
    """Add two quays at the shores (x = xs south, xn north) with roads to the nearest towns.

    Returns the south and north quay nodes and the two towns they serve.

    A quay road runs along the shore at the town's level, then straight to the water, so it
    never crosses the fjord (towns keep clear of the band the fjord meanders in).
    """
    quays, served = [], []
    for x, towns, sign in ((xs, south, -1.0), (xn, north, 1.0)):
        y = float(geo.fjord_y(np.array([x]))[0] + sign * (geo.fjord_half(np.array([x]))[0] + 40))
        q = int(b.nodes(x, y)[0])
        t = int(towns[np.argmin(np.hypot(geo.cx[towns] - x, geo.cy[towns] - y))])
        a = attach(t, x, geo.cy[t])
        if abs(b.x[a] - x) > 2 * step:
            corner = int(b.nodes(x, b.y[a])[0])
            b.line(a, corner, step=step, tags=_hw(road), rng=rng, wiggle=0.01)
            a = corner
        b.line(a, q, step=step, tags=_hw(road), rng=rng, wiggle=0.03)
        quays.append(q)
        served.append(t)
    return quays[0], quays[1], served[0], served[1]


# --------------------------------------------------------------------------------------------
# municipalities, schools, people, homes


def _municipalities(geo: _Geo) -> list[shapely.Geometry]:
    pts = shapely.points(geo.cx, geo.cy)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=geo.region))
    owner = np.array([int(np.argmax(shapely.contains_xy(c, geo.cx, geo.cy))) for c in cells])
    town_cell = np.empty(len(cells), dtype=object)
    town_cell[owner] = cells
    land = shapely.difference(geo.region, geo.fjord)
    return [shapely.intersection(shapely.union_all(town_cell[geo.muni == k]), land)
            for k in range(int(geo.muni.max()) + 1)]


def _near_town(roads: _Roads, town: np.ndarray, radius_m: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random points within ``radius_m`` metres of a random road node of each ``town``."""
    lo = roads.town_start[town]
    count = roads.town_start[town + 1] - lo
    node = lo + np.floor(rng.random(len(town)) * count).astype(np.int64)
    return _jitter(roads.x[node], roads.y[node], radius_m, rng)


def _jitter(x: np.ndarray, y: np.ndarray, radius_m: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r = radius_m * np.sqrt(rng.random(len(x)))
    a = rng.uniform(0, 2 * np.pi, len(x))
    return x + r * np.cos(a), y + r * np.sin(a)


@dataclass(frozen=True)
class _Schools:
    x: np.ndarray
    y: np.ndarray
    town: np.ndarray
    name: tuple[str, ...]
    by_level: np.ndarray  # (towns, 3): school of a pupil aged 6-12, 13-15, 16-17 in that town


def _schools(geo: _Geo, roads: _Roads, rng: np.random.Generator) -> _Schools:
    """A combined school (small towns) or a barneskule and an ungdomsskule per town, and a
    vidaregåande skule in big towns and in each municipality's largest town."""
    n_towns = len(geo.cx)
    split = geo.side >= 19
    largest = np.zeros(n_towns, dtype=bool)
    largest[np.unique(geo.muni, return_index=True)[1]] = True
    upper = largest | (geo.side >= 31)
    rows: list[tuple[int, str]] = []
    by_level = np.full((n_towns, 3), -1, dtype=np.int64)
    for t in range(n_towns):
        if split[t]:
            by_level[t, 0], by_level[t, 1] = len(rows), len(rows) + 1
            rows += [(t, "barneskule"), (t, "ungdomsskule")]
        else:
            by_level[t, :2] = len(rows)
            rows.append((t, "skule"))
        if upper[t]:
            by_level[t, 2] = len(rows)
            rows.append((t, "vidaregåande skule"))
    for t in range(n_towns):  # 16-17: the nearest upper secondary school of the municipality
        cand = np.flatnonzero(upper & (geo.muni == geo.muni[t]))
        near = cand[np.argmin(np.hypot(geo.cx[cand] - geo.cx[t], geo.cy[cand] - geo.cy[t]))]
        by_level[t, 2] = by_level[near, 2]
    town = np.array([t for t, _ in rows], dtype=np.int64)
    x, y = _near_town(roads, town, 25.0, rng)
    names = tuple(f"{geo.names[t]} {kind} (syntetisk)" for t, kind in rows)
    return _Schools(x=x, y=y, town=town, name=names, by_level=by_level)


@dataclass(frozen=True)
class _People:
    x: np.ndarray
    y: np.ndarray
    town: np.ndarray
    age: np.ndarray
    needs: tuple[str, ...]
    school: np.ndarray  # school index or -1
    family: np.ndarray  # family index of each child
    group: np.ndarray  # sibling group number (1-based) or 0
    urgent: np.ndarray
    waiting_days: np.ndarray
    max_school: np.ndarray  # minutes, 0 = empty
    family_size: np.ndarray  # per family
    family_town: np.ndarray
    family_x: np.ndarray
    family_y: np.ndarray


def _children(geo: _Geo, roads: _Roads, schools: _Schools, p: _Profile,
              rng: np.random.Generator) -> _People:
    n = p.n_children
    n_groups = round(n * _SIBLING_SHARE / sum(k * v for k, v in _GROUP_SIZE_P.items()))
    sizes = rng.choice(list(_GROUP_SIZE_P), p=list(_GROUP_SIZE_P.values()), size=n_groups)
    sizes = sizes[np.cumsum(sizes) <= n]
    fam_size = rng.permutation(np.concatenate([sizes, np.ones(n - sizes.sum(), dtype=int)]))
    n_fam = len(fam_size)
    weight = roads.town_start[1:] - roads.town_start[:-1]
    fam_town = rng.choice(len(geo.cx), p=weight / weight.sum(), size=n_fam)
    fam_x, fam_y = _near_town(roads, fam_town, 150.0, rng)
    fam_urgent = rng.random(n_fam) < _ACUTE_SHARE
    fam_wait = np.where(fam_urgent, rng.integers(0, 31, n_fam), rng.integers(14, 301, n_fam))
    fam_group = np.zeros(n_fam, dtype=int)
    fam_group[fam_size > 1] = np.arange(1, (fam_size > 1).sum() + 1)

    family = np.repeat(np.arange(n_fam), fam_size)
    bands = np.array([b[:2] for b in _AGE_BANDS])
    band = rng.choice(len(_AGE_BANDS), p=[b[2] for b in _AGE_BANDS], size=n)
    age = rng.integers(bands[band, 0], bands[band, 1] + 1)
    needs = _draw_needs(age, rng)

    town = fam_town[family]
    has_school = age >= 6
    level = np.digitize(age, [13, 16])  # 0: 6-12, 1: 13-15, 2: 16-17
    school = np.where(has_school, schools.by_level[town, level], -1)
    limit = rng.choice([20, 25, 30, 60], size=n)
    limit = np.where((age < 10) | (limit == 60), limit, 60)
    max_school = np.where(has_school & (rng.random(n) < _MAX_SCHOOL_SHARE), limit, 0)
    return _People(x=fam_x[family], y=fam_y[family], town=town, age=age, needs=needs,
                   school=school, family=family, group=fam_group[family],
                   urgent=fam_urgent[family], waiting_days=fam_wait[family],
                   max_school=max_school, family_size=fam_size, family_town=fam_town,
                   family_x=fam_x, family_y=fam_y)


def _draw_needs(age: np.ndarray, rng: np.random.Generator) -> tuple[str, ...]:
    n = len(age)
    u = rng.random((len(NEED_TAGS), n))
    p = np.vstack([
        np.full(n, 0.40),                       # trauma
        np.where(age >= 8, 0.22, 0.06),         # behaviour
        np.where(age < 10, 0.30, 0.12),         # attachment
        np.full(n, 0.05),                       # disability
        np.where(age >= 13, 0.65, 0.0),         # teen
        np.where(age >= 14, 0.15, 0.0),         # substance
    ])
    has = u < p
    tags = np.array(NEED_TAGS)
    return tuple(";".join(tags[has[:, i]]) for i in range(n))


@dataclass(frozen=True)
class _Contacts:
    child: np.ndarray
    kind: np.ndarray  # index into CONTACT_KINDS
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray


def _contacts(geo: _Geo, roads: _Roads, people: _People, rng: np.random.Generator) -> _Contacts:
    n, n_fam, n_towns = len(people.age), len(people.family_size), len(geo.cx)
    # parents per family: 0, 1 or 2 locations
    fam_parents = np.where(rng.random(n_fam) < _HAS_PARENTS,
                           np.where(rng.random(n_fam) < 0.6, 1, 2), 0)
    away = rng.random((n_fam, 2)) < 0.30
    other = (people.family_town[:, None] + 1
             + np.floor(rng.random((n_fam, 2)) * (n_towns - 1)).astype(int)) % n_towns
    ptown = np.where(away, other, people.family_town[:, None])
    px, py = _near_town(roads, ptown.ravel(), 150.0, rng)
    px, py = px.reshape(n_fam, 2), py.reshape(n_fam, 2)

    total = rng.choice(np.arange(1, 7), p=_CONTACTS_P, size=n)
    n_par = np.minimum(fam_parents[people.family], total)
    child = np.repeat(np.arange(n), total)
    slot = np.arange(len(child)) - np.repeat(np.cumsum(total) - total, total)
    is_par = slot < n_par[child]
    kind = np.where(is_par, 0, rng.choice([1, 2, 3], p=[0.35, 0.35, 0.30], size=len(child)))
    away_p = np.array([0.0, 0.35, 0.05, 0.05])[kind]
    ctown = people.town[child]
    shift = 1 + np.floor(rng.random(len(child)) * (n_towns - 1)).astype(int)
    ctown = np.where(rng.random(len(child)) < away_p, (ctown + shift) % n_towns, ctown)
    x, y = _near_town(roads, ctown, 150.0, rng)
    fam = people.family[child]
    pslot = np.minimum(slot, 1)
    x = np.where(is_par, px[fam, pslot], x)
    y = np.where(is_par, py[fam, pslot], y)
    lo = np.array([1.0, 0.6, 0.4, 0.3])[kind]
    weight = np.where(kind == 0, 1.0, np.round(lo + rng.random(len(child)) * 0.3, 2))
    return _Contacts(child=child, kind=kind, x=x, y=y, weight=weight)


@dataclass(frozen=True)
class _Homes:
    x: np.ndarray
    y: np.ndarray
    muni: np.ndarray
    kind: tuple[str, ...]
    capacity: np.ndarray
    competences: tuple[str, ...]
    min_age: np.ndarray
    max_age: np.ndarray
    kin_family: np.ndarray  # family index for kinship homes, -1 otherwise
    accepts_siblings: np.ndarray


def _homes(geo: _Geo, roads: _Roads, people: _People, munis: list[shapely.Geometry],
           p: _Profile, rng: np.random.Generator) -> _Homes:
    h = p.n_homes
    n_fam, n_towns = len(people.family_size), len(geo.cx)
    n_kin = min(round(_KINSHIP_SHARE * h), round(_KINSHIP_MAX_FAMILY_SHARE * n_fam))
    n_em = round(_EMERGENCY_SHARE * h)
    n_sp = round(_SPECIALIZED_SHARE * h)
    n_gen = h - n_kin - n_em - n_sp
    kinds = np.repeat(np.array(HOME_KINDS), [n_gen, n_kin, n_em, n_sp])

    # locations of non-kinship homes: towns (by size, north shore thinner) or rural roads
    n_other = h - n_kin
    weight = (roads.town_start[1:] - roads.town_start[:-1]) * np.where(
        geo.north, _NORTH_HOME_FACTOR, 1.0)
    town = rng.choice(n_towns, p=weight / weight.sum(), size=n_other)
    tx, ty = _near_town(roads, town, 150.0, rng)
    anchor = roads.rural[rng.integers(0, len(roads.rural), size=n_other)]
    rx, ry = _jitter(roads.x[anchor], roads.y[anchor], 150.0, rng)
    is_rural = rng.random(n_other) < _RURAL_HOME_SHARE
    ox = np.where(is_rural, rx, tx)
    oy = np.where(is_rural, ry, ty)

    # kinship homes: one per chosen family, near that family
    kin_fam = np.sort(rng.choice(n_fam, size=n_kin, replace=False))
    where = rng.choice(3, p=[0.65, 0.20, 0.15], size=n_kin)
    ktown = people.family_town[kin_fam].copy()
    for i in range(n_kin):
        own = int(ktown[i])
        if where[i] == 1:
            same = np.flatnonzero((geo.muni == geo.muni[own]) & (np.arange(n_towns) != own))
            if len(same):
                ktown[i] = same[rng.integers(0, len(same))]
        elif where[i] == 2:
            ktown[i] = (own + 1 + rng.integers(0, n_towns - 1)) % n_towns
    kx, ky = _near_town(roads, ktown, 150.0, rng)

    x = np.concatenate([ox[:n_gen], kx, ox[n_gen:]])
    y = np.concatenate([oy[:n_gen], ky, oy[n_gen:]])
    kin_family = np.concatenate([np.full(n_gen, -1), kin_fam, np.full(n_em + n_sp, -1)])

    capacity = np.zeros(h, dtype=int)
    min_age = np.zeros(h, dtype=int)
    max_age = np.full(h, 17, dtype=int)
    accepts = np.zeros(h, dtype=bool)
    for kind in ("general", "emergency", "specialized"):
        sel = np.flatnonzero(kinds == kind)
        probs_cap = _capacity_p(kind, p.free_places_per_child * p.n_children, n_gen + n_sp)
        capacity[sel] = rng.choice(4, p=probs_cap, size=len(sel))
        ranges, probs = _AGE_RANGES[kind]
        pick = rng.choice(len(ranges), p=probs, size=len(sel))
        min_age[sel] = np.array(ranges)[pick, 0]
        max_age[sel] = np.array(ranges)[pick, 1]
        accepts[sel] = (capacity[sel] >= 2) & (rng.random(len(sel)) < _SIBLING_ACCEPT_P[kind])
    kin_sel = np.flatnonzero(kinds == "kinship")
    capacity[kin_sel] = people.family_size[kin_fam]
    accepts[kin_sel] = people.family_size[kin_fam] > 1
    competences = _draw_competences(kinds, rng)

    order = rng.permutation(h)
    x, y = x[order], y[order]
    muni = _locate(x, y, munis, geo)
    return _Homes(x=x, y=y, muni=muni, kind=tuple(kinds[order].tolist()),
                  capacity=capacity[order], competences=tuple(competences[i] for i in order),
                  min_age=min_age[order], max_age=max_age[order],
                  kin_family=kin_family[order], accepts_siblings=accepts[order])


def _capacity_p(kind: str, free_places: float, n_homes: int) -> np.ndarray:
    """Capacity 0..3 probabilities; general and specialized homes are full (capacity 0)
    often enough that ``n_homes`` of them offer at most about ``free_places`` places."""
    p = np.array(_CAPACITY_P[kind])
    if kind == "emergency":
        return p
    mean_free = (p[1:] * np.arange(1, 4)).sum() / p[1:].sum()
    full = 1 - free_places / (mean_free * n_homes)
    if full <= p[0]:
        return p
    return np.concatenate(([full], p[1:] / p[1:].sum() * (1 - full)))


def _draw_competences(kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    h = len(kinds)
    has = np.zeros((len(COMPETENCE_TAGS), h), dtype=bool)
    u = rng.random((len(COMPETENCE_TAGS), h))
    for kind, probs in _COMPETENCE_P.items():
        sel = kinds == kind
        for tag, prob in probs.items():
            row = COMPETENCE_TAGS.index(tag)
            has[row] |= sel & (u[row] < prob)
    spec = kinds == "specialized"
    tbo_first = rng.random(h) < 0.6
    both = rng.random(h) < 0.15
    has[COMPETENCE_TAGS.index("TBO-F")] |= spec & (tbo_first | both)
    has[COMPETENCE_TAGS.index("EFST")] |= spec & (~tbo_first | both)
    tags = np.array(COMPETENCE_TAGS)
    return [";".join(tags[has[:, i]]) for i in range(h)]


def _locate(x: np.ndarray, y: np.ndarray, munis: list[shapely.Geometry], geo: _Geo) -> np.ndarray:
    """Municipality index of each point (nearest town's if the point is in none)."""
    inside = np.vstack([shapely.contains_xy(m, x, y) for m in munis])
    nearest = np.argmin(np.hypot(x[:, None] - geo.cx, y[:, None] - geo.cy), axis=1)
    return np.where(inside.any(axis=0), np.argmax(inside, axis=0), geo.muni[nearest])


def _meets(needs: str, competences: str, meets: dict[str, tuple[str, ...]]) -> bool:
    have = set(competences.split(";")) if competences else set()
    return all(have & set(meets[need]) for need in needs.split(";") if need)


def _locks(people: _People, homes: _Homes, child_muni: np.ndarray, p: _Profile,
           rng: np.random.Generator) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Locked placements and vetoes as (child index, home index) pairs."""
    n = len(people.age)
    meets = ScoringSettings().need_competences
    locked: list[tuple[int, int]] = []
    used: set[int] = set()
    for c in rng.permutation(n).tolist():
        if len(locked) >= p.n_locked:
            break
        if people.group[c]:
            continue
        ok = [
            k for k in range(len(homes.kind))
            if homes.kind[k] in ("general", "specialized") and homes.capacity[k] >= 1
            and homes.min_age[k] <= people.age[c] <= homes.max_age[k] and k not in used
            and homes.muni[k] == child_muni[c]
            and _meets(people.needs[c], homes.competences[k], meets)
        ]
        if ok:
            k = ok[int(rng.integers(0, len(ok)))]
            locked.append((c, k))
            used.add(k)

    vetoes: list[tuple[int, int]] = []
    locked_set = set(locked)
    kin = np.flatnonzero(homes.kin_family >= 0)
    if len(kin):
        k = int(kin[rng.integers(0, len(kin))])
        c = int(np.flatnonzero(people.family == homes.kin_family[k])[0])
        vetoes.append((c, k))
    tries = 0
    while len(vetoes) < p.n_vetoes and tries < 100 * p.n_vetoes:
        tries += 1
        c = int(rng.integers(0, n))
        same = np.flatnonzero(homes.muni == child_muni[c])
        if not len(same):
            continue
        pair = (c, int(same[rng.integers(0, len(same))]))
        if pair not in locked_set and pair not in vetoes:
            vetoes.append(pair)
    return locked, sorted(vetoes)


# --------------------------------------------------------------------------------------------
# frames (EPSG:4326, formatted as written)


def _lonlat(to_lonlat: Transformer, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.round(np.asarray(lon), 7), np.round(np.asarray(lat), 7)


def _road_frame(roads: _Roads, to_lonlat: Transformer) -> RoadNetwork:
    lon, lat = _lonlat(to_lonlat, roads.x, roads.y)
    lengths = np.array([len(r) for r, _ in roads.ways], dtype=np.int64)
    refs = np.concatenate([r for r, _ in roads.ways]) + _NODE_ID_BASE + 1
    return RoadNetwork(
        node_ids=np.arange(len(lon), dtype=np.int64) + _NODE_ID_BASE + 1,
        lon=lon, lat=lat,
        way_ids=np.arange(len(lengths), dtype=np.int64) + _WAY_ID_BASE + 1,
        way_offsets=np.concatenate(([0], np.cumsum(lengths))),
        way_refs=refs,
        way_tags=tuple(t for _, t in roads.ways),
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
    return pd.array(np.where(present, values.astype(object), None), dtype="string")


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
        "max_school_minutes": pd.array(np.where(people.max_school > 0, people.max_school, None),
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


def _pair_frame(pairs: list[tuple[int, int]], people: _People, homes: _Homes) -> pd.DataFrame:
    child = np.array([c for c, _ in pairs], dtype=np.int64)
    home = np.array([h for _, h in pairs], dtype=np.int64)
    return pd.DataFrame({
        "child_id": pd.array(_child_ids(people)[child], dtype="string"),
        "home_id": pd.array(_ids("H", len(homes.x), 5)[home], dtype="string"),
    })


# --------------------------------------------------------------------------------------------
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

## Distributions

{DISTRIBUTIONS.strip() or "See the docstring of matcher.sample."}
"""
