"""``proposals.xlsx``: the proposals of a run as an Excel workbook for caseworkers.

Sheets (names in the language in effect, :data:`SHEETS`): a cover sheet in
words (what the workbook is, run date, counts, the synthetic label where it
applies, a guide to the sheets), the proposals, the children without a
proposal with their reasons, the shortlist, the parts of each shortlisted
score, the support plan, the columns (what each header means, its unit and
its name in the CSV files) and the technical sheet (solver, software,
fingerprints of the inputs).

Headers and values are words in the run's language: codes become names
(:mod:`matcher.vocabulary`, :func:`matcher.languages.name`,
:func:`matcher.waiting.reason_text`), municipality numbers carry their names,
and a column empty in every row is left out. The column sheet
(:data:`matcher.report.columns.COLUMNS`) leads from a header to the stable
English CSV name. The child's id links to the child's brief
(``briefs/<name>.html`` beside the workbook).

Every data sheet has a frozen header row, a filter, wrapped long texts with
row heights to match, number formats (minutes with one decimal) and a print
setup: A4 landscape, fit to the page width, the header row on every page.
Every text cell that a spreadsheet would run as a formula (it begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is made inert with
:func:`matcher.io.files.safe_cells`, as in every CSV output, and is stored as
text.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from matcher import i18n, languages, rules, vocabulary, waiting
from matcher.config import Settings
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.io import files
from matcher.report.briefs import BRIEFS, brief_file_name
from matcher.report.columns import COLUMNS
from matcher.report.common import synthetic_note
from matcher.report.markdown import reason_codes

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__ = [
    "PROPOSAL_COLUMNS",
    "SCORE_COLUMNS",
    "SHEETS",
    "SHORTLIST_COLUMNS",
    "SUPPORT_COLUMNS",
    "UNMATCHED_COLUMNS",
    "WORKBOOK",
    "workbook",
    "write_workbook",
]

WORKBOOK = "proposals.xlsx"
"""File name of the workbook in a run folder."""
SHEETS: dict[str, str] = {
    "cover": N_("cover"), "proposals": N_("proposals"),
    "unmatched": N_("unmatched with reasons"), "shortlist": N_("shortlist"),
    "scores": N_("score parts"), "support": N_("support plan"), "columns": N_("columns"),
    "technical": N_("technical")}
"""Sheet keys (stable) -> sheet names (translated where used), in workbook order."""
PROPOSAL_COLUMNS: tuple[str, ...] = (
    "child_id", "home_id", "urgency", "municipality", "home_municipality", "score",
    "school_minutes", "network_minutes", "parent_minutes", "municipality_match", "kinship",
    "training_needs", "decision", "previous_home_id", "change_reason", "locked", "split",
    "address_protection")
"""Keys of :data:`~matcher.report.columns.COLUMNS` on the proposals sheet (from
``assignments.csv``; ``address_protection`` only when a child has one)."""
UNMATCHED_COLUMNS: tuple[str, ...] = ("child_id", "urgency", "municipality", "days_waiting",
                                      "reason_code", "reason", "address_protection")
"""Columns of the sheet of children without a proposal (``reason_code``: the reason
codes of :data:`matcher.waiting.REASONS`, in words)."""
SHORTLIST_COLUMNS: tuple[str, ...] = (
    "child_id", "rank", "shortlist_home_id", "score", "school_minutes", "network_minutes",
    "parent_minutes", "municipality_relation", "training_needs", "shared_languages",
    "shared_culture", "own_child_gap_years")
"""Columns of the shortlist sheet: what a caseworker compares. The score's parts are on
their own sheet (:data:`SCORE_COLUMNS`); the bands, slacks and rule flags stay in
``shortlist.csv``."""
SCORE_COLUMNS: tuple[str, ...] = (
    "child_id", "rank", "shortlist_home_id", "score", "component:school", "component:network",
    "component:parents", "component:municipality", "component:kinship", "component:language",
    "component:culture")
"""Columns of the score-parts sheet (from ``shortlist.csv``)."""
SUPPORT_COLUMNS: tuple[str, ...] = ("child_id", "home_id", "training_needs",
                                    "training_towards", "resource_id", "resource_minutes")
"""Columns of the support-plan sheet (``resource_*`` only with a resource-family plan)."""

_SOURCES = {"proposals": "assignments.csv", "unmatched": "assignments.csv",
            "shortlist": "shortlist.csv", "scores": "shortlist.csv",
            "support": "assignments.csv"}
"""The run-folder file behind each data sheet (``""``: computed in the workbook)."""
_WIDTHS: dict[str, tuple[int, int]] = {"id": (10, 16), "text": (30, 60), "words": (10, 36),
                                       "minutes": (8, 14), "score": (8, 12),
                                       "count": (6, 12), "years": (8, 14), "flag": (6, 16)}
"""Kind -> (least, most) column width in characters; longer text wraps."""
_FORMATS = {"minutes": "0.0", "score": "0.00", "count": "0", "years": "0.0"}
_LINE_POINTS = 15.0
"""Height of one line of 11-point text, in points (rows of wrapped text grow by it)."""
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_FONT = "Calibri"
"""The body font of a new workbook (openpyxl's default); headers and links use it too."""
_LINK_FONT = Font(name=_FONT, color="0563C1", underline="single")


@dataclasses.dataclass(frozen=True)
class _Sheet:
    """A data sheet: its key, its rows (columns: keys of ``COLUMNS``) and the child links."""

    key: str
    frame: pd.DataFrame
    links: Sequence[str | None]


def workbook(assignments: pd.DataFrame, shortlist: pd.DataFrame, summary: RunSummary,
             *, history: pd.DataFrame | None = None, synthetic: bool = False,
             fictional: bool = True, settings: Settings | None = None,
             resource_families: pd.DataFrame | None = None,
             protected: Collection[str] = (),
             municipality_names: Mapping[str, str] | None = None,
             briefs: Collection[str] = ()) -> bytes:
    """Build ``proposals.xlsx`` from the tables of a run; return its bytes.

    Pure: frames in, bytes out (text in the language in effect).

    Parameters
    ----------
    assignments
        ``assignments.csv`` (:data:`matcher.pipeline.ASSIGNMENT_COLUMNS`).
    shortlist
        ``shortlist.csv``.
    summary
        ``summary.json`` (run date, counts, fingerprints).
    history
        ``history.csv`` (:func:`matcher.waiting.history`): days waiting and the
        reason codes of children without a proposal; ``None`` leaves them out.
    synthetic
        Label the workbook synthetic on its cover sheet and in the page header.
    fictional
        The places are made up too (the fjord); ``False`` where the geography is
        real (:func:`~matcher.report.common.synthetic_note`).
    settings
        For the course offered for each need met after move-in
        (``training_towards``; defaults without it).
    resource_families
        ``home_id, resource_id, minutes`` of a resource-family plan, or ``None``
        (a match run has none; the technical sheet says so).
    protected
        Ids of children with a protected address: their rows say so in an
        ``address_protection`` column (shown only when there are any).
    municipality_names
        Municipality number -> name (:func:`matcher.vocabulary.municipality_names`);
        default the 2024 register.
    briefs
        Ids of the children with a brief in ``briefs/`` beside the workbook:
        their id cells link to it (a relative link).
    """
    settings = settings or Settings()
    names = dict(municipality_names) if municipality_names is not None \
        else vocabulary.municipality_names()
    linked = {str(c) for c in briefs}
    placed = assignments["home_id"].notna().to_numpy()
    hidden = assignments["child_id"].astype(str).isin({str(p) for p in protected}).to_numpy()
    assignments = assignments.assign(address_protection=np.where(
        hidden, _("address protected"), ""))
    proposals = assignments.loc[placed].reset_index(drop=True)
    data = [
        _proposals(proposals, names),
        _unmatched(assignments.loc[~placed].reset_index(drop=True), history,
                   summary.sibling_policy, names),
        _shortlist(shortlist.reset_index(drop=True)),
        _scores(shortlist.reset_index(drop=True)),
        _support(proposals, settings, resource_families),
    ]
    data = [dataclasses.replace(s, frame=_shown(s.frame),
                                links=[_link(c, linked) for c in s.frame["child_id"]])
            for s in data]
    titles = {key: _sheet_name(_(msgid)) for key, msgid in SHEETS.items()}

    wb = Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = titles["cover"]
    banner = synthetic_note({"synthetic": synthetic, "fictional": fictional}) or None
    _fill_pairs(cover, _cover(summary, data, titles, banner=banner), title=True)
    for sheet in data:
        ws = wb.create_sheet(titles[sheet.key])
        _fill(ws, sheet)
    _fill(wb.create_sheet(titles["columns"]), _columns_sheet(data, titles))
    _fill_pairs(wb.create_sheet(titles["technical"]),
                _technical(summary, resource=resource_families is not None), title=False)
    for ws in wb.worksheets:
        _print_setup(ws, banner=banner)
    stamp = datetime.datetime.combine(summary.as_of, datetime.time())
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.title = _("fostermatch proposals")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_workbook(folder: Path, data: bytes) -> Path:
    """Write ``proposals.xlsx`` into ``folder`` atomically, owner-only; return its path."""
    return files.write_bytes(Path(folder) / WORKBOOK, data)


# --------------------------------------------------------------------------- the sheets


def _sheet_name(name: str) -> str:
    return _SHEET_NAME_BAD.sub(" ", name).strip()[:31] or "sheet"


def _link(child_id: object, linked: Collection[str]) -> str | None:
    """The relative link to a child's brief (``briefs/<name>.html``), if it has one."""
    cid = str(child_id)
    return f"{BRIEFS}/{brief_file_name(cid)}.html" if cid in linked else None


def _words(field: str, values: pd.Series) -> list[str]:
    return [vocabulary.cell(field, v) for v in values]


def _flags(values: pd.Series) -> list[str | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v))
            else _("yes") if _truthy(v) else _("no") for v in values]


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _municipalities(values: pd.Series, names: Mapping[str, str]) -> list[str]:
    return [vocabulary.municipality(v, names, number=True) for v in values]


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _text(values: pd.Series) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in values]


