"""Tests of matcher.io: atomic owner-only writes, the one CSV format, the one reader."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import Sample

from matcher.errors import InputError
from matcher.io import files, readers


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_csv_floats_round_trip_at_full_precision(tmp_path: Path) -> None:
    values = np.array([0.1 + 0.2, 1 / 3, 41.38803271771007, np.inf, np.nan, 1e-12])
    frame = pd.DataFrame({"id": list("abcdef"), "minutes": values})
    target = files.write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(target)
    np.testing.assert_array_equal(back["minutes"].to_numpy(), values)
    assert mode(target) == 0o600
    assert target.read_bytes().endswith(b"\n") and b"\r" not in target.read_bytes()


def test_table_writer_checks_the_suffix_before_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unknown output type '\.xlsx'; use one of \.csv"):
        files.output_writer(tmp_path / "t.xlsx")
    write = files.output_writer(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(write(pd.DataFrame({"a": [1.5]}))),
                                  pd.DataFrame({"a": [1.5]}))


def test_atomic_path_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    target = files.write_bytes(tmp_path / "keep.txt", b"old")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_atomic_folder_replaces_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with files.atomic_folder(out) as tmp:
        files.write_text(tmp / "a.txt", "one")
    assert (out / "a.txt").read_text() == "one" and mode(out) == 0o700
    with pytest.raises(ValueError), files.atomic_folder(out) as tmp:
        files.write_text(tmp / "a.txt", "two")
        raise ValueError("fails half-way")
    assert (out / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"), \
            files.atomic_folder(tmp_path / "file"):
        pass


def test_one_reader_for_csv_geojson_and_geopackage(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "lon": [10.75, 10.8], "lat": [59.9, 59.95]})
    frame.to_csv(tmp_path / "p.csv", index=False, sep=";")  # Excel's Norwegian CSV
    gdf = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=shapely.points(
        frame["lon"], frame["lat"]), crs="EPSG:4326").to_crs("EPSG:25833")
    gdf.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    gdf.to_file(tmp_path / "p.gpkg", layer="points", driver="GPKG")
    for name in ("p.csv", "p.geojson", "p.gpkg", "p.gpkg:points"):
        got = readers.read_points(tmp_path / name)
        np.testing.assert_allclose(got[["lon", "lat"]].to_numpy(),
                                   frame[["lon", "lat"]].to_numpy(), atol=1e-9)
    read = readers.read_table(tmp_path / "p.gpkg:nope")
    assert read.frame is None and "no layer 'nope'; available: points" in read.problems[0].message


def test_reader_problems_name_the_file_and_fix(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes("id,lon,lat\nø,1,2\n".encode("latin-1"))
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    for name, text in (("latin1.csv", "save the file as 'CSV UTF-8'"),
                       ("sheet.xlsx", "unsupported file type '.xlsx'"),
                       ("missing.csv", "file not found")):
        read = readers.read_table(tmp_path / name)
        assert read.frame is None and text in read.problems[0].message
        assert read.problems[0].source == name


def test_read_polygons_and_population(tmp_path: Path) -> None:
    cells = gpd.GeoDataFrame({"ru250m": ["2", "1", "3"], "pop_tot": [5, 0, 7]},
                             geometry=[shapely.box(0, 0, 250, 250), shapely.box(250, 0, 500, 250),
                                       shapely.box(0, 250, 250, 500)], crs="EPSG:25833")
    cells.to_file(tmp_path / "pop.gpkg", driver="GPKG")
    got = readers.read_population(tmp_path / "pop.gpkg")
    assert got["cell_id"].tolist() == ["2", "3"] and got["population"].tolist() == [5.0, 7.0]
    assert got.crs == "EPSG:25833"
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "flat.csv", index=False)
    with pytest.raises(InputError, match="have no geometry"):
        readers.read_polygons(tmp_path / "flat.csv", what="municipality polygons")


def test_read_times_checks_ids_minutes_and_duplicates(small_sample: Sample,
                                                      tmp_path: Path) -> None:
    inputs = small_sample.inputs
    home = inputs.homes["home_id"].iloc[0]
    child = inputs.children.loc[inputs.children["school_lon"].notna(), "child_id"].iloc[0]
    pd.DataFrame({"home_id": [home, home, "nobody", home],
                  "anchor_id": [f"{child}:school"] * 2 + ["x:school", "y"],
                  "minutes": ["3", "4", "-1", "2"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(InputError) as info:
        readers.read_times(tmp_path / "t.csv", inputs)
    where = {(p.row, p.column) for p in info.value.problems}
    assert {(3, "home_id/anchor_id"), (4, "home_id"), (4, "anchor_id"), (4, "minutes"),
            (5, "anchor_id")} == where  # spreadsheet rows: the header is row 1
    pd.DataFrame({"home_id": [home], "anchor_id": [f"{child}:school"],
                  "minutes": ["12.5"]}).to_csv(tmp_path / "ok.csv", index=False)
    table = readers.read_times(tmp_path / "ok.csv", inputs)
    assert table.minutes.tolist() == [[12.5]]


def test_no_file_is_group_or_world_readable(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = files.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def test_temporary_files_are_owner_only_from_the_first_byte(tmp_path: Path) -> None:
    # issue 15, case 5: files inside the temporary run folder were created 0644.
    old = os.umask(0o022)
    try:
        with files.atomic_folder(tmp_path / "out", marker=files.RUN_MARKER) as tmp:
            assert mode(tmp) == 0o700
            (tmp / "a.csv").write_text("x")
            (tmp / "sub").mkdir()
            assert mode(tmp / "a.csv") == 0o600 and mode(tmp / "sub") == 0o700
        with files.atomic_path(tmp_path / "b.csv") as path:
            path.write_text("x")
            assert mode(path) == 0o600
        assert os.umask(0o022) == 0o022  # restored
    finally:
        os.umask(old)
    assert (tmp_path / "out" / files.RUN_MARKER).is_file()


@pytest.mark.parametrize("name", [".", "..", "victim", "file.txt"])
def test_check_run_folder_refuses_other_folders(tmp_path: Path, name: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 15, cases 1 and 8: '--out .' and any folder of other files are refused.
    work = tmp_path / "work"
    (work / "victim").mkdir(parents=True)
    (work / "victim" / "notes.txt").write_text("x")
    (work / "file.txt").write_text("x")
    monkeypatch.chdir(work)
    with pytest.raises(InputError, match="--out"):
        files.check_run_folder(name)
    assert files.check_run_folder("new") == work / "new"
    (work / "empty").mkdir()
    assert files.check_run_folder("empty") == work / "empty"


def test_csv_cells_for_people_are_formula_safe_and_numbers_stay_numbers(tmp_path: Path) -> None:
    # issue 15, case 9: a cell beginning with '=' was written to CSV as is.
    frame = pd.DataFrame({"child_id": ["=HYPERLINK(\"x\")", "+1+2", "-x", "@SUM(A1)", "ok", "-3.5"],
                          "minutes": [-1.5, 2.0, -0.0, np.inf, np.nan, 3.0],
                          "n": [-1, 2, 3, 4, 5, 6], "flag": [True, False] * 3})
    files.write_csv(frame, tmp_path / "a.csv", formula_safe=True)
    back = pd.read_csv(tmp_path / "a.csv", dtype={"child_id": str})
    assert back["child_id"].tolist() == ["'=HYPERLINK(\"x\")", "'+1+2", "'-x", "'@SUM(A1)", "ok",
                                         "-3.5"]
    np.testing.assert_array_equal(back["minutes"].to_numpy(), frame["minutes"].to_numpy())
    assert back["n"].tolist() == [-1, 2, 3, 4, 5, 6]
    assert frame.loc[0, "child_id"].startswith("=")  # the caller's frame is not changed


def test_csv_files_read_back_keep_every_id_exactly(tmp_path: Path) -> None:
    # issue 24, case 1: '-C8' was written as "'-C8" and no reader took the quote off.
    ids = ["-C8", "@X", "=1+1", "+47", "\tT", "'q", "-3.5", "ok"]
    files.write_csv(pd.DataFrame({"child_id": ids}), tmp_path / "a.csv")
    back = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    assert back["child_id"].tolist() == ids


def test_a_csv_without_header_is_reported_without_its_values(tmp_path: Path) -> None:
    # issue 15, case 7: the first data row became the column names, quoted in the message.
    path = tmp_path / "children.csv"
    path.write_text("c1,10.7512345,59.9123456,,,0301,7,,,acute,,\n"
                    "c2,10.70,59.90,,,0301,12,,,planned,,\n", encoding="utf-8")
    read = readers.read_table(path)
    assert read.frame is None
    [problem] = read.problems
    assert "the first row looks like data, not column names" in problem.message
    for value in ("c1", "10.75", "59.91", "0301"):
        assert value not in str(problem)
    with pytest.raises(InputError) as exc:
        readers.read_inputs(path, path)
    assert "10.75" not in str(exc.value) and "59.91" not in str(exc.value)
    semicolon = tmp_path / "homes.csv"
    semicolon.write_text("h1;10,75;59,91\n", encoding="utf-8")
    assert "looks like data" in str(readers.read_table(semicolon).problems[0])


def _gpkg_with_bad_numbers(tmp_path: Path, small_sample: Sample) -> Path:
    """children and homes of the sample in one GeoPackage, with text and 12.7 in int columns."""
    import sqlite3

    path = tmp_path / "inputs.gpkg"
    for name, frame in (("children", small_sample.inputs.children),
                        ("homes", small_sample.inputs.homes)):
        plain = frame.drop(columns=["lon", "lat"]).copy()
        for col in plain.columns:  # tag columns (needs, languages, ...) back to 'a;b' text
            if plain[col].map(lambda v: isinstance(v, tuple)).any():
                plain[col] = plain[col].map(lambda v: ";".join(map(str, v)))
        layer = gpd.GeoDataFrame(plain, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                                 crs="EPSG:4326")
        layer.to_file(path, layer=name, driver="GPKG", engine="pyogrio",
                      layer_options={"SPATIAL_INDEX": "NO"})
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE children SET age = 'fifteen' WHERE fid = 2")
    conn.execute("UPDATE homes SET capacity = 12.7 WHERE fid = 3")
    conn.execute("UPDATE homes SET max_age = 'three' WHERE fid = 1")
    conn.close()
    return path


def test_geopackage_number_columns_are_read_as_stored(tmp_path: Path,
                                                      small_sample: Sample) -> None:
    # issue 15, case 2: 'fifteen' in an integer column was read as 0, and 12.7 as 12.
    path = _gpkg_with_bad_numbers(tmp_path, small_sample)
    with pytest.raises(InputError) as exc:
        readers.read_inputs(f"{path}:children", f"{path}:homes")
    where = {(p.source, p.row, p.column) for p in exc.value.problems}
    # features count as rows under a header row: fid n (written in order) is row n + 1
    assert where == {("inputs.gpkg:children", 3, "age"), ("inputs.gpkg:homes", 4, "capacity"),
                     ("inputs.gpkg:homes", 2, "max_age")}, exc.value.problems
    assert "not a whole number" in str(exc.value)


def test_multi_layer_geopackage_needs_a_layer_name(tmp_path: Path,
                                                   small_sample: Sample) -> None:
    # issue 15, case 4: without a layer, a multi-layer GeoPackage silently gave its first.
    path = _gpkg_with_bad_numbers(tmp_path, small_sample)
    read = readers.read_table(path)
    assert read.frame is None
    assert "has 2 layers; name one as inputs.gpkg:LAYER (layers: children, homes)" in str(
        read.problems[0])


# --------------------------------------------------------------------------- issue 24


def test_out_dot_in_an_empty_folder_writes_into_it_in_place(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    # issue 24: '--out .' must write into the working folder, not replace it (a shell in it
    # would see a deleted folder); twice, the second run replaces the first one's files.
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    monkeypatch.chdir(work)
    inode = work.stat().st_ino
    for text in ("one", "two"):
        with files.atomic_folder(".", marker=files.RUN_MARKER) as tmp:
            files.write_text(tmp / f"{text}.txt", text)
        assert work.stat().st_ino == inode and Path.cwd().stat().st_ino == inode
    assert sorted(p.name for p in work.iterdir()) == [files.RUN_MARKER, "two.txt"]
    assert mode(work) == 0o755  # the user's folder keeps its mode


def test_a_failed_write_into_an_existing_folder_keeps_its_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with files.atomic_folder(out, marker=files.RUN_MARKER) as tmp:
        files.write_text(tmp / "a.txt", "one")
    with pytest.raises(ValueError), files.atomic_folder(out, marker=files.RUN_MARKER) as tmp:
        files.write_text(tmp / "b.txt", "two")
        raise ValueError("fails half-way")
    assert sorted(p.name for p in out.iterdir()) == [files.RUN_MARKER, "a.txt"]


def test_out_below_a_file_or_in_a_read_only_folder_is_an_input_error(tmp_path: Path) -> None:
    # issue 24: both gave exit 1 (NotADirectoryError, PermissionError), after the whole run
    (tmp_path / "file.csv").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        files.check_run_folder(tmp_path / "file.csv" / "run")


def test_a_read_only_folder_is_refused_before_the_work(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the check asks os.access (root may write anywhere: pretend the folder is read-only)
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == locked
                        else real(p, m, **k))
    with pytest.raises(InputError, match="cannot be written"):
        files.check_run_folder(locked / "run")
    with pytest.raises(InputError, match="cannot be written"):
        files.claim_folder(locked / "sample", marker=files.SAMPLE_MARKER)


@pytest.mark.parametrize("marker", [files.SAMPLE_MARKER, files.PLANNING_MARKER,
                                    files.NETWORK_MARKER])
def test_claim_folder_takes_only_new_empty_or_marked_folders(tmp_path: Path,
                                                             marker: str) -> None:
    # issue 24, case 2: 'sample --out DIR' wrote over the files of any folder
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "children.csv").write_text("mine")
    with pytest.raises(InputError, match="does not hold a previous run"):
        files.claim_folder(victim, marker=marker)
    assert sorted(p.name for p in victim.iterdir()) == ["children.csv"]
    new = files.claim_folder(tmp_path / "new", marker=marker)
    assert (new / marker).is_file()
    (new / "children.csv").write_text("ours")
    assert files.claim_folder(new, marker=marker) == new  # marked: may be written again
    other = files.RUN_MARKER
    with pytest.raises(InputError):  # another command's mark is not this one's
        files.claim_folder(new, marker=other)


def test_check_output_file_refuses_an_input(tmp_path: Path) -> None:
    given = tmp_path / "addresses.csv"
    given.write_text("x")
    with pytest.raises(InputError, match="also an input file"):
        files.check_output_file(given, given)
    assert files.check_output_file(tmp_path / "out.csv", given) == tmp_path / "out.csv"


def test_lock_waits_at_most_the_limit_with_a_message(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    # issue 24: the folder lock waited forever and silently
    import fcntl
    import time

    from matcher.errors import LockedError

    holder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        t0 = time.monotonic()
        with pytest.raises(LockedError, match="still writes here after") as info, \
                files.folder_lock(tmp_path, wait_seconds=0.3):
            pass
        assert 0.3 <= time.monotonic() - t0 < 2.0
        assert info.value.exit_code == 5
        assert any("waiting up to" in r.getMessage() for r in caplog.records)
        with pytest.raises(LockedError), \
                files.atomic_folder(tmp_path / "run", marker=files.RUN_MARKER,
                                    lock_wait_seconds=0.1):
            pass
    finally:
        os.close(holder)
    with files.folder_lock(tmp_path, wait_seconds=0.1):
        pass  # free again: taken at once


def _stale(parent: Path, name: str) -> Path:
    stale = parent / name
    stale.mkdir()
    (stale / "children.gpkg").write_text("layer")
    os.utime(stale, (1, 1))  # old: its writer is long gone
    return stale


def test_a_later_write_in_the_same_parent_removes_stale_temporary_folders(tmp_path: Path) -> None:
    # issue 24: after SIGKILL during the final write, '.OUT.tmp-*' stayed until a later run
    # wrote to the same --out; now any later write in the parent removes it (not a live one).
    dead = _stale(tmp_path, ".old-run.fostermatch-tmp-abc")
    inside = tmp_path / "kept"
    inside.mkdir()
    dead_inside = _stale(inside, ".fostermatch-tmp-xyz")
    alive = _stale(tmp_path, ".other.fostermatch-tmp-live")
    user = _stale(tmp_path, ".notes.tmp-mine")  # not ours: never touched
    fd = os.open(alive, os.O_RDONLY | os.O_DIRECTORY)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # a write in progress in another process
        with files.atomic_folder(tmp_path / "new-run", marker=files.RUN_MARKER) as tmp:
            files.write_text(tmp / "a.txt", "x")
        assert files.remove_stale(inside) == 1
    finally:
        os.close(fd)
    assert not dead.exists() and not dead_inside.exists()
    assert alive.exists() and user.exists()


SIGTERM_SCRIPT = """
import sys, time
from pathlib import Path
from matcher.cli.app import _terminate, _MAIN_PID
import os, signal
_MAIN_PID[0] = os.getpid()
signal.signal(signal.SIGTERM, _terminate)
from matcher.io import files
with files.atomic_folder(sys.argv[1], marker=files.RUN_MARKER) as tmp:
    (tmp / "children.gpkg").write_text("half")
    print("writing", flush=True)
    time.sleep(30)
