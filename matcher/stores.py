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
import fcntl
import getpass
import hashlib
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from matcher import schema
from matcher.errors import InputError, LockedError, Problem, StoreUnavailableError

logger = logging.getLogger(__name__)

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
}
"""Columns of ``match_results`` after ``run_id`` (as ``pipeline.ASSIGNMENT_COLUMNS``)."""

UNMATCHED_COLUMNS: dict[str, tuple[str, str]] = {
    "child_id": ("TEXT NOT NULL", "text NOT NULL"),
    "reason": ("TEXT NOT NULL", "text NOT NULL"),
}
"""Columns of ``match_unmatched`` after ``run_id``."""

RESULT_TABLES: tuple[str, ...] = ("match_runs", "match_results", "match_unmatched")

INPUT_TYPES: dict[str, dict[str, str]] = {
    "children": {"child_id": "text", "school_lon": "double precision",
                 "school_lat": "double precision", "municipality": "text", "age": "integer",
                 "needs": "text", "sibling_group": "text", "urgency": "text",
                 "waiting_since": "date", "max_school_minutes": "double precision"},
    "homes": {"home_id": "text", "municipality": "text", "capacity": "integer",
              "competences": "text", "min_age": "integer", "max_age": "integer",
              "kind": "text", "kin_of": "text", "accepts_sibling_groups": "boolean"},
    "contacts": {"child_id": "text", "kind": "text", "weight": "double precision"},
    "placements": {"child_id": "text", "home_id": "text"},
    "vetoes": {"child_id": "text", "home_id": "text"},
}
"""PostgreSQL column types of the input tables written by :meth:`Store.write_inputs`
(point tables also get ``geom geometry(Point, 4326)``)."""

POINT_TABLES: tuple[str, ...] = ("children", "homes", "contacts")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_INTERRUPTED = ("interrupted: the job stopped before finishing (killed, crashed or lost the "
                "store); nothing of this run was written")


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
    """

    results: int
    unmatched: int
    deleted_runs: int


# --------------------------------------------------------------------------- opening


def open_store(url: str, *, password: str | None = None, db_schema: str = "public") -> Store:
    """Return the store named by ``url`` (not yet connected; use it as a context manager).

    Parameters
    ----------
    url
        A GeoPackage path (``.gpkg``) or ``postgresql+psycopg://user@host:port/db``
        (``postgresql://`` also works; query parameters such as
        ``?sslmode=require`` are passed to libpq). Never put a password in it.
    password
        Database password (from :func:`resolve_password`); ``None`` lets libpq
        use its own sources (``~/.pgpass``, peer or trust authentication).
    db_schema
        PostgreSQL schema holding the tables.

    Raises
    ------
    InputError
        If the URL has a password, an unknown scheme, or is not a ``.gpkg`` path.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in PG_SCHEMES:
        return PostGISStore.from_url(url, password=password, db_schema=db_schema)
    if scheme:
        raise InputError(f"store url scheme '{scheme}://' is not supported; use a .gpkg path or "
                         "postgresql+psycopg://user@host:port/database")
    path = Path(url)
    if path.suffix.lower() != ".gpkg":
        raise InputError(f"store '{url}': use a GeoPackage file (.gpkg) or a "
                         "postgresql+psycopg://user@host:port/database url")
    return GeoPackageStore(path)