def _proposals(rows: pd.DataFrame, names: Mapping[str, str]) -> _Sheet:
    col = rows.get
    out = pd.DataFrame({
        "child_id": _text(rows["child_id"]),
        "home_id": _text(rows["home_id"]),
        "urgency": _words("urgency", rows["urgency"]),
        "municipality": _municipalities(rows["municipality"], names),
        "home_municipality": _municipalities(rows["home_municipality"], names),
        **{c: _numbers(rows[c]) for c in ("score", "school_minutes", "network_minutes",
                                          "parent_minutes")},
        "municipality_match": _flags(rows["municipality_match"]),
        "kinship": _flags(rows["kinship"]),
        "training_needs": _words("need", rows["training_needs"]),
        "decision": _words("decision", col("decision", pd.Series([""] * len(rows)))),
        "previous_home_id": _text(col("previous_home_id", pd.Series([""] * len(rows)))),
        "change_reason": _text(col("change_reason", pd.Series([""] * len(rows)))),
        "locked": _flags(rows["locked"]),
        "split": _flags(rows["split"]),
        "address_protection": _text(rows["address_protection"]),
    }, columns=list(PROPOSAL_COLUMNS))
    return _Sheet("proposals", out, [])


def _unmatched(rows: pd.DataFrame, history: pd.DataFrame | None, sibling_policy: str,
               names: Mapping[str, str]) -> _Sheet:
    codes = reason_codes(history, sibling_policy) if history is not None else {}
    days = (history.set_index("child_id")["days_waiting"] if history is not None
            else pd.Series(dtype=float))
    ids = rows["child_id"].astype(str)
    out = pd.DataFrame({
        "child_id": ids.to_numpy(dtype=object),
        "urgency": _words("urgency", rows["urgency"]),
        "municipality": _municipalities(rows["municipality"], names),
        "days_waiting": _numbers(days.reindex(ids)),
        "reason_code": ["\n".join(waiting.reason_text(c) for c in codes.get(cid, ()))
                        for cid in ids],
        "reason": [r if isinstance(r, str) and r else
                   "; ".join(waiting.reason_text(c) for c in codes.get(cid, ()))
                   for cid, r in zip(ids, rows["reason"], strict=True)],
        "address_protection": _text(rows["address_protection"]),
    }, columns=list(UNMATCHED_COLUMNS))
    return _Sheet("unmatched", out, [])


