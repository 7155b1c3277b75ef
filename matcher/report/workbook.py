"""``proposals.xlsx``: the proposals of a run as an Excel workbook for caseworkers.

Sheets (names in the language in effect): a cover sheet (run date, data
status, input fingerprints and the SYNTHETIC label where it applies), the
proposals (the placed rows of ``assignments.csv``), the children without a
proposal with their reasons, the shortlist and the support plan.

Column headers are the stable English column names of the CSV files; every
sheet has a frozen header row, a filter, readable column widths and number
formats (minutes with one decimal). Every text cell that a spreadsheet would
run as a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) is made inert with :func:`matcher.io.files.safe_cells`, as in
every CSV output, and is stored as text.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from matcher import i18n, rules
from matcher.config import Settings
from matcher.i18n import N_
from matcher.i18n import gettext as _
from matcher.io import files
from matcher.report.common import SYNTHETIC_NOTE
from matcher.report.markdown import reason_codes, reason_text

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__ = [
    "SHEETS",
    "SUPPORT_COLUMNS",
    "UNMATCHED_COLUMNS",
    "WORKBOOK",
    "workbook",
    "write_workbook",
]

WORKBOOK = "proposals.xlsx"
"""File name of the workbook in a run folder."""
SHEETS: dict[str, str] = {"cover": N_("cover"), "proposals": N_("proposals"),
                          "unmatched": N_("unmatched with reasons"),
                          "shortlist": N_("shortlist"), "support": N_("support plan")}
"""Sheet keys (stable) -> sheet names (translated where used), in workbook order."""
UNMATCHED_COLUMNS: tuple[str, ...] = ("child_id", "urgency", "municipality", "days_waiting",
                                      "reason_code", "reason")
"""Columns of the sheet of children without a proposal (``reason_code``: ``;``-joined
codes of :data:`matcher.report.markdown.REASONS`)."""
SUPPORT_COLUMNS: tuple[str, ...] = ("child_id", "home_id", "training_needs",
                                    "training_towards", "resource_id", "resource_minutes")
"""Columns of the support-plan sheet (``resource_*`` empty without a resource-family plan)."""

_MIN_WIDTH, _MAX_WIDTH = 8, 60
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_SCORE_COLUMNS = frozenset({"score", "school", "network", "parents", "municipality_score",
                            "kinship_score", "language", "culture"})


def workbook(assignments: pd.DataFrame, shortlist: pd.DataFrame, summary: RunSummary,
             *, history: pd.DataFrame | None = None, synthetic: bool = False,
             settings: Settings | None = None,
             resource_families: pd.DataFrame | None = None,
             protected: Collection[str] = ()) -> bytes:
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
        reason codes of children without a proposal; ``None`` leaves them empty.
    synthetic
        Label the workbook SYNTHETIC on its cover sheet.
    settings
        For the course offered for each need met after move-in
        (``training_towards``; defaults without it).
    resource_families
        ``home_id, resource_id, minutes`` of a resource-family plan, or ``None``
        (a match run has none; the cover sheet says so).
    protected
        Ids of children with a protected address: their rows on the proposals
        and unmatched sheets say so in an ``address_protection`` column (added
        only when there are any).
    """
    settings = settings or Settings()
    wb = Workbook()
    placed = assignments["home_id"].notna().to_numpy()
    if protected:
        hidden = assignments["child_id"].astype(str).isin(set(protected)).to_numpy()
        assignments = assignments.assign(
            address_protection=np.where(hidden, _("address protected"), ""))
    proposals = assignments.loc[placed].reset_index(drop=True)
    sheets = {
        "cover": _cover(summary, synthetic=synthetic,
                        resource=resource_families is not None),
        "proposals": proposals,
        "unmatched": _unmatched(assignments.loc[~placed], history,
                                summary.sibling_policy, protected=bool(protected)),
        "shortlist": shortlist.reset_index(drop=True),
        "support": _support(proposals, settings, resource_families),
    }
    first = True
    for key, frame in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        first = False
        ws.title = _sheet_name(_(SHEETS[key]))
        _fill(ws, frame, header=key != "cover")
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


def _sheet_name(name: str) -> str:
    return _SHEET_NAME_BAD.sub(" ", name).strip()[:31] or "sheet"


