"""Tests of matcher.planning: gaps, 2SFCA, MCLP, what-if, coverage, resource families, CLI.

Expectations are computed independently with plain Python loops over the same
travel-time matrices (brute force), never with the code under test.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import Sample
from typer.testing import CliRunner

from matcher import i18n, planning, schema
from matcher.cli import app
from matcher.cli.planning_cmds import parse_addition
from matcher.config import DEFAULT_CRS, ScoringSettings, Settings
from matcher.errors import InputError
from matcher.io import readers
from matcher.planning import areas as planning_areas
from matcher.planning import common as planning_common
from matcher.scenarios import fjord as sample
from matcher.scenarios import oslo as oslo_mod
from matcher.timetable import TimeTable

DATA = Path(__file__).resolve().parents[1] / "data"
SETTINGS = Settings()
runner = CliRunner()


# --------------------------------------------------------------------------- brute force


def accepted(need: str, settings: ScoringSettings) -> set[str]:
    out = set(settings.need_competences.get(need, ()))
    if need in settings.competences and need not in settings.baseline:
        out.add(need)
    return out


def course_of(need: str, settings: ScoringSettings) -> str | None:
    """Issue 21: the course that meets a trainable need after move-in (first listed)."""
    if need in settings.hard_needs:
        return None
    return next((t for t in (*settings.need_competences.get(need, ()), need)
                 if t in settings.courses), None)


def base_ok(child: dict, home: dict, free: int, min_gap_years: float = 0.0) -> bool:
    """Free place, age, kind and the household rules (required language, avoided
    municipalities, own children's ages), written out by hand."""
    if free <= 0 or not (home["min_age"] <= child["age"] <= home["max_age"]):
        return False
    if child.get("language_required") and not set(child["languages"]) & set(home["languages"]):
        return False
    if home["municipality"] in child.get("avoid_municipalities", ()):
        return False
    if any(abs(a - child["age"]) < min_gap_years for a in home.get("own_children_ages", ())):
        return False
    if home["kind"] == "kinship":
        return home["kin_of"] in (child["child_id"], child["sibling_group"])
    if home["kind"] == "emergency":
        return child["urgency"] == "acute"
    return True


def has(need: str, home: dict, settings: ScoringSettings) -> bool:
    return any(c in accepted(need, settings) for c in home["competences"])


def meets(need: str, home: dict, settings: ScoringSettings) -> bool:
    """By a tag of the home, or by a course after move-in (the trainable rule)."""
    return has(need, home, settings) or course_of(need, settings) is not None


def courses_needed(child: dict, homes: list[dict], settings: ScoringSettings) -> list[str]:
    """Courses of the usable home needing fewest (first in table order), in courses order."""
    best: list[str] | None = None
    for home in homes:
        if not all(meets(n, home, settings) for n in child["needs"]):
            continue
        need = [n for n in child["needs"] if not has(n, home, settings)]
        if best is None or len(need) < len(best):
            best = need
    wanted = {course_of(n, settings) for n in best or []}
    return [c for c in settings.courses if c in wanted]


def brute_gaps(inputs: schema.Inputs, times: TimeTable, minutes: float,
               settings: ScoringSettings) -> dict[str, dict]:
    """Per waiting child: covered, no_home and missing needs (loops)."""
    locked = list(inputs.placements["child_id"])
    used: dict[str, int] = {}
    for h in inputs.placements["home_id"]:
        used[h] = used.get(h, 0) + 1
    homes = inputs.homes.to_dict("records")
    out = {}
    for child in inputs.children.to_dict("records"):
        if child["child_id"] in locked:
            continue
        kind = "school" if not math.isnan(child["school_lon"]) else "home"
        col = list(times.destination_ids).index(f"{child['child_id']}:{kind}")
        reach = []
        for home in homes:
            row = list(times.origin_ids).index(home["home_id"])
            free = home["capacity"] - used.get(home["home_id"], 0)
            if base_ok(child, home, free, settings.min_age_gap_own_children) \
                    and times.minutes[row, col] <= minutes:
                reach.append(home)
        covered = any(all(meets(n, h, settings) for n in child["needs"]) for h in reach)
        missing = [] if covered or not reach else [
            n for n in child["needs"] if not any(meets(n, h, settings) for h in reach)]
        out[child["child_id"]] = {"covered": covered, "no_home": not reach, "missing": missing,
                                  "courses": courses_needed(child, reach, settings),
                                  "usable": [h["home_id"] for h in reach if all(
                                      meets(n, h, settings) for n in child["needs"])]}
    return out


# --------------------------------------------------------------------------- 2SFCA


def test_two_step_fca_hand_computed_2x3() -> None:
    # two homes (supply 2 and 1 places) x three children, catchment 30 min:
    # home 0 reaches children 0, 1 (demand 1 + 2 = 3): R0 = 2/3
    # home 1 reaches children 1, 2 (demand 2 + 1 = 3): R1 = 1/3
    # A = (R0, R0 + R1, R1) = (2/3, 1, 1/3)
    minutes = np.array([[10.0, 20.0, 40.0], [50.0, 25.0, 5.0]])
    res = planning.two_step_fca(minutes, np.array([2.0, 1.0]), np.array([1.0, 2.0, 1.0]),
                                catchment_minutes=30.0)
    np.testing.assert_allclose(res.ratio, [2 / 3, 1 / 3])
    np.testing.assert_allclose(res.access, [2 / 3, 1.0, 1 / 3])


def test_two_step_fca_unreachable_and_boundary() -> None:
    minutes = np.array([[30.0, np.inf, np.nan], [np.inf, np.inf, 31.0]])
    res = planning.two_step_fca(minutes, np.array([3.0, 5.0]), np.array([2.0, 1.0, 1.0]),
                                catchment_minutes=30.0)
    np.testing.assert_allclose(res.ratio, [1.5, 0.0])  # 30 is inside; home 1 reaches nobody
    np.testing.assert_allclose(res.access, [1.5, 0.0, 0.0])


@pytest.mark.parametrize("kwargs", [
    {"minutes": np.zeros((2, 2)), "supply": np.ones(3), "demand": np.ones(2)},
    {"minutes": np.zeros((1, 1)), "supply": np.array([-1.0]), "demand": np.ones(1)},
])
def test_two_step_fca_rejects_bad_input(kwargs: dict) -> None:
    with pytest.raises(InputError):
        planning.two_step_fca(catchment_minutes=30.0, **kwargs)


# --------------------------------------------------------------------------- gaps (hand-made)


def hand_inputs() -> schema.Inputs:
    children = pd.DataFrame({
        "child_id": ["C1", "C2", "C3", "C4", "C5", "C6", "C7"],
        "lon": [10.70, 10.71, 10.80, 10.81, 10.82, 10.72, 10.79],
        "lat": [59.90, 59.91, 59.90, 59.91, 59.92, 59.93, 59.94],
        "school_lon": ["10.701", "", "10.801", "10.811", "10.821", "10.721", "10.791"],
        "school_lat": ["59.901", "", "59.901", "59.911", "59.921", "59.931", "59.941"],
        "municipality": "0301",
        "age": [9, 4, 14, 15, 11, 8, 16],
        "needs": ["trauma", "", "behaviour;teen", "disability", "attachment", "", "teen"],
        "sibling_group": "",
        "urgency": ["acute", "planned", "planned", "acute", "planned", "planned", "planned"],
        "waiting_since": "2026-10-01",
    })
    homes = pd.DataFrame({
        "home_id": ["H1", "H2", "H3", "H4", "H5", "H6"],
        "lon": [10.70, 10.72, 10.80, 10.81, 10.83, 10.74],
        "lat": [59.90, 59.92, 59.91, 59.92, 59.93, 59.92],
        "municipality": "0301",
        "capacity": [2, 1, 1, 0, 1, 1],
        "competences": ["trygg-base", "PRIDE", "TBO-F", "disability", "EFST", "PRIDE"],
        "min_age": [0, 0, 10, 0, 0, 0],
        "max_age": [17, 17, 17, 17, 12, 17],
        "kind": ["general", "kinship", "specialized", "general", "emergency", "general"],
        "kin_of": ["", "C2", "", "", "", ""],
        "recruited_by": ["0301", "", "bufetat", "0301", "3201", ""],
    })
    placements = pd.DataFrame({"child_id": ["C6"], "home_id": ["H6"]})
    return schema.validate(children, homes, placements=placements, settings=SETTINGS.scoring)


def hand_times(inputs: schema.Inputs, seed: int) -> TimeTable:
    rng = np.random.default_rng(seed)
    anchors = [f"{c}:school" if not math.isnan(s) else f"{c}:home"
               for c, s in zip(inputs.children["child_id"], inputs.children["school_lon"],
                               strict=True)]
    minutes = rng.uniform(1.0, 50.0, (len(inputs.homes), len(anchors)))
    minutes[rng.random(minutes.shape) < 0.15] = np.inf
    return TimeTable(inputs.homes["home_id"].to_numpy(dtype=object),
                     np.array(anchors, dtype=object), minutes)


def two_areas() -> gpd.GeoDataFrame:
    """West and east of lon 10.76 in Oslo, as EPSG:25833 polygons."""
    west = shapely.box(10.6, 59.8, 10.76, 60.0)
    east = shapely.box(10.76, 59.8, 10.9, 60.0)
    frame = gpd.GeoDataFrame({"kommunenummer": ["0001", "0002"], "kommunenavn": ["W", "E"]},
                             geometry=[west, east], crs="EPSG:4326")
    return planning.municipality_areas(frame)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_gaps_match_brute_force(seed: int) -> None:
    inputs = hand_inputs()
    times = hand_times(inputs, seed)
    areas = two_areas()
    unmatched = {"C1", "C3"}
    res = planning.gaps(inputs, settings=SETTINGS, areas=areas, times=times,
                        minutes=25.0, unmatched=unmatched)
    expected = brute_gaps(inputs, times, 25.0, SETTINGS.scoring)
    assert "C6" not in set(res.children["child_id"])  # locked: not waiting
    got = res.children.set_index("child_id")
    for cid, exp in expected.items():
        assert bool(got.loc[cid, "covered"]) == exp["covered"], cid
        assert got.loc[cid, "missing_needs"] == ";".join(exp["missing"]), cid
        assert got.loc[cid, "courses"] == ";".join(exp["courses"]), cid
    # per area, by hand: anchor west or east of 10.76
    lon = {r["child_id"]: (r["school_lon"] if not math.isnan(r["school_lon"]) else r["lon"])
           for r in inputs.children.to_dict("records")}
    for row in res.table.to_dict("records"):
        mine = [c for c in expected if (lon[c] < 10.76) == (row["area_id"] == "0001")]
        assert row["children"] == len(mine)
        assert row["uncovered"] == sum(not expected[c]["covered"] for c in mine)
        assert row["no_home"] == sum(expected[c]["no_home"] for c in mine)
        assert row["unmatched"] == sum(c in unmatched for c in mine)
        assert row["unmatched_uncovered"] == sum(c in unmatched and not expected[c]["covered"]
                                                 for c in mine)
        for need in SETTINGS.scoring.need_competences:
            assert row[f"need:{need}"] == sum(need in expected[c]["missing"] for c in mine)
        assert row["course_places"] == sum(len(expected[c]["courses"]) for c in mine)
        for course in SETTINGS.scoring.courses:
            assert row[f"course:{course}"] == sum(course in expected[c]["courses"] for c in mine)
    # issue 21: per recruiter of the homes, by loops
    recruiter = dict(zip(inputs.homes["home_id"], inputs.homes["recruited_by"].replace(
        "", "bufetat"), strict=True))
    free = dict(zip(inputs.homes["home_id"], planning.free_places(inputs), strict=True))
    rows = res.by_recruiter.set_index("recruited_by")
    assert sorted(rows.index) == sorted(set(recruiter.values()))
    for who, row in rows.iterrows():
        mine = {h for h, r in recruiter.items() if r == who}
        assert row["homes"] == sum(free[h] > 0 for h in mine)
        assert row["places"] == sum(free[h] for h in mine)
        assert row["children"] == sum(bool(mine & set(e["usable"])) for e in expected.values())
        assert row["children_only_here"] == sum(
            bool(e["usable"]) and set(e["usable"]) <= mine for e in expected.values())
    ranks = res.table["uncovered"].to_numpy()
    assert list(ranks) == sorted(ranks, reverse=True)
    assert list(res.table["rank"]) == list(range(1, len(res.table) + 1))


@pytest.mark.parametrize("seed", [1, 2])
def test_gaps_aggregate_by_pool(seed: int) -> None:
    """Issue 13: a pool's row sums its municipalities' rows; the rest stay as they are."""
    inputs = hand_inputs()
    times = hand_times(inputs, seed)
    by_muni = planning.gaps(inputs, settings=SETTINGS, areas=two_areas(), times=times,
                           minutes=25.0)
    for pools, pooled_id in (({"vest_aust": ("0001", "0002")}, "vest_aust"),
                             ({"vest": ("0001",)}, "vest")):
        scoring = ScoringSettings(pools=pools)
        res = planning.gaps(inputs, settings=Settings(scoring=scoring), areas=two_areas(),
                            times=times,
                            minutes=25.0, area_kind="pool")
        got = res.table.set_index("area_id")
        members = list(pools[pooled_id])
        want = by_muni.table.set_index("area_id").reindex(members).fillna(0)
        for col in ("children", "uncovered", "no_home", "homes", "places"):
            assert got.loc[pooled_id, col] == want[col].sum(), (pooled_id, col)
        assert set(got.index) == {pooled_id} | ({"0002"} if pooled_id == "vest" else set())
        assert res.area_kind == "pool" and len(res.areas) == len(res.table)
    areas = planning.pool_areas(two_areas(), {"vest": ("0001",)})
    assert areas[["area_id", "name"]].values.tolist() == [["0002", "E"], ["vest", "vest"]]


def _two_sites(times: TimeTable) -> tuple[pd.DataFrame, TimeTable]:
    """Candidate sites s1 (5 minutes from every anchor) and s2 (50 minutes)."""
    sites = pd.DataFrame({"site_id": ["s1", "s2"], "lon": [10.7, 10.8], "lat": [59.9, 59.9],
                          "population": [10.0, 5.0]})
    site_times = TimeTable(np.array(["s1", "s2"], dtype=object), times.destination_ids,
                           np.array([[5.0] * 7, [50.0] * 7]))
    return sites, site_times


def test_recruit_counts_by_pool() -> None:
    inputs = hand_inputs()
    times = hand_times(inputs, 1)
    sites, site_times = _two_sites(times)
    for pools, label in (({}, "0301"), ({"oslo_pool": ("0301", "3201")}, "oslo_pool")):
        settings = Settings(scoring=ScoringSettings(pools=pools))
        res = planning.recruit(inputs, competence="TBO-F", k=1, settings=settings, sites=sites,
                               site_times=site_times, home_times=times, minutes=25.0)
        row = res.by_pool.set_index("pool").loc[label]
        assert (row["suited"], row["covered_before"], row["newly_covered"]) == (
            res.suited, res.covered_before, res.newly_covered)
        assert row["children"] == 6  # C6 is locked, not waiting


def _flat_times(inputs: schema.Inputs, minutes: float, anchor: str = "school") -> TimeTable:
    """Every home -> every waiting child's anchor in the same number of minutes."""
    points = planning.anchor_points(planning.waiting(inputs), anchor)  # type: ignore[arg-type]
    ids = points["anchor_id"].to_numpy(dtype=object)
    return TimeTable(inputs.homes["home_id"].to_numpy(dtype=object), ids,
                     np.full((len(inputs.homes), len(ids)), minutes))


def test_gaps_read_the_catchment_from_planning_settings_and_the_argument_wins() -> None:
    """Issue 26: planning.catchment_minutes is the default T; minutes= overrides it."""
    inputs = hand_inputs()
    times = _flat_times(inputs, 20.0)  # every home 20 minutes from every anchor
    short = Settings(planning={"catchment_minutes": 10.0})
    res = planning.gaps(inputs, settings=short, area_kind="square", cell_metres=50_000,
                        times=times)
    # T = 10 < 20: no home reaches any of the six waiting children (C6 is placed)
    assert res.minutes == 10.0
    assert int(res.table["children"].sum()) == 6
    assert int(res.table["uncovered"].sum()) == 6 and int(res.table["no_home"].sum()) == 6
    default = planning.gaps(inputs, settings=SETTINGS, area_kind="square", cell_metres=50_000,
                            times=times)
    expected = brute_gaps(inputs, times, 30.0, SETTINGS.scoring)
    assert default.minutes == 30.0
    assert int(default.table["uncovered"].sum()) == sum(not e["covered"]
                                                        for e in expected.values()) < 6
    wins = planning.gaps(inputs, settings=short, area_kind="square", cell_metres=50_000,
                         times=times, minutes=30.0)
    pd.testing.assert_frame_equal(wins.table, default.table)


def test_recruit_reads_the_catchment_from_planning_settings() -> None:
    inputs = hand_inputs()
    times = hand_times(inputs, 1)
    sites, site_times = _two_sites(times)
    kwargs = {"competence": "TBO-F", "k": 1, "sites": sites, "site_times": site_times,
              "home_times": times}
    # T = 4: the nearest site is 5 minutes away, so it covers nobody
    short = planning.recruit(inputs, settings=Settings(planning={"catchment_minutes": 4.0}),
                             **kwargs)
    assert (short.minutes, short.coverable, short.newly_covered) == (4.0, 0, 0)
    by_setting = planning.recruit(inputs, settings=Settings(planning={"catchment_minutes": 25}),
                                  **kwargs)
    by_argument = planning.recruit(inputs, settings=SETTINGS, minutes=25.0, **kwargs)
    assert by_setting.minutes == 25.0 and by_setting.newly_covered > 0
    assert by_setting.summary() == by_argument.summary()


def test_emergency_coverage_reads_its_bands_from_planning_settings() -> None:
    inputs = hand_inputs()
    times = _flat_times(inputs, 4.0, anchor="home")  # H5, the one emergency home: 4 minutes
    res = planning.emergency_coverage(
        inputs, settings=Settings(planning={"emergency_bands_minutes": [3.0, 5.0]}), times=times)
    row = res.table.set_index("area_id").loc["0301"]
    assert res.bands == (3.0, 5.0) and res.emergency_homes == 1
    assert (row["total"], row["within_3"], row["within_5"], row["beyond_5"]) == (6, 0, 6, 0)
    default = planning.emergency_coverage(inputs, times=times)
    assert default.bands == (30.0, 45.0) and "within_30" in default.table.columns
    wins = planning.emergency_coverage(
        inputs, settings=Settings(planning={"emergency_bands_minutes": [3.0, 5.0]}),
        bands=(2.0, 4.0), times=times)
    assert wins.bands == (2.0, 4.0) and wins.table.loc[0, "within_4"] == 6


def test_gaps_need_breakdown_names_the_missing_competence() -> None:
    inputs = hand_inputs()
    times = TimeTable(inputs.homes["home_id"].to_numpy(dtype=object),
                      hand_times(inputs, 1).destination_ids,
                      np.full((6, 7), 5.0))
    res = planning.gaps(inputs, settings=SETTINGS, area_kind="square",
                        cell_metres=50_000, times=times, minutes=30.0)
    # C4 (15, disability) has only H4 with that competence, and H4 has no free place
    c4 = res.children.set_index("child_id").loc["C4"]
    assert not c4["covered"] and c4["missing_needs"] == "disability"
    row = res.by_need[res.by_need["need"] == "disability"].iloc[0]
    assert row["competences"] == "disability" and row["uncovered"] >= 1
    assert res.table["unmatched"].isna().all()  # no run given


def test_gaps_options_are_checked() -> None:
    inputs = hand_inputs()
    times = hand_times(inputs, 1)
    with pytest.raises(InputError, match="municipality, pool, hex, square"):
        planning.gaps(inputs, settings=SETTINGS, area_kind="circle",  # type: ignore
                      times=times)
    with pytest.raises(InputError, match="pool areas need municipality polygons"):
        planning.gaps(inputs, settings=SETTINGS, area_kind="pool", times=times)
    with pytest.raises(InputError, match="municipality areas need municipality polygons"):
        planning.gaps(inputs, settings=SETTINGS, times=times)
    with pytest.raises(InputError, match="school, home"):
        planning.gaps(inputs, settings=SETTINGS, area_kind="hex", times=times,
                      anchor="work")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["hex", "square"])
