"""Private by default (issue 21, item 6): what a run folder may share.

A run with the default settings (``matcher match`` without ``--privacy``) is
parsed file by file: every shareable output (``map.html``, ``map.png`` and its
text chunks, ``report.md``, every brief, ``proposals.xlsx`` cell by cell) and
the CSV files. None may hold a coordinate of any child (its home, its school
or a contact, in WGS84 degrees or in the working CRS, within rounding), and no
child's brief may name another child. Two children have a protected address:
they are in no layer, and their briefs say "adresse skjermet".
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from matcher import config
from matcher.cli import app
from matcher.report.briefs import brief_file_name
from matcher.scenarios import fjord as sample

runner = CliRunner()
AS_OF = "2026-11-01"
DEGREES = 1.5e-5
"""Within rounding, in degrees (5 decimals; about 1.7 m north-south, 0.8 m east-west)."""
METRES = 1.0
"""Within rounding, in metres of the working CRS."""
_PAIR = re.compile(r"(?=(?<![\d.])(-?\d+(?:\.\d+)?)[ \t]*[,;\t ][ \t]*(-?\d+(?:\.\d+)?)(?![\d.]))")
"""Two numbers written as a pair: separated by a comma, a semicolon or blanks (overlapping)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small sample with two protected addresses, matched by the CLI with defaults."""
    root = tmp_path_factory.mktemp("privacy")
    sample.generate(root / "sample", seed=3, size="small")
    children = pd.read_csv(root / "sample" / "children.csv", dtype=str, keep_default_na=False)
    children["address_protection"] = ""
    children.loc[[0, 1], "address_protection"] = ["fortrolig", "strengt_fortrolig"]
    children.to_csv(root / "sample" / "children.csv", index=False)
    built = runner.invoke(app, ["-q", "network", "build", "--osm",
                                str(root / "sample" / "roads.osm"), "--out", str(root / "net")])
    assert built.exit_code == 0, built.output
    args = ["-q", "--lang", "nb", "match", "--network", str(root / "net"),
            "--out", str(root / "run"), "--as-of", AS_OF]
    for name in ("children", "homes", "contacts", "placements", "vetoes"):
        args += [f"--{name}", str(root / "sample" / f"{name}.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return root / "sample", root / "run"


def _points(sample_dir: Path) -> pd.DataFrame:
    """Every point of every child: ``child_id, lon, lat, x, y`` (x, y in the working CRS)."""
    kids = pd.read_csv(sample_dir / "children.csv", dtype={"child_id": str})
    contacts = pd.read_csv(sample_dir / "contacts.csv", dtype={"child_id": str})
    frames = [kids[["child_id", "lon", "lat"]],
              kids[["child_id", "school_lon", "school_lat"]].set_axis(
                  ["child_id", "lon", "lat"], axis=1),
              contacts[["child_id", "lon", "lat"]]]
    points = pd.concat(frames, ignore_index=True).dropna()
    xy = gpd.GeoSeries(gpd.points_from_xy(points["lon"], points["lat"]),
                       crs="EPSG:4326").to_crs(config.Settings().crs)
    return points.assign(x=xy.x.to_numpy(), y=xy.y.to_numpy()).reset_index(drop=True)


def _pairs(text: str) -> np.ndarray:
    """Every pair of numbers written next to each other in ``text``, shape ``(n, 2)``."""
    found = [(float(a), float(b)) for a, b in _PAIR.findall(text)]
    return np.array(found, dtype=float).reshape(-1, 2)


def _found(pairs: np.ndarray, points: pd.DataFrame) -> list[str]:
    """Ids of the children one of whose points is one of ``pairs``.

    A pair is ``(lon, lat)``, ``(lat, lon)`` (degrees) or ``(x, y)`` (metres).
    """
    a, b = pairs[:, 0], pairs[:, 1]
    hits = []
    for p in points.itertuples(index=False):
        near = ((np.abs(a - p.lon) <= DEGREES) & (np.abs(b - p.lat) <= DEGREES)) | \
               ((np.abs(a - p.lat) <= DEGREES) & (np.abs(b - p.lon) <= DEGREES)) | \
               ((np.abs(a - p.x) <= METRES) & (np.abs(b - p.y) <= METRES))
        if near.any():
            hits.append(str(p.child_id))
    return sorted(set(hits))


def _xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    cells = [", ".join(str(v) for v in row if v is not None)  # neighbour cells form pairs
             for ws in book.worksheets for row in ws.iter_rows(values_only=True)]
    props = book.properties
    cells += [str(getattr(props, k)) for k in ("title", "subject", "creator", "keywords",
                                               "description") if getattr(props, k)]
    return "\n".join(cells)


def _png_text(path: Path) -> str:
    with Image.open(path) as image:
        image.load()
        return "\n".join(f"{k} {v}" for k, v in image.info.items() if isinstance(v, str))


def _shareable(run_dir: Path) -> dict[str, str]:
    """Every shareable file of the run folder, as text."""
    out: dict[str, str] = {}
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(run_dir))
        if path.suffix in (".html", ".md", ".csv"):
            out[name] = path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            out[name] = _xlsx_text(path)
        elif path.suffix == ".png":
            out[name] = _png_text(path)
    return out


def test_default_run_shares_no_coordinate_of_any_child(folder: tuple[Path, Path]) -> None:
    sample_dir, run_dir = folder
    points = _points(sample_dir)
    files = _shareable(run_dir)
    assert {"map.html", "map.png", "report.md", "proposals.xlsx", "assignments.csv"} <= set(files)
    assert sum(name.startswith("briefs/") for name in files) == 2 * len(
        pd.read_csv(sample_dir / "children.csv"))
    assert len(_pairs(files["map.html"])) > 1000  # the map holds coordinates: of others
    found = {name: ids for name, text in files.items() if (ids := _found(_pairs(text), points))}
    assert found == {}


def test_the_check_finds_an_exact_position(folder: tuple[Path, Path]) -> None:
    """The parser is not blind: it finds a child's point however a file writes it."""
    sample_dir, _run_dir = folder
    points = _points(sample_dir)
    p = points.iloc[5]
    for text in (f'{{"coordinates": [{p.lon:.6f}, {p.lat:.6f}]}}', f"[{p.lat:.5f},{p.lon:.5f}]",
                 f"x;y\n{p.x:.1f};{p.y:.1f}", f"{p.lon:.7f}\t{p.lat:.7f}"):
        assert p.child_id in _found(_pairs(text), points), text
    assert _found(_pairs(f"[{p.lat + 3e-5:.6f}, {p.lon:.6f}]"), points) == []
    assert _found(_pairs(f"[1.0, {p.lat:.6f}], [{p.lon:.6f}, 2.0]"), points) == []


