"""The one reader of geodata and tables: inputs, points, polygons, population, time tables.

Tables are read from CSV (UTF-8, ``,`` or ``;`` delimited), GeoJSON or
GeoPackage (``file.gpkg:layer`` names a layer; the first layer is read
otherwise). Reading never validates the domain: it returns frames and
problems, and :mod:`matcher.schema` checks them. Every problem names the file
(and, where it applies, the row and column) and how to fix it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import logging
import re
import sqlite3
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors

from matcher import schema, tables
from matcher.config import DEFAULT_CRS, ScoringSettings
from matcher.errors import InputError, Problem, raise_if_problems
from matcher.i18n import N_, format_number
from matcher.i18n import gettext as _
from matcher.lookup import Registers
from matcher.schema import Inputs
from matcher.timetable import TimeTable

__all__ = [
    "POINT_SUFFIXES",
    "TableRead",
    "read_frame",
    "read_gpkg_layer",
    "read_inputs",
    "read_points",
    "read_polygons",
    "read_population",
    "read_table",
    "read_times",
]

log = logging.getLogger(__name__)

POINT_SUFFIXES = (".csv", ".geojson", ".json", ".gpkg")
"""Suffixes of the files the readers accept."""


@dataclass(frozen=True)
class TableRead:
    """One table file as read, before any domain check.

    Attributes
    ----------
    frame
        The table (text columns for CSV; typed columns and geometry for
        GeoJSON/GeoPackage), or ``None`` when it could not be read.
    label
        ``file name`` or ``file name:layer``, used as the source of problems.
    sha256
        SHA-256 hex digest of the file's bytes (``None`` when unreadable).
    problems
        What prevented reading; empty on success.
    """

    frame: pd.DataFrame | None
    label: str
    sha256: str | None
    problems: tuple[Problem, ...] = ()


def read_table(path: str | Path) -> TableRead:
    """Read one table file (CSV, GeoJSON or GeoPackage[:layer]) without raising.

    Parameters
    ----------
    path
        The file; ``file.gpkg:layer`` selects a GeoPackage layer.

    Returns
    -------
    TableRead
        The frame, its label and digest, or the problems that prevented reading.
    """
    path = Path(path)
    layer: str | None = None
    if not path.exists() and ":" in path.name:
        stem, _colon, maybe_layer = path.name.rpartition(":")
        if stem.lower().endswith(".gpkg"):
            path, layer = path.with_name(stem), maybe_layer
    label = path.name + (f":{layer}" if layer else "")

    def fail(message: str) -> TableRead:
        return TableRead(None, label, None, (Problem(label, message),))

    if not path.exists():
        return fail(_("file not found: {path}; check the path").format(path=path))
    if path.is_dir():
        return fail(_("{path} is a directory; give a file").format(path=path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        return fail(_("cannot read file ({reason}); check its permissions")
                    .format(reason=exc.strerror))
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        frame, problems = _read_csv(data, label)
    elif suffix in (".gpkg", ".geojson", ".json"):
        frame, problems = _read_ogr(path, layer, label)
    else:
        return fail(_("unsupported file type '{suffix}'; use .csv (UTF-8), .geojson or .gpkg")
                    .format(suffix=path.suffix))
    return TableRead(frame, label, digest if frame is not None else None, tuple(problems))


def _read_csv(data: bytes, label: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [Problem(label, _("not UTF-8 text; save the file as 'CSV UTF-8'"))]
    first = text.lstrip().partition("\n")[0]
    if not first.strip():
        return None, [Problem(label, _("file is empty; it needs a header row with the column "
                                       "names (see README.md, 'Input tables')"))]
    # Excel with a Norwegian locale writes ';'-delimited CSV.
    sep = ";" if ";" in first and "," not in first else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False, quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        return None, [Problem(label, _("not valid CSV ({error}); check quoting and the number "
                                       "of fields on each line").format(error=exc))]
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(_looks_like_data(c) for c in frame.columns):
        # Never quote the row: it is a record (ids, coordinates), not column names.
        return None, [Problem(label, _("the first row looks like data, not column names; add "
                                       "a header row with the column names (see README.md, "
                                       "'Input tables')"))]
    return frame, []


def _looks_like_data(name: str) -> bool:
    """Whether a header cell holds a value (a number, also with a decimal comma) rather than a name.

    Each part of the cell between spaces, tabs or other delimiters is checked,
    so that a whole record read as one name (another delimiter) counts too.
    pandas' name of an empty header cell (``Unnamed: 3``) is not data.
    """
    if re.fullmatch(r"Unnamed: \d+", name):
        return False
    for part in re.split(r"[\s,;|]+", name.strip()):
        for text in (part, part.replace(",", ".", 1)):
            try:
                float(text)
            except ValueError:
                continue
            return part.lower().lstrip("+-") not in ("inf", "infinity", "nan")
    return bool(re.search(r"\d[.,]\d", name))


def _read_ogr(path: Path, layer: str | None, label: str) -> tuple[pd.DataFrame | None,
                                                                  list[Problem]]:
    gpkg = path.suffix.lower() == ".gpkg"
    kind = "GeoPackage" if gpkg else "GeoJSON"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
            if not layers:
                return None, [Problem(label, _("{kind} file has no layers; write the table "
                                               "into it").format(kind=kind))]
            if layer is None and len(layers) > 1:
                return None, [Problem(label, _(
                    "{kind} file has {n} layers; name one as {file}:LAYER (layers: {layers})")
                    .format(kind=kind, n=len(layers), file=path.name,
                            layers=", ".join(layers)))]
            if layer is None:
                layer = layers[0]
            elif layer not in layers:
                return None, [Problem(label, _("no layer '{layer}'; available: {layers}")
                                      .format(layer=layer, layers=", ".join(layers)))]
            if gpkg:
                frame = read_gpkg_layer(path, layer)
            else:
                frame = pyogrio.read_dataframe(path, layer=layer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                RuntimeError, OSError, ValueError) as exc:
            reason = str(exc).split(";")[0]
            return None, [Problem(label, _("cannot read as a {kind} file ({reason}); the file is "
                                           "corrupt or not a {kind} file: re-export it")
                                  .format(kind=kind, reason=reason))]
    for w in caught:
        log.warning(_("{file}: reader warning: {warning}").format(file=label,
                                                                  warning=w.message))
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, []


_SQLITE_KINDS: dict[str, tuple[str, ...]] = {"INT": ("integer",), "BOOL": ("integer",),
                                              "REAL": ("integer", "real"),
                                              "FLOA": ("integer", "real"),
                                              "DOUB": ("integer", "real")}
"""Declared SQLite column type (by prefix) -> the storage classes GDAL reads faithfully."""


def read_gpkg_layer(path: str | Path, layer: str) -> pd.DataFrame:
    """Read a GeoPackage layer, keeping cells that do not fit their column's type as text.

    SQLite lets any cell hold any value: ``UPDATE children SET age = 'fifteen'``
    succeeds on an ``INTEGER`` column, and GDAL then reads ``0`` (and ``12``
    for ``12.7``). Such cells are put back as their text (``'fifteen'``,
    ``'12.7'``), so that validation reports them by row and column instead
    of using a wrong number.

    Parameters
    ----------
    path
        The GeoPackage file.
    layer
        The layer (table) name.

    Returns
    -------
    pandas.DataFrame
        The layer (a GeoDataFrame when it has geometry), rows in feature-id
        order with a fresh ``RangeIndex``.

    Raises
    ------
    pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError
        If GDAL cannot read the layer.
    """
    frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
    try:
        raw = _mistyped_cells(Path(path), layer, [str(c) for c in frame.columns])
    except sqlite3.Error as exc:
        log.warning(_("{file}:{layer}: cell types not checked ({error})")
                    .format(file=Path(path).name, layer=layer, error=type(exc).__name__))
        raw = {}
    for column, cells in raw.items():
        rows = frame.index.get_indexer(list(cells))
        values = frame[column].astype(object).to_numpy(copy=True)
        for row, value in zip(rows, cells.values(), strict=True):
            if row >= 0:
                values[row] = value
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    return frame.reset_index(drop=True)


def _mistyped_cells(path: Path, layer: str, columns: list[str]) -> dict[str, dict[int, str]]:
    """Cells of numeric columns whose stored value is of another type, by fid, as text."""
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    out: dict[str, dict[int, str]] = {}
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        info = conn.execute(f'PRAGMA table_info("{_quote_ident(layer)}")').fetchall()
        pk = [r[1] for r in info if r[5]]
        if len(pk) != 1:
            return out
        for _cid, name, declared, *_rest in info:
            ok = next((v for k, v in _SQLITE_KINDS.items()
                       if str(declared).upper().startswith(k)), None)
            if ok is None or name not in columns or name == pk[0]:
                continue
            allowed = ", ".join(f"'{t}'" for t in ("null", *ok))
            rows = conn.execute(
                f'SELECT "{_quote_ident(pk[0])}", "{_quote_ident(name)}" FROM '
                f'"{_quote_ident(layer)}" WHERE typeof("{_quote_ident(name)}") NOT IN '
                f"({allowed})").fetchall()
            if rows:
                out[name] = {int(fid): _raw_text(value) for fid, value in rows}
    return out


def _quote_ident(name: str) -> str:
    return name.replace('"', '""')


def _raw_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a table; point geometry becomes ``lon, lat`` (EPSG:4326), empty CSV cells NaN.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, or cannot be read.
    """
    read = read_table(path)
    raise_if_problems(_("{file}: cannot read the table").format(file=read.label),
                      list(read.problems))
    assert read.frame is not None
    frame = read.frame
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame.where(frame != "", np.nan)
    return _geometry_to_lonlat(frame, read.label)


