"""Typed parsing of one input table's columns, with every problem by row and column.

The engine behind :mod:`matcher.schema`: :class:`_Table` reads text or typed
columns into ids, numbers, dates, tags and coordinates, and collects one
:class:`~matcher.errors.Problem` per bad cell."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher.errors import Problem
from matcher.i18n import gettext as _
from matcher.i18n import ngettext

__all__ = ["COLUMNS", "MAX_CHILD_AGE", "MAX_ID_LENGTH", "join_tags", "split_tags"]

COLUMNS: dict[str, dict[str, bool]] = {
    "children": {
        "child_id": True,
        "lon": True,
        "lat": True,
        "school_lon": False,
        "school_lat": False,
        "municipality": True,
        "age": True,
        "needs": False,
        "sibling_group": False,
        "urgency": True,
        "waiting_since": False,
        "max_school_minutes": False,
        "avoid_municipalities": False,
        "languages": False,
        "language_required": False,
        "culture": False,
        "heard_on": False,
        "current_home_id": False,
        "current_home_keeps": False,
        "placed_since": False,
    },
    "homes": {
        "home_id": True,
        "lon": True,
        "lat": True,
        "municipality": True,
        "capacity": True,
        "competences": False,
        "min_age": True,
        "max_age": True,
        "kind": True,
        "kin_of": False,
        "accepts_sibling_groups": False,
        "languages": False,
        "culture": False,
        "own_children_ages": False,
    },
    "contacts": {"child_id": True, "kind": True, "lon": True, "lat": True, "weight": False,
                 "max_minutes": False},
    "placements": {"child_id": True, "home_id": True, "decided_on": False, "by": False},
    "vetoes": {"child_id": True, "home_id": True, "decided_on": False, "by": False},
}
"""Allowed columns of each table, mapped to whether the column is required."""
MAX_CHILD_AGE = 25
"""Oldest age handled (ettervern, aftercare, runs to 25)."""
MAX_ID_LENGTH = 64
"""Longest id (``child_id``, ``home_id``, ``sibling_group``, ``kin_of``), in characters."""

_POINT_TABLES = ("children", "homes", "contacts")
_TRUE = frozenset({"true", "1", "yes", "ja", "y", "j"})
_FALSE = frozenset({"false", "0", "no", "nei", "n"})


def join_tags(tags: tuple[str, ...]) -> str:
    """Return tags as the ``;``-separated text used in files."""
    return ";".join(tags)


def split_tags(text: str) -> tuple[str, ...]:
    """Return the sorted, unique tags of a ``;``-separated text (blanks dropped)."""
    return tuple(sorted({t.strip() for t in str(text).split(";") if t.strip()}))


def _geometry_column(frame: pd.DataFrame) -> str | None:
    """Name of the active geometry column of a GeoDataFrame, else ``None``."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return None
    name = frame.active_geometry_name
    return name if name is not None and name in frame.columns else None