def test_grid_cells_cover_points_once(shape: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(250_000, 262_000, 300)
    y = rng.uniform(6_640_000, 6_650_000, 300)
    grid = planning.grid_areas((x.min(), y.min(), x.max(), y.max()), cell_metres=1000.0,
                               shape=shape)  # type: ignore[arg-type]
    assert grid["area_id"].is_unique and grid.crs == "EPSG:25833"
    area = shapely.area(grid.geometry.to_numpy())
    expected = 1e6 if shape == "square" else math.sqrt(3) / 2 * 1e6
    np.testing.assert_allclose(area, expected, rtol=1e-9)
    got = planning.locate(x, y, grid)
    for i in range(0, 300, 7):  # brute force: the containing cell
        p = shapely.Point(x[i], y[i])
        holders = [a for a, g in zip(grid["area_id"], grid.geometry, strict=True)
                   if g.intersects(p)]
        assert got[i] == min(holders)
    # only the cells holding points: the same cells, found without the full grid
    cells = planning.grid_cells(x, y, cell_metres=1000.0, shape=shape)  # type: ignore[arg-type]
    assert set(cells["area_id"]) == set(got)
    assert list(planning.locate(x, y, cells)) == list(got)
    # same cell size -> same cells, whatever the bounds
    again = planning.grid_areas((x.min() - 3000, y.min(), x.max(), y.max() + 2000),
                                cell_metres=1000.0, shape=shape)  # type: ignore[arg-type]
    assert set(grid["area_id"]) <= set(again["area_id"])


# --------------------------------------------------------------------------- MCLP


def brute_mclp(cover: np.ndarray, w: np.ndarray, q: np.ndarray, k: int
               ) -> tuple[float, int, float]:
    """Over every set of at most ``k`` sites: most covered weight, then fewest sites, then
    the most preference."""
    best: tuple[float, int, float] = (-1.0, 0, -1.0)
    for size in range(k + 1):
        for combo in itertools.combinations(range(cover.shape[0]), size):
            covered = float(sum(w[i] for i in range(cover.shape[1])
                                if any(cover[j, i] for j in combo)))
            key = (covered, -size, float(sum(q[j] for j in combo)))
            if key[0] > best[0] + 1e-9 or (key[0] == best[0] and (key[1], key[2])
                                           > (best[1], best[2] + 1e-9)):
                best = key
    return best[0], -best[1], best[2]


@pytest.mark.parametrize("seed", range(12))
def test_mclp_matches_exhaustive_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_sites, n_dem = int(rng.integers(4, 9)), int(rng.integers(5, 16))
    minutes = rng.uniform(0.0, 60.0, (n_sites, n_dem))
    minutes[rng.random(minutes.shape) < 0.1] = np.inf
    w = rng.integers(0, 4, n_dem).astype(float)
    q = rng.uniform(0.0, 1.0, n_sites)
    k = int(rng.integers(1, min(4, n_sites) + 1))
    sol = planning.mclp(minutes, k, catchment_minutes=20.0, weights=w, preference=q)
    best, size, best_q = brute_mclp(minutes <= 20.0, w, q / q.max(), k)
    assert sol.status == "optimal"
    assert sol.covered_weight == pytest.approx(best)
    assert len(sol.chosen) == size <= k
    assert sum(q[sol.chosen] / q.max()) == pytest.approx(best_q, abs=1e-6)
    covered = [any(minutes[j, i] <= 20.0 for j in sol.chosen) for i in range(n_dem)]
    assert list(sol.covered) == covered


def test_mclp_chooses_no_site_that_covers_no_further_child() -> None:
    """Issue 21: k=3 with one coverable child picks one site, not two empty ones besides."""
    minutes = np.array([[5.0, 90.0], [90.0, 90.0], [90.0, 90.0], [6.0, 90.0]])
    sol = planning.mclp(minutes, 3, catchment_minutes=10.0, weights=np.array([1.0, 1.0]),
                        preference=np.array([0.1, 1.0, 0.9, 0.2]))
    assert sol.chosen.tolist() == [3]  # covers the child; the more populous of the two
    assert sol.covered.tolist() == [True, False] and sol.covered_weight == 1.0


def test_mclp_checks_k_before_solving() -> None:
    with pytest.raises(InputError, match=r"k=4 must be a whole number in 1\.\.3"):
        planning.mclp(np.zeros((3, 2)), 4, catchment_minutes=10.0)


# --------------------------------------------------------------------------- resource families


def brute_families(h_coop: list[str], f_coop: list[str], cap: list[int], t: np.ndarray,
                   same: bool) -> tuple[int, float]:
    """Most homes assigned, then least total minutes, over every assignment."""
    n_h, n_f = t.shape
    best = (-1, math.inf)
    for combo in itertools.product(range(-1, n_f), repeat=n_h):
        load = [0] * n_f
        ok, total, count = True, 0.0, 0
        for h, f in enumerate(combo):
            if f < 0:
                continue
            if not math.isfinite(t[h, f]) or (same and h_coop[h] != f_coop[f]):
                ok = False
                break
            load[f] += 1
            total += t[h, f]
            count += 1
        if not ok or any(load[f] > cap[f] for f in range(n_f)):
            continue
        if count > best[0] or (count == best[0] and total < best[1] - 1e-12):
            best = (count, total)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_resource_families_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_h, n_f = int(rng.integers(3, 7)), int(rng.integers(1, 4))
    h_coop = list(rng.choice(["A", "B"], n_h))
    f_coop = list(rng.choice(["A", "B"], n_f))
    cap = [int(c) for c in rng.integers(0, 3, n_f)]
    t = rng.uniform(1.0, 40.0, (n_h, n_f))
    t[rng.random(t.shape) < 0.15] = np.inf
    families = pd.DataFrame({"resource_id": [f"R{j}" for j in range(n_f)], "lon": 10.0,
                             "lat": 60.0, "municipality": "0301", "cooperation": f_coop,
                             "max_homes": cap})
    fam = planning.validate_families(families)
    for same in (True, False):
        res = planning.assign_resource_families([f"H{i}" for i in range(n_h)], h_coop, fam, t,
                                                same_cooperation=same)
        count, total = brute_families(h_coop, f_coop, cap, t, same)
        assert res.assigned == count
        assert res.total_minutes == pytest.approx(total if count else 0.0)
        a = res.assignments
        assert (a["reason"] == "").sum() == count
        assert all(a.loc[a["resource_id"].isna(), "reason"] != "")
        load = a["resource_id"].value_counts()
        for rid, c in zip(fam["resource_id"], cap, strict=True):
            assert load.get(rid, 0) <= c
        if same:
            coop = dict(zip(fam["resource_id"], fam["cooperation"], strict=True))
            placed = a[a["resource_id"].notna()]
            assert all(coop[r] == c for r, c in zip(placed["resource_id"],
                                                    placed["cooperation"], strict=True))


def test_resource_family_table_problems_are_listed() -> None:
    bad = pd.DataFrame({"resource_id": ["R1", "R1"], "lon": [10.0, 500.0], "lat": [60.0, 60.0],
                        "municipality": ["301", "oslo"], "colour": ["x", "y"]})
    with pytest.raises(InputError, match="unknown column 'colour'"):
        planning.validate_families(bad)
    with pytest.raises(InputError) as info:
        planning.validate_families(bad.drop(columns="colour"))
    text = str(info.value)
    assert "duplicate resource_id 'R1'" in text and "kommunenummer" in text and "WGS84" in text


def test_group_homes_sizes_hosts_and_determinism() -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 10, (13, 2))
    minutes = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    host, to_host = planning.group_homes(minutes, size=4)
    groups = {h: np.flatnonzero(host == h) for h in set(host)}
    assert len(groups) == math.ceil(13 / 4)
    assert all(len(g) <= 4 for g in groups.values())
    assert all(host[h] == h for h in groups)  # a host belongs to its own network
    np.testing.assert_allclose(to_host, [0.0 if host[i] == i else minutes[i, host[i]]
                                         for i in range(13)])
    # each host is its group's 1-median (brute force)
    for h, members in groups.items():
        sums = {j: sum(minutes[i, j] for i in members) for j in members}
        assert sums[h] == pytest.approx(min(sums.values()))
    again, _ = planning.group_homes(minutes, size=4)
    assert list(again) == list(host)


