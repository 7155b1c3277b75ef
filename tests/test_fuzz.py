"""Fuzz every reader with hypothesis (issue 15).

For every generated input, a reader either succeeds or raises
:class:`~matcher.errors.InputError` (exit code 2) whose problems name the file
and, for per-row problems, a row within the table and a column. Never another
exception, never a coordinate in a message, never a file left behind. The
runs are deterministic (``derandomize=True``); :data:`EXAMPLES` is the number
of examples per reader.

Readers: CSV bytes (children and homes tables), GeoJSON, GeoPackage layers,
TOML configuration, the travel-time table, and the ``matcher match`` command
on fuzzed CSV bytes (no output folder or temporary file left behind). Issue 24
added the run folders read back by ``match --previous``, ``report`` and
``waiting-stats`` (damaged ``assignments.csv``, ``history.csv`` and
``summary.json``: exit 0 or 2, never a traceback) and the network cache
(random edits of ``network.npz``, ``network.json`` and the chains files, with
and without a matching recorded hash: loaded and routed, or an InputError
naming the fix; a signal would end the test run).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from matcher import config, schema
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import readers

EXAMPLES: dict[str, int] = {"csv_children": 100, "csv_homes": 100, "csv_bytes": 100,
                            "geojson": 60, "gpkg": 30, "toml": 250, "times": 120, "cli": 10,
                            "run_previous": 12, "run_report": 8, "run_waiting": 12,
                            "network_cache": 120}
"""Examples per reader (all run: the strategies filter nothing)."""

# No shrinking: the failing example is reported as generated, and a run stays fast.
FUZZ = {"derandomize": True, "deadline": None, "database": None,
        "phases": (Phase.explicit, Phase.reuse, Phase.generate),
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.function_scoped_fixture]}

CHILD = {"child_id": "c1", "lon": "10.750000", "lat": "59.910000", "school_lon": "10.760000",
         "school_lat": "59.920000", "municipality": "0301", "age": "7", "needs": "trauma",
         "sibling_group": "", "urgency": "acute", "waiting_since": "2024-01-05",
         "max_school_minutes": ""}
HOME = {"home_id": "h1", "lon": "10.800000", "lat": "59.950000", "municipality": "0301",
        "capacity": "2", "competences": "teen", "min_age": "0", "max_age": "18",
        "kind": "general", "kin_of": "", "accepts_sibling_groups": "ja"}
COORDINATES = ("lon", "lat", "school_lon", "school_lat")


# --------------------------------------------------------------------------- strategies

coordinate = st.builds(lambda d, lon: f"{(10.0 if lon else 59.0) + d:.6f}",
                       st.floats(0.000011, 0.99, allow_nan=False), st.booleans())
"""A WGS84 degree in Norway with 6 decimals: distinctive, so a leak is visible."""

junk_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
number_text = st.one_of(st.integers(-10**12, 10**12).map(str),
                        st.floats(allow_nan=True, allow_infinity=True).map(repr),
                        st.sampled_from(["12.7", "-3", "1e400", "nan", "inf", "0x1A", "1_000",
                                         "12,5", " 7 ", "", "fifteen"]))


def cell(column: str, valid: str) -> st.SearchStrategy[str]:
    """A value for one cell: mostly valid, sometimes junk or a wrong number."""
    options = [st.just(valid), st.just(""), junk_text, number_text]
    if column in COORDINATES:
        options.append(coordinate)
    else:
        options.append(st.sampled_from(["=1+1", "@SUM(A1)", "x" * 70, "a\nb", "a\x00b",
                                        "<b>x</b>", "c1", "S1", "h1"]))
    return st.one_of(*options)


@st.composite
def table_text(draw: st.DrawFn, base: dict[str, str], id_column: str) -> tuple[str, int,
                                                                              set[str]]:
    """CSV text of a fuzzed table (header and rows), its number of data rows, and the
    coordinate-like values of its coordinate columns (which no message may hold)."""
    columns = list(base)
    if draw(st.booleans()):
        columns = draw(st.lists(st.sampled_from([*base, "_note", "Lon", "extra", ""]),
                                min_size=0, max_size=len(base) + 2))
    n = draw(st.integers(0, 4))
    rows = []
    for i in range(n):
        row = {c: draw(cell(c, base.get(c, "x"))) for c in columns}
        if id_column in row and row[id_column] == base[id_column]:
            row[id_column] = f"{base[id_column][0]}{i + 1}"
        rows.append(row)
    sep = draw(st.sampled_from([",", ";", "\t"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=draw(st.sampled_from(
        ["\n", "\r\n", "\r"])), quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL,
                                                               csv.QUOTE_ALL])))
    if draw(st.integers(0, 9)) > 0:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
    leaks = {v for row in rows for c, v in row.items() if c in COORDINATES and _coordinate(v)}
    leaks -= {v for row in rows for c, v in row.items() if c not in COORDINATES}
    if any("\r" in v or "\n" in v for row in rows for v in row.values()):
        n = -1  # a bare line break inside a cell starts a new row for every CSV reader
    return buffer.getvalue(), n, leaks


def _coordinate(value: str) -> bool:
    head, dot, tail = value.strip().partition(".")
    return bool(dot) and head.lstrip("-").isdigit() and len(tail) >= 4 and tail.isdigit()


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes inserted, deleted or replaced."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 10, 13, 34, 44, 59, 0xC3, 0xFF, 0xEF, 0x3D]))
        if op == "insert":
            out.insert(at, byte)
        elif op == "delete":
            del out[at]
        else:
            out[at] = byte
    return bytes(out)


# --------------------------------------------------------------------------- checks


def check_outcome(call: Callable[[], Any], *, files: dict[str, int], leaks: set[str],
                  folder: Path, before: set[str]) -> Any:
    """Run a reader; check its success or its InputError. Return the result or None.

    ``files`` maps each file label to its number of data rows (``-1``: unknown).
    """
    try:
        result = call()
    except InputError as exc:
        assert exc.exit_code == 2
        text = str(exc)
        assert "Traceback" not in text
        for value in leaks:
            assert value not in text, f"coordinate {value} in: {text}"
        for problem in exc.problems:
            assert Path(problem.source.split(":")[0]).name in {f.split(":")[0] for f in files}, \
                problem
            if problem.row is not None:
                rows = max(files.get(problem.source, -1), -1)
                # a spreadsheet row: the header is row 1, the data rows 2..rows + 1
                assert problem.row >= 2 and (rows < 0 or problem.row <= rows + 1), problem
                assert problem.column, problem
        result = None
    assert {p.name for p in folder.iterdir()} == before, "a file was left behind"
    return result


def _settings_for(**kwargs: Any) -> Any:
    return settings(max_examples=kwargs.pop("examples"), **FUZZ, **kwargs)


@pytest.fixture
def valid_homes(tmp_path: Path) -> Path:
    path = tmp_path / "homes_ok.csv"
    pd.DataFrame([HOME, {**HOME, "home_id": "h2"}]).to_csv(path, index=False)
    return path


@pytest.fixture
def valid_children(tmp_path: Path) -> Path:
    path = tmp_path / "children_ok.csv"
    pd.DataFrame([CHILD, {**CHILD, "child_id": "c2"}]).to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- CSV


@_settings_for(examples=EXAMPLES["csv_children"])
@given(table=table_text(CHILD, "child_id"), bom=st.booleans())
def test_fuzz_children_csv(tmp_path: Path, valid_homes: Path,
                           table: tuple[str, int, set[str]], bom: bool) -> None:
    text, n, leaks = table
    path = tmp_path / "children.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    before = {p.name for p in tmp_path.iterdir()}
    inputs = check_outcome(lambda: readers.read_inputs(path, valid_homes),
                           files={"children.csv": n, "homes_ok.csv": 2},
                           leaks=leaks, folder=tmp_path, before=before)
    if inputs is not None:
        assert n < 0 or len(inputs.children) == n
        assert all(
            c.isprintable() and len(c) <= schema.MAX_ID_LENGTH for c in inputs.children["child_id"])


@_settings_for(examples=EXAMPLES["csv_homes"])
@given(table=table_text(HOME, "home_id"))
def test_fuzz_homes_csv(tmp_path: Path, valid_children: Path,
                        table: tuple[str, int, set[str]]) -> None:
    text, n, leaks = table
    path = tmp_path / "homes.csv"
    path.write_text(text, encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    check_outcome(lambda: readers.read_inputs(valid_children, path),
                  files={"homes.csv": n, "children_ok.csv": 2}, leaks=leaks,
                  folder=tmp_path, before=before)


@_settings_for(examples=EXAMPLES["csv_bytes"])
@given(data=st.data())
def test_fuzz_csv_bytes(tmp_path: Path, valid_homes: Path, data: st.DataObject) -> None:
    text, _, leaks = data.draw(table_text(CHILD, "child_id"))
    raw = data.draw(st.one_of(mutated(text.encode("utf-8")), st.binary(max_size=200)))
    path = tmp_path / "children.csv"
    path.write_bytes(raw)
    before = {p.name for p in tmp_path.iterdir()}
    check_outcome(lambda: readers.read_inputs(path, valid_homes),
                  files={"children.csv": -1, "homes_ok.csv": 2},
                  leaks=leaks, folder=tmp_path, before=before)


# --------------------------------------------------------------------------- GeoJSON

json_value = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                       st.floats(allow_nan=False, allow_infinity=False), junk_text,
                       st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2))


@st.composite
def geojson(draw: st.DrawFn) -> tuple[str, int]:
    n = draw(st.integers(0, 3))
    features = []
    for i in range(n):
        props = {c: draw(st.one_of(st.just(v), json_value)) for c, v in CHILD.items()
                 if c not in ("lon", "lat") and draw(st.integers(0, 5)) > 0}
        if "child_id" in props and props["child_id"] == "c1":
            props["child_id"] = f"c{i + 1}"
        geometry = draw(st.one_of(
            st.builds(lambda x, y: {"type": "Point", "coordinates": [x, y]},
                      st.floats(-200, 200), st.floats(-100, 100)),
            st.just(None), st.just({"type": "Point", "coordinates": []}),
            st.just({"type": "LineString", "coordinates": [[10, 60], [11, 61]]}),
            st.just({"type": "Nonsense"})))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    doc: Any = {"type": "FeatureCollection", "features": features}
    if draw(st.booleans()):
        doc["crs"] = {"type": "name", "properties": {"name": draw(st.sampled_from(
            ["EPSG:4326", "EPSG:25833", "urn:ogc:def:crs:OGC:1.3:CRS84", "nonsense"]))}}
    if draw(st.integers(0, 9)) == 0:
        doc = draw(st.one_of(json_value, st.just({"type": "Feature"})))
    return json.dumps(doc), n


@_settings_for(examples=EXAMPLES["geojson"])
@given(doc=geojson(), cut=st.integers(0, 30))
def test_fuzz_geojson(tmp_path: Path, valid_homes: Path, doc: tuple[str, int],
                      cut: int) -> None:
    text, n = doc
    if cut == 0:
        text = text[: len(text) // 2]  # truncated file
    path = tmp_path / "children.geojson"
    path.write_text(text, encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    check_outcome(lambda: readers.read_inputs(path, valid_homes),
                  files={"children.geojson": n if cut else -1, "homes_ok.csv": 2},
                  leaks=set(), folder=tmp_path, before=before)


# --------------------------------------------------------------------------- GeoPackage

sqlite_value = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                         junk_text.filter(lambda s: "\x00" not in s), st.binary(max_size=4))


@_settings_for(examples=EXAMPLES["gpkg"])
@given(edits=st.lists(st.tuples(st.integers(1, 2), st.sampled_from(
    ["age", "capacity", "max_school_minutes", "child_id", "urgency", "municipality",
     "waiting_since"]), sqlite_value), max_size=4),
       layer=st.sampled_from(["children", "", "missing"]), second=st.booleans())
def test_fuzz_geopackage_layers(tmp_path: Path, valid_homes: Path,
                                edits: list[tuple[int, str, Any]], layer: str,
                                second: bool) -> None:
    path = tmp_path / "in.gpkg"
    rows = [CHILD, {**CHILD, "child_id": "c2"}]
    frame = pd.DataFrame(rows).drop(columns=["lon", "lat"]).astype({"age": "int64"})
    frame["max_school_minutes"] = [30.0, 45.0]
    gdf = gpd.GeoDataFrame(frame, crs="EPSG:4326",
                           geometry=gpd.points_from_xy([10.75, 10.7], [59.91, 59.9]))
    gdf.to_file(path, layer="children", driver="GPKG", engine="pyogrio",
                layer_options={"SPATIAL_INDEX": "NO"})
    if second:
        gdf.to_file(path, layer="other", driver="GPKG", engine="pyogrio",
                    layer_options={"SPATIAL_INDEX": "NO"})
    conn = sqlite3.connect(path, isolation_level=None)
    for fid, column, value in edits:
        if column == "capacity":
            continue  # not a children column: stands for "no edit"
        conn.execute(f'UPDATE children SET "{column}" = ? WHERE fid = ?', (value, fid))
    conn.close()
    name = f"{path}:{layer}" if layer else str(path)
    before = {p.name for p in tmp_path.iterdir()}
    leaks = {"10.75", "59.91"}  # the layer's point geometry
    inputs = check_outcome(lambda: readers.read_inputs(name, valid_homes),
                           files={f"in.gpkg:{layer}" if layer else "in.gpkg": 2,
                                  "homes_ok.csv": 2}, leaks=leaks, folder=tmp_path,
                           before=before)
    if inputs is not None:
        ages = inputs.children["age"].tolist()
        for fid, column, value in edits:
            if column == "age":  # a number must be read as stored, never truncated
                assert isinstance(value, int) and not isinstance(value, bool)
                assert ages[fid - 1] == value


# --------------------------------------------------------------------------- TOML

toml_scalar = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                        st.booleans(), junk_text, st.lists(st.integers(-5, 200), max_size=4),
                        st.lists(st.floats(allow_nan=True), max_size=3))
SECTIONS: dict[str, list[str]] = {
    name: [*list(model.model_fields), "unknown_key"]
    for name, model in (("network", config.NetworkSettings), ("travel", config.TravelSettings),
                        ("scoring", config.ScoringSettings),
                        ("assignment", config.AssignmentSettings),
                        ("planning", config.PlanningSettings), ("report", config.ReportSettings))}


def toml_text(value: Any) -> str:
    """Serialise a scalar or list as TOML (strings JSON-quoted, floats as TOML spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


@st.composite
def toml_document(draw: st.DrawFn) -> str:
    lines = []
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "bogus"]), unique=True,
                                 max_size=4)):
        lines.append(f"[{section}]")
        keys = SECTIONS.get(section, ["x"])
        for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=4)):
            if key in ("highway_kmh", "zone_kmh", "weights", "need_competences",
                       "urgency_weight") and draw(st.booleans()):
                lines.append(f"{key} = {{ a = {toml_text(draw(toml_scalar))} }}")
            else:
                lines.append(f"{key} = {toml_text(draw(toml_scalar))}")
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 9)) == 0:
        text = draw(mutated(text.encode())).decode("utf-8", errors="replace")
    return text


