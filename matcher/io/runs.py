"""Earlier run folders as inputs: the previous proposals of ``matcher match --previous``."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from matcher import tables
from matcher.errors import InputError, raise_if_problems
from matcher.i18n import gettext as _
from matcher.io import readers
from matcher.run import RunSummary

__all__ = ["previous_as_of", "read_previous", "read_run_table"]


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
    frame = read_run_table(path, "assignments")
    return pd.DataFrame({"child_id": frame["child_id"].astype(str),
                         "home_id": frame["home_id"].astype(object)})


def read_run_table(path: str | Path, name: str) -> pd.DataFrame:
    """Read a table of a run folder by its spec (:data:`matcher.tables.SPECS`).

    Parameters
    ----------
    path
        ``assignments.csv`` or ``history.csv`` of a run folder.
    name
        The spec: ``assignments`` or ``history``.

    Returns
    -------
    pandas.DataFrame
        The spec's columns typed (ids exactly as written, ``home_id`` missing
        when empty; minutes and scores ``float``; flags ``bool``), the other
        columns as read, in file order.

    Raises
    ------
    InputError
        If the file cannot be read or breaks its spec; every problem is listed.
    """
    path = Path(path)
    read = readers.read_table(path)
    raise_if_problems(_("{path}: cannot read the table").format(path=path), list(read.problems))
    assert read.frame is not None
    table = tables.read(name, read.frame, label=path.name)
    raise_if_problems(_("{path}: not a {table} table of a run folder; give a run folder "
                        "written by `matcher match --out`").format(path=path, table=name),
                      table.problems)
    return table.frame(keep=read.frame)


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