# --------------------------------------------------------------------------- what-if


def test_parse_addition() -> None:
    add = parse_addition("4631:TBO-F+teen:3:2", SETTINGS.scoring)
    assert add == planning.Addition("4631", ("TBO-F", "teen"), 3, 2)
    assert parse_addition("301::1", SETTINGS.scoring).area == "0301"
    with pytest.raises(InputError, match="allowed: TBO-F"):
        parse_addition("4631:TBOF:3", SETTINGS.scoring)
    with pytest.raises(InputError, match="AREA:COMPETENCES:COUNT"):
        parse_addition("4631-TBO-F-3", SETTINGS.scoring)
    with pytest.raises(InputError, match="count '0'"):
        parse_addition("4631:TBO-F:0", SETTINGS.scoring)


@pytest.fixture(scope="module")
def region(small_sample: Sample) -> dict:
    """The synthetic small sample: files, inputs, network and municipality polygons."""
    return {"manifest": small_sample.manifest, "net": small_sample.net,
            "net_dir": small_sample.net_dir, "inputs": small_sample.inputs,
            "areas": small_sample.areas, "as_of": small_sample.as_of}


def test_planning_in_another_metric_crs_gives_the_same_counts(small_sample: Sample,
                                                              tmp_path: Path) -> None:
    """Issue 26: network.crs is the one working CRS of planning (UTM 32N instead of 33N)."""
    from matcher import network

    utm32 = Settings(network={"crs": "EPSG:25832"})
    net32 = network.build(small_sample.manifest.roads, utm32.network, cache_dir=tmp_path / "n")
    assert net32.crs == "EPSG:25832"
    areas32 = planning.read_municipalities(small_sample.manifest.municipalities, settings=utm32)
    assert areas32.crs == "EPSG:25832"
    runs = {}
    for name, settings, net, areas in (("33", SETTINGS, small_sample.net, small_sample.areas),
                                       ("32", utm32, net32, areas32)):
        runs[name] = (planning.gaps(small_sample.inputs, settings=settings, net=net,
                                    areas=areas),
                      planning.emergency_coverage(small_sample.inputs, settings=settings,
                                                  net=net, areas=areas))
    (gaps33, cov33), (gaps32, cov32) = runs["33"], runs["32"]
    assert gaps32.areas.crs == "EPSG:25832" and cov32.cells.crs == "EPSG:25832"
    t33, t32 = (g.table.set_index("area_id").sort_index() for g in (gaps33, gaps32))
    assert list(t32.index) == list(t33.index)
    for col in ("children", "homes", "places"):  # where things are: exactly the same
        assert t32[col].tolist() == t33[col].tolist(), col
    # travel times differ only in the off-road legs (distances in another projection):
    # the counts at the catchment edge may move by a child at most
    assert np.abs(t32["uncovered"].to_numpy() - t33["uncovered"].to_numpy()).max() <= 1
    np.testing.assert_allclose(t32["access_2sfca"], t33["access_2sfca"], rtol=0.05, atol=1e-3)
    c33, c32 = (c.table.set_index("area_id").sort_index() for c in (cov33, cov32))
    assert c32["total"].tolist() == c33["total"].tolist()
    np.testing.assert_allclose(c32["share_30"], c33["share_30"], atol=0.05)
    minutes33 = cov33.points.set_index("id")["minutes"]
    minutes32 = cov32.points.set_index("id")["minutes"].reindex(minutes33.index)
    finite = np.isfinite(minutes33.to_numpy())
    np.testing.assert_allclose(minutes32.to_numpy()[finite], minutes33.to_numpy()[finite],
                               rtol=0.01, atol=0.1)


