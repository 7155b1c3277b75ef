"""Tests for matcher.report: GeoPackage layers, offline maps, report.md, rerender and CLI."""

from __future__ import annotations

import datetime
import filecmp
import html
import itertools
import json
import logging
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import chromium_driver
from typer.testing import CliRunner

from matcher import config, network, pipeline, report, schema, vocabulary
from matcher.cli import app
from matcher.errors import InputError
from matcher.io import readers
from matcher.run import RunSummary
from matcher.scenarios import fjord as sample

runner = CliRunner()
AS_OF = datetime.date(2026, 11, 1)


@dataclass(frozen=True)
class Run:
    sample_dir: Path
    result: pipeline.RunResult
    exact: Path
    coarse: Path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The small synthetic sample matched once, written exact (with municipalities) and coarse."""
    root = tmp_path_factory.mktemp("report")
    sample_dir = root / "sample"
    sample.generate(sample_dir, seed=1, size="small")
    settings = config.Settings()
    net = network.build(sample_dir / "roads.osm", settings.network, cache_dir=root / "net")
    inputs = readers.read_inputs(*(sample_dir / f"{t}.csv" for t in schema.TABLES),
                                settings=settings.scoring)
    result = pipeline.run(inputs, settings, net=net, as_of=AS_OF)
    municipalities = gpd.read_file(sample_dir / "municipalities.geojson")
    exact = result.write(root / "exact", privacy="exact", municipalities=municipalities,
                         settings=settings)
    coarse = pipeline.write_run(result, root / "coarse", report=True, privacy="coarse")
    return Run(sample_dir, result, exact, coarse)


def assignments_csv(folder: Path) -> pd.DataFrame:
    """assignments.csv read independently of matcher.report."""
    return pd.read_csv(folder / "assignments.csv", dtype={"child_id": str, "home_id": str,
                                                          "training_needs": str,
                                                          "reason": str})


def md_table(text: str, heading: str) -> list[list[str]]:
    """Rows (cells as text) of the first table under a '## heading' of report.md."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[html.unescape(re.sub(r"\\(.)", r"\1", c.strip()))
             for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


# --------------------------------------------------------------------------- matches.gpkg


def test_gpkg_layers_and_counts(run: Run) -> None:
    gpkg = run.exact / "matches.gpkg"
    layers = {str(name) for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"children", "homes", "match_lines", "school_isochrones",
                      "municipalities", "roads"}
    frames = {name: gpd.read_file(gpkg, layer=name) for name in layers}
    for name, frame in frames.items():
        assert frame.crs.to_epsg() == 25833, name

    assigned = assignments_csv(run.exact)
    placed = assigned[assigned["home_id"].notna()]
    children = frames["children"]
    assert len(children) == len(assigned) == 60
    assert set(children["child_id"]) == set(assigned["child_id"])
    assert int(children["placed"].sum()) == len(placed)
    assert {"child_id", "urgency", "placed", "home_id", "reason"} <= set(children.columns)

    homes = frames["homes"]
    assert len(homes) == len(pd.read_csv(run.sample_dir / "homes.csv"))
    assert {"home_id", "kind", "capacity", "competences", "n_assigned"} <= set(homes.columns)
    assert int(homes["n_assigned"].sum()) == len(placed)
    per_home = placed["home_id"].value_counts()
    got = homes.set_index("home_id")["n_assigned"]
    assert (got[per_home.index] == per_home).all()

    lines = frames["match_lines"]
    assert len(lines) == len(placed)
    assert set(zip(lines["child_id"], lines["home_id"], strict=True)) == set(
        zip(placed["child_id"], placed["home_id"], strict=True))
    assert {"score", "school_minutes", "municipality_match", "kinship",
            "explanation"} <= set(lines.columns)
    assert lines["explanation"].str.contains("score").all()
    # each line runs from the child's point to its home's point
    start = shapely.get_point(lines.geometry.to_numpy(), 0)
    end = shapely.get_point(lines.geometry.to_numpy(), -1)
    child_pt = children.set_index("child_id").geometry[lines["child_id"]].to_numpy()
    home_pt = homes.set_index("home_id").geometry[lines["home_id"]].to_numpy()
    assert shapely.equals_exact(start, child_pt, tolerance=1e-6).all()
    assert shapely.equals_exact(end, home_pt, tolerance=1e-6).all()

    assert len(frames["municipalities"]) == 4