class _Table:
    """Text view of one table: every cell as a stripped ``str`` ('' when empty)."""

    def __init__(self, name: str, label: str, frame: pd.DataFrame) -> None:
        self.name = name
        self.label = label
        self.n = len(frame)
        self.problems: list[Problem] = []
        self.crs_note = ""
        self.cells: dict[str, np.ndarray] = {}
        self.geometry_bad = np.zeros(self.n, dtype=bool)
        frame = self._from_geometry(frame)
        self.problems += _column_problems(frame, COLUMNS[name], label, name,
                                          geometry=self.crs_note != "")
        for column in COLUMNS[name]:
            if column in frame.columns and column not in self.cells:
                self.cells[column] = _text(frame[column])

    def _from_geometry(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Take ``lon``/``lat`` from point geometry, reprojected to EPSG:4326."""
        geom_col = _geometry_column(frame)
        if geom_col is None:
            return frame
        plain = pd.DataFrame(frame.drop(columns=geom_col))
        if self.name not in _POINT_TABLES:
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
        self.problems += _rows(self.label, "geometry", missing,
                               _same(_("empty geometry; every row needs a point position")))
        types = geoms.geom_type.to_numpy()
        self.problems += _rows(self.label, "geometry", not_point,
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

    def has(self, column: str) -> bool:
        return column in self.cells

    def text(self, column: str) -> np.ndarray:
        """Cells of a column as an object array of ``str`` ('' when absent)."""
        return self.cells.get(column, np.full(self.n, "", dtype=object))

    def add(self, column: str | None, bad: np.ndarray, message: Callable[[int], str]) -> None:
        self.problems += _rows(self.label, column, bad, message)

    # --- typed columns -------------------------------------------------------------------

    def ids(self, column: str, *, unique: bool) -> np.ndarray:
        values = self.text(column)
        if not self.has(column):
            return values
        empty = (_("empty {column}; give every row the child's id") if column == "child_id"
                 else _("empty {column}; give every row the home's id"))
        self.add(column, values == "", _same(empty.format(column=column)))
        values = self.id_text(column)
        if column == "child_id" and self.name == "children":
            self.add(column, np.char.find(values.astype(str), ":") >= 0,
                     lambda i: _("child_id '{id}' contains ':', which is reserved for "
                                 "anchor ids; rename the child").format(id=values[i]))
        if unique:
            first = _first_rows(values)
            dup = (first != np.arange(self.n)) & (values != "")
            self.add(column, dup, lambda i: _("duplicate {column} '{id}' (first at row {row}); "
                                              "ids must be unique")
                     .format(column=column, id=values[i], row=first[i] + 1))
        return values

    def id_text(self, column: str) -> np.ndarray:
        """An id-like column: printable characters, at most :data:`MAX_ID_LENGTH` of them.

        A bad value is reported (never echoed: it may hold a line break) and
        replaced by ``''``, so that it reaches no output and no other message.
        """
        values = self.text(column)
        unprintable = np.array([not v.isprintable() for v in values], dtype=bool)
        long = np.array([len(v) > MAX_ID_LENGTH for v in values], dtype=bool) & ~unprintable
        self.add(column, unprintable,
                 _same(_("{column} holds a line break, tab or other control character; use "
                         "printable characters only").format(column=column)))
        self.add(column, long, lambda i: _("{column} is {length} characters long; use at most "
                                           "{limit}").format(column=column,
                                                             length=len(values[i]),
                                                             limit=MAX_ID_LENGTH))
        if unprintable.any() or long.any():
            values = np.where(unprintable | long, "", values).astype(object)
            self.cells[column] = values
        return values

    def coordinates(self, lon_col: str, lat_col: str, *, optional: bool) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
        lon_text, lat_text = self.text(lon_col), self.text(lat_col)
        lon, lat = _numbers(lon_text), _numbers(lat_text)
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
                     _same(either.format(empty=lon_col, other=lat_col)))
            self.add(lat_col, empty_lat & ~empty_lon,
                     _same(either.format(empty=lat_col, other=lon_col)))
            skip = skip | empty_lon | empty_lat
        else:
            both = np.zeros(self.n, dtype=bool)
        note = self.crs_note if lon_col == "lon" else ""
        for col, text, values, limit in ((lon_col, lon_text, lon, 180.0),
                                         (lat_col, lat_text, lat, 90.0)):
            empty = (text == "") & ~skip
            self.add(col, empty, _same(_("empty {column}; give WGS84 degrees (EPSG:4326)")
                                       .format(column=col)))
            bad_number = (text != "") & np.isnan(values) & ~skip
            self.add(col, bad_number,
                     _same(_("{column} is not a number; give WGS84 degrees (EPSG:4326)")
                           .format(column=col)))
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
        self.add(lon_col, zero, _same(_("{lon}/{lat} is 0,0, which marks a missing position; "
                                        "give the real position").format(lon=lon_col,
                                                                         lat=lat_col)))
        lon = np.where(both, np.nan, lon)
        lat = np.where(both, np.nan, lat)
        return lon, lat

    def integers(self, column: str, *, low: int, high: int | None, default: int | None = None,
                 hint: str = "") -> np.ndarray:
        text = self.text(column)
        values = _numbers(text)
        if default is not None:
            values = np.where(text == "", float(default), values)
        if not self.has(column):
            return np.full(self.n, default if default is not None else 0, dtype=np.int64)
        rng = f">= {low}" if high is None else f"{low}..{high}"
        bad = ~(np.isfinite(values) & (values == np.round(values)) & (values >= low))
        # Above 2**53 a float is no longer an exact whole number (and 2**63 overflows int64).
        bad |= ~(values <= (high if high is not None else 2.0**53))
        self.add(column, bad & (text == ""),
                 _same(_("empty {column}; give a whole number {range}")
                       .format(column=column, range=rng + hint)))
        self.add(column, bad & (text != ""),
                 lambda i: _("{column} '{value}' is not a whole number {range}")
                 .format(column=column, value=text[i], range=rng + hint))
        return np.where(bad, 0, values).astype(np.int64)

    def floats(self, column: str, *, default: float) -> np.ndarray:
        """Optional positive finite numbers; empty gives ``default``."""
        text = self.text(column)
        values = np.where(text == "", default, _numbers(text))
        bad = (text != "") & ~(np.isfinite(values) & (values > 0))
        self.add(column, bad, lambda i: _("{column} '{value}' must be a number > 0 (or empty "
                                          "for the default)").format(column=column,
                                                                      value=text[i]))
        return values

    def choices(self, column: str, allowed: tuple[str, ...]) -> np.ndarray:
        text = self.text(column)
        if not self.has(column):
            return text
        bad = ~np.isin(text, list(allowed))
        self.add(column, bad, lambda i: (
            _("empty {column} is not a valid {column}; use one of {allowed}") if text[i] == ""
            else _("{value} is not a valid {column}; use one of {allowed}"))
            .format(column=column, value=repr(text[i]), allowed=", ".join(allowed)))
        return text

    def booleans(self, column: str, *, default: bool) -> np.ndarray:
        text = np.array([t.lower() for t in self.text(column)], dtype=object)
        true = np.isin(text, list(_TRUE))
        bad = (text != "") & ~true & ~np.isin(text, list(_FALSE))
        self.add(column, bad, lambda i: _("'{value}' is not a yes/no value; use true/false, "
                                          "yes/no, ja/nei or 1/0")
                 .format(value=self.text(column)[i]))
        return np.where(text == "", default, true).astype(bool)

    def municipalities(self, column: str) -> np.ndarray:
        text = self.text(column)
        if not self.has(column):
            return text
        # Spreadsheets drop the leading zero of e.g. 0301 (Oslo); 3 digits are unambiguous.
        padded = np.array([t.zfill(4) if t.isdigit() and len(t) == 3 else t for t in text],
                          dtype=object)
        bad = np.array([not (len(t) == 4 and t.isascii() and t.isdigit()) for t in padded])
        self.add(column, bad, lambda i: _("'{value}' is not a 4-digit kommunenummer (e.g. "
                                          "'0301'); store it as text to keep the leading zero")
                 .format(value=text[i]))
        return padded

    def tags(self, column: str, allowed: set[str], what: str) -> list[tuple[str, ...]]:
        text = self.text(column)
        out = [split_tags(t) for t in text]
        lower = {a.lower(): a for a in allowed}
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
                    row=i + 1, column=column))
        return out

    def municipality_lists(self, column: str) -> list[tuple[str, ...]]:
        """``;``-separated 4-digit municipality numbers (3 digits are zero-padded)."""
        out = []
        for i, text in enumerate(self.text(column)):
            codes = [c.zfill(4) if c.isdigit() and len(c) == 3 else c for c in split_tags(text)]
            bad = [c for c in codes if not (len(c) == 4 and c.isascii() and c.isdigit())]
            if bad:
                self.problems.append(Problem(
                    self.label, _("{values} not a 4-digit kommunenummer; separate numbers with "
                                  "';' (e.g. '4626;4631')")
                    .format(values=", ".join(repr(b) for b in bad)), row=i + 1, column=column))
            out.append(tuple(sorted(set(codes))))
        return out

    def languages(self, column: str) -> list[tuple[str, ...]]:
        """``;``-separated ISO 639-1 codes (two lower-case letters)."""
        out = []
        for i, tags in enumerate(split_tags(t) for t in self.text(column)):
            bad = [x for x in tags if not (len(x) == 2 and x.isascii() and x.isalpha()
                                           and x.islower())]
            if bad:
                message = (_("{values} not an ISO 639-1 language code (codes are lower "
                             "case); write two letters such as 'nb', 'se', 'so', separated by "
                             "';'")
                           if all(len(b) == 2 and b.isalpha() for b in bad)
                           else _("{values} not an ISO 639-1 language code; write two letters "
                                  "such as 'nb', 'se', 'so', separated by ';'"))
                self.problems.append(Problem(
                    self.label, message.format(values=", ".join(repr(b) for b in bad)),
                    row=i + 1, column=column))
            out.append(tags)
        return out

    def age_lists(self, column: str) -> list[tuple[int, ...]]:
        """``;``-separated whole ages in years (0..MAX_CHILD_AGE), ascending; repeats kept."""
        out = []
        for i, text in enumerate(self.text(column)):
            parts = [p.strip() for p in str(text).split(";") if p.strip()]
            bad = [p for p in parts if not (p.isdigit() and int(p) <= MAX_CHILD_AGE)]
            if bad:
                self.problems.append(Problem(
                    self.label, _("{values} not an age 0-{oldest}; list whole years separated "
                                  "by ';' (e.g. '4;9')")
                    .format(values=", ".join(repr(b) for b in bad), oldest=MAX_CHILD_AGE),
                    row=i + 1, column=column))
            out.append(tuple(sorted(int(p) for p in parts if p not in bad)))
        return out

    def dates(self, column: str) -> np.ndarray:
        text = self.text(column)
        parsed = pd.to_datetime(pd.Series(np.where(text == "", np.array(None), text), dtype=object),
                                format="ISO8601", errors="coerce")
        bad = (text != "") & parsed.isna().to_numpy()
        self.add(column, bad, lambda i: _("'{value}' is not an ISO date; write YYYY-MM-DD")
                 .format(value=text[i]))
        return parsed.to_numpy()


def _column_problems(frame: pd.DataFrame, allowed: Mapping[str, bool], label: str,
                     name: str, *, geometry: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    present = set(frame.columns)
    by_lower = {c.lower(): c for c in allowed}
    names = ", ".join(allowed)
    for column in frame.columns:
        if column in allowed or column.startswith("_"):
            continue
        if column.lower() in by_lower:
            message = _("unknown column '{column}'; rename it to '{name}' (names are lower case)")
        else:
            message = _("unknown column '{column}'; allowed: {names}; prefix a column with "
                        "'_' to keep it as an ignored note")
        problems.append(Problem(label, message.format(column=column, name=by_lower.get(
            column.lower(), ""), names=names), column=column))
    required_names = ", ".join(c for c, r in allowed.items() if r)
    for column, required in allowed.items():
        if not required or column in present or (geometry and column in ("lon", "lat")):
            continue
        message = (_("missing required column '{column}' (or point geometry); add it "
                     "(required: {required})") if column in ("lon", "lat") and name in _POINT_TABLES
                   else _("missing required column '{column}'; add it (required: {required})"))
        problems.append(Problem(label, message.format(column=column, required=required_names),
                                column=column))
    return problems


def _text(series: pd.Series) -> np.ndarray:
    """Return a column as an object array of stripped ``str``; '' for missing."""
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
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = ""
        elif isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            out[i] = str(int(v))
        else:
            out[i] = str(v).strip()
    return out


_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def _numbers(text: np.ndarray) -> np.ndarray:
    """Parse text to float64; '' and non-numbers become NaN. Accepts a decimal comma."""
    cleaned = [t.replace(",", ".") if _DECIMAL_COMMA.match(t) else t for t in text]
    return pd.to_numeric(pd.Series(cleaned, dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)


def _first_rows(values: np.ndarray) -> np.ndarray:
    """Position of the first row holding each row's value."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    first = np.full(len(uniques), len(values), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(values)))
    return first[codes]


def _rows(label: str, column: str | None, bad: np.ndarray,
          message: Callable[[int], str]) -> list[Problem]:
    return [Problem(label, message(int(i)), row=int(i) + 1, column=column)
            for i in np.flatnonzero(bad)]


def _same(message: str) -> Callable[[int], str]:
    """A row message that is the same for every row."""
    return lambda _row: message


def _locked_twice(i: int, *, first: np.ndarray, ids: np.ndarray) -> str:
    return _("child '{id}' is already locked at row {row}; lock each child to one "
             "home").format(id=ids[i], row=first[i] + 1)


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


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})


def _optional_str(values: np.ndarray) -> pd.Series:
    return pd.Series(np.where(values == "", np.array(None), values), dtype="str")