@_settings_for(examples=EXAMPLES["toml"])
@given(text=toml_document())
def test_fuzz_toml_configuration(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    loaded = check_outcome(lambda: config.load(path), files={"c.toml": -1}, leaks=set(),
                           folder=tmp_path, before=before)
    if loaded is not None:
        dumped = json.dumps(loaded.model_dump(mode="json"))
        assert "Infinity" not in dumped and "NaN" not in dumped


# --------------------------------------------------------------------------- travel times


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory: pytest.TempPathFactory) -> schema.Inputs:
    folder = tmp_path_factory.mktemp("fuzz-inputs")
    children, homes = folder / "children.csv", folder / "homes.csv"
    pd.DataFrame([CHILD, {**CHILD, "child_id": "c2"}]).to_csv(children, index=False)
    pd.DataFrame([HOME, {**HOME, "home_id": "h2"}]).to_csv(homes, index=False)
    return readers.read_inputs(children, homes)


@st.composite
def times_text(draw: st.DrawFn) -> tuple[str, int]:
    columns = ["home_id", "anchor_id", "minutes"]
    if draw(st.integers(0, 5)) == 0:
        columns = draw(st.lists(st.sampled_from([*columns, "extra", "Minutes"]), max_size=4))
    n = draw(st.integers(0, 5))
    values = {"home_id": st.one_of(st.sampled_from(["h1", "h2", "h9", ""]), junk_text),
              "anchor_id": st.one_of(st.sampled_from(["c1:school", "c2:school", "c1:home",
                                                      "c9:school", ""]), junk_text),
              "minutes": st.one_of(number_text, st.floats(0, 200).map(repr))}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for _ in range(n):
        writer.writerow([draw(values.get(c, junk_text)) for c in columns])
    return buffer.getvalue(), n