def test_place_additions_is_deterministic_and_inside(region: dict) -> None:
    adds = [planning.Addition("4692", ("TBO-F",), 3), planning.Addition("4691", (), 2, 2)]
    first = planning.place_additions(adds, region["areas"], net=region["net"])
    again = planning.place_additions(adds, region["areas"], net=region["net"])
    pd.testing.assert_frame_equal(first, again)
    assert list(first["home_id"]) == ["WHATIF-4691-001", "WHATIF-4691-002", "WHATIF-4692-001",
                                      "WHATIF-4692-002", "WHATIF-4692-003"]
    x, y = planning_common._xy(first["lon"], first["lat"], DEFAULT_CRS)
    located = planning.locate(x, y, region["areas"])
    assert list(located) == list(first["municipality"])
    assert len(set(zip(first["lon"], first["lat"], strict=True))) == 5  # spread out
    with pytest.raises(InputError, match="'9999' is not in the municipality polygons"):
        planning.place_additions([planning.Addition("9999", (), 1)], region["areas"],
                                 net=region["net"])


@pytest.fixture(scope="module")
def baseline(region: dict) -> object:
    from matcher import pipeline

    return pipeline.run(region["inputs"], SETTINGS, net=region["net"], as_of=region["as_of"])


@pytest.mark.parametrize("adds", [
    ["4692:TBO-F:2"],
    ["4691:trygg-base:1", "4694:disability+teen:2:2"],
    ["4693::3", "4692:EFST+TBO-F:1"],
])
def test_whatif_never_reduces_placements(region: dict, baseline: object, adds: list[str]) -> None:
    additions = [parse_addition(a, SETTINGS.scoring) for a in adds]
    res = planning.whatif(region["inputs"], additions, settings=SETTINGS, net=region["net"],
                          areas=region["areas"], baseline=baseline, as_of=region["as_of"])
    diff = res.diff.set_index("measure")
    assert diff.loc["placed", "scenario"] >= diff.loc["placed", "baseline"]
    assert diff.loc["priority_placed", "scenario"] >= diff.loc["priority_placed", "baseline"] - 1e-6
    assert diff.loc["placed", "change"] == diff.loc["placed", "scenario"] - \
        diff.loc["placed", "baseline"]
    assert len(res.added_homes) == sum(a.count for a in additions)
    assert set(res.added_homes["home_id"]) <= set(res.scenario.inputs.homes["home_id"])
    assert list(diff.index) == list(planning.DIFF_MEASURES)