def test_school_isochrones_cover_matched_children_with_school(run: Run) -> None:
    iso = gpd.read_file(run.exact / "matches.gpkg", layer="school_isochrones")
    kids = pd.read_csv(run.sample_dir / "children.csv", dtype={"child_id": str})
    assigned = assignments_csv(run.exact)
    placed = set(assigned.loc[assigned["home_id"].notna(), "child_id"])
    with_school = set(kids.loc[kids["school_lon"].notna(), "child_id"])
    assert set(iso["child_id"]) == placed & with_school
    assert set(iso["minutes"]) <= set(config.Settings().scoring.bands_minutes)
    for _child, bands in iso.sort_values("minutes").groupby("child_id"):
        geoms = bands.geometry.to_numpy()
        for inner, outer in itertools.pairwise(geoms):
            assert outer.buffer(1.0).covers(inner)  # nested bands


def test_no_network_skips_isochrones_with_a_note(run: Run, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings = config.Settings()
    result = pipeline.run(run.result.inputs, settings, times=run.result.times, as_of=AS_OF)
    assert result.network is None
    with caplog.at_level(logging.INFO, logger="matcher.pipeline"):
        assert pipeline.school_isochrones(result, settings) is None
        report.write_outputs(result, tmp_path)
    layers = {str(name) for name, _ in pyogrio.list_layers(tmp_path / "matches.gpkg")}
    assert layers == {"children", "homes", "match_lines"}
    assert "school isochrones skipped" in caplog.text
    assert {"map.html", "map.png", "report.md"} <= {p.name for p in tmp_path.iterdir()}


def test_files_are_owner_only(run: Run) -> None:
    names = {p.name for p in run.exact.iterdir()}
    assert {"matches.gpkg", "map.html", "map.png", "report.md"} <= names
    assert not [n for n in names if n.endswith(".aux.xml")]
    for path in run.exact.rglob("*"):
        mode = 0o700 if path.is_dir() else 0o600  # briefs/ is a folder of briefs
        assert stat.S_IMODE(path.stat().st_mode) == mode, path.name


# --------------------------------------------------------------------------- privacy


@pytest.mark.parametrize(("x", "y", "cx", "cy"), [
    (0.0, 0.0, 125.0, 125.0),
    (249.99, 250.0, 125.0, 375.0),
    (-1.0, 6_700_123.4, -125.0, 6_700_125.0),
])
def test_coarsen_to_ssb_cell_centres(x: float, y: float, cx: float, cy: float) -> None:
    got_x, got_y = report.coarsen([x], [y])
    assert (got_x[0], got_y[0]) == (cx, cy)


def test_coarse_privacy_moves_every_child_to_a_cell_centre(run: Run) -> None:
    coarse = gpd.read_file(run.coarse / "matches.gpkg", layer="children")
    exact = gpd.read_file(run.exact / "matches.gpkg", layer="children")
    assert (np.mod(coarse.geometry.x, 250.0) == 125.0).all()
    assert (np.mod(coarse.geometry.y, 250.0) == 125.0).all()
    assert not (np.mod(exact.geometry.x, 250.0) == 125.0).all()
    moved = coarse.set_index("child_id").geometry.distance(exact.set_index("child_id").geometry)
    assert (moved <= 125.0 * np.sqrt(2) + 1e-6).all()
    lines = gpd.read_file(run.coarse / "matches.gpkg", layer="match_lines")
    start = shapely.get_point(lines.geometry.to_numpy(), 0)
    assert (np.mod(shapely.get_x(start), 250.0) == 125.0).all()
    # homes are not coarsened
    homes = gpd.read_file(run.coarse / "matches.gpkg", layer="homes")
    assert not (np.mod(homes.geometry.x, 250.0) == 125.0).all()


def test_coarse_privacy_pools_school_isochrones_without_child_ids(run: Run) -> None:
    exact = gpd.read_file(run.exact / "matches.gpkg", layer="school_isochrones")
    coarse = gpd.read_file(run.coarse / "matches.gpkg", layer="school_isochrones")
    ids = set(run.result.assignments["child_id"])
    assert set(exact["child_id"]) <= ids
    assert not set(coarse["child_id"]) & ids
    # one polygon per school and band, counting the children exact mode lists one by one
    counts = coarse["child_id"].str.extract(r"^(\d+) placed children$")[0].astype(int)
    assert counts.sum() == len(exact)
    assert len(coarse) == exact.groupby("minutes").geometry.apply(
        lambda g: len(set(shapely.to_wkb(g.to_numpy())))).sum()


def test_no_map_holds_exact_child_positions_even_with_exact_privacy(run: Run) -> None:
    kids = pd.read_csv(run.sample_dir / "children.csv")
    positions = [f"[{round(lon, 6)},{round(lat, 6)}]" for lon, lat in
                 zip(kids["lon"], kids["lat"], strict=True)]
    for folder in (run.exact, run.coarse):
        html = (folder / "map.html").read_text().replace(" ", "")
        assert "[" in html and not any(p in html for p in positions)
    # the exact positions are only in the analysts' GeoPackage, and report.md says so
    exact = gpd.read_file(run.exact / "matches.gpkg", layer="children")
    assert not (np.mod(exact.geometry.x, 250.0) == 125.0).any()
    assert "for analysts only" in (run.exact / "report.md").read_text()
    assert "for analysts only" not in (run.coarse / "report.md").read_text()


def test_bad_privacy_mode_lists_the_choices(run: Run) -> None:
    with pytest.raises(InputError, match="exact, coarse"):
        report.build_layers(run.result, privacy="fuzzy")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- report.md


def test_report_md_numbers_match_assignments(run: Run) -> None:
    text = (run.exact / "report.md").read_text()
    a = assignments_csv(run.exact)
    placed = a["home_id"].notna()

    urgency = {r[0]: [int(v) for v in r[1:]] for r in md_table(text, "Proposals by urgency")}
    for u in ("acute", "planned"):
        sel = a["urgency"] == u
        assert urgency[u] == [int(sel.sum()), int((sel & placed).sum()),
                              int((sel & ~placed).sum())]
    assert urgency["all"] == [len(a), int(placed.sum()), int((~placed).sum())]

    kept = int((a["municipality_match"] & placed).sum())
    share = 100 * kept / placed.sum()
    assert f"{kept} of {int(placed.sum())} proposals ({share:.1f} %)" in text

    minutes = a.loc[placed, "school_minutes"].dropna().to_numpy()
    expected = [int((minutes <= 15).sum()),
                int(((minutes > 15) & (minutes <= 30)).sum()),
                int(((minutes > 30) & (minutes <= 45)).sum()),
                int(((minutes > 45) & (minutes <= 60)).sum()),
                int((minutes > 60).sum())]
    bands = md_table(text, "School travel time")
    assert [r[0] for r in bands] == ["<= 15", "15-30", "30-45", "45-60", "> 60"]
    assert [int(r[1]) for r in bands] == expected
    assert f"Median: {np.median(minutes):.1f} min." in text

    unmatched = md_table(text, "Unmatched children")
    want = a.loc[~placed]
    assert [r[0] for r in unmatched] == list(want["child_id"])
    assert [r[2] for r in unmatched] == [r.replace("|", "\\|") for r in want["reason"]]

    training = md_table(text, "Support plan: training needs")
    needs = a.loc[placed & a["training_needs"].notna()]
    assert [(r[0], r[1]) for r in training] == list(zip(needs["child_id"], needs["home_id"],
                                                        strict=True))
    assert [r[2] for r in training] == [", ".join(vocabulary.names("need", n.split(";")))
                                        for n in needs["training_needs"]]

    summary = json.loads((run.exact / "summary.json").read_text())
    solver = dict(md_table(text, "Solver"))
    assert solver["status"] == summary["status"]
    assert solver["solver"] == summary["solver"]
    for table, digest in summary["inputs_sha256"].items():
        assert f"| `{table}` | `{digest}` |" in text  # the input named as code
    assert summary["config_hash"] in text
    assert "SYNTHETIC" in text


# --------------------------------------------------------------------------- maps


def test_map_png_is_a_real_picture(run: Run) -> None:
    from matplotlib import image

    pixels = image.imread(run.exact / "map.png")
    height, width = pixels.shape[:2]
    assert width >= 800 and height >= 600
    rgb = pixels[..., :3].reshape(-1, 3)
    assert len(np.unique(np.round(rgb * 255).astype(int), axis=0)) > 20
    assert (rgb < 0.9).any(axis=1).mean() > 0.02  # not blank white


def test_map_html_is_offline(run: Run) -> None:
    page = (run.exact / "map.html").read_text()
    remote = re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?"
                        r"(?:https?:)?//", page, flags=re.IGNORECASE)
    assert remote == []
    assert not re.search(r"@import\s+url\(\s*[\"']?(?:https?:)?//", page)
    assert "L.map(" in page and "Leaflet" in page  # Leaflet inlined
    assert "tileLayer(" not in page
    assert "OpenStreetMap contributors (ODbL)" in page
    assert "SYNTHETIC" in page