@_settings_for(examples=EXAMPLES["times"])
@given(table=times_text())
def test_fuzz_travel_time_table(tmp_path: Path, small_inputs: schema.Inputs,
                                table: tuple[str, int]) -> None:
    text, n = table
    path = tmp_path / "times.csv"
    path.write_text(text, encoding="utf-8")
    before = {p.name for p in tmp_path.iterdir()}
    times = check_outcome(lambda: readers.read_times(path, small_inputs),
                          files={"times.csv": n}, leaks=set(), folder=tmp_path, before=before)
    if times is not None:
        assert (times.minutes >= 0).all()


# --------------------------------------------------------------------------- the command

runner = CliRunner()


@_settings_for(examples=EXAMPLES["cli"])
@given(table=table_text(CHILD, "child_id"))
def test_fuzz_match_command_leaves_nothing_behind(tmp_path: Path, valid_homes: Path,
                                                  table: tuple[str, int, set[str]]) -> None:
    text, _, leaks = table
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for old in work.iterdir():
        if old.is_file():
            old.unlink()
    children = work / "children.csv"
    children.write_text(text, encoding="utf-8")
    times = work / "times.csv"
    times.write_text("home_id,anchor_id,minutes\nh1,c1:school,10\n", encoding="utf-8")
    before = {p.name for p in work.iterdir()}
    result = runner.invoke(app, ["-q", "match", "--children", str(children), "--homes",
                                 str(valid_homes), "--travel-times", str(times), "--out",
                                 str(work / "run"), "--as-of", "2026-11-01"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    for value in leaks:
        assert value not in result.output
    left = {p.name for p in work.iterdir()} - before
    assert left <= {"run"} and (result.exit_code == 0) == (left == {"run"}), left
    if "run" in left:
        import shutil

        shutil.rmtree(work / "run")


# --------------------------------------------------------------------------- run folders
# issue 24: the run folders that --previous, report and waiting-stats read back, and the
# network cache, fuzzed: never exit 1 or a signal, never a traceback.

RUN_FILES = ("assignments.csv", "history.csv", "summary.json")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A run folder of the tiny three-child match (with its report) and the match arguments."""
    from test_decisions import MINUTES, _inputs

    from matcher.io import stores

    folder = tmp_path_factory.mktemp("fuzz-run")
    for name, frame in stores.export_inputs(_inputs()).items():
        if name in ("children", "homes"):
            frame.to_csv(folder / f"{name}.csv", index=False)
    rows = [{"home_id": h, "anchor_id": f"{c}:school", "minutes": m}
            for c, homes in MINUTES.items() for h, m in homes.items()]
    pd.DataFrame(rows).to_csv(folder / "times.csv", index=False)
    args = ["-q", "match", "--children", str(folder / "children.csv"), "--homes",
            str(folder / "homes.csv"), "--travel-times", str(folder / "times.csv"),
            "--as-of", "2026-11-01"]
    result = runner.invoke(app, [*args, "--out", str(folder / "run")])
    assert result.exit_code == 0, result.output
    return folder / "run", args


@st.composite
def damaged_run(draw: st.DrawFn, run: Path) -> dict[str, bytes | None]:
    """New bytes for one to three files of ``run`` (``None``: the file is removed)."""
    out: dict[str, bytes | None] = {}
    for name in draw(st.lists(st.sampled_from(RUN_FILES), min_size=1, max_size=3, unique=True)):
        data = (run / name).read_bytes()
        how = draw(st.sampled_from(["bytes", "drop column", "junk cell", "remove", "empty"]))
        if how == "bytes":
            out[name] = draw(mutated(data))
        elif how == "remove":
            out[name] = None
        elif how == "empty":
            out[name] = b""
        elif name.endswith(".json"):
            doc = json.loads(data)
            key = draw(st.sampled_from(sorted(doc)))
            doc[key] = draw(st.one_of(st.none(), st.just("x"), st.integers(), st.just([])))
            out[name] = json.dumps(doc).encode()
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
            column = draw(st.sampled_from(list(frame.columns)))
            if how == "drop column":
                frame = frame.drop(columns=column)
            elif len(frame):
                frame.loc[draw(st.integers(0, len(frame) - 1)), column] = draw(
                    st.one_of(junk_text, number_text))
            out[name] = frame.to_csv(index=False).encode()
    return out


def _damaged_copy(run: Path, target: Path, edits: dict[str, bytes | None]) -> Path:
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(run, target)
    for name, data in edits.items():
        if data is None:
            (target / name).unlink()
        else:
            (target / name).write_bytes(data)
    return target


def _clean_exit(result: Any) -> None:
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "unexpected error" not in result.output


@_settings_for(examples=EXAMPLES["run_previous"])
@given(data=st.data())
def test_fuzz_run_folder_read_by_previous(tmp_path: Path, base_run: tuple[Path, list[str]],
                                          data: st.DataObject) -> None:
    run, args = base_run
    edits = data.draw(damaged_run(run))
    previous = _damaged_copy(run, tmp_path / "previous", edits)
    out = tmp_path / "out"
    result = runner.invoke(app, [*args, "--previous", str(previous), "--out", str(out)])
    _clean_exit(result)
    assert out.exists() == (result.exit_code == 0)
    if out.exists():
        import shutil

        shutil.rmtree(out)


@_settings_for(examples=EXAMPLES["run_report"])
@given(data=st.data())
def test_fuzz_run_folder_read_by_report(tmp_path: Path, base_run: tuple[Path, list[str]],
                                        data: st.DataObject) -> None:
    run, _args = base_run
    folder = _damaged_copy(run, tmp_path / "run", data.draw(damaged_run(run)))
    _clean_exit(runner.invoke(app, ["-q", "report", "--run", str(folder)]))


@_settings_for(examples=EXAMPLES["run_waiting"])
@given(data=st.data())
def test_fuzz_run_folder_read_by_waiting_stats(tmp_path: Path,
                                               base_run: tuple[Path, list[str]],
                                               data: st.DataObject) -> None:
    run, _args = base_run
    folder = _damaged_copy(run, tmp_path / "run", data.draw(damaged_run(run)))
    out = tmp_path / "stats"
    result = runner.invoke(app, ["-q", "waiting-stats", "--runs", str(folder), "--runs",
                                 str(run), "--min-cell", "5", "--out", str(out)])
    _clean_exit(result)
    if out.exists():
        import shutil

        shutil.rmtree(out)


# --------------------------------------------------------------------------- network cache

NPZ_EDITS = ("scale", "shift", "offset", "truncate", "dtype", "delete", "negate", "nan")


@pytest.fixture(scope="module")
def base_cache(small_sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sample's network cache with its chains files on disk."""
    import shutil

    from matcher import network, traveltime

    folder = tmp_path_factory.mktemp("fuzz-net") / "net"
    folder.mkdir()
    for name in ("network.npz", "network.json"):
        shutil.copy(small_sample.net_dir / name, folder / name)
    real = traveltime.CHAINS_ON_DISK_MIN_NODES
    traveltime.CHAINS_ON_DISK_MIN_NODES = 0  # type: ignore[misc]
    try:
        net = network.load(folder)
        for backwards in (False, True):
            traveltime.prepare(net, backwards=backwards)
    finally:
        traveltime.CHAINS_ON_DISK_MIN_NODES = real  # type: ignore[misc]
    assert sorted(network.recorded_chains(folder)) == ["backward", "forward"]
    return folder


def _edit_array(draw: st.DrawFn, arrays: dict[str, Any]) -> None:
    import numpy as np

    key = draw(st.sampled_from(sorted(arrays)))
    a = arrays[key]
    how = draw(st.sampled_from(NPZ_EDITS))
    if how == "delete":
        del arrays[key]
    elif how == "truncate" and a.ndim and len(a):
        arrays[key] = a[: draw(st.integers(0, len(a) - 1))]
    elif how == "shift" and a.ndim and len(a) > 1:
        arrays[key] = a[1:] if draw(st.booleans()) else np.concatenate([a[:1], a])
    elif how == "dtype":
        kind = draw(st.sampled_from(["<U3", "float32", "int8", "bool"]))
        with contextlib.suppress(ValueError, OverflowError), np.errstate(all="ignore"):
            arrays[key] = a.astype(kind)
    elif a.dtype.kind in "iuf" and a.size:
        i = draw(st.integers(0, a.size - 1))
        flat = a.reshape(-1).copy()
        old = flat[i].item()
        value = {"scale": old * 0.05, "offset": old + draw(st.sampled_from(
            [1, -1, 10**6, -(10**6)])), "negate": -old - 1,
            "nan": np.nan if a.dtype.kind == "f" else old + 10**7}.get(how, old + 1)
        if a.dtype.kind in "iu":  # out-of-range indices, within what the dtype can hold
            info = np.iinfo(a.dtype)
            value = min(max(int(value), info.min), info.max)
        flat[i] = value
        arrays[key] = flat.reshape(a.shape)


@_settings_for(examples=EXAMPLES["network_cache"])
@given(data=st.data())
def test_fuzz_network_cache(tmp_path: Path, base_cache: Path, data: st.DataObject) -> None:
    import shutil

    import numpy as np
    from scipy.sparse.csgraph import dijkstra

    from matcher import network, traveltime

    folder = tmp_path / "net"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(base_cache, folder)
    target = data.draw(st.sampled_from(["network.npz", "network.json", "chains-forward.npz",
                                        "chains-backward.npz"]))
    path = folder / target
    rehash = data.draw(st.booleans())  # an edit that also fixes the recorded hash
    if target.endswith(".npz") and data.draw(st.integers(0, 3)):
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        for _ in range(data.draw(st.integers(1, 3))):
            if arrays:
                _edit_array(data.draw, arrays)
        with path.open("wb") as fh:
            np.savez(fh, **arrays)
    elif target.endswith(".json") and data.draw(st.booleans()):
        doc = json.loads(path.read_text())
        key = data.draw(st.sampled_from(sorted(doc)))
        doc[key] = data.draw(st.one_of(st.none(), st.just("EPSG:4326"), st.integers(),
                                       st.just({}), st.just("x")))
        if data.draw(st.booleans()):
            del doc[key]
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(data.draw(mutated(path.read_bytes())))
    if rehash and target.endswith(".npz"):
        meta = json.loads((folder / "network.json").read_text())
        digest = network.file_sha256(path)
        if target == "network.npz":
            meta["sha256"] = digest
        else:
            meta["chains"][target[len("chains-"):-len(".npz")]] = digest
        (folder / "network.json").write_text(json.dumps(meta))
    real = traveltime.CHAINS_ON_DISK_MIN_NODES
    traveltime.CHAINS_ON_DISK_MIN_NODES = 0  # type: ignore[misc]
    try:
        net = network.load(folder)
        for backwards in (False, True):
            prepared = traveltime.prepare(net, backwards=backwards)
            keep = np.arange(0, net.n_nodes, 97)
            traveltime.contract(net.reverse if backwards else net.graph, keep,
                                prepared=prepared)
        dijkstra(net.graph, indices=np.arange(0, net.n_nodes, 401), limit=20.0)
    except InputError as exc:
        assert exc.exit_code == 2
        assert "damaged network cache" in str(exc) or "network format" in str(exc) \
            or "no network here" in str(exc), str(exc)
        assert "matcher network build" in str(exc)
    finally:
        traveltime.CHAINS_ON_DISK_MIN_NODES = real  # type: ignore[misc]
