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
* ``needs``, ``competences``, ``languages`` (one ISO 639 code per language,
  :mod:`matcher.languages`),
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


Column parsing (one problem per bad cell) is the table engine, :mod:`matcher.tables`;
this module adds the checks across rows and tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher import lookup
from matcher import tables as tables_
from matcher.config import ScoringSettings
from matcher.errors import InputError, Problem, sheet_row
from matcher.i18n import gettext as _
from matcher.i18n import ngettext
from matcher.lookup import Registers
from matcher.rules import KEEPING_KINDS
from matcher.tables import (
    COLUMNS,
    CONTACT_KINDS,
    HOME_KINDS,
    MAX_CHILD_AGE,
    MAX_ID_LENGTH,
    ROLES,
    URGENCIES,
    join_tags,
    split_tags,
)
from matcher.tables.engine import _first_rows
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

TABLES: tuple[str, ...] = tables_.INPUT_TABLES
"""Input table names, in reporting order."""

ANCHOR_KINDS: tuple[str, ...] = ("home", "school", *CONTACT_KINDS)


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
    t = tables_.read("travel_times", frame, label=label)
    if t.has("home_id"):
        ids = t.values["home_id"]
        t.add("home_id", (ids != "") & ~np.isin(ids, list(set(inputs.homes["home_id"]))),
              lambda i: _("unknown home_id '{id}'; use a home_id from the homes table")
              .format(id=ids[i]))
    if t.has("anchor_id"):
        anchor = t.values["anchor_id"]
        known = set(anchors(inputs)["anchor_id"])
        t.add("anchor_id", (anchor != "") & ~np.isin(anchor, list(known)),
              lambda i: _("unknown anchor_id '{id}'; anchor ids are <child_id>:school, "
                          "<child_id>:home or <child_id>:contact:<k>").format(id=anchor[i]))
    if t.has("home_id") and t.has("anchor_id"):
        pairs = pd.DataFrame({"h": t.values["home_id"], "a": t.values["anchor_id"]})
        t.add("home_id/anchor_id", pairs.duplicated().to_numpy(),
              _("duplicate home_id/anchor_id pair; keep one row per pair"))
    raise_problems(t.problems, {"times": label})
    long = t.frame()
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

    Each table is read by its spec (:data:`matcher.tables.SPECS`); the checks
    across rows and tables follow. ``unreadable`` names tables whose file
    could not be read (not reported as missing). With ``registers``,
    addresses, school ids and municipality numbers are completed first
    (:func:`matcher.lookup.complete`).
    """
    completed = lookup.complete(frames, registers or Registers(), labels=labels)
    problems: list[Problem] = list(completed.problems)
    vocabularies = {"needs": set(settings.need_competences)
                    | (set(settings.competences) - set(settings.baseline)),
                    "competences": set(settings.competences), "cultures": set(settings.cultures)}
    tables = {name: tables_.read(name, frame, label=labels.get(name, name),
                                 vocabularies=vocabularies)
              for name in TABLES if (frame := completed.frames.get(name)) is not None}
    for name in ("children", "homes"):
        if name not in tables and name not in unreadable:
            problems.append(Problem(labels.get(name, name),
                                    _("the {table} table is required").format(table=name)))
    # Without an id column no reference to the table can be checked (no cascade).
    child_ids = _known(tables, "children", "child_id", unreadable)
    home_ids = _known(tables, "homes", "home_id", unreadable)
    if "children" in tables:
        _check_children(tables["children"])
    if "homes" in tables:
        _check_homes(tables["homes"], tables.get("children"), child_ids)
        _check_recruiters(tables["homes"], settings.pools)
    if "contacts" in tables:
        _check_refs(tables["contacts"], "child_id", child_ids, "children")
    for name in ("placements", "vetoes"):
        if name in tables:
            _check_refs(tables[name], "child_id", child_ids, "children")
            _check_refs(tables[name], "home_id", home_ids, "homes")
    if "placements" in tables:
        _check_locks(tables["placements"], tables.get("vetoes"))

    for t in tables.values():
        problems += t.problems
    if problems or "children" not in tables or "homes" not in tables:
        return None, problems
    out = {name: t.frame() for name, t in tables.items()}
    contacts = out.get("contacts")
    if contacts is None:
        contacts = _empty({"child_id": "str", "kind": "str", "lon": "float64", "lat": "float64",
                           "weight": "float64", "max_minutes": "float64"})
    k = contacts.groupby("child_id", sort=False).cumcount().to_numpy() + 1
    contacts["anchor_id"] = pd.Series([f"{c}:contact:{n}" for c, n in
                                       zip(contacts["child_id"], k, strict=True)], dtype="str")
    placements = out.get("placements", _empty({"child_id": "str", "home_id": "str"}))
    vetoes = out.get("vetoes", _empty({"child_id": "str", "home_id": "str"}))
    vetoes = vetoes.drop_duplicates(ignore_index=True)  # a veto set; repeats are harmless
    return Inputs(out["children"], contacts, out["homes"], placements, vetoes,
                  warnings=completed.warnings), []


def _known(tables: Mapping[str, tables_.Table], name: str, column: str,
           unreadable: set[str]) -> set[str] | None:
    """Ids of a table for reference checks; ``None`` when they cannot be known."""
    if name in tables:
        t = tables[name]
        return {i for i in t.values[column] if i} if t.has(column) else None
    return None if name in unreadable else set()


def _check_children(t: tables_.Table) -> None:
    v = t.values
    t.add("language_required", v["language_required"]
          & np.array([not x for x in v["languages"]], dtype=bool),
          lambda i: _("language_required is yes but languages is empty; list the child's "
                      "languages (ISO 639-1 or 639-3, e.g. 'nb;so' or 'sma') or set it to no"))
    ids = v["child_id"]
    if t.has("child_id"):
        t.add("child_id", np.char.find(ids.astype(str), ":") >= 0,
              lambda i: _("child_id '{id}' contains ':', which is reserved for anchor ids; "
                          "rename the child").format(id=ids[i]))
    _check_current(t)
    _check_groups(t, ids, v["sibling_group"])


def _check_homes(t: tables_.Table, children: tables_.Table | None,
                 child_ids: set[str] | None) -> None:
    v = t.values
    min_age, max_age, kind, kin_of = v["min_age"], v["max_age"], v["kind"], v["kin_of"]
    t.add("min_age", min_age > max_age,
          lambda i: _("min_age {min_age} is above max_age {max_age}; swap them")
          .format(min_age=min_age[i], max_age=max_age[i]))
    if t.has("kind"):
        t.add("kin_of", (kind == "kinship") & (kin_of == ""),
              lambda i: _("kinship home without kin_of; give the child_id or "
                          "sibling_group it is approved for"))
        t.add("kin_of", (kind != "kinship") & np.isin(kind, list(HOME_KINDS)) & (kin_of != ""),
              lambda i: _("kin_of is set on a {kind} home; clear it, or set kind to "
                          "kinship").format(kind=kind[i]))
    if child_ids is not None:
        groups = set(children.values["sibling_group"]) - {""} if children is not None else set()
        targets = child_ids | groups
        t.add("kin_of", (kind == "kinship") & (kin_of != "") & ~np.isin(kin_of, list(targets)),
              lambda i: _("kin_of '{id}' is neither a child_id nor a sibling_group "
                          "in the children table; fix the id").format(id=kin_of[i]))
    if children is not None and "current_home_id" in children.values:
        _check_current_homes(children, v["home_id"], kind)


def _check_recruiters(t: tables_.Table, pools: Mapping[str, Sequence[str]]) -> None:
    """``recruited_by`` is bufetat or a kommunenummer; ``reserved_for`` names
    municipalities or pools of ``scoring.pools``; ``reserved_until`` needs ``reserved_for``."""
    if t.has("recruited_by"):
        by = t.text("recruited_by")
        t.add("recruited_by", (by != "") & (by != "bufetat")
              & ~np.array([len(b) == 4 and b.isdigit() for b in by], dtype=bool),
              lambda i: _("recruited_by '{value}' is neither bufetat nor a 4-digit "
                          "kommunenummer; write bufetat or e.g. 4626").format(value=by[i]))
    if t.has("reserved_for"):
        tags = t.values["reserved_for"]
        bad = [[x for x in v if not (len(x) == 4 and x.isdigit()) and x not in pools]
               for v in tags]
        t.add("reserved_for", np.array([bool(b) for b in bad], dtype=bool),
              lambda i: _("reserved_for '{value}' is neither a 4-digit kommunenummer nor a "
                          "pool of [scoring.pools] ({pools}); fix the name or add the pool")
              .format(value=";".join(bad[i]), pools=", ".join(sorted(pools)) or "-"))
    if t.has("reserved_until"):
        until = t.text("reserved_until")
        given = t.text("reserved_for") if t.has("reserved_for") else np.full(t.n, "")
        t.add("reserved_until", (until != "") & (given == ""),
              _("reserved_until without reserved_for; give the municipalities or pool the "
                "home is reserved for, or clear the date"))


def _check_locks(t: tables_.Table, vetoes: tables_.Table | None) -> None:
    """One lock per child, and no lock on a vetoed pair."""
    c_ids, h_ids = t.values["child_id"], t.values["home_id"]
    first = _first_rows(c_ids)
    t.add("child_id", (first != np.arange(t.n)) & (c_ids != ""),
          lambda i: _("child '{id}' is already locked at row {row}; lock each child to one "
                      "home").format(id=c_ids[i], row=sheet_row(first[i])))
    if vetoes is None:
        return
    veto_rows: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(zip(vetoes.values["child_id"], vetoes.values["home_id"],
                                 strict=True)):
        veto_rows.setdefault(pair, i)
    locked = list(zip(c_ids, h_ids, strict=True))
    hit = np.array([p in veto_rows and p[0] != "" for p in locked], dtype=bool)
    t.add(None, hit, lambda i: _(
        "locked placement {child} -> {home} is also vetoed (vetoes row {row}); remove the "
        "lock or the veto").format(child=locked[i][0], home=locked[i][1],
                                   row=sheet_row(veto_rows[locked[i]])))


def _check_refs(t: tables_.Table, column: str, known: set[str] | None, table: str) -> None:
    if known is None or not t.has(column):
        return
    ids = t.values[column]
    t.add(column, (ids != "") & ~np.isin(ids, list(known)),
          lambda i: _("unknown {column} '{id}'; it must be in the {table} table")
          .format(column=column, id=ids[i], table=table))


def _check_current(t: tables_.Table) -> None:
    """``current_home_keeps`` and ``placed_since`` need a ``current_home_id``."""
    home = t.values.get("current_home_id", np.full(t.n, "", dtype=object))
    if "current_home_keeps" in t.values:
        t.add("current_home_keeps", t.values["current_home_keeps"] & (home == ""),
              _("{column} is given but current_home_id is empty; give the home the child "
                "lives in, or clear it").format(column="current_home_keeps"))
    if "placed_since" in t.values:
        t.add("placed_since", ~np.isnat(t.values["placed_since"]) & (home == ""),
              _("{column} is given but current_home_id is empty; give the home the child "
                "lives in, or clear it").format(column="placed_since"))


def _check_current_homes(t: tables_.Table, home_ids: np.ndarray, kind: np.ndarray) -> None:
    """``current_home_id`` is a home; only kinship and general homes may keep the child."""
    home = t.values["current_home_id"]
    kind_of = dict(zip(home_ids, kind, strict=True))
    t.add("current_home_id", (home != "") & ~np.isin(home, list(kind_of)),
          lambda i: _("unknown current_home_id '{home}'; it must be in the homes table")
          .format(home=home[i]))
    keeps = t.values.get("current_home_keeps", np.zeros(t.n, dtype=bool))
    home_kind = np.array([kind_of.get(h, "") for h in home], dtype=object)
    t.add("current_home_keeps", keeps & np.isin(home_kind, [k for k in HOME_KINDS
                                                            if k not in KEEPING_KINDS]),
          lambda i: _("current_home_keeps is yes but {home} is not a kinship or general home "
                      "(kind {kind}); only those may keep the child: set it to no")
          .format(home=home[i], kind=home_kind[i]))


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})


def _check_groups(t: tables_.Table, ids: np.ndarray, group: np.ndarray) -> None:
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
                           "ambiguous)").format(group=g, row=sheet_row(row_of[g])),
                row=sheet_row(i), column="sibling_group"))
