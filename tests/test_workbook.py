"""Tests for matcher.report.workbook: proposals.xlsx read back with openpyxl.

The expected sheet names, headers and words are written by hand in each
language; the CSV files of the run folder are the independent record the
workbook must agree with.
"""

from __future__ import annotations

import math
import re
import stat
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import Sample
from openpyxl.worksheet.worksheet import Worksheet
from tiny_run import tiny_run

from matcher import i18n, pipeline, vocabulary, waiting
from matcher.report import workbook

SHEET_KEYS = ("cover", "proposals", "unmatched", "shortlist", "scores", "support", "columns",
              "technical")
DATA_SHEETS = ("proposals", "unmatched", "shortlist", "scores", "support")
SHEET_NAMES = {
    "en": ["cover", "proposals", "unmatched with reasons", "shortlist", "score parts",
           "support plan", "columns", "technical"],
    "nb": ["forside", "forslag", "uten forslag, med grunner", "kortliste", "poengdeler",
           "støtteplan", "kolonner", "teknisk"],
    "nn": ["framside", "forslag", "utan forslag, med grunnar", "kortliste", "poengdelar",
           "støtteplan", "kolonnar", "teknisk"],
}
# The headers of the small sample's sheets (columns empty in every row left out).
HEADERS = {
    "nb": {
        "proposals": ["barn", "foreslått hjem", "hastegrad", "barnets kommune",
                      "hjemmets kommune", "poeng", "til skolen", "til familie og venner",
                      "til foreldrene", "egen kommune", "familie og nettverk",
                      "opplæring trengs", "bestemt fra før", "søsken skilt"],
        "unmatched": ["barn", "hastegrad", "barnets kommune", "ventetid (dager)", "hovedgrunn",
                      "hvorfor intet forslag"],
        "shortlist": ["barn", "rang", "hjem", "poeng", "til skolen", "til familie og venner",
                      "til foreldrene", "hvor hjemmet ligger", "opplæring trengs",
                      "felles språk", "felles kultur", "aldersforskjell til egne barn"],
        "scores": ["barn", "rang", "hjem", "poeng", "skole", "familie og venner", "foreldre",
                   "kommune", "familie og nettverk", "språk", "kultur"],
        "support": ["barn", "foreslått hjem", "opplæring trengs", "kurs"],
    },
    "nn": {
        "proposals": ["barn", "føreslått heim", "hastegrad", "kommunen til barnet",
                      "kommunen til heimen", "poeng", "til skulen", "til familie og vener",
                      "til foreldra", "eigen kommune", "familie og nettverk",
                      "opplæring trengst", "bestemt frå før", "sysken skilde"],
        "unmatched": ["barn", "hastegrad", "kommunen til barnet", "ventetid (dagar)",
                      "hovudgrunn", "kvifor ikkje noko forslag"],
        "shortlist": ["barn", "rang", "heim", "poeng", "til skulen", "til familie og vener",
                      "til foreldra", "kvar heimen ligg", "opplæring trengst", "felles språk",
                      "felles kultur", "aldersskilnad til eigne barn"],
        "scores": ["barn", "rang", "heim", "poeng", "skule", "familie og vener", "foreldre",
                   "kommune", "familie og nettverk", "språk", "kultur"],
        "support": ["barn", "føreslått heim", "opplæring trengst", "kurs"],
    },
}
# Code words that are also ordinary words of the language (a municipality is a "kommune").
HOSTILE_HOMES = ('=HYPERLINK("http://example.invalid","click")', "@SUM(A1)")
HOSTILE_CHILDREN = ("+C1", "-C2", "=C3")


def _write(sample: Sample, lang: str, folder: Path) -> Path:
    with i18n.language(lang):
        result = pipeline.run(sample.inputs, sample.settings, net=sample.net,
                              as_of=sample.as_of)
        return pipeline.write_run(result, folder, report=True, settings=sample.settings,
                                  municipalities=sample.areas)