def _legend_layers(road_classes: dict[str, shapely.Geometry], kinds: list[str],
                   placed: list[bool]) -> dict[str, gpd.GeoDataFrame]:
    """Hand-made layers for the map.png legend: roads by class, homes, children."""
    crs = "EPSG:25833"
    roads = gpd.GeoDataFrame({"road_class": list(road_classes)},
                             geometry=list(road_classes.values()), crs=crs)
    homes = gpd.GeoDataFrame({"kind": kinds, "n_assigned": [1] + [0] * (len(kinds) - 1)},
                             geometry=shapely.points(np.arange(len(kinds)), 0), crs=crs)
    children = gpd.GeoDataFrame({"placed": placed},
                                geometry=shapely.points(np.arange(len(placed)), 1), crs=crs)
    lines = gpd.GeoDataFrame({"kinship": [False]},
                             geometry=[shapely.LineString([(0, 1), (0, 0)])], crs=crs)
    return {"children": children, "homes": homes, "match_lines": lines, "roads": roads}


def test_map_png_legend_shows_only_what_is_drawn() -> None:
    from matcher.report.staticmap import legend_items

    road = shapely.MultiLineString([[(0, 0), (1, 1)]])
    # Oslo: major roads only, no ferry, no emergency home, every child placed
    oslo = legend_items(_legend_layers({"major": road}, ["general", "general"], [True]))
    assert [i.key for i in oslo] == ["road", "match", "home_free", "home_used", "placed"]
    assert [i.label for i in oslo] == ["road", "match (1)", "foster home, none assigned (1)",
                                       "foster home, assigned (1)", "child, placed (1)"]
    # an empty ferry geometry is not a ferry
    empty = legend_items(_legend_layers({"major": road, "ferry": shapely.MultiLineString()},
                                        ["general"], [True]))
    assert "ferry" not in [i.key for i in empty]
    # the fjord: a ferry, an emergency home, a child without a proposal
    fjord = legend_items(_legend_layers({"minor": road, "ferry": road},
                                        ["general", "emergency", "emergency"], [True, False]))
    assert [i.key for i in fjord] == ["road", "ferry", "match", "home_used", "home_emergency",
                                      "placed", "unmatched"]
    assert "emergency home (2)" in [i.label for i in fjord]
    assert next(i for i in fjord if i.key == "home_emergency").symbol == "diamond"


