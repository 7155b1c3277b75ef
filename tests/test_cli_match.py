"""CLI tests for sample, demo, validate, match and shortlist, including bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matcher.cli import app
from matcher.io import readers
from matcher.scenarios import fjord as sample

runner = CliRunner()
AS_OF = "2026-11-01"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small synthetic sample and its built network folder."""
    root = tmp_path_factory.mktemp("scenario")
    sample.generate(root / "sample", seed=3, size="small")
    result = runner.invoke(app, ["-q", "network", "build", "--osm",
                                 str(root / "sample" / "roads.osm"), "--out", str(root / "net")])
    assert result.exit_code == 0, result.output
    return root / "sample", root / "net"


def match_args(sample_dir: Path, net: Path, out: Path, **override: Path) -> list[str]:
    files = {name: sample_dir / f"{name}.csv"
             for name in ("children", "homes", "contacts", "placements", "vetoes")}
    files.update(override)
    args = ["match", "--network", str(net), "--out", str(out), "--as-of", AS_OF]
    for name, path in files.items():
        args += [f"--{name}", str(path)]
    return args


def test_sample_is_deterministic_via_cli(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(app, ["-q", "sample", "--out", str(tmp_path / name), "--seed", "5"])
        assert result.exit_code == 0, result.output
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_sample_bad_size(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "--out", str(tmp_path / "x"), "--size", "huge"])
    assert result.exit_code == 2 and "small, region or national" in result.output
    assert not (tmp_path / "x").exists()