def test_no_brief_names_another_child(folder: tuple[Path, Path]) -> None:
    sample_dir, run_dir = folder
    """A brief names its own child and, to say where each is proposed, its siblings (the same
    case, issue 22); no other child."""
    kids = pd.read_csv(sample_dir / "children.csv", dtype=str, keep_default_na=False)
    ids = kids["child_id"].tolist()
    group = dict(zip(kids["child_id"], kids["sibling_group"], strict=True))
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(i)}(?![\w-])" for i in ids))
    named, siblings_named = {}, 0
    for child in ids:
        siblings = {c for c in ids if group[child] and group[c] == group[child]}
        for suffix in (".md", ".html"):
            text = (run_dir / "briefs" / f"{brief_file_name(child)}{suffix}").read_text()
            found = set(pattern.findall(text)) - {child}
            siblings_named += len(found & siblings)
            if found - siblings:
                named[child + suffix] = sorted(found - siblings)
            assert child in text
    assert named == {}
    assert siblings_named  # the sample has sibling groups, and their briefs say where


def test_protected_addresses_are_in_no_layer_and_their_briefs_say_so(
        folder: tuple[Path, Path]) -> None:
    sample_dir, run_dir = folder
    kids = pd.read_csv(sample_dir / "children.csv", dtype=str, keep_default_na=False)
    hidden = set(kids.loc[kids["address_protection"] != "", "child_id"])
    assert len(hidden) == 2
    for layer in ("children", "match_lines", "school_isochrones"):
        frame = gpd.read_file(run_dir / "matches.gpkg", layer=layer)
        assert not set(frame["child_id"].astype(str)) & hidden, layer
    html = (run_dir / "map.html").read_text()
    for child in hidden:
        assert child not in html
        brief = (run_dir / "briefs" / f"{child}.md").read_text()
        assert "Adressen er skjermet" in brief
    others = sorted(set(kids["child_id"]) - hidden)[:3]
    for child in others:
        assert "skjermet" not in (run_dir / "briefs" / f"{child}.md").read_text()
    assert "adresse skjermet" in _xlsx_text(run_dir / "proposals.xlsx")
    assert "2 barn har fortrolig eller strengt fortrolig adresse" in \
        (run_dir / "report.md").read_text()