def _geometry_to_lonlat(frame: Any, source: str) -> pd.DataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        return pd.DataFrame(frame)
    geom = frame.geometry
    if geom.crs is None:
        raise InputError(_("{file}: layer has no CRS; set it (e.g. EPSG:4326) in the file")
                         .format(file=source))
    if len(geom) and not (geom.geom_type == "Point").all():
        raise InputError(_("{file}: only Point geometries are supported here; convert "
                           "polygons to points (e.g. centroids) first").format(file=source))
    geom = geom.to_crs("EPSG:4326")
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["lon"] = geom.x.to_numpy()
    out["lat"] = geom.y.to_numpy()
    return out


def read_points(path: str | Path, *, id_column: str = "id") -> pd.DataFrame:
    """Read points (``id, lon, lat``) from CSV (WGS84), GeoJSON or GeoPackage.

    The table is read by its spec (``points`` in :data:`matcher.tables.SPECS`);
    point geometry in any CRS may stand in for ``lon``/``lat``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` (str), ``lon``, ``lat`` (float, EPSG:4326 degrees).

    Raises
    ------
    InputError
        Listing every missing column, duplicate id and bad coordinate.
    """
    read = read_table(path)
    raise_if_problems(_("{file}: cannot read the table").format(file=read.label),
                      list(read.problems))
    assert read.frame is not None
    frame = read.frame
    if id_column != "id":
        frame = frame.rename(columns={id_column: "id"})
    t = tables.read("points", frame, label=read.label)
    raise_if_problems(_("{file}: invalid points").format(file=read.label), t.problems)
    return t.frame()[["id", "lon", "lat"]].astype({"id": object})


