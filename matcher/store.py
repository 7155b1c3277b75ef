"""Files at the edge: reading point tables and writing outputs atomically.

Every write goes to a temporary file in the target folder, is made
owner-only (``0o600``) and is then renamed into place, so a reader never sees
a half-written file and a crash leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher.errors import InputError, Problem, raise_if_problems

POINT_SUFFIXES = (".csv", ".geojson", ".json", ".gpkg")
TABLE_SUFFIXES = (".csv", ".parquet")


@contextlib.contextmanager
def atomic_path(target: str | Path, *, mode: int = 0o600) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    The file is made ``mode`` (owner-only by default) before the rename. On
    any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                               suffix="".join(target.suffixes) or ".tmp")
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write bytes atomically with owner-only permissions."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_table(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a table as CSV or Parquet (by suffix), atomically and owner-only.

    Raises
    ------
    InputError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"{target.name}: unknown output type '{suffix}'; use one of "
                         f"{', '.join(TABLE_SUFFIXES)}")
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, lineterminator="\n", float_format="%.6f")
        else:
            frame.to_parquet(tmp, index=False)
    return target


def write_layers(layers: dict[str, gpd.GeoDataFrame], target: str | Path) -> Path:
    """Write several layers into one GeoPackage, atomically and owner-only."""
    with atomic_path(target) as tmp:
        for name, frame in layers.items():
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return Path(target)


def read_frame(path: str | Path, *, layer: str | None = None) -> pd.DataFrame:
    """Read a CSV, GeoJSON or GeoPackage table; geometry becomes ``lon, lat`` (EPSG:4326).

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    suffix = path.suffix.lower()
    if suffix not in POINT_SUFFIXES:
        raise InputError(f"{path.name}: unknown input type '{suffix}'; use one of "
                         f"{', '.join(POINT_SUFFIXES)}")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio/pandas raise many kinds on a bad file
        raise InputError(f"{path.name}: cannot read ({type(exc).__name__}: {exc}); check "
                         "that the file is complete and of the type its name says") from None
    return _geometry_to_lonlat(frame, path.name)


def _geometry_to_lonlat(frame: Any, source: str) -> pd.DataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        return pd.DataFrame(frame)
    geom = frame.geometry
    if geom.crs is None:
        raise InputError(f"{source}: layer has no CRS; set it (e.g. EPSG:4326) in the file")
    if len(geom) and not (geom.geom_type == "Point").all():
        raise InputError(f"{source}: only Point geometries are supported here; convert "
                         "polygons to points (e.g. centroids) first")
    geom = geom.to_crs("EPSG:4326")
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["lon"] = geom.x.to_numpy()
    out["lat"] = geom.y.to_numpy()
    return out


def read_points(path: str | Path, *, id_column: str = "id") -> pd.DataFrame:
    """Read points (``id, lon, lat``) from CSV (WGS84), GeoJSON or GeoPackage.

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` (str), ``lon``, ``lat`` (float, EPSG:4326).

    Raises
    ------
    InputError
        Listing every missing column, duplicate id and bad coordinate.
    """
    path = Path(path)
    frame = read_frame(path)
    source = path.name
    missing = [c for c in (id_column, "lon", "lat") if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {missing}",
                         [Problem(source, f"add column '{c}' (points need id, lon, lat in "
                                  "WGS84)", column=c) for c in missing])
    if frame.empty:
        raise InputError(f"{source}: no points; the file has a header but no rows")
    problems: list[Problem] = []
    ids = frame[id_column].astype("string")
    for row in np.flatnonzero(ids.isna().to_numpy()):
        problems.append(Problem(source, "empty id; give every point an id", int(row) + 1,
                                id_column))
    for row in np.flatnonzero(ids.duplicated().to_numpy() & ids.notna().to_numpy()):
        problems.append(Problem(source, f"duplicate id '{ids.iloc[row]}'; ids must be unique",
                                int(row) + 1, id_column))
    coords = {}
    for col, bound in (("lon", 180.0), ("lat", 90.0)):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        coords[col] = values
        for row in np.flatnonzero(~(np.abs(values) <= bound)):
            problems.append(Problem(source, f"{col} must be a number in [-{bound:g}, {bound:g}] "
                                    "(WGS84 degrees)", int(row) + 1, col))
    raise_if_problems(f"{source}: invalid points", problems)
    return pd.DataFrame({"id": ids.astype(str).to_numpy(dtype=object), "lon": coords["lon"],
                         "lat": coords["lat"]})


def output_writer(path: str | Path) -> Callable[[pd.DataFrame], Path]:
    """Return a writer for ``path`` after checking its suffix (fail before long work)."""
    target = Path(path)
    if target.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"{target.name}: unknown output type '{target.suffix}'; use one of "
                         f"{', '.join(TABLE_SUFFIXES)}")
    return lambda frame: write_table(frame, target)