def _relation(relation: object, pool: object) -> str:
    """Where a home lies seen from the child, in words (with the pool's name)."""
    if not isinstance(relation, str) or not relation:
        return ""
    text = vocabulary.name("relation", relation)
    if relation == "pool" and isinstance(pool, str) and pool:
        text = f"{text} ({vocabulary.pool(pool)})"
    return text


def _shortlist(rows: pd.DataFrame) -> _Sheet:
    get = rows.get
    empty = pd.Series([None] * len(rows), dtype=object)
    out = pd.DataFrame({
        "child_id": _text(rows["child_id"]),
        "rank": _numbers(rows["rank"]),
        "shortlist_home_id": _text(rows["home_id"]),
        **{c: _numbers(get(c, empty)) for c in ("score", "school_minutes", "network_minutes",
                                                "parent_minutes", "own_child_gap_years")},
        "municipality_relation": [_relation(r, p) for r, p in zip(
            get("municipality_relation", empty), get("pool", empty), strict=True)],
        "training_needs": _words("need", get("training_needs", empty)),
        "shared_languages": [", ".join(languages.names(c for c in str(v).split(";") if c))
                             if isinstance(v, str) else ""
                             for v in get("shared_languages", empty)],
        "shared_culture": _words("culture", get("shared_culture", empty)),
    }, columns=list(SHORTLIST_COLUMNS))
    return _Sheet("shortlist", out, [])