# --------------------------------------------------------------------------- Oslo demonstration


@pytest.fixture(scope="module")
def oslo() -> oslo_mod.OsloScenario:
    missing = [f for f in oslo_mod.OSLO_FILES.values() if not (DATA / f).is_file()]
    assert not missing, f"real data missing in {DATA}: {missing} (see data/SOURCES.md)"
    return oslo_mod.oslo_scenario(DATA, seed=7)


def test_oslo_scenario_tables_validate_from_csv(oslo: oslo_mod.OsloScenario,
                                                tmp_path: Path) -> None:
    oslo.children.to_csv(tmp_path / "children.csv", index=False)
    oslo.homes.to_csv(tmp_path / "homes.csv", index=False)
    inputs = readers.read_inputs(tmp_path / "children.csv", tmp_path / "homes.csv",
                                settings=SETTINGS.scoring)
    assert len(inputs.children) == 150 and len(inputs.homes) == 60
    assert set(inputs.children["municipality"]) == {"0301"}
    # children sit on real populated cells and real schools
    x, y = planning_common._xy(inputs.children["lon"], inputs.children["lat"], DEFAULT_CRS)
    cx, cy = planning_areas._centres(oslo.population)
    dist = np.hypot(x[:, None] - cx[None, :], y[:, None] - cy[None, :]).min(axis=1)
    assert dist.max() < 0.5
    schools = pd.read_csv(DATA / "grunnskoler_norge_geocoded.csv", sep=";")
    with_school = inputs.children.dropna(subset=["school_lon"])
    assert (inputs.children["age"] >= 6).sum() == len(with_school)
    gap = np.hypot(with_school["school_lon"].to_numpy()[:, None] - schools["lng"].to_numpy(),
                   with_school["school_lat"].to_numpy()[:, None] - schools["lat"].to_numpy())
    assert gap.min(axis=1).max() < 1e-6  # each school is a real school position
    again = oslo_mod.oslo_scenario(DATA, seed=7)
    pd.testing.assert_frame_equal(again.children, oslo.children)


def test_oslo_support_tables_read_by_spec_and_plan(oslo: oslo_mod.OsloScenario) -> None:
    """Issue 25: the Oslo demonstration's synthetic supervisors, relief homes and venues."""
    from matcher import tables
    from matcher.planning import support_network

    for name in ("supervisors", "relief_homes", "venues"):
        frame = getattr(oslo, name)
        assert len(frame) and not tables.read(name, frame).problems, name
        assert frame.iloc[:, 0].str.startswith("OSL-SYN-").all()
    assert set(oslo.supervisors["municipality"]) == {"0301"}
    placed = support_network.placements_of(oslo.inputs.children, proposals=pd.DataFrame({
        "child_id": oslo.inputs.children["child_id"][:30],
        "home_id": oslo.inputs.homes["home_id"][:30]}))

    def minutes(o: pd.DataFrame, oid: str, d: pd.DataFrame, did: str) -> np.ndarray:
        return planning.travel_times(oslo.net, o, d, origin_id=oid, destination_id=did).minutes

    net = support_network.support_network(
        placed, oslo.inputs.homes, oslo.inputs.children, supervisors=oslo.supervisors,
        relief_homes=oslo.relief_homes, venues=oslo.venues, minutes=minutes)
    assert set(net.status.values()) == {"optimal"}
    # 30 supervisors of 8-20 visits for 30 children of 4 visits, all within 16 min: all served
    assert net.placements["supervisor_id"].notna().all()


