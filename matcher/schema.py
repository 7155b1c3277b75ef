"""Input tables and their validation.

Five tables describe one matching run; their column names are the contract
(see the README's "Input tables"):

``children`` (required, at least one row)
    ``child_id, lon, lat, school_lon, school_lat, municipality, age, needs,
    sibling_group, urgency, waiting_since, max_school_minutes,
    avoid_municipalities, languages, language_required, culture, heard_on,
    current_home_id, current_home_keeps, placed_since``
``homes`` (required, at least one row)
    ``home_id, lon, lat, municipality, capacity, competences, min_age, max_age,
    kind, kin_of, accepts_sibling_groups, languages, culture, own_children_ages``
``contacts`` (optional)
    ``child_id, kind, lon, lat, weight, max_minutes``
``placements`` (optional; locked child -> home pairs)
    ``child_id, home_id, decided_on, by``
``vetoes`` (optional; forbidden child -> home pairs)
    ``child_id, home_id, decided_on, by``

Current placements: ``current_home_id`` is the home a child lives in now (its
place counts as used); it is never proposed again unless ``current_home_keeps``
is yes, which only a kinship or general home may say. ``placed_since`` is the
date the child moved in. Audit: ``decided_on`` (ISO date) and ``by``
(:data:`ROLES`) say when and by whom a lock or veto was decided; both are
optional, and the columns appear in the frames only when given.

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
* ``waiting_since``, ``heard_on``, ``placed_since``: ``datetime64``, NaT when empty;
  ``decided_on`` (placements, vetoes): ``datetime64``.
* ``current_home_id``: ``str``, missing (NaN) when empty; ``current_home_keeps``: ``bool``.
* ``accepts_sibling_groups`` and ``language_required``: ``bool`` (``False``
  when empty or absent).
* ``max_minutes`` (contacts): ``float64``, NaN when empty (no limit).
* ``contacts`` keeps file order and gains ``anchor_id`` (``<child_id>:contact:<k>``).


Column parsing (one problem per bad cell) lives in :mod:`matcher._columns`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher import lookup
from matcher._columns import (
    COLUMNS,
    MAX_CHILD_AGE,
    MAX_ID_LENGTH,
    _column_problems,
    _empty,
    _first_rows,
    _geometry_column,
    _locked_twice,
    _numbers,
    _optional_str,
    _rows,
    _same,
    _Table,
    _text,
    join_tags,
    split_tags,
)
from matcher.config import ScoringSettings
from matcher.errors import InputError, Problem
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.lookup import Registers
from matcher.rules import KEEPING_KINDS
from matcher.timetable import TimeTable

__all__ = [
    "ANCHOR_KINDS",
    "COLUMNS",
    "CONTACT_KINDS",
    "HOME_KINDS",
    "MAX_CHILD_AGE",
    "MAX_ID_LENGTH",
    "ROLES",
    "TABLES",
    "URGENCIES",
    "Inputs",
    "anchors",
    "check_tables",
    "join_tags",
    "raise_problems",
    "split_tags",
    "validate",
    "validate_times",
]

log = logging.getLogger(__name__)

TABLES: tuple[str, ...] = ("children", "homes", "contacts", "placements", "vetoes")
"""Input table names, in reporting order."""

URGENCIES: tuple[str, ...] = ("acute", "planned")
CONTACT_KINDS: tuple[str, ...] = ("relative", "friend", "activity", "parent")
HOME_KINDS: tuple[str, ...] = ("general", "kinship", "emergency", "specialized")
ANCHOR_KINDS: tuple[str, ...] = ("home", "school", *CONTACT_KINDS)
ROLES: tuple[str, ...] = ("bufetat", "kommune")
"""Who decided a lock, veto or decision (``by``), as in :mod:`matcher.decisions`."""
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
                          lambda i: _("unknown home_id '{id}'; use a home_id from the homes "
                                      "table").format(id=text["home_id"][i]))
    if "anchor_id" in text:
        known_anchors = set(anchors(inputs)["anchor_id"])
        problems += _rows(label, "anchor_id",
                          ~np.isin(text["anchor_id"], list(known_anchors)),
                          lambda i: _("unknown anchor_id '{id}'; anchor ids are "
                                      "<child_id>:school, <child_id>:home or "
                                      "<child_id>:contact:<k>").format(id=text["anchor_id"][i]))
    if "minutes" in text:
        minutes = _numbers(text["minutes"])
        problems += _rows(label, "minutes", ~(minutes >= 0),
                          lambda i: _("minutes must be a number >= 0 (or inf for unreachable)"))
    if "home_id" in text and "anchor_id" in text:
        pairs = pd.DataFrame({"h": text["home_id"], "a": text["anchor_id"]})
        problems += _rows(label, "home_id/anchor_id", pairs.duplicated().to_numpy(),
                          lambda i: _("duplicate home_id/anchor_id pair; keep one row per pair"))
    raise_problems(problems, {"times": label})
    long = pd.DataFrame({"home_id": text["home_id"], "anchor_id": text["anchor_id"],
                         "minutes": _numbers(text["minutes"])})
    return TimeTable.from_long(long, origin_col="home_id", destination_col="anchor_id")


def _frame_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def raise_problems(problems: list[Problem], labels: Mapping[str, str]) -> None:
    """Raise one :class:`InputError` listing ``problems`` by table (as ``labels`` orders them)."""
    if not problems:
        return
    order = {label: i for i, label in enumerate(labels.values())}
    ordered = sorted(problems, key=lambda p: (order.get(p.source, len(order)),
                                              -1 if p.row is None else p.row))
    files = sorted({p.source for p in problems}, key=lambda s: order.get(s, len(order)))
    n = len(problems)
    raise InputError(ngettext("invalid inputs: {n} problem in {files}",
                              "invalid inputs: {n} problems in {files}", n)
                     .format(n=n, files=", ".join(files)), ordered)


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
            table.problems.append(Problem(table.label, _("no rows; at least one child is "
                                                         "required") if name == "children"
                                          else _("no rows; at least one home is required")))
    for name in ("children", "homes"):
        if name not in tables and name not in unreadable:
            problems.append(Problem(labels.get(name, name),
                                    _("the {table} table is required").format(table=name)))

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
              lambda i: _("language_required is yes but languages is empty; list the child's "
                          "languages (ISO 639-1, e.g. 'nb;so') or set it to no"))
        culture = t.tags("culture", set(settings.cultures), "culture")
        heard = t.dates("heard_on")
        current = {c: f(c) for c, f in (("current_home_id", t.id_text),
                                        ("placed_since", functools.partial(_past, t)))
                   if t.has(c)}
        if t.has("current_home_keeps"):
            current["current_home_keeps"] = t.booleans("current_home_keeps", default=False)
        _check_current(t, current)
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
            "culture": pd.Series(culture, dtype=object), "heard_on": heard,
            **{c: _optional_str(v) if c == "current_home_id" else v
               for c, v in current.items()}})
    elif "children" not in unreadable:
        child_ids = set()

    if "homes" in tables:
        t = tables["homes"]
        ids = t.ids("home_id", unique=True)
        lon, lat = t.coordinates("lon", "lat", optional=False)
        municipality = t.municipalities("municipality")
        capacity = t.integers("capacity", low=0, high=None,
                              hint=" ({})".format(_("free places, locked placements "
                                                    "included")))
        comps = t.tags("competences", competences, "competence")
        min_age = t.integers("min_age", low=0, high=None)
        max_age = t.integers("max_age", low=0, high=None)
        t.add("min_age", min_age > max_age,
              lambda i: _("min_age {min_age} is above max_age {max_age}; swap them")
              .format(min_age=min_age[i], max_age=max_age[i]))
        kind = t.choices("kind", HOME_KINDS)
        kin_of = t.id_text("kin_of")
        if t.has("kind"):
            t.add("kin_of", (kind == "kinship") & (kin_of == ""),
                  lambda i: _("kinship home without kin_of; give the child_id or "
                              "sibling_group it is approved for"))
            t.add("kin_of", (kind != "kinship") & np.isin(kind, list(HOME_KINDS))
                  & (kin_of != ""),
                  lambda i: _("kin_of is set on a {kind} home; clear it, or set kind to "
                              "kinship").format(kind=kind[i]))
        if child_ids is not None:
            targets = child_ids | group_ids
            t.add("kin_of", (kind == "kinship") & (kin_of != "")
                  & ~np.isin(kin_of, list(targets)),
                  lambda i: _("kin_of '{id}' is neither a child_id nor a sibling_group "
                              "in the children table; fix the id").format(id=kin_of[i]))
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
        if "children" in tables and "current_home_id" in current:
            _check_current_homes(tables["children"], current, ids, kind)
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
        if t.has("decided_on"):
            frame["decided_on"] = _past(t, "decided_on")
        if t.has("by"):
            by = t.text("by")
            t.add("by", (by != "") & ~np.isin(by, ROLES), functools.partial(_bad_role, by=by))
            frame["by"] = pd.Series(by, dtype="str")
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
        tables["placements"].add(None, hit, lambda i: _(
            "locked placement {child} -> {home} is also vetoed (vetoes row {row}); remove the "
            "lock or the veto").format(child=locked[i][0], home=locked[i][1],
                                       row=veto_rows[locked[i]] + 1))

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
          lambda i: _("unknown {column} '{id}'; it must be in the {table} table")
          .format(column=column, id=ids[i], table=table))


def _bad_role(i: int, *, by: np.ndarray) -> str:
    return _("by '{by}' is not allowed; use one of {allowed}, or leave it empty").format(
        by=by[i], allowed=", ".join(ROLES))


def _past(t: _Table, column: str) -> np.ndarray:
    """An ISO date column whose dates may not lie in the future (after today)."""
    day = t.dates(column)
    today = np.datetime64(datetime.date.today(), "D")
    with np.errstate(invalid="ignore"):
        future = ~pd.isna(day) & (day.astype("datetime64[D]") > today)
    t.add(column, future, lambda i: _("{column} {day} is in the future; give the date it "
                                      "happened").format(column=column,
                                                         day=str(day[i])[:10]))
    return day


def _check_current(t: _Table, current: dict[str, np.ndarray]) -> None:
    """``current_home_keeps`` and ``placed_since`` need a ``current_home_id``."""
    home = current.get("current_home_id", np.full(t.n, "", dtype=object))
    for column in ("current_home_keeps", "placed_since"):
        if column in current:
            given = current[column].astype(bool) if column == "current_home_keeps" \
                else ~pd.isna(current[column])
            t.add(column, given & (home == ""),
                  _same(_("{column} is given but current_home_id is empty; give the home "
                          "the child lives in, or clear it").format(column=column)))


def _check_current_homes(t: _Table, current: dict[str, np.ndarray], home_ids: np.ndarray,
                         kind: np.ndarray) -> None:
    """``current_home_id`` is a home; only kinship and general homes may keep the child."""
    home = current["current_home_id"]
    kind_of = dict(zip(home_ids, kind, strict=True))
    t.add("current_home_id", (home != "") & ~np.isin(home, list(kind_of)),
          lambda i: _("unknown current_home_id '{home}'; it must be in the homes table")
          .format(home=home[i]))
    keeps = current.get("current_home_keeps", np.zeros(t.n, dtype=bool))
    home_kind = np.array([kind_of.get(h, "") for h in home], dtype=object)
    t.add("current_home_keeps", keeps & np.isin(home_kind, [k for k in HOME_KINDS
                                                            if k not in KEEPING_KINDS]),
          lambda i: _("current_home_keeps is yes but {home} is not a kinship or general home "
                      "(kind {kind}); only those may keep the child: set it to no")
          .format(home=home[i], kind=home_kind[i]))


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
                t.label, _("sibling_group '{group}' is also the id of child at row {row}, "
                           "who is not in the group; rename the group (kin_of would be "
                           "ambiguous)").format(group=g, row=row_of[g] + 1),
                row=i + 1, column="sibling_group"))