def _scores(rows: pd.DataFrame) -> _Sheet:
    empty = pd.Series([None] * len(rows), dtype=object)
    out = pd.DataFrame({
        "child_id": _text(rows["child_id"]),
        "rank": _numbers(rows["rank"]),
        "shortlist_home_id": _text(rows["home_id"]),
        "score": _numbers(rows.get("score", empty)),
        **{key: _numbers(rows.get(COLUMNS[key].csv, empty))
           for key in SCORE_COLUMNS if key.startswith("component:")},
    }, columns=list(SCORE_COLUMNS))
    return _Sheet("scores", out, [])


def _support(proposals: pd.DataFrame, settings: Settings,
             resource_families: pd.DataFrame | None) -> _Sheet:
    family = (resource_families.dropna(subset=["resource_id"]).set_index("home_id")
              if resource_families is not None else None)
    out = []
    for r in proposals.itertuples(index=False):
        needs = [n for n in str(r.training_needs if isinstance(r.training_needs, str) else "")
                 .split(";") if n]
        has_family = family is not None and r.home_id in family.index
        if not needs and not has_family:
            continue
        towards = rules.courses_for(needs, settings.scoring)
        out.append({"child_id": r.child_id, "home_id": r.home_id,
                    "training_needs": ", ".join(vocabulary.names("need", needs)),
                    "training_towards": ", ".join(vocabulary.names("competence", towards)),
                    "resource_id": family.at[r.home_id, "resource_id"]
                    if family is not None and has_family else None,
                    "resource_minutes": float(family.at[r.home_id, "minutes"])
                    if family is not None and has_family else np.nan})
    return _Sheet("support", pd.DataFrame(out, columns=list(SUPPORT_COLUMNS)), [])


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the columns that are empty in every row (all kept without rows)."""
    if not len(frame):
        return frame

    def empty(values: pd.Series) -> bool:
        return all(v is None or (isinstance(v, float) and math.isnan(v)) or v == ""
                   for v in values)

    return frame[[c for c in frame.columns if not empty(frame[c])]]


def _columns_sheet(data: Sequence[_Sheet], titles: Mapping[str, str]) -> _Sheet:
    """One row per column shown on a data sheet: sheet, header, meaning, unit, file, CSV name."""
    rows = []
    for sheet in data:
        for key in sheet.frame.columns:
            c = COLUMNS[key]
            source = _SOURCES[sheet.key] if c.source is None else c.source
            rows.append({"sheet": titles[sheet.key], "header": _(c.header),
                         "meaning": _(c.meaning), "unit": _(c.unit) if c.unit else "",
                         "file": source or _("computed in this workbook"),
                         "csv": c.csv or key})
    return _Sheet("columns", pd.DataFrame(rows, columns=list(_COLUMN_SHEET)), [])


_COLUMN_SHEET: dict[str, tuple[str, int]] = {
    "sheet": (N_("sheet"), 24), "header": (N_("column"), 24), "meaning": (N_("meaning"), 60),
    "unit": (N_("unit"), 10), "file": (N_("file"), 18), "csv": (N_("name in the file"), 24)}
"""The columns of the column sheet: header and width in characters."""


def _cover(summary: RunSummary, data: Sequence[_Sheet], titles: Mapping[str, str], *,
           banner: str | None) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [(_("fostermatch proposals"), "")]
    if banner:
        rows.append((banner, ""))
    rows += [
        (_("what this is"), _("The foster homes the matching engine proposes for the "
                              "children waiting, for the dialogue meeting. The engine "
                              "recommends; people decide.")),
        (_("run date"), i18n.format_date(summary.as_of)),
        (_("children waiting"), summary.children),
        (_("with a proposal"), summary.placed),
        (_("without a proposal"), summary.unmatched),
        (_("foster homes"), summary.homes),
    ]
    if summary.locked:
        rows.append((_("placements decided before"), summary.locked))
    guide = {
        "proposals": _("one row per child with a proposal"),
        "unmatched": _("the children without a proposal, and why"),
        "shortlist": _("the best suitable homes for each child, best first"),
        "scores": _("the parts of each score on the shortlist, from 0 to 1"),
        "support": _("training and support the proposed homes need"),
        "columns": _("what each column means, its unit and its name in the CSV files"),
        "technical": _("solver, software and fingerprints of the input files"),
    }
    rows.append(("", ""))
    rows.append((_("sheets"), ""))
    rows += [(titles[key], text) for key, text in guide.items()
             if key in titles and (key in ("columns", "technical")
                                   or any(s.key == key for s in data))]
    rows.append(("", ""))
    rows.append((_("note"), _("Ids are pseudonymous. A child's id opens the child's brief "
                              "(the folder briefs beside this file).")))
    return rows


def _technical(summary: RunSummary, *, resource: bool) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        (_("language"), i18n.current()),
        (_("solver status"), summary.status),
        (_("software"), summary.software),
        (_("configuration hash"), summary.config_hash),
    ]
    rows += [(_("input {name} (sha256)").format(name=k), v)
             for k, v in summary.inputs_sha256.items()]
    rows.append((_("resource families"), _("from the plan given") if resource
                 else _("not part of this run (see `matcher resource-families`)")))
    rows.append((_("note"), _("The CSV files of the run folder use the English column names "
                              "listed on the column sheet.")))
    return rows


# --------------------------------------------------------------------------- writing cells


def _value(value: object) -> object:
    """A cell value openpyxl stores as data: no NaN, no ``inf``, no illegal characters."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if np.isinf(value):
            return _("unreachable")
        return value
    if isinstance(value, bool | int | datetime.date):
        return value
    if isinstance(value, tuple | list):
        value = ", ".join(str(v) for v in value)
    text = ILLEGAL_CHARACTERS_RE.sub(" ", str(value))
    return text or None