def test_map_popups_keep_hostile_ids_inert(tmp_path: Path) -> None:
    from tiny_run import tiny_run

    child, home = "<img src=x onerror=alert(1)>", '<b>"H2"</b>'
    folder = pipeline.write_run(tiny_run(("C1", child, "C3"), ("H1", home)), tmp_path / "run",
                                report=True)
    page = (folder / "map.html").read_text(encoding="utf-8")
    popups = [f["properties"]["popup"]
              for m in re.finditer(r"geo_json_\w+_add\((\{.*\})\);[ \t]*\n", page)
              for f in json.loads(m.group(1))["features"] if "popup" in f["properties"]]
    assert popups
    joined = "\n".join(popups)
    assert "<img" not in joined and "<b>&quot;" not in joined and '<b>"H2"' not in joined
    assert html.escape(child) in joined and html.escape(home) in joined
    # the link to the child's brief is escaped too, and names a file that exists
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', joined)]
    assert links and all((folder / link).is_file() for link in links)


def test_map_renders_in_headless_chromium(run: Run, tmp_path: Path) -> None:
    driver = chromium_driver("1280,900")
    try:
        driver.get((run.exact / "map.html").as_uri())
        placed = int(assignments_csv(run.exact)["home_id"].notna().sum())
        # the proposal lines start switched off (no tangle); the layer control shows them
        assert driver.find_elements("css selector", "path.fm-match") == []
        overlays = {e.text.strip(): e for e in driver.find_elements(
            "css selector", ".leaflet-control-layers-overlays label")}
        assert {"municipalities", "roads", "foster homes", "emergency homes", "place names",
                "matches", "children", "unmatched children"} <= set(overlays), overlays
        overlays["matches"].click()
        lines = driver.find_elements("css selector", "path.fm-match")
        assert len(lines) == placed
        unmatched = driver.find_elements("css selector", "path.fm-unmatched")
        assert len(unmatched) == 60 - placed
        homes = gpd.read_file(run.exact / "matches.gpkg", layer="homes")
        diamonds = driver.find_elements("css selector", "div.fm-emergency")
        assert len(diamonds) == int((homes["kind"] == "emergency").sum()) > 0
        attribution = driver.find_element("css selector", ".leaflet-control-attribution").text
        assert "OpenStreetMap contributors" in attribution, attribution
        driver.execute_script(
            "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", lines[0])
        popup = driver.find_element("css selector", ".leaflet-popup-content")
        text = popup.get_attribute("innerText")
        first = gpd.read_file(run.exact / "matches.gpkg", layer="match_lines").iloc[0]
        assert text.splitlines()[0] == (f"Proposal: child {first['child_id']}, "
                                        f"home {first['home_id']}"), text
        assert "->" not in text and "score: " in text, text
        link = popup.find_element("css selector", "a").get_attribute("href")
        assert link.endswith(f"/briefs/{first['child_id']}.html")
        assert (run.exact / "briefs" / f"{first['child_id']}.html").is_file()
        # a child's pop-up draws that child's proposal line
        driver.execute_script(
            "Object.values(window).forEach(function (map) {"
            "  if (!(map instanceof L.Map)) return;"
            "  var found = null; map.closePopup();"
            "  map.eachLayer(function (l) {"
            "    if (!found && l.feature && l.feature.properties.fm_line) found = l; });"
            "  found.fire('click', {latlng: found.getLatLng()}, true); });")
        assert len(driver.find_elements("css selector", "path.fm-shown")) == 1
        log = driver.get_log("browser")
        assert [e for e in log if e["level"] == "SEVERE"] == [], log
        driver.save_screenshot(str(tmp_path / "map.png"))
    finally:
        driver.quit()
        shutil.rmtree(driver._fm_profile, ignore_errors=True)


