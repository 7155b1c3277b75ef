"""The Oslo demonstration: SYNTHETIC children, homes and resource families on real Oslo data.

Real: the Oslo road network (OSM), the SSB 250 m population grid, the 2024
municipality polygons and the primary schools, from the repository's
``data/`` folder (see ``data/SOURCES.md``). Synthetic: every child, home and
family, drawn with the distribution tables of :mod:`matcher.scenarios.tables`
(the same as the fjord sample's).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from matcher import schema
from matcher.config import Settings
from matcher.errors import InputError
from matcher.i18n import format_number, ngettext
from matcher.i18n import gettext as _
from matcher.io import readers
from matcher.network import Network
from matcher.planning.areas import _centres, read_municipalities
from matcher.planning.common import _lonlat, _xy
from matcher.scenarios.support import support_tables
from matcher.scenarios.tables import (
    _ACUTE_SHARE,
    _AGE_BANDS,
    _AGE_RANGES,
    _CAPACITY_P,
    _EMERGENCY_SHARE,
    _SPECIALIZED_SHARE,
    _draw_child_voice,
    _draw_competences,
    _draw_home_household,
    _draw_needs,
)
from matcher.schema import Inputs

__all__ = ["OSLO_FILES", "OSLO_REFERENCE_DATE", "OsloScenario", "oslo_scenario"]

logger = logging.getLogger(__name__)

OSLO_FILES: dict[str, str] = {
    "osm": "oslo-east-filtered.osm.pbf",
    "population": "befolkning_250m_2023_oslo.gpkg",
    "municipalities": "kommuner_2024_S.geojson",
    "schools": "grunnskoler_norge_geocoded.csv",
}
"""Files of the data folder used by :func:`oslo_scenario`."""
OSLO_REFERENCE_DATE = "2026-11-01"

README = """# SYNTHETIC children and homes on real Oslo data

Every child and foster home in `children.csv` and `homes.csv` is **fictional**
(SYNTHETIC), drawn by `matcher.scenarios.oslo.oslo_scenario` on real open data:
the Oslo road network (© OpenStreetMap contributors, ODbL 1.0), the SSB 250 m
population grid, the 2024 municipality polygons (based on Kartverket data) and
the Norwegian primary schools. See data/SOURCES.md in the repository.
"""
"""Written beside the demo's tables."""


@dataclass(frozen=True)
class OsloScenario:
    """Synthetic children and homes on real Oslo data.

    Attributes
    ----------
    seed
        The generator seed.
    inputs
        Validated inputs (children, homes; no contacts, locks or vetoes).
    children, homes
        The raw tables (text tags), exactly as a CSV would hold them.
    net
        The Oslo road network.
    municipalities
        Municipality polygons touching the network (the working CRS, ``network.crs``).
    population
        Populated SSB 250 m cells within the network extent (the working CRS).
    resource_families
        A synthetic resource-family table.
    as_of
        Reference date of ``waiting_since``.
    supervisors, relief_homes, venues
        Synthetic support tables (issue 25, :mod:`matcher.scenarios.support`).
    """

    seed: int
    inputs: Inputs
    children: pd.DataFrame
    homes: pd.DataFrame
    net: Network
    municipalities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    resource_families: pd.DataFrame
    as_of: datetime.date
    supervisors: pd.DataFrame = field(default_factory=pd.DataFrame)
    relief_homes: pd.DataFrame = field(default_factory=pd.DataFrame)
    venues: pd.DataFrame = field(default_factory=pd.DataFrame)