@pytest.fixture(scope="module")
def sample_run(small_sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic sample matched and written with the report (English)."""
    return _write(small_sample, "en", tmp_path_factory.mktemp("wb") / "run")


@pytest.fixture(scope="module", params=["nb", "nn"])
def norwegian_run(request: pytest.FixtureRequest, small_sample: Sample,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    lang = str(request.param)
    return lang, _write(small_sample, lang, tmp_path_factory.mktemp(f"wb-{lang}") / "run")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run whose ids a spreadsheet would read as formulas (real municipality: 4601)."""
    result = tiny_run(HOSTILE_CHILDREN, HOSTILE_HOMES)
    return pipeline.write_run(result, tmp_path_factory.mktemp("hostile") / "run", report=True)


def _sheets(path: Path) -> dict[str, Worksheet]:
    wb = openpyxl.load_workbook(path)
    return dict(zip(SHEET_KEYS, wb.worksheets, strict=True))


def _rows(ws: Worksheet) -> pd.DataFrame:
    values = list(ws.values)
    return pd.DataFrame(values[1:], columns=values[0])


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def test_sheets_exist_with_readable_names(sample_run: Path) -> None:
    wb = openpyxl.load_workbook(sample_run / "proposals.xlsx")
    assert wb.sheetnames == SHEET_NAMES["en"]
    assert stat.S_IMODE((sample_run / "proposals.xlsx").stat().st_mode) == 0o600
    sheets = _sheets(sample_run / "proposals.xlsx")
    for key in (*DATA_SHEETS, "columns"):
        ws = sheets[key]
        assert ws.freeze_panes in ("A2", "B2"), ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        for letter, dim in ws.column_dimensions.items():
            assert 6 <= dim.width <= 62, (ws.title, letter, dim.width)


def test_headers_are_the_words_of_the_language(norwegian_run: tuple[str, Path]) -> None:
    lang, folder = norwegian_run
    assert openpyxl.load_workbook(folder / "proposals.xlsx").sheetnames == SHEET_NAMES[lang]
    sheets = _sheets(folder / "proposals.xlsx")
    for key, expected in HEADERS[lang].items():
        assert [c.value for c in sheets[key][1]] == expected, (lang, key)


def test_column_sheet_leads_to_every_csv_name(norwegian_run: tuple[str, Path]) -> None:
    lang, folder = norwegian_run
    sheets = _sheets(folder / "proposals.xlsx")
    listed = _rows(sheets["columns"])
    assert list(listed.columns) == {"nb": ["ark", "kolonne", "betydning", "enhet", "fil",
                                           "navn i fila"],
                                    "nn": ["ark", "kolonne", "tyding", "eining", "fil",
                                           "namn i fila"]}[lang]
    sheet_col, header_col, meaning_col, _unit, file_col, csv_col = listed.columns
    files = {name: set(_csv(folder, name).columns)
             for name in ("assignments.csv", "shortlist.csv", "history.csv")}
    for key in DATA_SHEETS:
        ws = sheets[key]
        rows = listed[listed[sheet_col] == ws.title]
        assert list(rows[header_col]) == [c.value for c in ws[1]], ws.title
        assert rows[meaning_col].str.len().min() > 10
        for file, csv in zip(rows[file_col], rows[csv_col], strict=True):
            if file in files:  # computed columns name no file of the run folder
                assert csv in files[file], (ws.title, file, csv)
    # spot checks, by hand
    proposals = listed[listed[sheet_col] == sheets["proposals"].title].set_index(header_col)
    assert proposals.loc[HEADERS[lang]["proposals"][6], csv_col] == "school_minutes"
    assert proposals.loc[HEADERS[lang]["proposals"][6], "enhet" if lang == "nb"
                         else "eining"] == {"nb": "minutter", "nn": "minutt"}[lang]
    unmatched = listed[listed[sheet_col] == sheets["unmatched"].title].set_index(header_col)
    assert tuple(unmatched.loc[HEADERS[lang]["unmatched"][4], [file_col, csv_col]]) == (
        "history.csv", "binding")


def test_no_column_is_empty_in_every_row(sample_run: Path, hostile_run: Path) -> None:
    for folder in (sample_run, hostile_run):
        sheets = _sheets(folder / "proposals.xlsx")
        for key in DATA_SHEETS:
            frame = _rows(sheets[key])
            if not len(frame):
                continue
            for column in frame.columns:
                assert frame[column].notna().any(), (folder.name, key, column)


def test_proposal_rows_match_assignments_csv(sample_run: Path) -> None:
    placed = _csv(sample_run, "assignments.csv")
    placed = placed[placed["home_id"] != ""].reset_index(drop=True)
    sheet = _rows(_sheets(sample_run / "proposals.xlsx")["proposals"])
    assert len(sheet) == len(placed) == 53  # 49 before courses became support (issue 21)
    assert list(sheet["child"]) == list(placed["child_id"])
    assert list(sheet["proposed home"]) == list(placed["home_id"])
    for col, csv in (("score", "score"), ("to school", "school_minutes")):
        for got, want in zip(sheet[col], placed[csv], strict=True):
            if want == "":
                assert got is None or pd.isna(got)
            else:
                assert math.isclose(float(got), float(want), rel_tol=1e-12), (col, got, want)
    # the fjord's municipalities by their own names, with the number people search by
    names = {"4691": "Grannes (syntetisk)", "4692": "Strandseter (syntetisk)",
             "4693": "Haugnes (syntetisk)", "4694": "Furuheim (syntetisk)"}
    for cell, code in zip(sheet["child's municipality"], placed["municipality"], strict=True):
        assert cell.startswith(names[code]) and cell.endswith(f" ({code})"), (cell, code)
    assert set(sheet["own municipality"]) <= {"yes", "no"}
    assert set(sheet["urgency"]) == {"acute", "planned"}
    needs = {"trauma", "behavioural difficulties", "attachment difficulties", "disability",
             "teenager", "substance use"}
    for cell in sheet["training needed"].dropna():
        assert set(cell.split(", ")) <= needs, cell


def test_minutes_have_a_number_format(sample_run: Path) -> None:
    ws = _sheets(sample_run / "proposals.xlsx")["proposals"]
    col = [c.value for c in ws[1]].index("to school") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
    numbers = [c for c in cells if isinstance(c.value, float)]
    assert numbers and all(c.number_format == "0.0" for c in numbers)


def test_unmatched_sheet_has_reasons_in_words(sample_run: Path) -> None:
    unmatched = _csv(sample_run, "assignments.csv")
    unmatched = unmatched[unmatched["home_id"] == ""]
    sheet = _rows(_sheets(sample_run / "proposals.xlsx")["unmatched"])
    assert list(sheet["child"]) == list(unmatched["child_id"])
    assert list(sheet["why no proposal"]) == list(unmatched["reason"])
    binding = _csv(sample_run, "history.csv").set_index("child_id")["binding"]
    for cid, text in zip(sheet["child"], sheet["main reason"], strict=True):
        codes = set(binding[cid].split(";"))
        # the sample runs sibling groups together: competition of a group -> siblings
        if codes == {"competition"} and text == waiting.REASONS["siblings"]:
            continue
        assert set(text.split("\n")) == {waiting.REASONS[c] for c in codes}, (cid, text)


def test_long_texts_wrap_with_row_heights(sample_run: Path) -> None:
    ws = _sheets(sample_run / "proposals.xlsx")["unmatched"]
    col = [c.value for c in ws[1]].index("why no proposal") + 1
    letter = openpyxl.utils.get_column_letter(col)
    width = ws.column_dimensions[letter].width
    assert 30 <= width <= 60
    long_rows = 0
    for r in range(2, ws.max_row + 1):
        cell = ws.cell(row=r, column=col)
        assert cell.alignment.wrap_text, cell.coordinate
        if isinstance(cell.value, str) and len(cell.value) > 2 * width:
            long_rows += 1
            assert ws.row_dimensions[r].height >= 3 * 15, (r, len(cell.value))
    assert long_rows  # the sample has reasons of several lines


def test_print_setup(sample_run: Path) -> None:
    for key, ws in _sheets(sample_run / "proposals.xlsx").items():
        assert ws.page_setup.orientation == "landscape", key
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, key
        assert ws.sheet_properties.pageSetUpPr.fitToPage, key
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4), key
        if key in (*DATA_SHEETS, "columns"):
            assert ws.print_title_rows == "$1:$1", (key, ws.print_title_rows)


