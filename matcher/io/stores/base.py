"""Data stores of the nightly job: a GeoPackage file or a PostgreSQL/PostGIS database.

A store holds the five input tables of :mod:`matcher.schema` and three
result tables written by the nightly job:

``match_runs``
    One row per run: ``run_id``, ``started_at``/``finished_at`` (UTC),
    ``status`` (``running``, ``success``, ``skipped`` or ``failed``),
    ``note``, ``error``, ``exit_code``, ``solver_status``, ``mip_gap``,
    counts (``n_children``, ``n_homes``, ``n_placed``, ``n_unmatched``,
    ``n_locked``), ``input_fingerprint``, ``config_hash``,
    ``software_version``, ``as_of``, ``network_key`` and ``summary_json``
    (the run summary: counts, timings, hashes; no personal data). ``seq``
    orders the runs.
``match_results``
    One row per child per successful run: ``run_id`` and the columns of
    :data:`RESULT_COLUMNS` (the same as ``assignments.csv`` of
    ``matcher match``).
``match_unmatched``
    One row per unmatched child per successful run: ``run_id, child_id,
    reason``.

``match_history``
    One row per waiting child per successful run (:mod:`matcher.waiting`):
    ``run_id, as_of`` and :data:`HISTORY_COLUMNS` (categories and counts
    only). Run retention does not delete it: it feeds the waiting statistics
    over time (``matcher waiting-stats --store``); rows older than
    ``[job] history_days`` are deleted.

and the ``decisions`` log (:mod:`matcher.decisions`; optional): people append
to it (``matcher decide`` or SQL), the nightly job reads it. Its rows are
ordered by the integer key ``fid``.

``placement_periods`` (:mod:`matcher.periods`; optional) holds the placements
after move-in. The nightly job opens a period for every approval that has none
(in the transaction of :meth:`Store.finish_run`), ``matcher decide`` when it
records an approval and ``matcher placement end`` closes one
(:meth:`Store.change_periods`, one transaction, the whole table validated
first). ``matcher nightly-load`` replaces it only when the folder has a
``placement_periods.csv``. Rows are ordered by ``fid``.

Input tables
------------
``children``, ``homes`` and ``contacts`` carry their position either as a
point geometry column (GeoPackage geometry or PostGIS ``geometry``, any
SRID, reprojected to EPSG:4326) or as ``lon``/``lat`` columns in WGS84
degrees; when a geometry column exists it wins. ``placements`` and
``vetoes`` are plain tables. Every other column is as in the README's "Input tables"
(names are the contract; a column starting with ``_`` is ignored). An
integer primary key that is not a schema column (``fid``, ``ogc_fid``...) is
dropped and fixes the row order, which numbers each child's contacts.
:meth:`Store.write_inputs` creates the tables with point geometry in
EPSG:4326 (GeoPackage layers without a spatial index, so that plain SQL
edits work; PostGIS ``geom geometry(Point, 4326)`` with an identity ``fid``).

Transactions and locks
----------------------
:meth:`Store.finish_run` writes the run row, the results and the retention
deletes in one transaction (an SQLite transaction on the GeoPackage file),
so a crash or kill leaves the previous results untouched. One job at a time
holds :meth:`Store.lock`: ``pg_try_advisory_lock`` in PostgreSQL (per
schema), an ``fcntl.flock`` on ``<store>.lock`` for a GeoPackage.
"""

from __future__ import annotations

import abc
import contextlib
import datetime
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from matcher import periods as periods_mod
from matcher import schema
from matcher.errors import Problem
from matcher.i18n import N_, format_number
from matcher.i18n import gettext as _
from matcher.periods import PeriodChanges

__all__ = [
    "DECISION_COLUMNS",
    "HISTORY_COLUMNS",
    "INPUT_TYPES",
    "PERIOD_COLUMNS",
    "PG_SCHEMES",
    "POINT_TABLES",
    "RESULT_COLUMNS",
    "RESULT_TABLES",
    "RUN_COLUMNS",
    "UNMATCHED_COLUMNS",
    "LastRun",
    "Store",
    "WriteCounts",
    "export_inputs",
    "stamp",
]

