"""Input tables and their validation.

Five tables describe one matching run; their column names are the contract
(see the README's "Input tables"):

``children`` (required, at least one row)
    ``child_id, lon, lat, school_lon, school_lat, municipality, age, needs,
    sibling_group, urgency, waiting_since, max_school_minutes,
    avoid_municipalities, languages, language_required, culture, heard_on``
``homes`` (required, at least one row)
    ``home_id, lon, lat, municipality, capacity, competences, min_age, max_age,
    kind, kin_of, accepts_sibling_groups, languages, culture, own_children_ages``
``contacts`` (optional)
    ``child_id, kind, lon, lat, weight, max_minutes``
``placements`` (optional; locked child -> home pairs)
    ``child_id, home_id``
``vetoes`` (optional; forbidden child -> home pairs)
    ``child_id, home_id``

Tables are read from CSV (UTF-8, ``,`` or ``;`` delimited), GeoJSON or
GeoPackage (first layer, or ``file.gpkg:layer``). Coordinates are WGS84
longitude/latitude in degrees (EPSG:4326); point layers may carry them as
geometry in any CRS instead, which is reprojected to EPSG:4326.

Validation collects every problem in every table and raises one
:class:`~matcher.errors.InputError`. :func:`validate` is pure (frames in,
:class:`Inputs` out); :func:`read_inputs` reads files and then validates.

Normalised dtypes of the validated frames
-----------------------------------------
* ids, ``municipality``, ``urgency``, ``kind``: ``str``; ``municipality`` is
  always 4 digits (``"0301"``).
* ``sibling_group`` and ``kin_of``: ``str``, missing (NaN) when empty, so that
  ``groupby`` never forms a group of "no group".
* ``lon, lat, school_lon, school_lat, max_school_minutes, weight``:
  ``float64``; an empty school or limit is NaN.
* ``age, capacity, min_age, max_age``: ``int64``.
* ``needs``, ``competences``, ``languages`` (ISO 639-1, lower case),
  ``culture`` and ``avoid_municipalities`` (4-digit numbers): ``tuple[str, ...]``
  per row (sorted, unique; ``()`` when empty). Use :func:`join_tags` to write
  them back as ``a;b``.
* ``own_children_ages``: ``tuple[int, ...]`` per row (years, ascending, repeats
  kept for twins; ``()`` when empty).
* ``waiting_since`` and ``heard_on``: ``datetime64``, NaT when empty.
* ``accepts_sibling_groups`` and ``language_required``: ``bool`` (``False``
  when empty or absent).
* ``max_minutes`` (contacts): ``float64``, NaN when empty (no limit).
* ``contacts`` keeps file order and gains ``anchor_id`` (``<child_id>:contact:<k>``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher import lookup
from matcher.config import ScoringSettings
from matcher.errors import InputError, Problem
from matcher.lookup import Registers
from matcher.timetable import TimeTable

log = logging.getLogger(__name__)

TABLES: tuple[str, ...] = ("children", "homes", "contacts", "placements", "vetoes")
"""Input table names, in reporting order."""

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
    "placements": {"child_id": True, "home_id": True},
    "vetoes": {"child_id": True, "home_id": True},
}
"""Allowed columns of each table, mapped to whether the column is required."""

URGENCIES: tuple[str, ...] = ("acute", "planned")
CONTACT_KINDS: tuple[str, ...] = ("relative", "friend", "activity", "parent")
HOME_KINDS: tuple[str, ...] = ("general", "kinship", "emergency", "specialized")
ANCHOR_KINDS: tuple[str, ...] = ("home", "school", *CONTACT_KINDS)
MAX_CHILD_AGE = 25
"""Oldest age handled (ettervern, aftercare, runs to 25)."""
MAX_ID_LENGTH = 64
"""Longest id (``child_id``, ``home_id``, ``sibling_group``, ``kin_of``), in characters."""

_POINT_TABLES = ("children", "homes", "contacts")
_TRUE = frozenset({"true", "1", "yes", "ja", "y", "j"})
_FALSE = frozenset({"false", "0", "no", "nei", "n"})
_ID_COLUMNS = {"children": "child_id", "homes": "home_id"}
_TIME_COLUMNS = ("home_id", "anchor_id", "minutes")


@dataclass(frozen=True)
class Inputs:
    """Validated, normalised input tables of one run.

    Attributes
    ----------
    children, contacts, homes, placements, vetoes
        Frames with the columns of :data:`COLUMNS` (plus ``anchor_id`` in
        ``contacts``), normalised as described in the module docstring.
        ``contacts``, ``placements`` and ``vetoes`` are empty frames with the
        right columns when not given.
    sources
        Table name -> SHA-256 hex digest of the file read (or of the frame's
        CSV text when validated from frames); absent tables have no entry.
    warnings
        What was changed on the way in and should be listed by the run, e.g.
        pre-2024 municipality numbers translated to their successor.
    """

    children: pd.DataFrame
    contacts: pd.DataFrame
    homes: pd.DataFrame
    placements: pd.DataFrame
    vetoes: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()


# --------------------------------------------------------------------------- public API


def validate(
    children: pd.DataFrame,
    homes: pd.DataFrame,
    contacts: pd.DataFrame | None = None,
    placements: pd.DataFrame | None = None,
    vetoes: pd.DataFrame | None = None,
    *,
    settings: ScoringSettings,
    labels: Mapping[str, str] | None = None,
    registers: Registers | None = None,
) -> Inputs:
    """Validate input frames and return them normalised.

    Pure: frames in, :class:`Inputs` out. Performs the same checks as
    :func:`read_inputs`. Frames may hold text or typed columns; a
    :class:`geopandas.GeoDataFrame` with point geometry may give positions as
    geometry in any CRS instead of ``lon``/``lat``.

    Parameters
    ----------
    children, homes
        Required tables.
    contacts, placements, vetoes
        Optional tables; ``None`` means none.
    settings
        Scoring settings defining the allowed competence and need tags.
    labels
        Table name -> name used as ``Problem.source`` (default: table name).
    registers
        Registers for tables that give addresses, school ids or no municipality
        (:mod:`matcher.lookup`); ``None`` consults none.

    Returns
    -------
    Inputs
        Normalised tables; ``sources`` holds SHA-256 digests of each frame's
        CSV text.

    Raises
    ------
    InputError
        Listing every problem found.
    """
    frames: dict[str, pd.DataFrame | None] = {"children": children, "homes": homes,
                                              "contacts": contacts, "placements": placements,
                                              "vetoes": vetoes}
    given = {k: v for k, v in frames.items() if v is not None}
    names = {t: (labels or {}).get(t, t) for t in TABLES}
    inputs, problems = check_tables(given, settings=settings, labels=names, unreadable=set(),
                                    registers=registers)
    raise_problems(problems, names)
    assert inputs is not None
    sources = {t: _frame_digest(f) for t, f in given.items()}
    return dataclasses.replace(inputs, sources=sources)


def anchors(inputs: Inputs, *, include_home: bool = True) -> pd.DataFrame:
    """Return every travel-time destination ("anchor") of every child.

    Anchor ids: ``<child_id>:home`` (the home the child lived in),
    ``<child_id>:school`` (only when the child has a school position) and
    ``<child_id>:contact:<k>`` where *k* is the 1-based order of the child's
    rows in the contacts table.

    Parameters
    ----------
    inputs
        Validated inputs.
    include_home
        Include the ``home`` anchor of each child (not used by scoring).

    Returns
    -------
    pandas.DataFrame
        Columns ``anchor_id, child_id, kind, lon, lat, weight``; ``kind`` is
        one of :data:`ANCHOR_KINDS`; ``lon``/``lat`` in degrees (EPSG:4326);
        ``weight`` is 1 for home and school. Rows are ordered by child (as in
        the children table), then home, school, contacts.
    """
    ch = inputs.children
    parts: list[pd.DataFrame] = []
    if include_home:
        parts.append(pd.DataFrame({"anchor_id": ch["child_id"] + ":home",
                                   "child_id": ch["child_id"], "kind": "home",
                                   "lon": ch["lon"], "lat": ch["lat"], "weight": 1.0,
                                   "_order": 0}))
    school = ch[ch["school_lon"].notna()]
    parts.append(pd.DataFrame({"anchor_id": school["child_id"] + ":school",
                               "child_id": school["child_id"], "kind": "school",
                               "lon": school["school_lon"], "lat": school["school_lat"],
                               "weight": 1.0, "_order": 1}))
    co = inputs.contacts
    parts.append(pd.DataFrame({"anchor_id": co["anchor_id"], "child_id": co["child_id"],
                               "kind": co["kind"], "lon": co["lon"], "lat": co["lat"],
                               "weight": co["weight"], "_order": 2 + np.arange(len(co))}))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty({"anchor_id": "str", "child_id": "str", "kind": "str", "lon": "float64",
                       "lat": "float64", "weight": "float64"})
    out = pd.concat(parts, ignore_index=True)
    child_pos = pd.Index(ch["child_id"]).get_indexer(out["child_id"])
    out = out.assign(_child=child_pos).sort_values(["_child", "_order"], kind="stable")
    out = out.drop(columns=["_child", "_order"]).reset_index(drop=True)
    return out.astype({"anchor_id": "str", "child_id": "str", "kind": "str",
                       "lon": "float64", "lat": "float64", "weight": "float64"})


def validate_times(frame: pd.DataFrame, inputs: Inputs, *, label: str = "times") -> TimeTable:
    """Validate a long travel-time table ``home_id, anchor_id, minutes`` against the inputs.

    Pure: a frame in, a :class:`~matcher.timetable.TimeTable` out. Files are
    read by :func:`matcher.io.readers.read_times`.

    Parameters
    ----------
    frame
        Text or typed columns ``home_id, anchor_id, minutes``. ``minutes`` is
        travel time in minutes from the home to the anchor; ``inf`` or a
        missing pair means unreachable.
    inputs
        Validated inputs; home and anchor ids must exist in them.
    label
        Name of the table in problems (the file name).

    Returns
    -------
    TimeTable
        Origins are ``home_id``, destinations ``anchor_id``.

    Raises
    ------
    InputError
        On missing or unknown columns, unknown ids, bad minutes or duplicate
        pairs; every problem is listed.
    """
    geom_col = _geometry_column(frame)
    if geom_col is not None:
        frame = pd.DataFrame(frame.drop(columns=geom_col))
    allowed = dict.fromkeys(_TIME_COLUMNS, True)
    problems = _column_problems(frame, allowed, label, "times")
    text = {c: _text(frame[c]) for c in _TIME_COLUMNS if c in frame.columns}
    if "home_id" in text:
        known = set(inputs.homes["home_id"])
        problems += _rows(label, "home_id", ~np.isin(text["home_id"], list(known)),
                          lambda i: f"unknown home_id '{text['home_id'][i]}'; "
                                    "use a home_id from the homes table")
    if "anchor_id" in text:
        known_anchors = set(anchors(inputs)["anchor_id"])
        problems += _rows(label, "anchor_id",
                          ~np.isin(text["anchor_id"], list(known_anchors)),
                          lambda i: f"unknown anchor_id '{text['anchor_id'][i]}'; anchor ids "
                                    "are <child_id>:school, <child_id>:home or "
                                    "<child_id>:contact:<k>")
    if "minutes" in text:
        minutes = _numbers(text["minutes"])
        problems += _rows(label, "minutes", ~(minutes >= 0),
                          lambda i: "minutes must be a number >= 0 (or inf for unreachable)")
    if "home_id" in text and "anchor_id" in text:
        pairs = pd.DataFrame({"h": text["home_id"], "a": text["anchor_id"]})
        problems += _rows(label, "home_id/anchor_id", pairs.duplicated().to_numpy(),
                          lambda i: "duplicate home_id/anchor_id pair; keep one row per pair")
    raise_problems(problems, {"times": label})
    long = pd.DataFrame({"home_id": text["home_id"], "anchor_id": text["anchor_id"],
                         "minutes": _numbers(text["minutes"])})
    return TimeTable.from_long(long, origin_col="home_id", destination_col="anchor_id")


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


def _frame_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


# --------------------------------------------------------------------------- checks


def raise_problems(problems: list[Problem], labels: Mapping[str, str]) -> None:
    """Raise one :class:`InputError` listing ``problems`` by table (as ``labels`` orders them)."""
    if not problems:
        return
    order = {label: i for i, label in enumerate(labels.values())}
    ordered = sorted(problems, key=lambda p: (order.get(p.source, len(order)),
                                              -1 if p.row is None else p.row))
    files = sorted({p.source for p in problems}, key=lambda s: order.get(s, len(order)))
    raise InputError(f"invalid inputs: {len(problems)} problem(s) in {', '.join(files)}",
                     ordered)


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
            self.problems.append(Problem(self.label, "layer has no CRS; set it (e.g. "
                                         "GeoDataFrame.set_crs('EPSG:4326')) and write it again"))
            self.crs_note = " (layer CRS unknown)"
            return plain.drop(columns=["lon", "lat"], errors="ignore")
        crs_name = geoms.crs.to_string()
        self.crs_note = f" (geometry in {crs_name}, converted to EPSG:4326)"
        missing = (geoms.isna() | geoms.is_empty).to_numpy()
        not_point = ~missing & (geoms.geom_type != "Point").to_numpy()
        self.problems += _rows(self.label, "geometry", missing,
                               lambda i: "empty geometry; every row needs a point position")
        types = geoms.geom_type.to_numpy()
        self.problems += _rows(self.label, "geometry", not_point,
                               lambda i: f"geometry is a {types[i]}; use points (e.g. "
                                         "representative_point())")
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
        what = "child" if column == "child_id" else "home"
        self.add(column, values == "",
                 lambda i: f"empty {column}; give every row the {what}'s id")
        values = self.id_text(column)
        if column == "child_id" and self.name == "children":
            self.add(column, np.char.find(values.astype(str), ":") >= 0,
                     lambda i: f"child_id '{values[i]}' contains ':', which is reserved for "
                               "anchor ids; rename the child")
        if unique:
            first = _first_rows(values)
            dup = (first != np.arange(self.n)) & (values != "")
            self.add(column, dup, lambda i: f"duplicate {column} '{values[i]}' (first at row "
                                            f"{first[i] + 1}); ids must be unique")
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
                 _same(f"{column} holds a line break, tab or other control character; use "
                       "printable characters only"))
        self.add(column, long, lambda i: f"{column} is {len(values[i])} characters long; use "
                                         f"at most {MAX_ID_LENGTH}")
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
                self.problems.append(Problem(self.label, f"column '{absent}' is missing but "
                                             f"its partner is present; add both or neither",
                                             column=absent))
            nan = np.full(self.n, np.nan)
            return nan, nan.copy()
        skip = self.geometry_bad.copy() if lon_col == "lon" else np.zeros(self.n, dtype=bool)
        empty_lon, empty_lat = lon_text == "", lat_text == ""
        if optional:
            both = empty_lon & empty_lat
            self.add(lon_col, empty_lon & ~empty_lat,
                     lambda i: f"{lon_col} is empty but {lat_col} is set; give both or neither")
            self.add(lat_col, empty_lat & ~empty_lon,
                     lambda i: f"{lat_col} is empty but {lon_col} is set; give both or neither")
            skip = skip | empty_lon | empty_lat
        else:
            both = np.zeros(self.n, dtype=bool)
        note = self.crs_note if lon_col == "lon" else ""
        for col, text, values, limit in ((lon_col, lon_text, lon, 180.0),
                                         (lat_col, lat_text, lat, 90.0)):
            empty = (text == "") & ~skip
            self.add(col, empty, _same(f"empty {col}; give WGS84 degrees (EPSG:4326)"))
            bad_number = (text != "") & np.isnan(values) & ~skip
            self.add(col, bad_number,
                     _same(f"{col} is not a number; give WGS84 degrees (EPSG:4326)"))
            out = np.isfinite(values) | np.isinf(values)
            out &= ~(np.abs(values) <= limit) & ~skip
            self.add(col, out, lambda i, c=col, v=values, lim=limit:  # type: ignore[misc]
                     f"{c} is outside -{lim:g}..{lim:g}{note}; "
                     + ("looks like projected metres: convert to WGS84 degrees (EPSG:4326)"
                        if np.isfinite(v[i]) and abs(v[i]) > 1000
                        else "give WGS84 degrees (EPSG:4326); are lon and lat swapped?"))
        zero = (lon == 0) & (lat == 0) & ~skip
        self.add(lon_col, zero, lambda i: f"{lon_col}/{lat_col} is 0,0, which marks a missing "
                                          "position; give the real position")
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
                 lambda i: f"empty {column}; give a whole number {rng}{hint}")
        self.add(column, bad & (text != ""),
                 lambda i: f"{column} '{text[i]}' is not a whole number {rng}{hint}")
        return np.where(bad, 0, values).astype(np.int64)

    def floats(self, column: str, *, default: float) -> np.ndarray:
        """Optional positive finite numbers; empty gives ``default``."""
        text = self.text(column)
        values = np.where(text == "", default, _numbers(text))
        bad = (text != "") & ~(np.isfinite(values) & (values > 0))
        self.add(column, bad, lambda i: f"{column} '{text[i]}' must be a number > 0 "
                                        "(or empty for the default)")
        return values

    def choices(self, column: str, allowed: tuple[str, ...]) -> np.ndarray:
        text = self.text(column)
        if not self.has(column):
            return text
        bad = ~np.isin(text, list(allowed))
        self.add(column, bad, lambda i: f"{'empty ' + column if text[i] == '' else repr(text[i])}"
                                        f" is not a valid {column}; use one of "
                                        f"{', '.join(allowed)}")
        return text

    def booleans(self, column: str, *, default: bool) -> np.ndarray:
        text = np.array([t.lower() for t in self.text(column)], dtype=object)
        true = np.isin(text, list(_TRUE))
        bad = (text != "") & ~true & ~np.isin(text, list(_FALSE))
        self.add(column, bad, lambda i: f"'{self.text(column)[i]}' is not a yes/no value; use "
                                        "true/false, yes/no, ja/nei or 1/0")
        return np.where(text == "", default, true).astype(bool)

    def municipalities(self, column: str) -> np.ndarray:
        text = self.text(column)
        if not self.has(column):
            return text
        # Spreadsheets drop the leading zero of e.g. 0301 (Oslo); 3 digits are unambiguous.
        padded = np.array([t.zfill(4) if t.isdigit() and len(t) == 3 else t for t in text],
                          dtype=object)
        bad = np.array([not (len(t) == 4 and t.isascii() and t.isdigit()) for t in padded])
        self.add(column, bad, lambda i: f"'{text[i]}' is not a 4-digit kommunenummer (e.g. "
                                        "'0301'); store it as text to keep the leading zero")
        return padded

    def tags(self, column: str, allowed: set[str], what: str) -> list[tuple[str, ...]]:
        text = self.text(column)
        out = [split_tags(t) for t in text]
        lower = {a.lower(): a for a in allowed}
        for i, tags in enumerate(out):
            unknown = [t for t in tags if t not in allowed]
            if unknown:
                hints = [f"'{t}' (did you mean '{lower[t.lower()]}'?)" if t.lower() in lower
                         else f"'{t}'" for t in unknown]
                self.problems.append(Problem(
                    self.label, f"unknown {what} tag(s) {', '.join(hints)}; allowed: "
                                f"{', '.join(sorted(allowed, key=str.lower))} "
                                "(separate tags with ';')", row=i + 1, column=column))
        return out

    def municipality_lists(self, column: str) -> list[tuple[str, ...]]:
        """``;``-separated 4-digit municipality numbers (3 digits are zero-padded)."""
        out = []
        for i, text in enumerate(self.text(column)):
            codes = [c.zfill(4) if c.isdigit() and len(c) == 3 else c for c in split_tags(text)]
            bad = [c for c in codes if not (len(c) == 4 and c.isascii() and c.isdigit())]
            if bad:
                self.problems.append(Problem(
                    self.label, f"{', '.join(repr(b) for b in bad)} not a 4-digit kommunenummer;"
                                " separate numbers with ';' (e.g. '4626;4631')",
                    row=i + 1, column=column))
            out.append(tuple(sorted(set(codes))))
        return out

    def languages(self, column: str) -> list[tuple[str, ...]]:
        """``;``-separated ISO 639-1 codes (two lower-case letters)."""
        out = []
        for i, tags in enumerate(split_tags(t) for t in self.text(column)):
            bad = [x for x in tags if not (len(x) == 2 and x.isascii() and x.isalpha()
                                           and x.islower())]
            if bad:
                hint = (" (codes are lower case)" if all(len(b) == 2 and b.isalpha() for b in bad)
                        else "")
                self.problems.append(Problem(
                    self.label, f"{', '.join(repr(b) for b in bad)} not an ISO 639-1 language "
                                f"code{hint}; write two letters such as 'nb', 'se', 'so', "
                                "separated by ';'", row=i + 1, column=column))
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
                    self.label, f"{', '.join(repr(b) for b in bad)} not an age 0-{MAX_CHILD_AGE}"
                                "; list whole years separated by ';' (e.g. '4;9')",
                    row=i + 1, column=column))
            out.append(tuple(sorted(int(p) for p in parts if p not in bad)))
        return out

    def dates(self, column: str) -> np.ndarray:
        text = self.text(column)
        parsed = pd.to_datetime(pd.Series(np.where(text == "", np.array(None), text), dtype=object),
                                format="ISO8601", errors="coerce")
        bad = (text != "") & parsed.isna().to_numpy()
        self.add(column, bad, lambda i: f"'{text[i]}' is not an ISO date; write YYYY-MM-DD")
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
            fix = f"rename it to '{by_lower[column.lower()]}' (names are lower case)"
        else:
            fix = f"allowed: {names}; prefix a column with '_' to keep it as an ignored note"
        problems.append(Problem(label, f"unknown column '{column}'; {fix}", column=column))
    required_names = ", ".join(c for c, r in allowed.items() if r)
    for column, required in allowed.items():
        if not required or column in present or (geometry and column in ("lon", "lat")):
            continue
        extra = " (or point geometry)" if column in ("lon", "lat") and name in _POINT_TABLES else ""
        problems.append(Problem(label, f"missing required column '{column}'{extra}; add it "
                                       f"(required: {required_names})", column=column))
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
    return f"child '{ids[i]}' is already locked at row {first[i] + 1}; lock each child to one home"


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})


def _optional_str(values: np.ndarray) -> pd.Series:
    return pd.Series(np.where(values == "", np.array(None), values), dtype="str")


def check_tables(frames: Mapping[str, pd.DataFrame | None], *, settings: ScoringSettings,
                 labels: Mapping[str, str], unreadable: set[str],
                 registers: Registers | None = None) -> tuple[Inputs | None, list[Problem]]:
    """Run every check; return normalised inputs (meaningful only without problems).

    ``unreadable`` names tables whose file could not be read (not reported as
    missing). With ``registers``, addresses, school ids and municipality numbers
    are completed first (:func:`matcher.lookup.complete`).
    """
    completed = lookup.complete(frames, registers or Registers(), labels=labels)
    frames = completed.frames
    problems: list[Problem] = list(completed.problems)
    tables: dict[str, _Table] = {}
    for name in TABLES:
        frame = frames.get(name)
        if frame is None:
            continue
        table = _Table(name, labels.get(name, name), frame)
        tables[name] = table
        if name in ("children", "homes") and table.n == 0:
            table.problems.append(Problem(table.label, f"no rows; at least one "
                                          f"{'child' if name == 'children' else 'home'} "
                                          "is required"))
    for name in ("children", "homes"):
        if name not in tables and name not in unreadable:
            problems.append(Problem(labels.get(name, name), f"the {name} table is required"))

    competences = set(settings.competences)
    need_tags = set(settings.need_competences) | competences
    child_ids: set[str] | None = None
    group_ids: set[str] = set()
    home_ids: set[str] | None = None
    out: dict[str, pd.DataFrame] = {}

    if "children" in tables:
        t = tables["children"]
        ids = t.ids("child_id", unique=True)
        lon, lat = t.coordinates("lon", "lat", optional=False)
        s_lon, s_lat = t.coordinates("school_lon", "school_lat", optional=True)
        municipality = t.municipalities("municipality")
        age = t.integers("age", low=0, high=MAX_CHILD_AGE)
        needs = t.tags("needs", need_tags, "need")
        group = t.id_text("sibling_group")
        urgency = t.choices("urgency", URGENCIES)
        waiting = t.dates("waiting_since")
        max_school = t.floats("max_school_minutes", default=np.nan)
        avoid = t.municipality_lists("avoid_municipalities")
        languages = t.languages("languages")
        required = t.booleans("language_required", default=False)
        t.add("language_required", required & np.array([not x for x in languages], dtype=bool),
              lambda i: "language_required is yes but languages is empty; list the child's "
                        "languages (ISO 639-1, e.g. 'nb;so') or set it to no")
        culture = t.tags("culture", set(settings.cultures), "culture")
        heard = t.dates("heard_on")
        _check_groups(t, ids, group)
        # Without a child_id column no reference to a child can be checked (no cascade).
        child_ids = {i for i in ids if i} if t.has("child_id") else None
        group_ids = {g for g in group if g}
        out["children"] = pd.DataFrame({
            "child_id": pd.Series(ids, dtype="str"), "lon": lon, "lat": lat,
            "school_lon": s_lon, "school_lat": s_lat,
            "municipality": pd.Series(municipality, dtype="str"), "age": age,
            "needs": pd.Series(needs, dtype=object), "sibling_group": _optional_str(group),
            "urgency": pd.Series(urgency, dtype="str"), "waiting_since": waiting,
            "max_school_minutes": max_school,
            "avoid_municipalities": pd.Series(avoid, dtype=object),
            "languages": pd.Series(languages, dtype=object), "language_required": required,
            "culture": pd.Series(culture, dtype=object), "heard_on": heard})
    elif "children" not in unreadable:
        child_ids = set()

    if "homes" in tables:
        t = tables["homes"]
        ids = t.ids("home_id", unique=True)
        lon, lat = t.coordinates("lon", "lat", optional=False)
        municipality = t.municipalities("municipality")
        capacity = t.integers("capacity", low=0, high=None,
                              hint=" (free places, locked placements included)")
        comps = t.tags("competences", competences, "competence")
        min_age = t.integers("min_age", low=0, high=None)
        max_age = t.integers("max_age", low=0, high=None)
        t.add("min_age", min_age > max_age,
              lambda i: f"min_age {min_age[i]} is above max_age {max_age[i]}; swap them")
        kind = t.choices("kind", HOME_KINDS)
        kin_of = t.id_text("kin_of")
        if t.has("kind"):
            t.add("kin_of", (kind == "kinship") & (kin_of == ""),
                  lambda i: "kinship home without kin_of; give the child_id or sibling_group "
                            "it is approved for")
            t.add("kin_of", (kind != "kinship") & np.isin(kind, list(HOME_KINDS))
                  & (kin_of != ""),
                  lambda i: f"kin_of is set on a {kind[i]} home; clear it, or set kind to "
                            "kinship")
        if child_ids is not None:
            targets = child_ids | group_ids
            t.add("kin_of", (kind == "kinship") & (kin_of != "")
                  & ~np.isin(kin_of, list(targets)),
                  lambda i: f"kin_of '{kin_of[i]}' is neither a child_id nor a sibling_group "
                            "in the children table; fix the id")
        accepts = t.booleans("accepts_sibling_groups", default=False)
        languages = t.languages("languages")
        culture = t.tags("culture", set(settings.cultures), "culture")
        own_ages = t.age_lists("own_children_ages")
        home_ids = {i for i in ids if i} if t.has("home_id") else None
        out["homes"] = pd.DataFrame({
            "home_id": pd.Series(ids, dtype="str"), "lon": lon, "lat": lat,
            "municipality": pd.Series(municipality, dtype="str"), "capacity": capacity,
            "competences": pd.Series(comps, dtype=object), "min_age": min_age,
            "max_age": max_age, "kind": pd.Series(kind, dtype="str"),
            "kin_of": _optional_str(kin_of), "accepts_sibling_groups": accepts,
            "languages": pd.Series(languages, dtype=object),
            "culture": pd.Series(culture, dtype=object),
            "own_children_ages": pd.Series(own_ages, dtype=object)})
    elif "homes" not in unreadable:
        home_ids = set()

    if "contacts" in tables:
        t = tables["contacts"]
        ids = t.ids("child_id", unique=False)
        _check_refs(t, "child_id", ids, child_ids, "children")
        kind = t.choices("kind", CONTACT_KINDS)
        lon, lat = t.coordinates("lon", "lat", optional=False)
        weight = t.floats("weight", default=1.0)
        max_minutes = t.floats("max_minutes", default=np.nan)
        k = pd.Series(ids, dtype=object).groupby(ids).cumcount().to_numpy() + 1
        anchor = np.array([f"{c}:contact:{n}" for c, n in zip(ids, k, strict=True)],
                          dtype=object)
        out["contacts"] = pd.DataFrame({
            "child_id": pd.Series(ids, dtype="str"), "kind": pd.Series(kind, dtype="str"),
            "lon": lon, "lat": lat, "weight": weight, "max_minutes": max_minutes,
            "anchor_id": pd.Series(anchor, dtype="str")})
    else:
        out["contacts"] = _empty({"child_id": "str", "kind": "str", "lon": "float64",
                                  "lat": "float64", "weight": "float64",
                                  "max_minutes": "float64", "anchor_id": "str"})

    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("placements", "vetoes"):
        if name not in tables:
            out[name] = _empty({"child_id": "str", "home_id": "str"})
            continue
        t = tables[name]
        c_ids = t.ids("child_id", unique=False)
        h_ids = t.ids("home_id", unique=False)
        _check_refs(t, "child_id", c_ids, child_ids, "children")
        _check_refs(t, "home_id", h_ids, home_ids, "homes")
        pairs[name] = (c_ids, h_ids)
        frame = pd.DataFrame({"child_id": pd.Series(c_ids, dtype="str"),
                              "home_id": pd.Series(h_ids, dtype="str")})
        if name == "placements":
            first = _first_rows(c_ids)
            t.add("child_id", (first != np.arange(t.n)) & (c_ids != ""),
                  functools.partial(_locked_twice, first=first, ids=c_ids))
        else:
            frame = frame.drop_duplicates(ignore_index=True)  # a veto set; repeats are harmless
        out[name] = frame
    if "placements" in pairs and "vetoes" in pairs:
        veto_rows = {(c, h): i for i, (c, h) in enumerate(zip(*pairs["vetoes"], strict=True))}
        locked = list(zip(*pairs["placements"], strict=True))
        hit = np.array([p in veto_rows and p[0] != "" for p in locked], dtype=bool)
        tables["placements"].add(None, hit, lambda i: f"locked placement {locked[i][0]} -> "
                                 f"{locked[i][1]} is also vetoed (vetoes row "
                                 f"{veto_rows[locked[i]] + 1}); remove the lock or the veto")

    for t in tables.values():
        problems += t.problems
    if problems or "children" not in out or "homes" not in out:
        return None, problems
    return Inputs(out["children"], out["contacts"], out["homes"], out["placements"],
                  out["vetoes"], warnings=completed.warnings), []


def _check_refs(t: _Table, column: str, ids: np.ndarray, known: set[str] | None,
                table: str) -> None:
    if known is None or not t.has(column):
        return
    t.add(column, (ids != "") & ~np.isin(ids, list(known)),
          lambda i: f"unknown {column} '{ids[i]}'; it must be in the {table} table")


def _check_groups(t: _Table, ids: np.ndarray, group: np.ndarray) -> None:
    """A group name may not be another child's id (siblings may live in different
    municipalities: each child's municipality component uses its own)."""
    if not t.has("sibling_group"):
        return
    first_of_group: dict[str, int] = {}
    for i, g in enumerate(group):
        if g:
            first_of_group.setdefault(g, i)
    members: dict[str, set[str]] = {}
    for child, g in zip(ids, group, strict=True):
        if g:
            members.setdefault(g, set()).add(child)
    row_of = {c: i for i, c in enumerate(ids) if c}
    for g, i in first_of_group.items():
        if g in row_of and g not in members[g]:
            t.problems.append(Problem(
                t.label, f"sibling_group '{g}' is also the id of child at row {row_of[g] + 1}, "
                         "who is not in the group; rename the group (kin_of would be "
                         "ambiguous)", row=i + 1, column="sibling_group"))
