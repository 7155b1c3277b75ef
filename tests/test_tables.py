"""The table engine: one behaviour over every spec (matcher.tables.SPECS)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from loader import load_script

from matcher import decisions, schema, tables
from matcher.config import ScoringSettings
from matcher.errors import InputError
from matcher.planning.support import validate_families
from matcher.tables import Column, TableSpec

VOCABULARIES = {"needs": {"teen", "trauma"}, "competences": {"teen"}, "cultures": {"sami"}}
SPECS = sorted(tables.SPECS)


def _with(*kinds: str) -> list[str]:
    """The specs that have a column of one of ``kinds``."""
    return [n for n in SPECS if any(c.kind in kinds for c in tables.SPECS[n].columns)]


def _example(c: Column, row: int) -> str:
    """A valid cell of column ``c`` in data row ``row`` (0-based), as text."""
    low, high = c.range if c.range is not None else (None, None)
    if c.kind == "id":
        return f"X{row + 1}"
    if c.kind == "number":
        if low is None and high is None:
            return "2.5" if c.range is None else "-3.5"
        return f"{(low if low is not None else high - 1) + 0.5:g}"
    if c.kind == "integer":
        return f"{int(low if low is not None else 0) + 1}"
    if c.kind == "tags":
        allowed = VOCABULARIES[c.vocabulary] if c.vocabulary else c.allowed
        return sorted(allowed)[0] if allowed else "any;tag"  # free tags (reserved_for)
    return {"text": "a", "date": "2024-01-02", "choice": c.allowed[0] if c.allowed else "",
            "municipality": "0301", "municipalities": "0301;4601", "lon": "10.75",
            "lat": "59.9", "boolean": "yes", "languages": "nb", "ages": "4;9"}[c.kind]


def _valid(spec: TableSpec, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({c.name: [_example(c, i) for i in range(n)] for c in spec.columns})


def _read(spec: TableSpec, frame: pd.DataFrame) -> tables.Table:
    return tables.read(spec, frame, label="t.csv", vocabularies=VOCABULARIES)


def _where(t: tables.Table) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in t.problems}


@pytest.mark.parametrize("name", SPECS)
def test_a_valid_table_reads_without_problems(name: str) -> None:
    spec = tables.SPECS[name]
    t = _read(spec, _valid(spec))
    assert t.problems == []
    frame = t.frame()
    assert list(frame.columns) == [c.name for c in spec.columns if c.name in t.values]
    assert len(frame) == 3


@pytest.mark.parametrize("name", _with("id"))
def test_numeric_ids_read_as_written_without_a_decimal(name: str) -> None:
    spec = tables.SPECS[name]
    ids = [c for c in spec.columns if c.kind == "id"]
    frame = _valid(spec).astype(object)
    for c in ids:  # a spreadsheet turns 1, 2, 3 into floats
        frame[c.name] = [1.0, 2.0, 3.0]
    t = _read(spec, frame)
    assert t.problems == []
    for c in ids:
        assert list(t.values[c.name]) == ["1", "2", "3"]


@pytest.mark.parametrize("name", _with("number", "lon", "lat"))
def test_a_decimal_comma_is_a_decimal_point(name: str) -> None:
    spec = tables.SPECS[name]
    cols = [c for c in spec.columns if c.kind in ("number", "lon", "lat")]
    frame = _valid(spec)
    point = _read(spec, frame).values
    for c in cols:
        frame[c.name] = [t.replace(".", ",") if "." in t else t + ",0" for t in frame[c.name]]
    t = _read(spec, frame)
    assert t.problems == []
    for c in cols:
        np.testing.assert_array_equal(t.values[c.name], point[c.name])


@pytest.mark.parametrize("name", _with("municipality", "municipalities"))
def test_municipality_numbers_keep_their_leading_zero(name: str) -> None:
    spec = tables.SPECS[name]
    cols = [c for c in spec.columns if c.kind in ("municipality", "municipalities")]
    frame = _valid(spec).astype(object)
    for c in cols:
        frame[c.name] = [301, 301.0, "301"] if c.kind == "municipality" else ["301;4601"] * 3
    t = _read(spec, frame)
    assert t.problems == []
    for c in cols:
        first = t.values[c.name][0]
        assert (first == "0301") if c.kind == "municipality" else first == ("0301", "4601")


@pytest.mark.parametrize("name", SPECS)
def test_unknown_columns_are_reported_or_kept_as_the_spec_says(name: str) -> None:
    spec = tables.SPECS[name]
    frame = _valid(spec).assign(colour=["red"] * 3, _note=["kept"] * 3)
    t = _read(spec, frame)
    if spec.extra == "error":
        assert _where(t) == {(None, "colour")}
        assert "allowed:" in t.problems[0].message
    else:
        assert t.problems == []
        kept = t.frame(keep=frame)
        assert list(kept["colour"]) == ["red"] * 3
        assert list(kept.columns)[: len(frame.columns)] == list(frame.columns)


@pytest.mark.parametrize("name", SPECS)
def test_every_missing_required_column_is_reported_once(name: str) -> None:
    spec = tables.SPECS[name]
    t = _read(spec, _valid(spec).drop(columns=list(spec.required)))
    assert sorted(p.column or "" for p in t.problems if p.row is None) == sorted(spec.required)
    assert all("missing required column" in p.message for p in t.problems if p.row is None)


@pytest.mark.parametrize("name", SPECS)
def test_empty_cells_of_required_columns_are_reported_by_row(name: str) -> None:
    spec = tables.SPECS[name]
    frame = _valid(spec)
    must = [c.name for c in spec.columns if c.required and not c.blank
            and (c.kind != "choice" or c.default is None)]
    frame.loc[1, must] = ""
    t = _read(spec, frame)
    rows = {(p.row, p.column) for p in t.problems if p.row is not None}
    assert rows == {(3, c) for c in must}  # position 1 is row 3: the header is row 1
    assert t.n == 3


@pytest.mark.parametrize("name", SPECS)
def test_every_problem_is_reported_at_once(name: str) -> None:
    spec = tables.SPECS[name]
    frame = _valid(spec)
    typed = [c for c in spec.columns if c.kind not in ("text", "tags")]
    first, last = typed[0], typed[-1]
    frame.loc[0, first.name] = "a\tb" if first.kind == "id" else "x?"
    frame.loc[2, last.name] = "a\tb" if last.kind == "id" else "x?"
    t = _read(spec, frame)
    assert {(2, first.name), (4, last.name)} <= _where(t)


def test_the_spec_names_match_the_schema_and_the_docs_columns() -> None:
    expected = {n: {c.name: c.required for c in tables.SPECS[n].columns} for n in schema.TABLES}
    assert expected == schema.COLUMNS
    assert decisions.COLUMNS == ("child_id", "home_id", "decision", "decided_on", "by", "reason",
                                 "actor")
    for spec in tables.SPECS.values():
        assert all(c.kind in tables.KINDS and c.doc for c in spec.columns), spec.name
        assert all(c.allowed for c in spec.columns if c.kind == "choice"), spec.name


def test_a_spec_that_repeats_a_column_is_refused() -> None:
    with pytest.raises(ValueError, match="repeats"):
        TableSpec("x", columns=(Column("a", "id"), Column("a", "text")))


# --- the one date parser --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-15", "2026-10-15T00:00"),
    ("2026-10-15T08:30", "2026-10-15T08:30"),
    ("2026-10-15 08:30:15", "2026-10-15T08:30:15"),
    ("2026-10-15T07:30:00Z", "2026-10-15T09:30"),          # UTC -> Oslo summer time (+2)
    ("2026-12-01T23:30:00+00:00", "2026-12-02T00:30"),     # UTC -> Oslo winter time (+1)
    ("2026-10-15T08:30+0200", "2026-10-15T08:30"),
])
def test_dates_and_timestamps_with_or_without_a_zone(text: str, expected: str) -> None:
    values, bad = tables.parse_dates([text])
    assert not bad[0]
    assert values[0] == np.datetime64(expected, "ns")


@pytest.mark.parametrize("text", ["2026", "15.10.2026", "2026-02-30", "2026-10", "yesterday",
                                  "2026-10-15T25:00", "3026-01-01"])
def test_anything_else_is_refused_not_guessed(text: str) -> None:
    values, bad = tables.parse_dates([text])
    assert bad[0] and np.isnat(values[0])


def test_plain_dates_and_zoned_timestamps_mix_in_one_column() -> None:
    t = tables.read("decisions", pd.DataFrame({
        "child_id": ["C1", "C1"], "home_id": ["H1", "H2"], "decision": ["considering"] * 2,
        "decided_on": ["2026-10-01", "2026-10-02T10:00:00+02:00"], "by": ["bufetat"] * 2,
        "reason": ["", ""]}))
    assert t.problems == []
    assert list(t.values["decided_on"].astype("datetime64[D]").astype(str)) == [
        "2026-10-01", "2026-10-02"]


@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2200, 12, 31)))
def test_every_iso_date_reads_back_as_itself(day: datetime.date) -> None:
    values, bad = tables.parse_dates([day.isoformat()])
    assert not bad[0] and values[0].astype("datetime64[D]").item() == day


# --- the two disagreements the engine removed ------------------------------------------------


def _inputs() -> schema.Inputs:
    children = pd.DataFrame({"child_id": [1.0, 2.0], "lon": [10.75, 10.76],
                             "lat": [59.91, 59.92], "municipality": ["0301", "0301"],
                             "age": [9, 12], "urgency": ["planned", "acute"]})
    homes = pd.DataFrame({"home_id": ["H1"], "lon": [10.8], "lat": [59.9],
                          "municipality": ["301"], "capacity": [1], "min_age": [0],
                          "max_age": [18], "kind": ["general"]})
    return schema.validate(children, homes, settings=ScoringSettings())


def test_a_decision_with_a_number_id_finds_its_child() -> None:
    inputs = _inputs()
    assert list(inputs.children["child_id"]) == ["1", "2"]
    log = pd.DataFrame({"child_id": [1.0], "home_id": ["H1"], "decision": ["considering"],
                        "decided_on": ["2026-10-01"], "by": ["bufetat"], "reason": [np.nan]})
    got = decisions.validate(log, inputs=inputs, strict_ids=True)
    assert list(got.table["child_id"]) == ["1"]


def test_resource_families_take_a_decimal_comma_like_homes_do() -> None:
    families = pd.DataFrame({"resource_id": ["R1"], "lon": ["10,75"], "lat": ["59,91"],
                             "municipality": ["301"]})
    out = validate_families(families)
    assert (out.at[0, "lon"], out.at[0, "lat"]) == (10.75, 59.91)
    assert out.at[0, "municipality"] == "0301" and out.at[0, "cooperation"] == "0301"
    assert out.at[0, "max_homes"] > 0
    with pytest.raises(InputError) as info:
        validate_families(families.assign(lon=["10,75.1"]))
    assert {(p.row, p.column) for p in info.value.problems} == {(2, "lon")}


# --- the reference is generated from the specs ------------------------------------------------


def test_the_input_reference_in_the_docs_is_current() -> None:
    root = Path(__file__).resolve().parents[1]
    module = load_script(root / "scripts" / "tables_doc.py")
    page = (root / "docs" / "inputs.md").read_text(encoding="utf-8")
    assert module.render(page) == page, "run: python scripts/tables_doc.py"
    for name in ("children", "homes", "decisions", "resource_families"):
        assert f'<a id="table-{name}"></a>' in page