"""


def test_sigterm_during_the_write_removes_the_temporary_folder(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(tmp_path / "run")],
                          stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[1]) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        assert any(".fostermatch-tmp-" in p.name for p in tmp_path.iterdir())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
    assert list(tmp_path.iterdir()) == []


def test_the_lock_wait_is_a_setting_a_run_folder_honours(tmp_path: Path) -> None:
    import fcntl
    import time

    from tiny_run import tiny_run

    from matcher import config
    from matcher.errors import LockedError

    path = tmp_path / "m.toml"
    path.write_text("[output]\nlock_wait_seconds = 0.2\n")
    settings = config.load(path)
    assert settings.output.lock_wait_seconds == 0.2
    assert config.Settings().output.lock_wait_seconds == files.DEFAULT_LOCK_WAIT_SECONDS
    result = tiny_run()
    holder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another `matcher match` writing beside
        t0 = time.monotonic()
        with pytest.raises(LockedError):
            result.write(tmp_path / "run", report=False, settings=settings)
        assert time.monotonic() - t0 < 5.0
    finally:
        os.close(holder)
    result.write(tmp_path / "run", report=False, settings=settings)
    assert (tmp_path / "run" / "assignments.csv").is_file()


def test_the_nightly_store_lock_waits_as_configured(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    import fcntl
    import time

    from matcher import config, nightly
    from matcher.errors import LockedError

    store = nightly.open_store(config.StoreOptions(url=str(tmp_path / "store.gpkg")))
    holder = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[attr-defined]
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another nightly run
        t0 = time.monotonic()
        with pytest.raises(LockedError), store.lock(wait_seconds=0.3):
            pass
        assert 0.3 <= time.monotonic() - t0 < 3.0
        assert any("waiting up to" in r.getMessage() for r in caplog.records)
    finally:
        os.close(holder)
    with store.lock(wait_seconds=0.3):
        pass
    cfg = tmp_path / "nightly.toml"
    cfg.write_text(f'[store]\nurl = "store.gpkg"\n[network]\nosm = "{tmp_path / "x.osm"}"\n'
                   "[job]\nlock_wait_seconds = 2.5\n")
    assert nightly.load_config(cfg).job.lock_wait_seconds == 2.5