def test_oslo_gaps_match_brute_force(oslo: oslo_mod.OsloScenario) -> None:
    inputs = oslo.inputs
    points = planning.anchor_points(planning.waiting(inputs), "school")
    times = planning.travel_times(oslo.net, inputs.homes, points, origin_id="home_id",
                                  destination_id="anchor_id")
    # Oslo east is compact (every pair within ~16 min at the speed limits): an urban catchment
    # of 5 minutes leaves gaps, the default 30 minutes covers everyone with a suitable home
    by_minutes = {}
    for minutes in (5.0, 30.0):
        res = planning.gaps(inputs, settings=SETTINGS, areas=oslo.municipalities,
                            times=times, minutes=minutes)
        expected = brute_gaps(inputs, times, minutes, SETTINGS.scoring)
        row = res.table.set_index("area_id").loc["0301"]
        assert row["children"] == len(expected) == 150
        assert row["uncovered"] == sum(not e["covered"] for e in expected.values())
        assert row["no_home"] == sum(e["no_home"] for e in expected.values())
        for need in SETTINGS.scoring.need_competences:
            assert row[f"need:{need}"] == sum(need in e["missing"] for e in expected.values())
        assert row["course_places"] == sum(len(e["courses"]) for e in expected.values())
        # 2SFCA by loops: supply = free places of non-kinship homes, demand = 1 per child
        homes = inputs.homes.to_dict("records")
        ratio = []
        for j, home in enumerate(homes):
            inside = sum(1 for k in range(len(points)) if times.minutes[j, k] <= minutes)
            ratio.append(home["capacity"] / inside if inside else 0.0)
        access = [sum(ratio[j] for j in range(len(homes)) if times.minutes[j, k] <= minutes)
                  for k in range(len(points))]
        assert row["access_2sfca"] == pytest.approx(sum(access) / len(access))
        by_minutes[minutes] = int(row["uncovered"])
    assert by_minutes[5.0] > 0 and by_minutes[5.0] >= by_minutes[30.0]
    hexes = planning.gaps(inputs, settings=SETTINGS, area_kind="hex", cell_metres=1000,
                          times=times, minutes=5.0)
    assert hexes.table["children"].sum() == 150
    assert hexes.table["uncovered"].sum() == by_minutes[5.0]
    png = planning.gaps_map(hexes)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_oslo_emergency_coverage_matches_brute_force(oslo: oslo_mod.OsloScenario) -> None:
    inputs = oslo.inputs
    em = [h for h in inputs.homes.to_dict("records") if h["kind"] == "emergency"
          and h["capacity"] > 0]
    assert em, "the scenario should have available emergency homes"
    children = inputs.children.to_dict("records")
    points = pd.DataFrame({"id": [f"{c['child_id']}:home" for c in children],
                           "lon": [c["lon"] for c in children],
                           "lat": [c["lat"] for c in children]})
    times = planning.travel_times(oslo.net, inputs.homes, points, origin_id="home_id",
                                  destination_id="id")
    bands = (3.0, 5.0)
    res = planning.emergency_coverage(inputs, bands=bands, areas=oslo.municipalities,
                                      times=times)
    rows = {h: i for i, h in enumerate(times.origin_ids)}
    nearest = []
    for k in range(len(children)):
        best = math.inf
        for home in em:
            best = min(best, times.minutes[rows[home["home_id"]], k])
        nearest.append(best)
    row = res.table.set_index("area_id").loc["0301"]
    assert row["total"] == 150
    for b in bands:
        within = sum(1 for m in nearest if m <= b)
        assert row[f"within_{b:g}"] == within
        assert row[f"share_{b:g}"] == pytest.approx(within / 150)
    assert row["beyond_5"] == sum(1 for m in nearest if not m <= 5.0)
    assert res.cells["total"].sum() == 150  # children aggregated to 250 m cells
    assert res.cells["uncovered"].sum() == row["beyond_5"]

    # population basis: weights are the persons of each cell, by loops
    cells = oslo.population
    cx, cy = planning_areas._centres(cells)
    lon, lat = planning_common._lonlat(cx, cy, DEFAULT_CRS)
    cell_pts = pd.DataFrame({"id": "cell:" + cells["cell_id"], "lon": lon, "lat": lat})
    ctimes = planning.travel_times(oslo.net, inputs.homes, cell_pts, origin_id="home_id",
                                   destination_id="id")
    pop = planning.emergency_coverage(inputs, bands=bands, areas=oslo.municipalities,
                                      population=cells, times=ctimes)
    persons = cells["population"].tolist()
    total = within5 = 0.0
    for k, people in enumerate(persons):
        best = min(ctimes.minutes[rows[h["home_id"]], k] for h in em)
        total += people
        within5 += people if best <= 5.0 else 0.0
    prow = pop.table.set_index("area_id").loc["0301"]
    assert prow["total"] == pytest.approx(total)
    assert prow["within_5"] == pytest.approx(within5)
    assert planning.coverage_map(pop)[:4] == b"\x89PNG"


def test_oslo_recruit_and_support(oslo: oslo_mod.OsloScenario) -> None:
    res = planning.recruit(oslo.inputs, competence="disability", k=2, settings=SETTINGS,
                           net=oslo.net, population=oslo.population, minutes=5.0,
                           max_candidates=150)
    assert res.solution.status == "optimal" and 1 <= len(res.sites) <= 2
    # issue 21: every chosen site brings a child no other chosen site brings
    assert (res.sites["only_here"] >= 1).all()
    # children within two chosen sites count in neither's only_here: the union is larger
    assert res.sites["only_here"].sum() <= res.newly_covered
    assert res.newly_covered <= res.coverable <= res.suited - res.covered_before
    plan = planning.support_plan(oslo.inputs.homes, oslo.resource_families, net=oslo.net)
    assert plan.families.assigned == min(len(oslo.inputs.homes),
                                         5 * len(oslo.resource_families))
    assert plan.networks["network_id"].nunique() == math.ceil(len(oslo.inputs.homes) / 6)
    # planning.max_homes_per_family is the families' default capacity; max_homes= wins
    two = Settings(planning={"max_homes_per_family": 2})
    plan = planning.support_plan(oslo.inputs.homes, oslo.resource_families, net=oslo.net,
                                 settings=two)
    assert plan.families.assigned == min(len(oslo.inputs.homes), 2 * len(oslo.resource_families))
    plan = planning.support_plan(oslo.inputs.homes, oslo.resource_families, net=oslo.net,
                                 settings=two, max_homes=3)
    assert plan.families.assigned == min(len(oslo.inputs.homes), 3 * len(oslo.resource_families))


# --------------------------------------------------------------------------- CLI


def _common(region: dict) -> list[str]:
    m = region["manifest"]
    return ["--children", str(m.children), "--homes", str(m.homes), "--placements",
            str(m.placements), "--network", str(region["net_dir"])]