# --------------------------------------------------------------------------- rerender and CLI


def test_rerender_reproduces_the_outputs(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run.exact, folder)
    for name in ("map.html", "map.png", "report.md"):
        (folder / name).unlink()
    report.rerender(folder)
    for name in ("map.html", "map.png", "report.md"):
        assert filecmp.cmp(run.exact / name, folder / name, shallow=False), name
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert not [p for p in folder.iterdir()
                if p.name.startswith(".") and p.name != ".fostermatch-run"]


def test_cli_report_rerenders(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run.coarse, folder)
    (folder / "report.md").write_text("stale\n")
    result = runner.invoke(app, ["--json", "report", "--run", str(folder)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["command"] == "report"
    assert (folder / "report.md").read_text() == (run.coarse / "report.md").read_text()


@pytest.mark.parametrize("case", ["empty", "no_gpkg", "broken_gpkg", "missing"])
def test_cli_report_bad_run_folder_exit_2_nothing_written(run: Run, tmp_path: Path,
                                                          case: str) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    if case in ("no_gpkg", "broken_gpkg"):
        for name in ("assignments.csv", "summary.json"):
            shutil.copy(run.exact / name, folder / name)
    if case == "broken_gpkg":
        (folder / "matches.gpkg").write_bytes(b"not a geopackage")
    if case == "missing":
        folder.rmdir()
    before = sorted(p.name for p in folder.iterdir()) if folder.exists() else None
    result = runner.invoke(app, ["report", "--run", str(folder)])
    assert result.exit_code == 2, result.output
    after = sorted(p.name for p in folder.iterdir()) if folder.exists() else None
    assert after == before


def test_report_md_escapes_html_and_markdown_from_ids(run_summary: RunSummary) -> None:
    # issue 15, case 9: report.md passed raw HTML from ids.
    from matcher.report import markdown

    evil = "<img src=x onerror=alert(1)>**x**|[l](j)"
    a = pd.DataFrame({"child_id": [evil, "c2"], "home_id": [None, "h|1"],
                      "urgency": ["acute", "planned"], "locked": [False, False],
                      "municipality_match": [False, True], "kinship": [False, False],
                      "school_minutes": [np.nan, 12.0], "training_needs": ["", "teen"],
                      "reason": ["<script>x</script>", ""]})
    text = markdown._markdown(a, run_summary.model_copy(update={"children_not_heard": ()}), {})
    assert "<img" not in text and "<script" not in text and "**x**" not in text
    assert md_table(text, "Unmatched children")[0] == [evil, "acute", "<script>x</script>"]
    assert md_table(text, "Support plan: training needs")[0] == ["c2", "h|1", "teenager"]
    # the children not heard are listed in a sentence: their ids are inert there too
    text = markdown._markdown(a, run_summary.model_copy(update={"children_not_heard": (evil,)}),
                              {})
    assert "<img" not in text and "**x**" not in text
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in text


def test_report_rerenders_in_the_language_of_the_run(run: Run, tmp_path: Path) -> None:
    """`matcher report` keeps the run's language (summary.json) unless --lang is given."""
    folder = tmp_path / "run"
    shutil.copytree(run.exact, folder)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["language"] == "en"  # the test session's language when the run was made
    summary["language"] = "nn"
    (folder / "summary.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["-q", "report", "--run", str(folder)])
    assert result.exit_code == 0, result.output
    text = (folder / "report.md").read_text()
    assert "## Heimkommune" in text and "## Home municipality" not in text
    result = runner.invoke(app, ["-q", "--lang", "en", "report", "--run", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "report.md").read_text() == (run.exact / "report.md").read_text()


def test_report_md_escapes_pool_names(run_summary: RunSummary) -> None:
    # issue 24: pool names from [scoring.pools] reached report.md as raw HTML
    from matcher.report import markdown

    evil = "<img src=x onerror=alert(1)>"
    a = pd.DataFrame({"child_id": ["c1"], "home_id": ["h1"], "urgency": ["acute"],
                      "locked": [False], "municipality_match": [True], "kinship": [False],
                      "school_minutes": [5.0], "training_needs": [""], "reason": [""]})
    summary = run_summary.model_copy(update={"pools": {evil: ("0301", "<b>3201</b>")},
                                             "children_not_heard": ()})
    text = markdown._markdown(a, summary, {})
    assert "<img" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert\\(1\\)&gt; (Oslo, &lt;b&gt;3201&lt;/b&gt;)" in text
