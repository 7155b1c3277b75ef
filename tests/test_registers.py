"""Tests of matcher.registers against the real polygons, mapping and school register in data/."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from matcher import registers
from matcher.errors import InputError
from matcher.io import registers as io_registers

DATA = Path(__file__).resolve().parents[1] / "data"
TO_WGS84 = Transformer.from_crs("EPSG:25833", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def polygons() -> gpd.GeoDataFrame:
    return io_registers.read_municipality_polygons(DATA / "kommuner_2024_S.geojson")


@pytest.fixture(scope="module")
def polygons_2020() -> gpd.GeoDataFrame:
    return io_registers.read_municipality_polygons(DATA / "kommuner_2020_small.geojson")


@pytest.fixture(scope="module")
def mapping() -> pd.DataFrame:
    return io_registers.read_mapping(DATA / "kommunenummer_2020_2024.csv")


@pytest.fixture(scope="module")
def schools() -> registers.SchoolRegister:
    return io_registers.read_schools(DATA / "grunnskoler_norge_geocoded.csv")


def _lonlat(points: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    return TO_WGS84.transform(points.x.to_numpy(), points.y.to_numpy())


# --- municipality from the map ----------------------------------------------------------------

def test_polygons_are_the_357_valid_2024_municipalities(polygons: gpd.GeoDataFrame) -> None:
    assert len(polygons) == 357 and polygons["code"].is_unique
    assert polygons.crs.to_epsg() == 25833
    assert shapely.is_valid(polygons.geometry.values).all()
    assert {"0301", "3203", "4601", "1508", "1580"} <= set(polygons["code"])


def test_lookup_follows_the_working_crs_of_the_polygons(polygons: gpd.GeoDataFrame) -> None:
    """Issue 26: the polygons may be in any metric CRS (network.crs); the codes do not change."""
    utm32 = io_registers.read_municipality_polygons(DATA / "kommuner_2024_S.geojson",
                                                    crs="EPSG:25832")
    assert utm32.crs.to_epsg() == 25832
    points = polygons.geometry.sample_points(2, rng=3).explode(index_parts=False)
    lon, lat = _lonlat(points)
    codes33 = registers.municipality_of(lon, lat, polygons).codes
    codes32 = registers.municipality_of(lon, lat, utm32).codes
    assert (codes32 == polygons["code"].to_numpy()[points.index.to_numpy()]).all()
    assert (codes32 == codes33).all()
    with pytest.raises(InputError, match="projected CRS in metres"):
        registers.municipality_of(lon, lat, polygons.to_crs("EPSG:4326"))


def test_derived_municipality_is_the_polygon_holding_the_point(
        polygons: gpd.GeoDataFrame) -> None:
    # every part (island, exclave) of every municipality over 1 km², plus 5 random points each
    parts = polygons.explode(index_parts=False)
    parts = parts[parts.area > 1e6]
    sampled = polygons.geometry.sample_points(5, rng=12).explode(index_parts=False)
    points = pd.concat([parts.geometry.representative_point(), sampled])
    expected = polygons["code"].to_numpy()[points.index.to_numpy()]
    lon, lat = _lonlat(points)

    located = registers.municipality_of(lon, lat, polygons)

    assert len(points) > 2500
    assert located.problems == ()
    assert (located.codes == expected).all()
    holds = polygons.set_index("code").geometry.loc[located.codes].to_numpy()
    assert shapely.covers(holds, points.to_numpy()).all()


def test_elverum_addresses_lie_in_elverum(polygons: gpd.GeoDataFrame) -> None:
    register = io_registers.read_address_register(DATA / "matrikkelen_adresse_3420_elverum.csv")
    lon, lat = TO_WGS84.transform(register.east, register.north)
    located = registers.municipality_of(lon, lat, polygons)
    assert located.problems == ()
    # the simplified polygons shift the border by up to some 100 m: 5 of 10,871 fall outside
    assert (located.codes == "3420").mean() > 0.999


def test_points_at_sea_outside_norway_or_missing_are_problems_by_row(
        polygons: gpd.GeoDataFrame) -> None:
    lon = [10.75, 3.0, 18.07, np.nan, 10.75]
    lat = [59.91, 58.0, 59.33, 59.91, 59.91]
    located = registers.municipality_of(lon, lat, polygons, source="children.csv")
    assert list(located.codes) == ["0301", "", "", "", "0301"]
    assert [(p.source, p.row, p.column) for p in located.problems] == [
        ("children.csv", 3, "municipality"), ("children.csv", 4, "municipality"),
        ("children.csv", 5, "municipality")]  # spreadsheet rows: position p is row p + 2
    assert "at sea or outside Norway" in located.problems[0].message
    assert not any("58" in p.message or "3.0" in p.message for p in located.problems)


def test_points_just_off_the_coast_get_the_nearest_within_the_tolerance(
        polygons: gpd.GeoDataFrame) -> None:
    oslo = polygons.set_index("code").geometry.loc["0301"]
    ring = shapely.get_exterior_ring(max(oslo.geoms, key=lambda g: g.area))
    land = shapely.union_all(polygons.geometry.values)
    candidates = shapely.buffer(ring, 150).exterior
    coords = shapely.get_coordinates(candidates)
    off = [shapely.Point(c) for c in coords if not land.intersects(shapely.Point(c))]
    off = [p for p in off if oslo.distance(p) < 200 and
           polygons.distance(p).idxmin() == polygons.index[polygons["code"] == "0301"][0]]
    assert off
    lon, lat = TO_WGS84.transform(off[0].x, off[0].y)
    assert registers.municipality_of([lon], [lat], polygons).problems
    near = registers.municipality_of([lon], [lat], polygons, max_distance_metres=300)
    assert list(near.codes) == ["0301"] and near.problems == ()


# --- old -> new numbers -----------------------------------------------------------------------

def test_shipped_mapping_is_what_the_polygons_give(polygons: gpd.GeoDataFrame,
                                                   polygons_2020: gpd.GeoDataFrame,
                                                   mapping: pd.DataFrame) -> None:
    derived = registers.derive_mapping(polygons_2020, polygons)
    pd.testing.assert_frame_equal(derived.reset_index(drop=True), mapping, check_dtype=False)


def test_mapping_known_cases(mapping: pd.DataFrame) -> None:
    by_old = mapping.set_index("old")
    assert by_old.loc["3025", ["new", "kind"]].tolist() == ["3203", "one_to_one"]   # Asker
    assert by_old.loc["0301", ["new", "kind"]].tolist() == ["0301", "one_to_one"]   # Oslo
    split = mapping[mapping["old"] == "1507"]                                         # Ålesund
    assert set(split["new"]) == {"1508", "1580"} and set(split["kind"]) == {"split"}
    assert mapping["old"].nunique() == 354
    assert set(mapping["kind"]) == {"one_to_one", "split"}


def test_mapping_follows_the_2024_county_split(mapping: pd.DataFrame) -> None:
    single = mapping[mapping["kind"] == "one_to_one"]
    prefix = {"30": {"31", "32", "33"}, "38": {"39", "40"}, "54": {"55", "56"}}
    for old, new in zip(single["old"], single["new"], strict=True):
        if old[:2] in prefix:
            assert new[:2] in prefix[old[:2]], (old, new)
        else:
            assert new == old, (old, new)


def test_mapping_agrees_with_both_polygon_editions(polygons: gpd.GeoDataFrame,
                                                   polygons_2020: gpd.GeoDataFrame,
                                                   mapping: pd.DataFrame) -> None:
    old = polygons_2020.set_index("code")
    lon, lat = _lonlat(old.geometry.representative_point())
    located = registers.municipality_of(lon, lat, polygons)
    got = dict(zip(old.index, located.codes, strict=True))
    single = mapping[mapping["kind"] == "one_to_one"]
    agree = np.mean([got[o] == n for o, n in zip(single["old"], single["new"], strict=True)])
    assert agree > 0.99
    assert got["1507"] in {"1508", "1580"}


# --- translating and checking numbers ---------------------------------------------------------

def test_translate_municipalities(polygons: gpd.GeoDataFrame, mapping: pd.DataFrame) -> None:
    names = dict(zip(polygons["code"], polygons["name"], strict=True))
    result = registers.translate_municipalities(
        ["3025", "1507", "9999", "", "301", "0301", 3203, None], mapping,
        current=set(polygons["code"]), names=names, source="homes.csv")

    assert list(result.codes) == ["3203", "", "", "", "0301", "0301", "3203", ""]
    assert [(w.row, w.column) for w in result.warnings] == [(2, "municipality")]
    assert "3025 (Asker)" in result.warnings[0].message and "3203 (Asker)" in \
        result.warnings[0].message
    assert [p.row for p in result.problems] == [3, 4]
    assert "split into 1508 Ålesund" in result.problems[0].message
    assert "1580 Haram" in result.problems[0].message
    assert "not a 2024 municipality number" in result.problems[1].message
    assert "leave it empty" in result.problems[1].message


def test_resolve_municipalities_derives_translates_and_suggests(
        polygons: gpd.GeoDataFrame, mapping: pd.DataFrame) -> None:
    lon = [10.75, 10.75, 6.3626, 10.75, 3.0, 10.75]
    lat = [59.91, 59.91, 62.5641, 59.91, 58.0, 59.91]
    codes = ["", "3025", "1507", "9999", "", "4601"]
    result = registers.resolve_municipalities(codes, lon, lat, polygons=polygons,
                                              mapping=mapping)

    # a valid number is kept even when the point lies elsewhere (the responsible
    # municipality need not be where the child lives)
    assert list(result.codes) == ["0301", "3203", "", "", "", "4601"]
    assert [w.row for w in result.warnings] == [3]
    assert [p.row for p in result.problems] == [4, 5, 6]
    assert "the point lies in 1580 Haram" in result.problems[0].message
    assert "use 0301 (Oslo), which holds the point" in result.problems[1].message
    assert "at sea or outside Norway" in result.problems[2].message

    missing_column = registers.resolve_municipalities(None, lon, lat, polygons=polygons,
                                                      mapping=mapping)
    assert list(missing_column.codes) == ["0301", "0301", "1580", "0301", "", "0301"]
    assert [p.row for p in missing_column.problems] == [6]


def test_read_mapping_rejects_other_tables(tmp_path: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("old;new\n3025;3203\n", encoding="utf-8")
    with pytest.raises(InputError, match="make_kommune_mapping"):
        io_registers.read_mapping(bad)


# --- schools ----------------------------------------------------------------------------------

def test_school_by_exact_name(schools: registers.SchoolRegister) -> None:
    result = registers.resolve_schools(["Asdal Skole", "  asdal   SKOLE ", "", None], schools)
    assert result.problems == ()
    assert list(result.register_row[:2]) == [1, 1] and list(result.register_row[2:]) == [-1, -1]
    assert result.lon[0] == pytest.approx(8.694807) and result.lat[0] == pytest.approx(58.435024)
    assert np.isnan(result.lon[2:]).all()


def test_ambiguous_school_name_lists_candidates_with_municipality(
        schools: registers.SchoolRegister) -> None:
    result = registers.resolve_schools(["Asdal Skole", "Flå Skole", "Bø Ungdomsskole"],
                                       schools, source="children.csv")
    assert list(result.register_row) == [1, -1, -1]
    assert [(p.source, p.row, p.column) for p in result.problems] == [
        ("children.csv", 3, "school_id"), ("children.csv", 4, "school_id")]
    assert "names 2 schools" in result.problems[0].message
    assert "Flå Skole (Melhus)" in result.problems[0].message
    assert "Flå Skole (Flå)" in result.problems[0].message
    assert "Bø Ungdomsskole (Bø)" in result.problems[1].message
    assert "Bø Ungdomsskole (Karmøy)" in result.problems[1].message


def test_unknown_school_and_org_number_without_register_column(
        schools: registers.SchoolRegister) -> None:
    assert schools.org_number is None  # data/ has names only
    result = registers.resolve_schools(["Hogwarts Skole", "974589095"], schools)
    assert list(result.register_row) == [-1, -1]
    assert "no school named" in result.problems[0].message
    assert "no organisation numbers" in result.problems[1].message


def test_school_by_org_number_when_the_register_has_them() -> None:
    frame = pd.DataFrame({"EnhetNavn": ["A skole", "B skole", "B skole"],
                          "Kommune": ["Oslo", "Asker", "Bergen"], "lat": ["59.9", "59.8", "60.4"],
                          "lng": ["10.7", "10.4", "5.3"],
                          "Organisasjonsnummer": ["974 589 095", "123456789", "987654321"]})
    schools = registers.schools_from_frame(frame)
    result = registers.resolve_schools(["974589095", "987 654 321", "111111111", "B skole"],
                                       schools)
    assert list(result.register_row) == [0, 2, -1, -1]
    assert result.lon[1] == pytest.approx(5.3)
    assert [p.row for p in result.problems] == [4, 5]
    assert "B skole (Asker); B skole (Bergen)" in result.problems[1].message


def test_school_register_needs_its_columns() -> None:
    with pytest.raises(InputError) as info:
        registers.schools_from_frame(pd.DataFrame({"EnhetNavn": ["A"]}))
    assert {p.column for p in info.value.problems} == {"Kommune", "lat", "lng"}
    assert all("missing required column" in p.message for p in info.value.problems)
