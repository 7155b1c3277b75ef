"""CLI tests for `matcher network build`, `traveltime` and `isochrones`."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from osm_builder import write_osm
from typer.testing import CliRunner

from matcher.cli import app

runner = CliRunner()


@pytest.fixture()
def osm(tmp_path: Path) -> Path:
    nodes = [(r * 4 + c + 1, 5.30 + c * 0.004, 60.40 + r * 0.002) for r in range(4)
             for c in range(4)]
    ways = [(100 + r, [r * 4 + c + 1 for c in range(4)], {"highway": "residential"})
            for r in range(4)]
    ways += [(200 + c, [r * 4 + c + 1 for r in range(4)], {"highway": "secondary"})
             for c in range(4)]
    return write_osm(tmp_path / "grid.osm", nodes, ways)


def points_csv(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    pd.DataFrame(rows, columns=["id", "lon", "lat"]).to_csv(path, index=False)
    return path


def test_network_build_then_cache(osm: Path, tmp_path: Path) -> None:
    out = tmp_path / "net"
    first = runner.invoke(app, ["--json", "network", "build", "--osm", str(osm), "--out", str(out)])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["nodes"] == 16 and summary["from_cache"] is False  # the node graph
    assert {"network.npz", "network.json", "network.gpkg"} <= {p.name for p in out.iterdir()}
    assert len(gpd.read_file(out / "network.gpkg", layer="edges")) == summary["edges"]
    second = runner.invoke(app, ["--json", "network", "build", "--osm", str(osm), "--out",
                                 str(out)])
    assert json.loads(second.stdout)["from_cache"] is True
    # with turn costs: 16 road nodes and an in-port for each of the 48 directed edges
    config = tmp_path / "turns.toml"
    config.write_text("[network]\nturn_costs = true\n", encoding="utf-8")
    turns = runner.invoke(app, ["--json", "network", "build", "--config", str(config), "--osm",
                                str(osm), "--out", str(tmp_path / "turns")])
    assert turns.exit_code == 0, turns.output
    assert json.loads(turns.stdout)["nodes"] == 16 + 48


def test_traveltime_and_isochrones(osm: Path, tmp_path: Path) -> None:
    out = tmp_path / "net"
    assert runner.invoke(app, ["-q", "network", "build", "--osm", str(osm), "--out",
                               str(out)]).exit_code == 0
    o = points_csv(tmp_path / "o.csv", [("a", 5.301, 60.401), ("b", 5.311, 60.405)])
    d = points_csv(tmp_path / "d.csv", [("x", 5.305, 60.403), ("y", 5.300, 60.400),
                                        ("z", 5.312, 60.406)])
    for suffix in ("csv", "parquet"):
        target = tmp_path / f"times.{suffix}"
        result = runner.invoke(app, ["-q", "traveltime", "--network", str(out), "--origins",
                                     str(o), "--destinations", str(d), "--out", str(target)])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(target) if suffix == "csv" else pd.read_parquet(target)
        assert list(table.columns) == ["origin_id", "destination_id", "minutes"]
        assert len(table) == 6 and (table["minutes"] > 0).all()
        assert target.stat().st_mode & 0o077 == 0
    iso = tmp_path / "iso.gpkg"
    result = runner.invoke(app, ["-q", "isochrones", "--network", str(out), "--points", str(o),
                                 "--out", str(iso), "--bands", "1,2,3"])
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(iso, layer="isochrones")
    assert len(frame) == 6 and set(frame["minutes"]) == {1.0, 2.0, 3.0}


@pytest.mark.parametrize("case", ["far", "missing_column", "empty", "bad_suffix", "no_network"])
def test_traveltime_bad_input_exit_2_and_nothing_written(osm: Path, tmp_path: Path,
                                                         case: str) -> None:
    out = tmp_path / "net"
    runner.invoke(app, ["-q", "network", "build", "--osm", str(osm), "--out", str(out)])
    o = points_csv(tmp_path / "o.csv", [("a", 5.301, 60.401)])
    d = points_csv(tmp_path / "d.csv", [("x", 5.305, 60.403)])
    target = tmp_path / "times.csv"
    net_dir = out
    if case == "far":
        d = points_csv(tmp_path / "d.csv", [("x", 5.305, 60.403), ("child-far", 6.2, 60.4)])
    elif case == "missing_column":
        pd.DataFrame({"id": ["x"], "lon": [5.3]}).to_csv(d, index=False)
    elif case == "empty":
        d.write_text("id,lon,lat\n")
    elif case == "bad_suffix":
        target = tmp_path / "times.xlsx"
    else:
        net_dir = tmp_path / "empty-dir"
        net_dir.mkdir()
    result = runner.invoke(app, ["traveltime", "--network", str(net_dir), "--origins", str(o),
                                 "--destinations", str(d), "--out", str(target)])
    assert result.exit_code == 2, result.output
    assert "error" in result.output and "Traceback" not in result.output
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".times")]
    if case == "far":
        assert "child-far" in result.output and "6.2" not in result.output


def test_version_and_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("fostermatch ")
    for command in (["network", "build"], ["traveltime"], ["isochrones"]):
        helped = runner.invoke(app, [*command, "--help"])
        assert helped.exit_code == 0 and "--out" in helped.stdout


def test_traveltime_reads_geojson_and_gpkg_points_in_any_crs(osm: Path, tmp_path: Path) -> None:
    out = tmp_path / "net"
    assert runner.invoke(app, ["-q", "network", "build", "--osm", str(osm), "--out",
                               str(out)]).exit_code == 0
    rows = [("a", 5.301, 60.401), ("b", 5.311, 60.405)]
    o_csv = points_csv(tmp_path / "o.csv", rows)
    frame = gpd.GeoDataFrame({"id": [r[0] for r in rows]},
                             geometry=gpd.points_from_xy([r[1] for r in rows],
                                                         [r[2] for r in rows]), crs="EPSG:4326")
    o_geojson = tmp_path / "o.geojson"
    frame.to_file(o_geojson, driver="GeoJSON")
    o_gpkg = tmp_path / "o.gpkg"
    frame.to_crs("EPSG:25833").to_file(o_gpkg, driver="GPKG")
    tables = []
    for origins in (o_csv, o_geojson, o_gpkg):
        target = tmp_path / f"t-{origins.suffix[1:]}.csv"
        result = runner.invoke(app, ["-q", "traveltime", "--network", str(out), "--origins",
                                     str(origins), "--destinations", str(o_csv), "--out",
                                     str(target)])
        assert result.exit_code == 0, result.output
        tables.append(pd.read_csv(target))
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], other, atol=1e-6)


def test_network_build_refuses_a_folder_of_other_files(osm: Path, tmp_path: Path) -> None:
    # issue 24: 'network build --out DIR' wrote into any folder
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["network", "build", "--osm", str(osm), "--out", str(victim)])
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in victim.iterdir()) == ["notes.txt"]
    # a cache of an earlier build (network.json, no marker file) is the engine's own folder
    out = tmp_path / "net"
    assert runner.invoke(app, ["-q", "network", "build", "--osm", str(osm), "--out",
                               str(out)]).exit_code == 0
    (out / ".fostermatch-network").unlink()
    assert runner.invoke(app, ["-q", "network", "build", "--osm", str(osm), "--out",
                               str(out)]).exit_code == 0
