"""Tests for matcher.report.briefs: a brief per child, its content, privacy and print layout."""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import Sample, chromium_driver
from tiny_run import SCHOOL_MINUTES, tiny_run

from matcher import i18n, pipeline, vocabulary
from matcher.config import ScoringSettings
from matcher.report import briefs

A4_PX_AT_96_DPI = 1123


@pytest.fixture(scope="module")
def nb_run(small_sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic sample matched and written with the report, in bokmål."""
    with i18n.language("nb"):
        result = pipeline.run(small_sample.inputs, small_sample.settings, net=small_sample.net,
                              as_of=small_sample.as_of)
        return pipeline.write_run(result, tmp_path_factory.mktemp("briefs") / "run",
                                  report=True, settings=small_sample.settings,
                                  municipalities=small_sample.areas)


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def test_every_child_has_a_brief_owner_only(nb_run: Path) -> None:
    ids = list(_csv(nb_run, "assignments.csv")["child_id"])
    folder = nb_run / "briefs"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{c}.md" for c in ids] + [f"{c}.html" for c in ids])
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    page = (folder / f"{ids[0]}.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="nb">' in page
    assert "@page" in page and "A4" in page


def test_html_loads_nothing_from_outside(nb_run: Path) -> None:
    for path in (nb_run / "briefs").glob("*.html"):
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(?:src|href)\s*=", page, flags=re.IGNORECASE), path.name
        assert "@import" not in page and "url(" not in page, path.name
        assert "<script" not in page.lower(), path.name


def test_proposed_home_next_best_minutes_and_training(nb_run: Path) -> None:
    a = _csv(nb_run, "assignments.csv")
    short = _csv(nb_run, "shortlist.csv")
    placed = a[(a["home_id"] != "") & (a["training_needs"] != "") & (a["locked"] == "False")
               & (a["school_minutes"] != "")]
    assert len(placed)
    for r in placed.itertuples():
        text = (nb_run / "briefs" / f"{r.child_id}.md").read_text(encoding="utf-8")
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        proposed = next(line for line in rows if f"| {r.home_id} |" in line)
        minutes = float(r.school_minutes)
        assert f"| {round(minutes)} min |" in proposed, (proposed, minutes)
        others = [h for h in short.loc[short["child_id"] == r.child_id, "home_id"]
                  if h != r.home_id]
        for home in others:
            assert f"| {home} |" in text, (r.child_id, home)
        needs = r.training_needs.split(";")
        for need in needs:  # issue 21: the course offered after the move, per need
            course = ScoringSettings().course_for(need)
            with i18n.language("nb"):
                label = vocabulary.name("need", need)
                course_label = vocabulary.name("competence", str(course))
            assert re.search(rf"\| {re.escape(label)} \| kurs etter flytting \| "
                             rf"{re.escape(course_label)} \|", text), need
        courses = [c for c in ScoringSettings().courses
                   if c in {ScoringSettings().course_for(n) for n in needs}]
        with i18n.language("nb"):
            labels = vocabulary.names("need", needs)
            courses = vocabulary.names("competence", courses)
        assert (f"Kurs: tilby {r.home_id} {', '.join(courses)} etter flyttingen (for "
                f"{', '.join(labels)}).") in text
        assert "Ressursfamilie: ikke med i denne kjøringen" in text
        assert "Avlastning" in text


def test_unmatched_brief_gives_the_reason_and_near_homes(nb_run: Path) -> None:
    a = _csv(nb_run, "assignments.csv")
    pairs = _csv(nb_run, "pairs.csv")
    feasible = set(zip(pairs["child_id"], pairs["home_id"], strict=True))
    unmatched = a[a["home_id"] == ""]
    assert len(unmatched) == 7  # 11 before courses became support after move-in (issue 21)
    near_checked = 0
    for r in unmatched.itertuples():
        text = (nb_run / "briefs" / f"{r.child_id}.md").read_text(encoding="utf-8")
        assert "## Ingen forslag i denne kjøringen" in text
        assert "## Hva som kan endre det" in text
        has_pairs = any(c == r.child_id for c, _h in feasible)
        section = text.split("## Hva som kan endre det", 1)[1].split("\n## ", 1)[0]
        homes = re.findall(r"\| (H\d{5}) \|", section)
        if not homes:  # a sibling group kept together that no home can take whole
            assert "Ingen hjem kan ta hele søskenflokken (3 barn)" in section, r.child_id
            continue
        if has_pairs:  # homes qualify: they are the child's feasible homes
            assert all((r.child_id, h) in feasible for h in homes)
        else:  # no home qualifies: the closest homes and what each lacks
            assert all((r.child_id, h) not in feasible for h in homes)
            lacks = re.findall(r"^\| H\d+ \| [^|]+ \| [^|]+ \| (.+) \|$", section,
                               flags=re.MULTILINE)
            assert len(lacks) == len(homes) and all(x.strip() for x in lacks)
            near_checked += 1
    # 6 with free-flow minutes; 3 once courses became support (issue 21); one more since
    # issue 20's delays lengthen the minutes
    assert near_checked == 4


def test_qualifying_homes_of_a_child_left_out() -> None:
    """Tiny run: C3 (longest wait) takes H1, C2 takes H2; C1 qualifies for both, both full."""
    result = tiny_run()
    unmatched = result.assignments.loc[result.assignments["home_id"].isna(), "child_id"]
    assert list(unmatched) == ["C1"]
    text = {b.child_id: b.markdown for b in briefs.build_briefs(result)}["C1"]
    section = text.split("## What would change it", 1)[1]
    assert "2 homes qualify, but none has a place" in section
    # both homes went to the other two children: their status says so, without their ids
    assert (f"| qualifies 1 | H1 | proposed to another child | {SCHOOL_MINUTES[0, 0]:.0f} "
            "min |") in section
    assert (f"| qualifies 2 | H2 | proposed to another child | {SCHOOL_MINUTES[1, 0]:.0f} "
            "min |") in section
    assert "C2" not in section and "C3" not in section
    assert "sibling group" not in text  # C1 has no siblings


def test_near_homes_and_what_they_lack() -> None:
    """Tiny run, C3 aged 19: no home qualifies; H1 lacks the age only, H2 also the school,
    so only H1 (one thing missing) is listed."""
    result = tiny_run(ages=(10, 11, 19))
    text = {b.child_id: b.markdown for b in briefs.build_briefs(result)}["C3"]
    section = text.split("## What would change it", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| H")]
    # hand-computed: H1 30 min (limit 45) fails age only; H2 50 min fails age and school
    assert rows == ["| H1 | Bergen | 30 min | approved for ages 0 to 17, the child is 19 |"]
    assert "no home is approved for the child's age" in text


def test_near_homes_name_the_current_home_that_does_not_keep_the_child() -> None:
    """Tiny run: C3 (12) lives in H1, which does not keep it; H2 takes ages up to 11."""
    result = tiny_run(max_ages=(17, 11), current_homes=(None, None, "H1"))
    assert pd.isna(result.assignments.set_index("child_id").at["C3", "home_id"])
    text = {b.child_id: b.markdown for b in briefs.build_briefs(result)}["C3"]
    section = text.split("## What would change it", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| H")]
    assert rows == [
        "| H1 | Bergen | 30 min | C3 lives in H1 now, and the home has not said it keeps the "
        "child |"]


def test_html_escapes_hostile_ids() -> None:
    result = tiny_run(("<b>C1</b>", "C2&amp;", "C3"), ("<script>x()</script>", "H2"))
    built = {b.child_id: b for b in briefs.build_briefs(result)}
    for b in built.values():
        assert "<script>" not in b.html and "<b>C1" not in b.html
    assert "&lt;script&gt;x()&lt;/script&gt;" in "".join(b.html for b in built.values())
    assert briefs.brief_file_name("<b>C1</b>").startswith("_b_C1__b_-")
    assert briefs.brief_file_name("../x") != briefs.brief_file_name("_/x")
    assert "/" not in briefs.brief_file_name("../x")
    assert briefs.brief_file_name("C0001") == "C0001"


def _coordinates(small_sample: Sample) -> list[float]:
    values = []
    for table, cols in (("children", ("lon", "lat", "school_lon", "school_lat")),
                        ("homes", ("lon", "lat")), ("contacts", ("lon", "lat"))):
        frame = getattr(small_sample.inputs, table)
        for col in cols:
            values += [float(v) for v in frame[col].dropna()]
    return values


def test_briefs_hold_no_coordinates_and_no_names(nb_run: Path, small_sample: Sample) -> None:
    coords = _coordinates(small_sample)
    points = gpd.GeoSeries(gpd.points_from_xy(small_sample.inputs.homes["lon"],
                                              small_sample.inputs.homes["lat"]),
                           crs="EPSG:4326").to_crs("EPSG:25833")
    utm = [*points.x, *points.y]
    texts = {p.name: p.read_text(encoding="utf-8") for p in (nb_run / "briefs").iterdir()}
    for name, text in texts.items():
        body = re.sub(r"<style>.*?</style>", "", text, flags=re.DOTALL)
        numbers = [float(n.replace(",", ".")) for n in re.findall(r"\d+[.,]\d+", body)]
        # the largest decimal number in a brief is a score (<= 1) or minutes; never a degree
        for x in numbers:
            assert not any(abs(x - c) < 1e-3 for c in coords), (name, x)
        assert not re.search(r"\d+[.,]\d{4,}", body), name
        for x in (int(n) for n in re.findall(r"(?<![\w.,])\d{6,7}(?![\w.,])", body)):
            assert not any(abs(x - u) < 2 for u in utm), (name, x)


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_brief_renders_and_prints_on_two_a4_pages(nb_run: Path, tmp_path: Path) -> None:
    """Render briefs and map.html (nb) in headless Chromium; screenshots to SCREENSHOT_DIR."""
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    a = _csv(nb_run, "assignments.csv")
    # the placed child with the most shortlisted homes and a training need, and the
    # unmatched child with the longest brief: the two that need the most paper
    placed = a[(a["home_id"] != "") & (a["training_needs"] != "")]["child_id"].iloc[0]
    unmatched = max(a.loc[a["home_id"] == "", "child_id"],
                    key=lambda c: len((nb_run / "briefs" / f"{c}.html").read_text()))
    driver = chromium_driver("1000,1400")
    try:
        for child in (placed, unmatched):
            driver.get((nb_run / "briefs" / f"{child}.html").as_uri())
            title = driver.find_element("css selector", "h1").text
            assert title == f"Notat til dialogmøtet: barn {child}", title
            assert driver.execute_script("return document.documentElement.lang") == "nb"
            assert driver.find_elements("css selector", "table"), child
            pdf = base64.b64decode(driver.execute_cdp_cmd(
                "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})["data"])
            pages = _pdf_pages(pdf)
            assert 1 <= pages <= 2, (child, pages)
            (shots / f"brief-{child}-nb.pdf").write_bytes(pdf)
            driver.save_screenshot(str(shots / f"brief-{child}-nb.png"))
            log = driver.get_log("browser")
            assert [e for e in log if e["level"] == "SEVERE"] == [], log
        # the printed height: at most two A4 pages at 96 dpi, for the screen layout too
        height = driver.execute_script("return document.documentElement.scrollHeight")
        assert height <= 2 * A4_PX_AT_96_DPI, height
        driver.set_window_size(1280, 900)
        driver.get((nb_run / "map.html").as_uri())
        assert driver.find_elements("css selector", ".leaflet-container")
        for label in driver.find_elements("css selector",
                                          ".leaflet-control-layers-overlays label"):
            if label.text.strip() == "forslag":  # the proposal lines start switched off
                label.click()
        assert len(driver.find_elements("css selector", "path.fm-match")) == int(
            (a["home_id"] != "").sum())
        driver.save_screenshot(str(shots / "map-nb.png"))
    finally:
        driver.quit()
        shutil.rmtree(driver._fm_profile, ignore_errors=True)
    assert (shots / "map-nb.png").stat().st_size > 10_000
    assert np.all([(shots / f"brief-{c}-nb.png").stat().st_size > 5_000
                   for c in (placed, unmatched)])


def test_resource_family_plan_when_given(tmp_path: Path) -> None:
    """With a resource-family plan (planning.support_plan), briefs and workbook show it."""
    import openpyxl

    from matcher.report import workbook

    result = tiny_run()
    plan = pd.DataFrame({"home_id": ["H1", "H2"], "cooperation": ["x", "x"],
                         "resource_id": ["R7", None], "minutes": [12.4, np.nan],
                         "reason": ["", "no family within reach"]})
    built = {b.child_id: b.markdown for b in briefs.build_briefs(result,
                                                                 resource_families=plan)}
    home_of = result.assignments.set_index("child_id")["home_id"]
    by_home = {home_of[c]: text for c, text in built.items() if isinstance(home_of[c], str)}
    assert "Resource family: R7, 12 min from H1." in by_home["H1"]
    assert "Resource family: H2 has none in the plan." in by_home["H2"]
    path = tmp_path / "wb.xlsx"
    path.write_bytes(workbook.workbook(result.assignments, result.shortlist, result.summary,
                                       history=result.history, resource_families=plan))
    ws = openpyxl.load_workbook(path)["support plan"]
    rows = list(ws.values)
    # no training in the tiny run: those columns are left out
    assert rows[0] == ("child", "proposed home", "resource family", "to the resource family")
    assert rows[1:] == [(c, "H1", "R7", 12.4) for c in home_of.index if home_of[c] == "H1"]


@pytest.mark.parametrize("child_id", ["CON", "nul", "NUL.txt", "Com1", "lpt9.md", "aux.",
                                      "-C8", "--x", "-"])
def test_brief_file_names_are_safe_on_windows_and_in_shells(child_id: str) -> None:
    # issue 24: CON.html / NUL.txt.html are reserved on Windows; '-C8.html' reads as an option
    name = briefs.brief_file_name(child_id)
    assert not name.startswith(("-", "."))
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT9"}
    assert name != briefs.brief_file_name(child_id + "x")
    assert briefs.brief_file_name("console") == "console"  # only the exact device names


def test_child_c0016_gets_a_proposal_with_a_course_plan(nb_run: Path) -> None:
    """Issue 21: C0016 (trauma, behaviour) had no proposal because none of the 13 homes
    within 45 minutes of its school held TBO-F; a course after move-in now meets behaviour."""
    a = _csv(nb_run, "assignments.csv").set_index("child_id")
    home = a.loc["C0016", "home_id"]
    assert home != "" and a.loc["C0016", "training_needs"] == "behaviour"
    text = (nb_run / "briefs" / "C0016.md").read_text(encoding="utf-8")
    assert f"Kurs: tilby {home} EFST etter flyttingen (for atferdsvansker)." in text


def _text_objects(pdf: bytes) -> int:
    """Text objects (``BT`` operators) in the compressed content streams of a PDF."""
    import zlib

    n = 0
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            n += len(re.findall(rb"\bBT\b", zlib.decompress(m.group(1))))
        except zlib.error:
            continue
    return n


def test_every_printed_page_carries_the_run_and_the_page(nb_run: Path, tmp_path: Path) -> None:
    """The footer (@page margin boxes: child, run, configuration; page N of M) prints: the
    same brief without it prints with fewer text objects, two fewer per page at least."""
    ids = list(_csv(nb_run, "assignments.csv")["child_id"])
    page = (nb_run / "briefs" / f"{ids[0]}.html").read_text(encoding="utf-8")
    assert "@bottom-left" in page and "counter(page)" in page and "counter(pages)" in page
    assert f"Barn {ids[0]}; fostermatch-kjøring" in page
    bare = re.sub(r"@page \{ @bottom-left.*?counter\(pages\);[^}]*\} \}", "", page,
                  flags=re.DOTALL)
    assert bare != page
    (tmp_path / "with.html").write_text(page, encoding="utf-8")
    (tmp_path / "without.html").write_text(bare, encoding="utf-8")
    driver = chromium_driver("1000,1400")
    try:
        printed = {}
        for name in ("with", "without"):
            driver.get((tmp_path / f"{name}.html").as_uri())
            printed[name] = base64.b64decode(driver.print_page())
    finally:
        driver.quit()
        shutil.rmtree(driver._fm_profile, ignore_errors=True)
    pages = _pdf_pages(printed["with"])
    assert pages == _pdf_pages(printed["without"])
    assert _text_objects(printed["with"]) - _text_objects(printed["without"]) >= 2 * pages