def resolve_password(*, password_env: str | None, password_file: Path | None) -> str | None:
    """Read the database password from an environment variable or an owner-only file.

    Raises
    ------
    InputError
        If both are given, the variable is unset, or the file is missing,
        empty or readable by group or others.
    """
    if password_env and password_file:
        raise InputError("give store.password_env or store.password_file, not both")
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise InputError(f"environment variable {password_env} (store.password_env) is not "
                             "set; export it, e.g. through the systemd unit's EnvironmentFile")
        return value
    if password_file:
        path = Path(password_file)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise InputError(f"{path}: password file (store.password_file) not found") from None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise InputError(f"{path}: password file has mode {mode:04o}, readable by others; "
                             f"run chmod 600 {path}")
        value = path.read_text(encoding="utf-8").strip("\r\n")
        if not value:
            raise InputError(f"{path}: password file is empty")
        return value
    return None


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
    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the store's run lock; raise :class:`LockedError` if another job has it."""

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

    # ---- shared logic --------------------------------------------------------------

    def __enter__(self) -> Store:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_schema(self) -> None:
        """Create ``match_runs``, ``match_results`` and ``match_unmatched`` if missing."""
        self._create_result_tables()

    def mark_interrupted(self, *, finished_at: datetime.datetime) -> int:
        """Mark runs left ``running`` by a killed job as failed; return how many.

        Call only while holding :meth:`lock`: then no other job is running.
        """
        with self._transaction():
            stale = self._execute("SELECT run_id FROM match_runs WHERE status = 'running'")
            if stale:
                self._execute("UPDATE match_runs SET status = 'failed', finished_at = ?, "
                              "error = ?, exit_code = ? WHERE status = 'running'",
                              (stamp(finished_at), _INTERRUPTED, 1))
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
                   keep_runs: int, between: Callable[[], None] | None = None) -> WriteCounts:
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
        """
        columns = _checked(fields, RUN_COLUMNS)
        result_rows = _rows(results, ["run_id", *RESULT_COLUMNS], run_id)
        unmatched_rows = _rows(unmatched, ["run_id", *UNMATCHED_COLUMNS], run_id)
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
            deleted = self._retain(keep_runs)
        return WriteCounts(len(result_rows), len(unmatched_rows), deleted)

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

    def runs(self) -> pd.DataFrame:
        """Return ``match_runs`` ordered from oldest to newest."""
        return self._frame("SELECT * FROM match_runs ORDER BY seq")

    def results(self, run_id: str | None = None) -> pd.DataFrame:
        """Return ``match_results`` (of one run, or all) ordered by run and child."""
        return self._table_of("match_results", run_id)

    def unmatched(self, run_id: str | None = None) -> pd.DataFrame:
        """Return ``match_unmatched`` (of one run, or all) ordered by run and child."""
        return self._table_of("match_unmatched", run_id)

    def latest_results(self) -> pd.DataFrame:
        """Return the results of the latest successful run (empty if none)."""
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


# --------------------------------------------------------------------------- GeoPackage


class GeoPackageStore(Store):
    """A GeoPackage file: input layers read with pyogrio, result tables through ``sqlite3``.

    The result tables are GeoPackage attribute tables (registered in
    ``gpkg_contents``, so QGIS and GDAL list them). The run lock is an
    ``fcntl.flock`` on ``<file>.lock`` beside the GeoPackage.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    """

    kind = "geopackage"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.display = str(self.path)
        self._conn: sqlite3.Connection | None = None

    def connect(self, *, create: bool = False) -> None:
        """Open the file (``create``: make an empty GeoPackage when it is missing)."""
        if not self.path.is_file():
            if not create:
                raise StoreUnavailableError(
                    f"GeoPackage store {self.path} not found; check store.url, or load the "
                    "input tables with `matcher nightly-load`")
            _create_geopackage(self.path)
        try:
            conn = sqlite3.connect(f"file:{urllib.parse.quote(str(self.path))}?mode=rw",
                                   uri=True, timeout=30.0, isolation_level=None)
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            has_contents = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = "
                                        "'table' AND name = 'gpkg_contents'").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"GeoPackage store {self.path} cannot be opened "
                                        f"({exc}); check the file and its permissions") from None
        if app_id not in (0x47504B47, 0x47503130) or not has_contents:
            conn.close()
            raise StoreUnavailableError(f"{self.path} is not a GeoPackage; give a .gpkg "
                                        "file written by GDAL/QGIS or `matcher nightly-load`")
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def lock_path(self) -> Path:
        """The lock file, ``<store>.lock``."""
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot create the lock file {self.lock_path} "
                                        f"({exc.strerror}); check the folder's permissions"
                                        ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(f"another nightly run holds {self.lock_path}; this run "
                                  "exits without doing anything") from None
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError(f"GeoPackage store {self.path} is not open")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        db = self._db()
        with _sqlite_errors(self.path):
            db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        with _sqlite_errors(self.path):
            db.execute("COMMIT")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _sqlite_errors(self.path):
            return self._db().execute(sql, tuple(params)).fetchall()

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with _sqlite_errors(self.path):
            self._db().executemany(sql, rows)

    def _columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str],
                                                                          list[tuple[Any, ...]]]:
        with _sqlite_errors(self.path):
            cur = self._db().execute(sql, tuple(params))
            return [d[0] for d in cur.description], cur.fetchall()

    def _create_result_tables(self) -> None:
        runs = ", ".join(f"{c} {types[0]}" for c, types in RUN_COLUMNS.items())
        results = ", ".join(f"{c} {types[0]}" for c, types in RESULT_COLUMNS.items())
        unmatched = ", ".join(f"{c} {types[0]}" for c, types in UNMATCHED_COLUMNS.items())
        ddl = {
            "match_runs": f"seq INTEGER PRIMARY KEY AUTOINCREMENT, {runs}",
            "match_results": f"fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
                             f"{results}, UNIQUE (run_id, child_id)",
            "match_unmatched": f"fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
                               f"{unmatched}, UNIQUE (run_id, child_id)",
        }
        descriptions = {
            "match_runs": "fostermatch nightly runs",
            "match_results": "fostermatch results: one row per child per run",
            "match_unmatched": "fostermatch unmatched children and their reasons",
        }
        with self._transaction():
            for table, columns in ddl.items():
                self._execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
                self._execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, "
                              "identifier, description) VALUES (?, 'attributes', ?, ?)",
                              (table, table, descriptions[table]))

    def read_tables(self) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
        problems: list[Problem] = []
        try:
            layers = {str(n) for n in pyogrio.list_layers(self.path)[:, 0]}
        except (pyogrio.errors.DataSourceError, RuntimeError, OSError) as exc:
            raise StoreUnavailableError(f"GeoPackage store {self.path} cannot be read "
                                        f"({str(exc).split(';')[0]})") from None
        frames: dict[str, pd.DataFrame | None] = {}
        for name in schema.TABLES:
            if name not in layers:
                frames[name] = None
                if name in ("children", "homes"):
                    problems.append(_missing_table(name, self.display))
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    frame = pyogrio.read_dataframe(self.path, layer=name)
                except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                        RuntimeError, OSError, ValueError) as exc:
                    frames[name] = None
                    problems.append(Problem(name, "cannot read the layer "
                                            f"({str(exc).split(';')[0]}); it is damaged: "
                                            "load it again"))
                    continue
            for w in caught:
                logger.warning("%s: reader warning (%s)", name, type(w.message).__name__)
            frames[name] = frame
        return frames, problems

    def write_inputs(self, tables: Mapping[str, pd.DataFrame]) -> None:
        for name in schema.TABLES:
            frame = tables.get(name)
            if frame is None:
                with contextlib.suppress(pyogrio.errors.DataSourceError,
                                         pyogrio.errors.DataLayerError, RuntimeError):
                    if self.path.is_file() and name in set(pyogrio.list_layers(self.path)[:, 0]):
                        self._drop_layer(name)
                continue
            out: pd.DataFrame
            if name in POINT_TABLES:
                out = gpd.GeoDataFrame(
                    frame.drop(columns=["lon", "lat"]),
                    geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")
            else:
                out = frame
            pyogrio.write_dataframe(out, self.path, layer=name, driver="GPKG",
                                    layer_options={"SPATIAL_INDEX": "NO", "OVERWRITE": "YES"})
        os.chmod(self.path, 0o600)

    def _drop_layer(self, name: str) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
                with contextlib.suppress(sqlite3.OperationalError):
                    conn.execute(f"DELETE FROM {meta} WHERE table_name = ?", (name,))
            conn.execute("COMMIT")
        finally:
            conn.close()


def _create_geopackage(path: Path) -> None:
    """Create an empty GeoPackage (no layers) with GDAL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    probe = pd.DataFrame({"x": pd.Series([], dtype="int64")})
    pyogrio.write_dataframe(probe, path, layer="_fostermatch_init", driver="GPKG")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TABLE _fostermatch_init")
        for meta in ("gpkg_contents", "gpkg_ogr_contents"):
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute(f"DELETE FROM {meta} WHERE table_name = '_fostermatch_init'")
    finally:
        conn.close()
    os.chmod(path, 0o600)