logger = logging.getLogger(__name__)


def wait_for_lock(try_lock: Callable[[], bool], *, wait_seconds: float, what: str) -> bool:
    """Call ``try_lock`` until it returns ``True`` or ``wait_seconds`` have passed.

    Says once on stderr (a warning) that it waits for ``what``; returns whether
    the lock was taken.
    """
    if try_lock():
        return True
    if wait_seconds <= 0:
        return False
    logger.warning(_("{what} is held by another run; waiting up to {seconds} s").format(
        what=what, seconds=format_number(wait_seconds)))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        if try_lock():
            return True
    return False

PG_SCHEMES: tuple[str, ...] = ("postgresql+psycopg", "postgresql", "postgres")
"""URL schemes of a PostGIS store."""

RUN_COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("TEXT NOT NULL UNIQUE", "text PRIMARY KEY"),
    "started_at": ("DATETIME NOT NULL", "timestamptz NOT NULL"),
    "finished_at": ("DATETIME", "timestamptz"),
    "status": ("TEXT NOT NULL", "text NOT NULL"),
    "note": ("TEXT", "text"),
    "error": ("TEXT", "text"),
    "exit_code": ("INTEGER", "integer"),
    "solver_status": ("TEXT", "text"),
    "mip_gap": ("DOUBLE", "double precision"),
    "n_children": ("INTEGER", "integer"),
    "n_homes": ("INTEGER", "integer"),
    "n_placed": ("INTEGER", "integer"),
    "n_unmatched": ("INTEGER", "integer"),
    "n_locked": ("INTEGER", "integer"),
    "input_fingerprint": ("TEXT", "text"),
    "config_hash": ("TEXT", "text"),
    "software_version": ("TEXT", "text"),
    "as_of": ("DATE", "date"),
    "network_key": ("TEXT", "text"),
    "summary_json": ("TEXT", "jsonb"),
}
"""Columns of ``match_runs``: name -> (GeoPackage type, PostgreSQL type)."""

RESULT_COLUMNS: dict[str, tuple[str, str]] = {
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "home_id": ("TEXT", "text"),
    "score": ("DOUBLE", "double precision"),
    "school_minutes": ("DOUBLE", "double precision"),
    "network_minutes": ("DOUBLE", "double precision"),
    "parent_minutes": ("DOUBLE", "double precision"),
    "municipality_match": ("BOOLEAN", "boolean"),
    "kinship": ("BOOLEAN", "boolean"),
    "training_needs": ("TEXT", "text"),
    "locked": ("BOOLEAN", "boolean"),
    "split": ("BOOLEAN", "boolean"),
    "urgency": ("TEXT", "text"),
    "municipality": ("TEXT", "text"),
    "home_municipality": ("TEXT", "text"),
    "reason": ("TEXT", "text"),
    "decision": ("TEXT", "text"),
    "previous_home_id": ("TEXT", "text"),
    "change_reason": ("TEXT", "text"),
}
"""Columns of ``match_results`` after ``run_id`` (as ``pipeline.ASSIGNMENT_COLUMNS``).
Columns added after a store was made are added to it by :meth:`Store.ensure_schema`."""

UNMATCHED_COLUMNS: dict[str, tuple[str, str]] = {
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "reason": ("TEXT NOT NULL", "text NOT NULL"),
}
"""Columns of ``match_unmatched`` after ``run_id``."""

RESULT_TABLES: tuple[str, ...] = ("match_runs", "match_results", "match_unmatched")

