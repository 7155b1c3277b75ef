"""Exception tree for fostermatch.

Every error the engine raises on purpose derives from :class:`MatcherError`.
The CLI maps each class to an exit code (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import SupportsIndex

from matcher.i18n import gettext as _
from matcher.i18n import ngettext

__all__ = [
    "FIRST_DATA_ROW",
    "InfeasibleError",
    "InputError",
    "LockedError",
    "MatcherError",
    "Problem",
    "StoreUnavailableError",
    "data_position",
    "raise_if_problems",
    "sheet_row",
]

FIRST_DATA_ROW = 2
"""Row number of a table's first data row, as a spreadsheet shows it: the header is row 1."""


def sheet_row(position: SupportsIndex) -> int:
    """Return the row number people see for the data row at 0-based ``position``.

    The one convention of every row number in a :class:`Problem` and in a message
    about a table: rows are counted as a spreadsheet (Excel, LibreOffice) shows
    them, the header being row 1, so the first data row is row 2. GeoPackage,
    GeoJSON and PostGIS tables are counted the same way (the first feature is
    row 2) so that one number means one thing in every message.

    Parameters
    ----------
    position
        0-based position of the row among the data rows (header excluded).

    Returns
    -------
    int
        ``position + 2``.
    """
    return operator.index(position) + FIRST_DATA_ROW


def data_position(row: SupportsIndex) -> int:
    """Return the 0-based data position of a row number from :func:`sheet_row`."""
    return operator.index(row) - FIRST_DATA_ROW


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input.

    Parameters
    ----------
    source
        File or table name the problem was found in.
    message
        What is wrong, and how to fix it.
    row
        The row as a spreadsheet shows it (:func:`sheet_row`: the header is row 1,
        the first data row is row 2), or ``None`` for table-level problems.
    column
        Column name, or ``None`` when the problem is not about one column.
    """

    source: str
    message: str
    row: int | None = None
    column: str | None = None

    def location(self) -> str:
        """Return where the problem is (file, row, column) in the current language."""
        if self.row is not None and self.column is not None:
            text = _("{source}, row {row}, column '{column}'")
        elif self.row is not None:
            text = _("{source}, row {row}")
        elif self.column is not None:
            text = _("{source}, column '{column}'")
        else:
            return self.source
        return text.format(source=self.source, row=self.row, column=self.column)

    def __str__(self) -> str:
        return f"{self.location()}: {self.message}"


class MatcherError(Exception):
    """Base class of all fostermatch errors."""

    exit_code: int = 1


class InputError(MatcherError):
    """Bad input: a file, a table or an option that cannot be used as given.

    Parameters
    ----------
    message
        Summary of what is wrong.
    problems
        Every individual problem found, so that all of them can be reported at once.
    """

    exit_code = 2

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.summary = message
        lines = [message] + [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class InfeasibleError(MatcherError):
    """The model has no feasible solution, or the solver could not solve it."""

    exit_code = 3


class StoreUnavailableError(MatcherError):
    """The data store (GeoPackage or PostGIS) cannot be reached."""

    exit_code = 4


class LockedError(MatcherError):
    """Another run holds the store's lock."""

    exit_code = 5


def raise_if_problems(message: str, problems: list[Problem]) -> None:
    """Raise :class:`InputError` listing every problem, if there are any."""
    if problems:
        n = len(problems)
        raise InputError(ngettext("{message} ({n} problem)", "{message} ({n} problems)", n)
                         .format(message=message, n=n), problems)