@contextlib.contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"GeoPackage store {path}: {exc}; another program may hold "
                                    "a write lock, or the disk is full or read-only") from None
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise
        raise StoreUnavailableError(f"GeoPackage store {path} is damaged ({exc}); restore "
                                    "it from a backup") from None


# --------------------------------------------------------------------------- PostGIS


class PostGISStore(Store):
    """A PostgreSQL database (PostGIS for geometry columns), through psycopg 3.

    Parameters
    ----------
    conninfo
        libpq parameters (``host``, ``port``, ``dbname``, ``user``...).
    password
        Password, kept out of :attr:`display` and of every message.
    db_schema
        Schema holding the tables.
    display
        Where the store is, for messages.
    """

    kind = "postgis"

    def __init__(self, conninfo: Mapping[str, str], *, password: str | None,
                 db_schema: str, display: str) -> None:
        self._conninfo = dict(conninfo)
        self._password = password
        self.db_schema = db_schema
        self.display = display
        self._conn: Any = None

    @classmethod
    def from_url(cls, url: str, *, password: str | None, db_schema: str) -> PostGISStore:
        """Parse ``postgresql+psycopg://user@host:port/db?param=value``.

        Raises
        ------
        InputError
            If the URL holds a password or no database name.
        """
        if not _IDENTIFIER.fullmatch(db_schema):
            raise InputError(f"store.schema '{db_schema}' is not a plain SQL name; use letters, "
                             "digits and '_'")
        parts = urllib.parse.urlsplit(url)
        if parts.password is not None:
            raise InputError("the store url holds a password; remove it and use "
                             "store.password_env or store.password_file (a mode 0600 file)")
        dbname = urllib.parse.unquote(parts.path.lstrip("/"))
        if not dbname:
            raise InputError("the store url names no database; write "
                             "postgresql+psycopg://user@host:port/database")
        info = {k: v for k, v in urllib.parse.parse_qsl(parts.query)}
        if "password" in info:
            raise InputError("the store url holds a password parameter; remove it and use "
                             "store.password_env or store.password_file")
        try:
            port = parts.port
        except ValueError:
            raise InputError("the store url has an invalid port; write host:5432") from None
        info["dbname"] = dbname
        if parts.hostname:
            info["host"] = parts.hostname
        if port:
            info["port"] = str(port)
        if parts.username:
            info["user"] = urllib.parse.unquote(parts.username)
        user = info.get("user") or getpass.getuser()
        where = f"{info.get('host', 'localhost')}:{info.get('port', '5432')}"
        display = f"postgresql://{user}@{where}/{dbname}"
        if db_schema != "public":
            display += f" (schema {db_schema})"
        return cls(info, password=password, db_schema=db_schema, display=display)

    def connect(self, *, create: bool = False) -> None:
        import psycopg

        params: dict[str, Any] = {"connect_timeout": "10", "application_name": "fostermatch",
                                  **self._conninfo}
        if self._password is not None:
            params["password"] = self._password
        try:
            conn = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            reason = _first_line(exc)
            hint = ("check the password (store.password_env or store.password_file)"
                    if "password" in reason.lower() or "authentication" in reason.lower()
                    else "check that the server is running and reachable")
            raise StoreUnavailableError(f"PostGIS store {self.display} is unavailable: "
                                        f"{reason}; {hint}") from None
        self._conn = conn
        found = self._execute("SELECT count(*) FROM pg_namespace WHERE nspname = ?",
                              (self.db_schema,))
        if not found[0][0]:
            self.close()
            raise InputError(f"schema '{self.db_schema}' does not exist in {self.display}; "
                             "create it or fix store.schema")
        # Result tables resolve in the store's schema; PostGIS functions in public.
        self._execute(f"SET search_path TO {_ident(self.db_schema)}, public")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    @property
    def lock_key(self) -> int:
        """The advisory-lock key (a signed 64-bit hash of the schema name)."""
        digest = hashlib.sha256(f"fostermatch.nightly:{self.db_schema}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        got = self._execute("SELECT pg_try_advisory_lock(?)", (self.lock_key,))[0][0]
        if not got:
            raise LockedError(f"another nightly run holds the advisory lock of {self.display}; "
                              "this run exits without doing anything")
        try:
            yield
        finally:
            with contextlib.suppress(StoreUnavailableError):
                self._execute("SELECT pg_advisory_unlock(?)", (self.lock_key,))

    def _db(self) -> Any:
        if self._conn is None or self._conn.closed:
            raise StoreUnavailableError(f"PostGIS store {self.display} is not connected")
        return self._conn

    @contextlib.contextmanager
    def _pg_errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailableError(f"PostGIS store {self.display}: lost the connection "
                                        f"({_first_line(exc)}); check the server") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._pg_errors(), self._db().transaction():
            yield

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pg_errors(), self._db().cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._pg_errors(), self._db().cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def _columns_of(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str],
                                                                          list[tuple[Any, ...]]]:
        with self._pg_errors(), self._db().cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return [d.name for d in cur.description], cur.fetchall()

    def _create_result_tables(self) -> None:
        s = _ident(self.db_schema)
        runs = ", ".join(f"{c} {types[1]}" for c, types in RUN_COLUMNS.items())
        results = ", ".join(f"{c} {types[1]}" for c, types in RESULT_COLUMNS.items())
        unmatched = ", ".join(f"{c} {types[1]}" for c, types in UNMATCHED_COLUMNS.items())
        fk = f"run_id text NOT NULL REFERENCES {s}.match_runs (run_id) ON DELETE CASCADE"
        with self._pg_errors(), self._db().transaction(), self._db().cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {s}.match_runs "
                        f"(seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, {runs})")
            cur.execute(f"CREATE TABLE IF NOT EXISTS {s}.match_results "
                        f"({fk}, {results}, PRIMARY KEY (run_id, child_id))")
            cur.execute(f"CREATE TABLE IF NOT EXISTS {s}.match_unmatched "
                        f"({fk}, {unmatched}, PRIMARY KEY (run_id, child_id))")

    def read_tables(self) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
        frames: dict[str, pd.DataFrame | None] = {}
        problems: list[Problem] = []
        for name in schema.TABLES:
            frame, more = self._read_table(name)
            frames[name] = frame
            problems += more
            if frame is None and name in ("children", "homes") and not more:
                problems.append(_missing_table(name, self.display))
        return frames, problems

    def _read_table(self, name: str) -> tuple[pd.DataFrame | None, list[Problem]]:
        cols = self._execute(
            "SELECT a.attname, t.typname, coalesce(i.indisprimary, false) "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
            "AND a.attnum = ANY (i.indkey) "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", (f"{_ident(self.db_schema)}.{_ident(name)}",))
        if not cols:
            return None, []
        known = schema.COLUMNS[name]
        geometry = [c for c, typ, _ in cols if typ == "geometry"]
        keys = [c for c, _, pk in cols if pk]
        plain = [c for c, typ, pk in cols if typ != "geometry" and not (pk and c not in known)]
        select = [_ident(c) for c in plain]
        if geometry:
            g = _ident(geometry[0])
            select += [f"ST_AsBinary({g})", f"ST_SRID({g})"]
        order = f" ORDER BY {', '.join(_ident(k) for k in keys)}" if keys else ""
        rows = self._execute(f"SELECT {', '.join(select) or '1'} FROM "
                             f"{_ident(self.db_schema)}.{_ident(name)}{order}")
        if not geometry:
            return _records(rows, plain), []
        attrs = _records([r[:-2] for r in rows], plain)
        srids = {int(r[-1]) for r in rows if r[-2] is not None}
        problems: list[Problem] = []
        crs: str | None = None
        if len(srids) > 1:
            problems.append(Problem(name, f"geometry column '{geometry[0]}' mixes SRIDs "
                                    f"{sorted(srids)}; transform to one SRID (ST_Transform)"))
        elif srids and 0 not in srids:
            crs = f"EPSG:{srids.pop()}"
        wkb = np.array([None if r[-2] is None else bytes(r[-2]) for r in rows], dtype=object)
        geoms = gpd.GeoSeries(shapely.from_wkb(wkb), crs=crs, index=attrs.index)
        return gpd.GeoDataFrame(attrs, geometry=geoms), problems

    def write_inputs(self, tables: Mapping[str, pd.DataFrame]) -> None:
        import psycopg

        s = _ident(self.db_schema)
        with self._transaction(), self._db().cursor() as cur:
            if any(name in tables for name in POINT_TABLES):
                have = cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"
                                   ).fetchone()[0]
                if not have:
                    try:
                        cur.execute("CREATE EXTENSION postgis")
                    except psycopg.Error as exc:
                        raise StoreUnavailableError(
                            f"PostGIS is not available in {self.display} ({_first_line(exc)}); "
                            "a superuser must run CREATE EXTENSION postgis (Debian package "
                            "postgresql-15-postgis-3)") from None
            for name in schema.TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {s}.{_ident(name)}")
                frame = tables.get(name)
                if frame is None:
                    continue
                types = INPUT_TYPES[name]
                columns = [c for c in types if c in frame.columns]
                ddl = ", ".join(f"{_ident(c)} {types[c]}" for c in columns)
                point = name in POINT_TABLES
                geom = ", geom geometry(Point, 4326)" if point else ""
                cur.execute(f"CREATE TABLE {s}.{_ident(name)} (fid bigint GENERATED BY DEFAULT "
                            f"AS IDENTITY PRIMARY KEY, {ddl}{geom})")
                values = ", ".join(["%s"] * len(columns))
                target = ", ".join(_ident(c) for c in columns)
                if point:
                    values += ", ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
                    target += ", geom"
                    use = [*columns, "lon", "lat"]
                else:
                    use = columns
                rows = [[_native(v) for v in row]
                        for row in frame[use].to_numpy(dtype=object).tolist()]
                if rows:
                    cur.executemany(f"INSERT INTO {s}.{_ident(name)} ({target}) "
                                    f"VALUES ({values})", rows)


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
    return Problem(name, f"no table '{name}' in {where}; load the inputs (e.g. "
                         "`matcher nightly-load --config FILE --from FOLDER`)")