def test_child_ids_link_to_briefs_that_exist(sample_run: Path, hostile_run: Path) -> None:
    for folder in (sample_run, hostile_run):
        sheets = _sheets(folder / "proposals.xlsx")
        linked = 0
        for key in DATA_SHEETS:
            ws = sheets[key]
            for r in range(2, ws.max_row + 1):
                cell = ws.cell(row=r, column=1)
                assert cell.hyperlink is not None, (folder.name, key, r)
                target = cell.hyperlink.target
                assert target and not target.startswith(("/", "file:")), target
                assert (folder / target).is_file(), target
                assert (folder / target).read_text(encoding="utf-8").count(
                    str(cell.value).lstrip("'")), target
                linked += 1
        assert linked


def test_no_code_words_in_any_cell(norwegian_run: tuple[str, Path]) -> None:
    lang, folder = norwegian_run
    with i18n.language(lang):
        codes = vocabulary.code_words()
    sheets = _sheets(folder / "proposals.xlsx")
    found = []
    for key in ("cover", *DATA_SHEETS):
        for row in sheets[key].iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    words = set(re.findall(r"[\w-]+", cell.value))
                    found += [(key, cell.coordinate, w) for w in words & codes]
    assert found == []


def test_cover_sheet_in_words(sample_run: Path, hostile_run: Path) -> None:
    sheets = _sheets(sample_run / "proposals.xlsx")
    cover = [str(c) for row in sheets["cover"].values for c in row if c is not None]
    assert "SYNTHETIC data: fictional places, no real people" in cover
    assert "1 November 2026" in cover
    summary = pd.read_json(sample_run / "summary.json", typ="series")
    assert summary["children"] in [c.value for c in sheets["cover"]["B"]]
    technical = [str(c) for row in sheets["technical"].values for c in row if c is not None]
    for digest in summary["inputs_sha256"].values():
        assert digest in technical and digest not in cover
    assert not [c for c in cover if "`" in c or "sha256" in c]  # no commands, no hashes
    assert any("`matcher resource-families`" in c for c in technical)
    real = [str(c) for row in _sheets(hostile_run / "proposals.xlsx")["cover"].values
            for c in row if c is not None]
    assert not [c for c in real if "SYNTHETIC" in c]


