"""Atomic, owner-only writes of files and folders.

Every write goes to a temporary file (or folder) beside the target, is made
owner-only (files ``0o600``, folders ``0o700``) and is then renamed into
place, so a reader never sees a half-written file and a crash leaves the
previous file untouched.

Every CSV the engine writes goes through :func:`write_csv`: UTF-8, ``\\n``
line ends, no index, and floats at full precision (the shortest text that
reads back to the same ``float64``).

Escaping is for display, never for identity. Files the engine reads back
(the run folder's ``assignments.csv``, ``history.csv``, ``pairs.csv``,
``shortlist.csv``, the decisions log, samples and geocoded tables) keep every
cell exactly as given, so an id such as ``-C8`` or ``@X`` is the same id
after a round trip. Formula-like text is made inert (:func:`safe_cells`)
only where a spreadsheet opens the file for people: the workbook, and the
CSV tables written for people (planning and waiting statistics), with
``write_csv(..., formula_safe=True)``. No reader ever removes a ``'``.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher.errors import InputError, LockedError
from matcher.i18n import format_number
from matcher.i18n import gettext as _

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LOCK_WAIT_SECONDS",
    "DEMO_MARKER",
    "NETWORK_MARKER",
    "PLANNING_MARKER",
    "RUN_MARKER",
    "SAMPLE_MARKER",
    "TABLE_SUFFIXES",
    "atomic_folder",
    "atomic_path",
    "check_output_file",
    "check_run_folder",
    "claim_folder",
    "folder_lock",
    "output_writer",
    "remove_stale",
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

SAMPLE_MARKER = ".fostermatch-sample"
"""Marks a folder written by ``matcher sample`` (and ``DIR/sample`` of ``matcher demo``)."""

DEMO_MARKER = ".fostermatch-demo"
"""Marks the folder of ``matcher demo --out DIR``."""

NETWORK_MARKER = ".fostermatch-network"
"""Marks a network cache folder of ``matcher network build`` (``network.json`` marks one too)."""

PLANNING_MARKER = ".fostermatch-planning"
"""Marks the output folder of the planning commands (gaps, whatif, recruit...)."""


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


_TMP_TAG = ".fostermatch-tmp-"
_OLD_TAG = ".fostermatch-old-"
"""Tags in the names of the temporary folders of :func:`atomic_folder` (beside a new
target as ``.NAME.fostermatch-tmp-*``, inside an existing one as ``.fostermatch-tmp-*``)."""

DEFAULT_LOCK_WAIT_SECONDS = 60.0
"""Seconds a write waits for another process's lock on the same folder before it gives up
(exit code 5); the setting ``output.lock_wait_seconds``."""


def _is_ours(name: str) -> bool:
    return _TMP_TAG in name or _OLD_TAG in name


def check_run_folder(target: str | Path, *, marker: str = RUN_MARKER) -> Path:
    """Check that ``target`` may receive an output folder; return it as an absolute path.

    A missing or empty folder may be written; an existing folder only when it
    holds ``marker`` (written by an earlier run of the same command), so that
    ``--out`` never deletes or overwrites a folder of other files. The nearest
    existing parent must be a writable folder. Call it before any long work.

    Raises
    ------
    InputError
        If ``target`` is a file, lies below a file, is a non-empty folder
        without ``marker``, or its parent folder cannot be written.
    """
    path = Path(os.path.abspath(Path(target).expanduser()))
    if path.exists() or path.is_symlink():
        if not path.is_dir() or path.is_symlink():
            raise InputError(_("--out {target}: exists and is not a folder; choose a new "
                               "output folder").format(target=target))
        if (any(not _is_ours(p.name) for p in path.iterdir())
                and not (path / marker).is_file()):
            raise InputError(_("--out {target}: the folder exists and does not hold a "
                               "previous run (no {marker} file), so it would be replaced with "
                               "its contents; choose a new or empty output folder")
                             .format(target=target, marker=marker))
    if path.parent == path:
        raise InputError(_("--out {target}: the root folder cannot be a run folder; choose a "
                           "new output folder").format(target=target))
    _check_writable(path, target)
    return path


def _check_writable(path: Path, target: str | Path) -> None:
    """Raise :class:`InputError` unless ``path`` (or its nearest existing parent) is writable."""
    probe = path
    while not (probe.exists() or probe.is_symlink()):
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(_("--out {target}: {file} is a file, not a folder; choose an output "
                           "folder that is not below a file").format(target=target, file=probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(_("--out {target}: the folder {folder} cannot be written (permission "
                           "denied); choose a folder you may write to").format(
            target=target, folder=probe))


def claim_folder(target: str | Path, *, marker: str, marks: tuple[str, ...] = ()) -> Path:
    """Make ``target`` an output folder of one command; return it as an absolute path.

    For commands that write their files one by one into a folder that may
    also hold the files of earlier runs (samples, network caches, planning
    outputs). ``target`` must be missing, empty, or hold ``marker`` (or one
    of ``marks``, files only the engine writes there): the same rule as
    :func:`check_run_folder`. The folder is created if missing (an existing
    one is kept, so ``--out .`` writes into the working folder) and
    ``marker`` is written into it. Call it before any long work.

    Raises
    ------
    InputError
        As :func:`check_run_folder`, or if the folder cannot be created.
    """
    path = Path(os.path.abspath(Path(target).expanduser()))
    if not any((path / name).is_file() for name in marks):
        check_run_folder(target, marker=marker)
    else:
        _check_writable(path, target)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not (path / marker).is_file():
            write_text(path / marker, _("fostermatch output folder; the next run of the same "
                                        "command may write here") + "\n")
    except OSError as exc:
        raise InputError(_("--out {target}: cannot create the folder ({reason}); choose a folder "
                           "you may write to").format(target=target, reason=exc.strerror)) from None
    return path


def check_output_file(target: str | Path, *inputs: str | Path | None) -> Path:
    """Check that the output file ``target`` is none of the command's ``inputs``.

    Raises
    ------
    InputError
        If ``target`` is one of ``inputs`` (it would be overwritten), a folder,
        or lies below a file or in a folder that cannot be written.
    """
    path = Path(os.path.abspath(Path(target).expanduser()))
    if path.is_dir():
        raise InputError(_("--out {target}: is a folder; give a file name").format(target=target))
    for given in inputs:
        if given is not None and path.exists() and Path(given).exists() \
                and os.path.samefile(path, given):
            raise InputError(_("--out {target}: is also an input file and would be overwritten; "
                               "choose another output file").format(target=target))
    _check_writable(path.parent, target)
    return path


@contextlib.contextmanager
def folder_lock(folder: Path, *,
                wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` itself (no lock file).

    When another process holds it, say so on stderr (a warning) and wait up to
    ``wait_seconds`` seconds, then give up.

    Raises
    ------
    LockedError
        If the lock is still held after ``wait_seconds`` (exit code 5).
    InputError
        If the folder cannot be opened.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise InputError(_("{folder}: cannot open the folder ({reason}); check the path and "
                           "its permissions").format(folder=folder, reason=exc.strerror)) from None
    try:
        if not _try_lock(fd):
            logger.warning(_("{folder}: another fostermatch process is writing here; waiting "
                             "up to {seconds} s").format(folder=folder,
                                                         seconds=format_number(wait_seconds)))
            deadline = time.monotonic() + wait_seconds
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise LockedError(_(
                        "{folder}: another fostermatch process still writes here after {seconds} "
                        "s; try again when it has finished, or raise the setting "
                        "output.lock_wait_seconds").format(folder=folder,
                                                           seconds=format_number(wait_seconds)))
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        yield
    finally:
        os.close(fd)


_folder_lock = folder_lock  # the earlier private name (used by the decisions log)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


_STALE_AFTER_SECONDS = 2.0
"""A temporary folder younger than this may still be about to be locked by its writer."""


def remove_stale(parent: Path) -> int:
    """Remove temporary folders that killed writes left in ``parent``; return how many.

    A temporary folder of :func:`atomic_folder` is locked (``flock``) by the
    process writing it for as long as it lives, so only folders whose writer
    is gone are removed; folders of other users, symlinks and any other name
    are left alone.
    """
    removed = 0
    try:
        entries = list(parent.iterdir())
    except OSError:
        return 0
    uid = os.getuid()
    for stale in entries:
        if not _is_ours(stale.name) or stale.is_symlink() or not stale.is_dir():
            continue
        try:
            info = stale.stat()
            if info.st_uid != uid or time.time() - info.st_mtime < _STALE_AFTER_SECONDS:
                continue
            fd = os.open(stale, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            if _try_lock(fd):
                shutil.rmtree(stale, ignore_errors=True)
                removed += 1
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_folder(target: str | Path, *, marker: str | None = None,
                  lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> Iterator[Path]:
    """Yield a temporary folder; move its contents to ``target`` on success.

    Every file in it is owner-only (``0o600``) from its first byte and a new
    folder ``0o700``. A missing ``target`` is created by renaming the
    temporary folder (made beside it) into place. An existing ``target``
    folder is kept (its permissions, and the working folder of a shell that
    runs ``--out .``): the temporary folder is made inside it, and its old
    contents are replaced by the new ones only after the new ones are complete.
    On any exception (also SIGTERM, which the CLI turns into ``SystemExit``) the
    temporary folder is removed and ``target`` is untouched; temporary folders
    of killed earlier writes in the same parent folder are removed by the next
    write (:func:`remove_stale`).

    With ``marker``, ``target`` is an output folder of one command: it may be
    written only when missing, empty or holding ``marker``
    (:func:`check_run_folder`), and ``marker`` is written into it, all under
    an exclusive lock on the parent folder (waiting at most
    ``lock_wait_seconds``).

    Raises
    ------
    InputError
        If ``target`` exists and is not a folder, lies below a file or in a
        folder that cannot be written, or (with ``marker``) is a non-empty
        folder without the marker.
    LockedError
        If another process holds the parent's lock for longer than
        ``lock_wait_seconds``.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    if target.exists() and not target.is_dir():
        raise InputError(_("{target}: exists and is not a folder; choose another output folder")
                         .format(target=target))
    _check_writable(target, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(_("{target}: cannot create the folder ({reason}); choose another "
                           "output folder").format(target=target, reason=exc.strerror)) from None
    with (folder_lock(target.parent, wait_seconds=lock_wait_seconds) if marker
          else contextlib.nullcontext()):
        if marker:
            check_run_folder(target, marker=marker)
        remove_stale(target.parent)
        if marker:  # left by earlier versions for this very target
            for prefix in (f".{target.name}.tmp-", f".{target.name}.old-"):
                for stale in target.parent.glob(f"{glob.escape(prefix)}*"):
                    if stale.is_dir() and not stale.is_symlink():
                        shutil.rmtree(stale, ignore_errors=True)
        in_place = target.is_dir()
        if in_place:
            remove_stale(target)
        home = target if in_place else target.parent
        try:
            tmp = Path(tempfile.mkdtemp(dir=home, prefix=(_TMP_TAG if in_place else
                                                           f".{target.name}{_TMP_TAG}")))
        except OSError as exc:
            raise InputError(_("{target}: cannot write here ({reason}); choose a folder you may "
                               "write to").format(target=target, reason=exc.strerror)) from None
        owner = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(owner, fcntl.LOCK_EX)  # tells remove_stale that this folder is alive
            os.chmod(tmp, 0o700)
            with _private_umask():
                yield tmp
                if marker:
                    (tmp / marker).write_text(_("fostermatch output folder; replaced by the "
                                                "next run writing here") + "\n", encoding="utf-8")
            for path in tmp.rglob("*"):
                if path.is_file():
                    os.chmod(path, 0o600)
            if in_place:
                _replace_contents(tmp, target)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(owner)


def _replace_contents(tmp: Path, out: Path) -> None:
    """Move the entries of ``tmp`` (inside ``out``) into ``out``, replacing its old entries.

    The old entries are first moved aside into a temporary folder, so that a
    failure puts them back; ``out`` itself (its inode and mode) stays.
    """
    old = Path(tempfile.mkdtemp(dir=out, prefix=_OLD_TAG))
    moved: list[str] = []
    try:
        for entry in sorted(out.iterdir()):
            if entry.name not in (tmp.name, old.name) and not _is_ours(entry.name):
                os.replace(entry, old / entry.name)
                moved.append(entry.name)
        for entry in sorted(tmp.iterdir()):
            os.replace(entry, out / entry.name)
    except BaseException:
        for name in moved:
            with contextlib.suppress(OSError):
                if (out / name).is_dir() and not (out / name).is_symlink():
                    shutil.rmtree(out / name)
                os.replace(old / name, out / name)
        with contextlib.suppress(OSError):
            old.rmdir()  # only when every old entry is back
        raise
    shutil.rmtree(old, ignore_errors=True)
    tmp.rmdir()


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


def write_csv(frame: pd.DataFrame, target: str | Path, *, formula_safe: bool = False) -> Path:
    """Write a table as CSV in the engine's one format, atomically and owner-only.

    UTF-8, ``,``-separated, ``\\n`` line ends, a header row, no index;
    floats at full precision (``repr``), ``inf`` as ``inf`` and NaN empty.
    Tag cells (tuples, lists) are ``;``-separated text as the inputs write
    them, an empty one empty.

    Parameters
    ----------
    formula_safe
        Make text cells a spreadsheet would run as a formula inert
        (:func:`safe_cells`): only for tables written for people. Tables the
        engine reads back keep every cell exactly (the default).
    """
    frame = tags_as_text(frame)
    with atomic_path(target) as tmp:
        (safe_cells(frame) if formula_safe else frame).to_csv(tmp, index=False,
                                                              lineterminator="\n")
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


def write_table(frame: pd.DataFrame, target: str | Path, *, formula_safe: bool = False) -> Path:
    """Write a table as CSV (:func:`write_csv`) or Parquet, by suffix, atomically.

    Raises
    ------
    InputError
        If the suffix is neither ``.csv`` nor ``.parquet``.
    """
    target = Path(target)
    _check_table_suffix(target)
    if target.suffix.lower() == ".csv":
        return write_csv(frame, target, formula_safe=formula_safe)
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
