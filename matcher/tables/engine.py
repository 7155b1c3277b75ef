"""The table engine: :class:`Column`, :class:`TableSpec`, :class:`Table`, one reader per
kind and the one date parser (the specs are in :mod:`matcher.tables.specs`)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher import languages
from matcher.errors import Problem, sheet_row
from matcher.i18n import gettext as _
from matcher.i18n import ngettext

Kind = Literal["id", "text", "number", "integer", "date", "choice", "tags", "municipality",
               "municipalities", "lon", "lat", "boolean", "languages", "ages"]
KINDS: tuple[str, ...] = ("id", "text", "number", "integer", "date", "choice", "tags",
                          "municipality", "municipalities", "lon", "lat", "boolean",
                          "languages", "ages")
"""Column kinds the engine reads."""

MAX_CHILD_AGE = 25
"""Oldest age handled (ettervern, aftercare, runs to 25)."""
MAX_ID_LENGTH = 64
"""Longest id (``child_id``, ``home_id``, ``sibling_group``, ``kin_of``), in characters."""

OSLO = ZoneInfo("Europe/Oslo")
"""Time zone a timestamp with a zone is converted to before its date is taken."""

_TRUE = frozenset({"true", "1", "yes", "ja", "y", "j"})
_FALSE = frozenset({"false", "0", "no", "nei", "n"})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}"
                  r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
                  r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$")
_FIRST_YEAR, _LAST_YEAR = 1900, 2200
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Parameters
    ----------
    name
        The column name, as in files (English, lower case, stable).
    kind
        One of :data:`KINDS`.
    required
        The column must be present (cells may still be empty where the kind
        allows it: see ``empty``).
    allowed
        For ``choice``: the values; for ``tags`` without ``vocabulary``: the tags
        (none: any tag, checked across tables in :mod:`matcher.schema`).
    range
        For ``number``/``integer``: inclusive ``(low, high)``; ``None`` for open.
    default
        Value of an empty cell (and of the whole column when it is absent).
        ``None``: an empty cell is an error for required id, choice and
        number kinds, and missing (NaN, NaT, ``''``, ``()``) otherwise.
    doc
        One line for the reference (units and CRS where it has them).
    unique
        Values must be unique in the table (ids).
    vocabulary
        For ``tags``: the name of the allowed set given to :func:`read`
        (``needs``, ``competences``, ``cultures``), taken from the settings.
    past
        For ``date``: a date after today is an error.
    always
        The normalised frame has this column even when the file has not
        (filled with ``default``); ``False``: only when given.
    blank
        Cells may be empty although the column is required (e.g. the
        ``home_id`` of an unmatched child in a run's ``assignments.csv``).
    """

    name: str
    kind: Kind
    required: bool = False
    allowed: tuple[str, ...] = ()
    range: tuple[float | None, float | None] | None = None
    default: Any = None
    doc: str = ""
    unique: bool = False
    vocabulary: str | None = None
    past: bool = False
    always: bool = True
    blank: bool = False


@dataclass(frozen=True)
class TableSpec:
    """What a table must hold.

    Parameters
    ----------
    name
        Table name (``children``, ``decisions``, ...).
    columns
        The columns, in file order.
    doc
        What the table is, for the reference.
    points
        Point geometry (any CRS) may stand in for ``lon``/``lat``.
    extra
        Columns that are not in the spec: ``"error"`` (reported), or
        ``"ignore"`` (kept out of the engine; for run files read back, whose
        other columns are outputs).
    min_rows
        Fewest data rows.
    """

    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    points: bool = False
    extra: Literal["error", "ignore"] = "error"
    min_rows: int = 0

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table spec {self.name!r} repeats a column")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in file order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required columns."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column called ``name`` (``KeyError`` when none)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# --- the one date parser ------------------------------------------------------------------