def test_formula_injection_is_inert(hostile_run: Path) -> None:
    wb = openpyxl.load_workbook(hostile_run / "proposals.xlsx")
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    for hostile in (*HOSTILE_HOMES, *HOSTILE_CHILDREN):
        assert "'" + hostile in texts, hostile
        assert hostile not in texts, hostile
    # the CSV files read back keep the ids exactly: escaping is for display (issue 24)
    csv = pd.read_csv(hostile_run / "assignments.csv", dtype=str, keep_default_na=False)
    assert set(csv["child_id"]) == set(HOSTILE_CHILDREN)


def test_sheet_names_follow_the_language(tmp_path: Path) -> None:
    result = tiny_run()
    for lang in ("nb", "nn", "en"):
        with i18n.language(lang):
            data = workbook.workbook(result.assignments, result.shortlist, result.summary,
                                     history=result.history)
        path = tmp_path / f"{lang}.xlsx"
        path.write_bytes(data)
        assert openpyxl.load_workbook(path).sheetnames == SHEET_NAMES[lang]


def test_protected_address_column_only_when_needed(tmp_path: Path) -> None:
    result = tiny_run()
    path = tmp_path / "wb.xlsx"
    path.write_bytes(workbook.workbook(result.assignments, result.shortlist, result.summary,
                                       history=result.history, protected={"C2"}))
    sheets = _sheets(path)
    proposals = _rows(sheets["proposals"]).set_index("child")
    assert proposals.loc["C2", "address protection"] == "address protected"
    assert pd.isna(proposals.loc["C3", "address protection"])
    path.write_bytes(workbook.workbook(result.assignments, result.shortlist, result.summary,
                                       history=result.history))
    assert "address protection" not in [c.value for c in _sheets(path)["proposals"][1]]