def read_polygons(path: str | Path, *, what: str) -> gpd.GeoDataFrame:
    """Read a polygon layer (GeoJSON or GeoPackage) as it is, in its own CRS.

    Parameters
    ----------
    path
        The file (``file.gpkg:layer`` selects a layer).
    what
        What the layer is, for messages, in English and marked with ``N_``
        ("municipality polygons"); translated here.

    Raises
    ------
    InputError
        If the file is missing, unreadable, has no geometry or no CRS.
    """
    read = read_table(path)
    layer = _(what)
    raise_if_problems(_("{file}: cannot read the {layer}").format(file=read.label, layer=layer),
                      list(read.problems))
    frame = read.frame
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(_("{file}: the {layer} have no geometry; give a GeoJSON or "
                           "GeoPackage polygon layer").format(file=read.label, layer=layer))
    if frame.crs is None:
        raise InputError(_("{file}: the {layer} have no CRS; set it in the file "
                           "(e.g. EPSG:4326)").format(file=read.label, layer=layer))
    return frame


def read_population(path: str | Path, *, crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Read an SSB population grid (``ru250m``, ``pop_tot``) as cells in ``crs``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id`` (str), ``population`` (float, persons), ``geometry``
        (cell polygons in ``crs``, metres), cells with population > 0 only,
        sorted by ``cell_id``.

    Raises
    ------
    InputError
        If the file is missing, unreadable, has no CRS or lacks the columns.
    """
    frame = read_polygons(path, what=N_("population grid"))
    if "pop_tot" not in frame.columns:
        raise InputError(_("{file}: population grid lacks column 'pop_tot'; an SSB 250 m grid "
                           "has ru250m and pop_tot").format(file=Path(path).name))
    ids = (frame["ru250m"].astype(str) if "ru250m" in frame.columns
           else pd.Series([f"cell{i}" for i in range(len(frame))]))
    pop = pd.to_numeric(frame["pop_tot"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    cells = gpd.GeoDataFrame({"cell_id": ids.to_numpy(dtype=object), "population": pop},
                             geometry=frame.geometry.to_crs(crs).to_numpy(), crs=crs)
    cells = cells[cells["population"] > 0].astype({"cell_id": "str"})
    return cells.sort_values("cell_id", kind="stable").reset_index(drop=True)


def read_inputs(
    children: str | Path,
    homes: str | Path,
    contacts: str | Path | None = None,
    placements: str | Path | None = None,
    vetoes: str | Path | None = None,
    *,
    settings: ScoringSettings | None = None,
    registers: Registers | None = None,
) -> Inputs:
    """Read and validate the input tables of one run.

    Parameters
    ----------
    children, homes
        Required tables: ``.csv``, ``.geojson``/``.json`` or ``.gpkg``
        (``file.gpkg:layer`` names the layer; the first layer otherwise).
    contacts, placements, vetoes
        Optional tables, same formats.
    settings
        Scoring settings; ``competences`` and ``need_competences`` define the
        allowed tags (defaults when ``None``).
    registers
        Registers for addresses, school ids and municipality numbers
        (:func:`matcher.io.registers.default_registers`); ``None`` consults none.

    Returns
    -------
    Inputs
        The normalised tables and the SHA-256 fingerprint of each file.

    Raises
    ------
    InputError
        Listing every problem in every file: unreadable files, missing or
        unknown columns, bad values and broken references between tables.
    """
    settings = settings or ScoringSettings()
    paths = {"children": children, "homes": homes, "contacts": contacts,
             "placements": placements, "vetoes": vetoes}
    frames: dict[str, pd.DataFrame | None] = {}
    labels: dict[str, str] = {}
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    unreadable: set[str] = set()
    for table, path in paths.items():
        if path is None:
            continue
        read = read_table(path)
        labels[table] = read.label
        problems += read.problems
        if read.frame is None:
            unreadable.add(table)
            continue
        frames[table] = read.frame
        if read.sha256 is not None:
            sources[table] = read.sha256
    inputs, more = schema.check_tables(frames, settings=settings, labels=labels,
                                       unreadable=unreadable, registers=registers)
    problems += more
    schema.raise_problems(problems, labels)
    assert inputs is not None
    log.info(_("read {children} children, {homes} homes, {contacts} contacts, {placements} "
               "locked placements, {vetoes} vetoes")
             .format(**{table: format_number(len(getattr(inputs, table)))
                        for table in ("children", "homes", "contacts", "placements", "vetoes")}))
    return dataclasses.replace(inputs, sources=sources)  # warnings: the caller lists them


def read_times(path: str | Path, inputs: Inputs) -> TimeTable:
    """Read a user-supplied long travel-time table ``home_id, anchor_id, minutes``.

    See :func:`matcher.schema.validate_times` for the checks.

    Raises
    ------
    InputError
        On an unreadable file and every problem :func:`~matcher.schema.validate_times` finds.
    """
    read = read_table(path)
    if read.frame is None:
        schema.raise_problems(list(read.problems), {"times": read.label})
    assert read.frame is not None
    return schema.validate_times(read.frame, inputs, label=read.label)
