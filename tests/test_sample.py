"""Tests of the synthetic scenario generator (matcher.sample)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import shapely
from conftest import Sample
from pyproj import Transformer
from scipy.spatial import cKDTree

from matcher import schema
from matcher.config import ScoringSettings
from matcher.errors import InputError
from matcher.scenarios import fjord as sample
from matcher.scenarios import tables as vocab

REAL_MUNICIPALITIES = Path(__file__).resolve().parents[1] / "data" / (
    "kommuner_2024_S.geojson"
)
FERRY_TAGS = ["route", "motor_vehicle", "foot", "duration"]


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small(small_sample: Sample) -> sample.SampleManifest:
    return small_sample.manifest


@pytest.fixture(scope="module")
def tables(small: sample.SampleManifest) -> dict[str, pd.DataFrame]:
    names = ("children", "contacts", "homes", "schools", "placements", "vetoes")
    return {n: _read(small.out_dir, f"{n}.csv") for n in names}


@pytest.fixture(scope="module")
def munis(small: sample.SampleManifest) -> gpd.GeoDataFrame:
    return gpd.read_file(small.municipalities)


def _load(path: Path) -> nx.MultiDiGraph:
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = saved + FERRY_TAGS
    try:
        return ox.graph_from_xml(path, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = saved


@pytest.fixture(scope="module")
def graph(small: sample.SampleManifest) -> nx.MultiDiGraph:
    return _load(small.roads)


def _car_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    keep = [
        (u, v, k) for u, v, k, d in graph.edges(keys=True, data=True)
        if d.get("motor_vehicle") != "no" and d.get("highway") != "footway"
    ]
    return graph.edge_subgraph(keep).copy()


# --- files, determinism -------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(small: sample.SampleManifest, tmp_path: Path) -> None:
    again = sample.generate(tmp_path / "again", seed=1, size="small")
    assert _digests(again.out_dir) == _digests(small.out_dir)
    assert len(_digests(small.out_dir)) == 13  # 10 + supervisors, relief_homes, venues


def test_other_seed_gives_other_scenario(small: sample.SampleManifest, tmp_path: Path) -> None:
    other = sample.generate(tmp_path / "other", seed=2)
    assert _digests(other.out_dir)["children.csv"] != _digests(small.out_dir)["children.csv"]


def test_manifest_lists_written_files_and_counts(
    small: sample.SampleManifest, tables: dict[str, pd.DataFrame]
) -> None:
    assert all(p.is_file() and p.parent == small.out_dir for p in small.paths)
    assert small.n_children == len(tables["children"])
    assert small.n_homes == len(tables["homes"])
    assert small.n_contacts == len(tables["contacts"])
    assert 2_000 <= small.n_road_nodes <= 6_000
    assert 40 <= small.n_children <= 80
    assert small.n_homes == 150
    assert 3 <= small.n_municipalities <= 5
    assert 1 <= small.n_placements <= 3


def test_small_generates_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    sample.generate(tmp_path, seed=7)
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("children.csv", sample.CHILD_COLUMNS),
        ("contacts.csv", sample.CONTACT_COLUMNS),
        ("homes.csv", sample.HOME_COLUMNS),
        ("schools.csv", sample.SCHOOL_COLUMNS),
        ("placements.csv", sample.PAIR_COLUMNS),
        ("vetoes.csv", sample.PAIR_COLUMNS),
    ],
)
def test_csv_columns_are_exact(small: sample.SampleManifest, name: str,
                               columns: tuple[str, ...]) -> None:
    header = (small.out_dir / name).read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(columns)


def test_child_columns_match_brief() -> None:
    assert ",".join(sample.CHILD_COLUMNS) == (
        "child_id,lon,lat,school_lon,school_lat,municipality,age,needs,sibling_group,urgency,"
        "waiting_since,max_school_minutes,avoid_municipalities,languages,language_required,"
        "culture,heard_on,relief_weekends"
    )


def test_region_fills_the_voice_columns_plausibly() -> None:
    """Issue 13: wishes, languages, culture, hearings, contact limits and households."""
    region = sample.build(seed=1, size="region")
    ch, ho, co = region.children, region.homes, region.contacts
    settings = ScoringSettings()
    inputs = schema.validate(ch, ho, co, settings=settings)  # every value is valid
    langs = inputs.children["languages"]
    assert 0.85 <= np.mean([bool(x) for x in langs]) <= 0.97
    assert np.mean([bool({"nb", "nn"} & set(x)) for x in langs]) >= 0.8
    required = inputs.children["language_required"]
    assert 0 < required.sum() <= 0.05 * len(ch)
    assert all(not ({"nb", "nn"} & set(x)) for x in langs[required])  # only without Norwegian
    avoid = inputs.children["avoid_municipalities"]
    assert 0.02 <= np.mean([bool(a) for a in avoid]) <= 0.12
    assert all(m not in a for m, a in zip(inputs.children["municipality"], avoid, strict=True))
    old = inputs.children["age"] >= 7
    assert 0.1 <= inputs.children.loc[old, "heard_on"].isna().mean() <= 0.25
    assert inputs.children.loc[~old, "heard_on"].isna().all()
    limits = inputs.contacts["max_minutes"].dropna()
    assert 0.03 <= len(limits) / len(co) <= 0.2 and set(limits) <= {20.0, 30.0, 45.0, 60.0}
    own = inputs.homes["own_children_ages"]
    assert 0.45 <= np.mean([bool(a) for a in own]) <= 0.65
    assert all(0 <= a <= 20 for ages in own for a in ages)
    # siblings share their wishes; kinship homes speak their child's languages
    groups = inputs.children.dropna(subset=["sibling_group"]).groupby("sibling_group")
    assert (groups["languages"].nunique() == 1).all()
    kin = inputs.homes[inputs.homes["kind"] == "kinship"]
    by_child = inputs.children.set_index("child_id")["languages"]
    by_group = inputs.children.dropna(subset=["sibling_group"]).drop_duplicates(
        "sibling_group").set_index("sibling_group")["languages"]
    for home_langs, target in zip(kin["languages"], kin["kin_of"], strict=True):
        child_langs = by_child.get(target, by_group.get(target))
        assert set(child_langs) <= set(home_langs)


def test_files_say_synthetic(small: sample.SampleManifest, tables: dict[str, pd.DataFrame],
                             munis: gpd.GeoDataFrame) -> None:
    head = small.roads.read_text(encoding="utf-8")[:1000]
    assert "SYNTHETIC" in head and "OSMnx" not in head
    assert "SYNTHETIC" in small.municipalities.read_text(encoding="utf-8")[:300]
    readme = small.readme.read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "seed 1" in readme and "size small" in readme
    assert sample.DISTRIBUTIONS.strip() and sample.DISTRIBUTIONS.strip() in readme
    assert tables["schools"]["name"].str.endswith("(syntetisk)").all()
    assert munis["kommunenavn"].str.endswith("(syntetisk)").all()


def test_coordinates_have_seven_decimals(small: sample.SampleManifest) -> None:
    row = small.children.read_text(encoding="utf-8").splitlines()[1].split(",")
    assert len(row[1].split(".")[1]) == 7 and len(row[2].split(".")[1]) == 7


# --- ids and references -------------------------------------------------------------------


def test_ids_are_unique_and_pseudonymous(tables: dict[str, pd.DataFrame]) -> None:
    children, homes, schools = tables["children"], tables["homes"], tables["schools"]
    assert children["child_id"].is_unique and children["child_id"].str.fullmatch(r"C\d{4}").all()
    assert homes["home_id"].is_unique and homes["home_id"].str.fullmatch(r"H\d{5}").all()
    assert schools["school_id"].is_unique
    groups = children.loc[children["sibling_group"] != "", "sibling_group"]
    assert groups.str.fullmatch(r"S\d{3}").all()


def test_references_are_consistent(tables: dict[str, pd.DataFrame]) -> None:
    children, homes = tables["children"], tables["homes"]
    child_ids, home_ids = set(children["child_id"]), set(homes["home_id"])
    assert set(tables["contacts"]["child_id"]) <= child_ids
    for name in ("placements", "vetoes"):
        assert set(tables[name]["child_id"]) <= child_ids
        assert set(tables[name]["home_id"]) <= home_ids
    kin = homes[homes["kind"] == "kinship"]
    groups = set(children["sibling_group"]) - {""}
    assert len(kin) > 0 and kin["kin_of"].isin(child_ids | groups).all()
    assert (homes.loc[homes["kind"] != "kinship", "kin_of"] == "").all()
    lonely = children.loc[children["sibling_group"] == "", "child_id"]
    grouped = children.loc[children["sibling_group"] != "", "child_id"]
    assert not kin["kin_of"].isin(grouped).any()  # a sibling's kin home names the group
    assert kin["kin_of"].isin(set(lonely) | groups).all()


def test_kinship_homes_are_mostly_in_the_childs_municipality(
    tables: dict[str, pd.DataFrame],
) -> None:
    c, h = tables["children"], tables["homes"]
    muni_of = dict(zip(c["child_id"], c["municipality"], strict=True))
    muni_of |= dict(zip(c["sibling_group"], c["municipality"], strict=True))
    kin = h[h["kind"] == "kinship"]
    same = (kin["kin_of"].map(muni_of) == kin["municipality"]).mean()
    assert same >= 0.5


def test_osm_ids_positive_and_unique(small: sample.SampleManifest) -> None:
    text = small.roads.read_text(encoding="utf-8")
    nodes = np.array(re.findall(r'<node id="(\d+)"', text), dtype=np.int64)
    ways = np.array(re.findall(r'<way id="(\d+)"', text), dtype=np.int64)
    refs = np.array(re.findall(r'<nd ref="(\d+)"', text), dtype=np.int64)
    assert len(nodes) == small.n_road_nodes and len(ways) == small.n_road_ways
    assert (nodes > 0).all() and len(np.unique(nodes)) == len(nodes)
    assert (ways > 0).all() and len(np.unique(ways)) == len(ways)
    assert np.isin(refs, nodes).all() and np.isin(nodes, refs).all()


# --- value domains ------------------------------------------------------------------------


def test_children_values(tables: dict[str, pd.DataFrame]) -> None:
    c = tables["children"]
    age = c["age"].astype(int)
    assert age.between(0, 17).all()
    needs = {t for v in c["needs"] if v for t in v.split(";")}
    assert needs <= set(ScoringSettings().need_competences) and needs <= set(vocab.NEED_TAGS)
    assert set(c["urgency"]) <= {"acute", "planned"} and (c["urgency"] == "acute").any()
    waiting = pd.to_datetime(c["waiting_since"])
    assert (waiting.dt.year == 2026).all()
    assert (waiting <= pd.Timestamp(sample.REFERENCE_DATE)).all()
    no_school = c["school_lon"] == ""
    assert (no_school == (age < 6)).all()
    assert ((c["school_lat"] == "") == no_school).all()
    limits = c.loc[c["max_school_minutes"] != "", "max_school_minutes"].astype(int)
    assert len(limits) < len(c) / 3 and limits.between(10, 90).all()
    assert c.loc[age < 13, "needs"].str.contains("teen").sum() == 0


def test_sibling_groups_share_municipality_and_home(tables: dict[str, pd.DataFrame]) -> None:
    c = tables["children"]
    grouped = c[c["sibling_group"] != ""].groupby("sibling_group")
    assert grouped.ngroups >= 2
    assert grouped.size().between(2, 3).all()
    for col in ("municipality", "lon", "lat", "urgency", "waiting_since"):
        assert (grouped[col].nunique() == 1).all(), col
    share = (c["sibling_group"] != "").mean()
    assert 0.05 <= share <= 0.30


def test_homes_values(tables: dict[str, pd.DataFrame]) -> None:
    h = tables["homes"]
    assert set(h["kind"]) == set(vocab.HOME_KINDS)
    assert h["capacity"].astype(int).between(0, 3).all() and (h["capacity"] == "0").any()
    lo, hi = h["min_age"].astype(int), h["max_age"].astype(int)
    assert (lo <= hi).all() and lo.between(0, 17).all() and hi.between(0, 17).all()
    tags = {t for v in h["competences"] if v for t in v.split(";")}
    assert tags <= set(ScoringSettings().competences)
    special = h.loc[h["kind"] == "specialized", "competences"]
    assert special.str.contains("TBO-F|EFST").all()
    assert set(h["accepts_sibling_groups"]) <= {"true", "false"}
    share = h["kind"].value_counts(normalize=True)
    assert 0.6 <= share["general"] <= 0.8


def test_contacts_values(tables: dict[str, pd.DataFrame]) -> None:
    k = tables["contacts"]
    per_child = k.groupby("child_id").size()
    assert len(per_child) == len(tables["children"])
    assert per_child.between(1, 6).all()
    assert set(k["kind"]) <= set(vocab.CONTACT_KINDS)
    assert k["weight"].astype(float).between(0.0, 1.0, inclusive="right").all()
    with_parent = k.loc[k["kind"] == "parent", "child_id"].nunique()
    assert with_parent / len(per_child) >= 0.6


def test_placements_fit_capacity_and_ages(tables: dict[str, pd.DataFrame]) -> None:
    c = tables["children"].set_index("child_id")
    h = tables["homes"].set_index("home_id")
    p = tables["placements"]
    assert p["child_id"].is_unique
    per_home = p.groupby("home_id").size()
    assert (per_home <= h.loc[per_home.index, "capacity"].astype(int)).all()
    age = c.loc[p["child_id"], "age"].astype(int).to_numpy()
    home = h.loc[p["home_id"]]
    assert ((home["min_age"].astype(int) <= age) & (age <= home["max_age"].astype(int))).all()
    meets = ScoringSettings().need_competences
    for needs, competences in zip(c.loc[p["child_id"], "needs"], home["competences"],
                                  strict=True):
        have = set(competences.split(";"))
        assert all(have & set(meets[n]) for n in needs.split(";") if n)
    locked = set(zip(p["child_id"], p["home_id"], strict=True))
    vetoed = set(zip(tables["vetoes"]["child_id"], tables["vetoes"]["home_id"], strict=True))
    assert not locked & vetoed


# --- geography ----------------------------------------------------------------------------


def test_municipalities_file(munis: gpd.GeoDataFrame) -> None:
    assert munis.crs.to_epsg() == 4326
    assert list(munis.columns) == ["kommunenummer", "kommunenavn", "geometry"]
    assert munis["kommunenummer"].str.fullmatch(r"469\d").all()
    assert munis["kommunenummer"].is_unique and munis.is_valid.all()
    west, south, east, north = munis.total_bounds
    assert west >= 4.9 and east <= 6.6 and south >= 60.1 and north <= 61.0


@pytest.mark.parametrize(("table", "column"), [("children", "municipality"),
                                               ("homes", "municipality"),
                                               ("schools", "kommunenummer")])
def test_points_lie_in_their_municipality(tables: dict[str, pd.DataFrame],
                                          munis: gpd.GeoDataFrame, table: str,
                                          column: str) -> None:
    frame = tables[table]
    polygons = munis.set_index("kommunenummer").geometry
    inside = [shapely.contains_xy(polygons[code], float(lon), float(lat))
              for code, lon, lat in zip(frame[column], frame["lon"], frame["lat"], strict=True)]
    assert all(inside)


def test_schools_are_in_the_childs_municipality(tables: dict[str, pd.DataFrame]) -> None:
    c = tables["children"]
    s = tables["schools"].set_index(["lon", "lat"])
    pupils = c[c["school_lon"] != ""]
    codes = s.loc[list(zip(pupils["school_lon"], pupils["school_lat"], strict=True)),
                  "kommunenummer"]
    assert (codes.to_numpy() == pupils["municipality"].to_numpy()).all()


def test_points_lie_near_roads(tables: dict[str, pd.DataFrame], graph: nx.MultiDiGraph) -> None:
    to_xy = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True)
    xy = np.column_stack(to_xy.transform(*np.array([[d["x"], d["y"]]
                                                    for _, d in graph.nodes(data=True)]).T))
    tree = cKDTree(xy)
    for table, metres in (("children", 300), ("homes", 300), ("schools", 100),
                          ("contacts", 300)):
        f = tables[table]
        pts = np.column_stack(to_xy.transform(f["lon"].astype(float), f["lat"].astype(float)))
        assert tree.query(pts)[0].max() < metres, table


def test_no_real_municipality_names(munis: gpd.GeoDataFrame,
                                    tables: dict[str, pd.DataFrame]) -> None:
    assert REAL_MUNICIPALITIES.is_file(), "see data/SOURCES.md"
    real = set(gpd.read_file(REAL_MUNICIPALITIES)["kommunenavn"])
    assert real.isdisjoint(munis["kommunenavn"].str.removesuffix(" (syntetisk)"))
    assert real.isdisjoint(tables["schools"]["name"].str.split(" ").str[0])
    real_codes = set(gpd.read_file(REAL_MUNICIPALITIES)["kommunenummer"])
    assert real_codes.isdisjoint(munis["kommunenummer"])


# --- road network -------------------------------------------------------------------------


def test_osm_loads_with_osmnx(graph: nx.MultiDiGraph, small: sample.SampleManifest) -> None:
    assert len(graph) == small.n_road_nodes
    highways = {d.get("highway") for *_, d in graph.edges(data=True)}
    assert {"residential", "tertiary", "secondary", "primary", "motorway",
            "motorway_link"} <= highways
    assert any(d.get("junction") == "roundabout" for *_, d in graph.edges(data=True))
    speeds = {d.get("maxspeed") for *_, d in graph.edges(data=True)}
    assert {"30", "80", "110", None} <= speeds


def _ferries(graph: nx.MultiDiGraph) -> dict[int, dict]:
    return {d["osmid"]: d for *_, d in graph.edges(data=True) if d.get("route") == "ferry"}


def test_one_car_ferry_and_one_passenger_ferry(graph: nx.MultiDiGraph) -> None:
    ferries = list(_ferries(graph).values())
    car = [d for d in ferries if d.get("motor_vehicle") == "yes"]
    foot = [d for d in ferries if d.get("motor_vehicle") == "no"]
    assert len(car) == 1 and len(foot) == 1 and len(ferries) == 2
    assert car[0]["duration"] == "00:25"
    assert foot[0]["foot"] == "yes" and "duration" in foot[0]


def test_motorway_is_oneway_both_ways(graph: nx.MultiDiGraph) -> None:
    motorway = [d for *_, d in graph.edges(data=True) if d.get("highway") == "motorway"]
    assert motorway and all(d["oneway"] for d in motorway)
    assert len({d["osmid"] for d in motorway}) == 2


def test_car_network_is_strongly_connected(graph: nx.MultiDiGraph) -> None:
    assert nx.number_strongly_connected_components(_car_graph(graph)) == 1


def test_removing_car_ferry_splits_the_shores(graph: nx.MultiDiGraph) -> None:
    cars = _car_graph(graph)
    before = nx.number_strongly_connected_components(cars)
    ferry = [(u, v, k) for u, v, k, d in cars.edges(keys=True, data=True)
             if d.get("route") == "ferry"]
    quays = {n for u, v, _ in ferry for n in (u, v)
             if any(d.get("route") != "ferry" for *_, d in cars.edges(n, data=True))}
    cars.remove_edges_from(ferry)
    cars.remove_nodes_from([n for n in list(cars) if cars.degree(n) == 0])
    assert nx.number_strongly_connected_components(cars) > before
    assert len(quays) == 2
    south, north = sorted(quays)
    assert not nx.has_path(cars, south, north) and not nx.has_path(cars, north, south)


def test_roads_stay_on_land_and_ferries_cross_water(graph: nx.MultiDiGraph,
                                                    munis: gpd.GeoDataFrame) -> None:
    land = shapely.union_all(munis.geometry.to_numpy())
    on_water = {n for n in graph if all(d.get("route") == "ferry"
                                        for *_, d in graph.edges(n, data=True))}
    lon = np.array([d["x"] for _, d in graph.nodes(data=True)])
    lat = np.array([d["y"] for _, d in graph.nodes(data=True)])
    water = np.array([n in on_water for n in graph])
    assert water.sum() >= 2
    assert shapely.contains_xy(land, lon[~water], lat[~water]).all()
    assert not shapely.contains_xy(land, lon[water], lat[water]).any()


@pytest.mark.parametrize("seed", [2, 3, 16, 29])
def test_other_seeds_keep_the_network_invariants(tmp_path: Path, seed: int) -> None:
    manifest = sample.generate(tmp_path, seed=seed)
    graph = _load(manifest.roads)
    cars = _car_graph(graph)
    assert nx.number_strongly_connected_components(cars) == 1
    cars.remove_edges_from([(u, v, k) for u, v, k, d in cars.edges(keys=True, data=True)
                            if d.get("route") == "ferry"])
    cars.remove_nodes_from([n for n in list(cars) if cars.degree(n) == 0])
    assert nx.number_strongly_connected_components(cars) == 2
    land = shapely.union_all(gpd.read_file(manifest.municipalities).geometry.to_numpy())
    roads = [d for n, d in graph.nodes(data=True)
             if any(e.get("route") != "ferry" for *_, e in graph.edges(n, data=True))]
    assert shapely.contains_xy(land, [d["x"] for d in roads], [d["y"] for d in roads]).all()


def test_one_way_streets_present(graph: nx.MultiDiGraph) -> None:
    residential_oneway = [d for *_, d in graph.edges(data=True)
                          if d.get("highway") == "residential" and d["oneway"]]
    assert residential_oneway


# --- options and other sizes ----------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"size": "huge"}, "small, region, national"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"seed": 1.5}, "seed must be an integer >= 0"),
])
def test_bad_options_raise_input_error(tmp_path: Path, kwargs: dict, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        sample.generate(tmp_path, **kwargs)


def test_bad_options_are_all_reported(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InputError) as info:
        sample.generate(target, seed=-1, size="tiny")  # type: ignore[arg-type]
    assert len(info.value.problems) == 3


def test_region_is_deterministic_too(tmp_path: Path) -> None:
    first = sample.generate(tmp_path / "a", seed=5, size="region")
    second = sample.generate(tmp_path / "b", seed=5, size="region")
    assert _digests(first.out_dir) == _digests(second.out_dir)


def test_region_size_counts() -> None:
    start = time.perf_counter()
    region = sample.build(seed=1, size="region")
    assert time.perf_counter() - start < 10.0
    assert 30_000 <= len(region.roads.node_ids) <= 60_000
    assert len(region.children) == 300 and len(region.homes) == 2_000
    assert region.children["child_id"].is_unique and region.homes["home_id"].is_unique
    assert (region.homes["kind"] == "kinship").sum() <= 0.3 * region.children["child_id"].size
