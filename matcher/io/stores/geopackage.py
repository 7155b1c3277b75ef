"""The nightly store in one GeoPackage file (SQLite), with a file lock."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import urllib.parse
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from matcher import schema
from matcher.errors import LockedError, Problem, StoreUnavailableError
from matcher.i18n import gettext as _
from matcher.io import readers
from matcher.io.stores.base import (
    DECISION_COLUMNS,
    POINT_TABLES,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    UNMATCHED_COLUMNS,
    Store,
    _missing_table,
    wait_for_lock,
)

__all__ = ["GeoPackageStore"]

logger = logging.getLogger(__name__)

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
                    _("GeoPackage store {path} not found; check store.url, or load the input "
                      "tables with `matcher nightly-load`").format(path=self.path))
            _create_geopackage(self.path)
        try:
            conn = sqlite3.connect(f"file:{urllib.parse.quote(str(self.path))}?mode=rw",
                                   uri=True, timeout=30.0, isolation_level=None)
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            has_contents = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = "
                                        "'table' AND name = 'gpkg_contents'").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreUnavailableError(_("GeoPackage store {path} cannot be opened ({error}); "
                                          "check the file and its permissions")
                                        .format(path=self.path, error=exc)) from None
        if app_id not in (0x47504B47, 0x47503130) or not has_contents:
            conn.close()
            raise StoreUnavailableError(_("{path} is not a GeoPackage; give a .gpkg file "
                                          "written by GDAL/QGIS or `matcher nightly-load`")
                                        .format(path=self.path))
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
    def lock(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailableError(_("cannot create the lock file {path} ({reason}); check "
                                          "the folder's permissions")
                                        .format(path=self.lock_path, reason=exc.strerror)
                                        ) from None
        try:
            def take() -> bool:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            if not wait_for_lock(take, wait_seconds=wait_seconds, what=str(self.lock_path)):
                raise LockedError(_("another nightly run holds {path}; this run exits without "
                                    "doing anything").format(path=self.lock_path))
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailableError(_("GeoPackage store {path} is not open")
                                        .format(path=self.path))
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

    def _has_table(self, name: str) -> bool:
        rows = self._execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (name,))
        return bool(rows)

    def _create_decisions_table(self) -> None:
        cols = ", ".join(f'"{c}" {types[0]}' for c, types in DECISION_COLUMNS.items())
        self._execute(f"CREATE TABLE IF NOT EXISTS decisions "
                      f"(fid INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
        self._execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
                      "description) VALUES ('decisions', 'attributes', 'decisions', "
                      "'fostermatch decisions on proposals')")

    def read_tables(self) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
        problems: list[Problem] = []
        try:
            layers = {str(n) for n in pyogrio.list_layers(self.path)[:, 0]}
        except (pyogrio.errors.DataSourceError, RuntimeError, OSError) as exc:
            raise StoreUnavailableError(_("GeoPackage store {path} cannot be read ({error})")
                                        .format(path=self.path,
                                                error=str(exc).split(";")[0])) from None
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
                    frame = readers.read_gpkg_layer(self.path, name)
                except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                        RuntimeError, OSError, ValueError) as exc:
                    frames[name] = None
                    problems.append(Problem(name, _("cannot read the layer ({error}); it is "
                                                    "damaged: load it again")
                                            .format(error=str(exc).split(";")[0])))
                    continue
            for w in caught:
                logger.warning(_("{table}: reader warning ({warning})")
                               .format(table=name, warning=type(w.message).__name__))
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
        raise StoreUnavailableError(_("GeoPackage store {path}: {error}; another program may "
                                      "hold a write lock, or the disk is full or read-only")
                                    .format(path=path, error=exc)) from None
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise
        raise StoreUnavailableError(_("GeoPackage store {path} is damaged ({error}); restore "
                                      "it from a backup").format(path=path, error=exc)) from None