def _inert(ws: Worksheet) -> None:
    """Store every cell as data: never a formula, whatever the text."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _lines(text: str, width: int) -> int:
    """Lines ``text`` takes in a wrapped column ``width`` characters wide (an estimate)."""
    return sum(max(1, math.ceil(len(part) / max(1, width - 1))) for part in text.split("\n"))


def _fill(ws: Worksheet, sheet: _Sheet) -> None:
    """Write a data sheet: headers in words, values, links, widths, wraps and row heights."""
    frame = files.safe_cells(sheet.frame.astype(object).where(sheet.frame.notna(), None)
                             if len(sheet.frame) else sheet.frame)
    keys = [str(c) for c in frame.columns]
    if sheet.key == "columns":
        headers = [_(_COLUMN_SHEET[k][0]) for k in keys]
        kinds = ["text" if k == "meaning" else "words" for k in keys]
        fixed: list[int | None] = [_COLUMN_SHEET[k][1] for k in keys]
    else:
        headers = [_(COLUMNS[k].header) for k in keys]
        kinds = [COLUMNS[k].kind for k in keys]
        fixed = [None] * len(keys)
    ws.append(headers)
    rows = [[_value(v) for v in row] for row in frame.itertuples(index=False)]
    for values in rows:
        ws.append(values)
    widths = []
    for j, kind in enumerate(kinds):
        least, most = _WIDTHS[kind]
        longest = max([len(headers[j]) + 4, *(len(f"{v:.1f}") if isinstance(v, float)
                                              else len(str(v)) + 1 for r in rows
                                              if (v := r[j]) is not None)])
        widths.append(fixed[j] or min(most, max(least, longest)))
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for cell in ws[1]:
        cell.font = Font(name=_FONT, bold=True)
        cell.alignment = wrap
    ws.row_dimensions[1].height = _LINE_POINTS * max(  # bold letters are wider
        _lines(h, int(w * 0.85)) for h, w in zip(headers, widths, strict=True)) \
        if headers else None
    for i, values in enumerate(rows, start=2):
        lines = 1
        for j, cell in enumerate(ws[i]):
            kind = kinds[j]
            value = values[j]
            if isinstance(value, float | int) and not isinstance(value, bool) \
                    and kind in _FORMATS:
                cell.number_format = _FORMATS[kind]
            cell.alignment = wrap if kind in ("text", "words") else top
            if isinstance(value, str) and kind in ("text", "words"):
                lines = max(lines, _lines(value, widths[j]))
        if lines > 1:
            ws.row_dimensions[i].height = _LINE_POINTS * lines
        link = sheet.links[i - 2] if i - 2 < len(sheet.links) else None
        if link and keys and keys[0] == "child_id":
            cell = ws.cell(row=i, column=1)
            cell.hyperlink = link
            cell.font = _LINK_FONT
    _inert(ws)
    ws.freeze_panes = "B2" if keys and keys[0] == "child_id" else "A2"
    if keys:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(1, len(rows) + 1)}"
    ws.print_title_rows = "1:1"


def _fill_pairs(ws: Worksheet, rows: Sequence[tuple[str, object]], *, title: bool) -> None:
    """Write label-value rows (the cover and technical sheets): labels bold, values wrapped."""
    safe = files.safe_cells(pd.DataFrame(rows, columns=["label", "value"], dtype=object))
    widths = (32, 90)
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, (label, value) in enumerate(safe.itertuples(index=False), start=1):
        ws.append([_value(label), _value(value)])
        ws.cell(row=i, column=1).font = Font(name=_FONT, bold=True)
        for cell in ws[i]:
            cell.alignment = wrap
        text = max((_lines(str(v), w) for v, w in zip((label, value), widths, strict=True)
                    if isinstance(v, str)), default=1)
        if text > 1:
            ws.row_dimensions[i].height = _LINE_POINTS * text
    if title and ws.max_row:
        ws["A1"].font = Font(name=_FONT, bold=True, size=14)
    _inert(ws)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def _print_setup(ws: Worksheet, *, banner: str | None) -> None:
    """A4 landscape, fit to the page width (as many pages down as needed), page numbers."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.gridLines = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.oddHeader.left.text = ws.title
    if banner:
        ws.oddHeader.right.text = banner
    ws.oddFooter.center.text = _("page &P of &N")
