"""The nightly store in PostgreSQL/PostGIS, with an advisory lock."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from matcher import schema
from matcher.errors import InputError, LockedError, Problem, StoreUnavailableError
from matcher.i18n import gettext as _
from matcher.io.stores.base import (
    _IDENTIFIER,
    DECISION_COLUMNS,
    INPUT_TYPES,
    POINT_TABLES,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    UNMATCHED_COLUMNS,
    Store,
    _first_line,
    _ident,
    _missing_table,
    _native,
    _records,
    wait_for_lock,
)

__all__ = ["PostGISStore"]

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
            raise InputError(_("store.schema '{schema}' is not a plain SQL name; use letters, "
                               "digits and '_'").format(schema=db_schema))
        parts = urllib.parse.urlsplit(url)
        if parts.password is not None:
            raise InputError(_("the store url holds a password; remove it and use "
                               "store.password_env or store.password_file (a mode 0600 file)"))
        dbname = urllib.parse.unquote(parts.path.lstrip("/"))
        if not dbname:
            raise InputError(_("the store url names no database; write "
                               "postgresql+psycopg://user@host:port/database"))
        info = {k: v for k, v in urllib.parse.parse_qsl(parts.query)}
        if "password" in info:
            raise InputError(_("the store url holds a password parameter; remove it and use "
                               "store.password_env or store.password_file"))
        try:
            port = parts.port
        except ValueError:
            raise InputError(_("the store url has an invalid port; write host:5432")) from None
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
            text = (_("PostGIS store {store} is unavailable: {reason}; check the password "
                      "(store.password_env or store.password_file)")
                    if "password" in reason.lower() or "authentication" in reason.lower()
                    else _("PostGIS store {store} is unavailable: {reason}; check that the "
                           "server is running and reachable"))
            raise StoreUnavailableError(text.format(store=self.display, reason=reason)
                                        ) from None
        self._conn = conn
        found = self._execute("SELECT count(*) FROM pg_namespace WHERE nspname = ?",
                              (self.db_schema,))
        if not found[0][0]:
            self.close()
            raise InputError(_("schema '{schema}' does not exist in {store}; create it or fix "
                               "store.schema").format(schema=self.db_schema, store=self.display))
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
    def lock(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        def take() -> bool:
            return bool(self._execute("SELECT pg_try_advisory_lock(?)", (self.lock_key,))[0][0])

        if not wait_for_lock(take, wait_seconds=wait_seconds,
                             what=_("the advisory lock of {store}").format(store=self.display)):
            raise LockedError(_("another nightly run holds the advisory lock of {store}; this "
                                "run exits without doing anything").format(store=self.display))
        try:
            yield
        finally:
            with contextlib.suppress(StoreUnavailableError):
                self._execute("SELECT pg_advisory_unlock(?)", (self.lock_key,))

    def _db(self) -> Any:
        if self._conn is None or self._conn.closed:
            raise StoreUnavailableError(_("PostGIS store {store} is not connected")
                                        .format(store=self.display))
        return self._conn

    @contextlib.contextmanager
    def _pg_errors(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailableError(_("PostGIS store {store}: lost the connection ({error}); "
                                          "check the server")
                                        .format(store=self.display, error=_first_line(exc))
                                        ) from None

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

    def _has_table(self, name: str) -> bool:
        rows = self._execute("SELECT to_regclass(?) IS NOT NULL",
                             (f"{_ident(self.db_schema)}.{_ident(name)}",))
        return bool(rows and rows[0][0])

    def _create_decisions_table(self) -> None:
        cols = ", ".join(f"{_ident(c)} {types[1]}" for c, types in DECISION_COLUMNS.items())
        self._execute(f"CREATE TABLE IF NOT EXISTS {_ident(self.db_schema)}.decisions "
                      f"(fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, {cols})")

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
        geometry = [c for c, typ, _pk in cols if typ == "geometry"]
        keys = [c for c, _typ, pk in cols if pk]
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
            problems.append(Problem(name, _("geometry column '{column}' mixes SRIDs {srids}; "
                                            "transform to one SRID (ST_Transform)")
                                    .format(column=geometry[0],
                                            srids=", ".join(str(s) for s in sorted(srids)))))
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
                            _("PostGIS is not available in {store} ({error}); a superuser must "
                              "run CREATE EXTENSION postgis (Debian package "
                              "postgresql-15-postgis-3)")
                            .format(store=self.display, error=_first_line(exc))) from None
            for name in schema.TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {s}.{_ident(name)}")
                frame = tables.get(name)
                if frame is None:
                    continue
                point = name in POINT_TABLES
                # every column is kept: one this version has no type for is stored as text
                types = {**INPUT_TYPES[name], **{c: "text" for c in frame.columns
                                                 if c not in INPUT_TYPES[name]
                                                 and not (point and c in ("lon", "lat"))}}
                columns = [c for c in types if c in frame.columns]
                ddl = ", ".join(f"{_ident(c)} {types[c]}" for c in columns)
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