# --------------------------------------------------------------------------- helpers


def export_inputs(inputs: schema.Inputs) -> dict[str, pd.DataFrame]:
    """Return validated inputs as the tables :meth:`Store.write_inputs` stores.

    Tags are joined with ``;``, dates are ISO text, missing values are ``None``,
    ``contacts`` loses its derived ``anchor_id``.
    """
    out: dict[str, pd.DataFrame] = {}
    children = inputs.children.copy()
    children["needs"] = children["needs"].map(schema.join_tags)
    children["waiting_since"] = [None if pd.isna(d) else pd.Timestamp(d).date().isoformat()
                                 for d in children["waiting_since"]]
    out["children"] = children
    homes = inputs.homes.copy()
    homes["competences"] = homes["competences"].map(schema.join_tags)
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


# --------------------------------------------------------------------------- throwaway server


@dataclass
class TemporaryPostgres:
    """A throwaway PostgreSQL (+PostGIS) server on loopback, for tests and benchmarks.

    Create it with :func:`temporary_postgres`. The superuser ``postgres`` has
    :attr:`password` (scram-sha-256 over TCP); the database :attr:`dbname`
    has PostGIS when it is installed.

    Attributes
    ----------
    bindir
        Folder of ``initdb``, ``pg_ctl`` and ``postgres``.
    root
        Temporary folder with the data directory, log and socket.
    port
        TCP port on 127.0.0.1.
    password
        Password of the ``postgres`` role.
    dbname
        Database created for the caller.
    run_as
        Command prefix that runs the server binaries as a non-root user.
    """

    bindir: Path
    root: Path
    port: int
    password: str
    dbname: str = "fostermatch"
    run_as: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The store URL (no password)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def conninfo(self, dbname: str | None = None) -> dict[str, str]:
        """libpq parameters, password included (for the caller's own connections)."""
        return {"host": "127.0.0.1", "port": str(self.port), "user": "postgres",
                "password": self.password, "dbname": dbname or self.dbname}

    def _ctl(self, *args: str) -> None:
        cmd = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
               "-l", str(self.root / "server.log"), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise StoreUnavailableError(f"pg_ctl {args[-1]} failed: {done.stderr.strip()} "
                                        f"(log: {self.root / 'server.log'})")

    def start(self) -> None:
        """Start (or restart after :meth:`stop`) the server and wait until it accepts."""
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off")
        self._ctl("-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        self._ctl("-w", "-m", "fast", "stop")

    def is_running(self) -> bool:
        """Return True when the server's postmaster runs."""
        return (self.root / "data" / "postmaster.pid").exists()


def find_postgres_bindir() -> Path | None:
    """Return the folder of the newest PostgreSQL server binaries, or ``None``."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                         reverse=True)
    for folder in candidates:
        if all((folder / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


@contextlib.contextmanager
def temporary_postgres(*, bindir: Path | None = None,
                       postgis: bool = True) -> Iterator[TemporaryPostgres]:
    """Run a throwaway PostgreSQL server in a temporary folder; remove it afterwards.

    As root the server runs as the ``postgres`` user (``runuser``), since
    PostgreSQL refuses to run as root.

    Parameters
    ----------
    bindir
        Server binaries (default: :func:`find_postgres_bindir`).
    postgis
        Create the PostGIS extension in the database.

    Raises
    ------
    StoreUnavailableError
        If the binaries or PostGIS are missing (the message says what to install),
        or the server does not start.
    """
    import psycopg

    bindir = bindir or find_postgres_bindir()
    if bindir is None:
        raise StoreUnavailableError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                                    "install them: apt-get install postgresql "
                                    "postgresql-15-postgis-3")
    root = Path(tempfile.mkdtemp(prefix="fostermatch-pg-"))
    run_as: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise StoreUnavailableError("running as root needs a 'postgres' user to run the "
                                        "server; install the postgresql package") from None
        owner = (user.pw_uid, user.pw_gid)
        run_as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(18)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    os.chmod(pwfile, 0o600)
    if owner is not None:
        os.chown(root, *owner)
        os.chown(pwfile, *owner)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = TemporaryPostgres(bindir=bindir, root=root, port=port, password=password,
                               run_as=run_as)
    try:
        init = subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, check=False, timeout=300)
        if init.returncode != 0:
            raise StoreUnavailableError(f"initdb failed: {init.stderr.strip()}")
        pwfile.unlink()
        server.start()
        with psycopg.connect(autocommit=True, **server.conninfo("postgres")) as conn:
            conn.execute(f"CREATE DATABASE {server.dbname}")
        if postgis:
            with psycopg.connect(autocommit=True, **server.conninfo()) as conn:
                try:
                    conn.execute("CREATE EXTENSION postgis")
                except psycopg.Error as exc:
                    raise StoreUnavailableError(
                        f"PostGIS is not installed for this PostgreSQL ({_first_line(exc)}); "
                        "install it: apt-get install postgresql-15-postgis-3") from None
        yield server
    finally:
        if server.is_running():
            with contextlib.suppress(StoreUnavailableError, subprocess.TimeoutExpired):
                server._ctl("-w", "-m", "immediate", "stop")
        for _ in range(3):
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                break
            time.sleep(0.2)
