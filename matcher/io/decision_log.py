"""The decisions table on disk: read it (CSV, GeoJSON, GeoPackage) and append to a CSV log.

Validation is :func:`matcher.decisions.validate`; this module only adds the
file around it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from matcher import decisions as decisions_mod
from matcher.errors import InputError, raise_if_problems
from matcher.i18n import gettext as _
from matcher.io import files, readers
from matcher.schema import Inputs

__all__ = ["append_decision", "read_decisions"]


def read_decisions(path: str | Path, *, as_of: datetime.date | None = None,
                   inputs: Inputs | None = None) -> decisions_mod.Decisions:
    """Read and validate a decisions table.

    Parameters
    ----------
    path
        ``.csv``, ``.geojson`` or ``.gpkg[:layer]``.
    as_of
        Run date (a later ``decided_on`` is an error).
    inputs
        Validated inputs for the cross-table checks.

    Raises
    ------
    InputError
        If the file cannot be read, or listing every invalid row (exit code 2).
    """
    read = readers.read_table(path)
    raise_if_problems(_("{file}: cannot read the decisions").format(file=read.label),
                      list(read.problems))
    assert read.frame is not None
    return decisions_mod.validate(read.frame, label=read.label, as_of=as_of, inputs=inputs,
                                  sha256=read.sha256)


def append_decision(path: str | Path, row: Mapping[str, str], *,
                    inputs: Inputs | None = None,
                    today: datetime.date | None = None) -> decisions_mod.Decisions:
    """Append one decision to a CSV log atomically, after validating the whole log.

    A missing file is created with the header. The new row's ids must exist
    in ``inputs`` when given. Nothing is written when any check fails.

    Parameters
    ----------
    path
        The ``.csv`` log.
    row
        :data:`matcher.decisions.COLUMNS` as text.
    inputs
        Validated inputs for the id and cross-table checks.
    today
        ``decided_on`` may not be later (default: today).

    Returns
    -------
    Decisions
        The whole validated log, the new row last.

    Raises
    ------
    InputError
        On a bad row or log (exit code 2); the file is unchanged.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(_("{file}: decisions are appended to a .csv file; give one")
                         .format(file=path.name))
    new = pd.DataFrame([{c: str(row.get(c, "") or "") for c in decisions_mod.COLUMNS}])
    today = today or datetime.date.today()
    decisions_mod.validate(new, label=_("new decision"), as_of=today, inputs=inputs,
                           strict_ids=inputs is not None)
    path.parent.mkdir(parents=True, exist_ok=True)
    # read, check and replace under one lock: two analysts appending at once both keep
    # their row (no lost update)
    with files._folder_lock(path.parent):
        if path.exists():
            read = readers.read_table(path)
            raise_if_problems(_("{file}: cannot read the decisions").format(file=read.label),
                              list(read.problems))
            assert read.frame is not None
            old = read.frame
        else:
            old = pd.DataFrame({c: pd.Series([], dtype=object) for c in decisions_mod.COLUMNS})
        both = pd.concat([old.astype(object), new], ignore_index=True)
        valid = decisions_mod.validate(both, label=path.name, as_of=today, inputs=inputs)
        files.write_csv(decisions_mod.as_frame(valid), path)
    return valid