HISTORY_COLUMNS: dict[str, tuple[str, str]] = {
    "as_of": ("DATE", "date"),
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "home_id": ("TEXT", "text"),
    "continuity": ("TEXT", "text"),
    "reason": ("TEXT", "text"),
    "days_waiting": ("DOUBLE", "double precision"),
    "municipality": ("TEXT", "text"),
    "age_band": ("TEXT", "text"),
    "needs": ("TEXT", "text"),
    "urgency": ("TEXT", "text"),
    "sibling_group_size": ("INTEGER", "integer"),
    "binding": ("TEXT", "text"),
}
"""Columns of ``match_history`` after ``run_id``: ``as_of`` and
:data:`matcher.waiting.HISTORY_COLUMNS`."""

DECISION_COLUMNS: dict[str, tuple[str, str]] = {
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "home_id": ("TEXT NOT NULL", "text NOT NULL"),
    "decision": ("TEXT NOT NULL", "text NOT NULL"),
    "decided_on": ("DATE NOT NULL", "date NOT NULL"),
    "by": ("TEXT NOT NULL", "text NOT NULL"),
    "reason": ("TEXT", "text"),
    "actor": ("TEXT", "text"),
}
"""Columns of the ``decisions`` table (:data:`matcher.decisions.COLUMNS`); a store made
before ``actor`` existed gains the column on the next append (its old rows stay empty)."""

PERIOD_COLUMNS: dict[str, tuple[str, str]] = {
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "home_id": ("TEXT NOT NULL", "text NOT NULL"),
    "start": ("DATE NOT NULL", "date NOT NULL"),
    "end": ("DATE", "date"),
    "end_reason": ("TEXT", "text"),
    "ended_by": ("TEXT", "text"),
    "municipality": ("TEXT", "text"),
    "home_municipality": ("TEXT", "text"),
    "home_kind": ("TEXT", "text"),
    "age_at_start": ("DOUBLE", "double precision"),
    "sibling_group_size": ("INTEGER", "integer"),
    "school_minutes": ("DOUBLE", "double precision"),
    "network_minutes": ("DOUBLE", "double precision"),
    "parent_minutes": ("DOUBLE", "double precision"),
    "actor": ("TEXT", "text"),
}
"""Columns of the ``placement_periods`` table (:data:`matcher.periods.COLUMNS`)."""

INPUT_TYPES: dict[str, dict[str, str]] = {
    "children": {"child_id": "text", "school_lon": "double precision",
                 "school_lat": "double precision", "municipality": "text", "age": "integer",
                 "needs": "text", "sibling_group": "text", "urgency": "text",
                 "waiting_since": "date", "max_school_minutes": "double precision",
                 "avoid_municipalities": "text", "languages": "text",
                 "language_required": "boolean", "culture": "text", "heard_on": "date",
                 "current_home_id": "text", "current_home_keeps": "boolean",
                 "placed_since": "date", "address_protection": "text",
                 "relief_weekends": "integer", "last_visit": "date"},
    "homes": {"home_id": "text", "municipality": "text", "capacity": "integer",
              "competences": "text", "min_age": "integer", "max_age": "integer",
              "kind": "text", "kin_of": "text", "accepts_sibling_groups": "boolean",
              "languages": "text", "culture": "text", "own_children_ages": "text",
              "recruited_by": "text", "reserved_for": "text", "reserved_until": "date"},
    "contacts": {"child_id": "text", "kind": "text", "weight": "double precision",
                 "max_minutes": "double precision", "label": "text"},
    "placements": {"child_id": "text", "home_id": "text", "decided_on": "date", "by": "text"},
    "vetoes": {"child_id": "text", "home_id": "text", "decided_on": "date", "by": "text"},
}
"""PostgreSQL column types of the input tables written by :meth:`Store.write_inputs`
(point tables also get ``geom geometry(Point, 4326)``). Every column of
:data:`matcher.tables.COLUMNS` but ``lon``/``lat`` (tested); a column missing
here would still be stored, as text, never dropped."""

POINT_TABLES: tuple[str, ...] = ("children", "homes", "contacts")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_INTERRUPTED = N_("interrupted: the job stopped before finishing (killed, crashed or lost the "
                  "store); nothing of this run was written")
"""``match_runs.error`` of a run a killed job left ``running`` (translated when written)."""


