"""Tests for matcher.schema: reading, validation problems, normalisation, anchors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from matcher import schema
from matcher.config import ScoringSettings
from matcher.errors import InputError, Problem
from matcher.io import readers

SETTINGS = ScoringSettings()


def _children() -> pd.DataFrame:
    return pd.DataFrame({
        "child_id": ["c1", "c2", "c3"],
        "lon": ["10.75", "10.70", "5.32"],
        "lat": ["59.91", "59.90", "60.39"],
        "school_lon": ["10.76", "", "5.33"],
        "school_lat": ["59.92", "", "60.40"],
        "municipality": ["0301", "0301", "4601"],
        "age": ["7", "12", "15"],
        "needs": ["trauma", "", "teen;behaviour"],
        "sibling_group": ["S1", "S1", ""],
        "urgency": ["acute", "planned", "planned"],
        "waiting_since": ["2024-01-05", "", "2023-11-30"],
        "max_school_minutes": ["", "30", ""],
    })


def _homes() -> pd.DataFrame:
    return pd.DataFrame({
        "home_id": ["h1", "h2", "h3"],
        "lon": ["10.80", "10.71", "5.30"],
        "lat": ["59.95", "59.89", "60.35"],
        "municipality": ["0301", "0301", "4601"],
        "capacity": ["2", "1", "1"],
        "competences": ["TBO-F;trygg-base", "", "teen"],
        "min_age": ["0", "0", "13"],
        "max_age": ["18", "12", "18"],
        "kind": ["general", "kinship", "emergency"],
        "kin_of": ["", "S1", ""],
        "accepts_sibling_groups": ["ja", "nei", ""],
    })


def _contacts() -> pd.DataFrame:
    return pd.DataFrame({
        "child_id": ["c1", "c3", "c1"],
        "kind": ["parent", "friend", "relative"],
        "lon": ["10.60", "5.31", "10.90"],
        "lat": ["59.80", "60.38", "59.70"],
        "weight": ["", "1", "2.5"],
    })


def _placements() -> pd.DataFrame:
    return pd.DataFrame({"child_id": ["c2"], "home_id": ["h2"]})


def _vetoes() -> pd.DataFrame:
    return pd.DataFrame({"child_id": ["c3"], "home_id": ["h1"]})


BASE: dict[str, Callable[[], pd.DataFrame]] = {
    "children": _children, "homes": _homes, "contacts": _contacts,
    "placements": _placements, "vetoes": _vetoes,
}


def _write_csv(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    paths = {}
    for name, frame in frames.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths[name] = path
    return paths


def _read(paths: dict[str, Path], settings: ScoringSettings = SETTINGS) -> schema.Inputs:
    return readers.read_inputs(paths["children"], paths["homes"], paths.get("contacts"),
                              paths.get("placements"), paths.get("vetoes"), settings=settings)


def _problems(tmp_path: Path, **frames: pd.DataFrame) -> tuple[Problem, ...]:
    tables = {name: make() for name, make in BASE.items()}
    tables.update(frames)
    with pytest.raises(InputError) as info:
        _read(_write_csv(tmp_path, tables))
    assert info.value.exit_code == 2
    return info.value.problems


def _edit(table: str, changes: dict[tuple[int, str], str]) -> pd.DataFrame:
    frame = BASE[table]()
    for (row, column), value in changes.items():
        frame.loc[row, column] = value
    return frame


def _has(problems: tuple[Problem, ...], source: str, row: int | None, column: str | None,
         text: str) -> bool:
    return any(p.source == source and p.row == row and p.column == column and text in p.message
               for p in problems)


# --------------------------------------------------------------------------- valid inputs


def test_valid_csv_is_normalised(tmp_path: Path) -> None:
    inputs = _read(_write_csv(tmp_path, {n: m() for n, m in BASE.items()}))
    ch, ho, co = inputs.children, inputs.homes, inputs.contacts
    assert ch["child_id"].tolist() == ["c1", "c2", "c3"]
    assert ch["municipality"].tolist() == ["0301", "0301", "4601"]
    assert ch["age"].dtype == np.int64 and ch["age"].tolist() == [7, 12, 15]
    assert ch["needs"].tolist() == [("trauma",), (), ("behaviour", "teen")]
    assert ch["sibling_group"].isna().tolist() == [False, False, True]
    assert np.isnan(ch.loc[1, "school_lon"]) and ch.loc[0, "school_lon"] == 10.76
    assert ch["max_school_minutes"].isna().tolist() == [True, False, True]
    assert ch.loc[0, "waiting_since"] == pd.Timestamp("2024-01-05")
    assert pd.isna(ch.loc[1, "waiting_since"])
    assert ho["competences"].tolist() == [("TBO-F", "trygg-base"), (), ("teen",)]
    assert ho["accepts_sibling_groups"].tolist() == [True, False, False]
    assert ho["kin_of"].isna().tolist() == [True, False, True]
    assert ho["capacity"].dtype == np.int64
    assert co["weight"].tolist() == [1.0, 1.0, 2.5]
    assert co["anchor_id"].tolist() == ["c1:contact:1", "c3:contact:1", "c1:contact:2"]
    assert inputs.placements.to_dict("records") == [{"child_id": "c2", "home_id": "h2"}]
    for name in schema.TABLES:
        digest = hashlib.sha256((tmp_path / f"{name}.csv").read_bytes()).hexdigest()
        assert inputs.sources[name] == digest


def test_optional_tables_absent(tmp_path: Path) -> None:
    paths = _write_csv(tmp_path, {"children": _children(), "homes": _homes()})
    inputs = _read(paths)
    assert list(inputs.contacts.columns) == ["child_id", "kind", "lon", "lat", "weight",
                                             "max_minutes", "anchor_id"]
    assert inputs.contacts.empty and inputs.placements.empty and inputs.vetoes.empty
    assert set(inputs.sources) == {"children", "homes"}


def test_leniencies(tmp_path: Path) -> None:
    """3-digit municipality is zero-padded; '_' columns are dropped; optional columns absent."""
    children = _children().drop(columns=["needs", "waiting_since", "max_school_minutes",
                                         "school_lon", "school_lat"])
    children.loc[0, "municipality"] = "301"
    children["_note"] = "anything"
    homes = _homes().drop(columns=["competences", "accepts_sibling_groups"])
    inputs = _read(_write_csv(tmp_path, {"children": children, "homes": homes}))
    assert inputs.children["municipality"].tolist()[0] == "0301"
    assert "_note" not in inputs.children.columns
    assert inputs.children["needs"].tolist() == [(), (), ()]
    assert inputs.children["school_lon"].isna().all()
    assert inputs.homes["accepts_sibling_groups"].tolist() == [False] * 3


def test_semicolon_csv_with_decimal_comma_and_bom(tmp_path: Path) -> None:
    base = _read(_write_csv(tmp_path, {"children": _children(), "homes": _homes()}))
    children = _children()
    for column in ("lon", "lat", "school_lon", "school_lat"):
        children[column] = children[column].str.replace(".", ",")
    path = tmp_path / "children_semicolon.csv"
    path.write_bytes(b"\xef\xbb\xbf" + children.to_csv(index=False, sep=";").encode())
    inputs = readers.read_inputs(path, tmp_path / "homes.csv", settings=SETTINGS)
    pd.testing.assert_frame_equal(inputs.children, base.children)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("lon", "lat", "school_lon", "school_lat", "weight", "max_school_minutes"):
        if column in out:
            out[column] = pd.to_numeric(out[column].replace("", np.nan))
    for column in ("age", "capacity", "min_age", "max_age"):
        if column in out:
            out[column] = out[column].astype(int)
    return out


def _points(frame: pd.DataFrame, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    typed = _typed(frame)
    gdf = gpd.GeoDataFrame(typed.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(typed["lon"], typed["lat"]),
                           crs="EPSG:4326")
    return gdf.to_crs(crs)


def _assert_same_inputs(got: schema.Inputs, want: schema.Inputs) -> None:
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name),
                                      check_exact=False, rtol=1e-9, atol=1e-9)


def test_round_trip_geojson_and_gpkg(tmp_path: Path) -> None:
    frames = {n: m() for n, m in BASE.items()}
    want = _read(_write_csv(tmp_path, frames))

    # GeoJSON point layers (EPSG:4326), typed columns.
    gj = {}
    for name in ("children", "homes", "contacts"):
        gj[name] = tmp_path / f"{name}.geojson"
        _points(frames[name]).to_file(gj[name])
    got = readers.read_inputs(gj["children"], gj["homes"], gj["contacts"],
                             tmp_path / "placements.csv", tmp_path / "vetoes.csv",
                             settings=SETTINGS)
    _assert_same_inputs(got, want)

    # One GeoPackage, several layers; homes in UTM 33N (reprojected), attribute tables.
    gpkg = tmp_path / "run.gpkg"
    _points(frames["children"]).to_file(gpkg, layer="children")
    _points(frames["homes"], "EPSG:25833").to_file(gpkg, layer="homes")
    _points(frames["contacts"]).to_file(gpkg, layer="contacts")
    for name in ("placements", "vetoes"):
        pyogrio.write_dataframe(frames[name], gpkg, layer=name)
    got = readers.read_inputs(Path(f"{gpkg}:children"), Path(f"{gpkg}:homes"),
                             Path(f"{gpkg}:contacts"), Path(f"{gpkg}:placements"),
                             Path(f"{gpkg}:vetoes"), settings=SETTINGS)
    _assert_same_inputs(got, want)
    # Without a layer name a multi-layer file is an error listing its layers (issue 15).
    with pytest.raises(InputError, match=r"has 5 layers; name one as run\.gpkg:LAYER"):
        readers.read_inputs(gpkg, Path(f"{gpkg}:homes"), settings=SETTINGS)
    single = tmp_path / "children.gpkg"
    _points(frames["children"]).to_file(single, layer="anything")
    first = readers.read_inputs(single, Path(f"{gpkg}:homes"), settings=SETTINGS)
    _assert_same_inputs(schema.Inputs(first.children, want.contacts, first.homes,
                                      want.placements, want.vetoes), want)


def test_validate_frames_is_pure_and_accepts_typed_and_geo(tmp_path: Path) -> None:
    want = _read(_write_csv(tmp_path, {n: m() for n, m in BASE.items()}))
    children = _children()
    got = schema.validate(_points(children, "EPSG:3035"), _typed(_homes()), _typed(_contacts()),
                          _placements(), _vetoes(), settings=SETTINGS)
    _assert_same_inputs(got, want)
    pd.testing.assert_frame_equal(children, _children())  # input untouched
    assert set(got.sources) == set(schema.TABLES)


# --------------------------------------------------------------------------- row problems

CASES: list[tuple[str, dict[tuple[int, str], str], str, int, str, str]] = [
    # table, changes (at 0-based data positions), file, row as a spreadsheet shows it
    # (header = row 1, so position p is row p + 2), column, message fragment
    ("children", {(0, "lon"): "200"}, "children.csv", 2, "lon", "outside -180..180"),
    ("children", {(1, "lat"): "abc"}, "children.csv", 3, "lat", "not a number"),
    ("children", {(1, "lat"): ""}, "children.csv", 3, "lat", "empty lat"),
    ("children", {(1, "lat"): "nan"}, "children.csv", 3, "lat", "not a number"),
    ("children", {(2, "lon"): "597000"}, "children.csv", 4, "lon", "projected metres"),
    ("children", {(0, "lat"): "95"}, "children.csv", 2, "lat", "outside -90..90"),
    ("children", {(0, "lon"): "0", (0, "lat"): "0"}, "children.csv", 2, "lon", "0,0"),
    ("children", {(0, "school_lat"): ""}, "children.csv", 2, "school_lat", "both or neither"),
    ("children", {(2, "school_lon"): "181"}, "children.csv", 4, "school_lon", "outside"),
    ("children", {(1, "child_id"): "c1"}, "children.csv", 3, "child_id",
     "duplicate child_id 'c1' (first at row 2)"),
    ("children", {(1, "child_id"): ""}, "children.csv", 3, "child_id", "empty child_id"),
    ("children", {(2, "child_id"): "c:3"}, "children.csv", 4, "child_id", "contains ':'"),
    ("children", {(2, "municipality"): "46"}, "children.csv", 4, "municipality",
     "4-digit kommunenummer"),
    ("children", {(0, "age"): "26"}, "children.csv", 2, "age", "0..25"),
    ("children", {(0, "age"): "7.5"}, "children.csv", 2, "age", "whole number"),
    ("children", {(0, "age"): ""}, "children.csv", 2, "age", "empty age"),
    ("children", {(0, "needs"): "trauma;flying"}, "children.csv", 2, "needs",
     "unknown need tag 'flying'"),
    ("children", {(0, "needs"): "Trauma"}, "children.csv", 2, "needs",
     "did you mean 'trauma'"),
    ("children", {(1, "urgency"): "urgent"}, "children.csv", 3, "urgency",
     "use one of acute, planned"),
    ("children", {(1, "urgency"): ""}, "children.csv", 3, "urgency", "empty urgency"),
    ("children", {(0, "waiting_since"): "05.01.2024"}, "children.csv", 2, "waiting_since",
     "YYYY-MM-DD"),
    ("children", {(0, "waiting_since"): "2024-02-30"}, "children.csv", 2, "waiting_since",
     "not an ISO date"),
    ("children", {(1, "max_school_minutes"): "0"}, "children.csv", 3, "max_school_minutes",
     "> 0"),
    ("children", {(1, "max_school_minutes"): "inf"}, "children.csv", 3,
     "max_school_minutes", "> 0"),
    ("children", {(0, "avoid_municipalities"): "4601;46x1"}, "children.csv", 2,
     "avoid_municipalities", "'46x1' not a 4-digit kommunenummer"),
    ("children", {(1, "languages"): "nb;NO"}, "children.csv", 3, "languages",
     "'NO' (did you mean 'no'?) is not an ISO 639-1 or ISO 639-3 language code"),
    ("children", {(1, "languages"): "norsk"}, "children.csv", 3, "languages",
     "'norsk' is not an ISO 639-1 or ISO 639-3 language code"),
    ("children", {(1, "languages"): "sma;qqq;xx"}, "children.csv", 3, "languages",
     "'qqq', 'xx' are not ISO 639-1 or ISO 639-3 language codes"),
    ("children", {(0, "language_required"): "yes"}, "children.csv", 2, "language_required",
     "languages is empty"),
    ("children", {(0, "language_required"): "kanskje"}, "children.csv", 2,
     "language_required", "yes/no"),
    ("children", {(2, "culture"): "viking"}, "children.csv", 4, "culture",
     "unknown culture tag 'viking'"),
    ("children", {(2, "heard_on"): "1.9.2026"}, "children.csv", 4, "heard_on",
     "YYYY-MM-DD"),
    ("homes", {(0, "own_children_ages"): "4;x"}, "homes.csv", 2, "own_children_ages",
     "'x' not an age 0-25"),
    ("homes", {(0, "own_children_ages"): "30"}, "homes.csv", 2, "own_children_ages",
     "not an age 0-25"),
    ("homes", {(0, "languages"): "english"}, "homes.csv", 2, "languages",
     "ISO 639-3"),
    ("homes", {(0, "culture"): "Sami"}, "homes.csv", 2, "culture", "did you mean 'sami'"),
    ("contacts", {(1, "max_minutes"): "0"}, "contacts.csv", 3, "max_minutes", "> 0"),
    ("contacts", {(1, "max_minutes"): "soon"}, "contacts.csv", 3, "max_minutes", "> 0"),
    ("children", {(2, "sibling_group"): "c1"}, "children.csv", 4, "sibling_group",
     "also the id of child at row 2"),
    ("homes", {(1, "home_id"): "h1"}, "homes.csv", 3, "home_id", "duplicate home_id 'h1'"),
    ("homes", {(0, "lon"): "-181"}, "homes.csv", 2, "lon", "outside -180..180"),
    ("homes", {(0, "capacity"): "-1"}, "homes.csv", 2, "capacity", ">= 0"),
    ("homes", {(0, "capacity"): "1.5"}, "homes.csv", 2, "capacity", "whole number"),
    ("homes", {(0, "competences"): "TBO-F;TBOF"}, "homes.csv", 2, "competences",
     "unknown competence tag 'TBOF'"),
    ("homes", {(0, "competences"): "tbo-f"}, "homes.csv", 2, "competences",
     "did you mean 'TBO-F'"),
    ("homes", {(2, "min_age"): "19"}, "homes.csv", 4, "min_age", "above max_age 18"),
    ("homes", {(2, "max_age"): "-1"}, "homes.csv", 4, "max_age", ">= 0"),
    ("homes", {(0, "kind"): "foster"}, "homes.csv", 2, "kind",
     "general, kinship, emergency, specialized"),
    ("homes", {(1, "kin_of"): ""}, "homes.csv", 3, "kin_of", "kinship home without kin_of"),
    ("homes", {(0, "kin_of"): "c1"}, "homes.csv", 2, "kin_of", "set on a general home"),
    ("homes", {(1, "kin_of"): "zz"}, "homes.csv", 3, "kin_of",
     "neither a child_id nor a sibling_group"),
    ("homes", {(0, "accepts_sibling_groups"): "maybe"}, "homes.csv", 2,
     "accepts_sibling_groups", "yes/no"),
    ("homes", {(2, "municipality"): ""}, "homes.csv", 4, "municipality", "kommunenummer"),
    ("contacts", {(1, "child_id"): "zz"}, "contacts.csv", 3, "child_id",
     "unknown child_id 'zz'"),
    ("contacts", {(0, "kind"): "teacher"}, "contacts.csv", 2, "kind",
     "relative, friend, activity, parent"),
    ("contacts", {(2, "weight"): "0"}, "contacts.csv", 4, "weight", "> 0"),
    ("contacts", {(2, "weight"): "heavy"}, "contacts.csv", 4, "weight", "> 0"),
    ("contacts", {(0, "lat"): "-91"}, "contacts.csv", 2, "lat", "outside -90..90"),
    ("placements", {(0, "home_id"): "hx"}, "placements.csv", 2, "home_id",
     "unknown home_id 'hx'"),
    ("placements", {(0, "child_id"): "zz"}, "placements.csv", 2, "child_id",
     "unknown child_id 'zz'"),
    ("vetoes", {(0, "home_id"): "hx"}, "vetoes.csv", 2, "home_id", "unknown home_id"),
    ("vetoes", {(0, "child_id"): ""}, "vetoes.csv", 2, "child_id", "empty child_id"),
]


@pytest.mark.parametrize(("table", "changes", "source", "row", "column", "text"), CASES,
                         ids=[f"{c[0]}-{c[4]}-{c[5][:20]}" for c in CASES])
def test_row_problem(tmp_path: Path, table: str, changes: dict[tuple[int, str], str],
                     source: str, row: int, column: str, text: str) -> None:
    problems = _problems(tmp_path, **{table: _edit(table, changes)})
    assert _has(problems, source, row, column, text), "\n".join(map(str, problems))


def test_messages_do_not_echo_coordinates(tmp_path: Path) -> None:
    problems = _problems(tmp_path, children=_edit("children", {(0, "lat"): "123.4567"}))
    assert problems and not any("123.4567" in p.message for p in problems)


def test_locked_twice_and_locked_vetoed(tmp_path: Path) -> None:
    placements = pd.DataFrame({"child_id": ["c2", "c1", "c2"], "home_id": ["h2", "h1", "h1"]})
    vetoes = pd.DataFrame({"child_id": ["c3", "c1"], "home_id": ["h1", "h1"]})
    problems = _problems(tmp_path, placements=placements, vetoes=vetoes)
    # spreadsheet rows: the header is row 1, the first placement row 2
    assert _has(problems, "placements.csv", 4, "child_id", "already locked at row 2")
    assert _has(problems, "placements.csv", 3, None, "also vetoed (vetoes row 3)")


def test_repeated_vetoes_are_merged(tmp_path: Path) -> None:
    vetoes = pd.DataFrame({"child_id": ["c3", "c3"], "home_id": ["h1", "h1"]})
    paths = _write_csv(tmp_path, {"children": _children(), "homes": _homes(),
                                  "vetoes": vetoes})
    assert len(_read(paths).vetoes) == 1


# --------------------------------------------------------------------------- table problems


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    children = _children().drop(columns=["age"]).rename(columns={"urgency": "Urgency"})
    children["colour"] = "x"
    children["_kept_note"] = "ok"
    problems = _problems(tmp_path, children=children)
    assert _has(problems, "children.csv", None, "age", "missing required column 'age'")
    assert _has(problems, "children.csv", None, "Urgency", "rename it to 'urgency'")
    assert _has(problems, "children.csv", None, "colour", "allowed: child_id, lon, lat")
    assert not any(p.column == "_kept_note" for p in problems)
    # a missing column does not also flag every row
    assert not any(p.column == "age" and p.row is not None for p in problems)


def test_school_column_without_partner(tmp_path: Path) -> None:
    problems = _problems(tmp_path, children=_children().drop(columns=["school_lat"]))
    assert _has(problems, "children.csv", None, "school_lat", "add both or neither")


@pytest.mark.parametrize("table", ["children", "homes"])
def test_empty_required_table(tmp_path: Path, table: str) -> None:
    frames = {"children": _children(), "homes": _homes(), table: BASE[table]().iloc[:0]}
    if table == "children":
        frames["homes"] = frames["homes"].assign(kind="general", kin_of="")
    with pytest.raises(InputError) as info:
        _read(_write_csv(tmp_path, frames))
    assert _has(info.value.problems, f"{table}.csv", None, None, "no rows")


def test_unreadable_files(tmp_path: Path) -> None:
    paths = _write_csv(tmp_path, {"children": _children(), "homes": _homes()})
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "latin1.csv").write_bytes("child_id,kind,lon,lat\nø,parent,1,2\n"
                                          .encode("latin-1"))
    (tmp_path / "broken.gpkg").write_text("not a database")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    cases = {
        "contacts": (tmp_path / "empty.csv", "file is empty"),
        "placements": (tmp_path / "latin1.csv", "not UTF-8"),
        "vetoes": (tmp_path / "broken.gpkg", "cannot read as a GeoPackage"),
    }
    with pytest.raises(InputError) as info:
        readers.read_inputs(paths["children"], tmp_path / "nowhere.csv",
                           cases["contacts"][0], cases["placements"][0], cases["vetoes"][0],
                           settings=SETTINGS)
    problems = info.value.problems
    assert _has(problems, "nowhere.csv", None, None, "file not found")
    for path, text in cases.values():
        assert _has(problems, path.name, None, None, text), "\n".join(map(str, problems))
    with pytest.raises(InputError, match=r"unsupported file type '\.xlsx'"):
        readers.read_inputs(tmp_path / "sheet.xlsx", paths["homes"], settings=SETTINGS)
    with pytest.raises(InputError, match="no layer 'nope'"):
        gpkg = tmp_path / "h.gpkg"
        _points(_homes()).to_file(gpkg, layer="homes")
        readers.read_inputs(paths["children"], Path(f"{gpkg}:nope"), settings=SETTINGS)


def test_geometry_problems(tmp_path: Path) -> None:
    homes = _points(_homes())
    no_crs = tmp_path / "homes_nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        homes.set_crs(None, allow_override=True).to_file(no_crs)
    children = _points(_children())
    children.loc[1, "geometry"] = children.geometry.iloc[1].buffer(0.01)
    poly = tmp_path / "children_poly.gpkg"
    children.to_file(poly)
    with pytest.raises(InputError) as info:
        readers.read_inputs(poly, no_crs, settings=SETTINGS)
    problems = info.value.problems
    assert _has(problems, "homes_nocrs.gpkg", None, None, "layer has no CRS")
    # the 2nd feature is row 3: features count as rows under a header row
    assert _has(problems, "children_poly.gpkg", 3, "geometry", "geometry is a Polygon")
    assert len([p for p in problems if p.source == "homes_nocrs.gpkg"]) == 1


def test_out_of_range_after_reprojection_names_the_crs() -> None:
    homes = _points(_homes(), "EPSG:25833")
    homes.loc[0, "geometry"] = gpd.points_from_xy([1e12], [1e12])[0]
    with pytest.raises(InputError) as info:
        schema.validate(_children(), homes, settings=SETTINGS)
    assert any(p.row == 2 and p.column == "lon" and "EPSG:25833" in p.message
               for p in info.value.problems), info.value


def test_all_problems_in_all_files_reported_once(tmp_path: Path) -> None:
    children = _edit("children", {(0, "age"): "99", (2, "urgency"): "soon"})
    homes = _edit("homes", {(0, "competences"): "magic"})
    contacts = _edit("contacts", {(1, "kind"): "teacher"})
    (tmp_path / "vetoes.gpkg").write_text("garbage")
    paths = _write_csv(tmp_path, {"children": children, "homes": homes, "contacts": contacts,
                                  "placements": _placements()})
    with pytest.raises(InputError) as info:
        readers.read_inputs(paths["children"], paths["homes"], paths["contacts"],
                           paths["placements"], tmp_path / "vetoes.gpkg", settings=SETTINGS)
    problems = info.value.problems
    assert {p.source for p in problems} == {"children.csv", "homes.csv", "contacts.csv",
                                            "vetoes.gpkg"}
    assert len(problems) == 5
    assert "5 problems" in str(info.value)
    assert [p.source for p in problems][:2] == ["children.csv", "children.csv"]


def test_settings_define_tags(tmp_path: Path) -> None:
    settings = ScoringSettings(competences=("TBO-F", "trygg-base", "EFST", "disability",
                                            "teen", "PRIDE", "MST"),
                               need_competences={"trauma": ("EFST",), "conduct": ("MST",)})
    frames = {n: m() for n, m in BASE.items()}
    frames["children"].loc[2, "needs"] = "conduct;teen"
    frames["homes"].loc[0, "competences"] = "MST"
    inputs = _read(_write_csv(tmp_path, frames), settings)
    assert inputs.children.loc[2, "needs"] == ("conduct", "teen")
    with pytest.raises(InputError, match="unknown need tag"):
        _read(_write_csv(tmp_path, frames), ScoringSettings())


# --------------------------------------------------------------------------- anchors, times


def test_anchor_ids_and_order(tmp_path: Path) -> None:
    inputs = _read(_write_csv(tmp_path, {n: m() for n, m in BASE.items()}))
    a = schema.anchors(inputs)
    assert a["anchor_id"].tolist() == ["c1:home", "c1:school", "c1:contact:1", "c1:contact:2",
                                       "c2:home", "c3:home", "c3:school", "c3:contact:1"]
    assert a["kind"].tolist() == ["home", "school", "parent", "relative", "home", "home",
                                  "school", "friend"]
    assert a["weight"].tolist() == [1.0, 1.0, 1.0, 2.5, 1.0, 1.0, 1.0, 1.0]
    assert a.loc[1, ["lon", "lat"]].tolist() == [10.76, 59.92]
    assert a.loc[3, ["lon", "lat"]].tolist() == [10.90, 59.70]
    assert list(a.columns) == ["anchor_id", "child_id", "kind", "lon", "lat", "weight"]
    assert not schema.anchors(inputs, include_home=False)["kind"].eq("home").any()


def test_read_times(tmp_path: Path) -> None:
    inputs = _read(_write_csv(tmp_path, {n: m() for n, m in BASE.items()}))
    long = pd.DataFrame({"home_id": ["h1", "h2", "h1"],
                         "anchor_id": ["c1:school", "c1:school", "c3:contact:1"],
                         "minutes": ["12.5", "inf", "40"]})
    long.to_csv(tmp_path / "times.csv", index=False)
    table = readers.read_times(tmp_path / "times.csv", inputs)
    sub = table.select(["h1", "h2", "h3"], ["c1:school", "c3:contact:1"]).minutes
    np.testing.assert_array_equal(sub, [[12.5, 40.0], [np.inf, np.inf], [np.inf, np.inf]])

    bad = pd.DataFrame({"home_id": ["h1", "hx"], "anchor_id": ["c1:contact:9", "c1:school"],
                        "minutes": ["-1", "3"], "extra": ["", ""]})
    bad.to_csv(tmp_path / "bad_times.csv", index=False)
    with pytest.raises(InputError) as info:
        readers.read_times(tmp_path / "bad_times.csv", inputs)
    problems = info.value.problems
    assert _has(problems, "bad_times.csv", 2, "anchor_id", "unknown anchor_id 'c1:contact:9'")
    assert _has(problems, "bad_times.csv", 3, "home_id", "unknown home_id 'hx'")
    assert _has(problems, "bad_times.csv", 2, "minutes", ">= 0")
    assert _has(problems, "bad_times.csv", None, "extra", "unknown column")


def test_tags_helpers() -> None:
    assert schema.split_tags(" teen ; trauma;;teen") == ("teen", "trauma")
    assert schema.join_tags(("teen", "trauma")) == "teen;trauma"


# --------------------------------------------------------------------------- issue 13


def test_wish_language_and_household_columns_are_normalised(tmp_path: Path) -> None:
    children = _children().assign(
        avoid_municipalities=["4601;301", "", ""], languages=["nb;so", "", "se"],
        language_required=["", "", "ja"], culture=["muslim", "", "sami"],
        heard_on=["2026-09-01", "", ""])
    homes = _homes().assign(languages=["nb", "nb;so", ""], culture=["", "muslim;sami", ""],
                            own_children_ages=["9;4;9", "", "17"])
    contacts = _contacts().assign(max_minutes=["", "20", "45,5"])
    inputs = _read(_write_csv(tmp_path, {"children": children, "homes": homes,
                                         "contacts": contacts}))
    ch, ho = inputs.children, inputs.homes
    assert ch["avoid_municipalities"].tolist() == [("0301", "4601"), (), ()]
    assert ch["languages"].tolist() == [("nb", "so"), (), ("se",)]
    assert ch["language_required"].tolist() == [False, False, True]
    assert ch["culture"].tolist() == [("muslim",), (), ("sami",)]
    assert ch["heard_on"].isna().tolist() == [False, True, True]
    assert ho["own_children_ages"].tolist() == [(4, 9, 9), (), (17,)]
    assert ho["culture"].tolist() == [(), ("muslim", "sami"), ()]
    np.testing.assert_array_equal(inputs.contacts["max_minutes"], [np.nan, 20.0, 45.5])


def test_siblings_may_live_in_different_municipalities(tmp_path: Path) -> None:
    """Issue 13: no longer an input error (each child's municipality component uses its own)."""
    children = _edit("children", {(1, "municipality"): "4601"})
    inputs = _read(_write_csv(tmp_path, {"children": children, "homes": _homes()}))
    assert inputs.children["municipality"].tolist() == ["0301", "4601", "4601"]


def test_every_new_column_problem_at_once(tmp_path: Path) -> None:
    children = _children().assign(languages=["NB", "", ""], language_required=["", "", "yes"],
                                  avoid_municipalities=["", "x", ""])
    homes = _homes().assign(own_children_ages=["", "-1", ""])
    contacts = _contacts().assign(max_minutes=["0", "", ""])
    problems = _problems(tmp_path, children=children, homes=homes, contacts=contacts)
    where = {(p.source, p.row, p.column) for p in problems}
    assert {("children.csv", 2, "languages"), ("children.csv", 4, "language_required"),
            ("children.csv", 3, "avoid_municipalities"), ("homes.csv", 3, "own_children_ages"),
            ("contacts.csv", 2, "max_minutes")} <= where


# --------------------------------------------------------------------------- issue 15


@pytest.mark.parametrize(("value", "text"), [
    ("c\n1", "printable"), ("c\x001", "printable"), ("c\u202e1", "printable"),
    ("c" * 65, "at most 64"),
])
@pytest.mark.parametrize(("table", "column"), [("children", "child_id"), ("homes", "home_id"),
                                               ("children", "sibling_group")])
def test_ids_are_printable_and_short(tmp_path: Path, table: str, column: str, value: str,
                                     text: str) -> None:
    # issue 15, case 9: ids held a newline or NUL, which reached CSV cells and reasons.
    edits = {(2, column): value}
    frames = {table: _edit(table, edits)}
    if table == "homes":
        frames["vetoes"] = pd.DataFrame({"child_id": ["c3"], "home_id": ["h1"]})
    problems = _problems(tmp_path, **frames)
    assert _has(problems, f"{table}.csv", 4, column, text), problems
    assert not any(value in p.message for p in problems)  # never echoed


def test_a_bad_children_header_gives_no_false_reference_errors(tmp_path: Path) -> None:
    # issue 15, case 10: a bad children header also produced errors about homes.kin_of
    # (and every reference to a child id).
    children = _children().rename(columns={"child_id": "childid"})
    problems = _problems(tmp_path, children=children)
    assert {p.source for p in problems} == {"children.csv"}, problems
    homes = _homes().rename(columns={"home_id": "Home ID"})
    problems = _problems(tmp_path, homes=homes)
    assert {p.source for p in problems} == {"homes.csv"}, problems


def test_huge_whole_numbers_are_errors_not_overflows(tmp_path: Path) -> None:
    # Found by tests/test_fuzz.py: 9.2e18 passed '>= 0' and overflowed int64 on the cast.
    problems = _problems(tmp_path, homes=_edit("homes", {(0, "capacity"): "1e19",
                                                         (1, "max_age"): "9.3e18"}))
    assert _has(problems, "homes.csv", 2, "capacity", "not a whole number")
    assert _has(problems, "homes.csv", 3, "max_age", "not a whole number")