def _cover(summary: RunSummary, *, synthetic: bool, resource: bool) -> pd.DataFrame:
    rows: list[tuple[str, object]] = [(_("fostermatch proposals"), "")]
    if synthetic:
        rows.append(("SYNTHETIC", _(SYNTHETIC_NOTE)))
    rows += [
        (_("run date"), i18n.format_date(summary.as_of)),
        (_("language"), i18n.current()),
        (_("children"), summary.children),
        (_("foster homes"), summary.homes),
        (_("with a proposal"), summary.placed),
        (_("without a proposal"), summary.unmatched),
        (_("locked placements"), summary.locked),
        (_("solver status"), summary.status),
        (_("software"), summary.software),
        (_("configuration hash"), summary.config_hash),
    ]
    rows += [(_("input {name} (sha256)").format(name=k), v)
             for k, v in summary.inputs_sha256.items()]
    rows.append((_("resource families"), _("from the plan given") if resource
                 else _("not part of this run (see `matcher resource-families`)")))
    rows.append((_("note"), _("The engine recommends; people decide. Ids are pseudonymous. "
                              "Column headers are the column names of the CSV files.")))
    return pd.DataFrame(rows, columns=["label", "value"])


def _unmatched(rows: pd.DataFrame, history: pd.DataFrame | None,
               sibling_policy: str, *, protected: bool = False) -> pd.DataFrame:
    codes = reason_codes(history, sibling_policy) if history is not None else {}
    days = (history.set_index("child_id")["days_waiting"] if history is not None
            else pd.Series(dtype=float))
    ids = rows["child_id"].astype(str)
    return pd.DataFrame({
        "child_id": ids.to_numpy(dtype=object),
        "urgency": rows["urgency"].to_numpy(dtype=object),
        "municipality": rows["municipality"].to_numpy(dtype=object),
        "days_waiting": pd.to_numeric(days.reindex(ids), errors="coerce").to_numpy(dtype=float),
        "reason_code": [";".join(codes.get(c, ())) for c in ids],
        "reason": [r if isinstance(r, str) and r else
                   "; ".join(reason_text(code) for code in codes.get(c, ()))
                   for c, r in zip(ids, rows["reason"], strict=True)],
        **({"address_protection": rows["address_protection"].to_numpy(dtype=object)}
           if protected else {}),
    }, columns=[*UNMATCHED_COLUMNS, *(["address_protection"] if protected else [])])


def _support(proposals: pd.DataFrame, settings: Settings,
             resource_families: pd.DataFrame | None) -> pd.DataFrame:
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
                    "training_needs": ";".join(needs), "training_towards": ";".join(towards),
                    "resource_id": family.at[r.home_id, "resource_id"]
                    if family is not None and has_family else None,
                    "resource_minutes": float(family.at[r.home_id, "minutes"])
                    if family is not None and has_family else np.nan})
    return pd.DataFrame(out, columns=list(SUPPORT_COLUMNS))


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
        value = ";".join(str(v) for v in value)
    return ILLEGAL_CHARACTERS_RE.sub(" ", str(value))


def _number_format(column: str) -> str | None:
    if column.endswith("minutes"):
        return "0.0"
    if column in _SCORE_COLUMNS:
        return "0.00"
    if column.endswith("days") or column == "days_waiting":
        return "0"
    return None


def _fill(ws: Worksheet, frame: pd.DataFrame, *, header: bool) -> None:
    """Write ``frame`` (formula-safe) with a frozen header row, a filter and column widths."""
    safe = files.safe_cells(frame.astype(object).where(frame.notna(), None)
                            if len(frame) else frame)
    columns = [str(c) for c in safe.columns]
    if header:
        ws.append([_value(c) for c in columns])
    widths = [len(c) if header else 0 for c in columns]
    formats = [_number_format(c) for c in columns]
    for row in safe.itertuples(index=False):
        values = [_value(v) for v in row]
        ws.append(values)
        for j, v in enumerate(values):
            widths[j] = max(widths[j], len(f"{v:.1f}") if isinstance(v, float)
                            else len(str(v)) if v is not None else 0)
    for row_cells in ws.iter_rows(min_row=2 if header else 1):
        for j, cell in enumerate(row_cells):
            if cell.data_type == "f":  # never a formula, whatever the text
                cell.data_type = "s"
            if formats[j] and isinstance(cell.value, int | float) \
                    and not isinstance(cell.value, bool):
                cell.number_format = formats[j]
    if header:
        for cell in ws[1]:
            if cell.data_type == "f":
                cell.data_type = "s"
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        if len(columns):
            ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(safe) + 1)}"
    else:
        ws["A1"].font = Font(bold=True, size=14)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(_MAX_WIDTH,
                                                               max(_MIN_WIDTH, width + 2))
