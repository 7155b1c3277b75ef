"""Atomic, owner-only writes of files and folders.

Every write goes to a temporary file (or folder) beside the target, is made
owner-only (files ``0o600``, folders ``0o700``) and is then renamed into
place, so a reader never sees a half-written file and a crash leaves the
previous file untouched.

Every CSV the engine writes goes through :func:`write_csv`: UTF-8, ``\\n``
line ends, no index, and floats at full precision (the shortest text that
reads back to the same ``float64``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd

from matcher.errors import InputError

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_folder",
    "atomic_path",
    "output_writer",
    "write_bytes",
    "write_csv",
    "write_layers",
    "write_table",
    "write_text",
]

TABLE_SUFFIXES = (".csv", ".parquet")
"""Suffixes of the table outputs :func:`write_table` can write."""


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


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it to ``target`` on success.

    Every file in it is made owner-only (``0o600``) and the folder ``0o700``.
    An existing ``target`` folder is replaced only after the new one is
    complete; on any exception the temporary folder is removed and ``target``
    is untouched.

    Raises
    ------
    InputError
        If ``target`` exists and is not a folder.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a folder; choose another output folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        os.chmod(tmp, 0o700)
        yield tmp
        for path in tmp.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o600)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is replaced only after success."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write bytes atomically with owner-only permissions."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically with owner-only permissions."""
    return write_bytes(target, text.encode("utf-8"))


def write_csv(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a table as CSV in the engine's one format, atomically and owner-only.

    UTF-8, ``,``-separated, ``\\n`` line ends, a header row, no index;
    floats at full precision (``repr``), ``inf`` as ``inf`` and NaN empty.
    """
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    return Path(target)


def write_table(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a table as CSV (:func:`write_csv`) or Parquet, by suffix, atomically.

    Raises
    ------
    InputError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    target = Path(target)
    _check_table_suffix(target)
    if target.suffix.lower() == ".csv":
        return write_csv(frame, target)
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)
    return target


def write_layers(layers: dict[str, gpd.GeoDataFrame], target: str | Path) -> Path:
    """Write several layers into one GeoPackage, atomically and owner-only."""
    with atomic_path(target) as tmp:
        for name, frame in layers.items():
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return Path(target)


def output_writer(path: str | Path) -> Callable[[pd.DataFrame], Path]:
    """Return a table writer for ``path`` after checking its suffix (fail before long work).

    Raises
    ------
    InputError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    target = Path(path)
    _check_table_suffix(target)
    return lambda frame: write_table(frame, target)


def _check_table_suffix(target: Path) -> None:
    if target.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"{target.name}: unknown output type '{target.suffix}'; use one of "
                         f"{', '.join(TABLE_SUFFIXES)}")
