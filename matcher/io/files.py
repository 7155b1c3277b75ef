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
import fcntl
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher.errors import InputError
from matcher.i18n import gettext as _

__all__ = [
    "RUN_MARKER",
    "TABLE_SUFFIXES",
    "atomic_folder",
    "atomic_path",
    "check_run_folder",
    "output_writer",
    "safe_cells",
    "tags_as_text",
    "write_bytes",
    "write_csv",
    "write_layers",
    "write_table",
    "write_text",
]

TABLE_SUFFIXES = (".csv", ".parquet")
"""Suffixes of the table outputs :func:`write_table` can write."""


RUN_MARKER = ".fostermatch-run"
"""File written into every run folder; only a folder holding it may be replaced."""


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Create files owner-only from their first byte (umask 077) inside the block.

    The umask is process-wide; the engine writes from one thread.
    """
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, mode: int = 0o600) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    Files created at the temporary path are owner-only from their first byte
    (umask ``077``), and made ``mode`` before the rename. On any exception the
    temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                               suffix="".join(target.suffixes) or ".tmp")
    os.close(fd)
    os.unlink(tmp)  # writers such as GDAL want to create the file themselves
    tmp_path = Path(tmp)
    try:
        with _private_umask():
            yield tmp_path
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def check_run_folder(target: str | Path, *, marker: str = RUN_MARKER) -> Path:
    """Check that ``target`` may receive a run folder; return it as an absolute path.

    A missing or empty folder may be written; an existing folder only when it
    holds ``marker`` (written by an earlier run), so that ``--out`` never
    deletes a folder of other files. Call it before any long work.

    Raises
    ------
    InputError
        If ``target`` is a file, or a non-empty folder without ``marker``.
    """
    path = Path(os.path.abspath(Path(target).expanduser()))
    if path.exists() or path.is_symlink():
        if not path.is_dir() or path.is_symlink():
            raise InputError(_("--out {target}: exists and is not a folder; choose a new "
                               "output folder").format(target=target))
        if any(path.iterdir()) and not (path / marker).is_file():
            raise InputError(_("--out {target}: the folder exists and does not hold a "
                               "previous run (no {marker} file), so it would be replaced with "
                               "its contents; choose a new or empty output folder")
                             .format(target=target, marker=marker))
    if path.parent == path:
        raise InputError(_("--out {target}: the root folder cannot be a run folder; choose a "
                           "new output folder").format(target=target))
    return path


@contextlib.contextmanager
def _folder_lock(parent: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder ``parent`` itself (no lock file)."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_stale(target: Path) -> None:
    """Remove temporary folders a killed earlier write of ``target`` left beside it."""
    for prefix in (f".{target.name}.tmp-", f".{target.name}.old-"):
        for stale in target.parent.glob(f"{glob.escape(prefix)}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(target: str | Path, *, marker: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it to ``target`` on success.

    Every file in it is owner-only (``0o600``) from its first byte and the
    folder ``0o700``. An existing ``target`` folder is replaced only after the
    new one is complete; on any exception the temporary folder is removed and
    ``target`` is untouched.

    With ``marker``, ``target`` is a run folder: it may replace only a folder
    holding ``marker`` (:func:`check_run_folder`), ``marker`` is written into
    the new folder, and temporary folders of killed earlier writes are
    removed, all under an exclusive lock on the parent folder.

    Raises
    ------
    InputError
        If ``target`` exists and is not a folder, or (with ``marker``) is a
        non-empty folder without the marker.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    if target.exists() and not target.is_dir():
        raise InputError(_("{target}: exists and is not a folder; choose another output folder")
                         .format(target=target))
    target.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target.parent) if marker else contextlib.nullcontext():
        if marker:
            check_run_folder(target, marker=marker)
            _remove_stale(target)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
        try:
            os.chmod(tmp, 0o700)
            with _private_umask():
                yield tmp
                if marker:
                    (tmp / marker).write_text(_("fostermatch run folder; replaced by the next "
                                                "run writing here") + "\n", encoding="utf-8")
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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""


def safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with text cells a spreadsheet would run as a formula made inert.

    A text cell starting with one of :data:`FORMULA_STARTS` gets a leading
    ``'`` (OWASP's advice against CSV injection). Numeric and boolean
    columns, and text that is a plain number (``-3.5``), are left as they are,
    so negative numbers stay numbers.
    """
    out = frame
    for col in frame.columns:
        series = frame[col]
        if not (pd.api.types.is_object_dtype(series.dtype)
                or pd.api.types.is_string_dtype(series.dtype)):
            continue
        values = series.to_numpy(dtype=object)
        risky = np.fromiter((isinstance(v, str) and v.startswith(FORMULA_STARTS)
                             and not _is_number(v) for v in values), dtype=bool,
                            count=len(values))
        if risky.any():
            if out is frame:
                out = frame.copy()
            fixed = values.copy()
            fixed[risky] = ["'" + v for v in values[risky]]
            out[col] = pd.Series(fixed, index=frame.index, dtype=series.dtype)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower().lstrip("+-") not in ("inf", "infinity", "nan")


def write_csv(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a table as CSV in the engine's one format, atomically and owner-only.

    UTF-8, ``,``-separated, ``\\n`` line ends, a header row, no index;
    floats at full precision (``repr``), ``inf`` as ``inf`` and NaN empty.
    Tag cells (tuples, lists) are ``;``-separated text as the inputs write
    them, an empty one empty. Text cells are formula-safe (:func:`safe_cells`).
    """
    with atomic_path(target) as tmp:
        safe_cells(tags_as_text(frame)).to_csv(tmp, index=False, lineterminator="\n")
    return Path(target)


def tags_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with tuple and list cells joined by ``;`` (``()`` becomes ``""``)."""
    out = frame
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=object) if frame[col].dtype == object else None
        if values is None or not any(isinstance(v, tuple | list) for v in values):
            continue
        if out is frame:
            out = frame.copy()
        out[col] = [";".join(str(t) for t in v) if isinstance(v, tuple | list) else v
                    for v in values]
    return out


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
        raise InputError(_("{file}: unknown output type '{suffix}'; use one of {allowed}")
                         .format(file=target.name, suffix=target.suffix,
                                 allowed=", ".join(TABLE_SUFFIXES)))
