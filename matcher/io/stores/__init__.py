"""The nightly job's stores: a GeoPackage file or a PostgreSQL/PostGIS database.

See :mod:`matcher.io.stores.base` for the tables, transactions and locks.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from matcher.errors import InputError
from matcher.i18n import gettext as _
from matcher.io.stores.base import (
    DECISION_COLUMNS,
    HISTORY_COLUMNS,
    INPUT_TYPES,
    PG_SCHEMES,
    POINT_TABLES,
    RESULT_COLUMNS,
    RESULT_TABLES,
    RUN_COLUMNS,
    UNMATCHED_COLUMNS,
    LastRun,
    Store,
    WriteCounts,
    export_inputs,
    stamp,
)
from matcher.io.stores.geopackage import GeoPackageStore
from matcher.io.stores.postgis import PostGISStore

__all__ = [
    "DECISION_COLUMNS",
    "HISTORY_COLUMNS",
    "INPUT_TYPES",
    "PG_SCHEMES",
    "POINT_TABLES",
    "RESULT_COLUMNS",
    "RESULT_TABLES",
    "RUN_COLUMNS",
    "UNMATCHED_COLUMNS",
    "GeoPackageStore",
    "LastRun",
    "PostGISStore",
    "Store",
    "WriteCounts",
    "export_inputs",
    "open_store",
    "resolve_password",
    "stamp",
]


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
        raise InputError(_("store url scheme '{scheme}://' is not supported; use a .gpkg path "
                           "or postgresql+psycopg://user@host:port/database")
                         .format(scheme=scheme))
    path = Path(url)
    if path.suffix.lower() != ".gpkg":
        raise InputError(_("store '{url}': use a GeoPackage file (.gpkg) or a "
                           "postgresql+psycopg://user@host:port/database url").format(url=url))
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
        raise InputError(_("give store.password_env or store.password_file, not both"))
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise InputError(_("environment variable {name} (store.password_env) is not set; "
                               "export it, e.g. through the systemd unit's EnvironmentFile")
                             .format(name=password_env))
        return value
    if password_file:
        path = Path(password_file)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise InputError(_("{path}: password file (store.password_file) not found")
                             .format(path=path)) from None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise InputError(_("{path}: password file has mode {mode}, readable by others; "
                               "run chmod 600 {path}").format(path=path, mode=f"{mode:04o}"))
        value = path.read_text(encoding="utf-8").strip("\r\n")
        if not value:
            raise InputError(_("{path}: password file is empty").format(path=path))
        return value
    return None