def oslo_scenario(data_dir: str | Path, *, seed: int = 1, n_children: int = 150,
                  n_homes: int = 60, n_families: int = 8, osm: str = OSLO_FILES["osm"],
                  extent_metres: float = 200.0, settings: Settings | None = None,
                  cache_dir: str | Path | None = None) -> OsloScenario:
    """Build the Oslo demonstration: SYNTHETIC children and homes on real data.

    Real: the Oslo road network (OSM), the SSB 250 m population grid, the
    municipality polygons (Kartverket-derived) and the primary schools
    (Udir list, geocoded). Synthetic: every child, home and resource family.
    Children, homes and families sit on centres of populated cells within
    ``extent_metres`` of the road network and inside Oslo (0301), drawn with
    probability proportional to the cell's population; a child aged 6 or more
    attends the nearest real school in the network extent (straight line).

    Distributions: those of the fjord sample (:mod:`matcher.scenarios.tables`):
    age bands, needs by age, urgency and waiting days; home kinds (without
    kinship homes), capacities, competences and approved age ranges.

    Parameters
    ----------
    data_dir
        Folder holding :data:`OSLO_FILES` (the repository's ``data/``).
    seed
        Seed of ``numpy.random.default_rng``.
    osm
        Road network file in ``data_dir`` (``oslo-center.osm.pbf`` also works).
    cache_dir
        Network cache folder (optional).

    Raises
    ------
    InputError
        If a file is missing (named) or the scenario does not validate.
    """
    from matcher import network as network_mod

    settings = settings or Settings()
    data = Path(data_dir)
    files = {**OSLO_FILES, "osm": osm}
    missing = [name for name in files.values() if not (data / name).is_file()]
    if missing:
        raise InputError(ngettext("{folder}: missing data file {missing}; see data/SOURCES.md",
                                  "{folder}: missing data files {missing}; see data/SOURCES.md",
                                  len(missing)).format(folder=data, missing=", ".join(missing)))
    rng = np.random.default_rng(seed)
    net = network_mod.build(data / files["osm"], settings.network, cache_dir=cache_dir)
    tree = cKDTree(np.column_stack([net.x, net.y]))
    munis = read_municipalities(data / files["municipalities"], settings=settings)
    oslo = munis.loc[munis["area_id"] == "0301"].geometry.iloc[0]
    cells = readers.read_population(data / files["population"], crs=settings.crs)
    cx, cy = _centres(cells)
    ok = (tree.query(np.column_stack([cx, cy]))[0] <= extent_metres) & \
        shapely.contains_xy(oslo, cx, cy)
    cells = cells[ok].reset_index(drop=True)
    cx, cy = cx[ok], cy[ok]
    if len(cells) == 0:
        raise InputError(_("{file}: no populated Oslo cell lies within {metres} m of this "
                           "network").format(file=files["osm"],
                                             metres=format_number(extent_metres, 0)))
    bbox = shapely.box(*shapely.total_bounds(shapely.points(net.x, net.y)))
    munis = munis[shapely.intersects(munis.geometry.to_numpy(), bbox)].reset_index(drop=True)

    schools = pd.read_csv(data / files["schools"], sep=";")
    sx, sy = _xy(schools["lng"], schools["lat"], settings.crs)
    near = tree.query(np.column_stack([sx, sy]))[0] <= extent_metres
    sx, sy = sx[near], sy[near]
    s_lon = schools["lng"].to_numpy(dtype=float)[near]
    s_lat = schools["lat"].to_numpy(dtype=float)[near]
    p = cells["population"].to_numpy(dtype=float)
    p = p / p.sum()

    # children: the sample's age bands, needs and urgency
    pick = rng.choice(len(cells), size=n_children, p=p)
    bands = np.array([b[:2] for b in _AGE_BANDS])
    band = rng.choice(len(_AGE_BANDS), p=[b[2] for b in _AGE_BANDS], size=n_children)
    age = rng.integers(bands[band, 0], bands[band, 1] + 1)
    needs = _draw_needs(age, rng)
    acute = rng.random(n_children) < _ACUTE_SHARE
    days = np.where(acute, rng.integers(0, 31, n_children), rng.integers(14, 301, n_children))
    ref = datetime.date.fromisoformat(OSLO_REFERENCE_DATE)
    lon, lat = _lonlat(cx[pick], cy[pick], settings.crs)
    school = np.full(n_children, -1, dtype=np.int64)
    if len(sx):
        _distance, nearest = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([cx[pick],
                                                                               cy[pick]]))
        school = np.where(age >= 6, nearest, -1)
    children = pd.DataFrame({
        "child_id": [f"OSL-C{i + 1:04d}" for i in range(n_children)],
        "lon": np.round(lon, 7), "lat": np.round(lat, 7),
        "school_lon": [f"{s_lon[s]:.7f}" if s >= 0 else "" for s in school],
        "school_lat": [f"{s_lat[s]:.7f}" if s >= 0 else "" for s in school],
        "municipality": "0301", "age": age, "needs": list(needs), "sibling_group": "",
        "urgency": np.where(acute, "acute", "planned"),
        "waiting_since": [(ref - datetime.timedelta(days=int(d))).isoformat() for d in days],
        "max_school_minutes": "",
    })

    # homes: the sample's kinds (no kinship homes here), capacities, competences, ages
    pick = rng.choice(len(cells), size=n_homes, p=p)
    u = rng.random(n_homes)
    kind = np.where(u < _EMERGENCY_SHARE, "emergency",
                    np.where(u < _EMERGENCY_SHARE + _SPECIALIZED_SHARE, "specialized",
                             "general"))
    capacity = np.array([int(rng.choice(4, p=_CAPACITY_P[k])) for k in kind], dtype=np.int64)
    comps = _draw_competences(kind, rng)
    lo, hi = [], []
    for k in kind:
        ranges, probs = _AGE_RANGES[str(k)]
        a, b = ranges[int(rng.choice(len(ranges), p=probs))]
        lo.append(a)
        hi.append(b)
    lon, lat = _lonlat(cx[pick], cy[pick], settings.crs)
    homes = pd.DataFrame({
        "home_id": [f"OSL-H{i + 1:04d}" for i in range(n_homes)],
        "lon": np.round(lon, 7), "lat": np.round(lat, 7), "municipality": "0301",
        "capacity": capacity, "competences": comps, "min_age": lo, "max_age": hi,
        "kind": kind, "kin_of": "", "accepts_sibling_groups": capacity >= 2,
    })
    # the child's voice and the homes' households (issue 13), from their own random stream so
    # that the columns above keep their values
    voice_rng = np.random.default_rng([seed, 13])
    voice = _draw_child_voice(age, np.full(n_children, "0301", dtype=object), ["0301"],
                              voice_rng, reference_date=OSLO_REFERENCE_DATE)
    children = children.assign(**voice)
    homes = homes.assign(**_draw_home_household(kind.astype(object), voice_rng))
    inputs = schema.validate(children, homes, settings=settings.scoring,
                             labels={"children": "oslo children", "homes": "oslo homes"})
    pick = rng.choice(len(cells), size=n_families, p=p, replace=False)
    lon, lat = _lonlat(cx[pick], cy[pick], settings.crs)
    families = pd.DataFrame({"resource_id": [f"OSL-R{i + 1:02d}" for i in range(n_families)],
                             "lon": np.round(lon, 7), "lat": np.round(lat, 7),
                             "municipality": "0301", "cooperation": "Oslo"})
    logger.info(_("Oslo scenario (seed {seed}): {children} children, {homes} homes, "
                  "{families} resource families, {cells} cells, {schools} schools")
                .format(seed=seed, children=format_number(n_children),
                        homes=format_number(n_homes), families=format_number(n_families),
                        cells=format_number(len(cells)), schools=format_number(len(sx))))
    return OsloScenario(seed=seed, inputs=inputs, children=children, homes=homes, net=net,
                        municipalities=munis, population=cells, resource_families=families,
                        as_of=ref, **_oslo_support(children, homes, seed))


def _oslo_support(children: pd.DataFrame, homes: pd.DataFrame, seed: int
                  ) -> dict[str, pd.DataFrame]:
    """Synthetic supervisors, relief homes and venues (:mod:`matcher.scenarios.support`)."""
    return support_tables(children.assign(sibling_group=children.get("sibling_group")),
                          homes, seed, prefix="OSL-SYN")