def test_default_gpkg_is_coarse_and_exact_is_for_analysts(folder: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    sample_dir, run_dir = folder
    coarse = gpd.read_file(run_dir / "matches.gpkg", layer="children")
    assert (np.mod(coarse.geometry.x, 250.0) == 125.0).all()
    # [report] privacy = "exact" in the settings file is honoured (it was ignored before)
    toml = tmp_path / "exact.toml"
    toml.write_text('[report]\nprivacy = "exact"\n')
    args = ["--lang", "en", "match", "--network", str(run_dir.parent / "net"),
            "--out", str(tmp_path / "run"), "--as-of", AS_OF, "--config", str(toml)]
    for name in ("children", "homes", "contacts", "placements", "vetoes"):
        args += [f"--{name}", str(sample_dir / f"{name}.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "for analysts only" in " ".join(result.output.split())
    exact = gpd.read_file(tmp_path / "run" / "matches.gpkg", layer="children")
    assert not (np.mod(exact.geometry.x, 250.0) == 125.0).any()
    points = _points(sample_dir)
    gpkg_xy = np.column_stack([exact.geometry.x, exact.geometry.y])
    assert len(_found(gpkg_xy, points)) == len(exact)  # exact: every drawn child is there
    shared = _shareable(tmp_path / "run")
    assert {n: ids for n, t in shared.items() if (ids := _found(_pairs(t), points))} == {}
    # `matcher report` re-renders the maps from the exact GeoPackage: still coarse
    (tmp_path / "run" / "map.html").unlink()
    assert runner.invoke(app, ["-q", "report", "--run", str(tmp_path / "run")]).exit_code == 0
    html = (tmp_path / "run" / "map.html").read_text()
    assert len(_pairs(html)) > 1000 and _found(_pairs(html), points) == []


def test_match_history_follows_the_retention_setting(tmp_path: Path) -> None:
    """Rows of runs dated before ``as_of - [job] history_days`` are deleted with the run
    retention; newer ones are kept whatever ``retention_runs`` says."""
    import datetime

    from matcher.io.stores.base import HISTORY_COLUMNS
    from matcher.io.stores.geopackage import GeoPackageStore

    assert config.JobOptions().history_days == 730
    store = GeoPackageStore(tmp_path / "store.gpkg")
    store.connect(create=True)
    store.ensure_schema()
    days = [datetime.date(2024, 1, 1), datetime.date(2025, 6, 1), datetime.date(2026, 1, 2)]
    for i, day in enumerate(days):
        run_id = f"r{i}"
        store.begin_run({"run_id": run_id, "started_at": f"{day}T02:00:00+00:00",
                         "status": "running"})
        history = pd.DataFrame({c: [None, None] for c in HISTORY_COLUMNS}).assign(
            as_of=day.isoformat(), child_id=["C1", "C2"], sibling_group_size=1)
        cutoff = day - datetime.timedelta(days=config.JobOptions().history_days)
        store.finish_run(run_id, {"status": "success"}, keep_runs=1, history=history,
                         history_before=cutoff)
    # 2026-01-02 - 730 days = 2024-01-03: the run of 2024-01-01 is gone, 2025-06-01 kept
    assert store.history().groupby("run_id").size().to_dict() == {"r1": 2, "r2": 2}
    assert store.runs()["run_id"].tolist() == ["r2"]  # run retention: only the newest