@dataclass(frozen=True)
class LastRun:
    """The latest successful run of a store (for the unchanged-input check).

    Attributes
    ----------
    run_id
        Its id.
    input_fingerprint
        Hash of its inputs, OSM file and configuration.
    """

    run_id: str
    input_fingerprint: str


@dataclass(frozen=True)
class WriteCounts:
    """What :meth:`Store.finish_run` wrote and deleted.

    Attributes
    ----------
    results, unmatched
        Rows inserted into ``match_results`` and ``match_unmatched``.
    deleted_runs
        Older runs removed by retention (with their results).
    periods_opened
        Placement periods opened (approvals that had none).
    """

    results: int
    unmatched: int
    deleted_runs: int
    periods_opened: int = 0


# --------------------------------------------------------------------------- base class


class Store(abc.ABC):
    """A place that holds the input tables and receives the nightly results.

    Use it as a context manager to connect; :meth:`lock` then gives the job
    exclusive use. All writes of one run happen in :meth:`finish_run`.
    """

    kind: ClassVar[str]
    display: str
    """Where the store is, without secrets (safe for logs)."""

    # ---- connection primitives (per backend) ---------------------------------------

    @abc.abstractmethod
    def connect(self, *, create: bool = False) -> None:
        """Open the connection; raise :class:`StoreUnavailableError` if impossible.

        ``create`` makes an empty GeoPackage when the file is missing (a
        PostgreSQL database must exist).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (releasing any lock)."""

    @abc.abstractmethod
    def lock(self, *, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """Hold the store's run lock; raise :class:`LockedError` if another job has it.

        When the lock is taken, say so on stderr (a warning) and wait up to
        ``wait_seconds`` seconds for it before giving up.
        """

    @abc.abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """Run the block in one transaction (commit on success, roll back on error)."""

    @abc.abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute one statement with ``?`` placeholders; return fetched rows (if any)."""

    @abc.abstractmethod
    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement with ``?`` placeholders for many rows."""

    @abc.abstractmethod
    def _columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str],
                                                                          list[tuple[Any, ...]]]:
        """Run a query; return column names and rows."""

    @abc.abstractmethod
    def _create_result_tables(self) -> None:
        """Create the result tables if missing."""

    @abc.abstractmethod
    def read_tables(self) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
        """Read the input tables as stored (``None`` for a missing optional table).

        Returns
        -------
        tuple
            Table name -> raw frame (geometry as a GeoDataFrame where stored),
            and the problems met while reading (missing required tables,
            unreadable layers), to be reported with the validation problems.
        """

    @abc.abstractmethod
    def write_inputs(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Replace the input tables in one step.

        Parameters
        ----------
        tables
            Table name -> frame with the columns of the README's "Input tables";
            ``children``, ``homes`` and ``contacts`` give ``lon``/``lat`` in
            EPSG:4326, stored as point geometry.
        """

    @abc.abstractmethod
    def _has_table(self, name: str) -> bool:
        """True if the table exists in the store."""

    @abc.abstractmethod
    def _create_decisions_table(self) -> None:
        """Create the ``decisions`` table if missing (inside the caller's transaction)."""

    # ---- shared logic --------------------------------------------------------------

    def _create_periods_table(self) -> None:
        """Create ``placement_periods`` if missing and add missing columns (in a transaction)."""
        kind = 1 if self.kind == "postgis" else 0
        cols = ", ".join(f"{_ident(c)} {t[kind]}" for c, t in PERIOD_COLUMNS.items())
        key = ("fid INTEGER PRIMARY KEY AUTOINCREMENT" if kind == 0
               else "fid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        self._execute(f"CREATE TABLE IF NOT EXISTS placement_periods ({key}, {cols})")
        if kind == 0:
            self._execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, "
                          "identifier, description) VALUES ('placement_periods', 'attributes', "
                          "'placement_periods', 'fostermatch placement periods after move-in')")
        names, _rows_unused = self._columns_of("SELECT * FROM placement_periods LIMIT 0")
        for column in (c for c in PERIOD_COLUMNS if c not in names):
            self._execute(f"ALTER TABLE placement_periods ADD COLUMN {_ident(column)} "
                          f"{PERIOD_COLUMNS[column][kind].replace(' NOT NULL', '')}")

    def read_periods(self) -> pd.DataFrame | None:
        """Return ``placement_periods`` in row order (``None`` when it does not exist)."""
        if not self._has_table("placement_periods"):
            return None
        names, _rows_unused = self._columns_of("SELECT * FROM placement_periods LIMIT 0")
        cols = [c for c in names if c != "fid" and c != "geom"]
        frame = self._frame(f"SELECT {', '.join(_ident(c) for c in cols)} FROM "
                            "placement_periods ORDER BY fid")
        return frame.astype(object).where(frame.notna(), None)

    def replace_periods(self, frame: pd.DataFrame) -> None:
        """Replace every row of ``placement_periods`` (validated by the caller), in one step."""
        columns = [c for c in PERIOD_COLUMNS if c in frame.columns]
        with self._transaction():
            self._create_periods_table()
            self._execute("DELETE FROM placement_periods")
            rows = [[_native(_blank(v)) for v in row]
                    for row in frame[columns].to_numpy(dtype=object).tolist()]
            if rows:
                self._execute_many(_insert("placement_periods",
                                           [_ident(c) for c in columns]), rows)

    def change_periods(self, change: Callable[[pd.DataFrame], PeriodChanges]
                       ) -> PeriodChanges:
        """Apply a change to ``placement_periods`` in one transaction (created when missing).

        ``change`` gets the validated periods and returns what to open and
        close; the whole table is validated again before it is written.

        Raises
        ------
        InputError
            On a bad table or change; nothing is written.
        """
        with self._transaction():
            self._create_periods_table()
            text = self.read_periods()
            assert text is not None
            typed = periods_mod.validate(text)
            changes = change(typed)
            if changes:
                periods_mod.validate(changes.apply(text))
                self._write_period_changes(changes)
        return changes

    def _write_period_changes(self, changes: PeriodChanges) -> int:
        """Insert and update rows inside the caller's transaction; return periods opened."""
        self._create_periods_table()
        for r in changes.closed.itertuples(index=False):
            self._execute('UPDATE placement_periods SET "end" = ?, end_reason = ?, ended_by = ?, '
                          'actor = ? WHERE child_id = ? AND home_id = ? AND '
                          'CAST("start" AS TEXT) = ? AND "end" IS NULL',
                          [r.end, r.end_reason, r.ended_by, _blank(r.actor), r.child_id,
                           r.home_id, r.start])
        existing = {(str(c), str(h), str(s)[:10]) for c, h, s in self._execute(
            'SELECT child_id, home_id, "start" FROM placement_periods')}
        columns = list(PERIOD_COLUMNS)
        rows = [[_native(_blank(v)) for v in row]
                for row in changes.opened[columns].to_numpy(dtype=object).tolist()
                if (row[0], row[1], str(row[2])[:10]) not in existing]
        if rows:
            self._execute_many(_insert("placement_periods", [_ident(c) for c in columns]),
                               rows)
        return len(rows)

    def read_decisions(self) -> pd.DataFrame | None:
        """Return the ``decisions`` table in row order (``None`` when it does not exist)."""
        if not self._has_table("decisions"):
            return None
        names, _rows_unused = self._columns_of("SELECT * FROM decisions LIMIT 0")
        cols = ", ".join(_ident(c) for c in DECISION_COLUMNS if c in names)
        return self._frame(f"SELECT {cols} FROM decisions ORDER BY fid")

    def append_decision(self, row: Mapping[str, Any]) -> None:
        """Append one decision (validated by the caller) in one transaction.

        The ``decisions`` table is created when missing.
        """
        columns = list(DECISION_COLUMNS)
        kind = 1 if self.kind == "postgis" else 0
        with self._transaction():
            self._create_decisions_table()
            names, _rows_unused = self._columns_of("SELECT * FROM decisions LIMIT 0")
            for column in (c for c in columns if c not in names):
                self._execute(f"ALTER TABLE decisions ADD COLUMN {_ident(column)} "
                              f"{DECISION_COLUMNS[column][kind].replace(' NOT NULL', '')}")
            self._execute(f"INSERT INTO decisions ({', '.join(_ident(c) for c in columns)}) "
                          f"VALUES ({', '.join('?' * len(columns))})",
                          [_native(row.get(c) or None) if c in ("reason", "actor")
                           else _native(row[c]) for c in columns])

    def __enter__(self) -> Store:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_schema(self) -> None:
        """Create ``match_runs``, ``match_results`` and ``match_unmatched`` if missing.

        Result columns added by a newer version are added to an older store
        (empty for its earlier runs).
        """
        self._create_result_tables()
        kind = 1 if self.kind == "postgis" else 0
        if not self._has_table("match_history"):
            cols = ", ".join(f"{c} {t[kind]}" for c, t in HISTORY_COLUMNS.items())
            key = "fid INTEGER PRIMARY KEY AUTOINCREMENT, " if kind == 0 else ""
            with self._transaction():
                self._execute(f"CREATE TABLE IF NOT EXISTS match_history ({key}run_id "
                              f"{'TEXT' if kind == 0 else 'text'} NOT NULL, {cols}, "
                              "UNIQUE (run_id, child_id))")
                if kind == 0:
                    self._execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, "
                                  "identifier, description) VALUES ('match_history', "
                                  "'attributes', 'match_history', 'fostermatch waiting "
                                  "history: one row per waiting child per run')")
        names, _rows_unused = self._columns_of("SELECT * FROM match_results LIMIT 0")
        missing = [c for c in RESULT_COLUMNS if c not in names]
        if missing:
            with self._transaction():
                for column in missing:
                    self._execute(f"ALTER TABLE match_results ADD COLUMN {column} "
                                  f"{RESULT_COLUMNS[column][kind]}")

    def mark_interrupted(self, *, finished_at: datetime.datetime) -> int:
        """Mark runs left ``running`` by a killed job as failed; return how many.

        Call only while holding :meth:`lock`: then no other job is running.
        """
        with self._transaction():
            stale = self._execute("SELECT run_id FROM match_runs WHERE status = 'running'")
            if stale:
                self._execute("UPDATE match_runs SET status = 'failed', finished_at = ?, "
                              "error = ?, exit_code = ? WHERE status = 'running'",
                              (stamp(finished_at), _(_INTERRUPTED), 1))
        return len(stale)

    def begin_run(self, run: Mapping[str, Any]) -> None:
        """Insert the run row (status ``running``) in its own transaction."""
        columns = _checked(run, RUN_COLUMNS)
        with self._transaction():
            self._execute(f"INSERT INTO match_runs ({', '.join(columns)}) VALUES "
                          f"({', '.join('?' * len(columns))})",
                          [_native(run[c]) for c in columns])

    def last_success(self) -> LastRun | None:
        """Return the latest successful run, or ``None``."""
        rows = self._execute("SELECT run_id, input_fingerprint FROM match_runs "
                             "WHERE status = 'success' ORDER BY seq DESC LIMIT 1")
        return LastRun(rows[0][0], rows[0][1] or "") if rows else None

    def finish_run(self, run_id: str, fields: Mapping[str, Any], *,
                   results: pd.DataFrame | None = None, unmatched: pd.DataFrame | None = None,
                   keep_runs: int, between: Callable[[], None] | None = None,
                   history: pd.DataFrame | None = None,
                   history_before: datetime.date | None = None,
                   periods: PeriodChanges | None = None) -> WriteCounts:
        """Write a run's final row, its results and the retention deletes in ONE transaction.

        Parameters
        ----------
        run_id
            The run, inserted earlier by :meth:`begin_run`.
        fields
            ``match_runs`` columns to set (``status``, ``finished_at``...).
        results
            One row per child with :data:`RESULT_COLUMNS`, or ``None``.
        unmatched
            ``child_id, reason`` per unmatched child, or ``None``.
        keep_runs
            Keep this many newest runs (this one included) and always the
            latest successful one; delete older runs and their rows.
        between
            Called after the run row is updated and before the results are
            inserted (a test hook for crashes mid-write).
        history
            ``as_of`` and :data:`HISTORY_COLUMNS` per waiting child, or ``None``.
        history_before
            Delete the ``match_history`` rows of runs dated before this day
            (``[job] history_days``); ``None`` keeps them all.
        periods
            Placement periods to open and close (:func:`matcher.periods.from_approvals`);
            a period already in the table is not opened again.
        """
        columns = _checked(fields, RUN_COLUMNS)
        result_rows = _rows(results, ["run_id", *RESULT_COLUMNS], run_id)
        unmatched_rows = _rows(unmatched, ["run_id", *UNMATCHED_COLUMNS], run_id)
        history_rows = _rows(history, ["run_id", *HISTORY_COLUMNS], run_id)
        with self._transaction():
            self._execute(f"UPDATE match_runs SET {', '.join(f'{c} = ?' for c in columns)} "
                          "WHERE run_id = ?", [*(_native(fields[c]) for c in columns), run_id])
            if between is not None:
                between()
            if result_rows:
                self._execute_many(_insert("match_results", ["run_id", *RESULT_COLUMNS]),
                                   result_rows)
            if unmatched_rows:
                self._execute_many(_insert("match_unmatched", ["run_id", *UNMATCHED_COLUMNS]),
                                   unmatched_rows)
            if history_rows:
                self._execute_many(_insert("match_history", ["run_id", *HISTORY_COLUMNS]),
                                   history_rows)
            opened = self._write_period_changes(periods) if periods else 0
            deleted = self._retain(keep_runs)
            if history_before is not None:
                self._retain_history(history_before)
        return WriteCounts(len(result_rows), len(unmatched_rows), deleted, opened)

    def _retain(self, keep_runs: int) -> int:
        rows = self._execute("SELECT run_id, status FROM match_runs ORDER BY seq DESC")
        keep = {r[0] for r in rows[:keep_runs]}
        latest_success = next((r[0] for r in rows if r[1] == "success"), None)
        if latest_success is not None:
            keep.add(latest_success)
        doomed = [(r[0],) for r in rows if r[0] not in keep]
        if doomed:
            for table in ("match_results", "match_unmatched", "match_runs"):
                self._execute_many(f"DELETE FROM {table} WHERE run_id = ?", doomed)
        return len(doomed)

    def _retain_history(self, before: datetime.date) -> int:
        """Delete the ``match_history`` rows of runs dated before ``before``; return runs."""
        if not self._has_table("match_history"):
            return 0
        rows = self._execute("SELECT DISTINCT run_id, as_of FROM match_history")
        doomed = [(r[0],) for r in rows
                  if r[1] is not None and str(r[1])[:10] < before.isoformat()]
        if doomed:
            self._execute_many("DELETE FROM match_history WHERE run_id = ?", doomed)
        return len(doomed)

    def runs(self) -> pd.DataFrame:
        """Return ``match_runs`` ordered from oldest to newest."""
        return self._frame("SELECT * FROM match_runs ORDER BY seq")

    def results(self, run_id: str | None = None) -> pd.DataFrame:
        """Return ``match_results`` (of one run, or all) ordered by run and child."""
        return self._table_of("match_results", run_id)

    def unmatched(self, run_id: str | None = None) -> pd.DataFrame:
        """Return ``match_unmatched`` (of one run, or all) ordered by run and child."""
        return self._table_of("match_unmatched", run_id)

    def history(self) -> pd.DataFrame:
        """Return ``match_history`` ordered by run date, run and child (empty if none)."""
        if not self._has_table("match_history"):
            return pd.DataFrame(columns=["run_id", *HISTORY_COLUMNS])
        return self._frame(f"SELECT run_id, {', '.join(HISTORY_COLUMNS)} FROM match_history "
                           "ORDER BY as_of, run_id, child_id")

    def latest_results(self) -> pd.DataFrame:
        """Return the results of the latest successful run (empty if none)."""
        if not self._has_table("match_runs"):
            return pd.DataFrame(columns=["run_id", *RESULT_COLUMNS])
        last = self.last_success()
        return self.results(last.run_id if last else "")

    def _table_of(self, table: str, run_id: str | None) -> pd.DataFrame:
        columns = ["run_id", *(RESULT_COLUMNS if table == "match_results"
                               else UNMATCHED_COLUMNS)]
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return self._frame(f"SELECT {', '.join(columns)} FROM {table} {where} "
                           "ORDER BY run_id, child_id", params)

    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        names, rows = self._columns_of(sql, params)
        return pd.DataFrame.from_records(rows, columns=names)


# --------------------------------------------------------------------------- helpers


def export_inputs(inputs: schema.Inputs) -> dict[str, pd.DataFrame]:
    """Return validated inputs as the tables :meth:`Store.write_inputs` stores.

    Tags are joined with ``;``, dates are ISO text, missing values are ``None``,
    ``contacts`` loses its derived ``anchor_id``.
    """
    out: dict[str, pd.DataFrame] = {}
    children = inputs.children.copy()
    children["needs"] = children["needs"].map(schema.join_tags)
    for column in ("waiting_since", "heard_on"):
        if column in children.columns:
            children[column] = [None if pd.isna(d) else pd.Timestamp(d).date().isoformat()
                                for d in children[column]]
    for column in ("avoid_municipalities", "languages", "culture"):
        if column in children.columns:
            children[column] = children[column].map(schema.join_tags)
    out["children"] = children
    homes = inputs.homes.copy()
    homes["competences"] = homes["competences"].map(schema.join_tags)
    for column in ("languages", "culture", "reserved_for"):
        if column in homes.columns:
            homes[column] = homes[column].map(schema.join_tags)
    if "reserved_until" in homes.columns:
        homes["reserved_until"] = [None if pd.isna(d) else pd.Timestamp(d).date().isoformat()
                                   for d in homes["reserved_until"]]
    if "own_children_ages" in homes.columns:
        homes["own_children_ages"] = homes["own_children_ages"].map(
            lambda ages: ";".join(str(a) for a in ages))
    out["homes"] = homes
    out["contacts"] = inputs.contacts.drop(columns=["anchor_id"])
    out["placements"] = inputs.placements.copy()
    out["vetoes"] = inputs.vetoes.copy()
    return out


def _checked(values: Mapping[str, Any], allowed: Mapping[str, Any]) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"unknown match_runs column(s) {unknown}")
    return [c for c in allowed if c in values]


def _rows(frame: pd.DataFrame | None, columns: list[str], run_id: str) -> list[list[Any]]:
    if frame is None or frame.empty:
        return []
    body = frame[columns[1:]].to_numpy(dtype=object).tolist()
    return [[run_id, *(_native(v) for v in row)] for row in body]


def _native(value: Any) -> Any:
    """Return a value the database drivers bind: Python scalars, ``None`` for missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def stamp(moment: datetime.datetime) -> str:
    """Format a moment as the stores' UTC text (``2026-11-01T02:30:00.000Z``)."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _insert(table: str, columns: Sequence[str]) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join('?' * len(columns))})")


def _blank(value: Any) -> Any:
    """``None`` for an empty text cell, else the value."""
    return None if isinstance(value, str) and not value.strip() else value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _records(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def _missing_table(name: str, where: str) -> Problem:
    return Problem(name, _("no table '{table}' in {store}; load the input tables first "
                           "(matcher.nightly.load_inputs, or `matcher nightly-load`)")
                   .format(table=name, store=where))