def parse_dates(text: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse ISO dates and timestamps; the one date parser of the engine.

    Accepted: ``YYYY-MM-DD``, and ``YYYY-MM-DD[T ]HH:MM[:SS[.f]]`` with an
    optional zone (``Z``, ``+01:00``, ``+0100``). A timestamp with a zone is
    converted to Norwegian time (Europe/Oslo), then its zone is dropped, so
    plain dates and zoned timestamps mix. Anything else (``2026``,
    ``15.10.2026``, ``2026-02-30``) is refused rather than guessed.

    Parameters
    ----------
    text
        Cells as stripped text; ``''`` is empty.

    Returns
    -------
    values : numpy.ndarray
        ``datetime64[ns]``, NaT for empty and refused cells.
    bad : numpy.ndarray
        ``bool``, true where a non-empty cell was refused.
    """
    cells = list(text)
    out = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(len(cells), dtype=bool)
    for i, t in enumerate(cells):
        if not t:
            continue
        if not _ISO.match(t):
            bad[i] = True
            continue
        try:
            stamp = datetime.datetime.fromisoformat(t.replace(",", ".").replace("Z", "+00:00"))
        except ValueError:
            bad[i] = True
            continue
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(OSLO).replace(tzinfo=None)
        if not _FIRST_YEAR <= stamp.year <= _LAST_YEAR:
            bad[i] = True
            continue
        out[i] = np.datetime64(stamp, "ns")
    return out, bad


# --- reading cells as text ------------------------------------------------------------------


def text_of(series: pd.Series) -> np.ndarray:
    """Return a column as an object array of stripped ``str``; ``''`` for missing.

    Whole floats read as integers (``1.0`` -> ``'1'``: a spreadsheet's number
    id), booleans as ``true``/``false``, dates as ISO text (a date without a
    time of day as ``YYYY-MM-DD``).
    """
    values = series.to_numpy(dtype=object, na_value=None)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.to_datetime(series)
        return np.array(["" if pd.isna(s) else (s.date().isoformat() if s == s.normalize()
                                                else s.isoformat()) for s in stamps],
                        dtype=object)
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.array(["true" if v else "false" for v in values], dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out[i] = ""
        elif isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            out[i] = str(int(v))
        elif isinstance(v, datetime.datetime):
            out[i] = v.date().isoformat() if v.time() == datetime.time() and v.tzinfo is None \
                else v.isoformat()
        elif isinstance(v, datetime.date):
            out[i] = v.isoformat()
        else:
            out[i] = str(v).strip()
    return out


def numbers(text: np.ndarray) -> np.ndarray:
    """Parse text to float64; ``''`` and non-numbers become NaN. Accepts a decimal comma."""
    cleaned = [t.replace(",", ".") if _DECIMAL_COMMA.match(t) else t for t in text]
    return pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)


def join_tags(tags: tuple[str, ...]) -> str:
    """Return tags as the ``;``-separated text used in files."""
    return ";".join(tags)


def split_tags(text: str) -> tuple[str, ...]:
    """Return the sorted, unique tags of a ``;``-separated text (blanks dropped)."""
    return tuple(sorted({t.strip() for t in str(text).split(";") if t.strip()}))


def _municipality_code(text: str) -> str:
    """Spreadsheets drop the leading zero of e.g. 0301 (Oslo); 3 digits are unambiguous."""
    return text.zfill(4) if text.isdigit() and len(text) == 3 else text


def _is_municipality(code: str) -> bool:
    return len(code) == 4 and code.isascii() and code.isdigit()


# --- the engine -----------------------------------------------------------------------------


def _geometry_column(frame: pd.DataFrame) -> str | None:
    """Name of the active geometry column of a GeoDataFrame, else ``None``."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return None
    name = frame.active_geometry_name
    return name if name is not None and name in frame.columns else None


class Table:
    """One table being read: its cells as text, typed values and problems.

    Made by :func:`read`; :meth:`add` records a problem found by a check
    across tables, so that every problem of a table is reported together.

    Attributes
    ----------
    spec, label, n
        The spec, the name in problems (file name), the number of rows.
    values
        Column name -> typed values (arrays; lists of tuples for list kinds),
        for every column of the spec that is present or has ``always``.
    problems
        Every problem found, in the order found.
    """

    def __init__(self, spec: TableSpec, label: str, frame: pd.DataFrame,
                 vocabularies: Mapping[str, Iterable[str]] | None = None) -> None:
        self.spec = spec
        self.label = label
        self.n = len(frame)
        self.problems: list[Problem] = []
        self.values: dict[str, Any] = {}
        self.crs_note = ""
        self.cells: dict[str, np.ndarray] = {}
        self.geometry_bad = np.zeros(self.n, dtype=bool)
        self._vocabularies = {k: set(v) for k, v in (vocabularies or {}).items()}
        frame = self._from_geometry(frame)
        self.problems += column_problems(frame, spec, label, geometry=self.crs_note != "")
        for column in spec.names:
            if column in frame.columns and column not in self.cells:
                self.cells[column] = text_of(frame[column])
        if spec.min_rows and self.n < spec.min_rows:
            self.problems.append(Problem(label, _EMPTY_TABLE.get(spec.name, _EMPTY_TABLE[""])()))
        self._read_columns()

    # --- geometry ------------------------------------------------------------------------

    def _from_geometry(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Take ``lon``/``lat`` from point geometry, reprojected to EPSG:4326."""
        geom_col = _geometry_column(frame)
        if geom_col is None:
            return frame
        plain = pd.DataFrame(frame.drop(columns=geom_col))
        if not self.spec.points:
            return plain
        geoms = frame.geometry
        if geoms.crs is None:
            self.problems.append(Problem(self.label, _(
                "layer has no CRS; set it (e.g. GeoDataFrame.set_crs('EPSG:4326')) and write "
                "it again")))
            self.crs_note = " ({})".format(_("layer CRS unknown"))
            return plain.drop(columns=["lon", "lat"], errors="ignore")
        crs_name = geoms.crs.to_string()
        self.crs_note = " ({})".format(_("geometry in {crs}, converted to EPSG:4326")
                                       .format(crs=crs_name))
        missing = (geoms.isna() | geoms.is_empty).to_numpy()
        not_point = ~missing & (geoms.geom_type != "Point").to_numpy()
        self.add("geometry", missing, _("empty geometry; every row needs a point position"))
        types = geoms.geom_type.to_numpy()
        self.add("geometry", not_point,
                 lambda i: _("geometry is a {type}; use points (e.g. "
                             "representative_point())").format(type=types[i]))
        ok = ~missing & ~not_point
        lon = np.full(len(frame), np.nan)
        lat = np.full(len(frame), np.nan)
        if ok.any():
            pts = geoms[ok]
            if not pts.crs.equals("EPSG:4326"):
                with np.errstate(all="ignore"):
                    pts = pts.to_crs("EPSG:4326")
            lon[ok] = pts.x.to_numpy()
            lat[ok] = pts.y.to_numpy()
        # Geometry wins over lon/lat attribute columns, which are then ignored.
        self.cells["lon"] = np.where(ok, lon.astype(str), "").astype(object)
        self.cells["lat"] = np.where(ok, lat.astype(str), "").astype(object)
        self.geometry_bad = ~ok
        return plain.drop(columns=["lon", "lat"], errors="ignore")

    # --- access --------------------------------------------------------------------------

    def has(self, column: str) -> bool:
        """Whether the table gives ``column``."""
        return column in self.cells

    def text(self, column: str) -> np.ndarray:
        """Cells of a column as an object array of ``str`` (``''`` when absent)."""
        return self.cells.get(column, np.full(self.n, "", dtype=object))

    def add(self, column: str | None, bad: np.ndarray,
            message: str | Callable[[int], str]) -> None:
        """Record a problem for every true row of ``bad`` (a message, or one per row)."""
        for i in np.flatnonzero(bad):
            text = message if isinstance(message, str) else message(int(i))
            self.problems.append(Problem(self.label, text, row=sheet_row(i), column=column))

    def frame(self, *, keep: pd.DataFrame | None = None) -> pd.DataFrame:
        """The normalised frame: one column per value, dtypes as documented per kind.

        ids, choices, text and municipality numbers are ``str`` (an optional id
        is missing, NaN, when empty, so that ``groupby`` never forms a group of
        "no id"); numbers and coordinates ``float64``; integers ``int64``;
        booleans ``bool``; dates ``datetime64[ns]``; list kinds tuples.

        Parameters
        ----------
        keep
            The frame that was read: its columns that are not in the spec come
            along unchanged, in its column order (for run files read back,
            whose other columns are outputs).
        """
        out: dict[str, Any] = {}
        for c in self.spec.columns:
            if c.name not in self.values:
                continue
            v = self.values[c.name]
            if c.kind in ("id", "text", "choice", "municipality"):
                optional = c.kind == "id" and (c.blank or not c.required)
                out[c.name] = (pd.Series(np.where(v == "", np.array(None), v), dtype="str")
                               if optional else pd.Series(v, dtype="str"))
            elif c.kind in ("tags", "municipalities", "languages", "ages"):
                out[c.name] = pd.Series(v, dtype=object)
            else:
                out[c.name] = v
        typed = pd.DataFrame(out, index=pd.RangeIndex(self.n))
        if keep is None:
            return typed
        geometry = _geometry_column(keep)
        order = [str(c) for c in keep.columns if c != geometry]
        rest = pd.DataFrame({c: keep[c].to_numpy() for c in order if c not in typed.columns},
                            index=typed.index)
        merged = pd.concat([typed, rest], axis=1)
        return merged[[c for c in order if c in merged.columns]
                      + [c for c in typed.columns if c not in order]]

    # --- kinds ---------------------------------------------------------------------------

    def _read_columns(self) -> None:
        done: set[str] = set()
        for c in self.spec.columns:
            if c.name in done:
                continue
            present = self.has(c.name)
            if c.kind in ("lon", "lat"):
                lon_col, lat_col = self._pair(c)
                done |= {lon_col, lat_col}
                lon_c = self.spec.column(lon_col)
                if not (lon_c.always or self.has(lon_col) or self.has(lat_col)):
                    continue
                lon, lat = self._coordinates(lon_col, lat_col, optional=not lon_c.required)
                self.values[lon_col], self.values[lat_col] = lon, lat
                continue
            done.add(c.name)
            if not present and not c.always:
                continue
            reader = getattr(self, "_" + c.kind)
            self.values[c.name] = reader(c)

    def _pair(self, c: Column) -> tuple[str, str]:
        """The ``(lon, lat)`` column names of a coordinate column: ``x_lon`` with ``x_lat``."""
        if c.kind == "lon":
            return c.name, c.name[:-3] + "lat"
        return c.name[:-3] + "lon", c.name

    def _id(self, c: Column) -> np.ndarray:
        values = self.text(c.name)
        if not self.has(c.name):
            return values
        if c.required and not c.blank:
            message = (_("empty {column}; give every row the child's id") if c.name == "child_id"
                       else _("empty {column}; give every row the home's id")
                       if c.name == "home_id" else _("empty {column}; give every row an id"))
            self.add(c.name, values == "", message.format(column=c.name))
        unprintable = np.array([not v.isprintable() for v in values], dtype=bool)
        long = np.array([len(v) > MAX_ID_LENGTH for v in values], dtype=bool) & ~unprintable
        self.add(c.name, unprintable,
                 _("{column} holds a line break, tab or other control character; use "
                   "printable characters only").format(column=c.name))
        self.add(c.name, long, lambda i: _("{column} is {length} characters long; use at most "
                                           "{limit}").format(column=c.name,
                                                             length=len(values[i]),
                                                             limit=MAX_ID_LENGTH))
        if unprintable.any() or long.any():
            # never echoed (it may hold a line break), and kept out of every output
            values = np.where(unprintable | long, "", values).astype(object)
            self.cells[c.name] = values
        if c.unique:
            first = _first_rows(values)
            dup = (first != np.arange(self.n)) & (values != "")
            self.add(c.name, dup, lambda i: _("duplicate {column} '{id}' (first at row {row}); "
                                              "ids must be unique")
                     .format(column=c.name, id=values[i], row=sheet_row(first[i])))
        return values

    def _text(self, c: Column) -> np.ndarray:
        values = self.text(c.name)
        if c.required and not c.blank and self.has(c.name):
            self.add(c.name, values == "", _("empty {column}; give a value").format(
                column=c.name))
        return values

    def _coordinates(self, lon_col: str, lat_col: str, *,
                     optional: bool) -> tuple[np.ndarray, np.ndarray]:
        lon_text, lat_text = self.text(lon_col), self.text(lat_col)
        lon, lat = numbers(lon_text), numbers(lat_text)
        if not (self.has(lon_col) and self.has(lat_col)):
            if optional and self.has(lon_col) != self.has(lat_col):
                absent = lat_col if self.has(lon_col) else lon_col
                self.problems.append(Problem(self.label, _(
                    "column '{column}' is missing but its partner is present; add both or "
                    "neither").format(column=absent), column=absent))
            nan = np.full(self.n, np.nan)
            return nan, nan.copy()
        skip = self.geometry_bad.copy() if lon_col == "lon" else np.zeros(self.n, dtype=bool)
        empty_lon, empty_lat = lon_text == "", lat_text == ""
        if optional:
            both = empty_lon & empty_lat
            either = _("{empty} is empty but {other} is set; give both or neither")
            self.add(lon_col, empty_lon & ~empty_lat,
                     either.format(empty=lon_col, other=lat_col))
            self.add(lat_col, empty_lat & ~empty_lon,
                     either.format(empty=lat_col, other=lon_col))
            skip = skip | empty_lon | empty_lat
        else:
            both = np.zeros(self.n, dtype=bool)
        note = self.crs_note if lon_col == "lon" else ""
        for col, text, values, limit in ((lon_col, lon_text, lon, 180.0),
                                         (lat_col, lat_text, lat, 90.0)):
            empty = (text == "") & ~skip
            self.add(col, empty, _("empty {column}; give WGS84 degrees (EPSG:4326)")
                     .format(column=col))
            bad_number = (text != "") & np.isnan(values) & ~skip
            self.add(col, bad_number, _("{column} is not a number; give WGS84 degrees "
                                        "(EPSG:4326)").format(column=col))
            out = np.isfinite(values) | np.isinf(values)
            out &= ~(np.abs(values) <= limit) & ~skip
            self.add(col, out, lambda i, c=col, v=values, lim=limit:  # type: ignore[misc]
                     (_("{column} is outside -{limit}..{limit}{note}; looks like projected "
                        "metres: convert to WGS84 degrees (EPSG:4326)")
                      if np.isfinite(v[i]) and abs(v[i]) > 1000
                      else _("{column} is outside -{limit}..{limit}{note}; give WGS84 degrees "
                             "(EPSG:4326); are lon and lat swapped?"))
                     .format(column=c, limit=f"{lim:g}", note=note))
        zero = (lon == 0) & (lat == 0) & ~skip
        self.add(lon_col, zero, _("{lon}/{lat} is 0,0, which marks a missing position; "
                                  "give the real position").format(lon=lon_col, lat=lat_col))
        lon = np.where(both, np.nan, lon)
        lat = np.where(both, np.nan, lat)
        return lon, lat

    def _integer(self, c: Column) -> np.ndarray:
        text = self.text(c.name)
        low, high = c.range if c.range is not None else (None, None)
        default = c.default
        if not self.has(c.name):
            return np.full(self.n, default if default is not None else 0, dtype=np.int64)
        values = numbers(text)
        if default is not None:
            values = np.where(text == "", float(default), values)
        rng = _range_text(c.range)
        hint = f" ({_(c.doc)})" if c.name == "capacity" and c.doc else ""
        bad = ~(np.isfinite(values) & (values == np.round(values)))
        if low is not None:
            bad |= ~(values >= low)
        # Above 2**53 a float is no longer an exact whole number (and 2**63 overflows int64).
        bad |= ~(values <= (high if high is not None else 2.0**53))
        self.add(c.name, bad & (text == ""),
                 _("empty {column}; give a whole number {range}")
                 .format(column=c.name, range=rng + hint))
        self.add(c.name, bad & (text != ""),
                 lambda i: _("{column} '{value}' is not a whole number {range}")
                 .format(column=c.name, value=text[i], range=rng + hint))
        return np.where(bad, 0, values).astype(np.int64)

    def _number(self, c: Column) -> np.ndarray:
        """Numbers in ``range`` (or > 0 when no range is given); empty gives ``default``."""
        text = self.text(c.name)
        default = np.nan if c.default is None else float(c.default)
        values = np.where(text == "", default, numbers(text))
        if not self.has(c.name):
            return values.astype(float)
        if c.range is None:
            ok = np.isfinite(values) & (values > 0)
            message = _("{column} '{value}' must be a number > 0 (or empty for the default)")
        else:
            low, high = c.range
            ok = ~np.isnan(values)
            if low is not None:
                ok &= values >= low
            if high is not None:
                ok &= values <= high
            message = (_("minutes must be a number >= 0 (or inf for unreachable)")
                       if c.name == "minutes" else
                       _("{column} '{value}' must be a number {range}"))
        required_empty = ((text == "") & np.isnan(values) & (c.default is None)
                          & c.required & (not c.blank))
        self.add(c.name, required_empty, _("empty {column}; give a number").format(
            column=c.name))
        bad = (text != "") & ~ok
        rng = _range_text(c.range)
        self.add(c.name, bad, lambda i: message.format(column=c.name, value=text[i], range=rng))
        return values.astype(float)

    def _choice(self, c: Column) -> np.ndarray:
        text = self.text(c.name)
        if not self.has(c.name):
            return np.full(self.n, c.default if c.default is not None else "", dtype=object)
        if c.default is not None:
            text = np.where(text == "", c.default, text).astype(object)
        bad = ~np.isin(text, list(c.allowed))
        if not c.required and c.default is None:
            bad &= text != ""
        self.add(c.name, bad, lambda i: (
            _("empty {column} is not a valid {column}; use one of {allowed}") if text[i] == ""
            else _("{value} is not a valid {column}; use one of {allowed}"))
            .format(column=c.name, value=repr(text[i]), allowed=", ".join(c.allowed)))
        return text

    def _boolean(self, c: Column) -> np.ndarray:
        raw = self.text(c.name)
        text = np.array([t.lower() for t in raw], dtype=object)
        true = np.isin(text, list(_TRUE))
        bad = (text != "") & ~true & ~np.isin(text, list(_FALSE))
        self.add(c.name, bad, lambda i: _("'{value}' is not a yes/no value; use true/false, "
                                          "yes/no, ja/nei or 1/0").format(value=raw[i]))
        default = bool(c.default) if c.default is not None else False
        return np.where(text == "", default, true).astype(bool)

    def _municipality(self, c: Column) -> np.ndarray:
        text = self.text(c.name)
        if not self.has(c.name):
            return text
        padded = np.array([_municipality_code(t) for t in text], dtype=object)
        bad = np.array([not _is_municipality(t) for t in padded], dtype=bool)
        if not c.required:
            bad &= text != ""
        self.add(c.name, bad, lambda i: _("'{value}' is not a 4-digit kommunenummer (e.g. "
                                          "'0301'); store it as text to keep the leading zero")
                 .format(value=text[i]))
        return padded

    def _tags(self, c: Column) -> list[tuple[str, ...]]:
        allowed = (self._vocabularies.get(c.vocabulary, set()) if c.vocabulary
                   else set(c.allowed))
        out = [split_tags(t) for t in self.text(c.name)]
        if not c.vocabulary and not c.allowed:
            return out  # free tags, checked across tables (matcher.schema)
        lower = {a.lower(): a for a in allowed}
        what = {"needs": "need", "competences": "competence", "cultures": "culture"}.get(
            c.vocabulary or "", "")
        for i, tags in enumerate(out):
            unknown = [t for t in tags if t not in allowed]
            if unknown:
                hints = [_("'{tag}' (did you mean '{suggestion}'?)")
                         .format(tag=t, suggestion=lower[t.lower()]) if t.lower() in lower
                         else f"'{t}'" for t in unknown]
                self.problems.append(Problem(
                    self.label, _unknown_tags(what, len(unknown)).format(
                        tags=", ".join(hints),
                        allowed=", ".join(sorted(allowed, key=str.lower))),
                    row=sheet_row(i), column=c.name))
        return out

    def _municipalities(self, c: Column) -> list[tuple[str, ...]]:
        """``;``-separated 4-digit municipality numbers (3 digits are zero-padded)."""
        out = []
        for i, text in enumerate(self.text(c.name)):
            codes = [_municipality_code(x) for x in split_tags(text)]
            bad = [x for x in codes if not _is_municipality(x)]
            if bad:
                self.problems.append(Problem(
                    self.label, _("{values} not a 4-digit kommunenummer; separate numbers with "
                                  "';' (e.g. '4626;4631')")
                    .format(values=", ".join(repr(b) for b in bad)), row=sheet_row(i),
                    column=c.name))
            out.append(tuple(sorted(set(codes))))
        return out

    def _languages(self, c: Column) -> list[tuple[str, ...]]:
        """``;``-separated ISO 639-1 or 639-3 codes, one code per language, sorted.

        Checked against ISO 639-3 and normalised by :func:`matcher.languages.normalise`
        (``sme`` reads as ``se``); repeats are dropped.
        """
        out = []
        for i, tags in enumerate(split_tags(t) for t in self.text(c.name)):
            codes = [languages.normalise(x) for x in tags]
            bad = [x for x, code in zip(tags, codes, strict=True) if code is None]
            if bad:
                hints = [_("'{tag}' (did you mean '{suggestion}'?)").format(
                    tag=b, suggestion=b.lower()) if languages.normalise(b.lower())
                    else repr(b) for b in bad]
                self.problems.append(Problem(
                    self.label, ngettext(
                        "{values} is not an ISO 639-1 or ISO 639-3 language code; write codes "
                        "in lower case such as 'nb', 'se', 'sma', 'fkv', 'nsl', separated by "
                        "';'",
                        "{values} are not ISO 639-1 or ISO 639-3 language codes; write codes "
                        "in lower case such as 'nb', 'se', 'sma', 'fkv', 'nsl', separated by "
                        "';'", len(bad)).format(values=", ".join(hints)),
                    row=sheet_row(i), column=c.name))
            out.append(tuple(sorted({code for code in codes if code is not None})))
        return out

    def _ages(self, c: Column) -> list[tuple[int, ...]]:
        """``;``-separated whole ages in years (0..MAX_CHILD_AGE), ascending; repeats kept."""
        out = []
        for i, text in enumerate(self.text(c.name)):
            parts = [p.strip() for p in str(text).split(";") if p.strip()]
            bad = [p for p in parts if not (p.isdigit() and int(p) <= MAX_CHILD_AGE)]
            if bad:
                self.problems.append(Problem(
                    self.label, _("{values} not an age 0-{oldest}; list whole years separated "
                                  "by ';' (e.g. '4;9')")
                    .format(values=", ".join(repr(b) for b in bad), oldest=MAX_CHILD_AGE),
                    row=sheet_row(i), column=c.name))
            out.append(tuple(sorted(int(p) for p in parts if p not in bad)))
        return out

    def _date(self, c: Column) -> np.ndarray:
        text = self.text(c.name)
        values, bad = parse_dates(text)
        year = np.array([int(t[:4]) if bad[i] and _ISO.match(t) else 0
                         for i, t in enumerate(text)], dtype=np.int64)
        ahead = bad & (year > datetime.date.today().year)
        self.add(c.name, bad & ~(ahead & c.past),
                 lambda i: _("'{value}' is not an ISO date; write YYYY-MM-DD")
                 .format(value=text[i]))
        if c.required and self.has(c.name):
            self.add(c.name, text == "", _("empty {column}; give the date (YYYY-MM-DD)")
                     .format(column=c.name))
        if c.past:
            today = np.datetime64(datetime.date.today(), "D")
            with np.errstate(invalid="ignore"):
                future = ~np.isnat(values) & (values.astype("datetime64[D]") > today)
            future |= ahead
            self.add(c.name, future, lambda i: _("{column} {day} is in the future; give the "
                                                 "date it happened")
                     .format(column=c.name, day=text[i][:10]))
        return values


def column_problems(frame: pd.DataFrame, spec: TableSpec, label: str, *,
                    geometry: bool = False) -> list[Problem]:
    """Unknown and missing columns of a frame against a spec.

    ``geometry``: point geometry stands in for ``lon``/``lat``.
    """
    problems: list[Problem] = []
    allowed = spec.names
    present = set(frame.columns)
    if spec.extra == "error":
        by_lower = {c.lower(): c for c in allowed}
        names = ", ".join(allowed)
        for column in frame.columns:
            column = str(column)
            if column in allowed or column.startswith("_"):
                continue
            if column.lower() in by_lower:
                message = _("unknown column '{column}'; rename it to '{name}' (names are lower "
                            "case)")
            else:
                message = _("unknown column '{column}'; allowed: {names}; prefix a column with "
                            "'_' to keep it as an ignored note")
            problems.append(Problem(label, message.format(column=column, name=by_lower.get(
                column.lower(), ""), names=names), column=column))
    required_names = ", ".join(spec.required)
    for column in spec.required:
        if column in present or (geometry and column in ("lon", "lat")):
            continue
        message = (_("missing required column '{column}' (or point geometry); add it "
                     "(required: {required})") if column in ("lon", "lat") and spec.points
                   else _("missing required column '{column}'; add it (required: {required})"))
        problems.append(Problem(label, message.format(column=column, required=required_names),
                                column=column))
    return problems


def _range_text(rng: tuple[float | None, float | None] | None) -> str:
    """``>= 0``, ``0..25``, ``<= 9`` or ``''`` for a range."""
    low, high = rng if rng is not None else (None, None)
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    if low is not None:
        return f">= {low:g}"
    return f"<= {high:g}" if high is not None else ""


def _first_rows(values: np.ndarray) -> np.ndarray:
    """Position of the first row holding each row's value."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    first = np.full(len(uniques), len(values), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(values)))
    return cast(np.ndarray, first[codes])


def _unknown_tags(what: str, n: int) -> str:
    """The message of ``n`` unknown tags of one kind (fields ``{tags}``, ``{allowed}``)."""
    if what == "need":
        return ngettext("unknown need tag {tags}; allowed: {allowed} (separate tags with ';')",
                        "unknown need tags {tags}; allowed: {allowed} (separate tags with ';')",
                        n)
    if what == "competence":
        return ngettext("unknown competence tag {tags}; allowed: {allowed} (separate tags "
                        "with ';')",
                        "unknown competence tags {tags}; allowed: {allowed} (separate tags "
                        "with ';')", n)
    if what == "culture":
        return ngettext("unknown culture tag {tags}; allowed: {allowed} (separate tags with "
                        "';')",
                        "unknown culture tags {tags}; allowed: {allowed} (separate tags with "
                        "';')", n)
    return ngettext("unknown tag {tags}; allowed: {allowed} (separate tags with ';')",
                    "unknown tags {tags}; allowed: {allowed} (separate tags with ';')", n)




_EMPTY_TABLE: dict[str, Callable[[], str]] = {
    "children": lambda: _("no rows; at least one child is required"),
    "homes": lambda: _("no rows; at least one home is required"),
    "resource_families": lambda: _("no rows; give at least one resource family"),
    "": lambda: _("no rows; the table has a header but no rows"),
}