def test_validate_ok_and_json(scenario: tuple[Path, Path]) -> None:
    sample_dir, _ = scenario
    result = runner.invoke(app, ["--json", "validate", "--children",
                                 str(sample_dir / "children.csv"), "--homes",
                                 str(sample_dir / "homes.csv"), "--contacts",
                                 str(sample_dir / "contacts.csv")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    assert summary["children"] == len(pd.read_csv(sample_dir / "children.csv"))


def test_match_writes_run_folder_and_is_deterministic(scenario: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    sample_dir, net = scenario
    outs = [tmp_path / "run1", tmp_path / "run2"]
    for out in outs:
        result = runner.invoke(app, ["--json", *match_args(sample_dir, net, out)])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assigned = pd.read_csv(outs[0] / "assignments.csv", dtype={"home_id": str})
    assert summary["placed"] == int(assigned["home_id"].notna().sum())
    assert summary["status"] == "optimal"
    assert (assigned.loc[assigned["home_id"].isna(), "reason"].str.len() > 0).all()
    for name in ("assignments.csv", "pairs.csv", "shortlist.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
        assert (outs[0] / name).stat().st_mode & 0o077 == 0
    first = json.loads((outs[0] / "summary.json").read_text())
    second = json.loads((outs[1] / "summary.json").read_text())
    first.pop("timings_seconds")
    second.pop("timings_seconds")
    assert first == second


def test_match_with_travel_times_table(scenario: tuple[Path, Path], tmp_path: Path) -> None:
    """Times from 'another router' (here: our own, exported) give the same assignment."""
    sample_dir, net = scenario
    base = tmp_path / "base"
    assert runner.invoke(app, ["-q", *match_args(sample_dir, net, base)]).exit_code == 0
    from matcher import config, network, pipeline

    settings = config.Settings()
    inputs = readers.read_inputs(sample_dir / "children.csv", sample_dir / "homes.csv",
                                sample_dir / "contacts.csv", settings=settings.scoring)
    table = pipeline.travel_times(inputs, network.load(net), settings)
    long = table.to_long(origin_col="home_id", destination_col="anchor_id")
    times = tmp_path / "times.csv"
    long.to_csv(times, index=False, float_format="%.17g")
    args = match_args(sample_dir, net, tmp_path / "viatable")
    args[args.index("--network"):args.index("--network") + 2] = ["--travel-times", str(times)]
    result = runner.invoke(app, ["-q", *args])
    assert result.exit_code == 0, result.output
    a = pd.read_csv(base / "assignments.csv", dtype=str)
    b = pd.read_csv(tmp_path / "viatable" / "assignments.csv", dtype=str)
    assert a["home_id"].fillna("").tolist() == b["home_id"].fillna("").tolist()


def test_shortlist(scenario: tuple[Path, Path], tmp_path: Path) -> None:
    sample_dir, net = scenario
    out = tmp_path / "run"
    assert runner.invoke(app, ["-q", *match_args(sample_dir, net, out)]).exit_code == 0
    assigned = pd.read_csv(out / "assignments.csv", dtype=str)
    child = assigned.loc[assigned["home_id"].notna(), "child_id"].iloc[0]
    result = runner.invoke(app, ["--json", "shortlist", "--run", str(out), "--child", child,
                                 "--k", "3"])
    assert result.exit_code == 0, result.output
    homes = json.loads(result.stdout)["homes"]
    assert 1 <= len(homes) <= 3
    scores = [h["score"] for h in homes]
    assert scores == sorted(scores, reverse=True)
    bad = runner.invoke(app, ["shortlist", "--run", str(out), "--child", "NOPE"])
    assert bad.exit_code == 2 and "NOPE" in bad.output


def _bad_case(case: str, sample_dir: Path, tmp_path: Path) -> dict[str, Path]:
    """Write one broken input file and return the override for match_args."""
    if case == "missing_column":
        frame = pd.read_csv(sample_dir / "homes.csv", dtype=str).drop(columns=["capacity"])
        path = tmp_path / "homes.csv"
        frame.to_csv(path, index=False)
        return {"homes": path}
    if case == "corrupt_gpkg":
        path = tmp_path / "homes.gpkg"
        path.write_bytes(b"SQLite format 3\x00" + b"\x17" * 300)
        return {"homes": path}
    if case == "empty_homes":
        path = tmp_path / "homes.csv"
        path.write_text((sample_dir / "homes.csv").read_text().splitlines()[0] + "\n")
        return {"homes": path}
    if case == "child_off_network":
        frame = pd.read_csv(sample_dir / "children.csv", dtype=str)
        frame.loc[0, "lon"] = str(float(frame.loc[0, "lon"]) + 0.9)  # ~50 km east
        path = tmp_path / "children.csv"
        frame.to_csv(path, index=False)
        return {"children": path}
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing_column", "corrupt_gpkg", "empty_homes",
                                  "child_off_network"])
def test_match_bad_input_exit_2_nothing_written(scenario: tuple[Path, Path], tmp_path: Path,
                                                case: str) -> None:
    sample_dir, net = scenario
    override = _bad_case(case, sample_dir, tmp_path)
    out = tmp_path / "run"
    result = runner.invoke(app, match_args(sample_dir, net, out, **override))
    assert result.exit_code == 2, result.output
    assert "error" in result.output and "Traceback" not in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]
    if case == "child_off_network":
        child = pd.read_csv(sample_dir / "children.csv", dtype=str).loc[0, "child_id"]
        assert child in result.output
        assert "children, row 2, column 'lon/lat'" in " ".join(result.output.split())


def test_match_infeasible_configuration_exit_3(scenario: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    """Two locked placements in a home with one free place cannot both stand."""
    sample_dir, net = scenario
    homes = pd.read_csv(sample_dir / "homes.csv", dtype=str)
    children = pd.read_csv(sample_dir / "children.csv", dtype=str)
    home = homes.loc[homes["kind"] == "general"].iloc[0]
    homes.loc[homes["home_id"] == home["home_id"], ["capacity", "min_age", "max_age"]] = \
        ["1", "0", "25"]
    singles = children.loc[children["sibling_group"].isna(), "child_id"].head(2).tolist()
    (tmp_path / "in").mkdir()
    homes.to_csv(tmp_path / "in" / "homes.csv", index=False)
    locked = pd.DataFrame({"child_id": singles, "home_id": [home["home_id"]] * 2})
    locked.to_csv(tmp_path / "in" / "placements.csv", index=False)
    vetoes = tmp_path / "in" / "vetoes.csv"
    vetoes.write_text("child_id,home_id\n")
    out = tmp_path / "run"
    result = runner.invoke(app, match_args(sample_dir, net, out,
                                           homes=tmp_path / "in" / "homes.csv",
                                           placements=tmp_path / "in" / "placements.csv",
                                           vetoes=vetoes))
    assert result.exit_code == 3, result.output
    assert home["home_id"] in result.output and not out.exists()


def test_match_needs_exactly_one_time_source(scenario: tuple[Path, Path], tmp_path: Path) -> None:
    sample_dir, net = scenario
    args = match_args(sample_dir, net, tmp_path / "run")
    args += ["--osm", str(sample_dir / "roads.osm")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "exactly one" in result.output


@pytest.mark.parametrize("region", ["oslo", "fjord"])
def test_demo_runs_to_a_finished_folder(region: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--region", region, "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "demo" / "run"
    assert {"assignments.csv", "pairs.csv", "shortlist.csv", "summary.json", "map.html",
            "report.md"} <= {p.name for p in run.iterdir()}
    assert "placed" in result.output and "SYNTHETIC" in result.output
    # the people are synthetic; the places only in the fjord (Oslo is real geography)
    banner = ("SYNTHETIC data: fictional places" if region == "fjord"
              else "Synthetic children and foster homes on a real map")
    for name in ("report.md", "map.html"):
        assert banner in (run / name).read_text(encoding="utf-8"), name
    children = pd.read_csv(run / "assignments.csv", dtype=str)
    if region == "oslo":  # real Oslo geography: every child in municipality 0301
        assert set(children["municipality"]) == {"0301"}
        assert "SYNTHETIC" in (tmp_path / "demo" / "sample" / "README.md").read_text()
    else:
        assert set(children["municipality"]) <= {f"{n}" for n in range(4691, 4700)}
    shutil.rmtree(tmp_path / "demo")


def test_demo_rejects_an_unknown_region() -> None:
    result = runner.invoke(app, ["demo", "--region", "bergen"])
    assert result.exit_code == 2 and "use oslo or fjord" in result.output


def test_json_stdout_is_clean_in_a_real_process(scenario: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    """Native solver banners must not corrupt `--json` output; the checkout shim works."""
    import subprocess
    import sys

    sample_dir, net = scenario
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "cli.py"), "--json",
                           *match_args(sample_dir, net, tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "optimal"


@pytest.mark.parametrize("where", ["victim", "dot"])
def test_out_refuses_a_folder_that_is_not_a_run(scenario: tuple[Path, Path], tmp_path: Path,
                                                where: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 15, case 1 (the inputs and notes.txt were deleted) and case 8 ('--out .'
    # failed with exit 1 after the whole run).
    sample_dir, net = scenario
    victim = tmp_path / "victim"
    shutil.copytree(sample_dir, victim)
    (victim / "notes.txt").write_text("precious")
    before = sorted(p.name for p in victim.iterdir())
    monkeypatch.chdir(victim)
    out = victim if where == "victim" else Path(".")
    args = match_args(victim, net, out)
    calls: list[str] = []
    monkeypatch.setattr("matcher.io.readers.read_inputs", lambda *a, **k: calls.append("read"))
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "does not hold a previous run" in " ".join(result.output.split())
    assert calls == []  # checked before any work
    assert sorted(p.name for p in victim.iterdir()) == before
    assert (victim / "notes.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]


def test_quiet_match_prints_nothing_on_stdout(scenario: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    # issue 15, case 10: '-q match' printed the HiGHS banner on stdout (cron mail).
    import subprocess
    import sys

    sample_dir, net = scenario
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(root / "cli.py"), "-q",
                           *match_args(sample_dir, net, out)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "HiGHS" not in proc.stderr
    assert (out / "assignments.csv").is_file()


def test_table_options_take_a_geopackage_layer(scenario: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    # issue 15, case 4: 'file.gpkg:layer' failed in the CLI (the option checked the path).
    import geopandas as gpd

    sample_dir, net = scenario
    gpkg = tmp_path / "tables.gpkg"
    for name in ("children", "homes"):
        frame = pd.read_csv(sample_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        layer = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), crs="EPSG:4326",
                                 geometry=gpd.points_from_xy(frame["lon"].astype(float),
                                                             frame["lat"].astype(float)))
        layer.to_file(gpkg, layer=name, driver="GPKG", engine="pyogrio")
    out = tmp_path / "run"
    args = match_args(sample_dir, net, out, children=Path(f"{gpkg}:children"),
                      homes=Path(f"{gpkg}:homes"))
    result = runner.invoke(app, ["-q", *args])
    assert result.exit_code == 0, result.output
    bare = match_args(sample_dir, net, tmp_path / "run2", children=gpkg,
                      homes=Path(f"{gpkg}:homes"))
    result = runner.invoke(app, bare)
    assert result.exit_code == 2, result.output
    assert "layers: children, homes" in " ".join(result.output.split())
    missing = match_args(sample_dir, net, tmp_path / "run3", homes=tmp_path / "nope.csv")
    result = runner.invoke(app, missing)
    assert result.exit_code == 2 and "file not found" in result.output


def test_match_over_the_pair_budget_exits_2_before_work(scenario: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    sample_dir, net = scenario
    cfg = tmp_path / "small.toml"
    cfg.write_text("[assignment]\nmax_pairs = 10\n")
    out = tmp_path / "run"
    result = runner.invoke(app, [*match_args(sample_dir, net, out), "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "over the budget of 10 ([assignment] max_pairs)" in " ".join(result.output.split())
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["small.toml"]


# --------------------------------------------------------------------------- issue 24


@pytest.mark.parametrize("command", ["sample", "demo"])
def test_sample_and_demo_refuse_a_folder_of_other_files(tmp_path: Path, command: str) -> None:
    # issue 24, case 2: 'sample --out DIR' overwrote children.csv of any folder; 'demo'
    # protected DIR/run but not DIR/sample.
    victim = tmp_path / "victim"
    (victim / "sample").mkdir(parents=True)
    (victim / "children.csv").write_text("mine")
    (victim / "sample" / "children.csv").write_text("mine too")
    result = runner.invoke(app, ["-q", command, "--out", str(victim)])
    assert result.exit_code == 2, result.output
    assert "does not hold a previous run" in " ".join(result.output.split())
    assert (victim / "children.csv").read_text() == "mine"
    assert (victim / "sample" / "children.csv").read_text() == "mine too"
    assert sorted(p.name for p in victim.iterdir()) == ["children.csv", "sample"]


def test_demo_refuses_a_sample_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "children.csv").write_text("mine")
    result = runner.invoke(app, ["-q", "demo", "--region", "fjord", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert (tmp_path / "sample" / "children.csv").read_text() == "mine"


def test_sample_out_dot_writes_into_the_working_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inode = tmp_path.stat().st_ino
    for _run in range(2):  # the second run may write where the first one did
        result = runner.invoke(app, ["-q", "sample", "--out", "."])
        assert result.exit_code == 0, result.output
    assert tmp_path.stat().st_ino == inode
    assert (tmp_path / "children.csv").is_file() and (tmp_path / ".fostermatch-sample").is_file()


def test_brackets_in_paths_and_ids_are_shown_as_given(scenario: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    # issue 24: '--out run[/]x' wrote the run, then exit 1 (MarkupError); 'runs-[draft]' was
    # printed as 'runs-'; 'shortlist --child [/]' exited 1.
    sample_dir, net = scenario
    out = tmp_path / "runs-[draft]" / "run[/]x"  # both cases in one run
    result = runner.invoke(app, match_args(sample_dir, net, out))
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()
    assert f"->{out}" in "".join(result.output.split())  # the title may wrap
    result = runner.invoke(app, ["shortlist", "--run", str(out), "--child", "[/]"])
    assert result.exit_code == 2, result.output
    assert "unknown child_id '[/]'" in result.output


def test_a_damaged_network_cache_is_exit_2_naming_the_file(scenario: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    import numpy as np

    sample_dir, net = scenario
    shutil.copytree(net, tmp_path / "net")
    path = tmp_path / "net" / "network.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "osmid"}
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    result = runner.invoke(app, match_args(sample_dir, tmp_path / "net", tmp_path / "run"))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "network.npz: damaged network cache" in text and "matcher network build" in text
    assert not (tmp_path / "run").exists()
