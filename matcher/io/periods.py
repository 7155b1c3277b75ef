"""The placement_periods table on disk: read it (CSV, GeoJSON, GeoPackage), change a CSV file.

Checks are :func:`matcher.periods.validate`; this module only adds the file
around them. A CSV file is changed atomically, under a lock on its folder, and
validated whole before it is replaced (nothing is written on a problem).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from matcher import periods as periods_mod
from matcher.errors import InputError, raise_if_problems
from matcher.i18n import gettext as _
from matcher.io import files, readers

__all__ = ["change_periods", "read_periods"]


def read_periods(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate a placement_periods table.

    Returns
    -------
    tuple
        The frame as read (text cells) and the validated, typed frame.

    Raises
    ------
    InputError
        If the file cannot be read, or listing every invalid row (exit code 2).
    """
    read = readers.read_table(path)
    raise_if_problems(_("{file}: cannot read the placement periods").format(file=read.label),
                      list(read.problems))
    assert read.frame is not None
    frame = pd.DataFrame(read.frame.drop(columns="geometry", errors="ignore"))
    return frame, periods_mod.validate(frame, label=read.label)


def change_periods(path: str | Path,
                   change: Callable[[pd.DataFrame], periods_mod.PeriodChanges]
                   ) -> periods_mod.PeriodChanges:
    """Apply a change to a CSV placement_periods file, atomically.

    ``change`` gets the validated periods and returns what to open and close;
    the whole table is validated again before the file is replaced (owner-only).
    A missing file is created with the header.

    Raises
    ------
    InputError
        On a bad file or change (exit code 2); the file is unchanged.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(_("{file}: placement periods are changed in a .csv file; give one")
                         .format(file=path.name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.folder_lock(path.parent):
        if path.exists():
            text, typed = read_periods(path)
        else:
            text = periods_mod.empty()
            typed = periods_mod.validate(text, label=path.name)
        changes = change(typed)
        if changes:
            new = changes.apply(text)
            periods_mod.validate(new, label=path.name)
            files.write_csv(new, path)
    return changes
