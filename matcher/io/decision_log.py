"""The decisions table on disk: read it (CSV, GeoJSON, GeoPackage) and append to a CSV log.

Validation is :func:`matcher.decisions.validate`; this module only adds the
file around it.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from matcher import decisions as decisions_mod
from matcher.errors import InputError, raise_if_problems
from matcher.i18n import gettext as _
from matcher.io import files, readers
from matcher.schema import Inputs

__all__ = ["append_decision", "read_decisions"]


def read_decisions(path: str | Path, *, as_of: datetime.date | None = None,
                   inputs: Inputs | None = None) -> decisions_mod.Decisions:
    """Read and validate a decisions table.

    Parameters
    ----------
    path
        ``.csv``, ``.geojson`` or ``.gpkg[:layer]``.
    as_of
        Run date (a later ``decided_on`` is an error).
    inputs
        Validated inputs for the cross-table checks.

    Raises
    ------
    InputError
        If the file cannot be read, or listing every invalid row (exit code 2).
    """
    read = readers.read_table(path)
    raise_if_problems(_("{file}: cannot read the decisions").format(file=read.label),
                      list(read.problems))
    assert read.frame is not None
    return decisions_mod.validate(read.frame, label=read.label, as_of=as_of, inputs=inputs,
                                  sha256=read.sha256)


def append_decision(path: str | Path, row: Mapping[str, str], *,
                    inputs: Inputs | None = None,
                    today: datetime.date | None = None) -> decisions_mod.Decisions:
    """Append one decision to a CSV log atomically, after validating the whole log.

    The log is the user's file: its bytes are kept as they are (columns the
    engine does not read, such as ``_note``, the text of every date, the
    delimiter, the line ends and the quoting), and the new row is added at the
    end in the same dialect; the file keeps its permission bits and, where
    this user may set them, its owner and group. A missing file is created
    with the header (owner-only). An old log without an ``actor`` column gains
    it in the header; its old rows stay as they were (read as empty).

    Parameters
    ----------
    path
        The ``.csv`` log.
    row
        :data:`matcher.decisions.COLUMNS` as text (``actor`` required).
    inputs
        Validated inputs for the id and cross-table checks.
    today
        ``decided_on`` may not be later (default: today).

    Returns
    -------
    Decisions
        The whole validated log, the new row last.

    Raises
    ------
    InputError
        On a bad row or log, or a log this user cannot write back as it was
        (read-only, or a folder that does not let it be replaced); exit code 2.
        The file is unchanged.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise InputError(_("{file}: decisions are appended to a .csv file; give one")
                         .format(file=path.name))
    new = pd.DataFrame([{c: str(row.get(c, "") or "") for c in decisions_mod.COLUMNS}])
    today = today or datetime.date.today()
    decisions_mod.validate(new, label=_("new decision"), as_of=today, inputs=inputs,
                           strict_ids=inputs is not None, new=True, consent=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # read, check and replace under one lock: two analysts appending at once both keep
    # their row (no lost update)
    with files._folder_lock(path.parent):
        if path.exists():
            mode = _writable_mode(path)
            data = path.read_bytes()
            read = readers.read_table(path)
            raise_if_problems(_("{file}: cannot read the decisions").format(file=read.label),
                              list(read.problems))
            assert read.frame is not None
            old = read.frame
        else:
            mode, data = 0o600, b""
            old = pd.DataFrame({c: pd.Series([], dtype=object) for c in decisions_mod.COLUMNS})
        both = pd.concat([old.astype(object), new], ignore_index=True).fillna("")
        valid = decisions_mod.validate(both, label=path.name, as_of=today, inputs=inputs)
        _write_back(path, data, new.iloc[0].to_dict(), mode)
    return valid


def _writable_mode(path: Path) -> int:
    """The permission bits of the log; a log nobody may write is not replaced (exit 2)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o222 or not path.is_file():
        raise InputError(_("{file} is read-only (mode {mode:o}); make it writable (chmod u+w) "
                           "if the decision belongs in it, or give another log")
                         .format(file=path.name, mode=mode))
    return mode


def _write_back(path: Path, data: bytes, row: Mapping[str, str], mode: int) -> None:
    """Write ``data`` with ``row`` appended in the file's own dialect, atomically."""
    text = data.decode("utf-8-sig") if data else ""
    bom = data.startswith(b"\xef\xbb\xbf")
    newline = "\r\n" if "\r\n" in text else "\n"
    first, _sep, rest = text.partition("\n")
    first = first.rstrip("\r")
    delimiter = ";" if ";" in first and "," not in first else ","
    header = next(csv.reader([first], delimiter=delimiter)) if first else []
    head_line = first
    added = [c for c in decisions_mod.COLUMNS if c not in [h.strip() for h in header]]
    if added:  # a new file, or an old log without ``actor``: extend the header only
        header = [*header, *added]
        head_line = _line(header, delimiter, newline).rstrip("\r\n")
    body = rest if not rest or rest.endswith("\n") else rest + newline
    names = [h.strip() for h in header]
    line = _line([str(row.get(n, "")) for n in names], delimiter, newline)
    out = ("\ufeff" if bom else "") + head_line + newline + body + line
    try:
        with files.atomic_path(path, mode=mode) as tmp:
            tmp.write_bytes(out.encode("utf-8"))
            if path.exists():
                st = path.stat()
                with contextlib.suppress(OSError):  # only root or the owner may set these
                    os.chown(tmp, st.st_uid, st.st_gid)
    except OSError as exc:
        raise InputError(_("{file}: cannot replace the log ({reason}); the folder does not let "
                           "this user replace it: ask its owner, or keep the log in a folder "
                           "of your own").format(file=path.name, reason=exc.strerror)) from None


def _line(values: list[str], delimiter: str, newline: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerow(values)
    return buffer.getvalue()