def test_cli_gaps(region: dict, tmp_path: Path) -> None:
    out = tmp_path / "gaps"
    args = ["--json", "gaps", *_common(region), "--municipalities",
            str(region["manifest"].municipalities), "--minutes", "20", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["command"] == "gaps" and summary["unmatched"] is not None
    table = pd.read_csv(out / "gaps.csv", dtype={"area_id": str})
    assert summary["uncovered"] == table["uncovered"].sum()
    assert (out / "gaps.png").read_bytes()[:4] == b"\x89PNG"
    layer = gpd.read_file(out / "gaps.gpkg", layer="gaps")
    assert len(layer) == len(table) and layer.crs.to_epsg() == 25833
    bad = runner.invoke(app, ["gaps", *_common(region), "--areas", "circle", "--out",
                              str(tmp_path / "x")])
    assert bad.exit_code == 2 and "municipality, pool, hex, square" in bad.output


def test_cli_gaps_reads_planning_settings_and_the_option_wins(region: dict,
                                                                tmp_path: Path) -> None:
    """Issue 26: catchment_minutes = 5 in [planning] changes gaps.csv; --minutes overrides it."""
    config = tmp_path / "matcher.toml"
    config.write_text("[planning]\ncatchment_minutes = 5\n", encoding="utf-8")
    base = ["--json", "gaps", *_common(region), "--municipalities",
            str(region["manifest"].municipalities), "--no-match"]
    outs = {}
    for name, extra in (("default", []), ("toml", ["--config", str(config)]),
                        ("option", ["--config", str(config), "--minutes", "30"])):
        outs[name] = tmp_path / name
        result = runner.invoke(app, [*base, *extra, "--out", str(outs[name])])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["minutes"] == (5.0 if name == "toml" else 30.0), name
    default, toml, option = ((outs[n] / "gaps.csv").read_bytes()
                             for n in ("default", "toml", "option"))
    assert toml != default and option == default
    # by hand from the per-child table: a shorter catchment covers no more children
    short = pd.read_csv(outs["toml"] / "gaps.csv", dtype={"area_id": str})
    long = pd.read_csv(outs["default"] / "gaps.csv", dtype={"area_id": str})
    assert short["uncovered"].sum() > long["uncovered"].sum()
    assert short["children"].sum() == long["children"].sum()


def test_cli_whatif(region: dict, tmp_path: Path) -> None:
    out = tmp_path / "whatif"
    args = ["whatif", *_common(region), "--municipalities",
            str(region["manifest"].municipalities), "--add", "4692:TBO-F:2", "--as-of",
            sample.REFERENCE_DATE, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    diff = pd.read_csv(out / "whatif.csv").set_index("measure")
    assert diff.loc["placed", "scenario"] >= diff.loc["placed", "baseline"]
    homes = pd.read_csv(out / "whatif_homes.csv", dtype=str, keep_default_na=False)
    assert len(homes) == 2
    # issue 21: tag cells as the inputs write them; an empty tag list is an empty cell
    assert "()" not in (out / "whatif_homes.csv").read_text(encoding="utf-8")
    assert homes["competences"].tolist() == ["TBO-F", "TBO-F"]
    assert (homes["languages"] == "").all()
    bad = runner.invoke(app, [*args[:-2], "--add", "4692:TBOF:2", "--out", str(out)])
    assert bad.exit_code == 2 and "allowed: TBO-F" in bad.output


def test_cli_recruit(region: dict, tmp_path: Path) -> None:
    out = tmp_path / "recruit"
    # disability is a hard need (an adapted home); TBO-F is a course every home may take
    result = runner.invoke(app, ["--json", "recruit", *_common(region), "--competence",
                                 "disability", "--k", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    sites = pd.read_csv(out / "recruit.csv")
    # issue 21: at most k sites, each bringing a child no other chosen site brings
    assert summary["status"] == "optimal" and 1 <= summary["chosen"] <= 3
    assert len(summary["sites"]) == len(sites) == summary["chosen"]
    assert (sites["only_here"] >= 1).all()
    assert sites["only_here"].sum() <= summary["newly_covered"]
    by_recruiter = pd.read_csv(out / "recruit_by_recruiter.csv", dtype={"recruited_by": str})
    assert list(by_recruiter.columns) == ["recruited_by", "homes", "places", "children",
                                          "children_only_here"]
    assert by_recruiter["homes"].sum() == (planning.free_places(region["inputs"]) > 0).sum()
    by_pool = pd.read_csv(out / "recruit_by_pool.csv")
    assert summary["course_places"] == by_pool["course_places"].sum() == sum(
        by_pool[f"course:{c}"].sum() for c in SETTINGS.scoring.courses)
    assert len(gpd.read_file(out / "recruit.gpkg", layer="sites")) == summary["chosen"]
    text = runner.invoke(app, ["recruit", *_common(region), "--competence", "disability",
                               "--k", "3", "--out", str(out)]).output
    n = summary["chosen"]
    assert f"disability: {n} site{'s' if n > 1 else ''} cover" in text
    assert (f"{n} of the 3 sites asked for are chosen" in text) == (n < 3)
    assert (out / "recruit.png").read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["recruit", *_common(region), "--competence", "tbo-f", "--out",
                              str(out)])
    assert bad.exit_code == 2 and "TBO-F, trygg-base" in bad.output


def test_cli_coverage(region: dict, tmp_path: Path) -> None:
    out = tmp_path / "coverage"
    result = runner.invoke(app, ["--json", "coverage", *_common(region), "--municipalities",
                                 str(region["manifest"].municipalities), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "coverage.csv", dtype={"area_id": str})
    assert set(table.columns) >= {"within_30", "share_30", "within_45", "share_45"}
    assert {"coverage", "cells"} <= set(gpd.list_layers(out / "coverage.gpkg")["name"])
    assert (out / "coverage.png").read_bytes()[:4] == b"\x89PNG"
    bad = runner.invoke(app, ["coverage", *_common(region), "--bands", "45,30", "--out",
                              str(out)])
    assert bad.exit_code == 2 and "ascending" in bad.output


def test_cli_resource_families(region: dict, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    homes = region["inputs"].homes
    fam = homes.iloc[::25][["lon", "lat", "municipality"]].reset_index(drop=True)
    fam.insert(0, "resource_id", [f"R{i}" for i in range(len(fam))])
    fam.to_csv(tmp_path / "families.csv", index=False)
    out = tmp_path / "support"
    result = runner.invoke(app, ["--json", "resource-families", *_common(region),
                                 "--resource-families", str(tmp_path / "families.csv"),
                                 "--network-size", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    table = pd.read_csv(out / "resource_families.csv", dtype=str, keep_default_na=False)
    assert summary["assigned"] == (table["resource_id"] != "").sum() <= 5 * len(fam)
    assert (table.loc[table["resource_id"] == "", "reason"] != "").all()
    networks = pd.read_csv(out / "local_networks.csv")
    assert networks.groupby("network_id").size().max() <= 5
    assert len(pd.read_csv(out / "cafes.csv")) == homes["municipality"].nunique()
    # issue 21: a families file without `cooperation` takes the cooperations of
    # --cooperations, like the homes (before: 0 homes got a family), and else [scoring.pools]
    munis = sorted(set(homes["municipality"]))
    pd.DataFrame({"municipality": munis, "cooperation": "fjord"}).to_csv(
        tmp_path / "coop.csv", index=False)
    config = tmp_path / "pools.toml"
    config.write_text("[scoring.pools]\nfjord = [" + ", ".join(f'"{m}"' for m in munis)
                      + "]\n", encoding="utf-8")
    # the fjord's municipalities are fictional: let the 2024 register know them, so that the
    # TOML pool check (tested in test_config) passes and this test sees the pool fallback
    from matcher.io import registers as io_registers

    known = io_registers.municipality_numbers()
    monkeypatch.setattr(io_registers, "municipality_numbers",
                        lambda *a, **k: frozenset(known) | set(munis))
    assigned = {}
    for name, extra in (("own", []), ("file", ["--cooperations", str(tmp_path / "coop.csv")]),
                        ("pools", ["--config", str(config)])):
        res = runner.invoke(app, ["--json", "resource-families", *_common(region),
                                  "--resource-families", str(tmp_path / "families.csv"),
                                  "--out", str(tmp_path / name), *extra])
        assert res.exit_code == 0, res.output
        table = pd.read_csv(tmp_path / name / "resource_families.csv", dtype=str,
                            keep_default_na=False)
        assigned[name] = int((table["resource_id"] != "").sum())
        if name != "own":
            assert set(table["cooperation"]) == {"fjord"}
    # one cooperation: every family serves every home, up to 5 each
    assert assigned["file"] == assigned["pools"] == min(len(homes), 5 * len(fam))
    assert assigned["file"] > 0  # the bug gave 0
    pd.DataFrame({"municipality": munis}).to_csv(tmp_path / "coop_bad.csv", index=False)
    bad = runner.invoke(app, ["resource-families", *_common(region), "--resource-families",
                              str(tmp_path / "families.csv"), "--cooperations",
                              str(tmp_path / "coop_bad.csv"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "missing required column 'cooperation'" in bad.output
    fam.drop(columns="municipality").to_csv(tmp_path / "bad.csv", index=False)
    bad = runner.invoke(app, ["resource-families", *_common(region), "--resource-families",
                              str(tmp_path / "bad.csv"), "--out", str(out)])
    assert bad.exit_code == 2 and "missing required column 'municipality'" in bad.output


@pytest.mark.parametrize("command", ["gaps", "coverage", "recruit", "whatif",
                                     "resource-families"])
def test_cli_planning_refuses_a_folder_of_other_files(region: dict, tmp_path: Path,
                                                      command: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 24: the planning commands wrote into any --out folder (gaps.csv over the user's)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "gaps.csv").write_text("mine")
    monkeypatch.setattr("matcher.cli.planning_cmds.read_tables",
                        lambda *a, **k: pytest.fail("read before the folder was checked"))
    extra = {"whatif": ["--add", "0301:teen:1", "--municipalities",
                        str(region["manifest"].municipalities)],
             "recruit": ["--competence", "teen"],
             "resource-families": ["--resource-families", str(region["manifest"].homes)],
             }.get(command, [])
    result = runner.invoke(app, [command, *_common(region), *extra, "--out", str(victim)])
    assert result.exit_code == 2, result.output
    assert "does not hold a previous run" in " ".join(result.output.split())
    assert sorted(p.name for p in victim.iterdir()) == ["gaps.csv"]
    assert (victim / "gaps.csv").read_text() == "mine"


def test_name_cells_by_municipality_from_the_north_west() -> None:
    west = shapely.box(0.0, 0.0, 2000.0, 2000.0)
    east = shapely.box(2000.0, 0.0, 4000.0, 2000.0)
    munis = gpd.GeoDataFrame({"area_id": ["0001", "0002"], "name": ["Vest", "Øst"]},
                             geometry=[west, east], crs=DEFAULT_CRS)
    centres = [(500.0, 500.0), (1500.0, 1500.0), (500.0, 1500.0), (2500.0, 500.0),
               (5000.0, 500.0)]
    cells = gpd.GeoDataFrame({"area_id": [f"sq_{i}" for i in range(5)]},
                             geometry=[shapely.box(x - 100, y - 100, x + 100, y + 100)
                                       for x, y in centres], crs=DEFAULT_CRS)
    with i18n.language("nb"):
        names = planning.name_cells(cells, munis)
        alone = planning.name_cells(cells)
    # Vest: north row first (west to east), then the south row; Øst on its own; outside: none
    assert list(names) == ["Vest, rute 3", "Vest, rute 2", "Vest, rute 1", "Øst, rute 1",
                           "rute 1"]
    assert list(alone) == ["rute 3", "rute 2", "rute 1", "rute 4", "rute 5"]
    with i18n.language("nn"):
        assert planning.name_cells(cells, munis)[3] == "Øst, rute 1"


def test_gaps_on_a_grid_name_cells_by_municipality(region: dict) -> None:
    res = planning.gaps(region["inputs"], settings=SETTINGS, net=region["net"],
                        areas=region["areas"], area_kind="hex", cell_metres=2000)
    names = dict(zip(region["areas"]["area_id"], region["areas"]["name"], strict=True))
    for area_id, name in zip(res.table["area_id"], res.table["name"], strict=True):
        assert area_id.startswith("hex_") and not name.startswith("hex_")
        assert name.split(", ")[0] in set(names.values()) or name.startswith("rute")
    assert res.table["name"].is_unique


def test_additions_at_a_place_with_a_kind(region: dict) -> None:
    areas = region["areas"]
    inside = areas.geometry.iloc[0].representative_point()
    lon, lat = planning_common._lonlat(np.array([inside.x]), np.array([inside.y]), DEFAULT_CRS)
    at = (float(lon[0]), float(lat[0]))
    homes = planning.place_additions([planning.Addition(kind="emergency", at=at, count=2)],
                                     areas, net=region["net"])
    assert list(homes["kind"]) == ["emergency", "emergency"]
    assert list(homes["municipality"]) == [areas["area_id"].iloc[0]] * 2
    assert homes[["lon", "lat"]].to_numpy().tolist() == [list(at), list(at)]
    with pytest.raises(InputError, match="kind 'kinship'"):
        planning.place_additions([planning.Addition("4692", kind="kinship")], areas,
                                 net=region["net"])
    with pytest.raises(InputError, match="needs an area or a place"):
        planning.place_additions([planning.Addition(kind="emergency", at=(0.0, 0.0))], areas,
                                 net=region["net"])
    more = planning.add_homes(region["inputs"], [planning.Addition(kind="emergency", at=at)],
                              net=region["net"], areas=areas)
    assert len(more.homes) == len(region["inputs"].homes) + 1
    assert more.homes["home_id"].iloc[-1].startswith("WHATIF-")
    with pytest.raises(InputError, match="municipality polygons"):
        planning.add_homes(region["inputs"], [planning.Addition("4692")], net=region["net"])


def test_one_more_emergency_home_where_it_is_furthest(oslo: oslo_mod.OsloScenario) -> None:
    bands = (3.0, 5.0)
    before = planning.emergency_coverage(oslo.inputs, net=oslo.net, bands=bands,
                                         areas=oslo.municipalities, population=oslo.population)
    far = before.furthest(3)
    # brute force: the cells sorted by minutes (longest first), ties by id
    cells = before.cells.sort_values(["minutes", "cell_id"], ascending=[False, True])
    assert list(far["cell_id"]) == list(cells["cell_id"].head(3))
    assert list(far["minutes"]) == list(cells["minutes"].head(3))
    assert set(far["name"]) == {"Oslo"}
    at = (far["lon"].iloc[0], far["lat"].iloc[0])
    more = planning.add_homes(oslo.inputs, [planning.Addition(kind="emergency", at=at)],
                              net=oslo.net, areas=oslo.municipalities)
    after = planning.emergency_coverage(more, net=oslo.net, bands=bands,
                                        areas=oslo.municipalities, population=oslo.population)
    assert after.emergency_homes == before.emergency_homes + 1
    old = before.points.set_index("id")["minutes"]
    new = after.points.set_index("id")["minutes"].reindex(old.index)
    assert (new <= old + 1e-9).all()  # one more home never lengthens a trip
    assert new.loc[f"cell:{far['cell_id'].iloc[0]}"] < old.loc[f"cell:{far['cell_id'].iloc[0]}"]
    assert after.table["within_5"].sum() >= before.table["within_5"].sum()


def test_maps_hide_small_areas_and_rank_the_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    saved: list[Figure] = []
    save = Figure.savefig

    def record(fig: Figure, *args: object, **kwargs: object) -> None:
        saved.append(fig)
        save(fig, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", record)
    boxes = [shapely.box(i * 1000.0, 6_700_000.0, i * 1000.0 + 1000.0, 6_701_000.0)
             for i in range(3)]
    table = pd.DataFrame({"rank": [1, 2, 3], "area_id": ["a", "b", "c"],
                          "name": ["Liten", "Stor", "Middels"], "children": [4, 9, 5],
                          "uncovered": [4, 3, 1]})
    gaps = planning.GapResult(
        table=table, areas=gpd.GeoDataFrame(table, geometry=boxes, crs=DEFAULT_CRS),
        by_need=pd.DataFrame(), children=pd.DataFrame(), minutes=5.0, area_kind="hex",
        outside=0)
    with i18n.language("nb"):
        png = planning.gaps_map(gaps)
    assert png[:4] == b"\x89PNG"
    texts = "\n".join(t.get_text() for t in saved[0].texts)
    # the area with 4 children is neither listed nor numbered; the others keep their rank
    assert "2. Stor: 3 (9 venter)" in texts and "3. Middels: 1 (5 venter)" in texts
    assert "Liten" not in texts
    labels = [t.get_text() for t in saved[0].axes[0].texts]
    assert "2" in labels and "3" in labels and "1" not in labels
