"""Earlier run folders as inputs: the previous proposals of ``matcher match --previous``."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import gettext as _
from matcher.io import readers
from matcher.run import RunSummary

__all__ = ["previous_as_of", "read_previous"]


def read_previous(run_dir: str | Path) -> pd.DataFrame:
    """Read the proposals of an earlier run folder (its ``assignments.csv``).

    Parameters
    ----------
    run_dir
        A run folder written by ``matcher match`` (or the nightly job's export).

    Returns
    -------
    pandas.DataFrame
        ``child_id, home_id`` as text, one row per child (``home_id`` missing
        when the child was not placed).

    Raises
    ------
    InputError
        If the folder has no readable ``assignments.csv`` with those columns.
    """
    path = Path(run_dir) / "assignments.csv"
    if not path.is_file():
        raise InputError(_("{folder}: no assignments.csv; give a run folder written by "
                           "`matcher match --out`").format(folder=run_dir))
    read = readers.read_table(path)
    raise_if_problems(_("{path}: cannot read the previous run").format(path=path),
                      list(read.problems))
    assert read.frame is not None
    frame = read.frame
    missing = [c for c in ("child_id", "home_id") if c not in frame.columns]
    raise_if_problems(_("{path}: not an assignments table").format(path=path),
                      [Problem(path.name, _("missing column; is this a run folder?"), column=c)
                       for c in missing])
    home = frame["home_id"].where(frame["home_id"].astype(str) != "", None)
    return pd.DataFrame({"child_id": frame["child_id"].astype(str),
                         "home_id": home.astype(object)})


def previous_as_of(run_dir: str | Path) -> datetime.date | None:
    """Return the run date of a run folder (its ``summary.json``), or ``None`` if unknown.

    Raises
    ------
    InputError
        If ``summary.json`` exists but is not a run summary this version reads
        (e.g. a newer ``schema_version``).
    """
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return None
    return RunSummary.read(path).as_of
