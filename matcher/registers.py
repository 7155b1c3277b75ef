"""Lookups in Norway's open registers: schools, municipalities and old municipality numbers.

Three questions an input table may leave to the registers:

* **Which school?** :func:`resolve_schools` turns a ``school_id`` (the school's
  organisation number, when the register has one, or its exact name) into the
  school's point. A name shared by several schools is an error that lists the
  candidates with their municipality.
* **Which municipality holds this point?** :func:`municipality_of` looks each
  point up in the 2024 municipality polygons (vectorised, on an STR-tree).
* **Is this number a 2024 municipality?** :func:`translate_municipalities`
  translates pre-2024 numbers that have exactly one successor (Asker 3025 ->
  3203), with a warning, and rejects split ones and unknown ones with the fix.
  :func:`resolve_municipalities` does both for a table: empty numbers are
  derived from the point, wrong ones are answered with the polygon that holds it.

The old -> new table is derived from the 2020 and 2024 polygons by
:func:`derive_mapping` (``scripts/make_kommune_mapping.py`` writes
``data/kommunenummer_2020_2024.csv``).

All functions here are pure (frames and arrays in, arrays and problems out)
(the files of ``data/`` are read by :mod:`matcher.io.registers`). Problems
never contain a coordinate.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from matcher import tables
from matcher.config import DEFAULT_CRS
from matcher.errors import InputError, Problem, raise_if_problems, sheet_row
from matcher.i18n import format_number
from matcher.i18n import gettext as _

__all__ = [
    "MAPPING_COLUMNS",
    "MAPPING_KINDS",
    "ArrayLike",
    "Located",
    "SchoolMatches",
    "SchoolRegister",
    "Translation",
    "as_codes",
    "derive_mapping",
    "municipalities_from_frame",
    "municipality_of",
    "resolve_municipalities",
    "resolve_schools",
    "schools_from_frame",
    "translate_municipalities",
]

log = logging.getLogger(__name__)

MAPPING_COLUMNS: tuple[str, ...] = tables.SPECS["municipality_mapping"].names
"""Columns of ``data/kommunenummer_2020_2024.csv`` (``;``-separated)."""

MAPPING_KINDS: tuple[str, ...] = tables.SPECS["municipality_mapping"].column("kind").allowed
"""``one_to_one``: the old municipality is (almost) all of one new one, and nothing
else is; ``merged``: it is (almost) all inside one new one that also holds
others; ``split``: it is spread over several new ones (one row per successor)."""

ArrayLike: TypeAlias = Sequence[object] | np.ndarray | pd.Series


def _text(values: ArrayLike) -> np.ndarray:
    """Values as stripped ``str`` (``""`` for missing), object array."""
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    return s.where(s.notna(), "").astype(str).str.strip().to_numpy(dtype=object)


def as_codes(values: ArrayLike) -> np.ndarray:
    """Municipality numbers as 4-digit text (zero-padded; '' when empty)."""
    """Municipality numbers as 4-digit text: ``301`` and ``301.0`` become ``0301``."""
    s = pd.Series(_text(values), dtype=object).str.replace(r"\.0$", "", regex=True)
    return s.where(~s.str.fullmatch(r"\d{3}"), s.str.zfill(4)).to_numpy(dtype=object)


# --- schools ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SchoolRegister:
    """Schools with a point each.

    Attributes
    ----------
    name
        School name as in the register.
    municipality
        Municipality as in the register (a name in ``data/grunnskoler_norge_geocoded.csv``).
    lon, lat
        WGS84 (EPSG:4326) degrees.
    org_number
        9-digit organisation number, or ``None`` when the register has no such
        column (then only names can be looked up).
    """

    name: np.ndarray
    municipality: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    org_number: np.ndarray | None

    def __len__(self) -> int:
        return len(self.name)


def _name_key(values: ArrayLike) -> np.ndarray:
    """Case-insensitive, whitespace-normalised name key."""
    s = pd.Series(_text(values), dtype=object).str.normalize("NFC")
    return s.str.replace(r"\s+", " ", regex=True).str.casefold().to_numpy(dtype=object)


def schools_from_frame(frame: pd.DataFrame, *, name: str = "EnhetNavn",
                       municipality: str = "Kommune", lon: str = "lng", lat: str = "lat",
                       org_number: str | None = "Organisasjonsnummer",
                       source: str | None = None) -> SchoolRegister:
    """Build a :class:`SchoolRegister` from a table.

    Parameters
    ----------
    frame
        One row per school, with WGS84 coordinates in degrees.
    name, municipality, lon, lat
        Column names (defaults: the layout of ``data/grunnskoler_norge_geocoded.csv``).
    org_number
        Column of 9-digit organisation numbers; used when present (Udir's
        register, NSR, has ``Organisasjonsnummer``), ignored when absent.
    source
        Name of the register in error messages (default: "school register", translated).

    Returns
    -------
    SchoolRegister

    Raises
    ------
    InputError
        If a required column is missing or a coordinate is not a number.
    """
    source = source or _("school register")
    spec = tables.SPECS["school_register"]
    given = {name: "EnhetNavn", municipality: "Kommune", lon: "lng", lat: "lat"}
    if org_number is not None:
        given[org_number] = "Organisasjonsnummer"
    t = tables.read(spec, frame.rename(columns=given), label=source)
    raise_if_problems(_("{source}: invalid school register").format(source=source),
                      t.problems)
    x, y = t.values["lng"], t.values["lat"]
    orgs = None
    if org_number is not None and t.has("Organisasjonsnummer"):
        orgs = np.array(["".join(o.split()) for o in t.values["Organisasjonsnummer"]],
                        dtype=object)
    return SchoolRegister(name=t.values["EnhetNavn"], municipality=t.values["Kommune"],
                          lon=x, lat=y, org_number=orgs)


class SchoolMatches(NamedTuple):
    """Outcome of :func:`resolve_schools`, one entry per value.

    ``lon``/``lat`` are WGS84 degrees (NaN where unresolved or empty);
    ``register_row`` is the school's 0-based row in the register (-1 where none); ``problems`` lists
    every value that could not be resolved.
    """

    lon: np.ndarray
    lat: np.ndarray
    register_row: np.ndarray
    problems: tuple[Problem, ...]


def resolve_schools(values: ArrayLike, schools: SchoolRegister, *, source: str = "children",
                    column: str = "school_id") -> SchoolMatches:
    """Look schools up by organisation number or exact name.

    A value of 9 digits (spaces allowed) is an organisation number; anything else is a name,
    compared case-insensitively with runs of spaces collapsed but otherwise
    exactly. Empty values are left unresolved without a problem (the caller
    decides whether the row needs a school).

    Parameters
    ----------
    values
        One ``school_id`` per row.
    schools
        The register (:func:`matcher.io.registers.read_schools`).
    source, column
        Table and column named in problems.

    Returns
    -------
    SchoolMatches
        Points and register rows, and one problem per value that is unknown,
        shared by several schools (the candidates are listed with their
        municipality) or an organisation number the register cannot look up.
    """
    text = _text(values)
    n = len(text)
    index = np.full(n, -1, dtype=np.int64)
    problems: list[Problem] = []
    org_text = pd.Series(text, dtype=object).str.replace(r"\s", "", regex=True)
    is_org = org_text.str.fullmatch(r"\d{9}").to_numpy(dtype=bool)
    org_text = org_text.to_numpy(dtype=object)

    keys = _name_key(schools.name)
    key_series = pd.Series(np.arange(len(keys)), index=keys)
    groups = key_series.groupby(level=0).agg(list)
    wanted = _name_key(text)
    for i in np.flatnonzero((text != "") & ~is_org):
        hits = groups.get(wanted[i])
        if hits is None:
            problems.append(Problem(source, _(
                "no school named '{name}' in the school register; use the name exactly as the "
                "register writes it, or give school_lon/school_lat").format(name=text[i]),
                sheet_row(i), column))
        elif len(hits) > 1:
            candidates = "; ".join(f"{schools.name[j]} ({schools.municipality[j]})"
                                   for j in hits)
            problems.append(Problem(source, _(
                "'{name}' names {n} schools: {candidates}; give the organisation number or "
                "school_lon/school_lat").format(name=text[i], n=len(hits),
                                                candidates=candidates), sheet_row(i), column))
        else:
            index[i] = hits[0]

    if is_org.any():
        if schools.org_number is None:
            for i in np.flatnonzero(is_org):
                problems.append(Problem(source, _(
                    "the school register has no organisation numbers; give the school's name "
                    "as the register writes it, or school_lon/school_lat"), sheet_row(i), column))
        else:
            position = pd.Series(np.arange(len(schools)), index=schools.org_number)
            position = position[~position.index.duplicated()]
            found = position.reindex(org_text[is_org]).fillna(-1).astype(np.int64).to_numpy()
            for i, j in zip(np.flatnonzero(is_org), found, strict=True):
                if j < 0:
                    problems.append(Problem(source, _(
                        "no school with organisation number {number} in the school register; "
                        "check the number (9 digits)").format(number=org_text[i]), sheet_row(i),
                        column))
                else:
                    index[i] = j

    problems.sort(key=lambda p: p.row or 0)
    ok = index >= 0
    lon = np.where(ok, schools.lon[np.maximum(index, 0)], np.nan) if len(schools) else \
        np.full(n, np.nan)
    lat = np.where(ok, schools.lat[np.maximum(index, 0)], np.nan) if len(schools) else \
        np.full(n, np.nan)
    return SchoolMatches(lon=lon, lat=lat, register_row=index, problems=tuple(problems))


# --- municipality polygons --------------------------------------------------------------------

def municipalities_from_frame(frame: gpd.GeoDataFrame, *, code: str = "kommunenummer",
                              name: str | None = None, source: str = "municipalities",
                              crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Prepare municipality polygons for lookups.

    Geometries are repaired with :func:`shapely.make_valid` (the published
    simplified polygons are not all valid), reduced to their polygonal parts and
    reprojected to the working CRS ``crs``.

    Parameters
    ----------
    frame
        Polygons with a CRS and a municipality-number column.
    code
        Column of municipality numbers (text or integers; zero-padded to 4 digits).
    name
        Column of names; by default the first of ``kommunenavn``, ``navn``, ``name``.
    source
        Name of the layer in error messages.
    crs
        The working CRS, projected in metres (``network.crs``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (4-digit str), ``name`` and ``geometry`` (in ``crs``),
        sorted by code, one row per municipality.
    """
    if frame.crs is None:
        raise InputError(_("{source}: the polygons have no CRS; set it in the file (e.g. "
                           "EPSG:4326)").format(source=source))
    if name is None:
        name = next((c for c in ("kommunenavn", "navn", "name") if c in frame.columns), None)
    if code not in frame.columns or name is None:
        raise InputError(_("{source}: needs a '{code}' column and a name column (kommunenavn, "
                           "navn or name)").format(source=source, code=code))
    geometry = shapely.make_valid(np.asarray(frame.geometry.values))
    geometry = np.array([_polygonal(g) for g in geometry], dtype=object)
    out = gpd.GeoDataFrame({"code": as_codes(frame[code]), "name": _text(frame[name])},
                           geometry=geometry, crs=frame.crs).to_crs(crs)
    out = out[~out.geometry.is_empty]
    if out["code"].duplicated().any():
        out = out.dissolve(by="code", aggfunc="first", as_index=False)
    return out.sort_values("code", ignore_index=True)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygons of a repaired geometry (make_valid may add lines)."""
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", [geom])
             if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()




class Located(NamedTuple):
    """Outcome of :func:`municipality_of`: a 4-digit code per point (``""`` where
    none) and one problem per point outside every polygon or without coordinates."""

    codes: np.ndarray
    problems: tuple[Problem, ...]


def municipality_of(lon: ArrayLike, lat: ArrayLike, polygons: gpd.GeoDataFrame, *,
                    source: str = "points", column: str | None = "municipality",
                    max_distance_metres: float = 0.0) -> Located:
    """Find the municipality that holds each point.

    Parameters
    ----------
    lon, lat
        WGS84 (EPSG:4326) degrees; NaN where a row has no point.
    polygons
        From :func:`read_municipalities` (valid, in a projected CRS in metres:
        the working CRS). A point on a shared
        border gets the lower municipality number.
    source, column
        Table and column named in problems.
    max_distance_metres
        Points outside every polygon but at most this far from one (measured in
        the polygons' CRS) get the nearest; 0 (the default) accepts only points inside.
        The simplified coastline may leave shore addresses a little at sea.

    Returns
    -------
    Located
        Codes, and one problem per row at sea, outside Norway or without a point.
    """
    x = pd.to_numeric(pd.Series(np.asarray(lon, dtype=object)), errors="coerce").to_numpy(float)
    y = pd.to_numeric(pd.Series(np.asarray(lat, dtype=object)), errors="coerce").to_numpy(float)
    if len(x) != len(y):
        raise ValueError("lon and lat differ in length")
    if polygons.crs is None or not polygons.crs.is_projected:
        raise InputError(_("municipality polygons must be in a projected CRS in metres (the "
                           "working CRS); prepare them with "
                           "matcher.io.registers.read_municipality_polygons or "
                           "municipalities_from_frame"))
    n = len(x)
    codes = np.full(n, "", dtype=object)
    has_point = np.isfinite(x) & np.isfinite(y)
    east, north = Transformer.from_crs("EPSG:4326", polygons.crs, always_xy=True).transform(
        np.where(has_point, x, 0.0), np.where(has_point, y, 0.0))
    points = shapely.points(east, north)
    geoms = polygons.geometry.values
    tree = shapely.STRtree(np.asarray(geoms))
    rows = np.flatnonzero(has_point)
    point_idx, poly_idx = tree.query(points[rows], predicate="intersects")
    first = np.full(len(rows), -1, dtype=np.int64)
    all_codes = polygons["code"].to_numpy(dtype=object)
    code_rank = np.argsort(np.argsort(all_codes, kind="stable"), kind="stable")
    # a point in several polygons (a shared border) takes the lowest number
    order = np.lexsort((code_rank[poly_idx], point_idx))
    point_idx, poly_idx = point_idx[order], poly_idx[order]
    keep = np.ones(len(point_idx), dtype=bool)
    keep[1:] = point_idx[1:] != point_idx[:-1]
    first[point_idx[keep]] = poly_idx[keep]
    if max_distance_metres > 0 and (first < 0).any():
        outside = np.flatnonzero(first < 0)
        near_in, near_poly = tree.query_nearest(points[rows[outside]],
                                                max_distance=max_distance_metres,
                                                all_matches=False)
        first[outside[near_in]] = near_poly
    codes[rows[first >= 0]] = all_codes[first[first >= 0]]

    no_point = _("no point (lon/lat); give lon/lat or the municipality number")
    outside_norway = _("the point lies in no Norwegian municipality (at sea or outside Norway); "
                       "check lon/lat (WGS84, longitude first) or give the municipality number")
    problems = [Problem(source, no_point, sheet_row(i), column)
                for i in np.flatnonzero(~has_point)]
    problems += [Problem(source, outside_norway, sheet_row(i), column) for i in rows[first < 0]]
    problems.sort(key=lambda p: p.row or 0)
    return Located(codes=codes, problems=tuple(problems))


# --- old -> new numbers -----------------------------------------------------------------------

def derive_mapping(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, min_share: float = 0.90,
                   min_piece: float = 0.10) -> pd.DataFrame:
    """Derive the old -> new municipality-number table from two sets of polygons.

    Each old municipality is intersected with the new ones (areas in the polygons'
    metric CRS, after :func:`shapely.make_valid`). Its *share* in a new municipality is the
    area of the intersection over the old municipality's area that lies in any
    new one (so a coastline drawn differently in the two editions does not count
    as a change). A new municipality is a *successor* when the share is at least
    ``min_piece``.

    * one successor holding at least ``min_share``, and the successor has no other
      predecessor: ``one_to_one`` (often ``old == new``);
    * the same, but the successor has other predecessors: ``merged``;
    * anything else: ``split``, one row per successor.

    Parameters
    ----------
    old, new
        Outputs of :func:`municipalities_from_frame` (``code``, ``name``, one metric CRS).
    min_share
        Share (0-1) of the old area that one successor must hold for a single
        successor. 0.90 rather than 0.95 because the two published simplified
        editions disagree along coasts by up to about 6 % of a small
        municipality's area (Randaberg, unchanged, holds 94 %).
    min_piece
        Share (0-1) below which a piece is taken as drawing noise, not a successor.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MAPPING_COLUMNS`, sorted by ``old`` then share; ``share_of_old``
        in percent with one decimal.
    """
    pieces = gpd.overlay(old[["code", "name", "geometry"]].rename(
                             columns={"code": "old", "name": "old_name"}),
                         new[["code", "name", "geometry"]].rename(
                             columns={"code": "new", "name": "name"}),
                         how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.geometry.area
    pieces = pd.DataFrame(pieces.drop(columns="geometry"))
    pieces["share"] = pieces["area"] / pieces.groupby("old")["area"].transform("sum")
    succ = pieces[pieces["share"] >= min_piece].copy()
    n_succ = succ.groupby("old")["new"].transform("size")
    top = succ.groupby("old")["share"].transform("max")
    single = (n_succ == 1) & (top >= min_share)
    n_pred = succ[single].groupby("new")["old"].transform("size")
    succ["kind"] = "split"
    succ.loc[single, "kind"] = np.where(n_pred.reindex(succ.index[single]) > 1, "merged",
                                        "one_to_one")
    succ["share_of_old"] = (succ["share"] * 100).round(1)
    out = succ.sort_values(["old", "share"], ascending=[True, False])
    return out[list(MAPPING_COLUMNS)].reset_index(drop=True)




class Translation(NamedTuple):
    """Outcome of :func:`translate_municipalities` / :func:`resolve_municipalities`.

    ``codes``: 2024 numbers (``""`` where none could be given); ``warnings``:
    old numbers that were translated; ``problems``: numbers that are errors.
    """

    codes: np.ndarray
    warnings: tuple[Problem, ...]
    problems: tuple[Problem, ...]


def translate_municipalities(codes: ArrayLike, mapping: pd.DataFrame, *,
                             current: Collection[str] | None = None,
                             names: dict[str, str] | None = None,
                             suggest: ArrayLike | None = None, source: str = "children",
                             column: str = "municipality") -> Translation:
    """Check municipality numbers against the 2024 list and translate old ones.

    * a 2024 number is kept (even when ``suggest`` names another: the
      responsible municipality need not be the one where the point lies);
    * a pre-2024 number with one successor (``one_to_one`` or ``merged``) is
      translated, with a warning naming both numbers;
    * a split number is an error listing the successors (and the one holding the
      row's point, when ``suggest`` gives it);
    * anything else is an error suggesting the municipality holding the point
      (``suggest``) when known;
    * empty values stay empty, without a problem.

    Parameters
    ----------
    codes
        One number per row (text or int; ``301`` means ``0301``).
    mapping
        From :func:`matcher.io.registers.read_mapping` or :func:`derive_mapping`.
    current
        The valid 2024 numbers; defaults to the mapping's successors (which
        lacks municipalities missing from the old polygons, such as small
        islands: pass the polygons' codes to be complete).
    names
        2024 number -> name, for messages; defaults to the mapping's names.
    suggest
        Optional 2024 number per row (e.g. from :func:`municipality_of`), used
        in the messages of rejected numbers.
    source, column
        Table and column named in warnings and problems.

    Returns
    -------
    Translation
    """
    text = as_codes(codes)
    n = len(text)
    hint = as_codes(suggest) if suggest is not None else np.full(n, "", dtype=object)
    current_set = set(current) if current is not None else set(mapping["new"])
    names = dict(names or {}) or dict(zip(mapping["new"], mapping["name"], strict=True))
    single = mapping[mapping["kind"].isin(["one_to_one", "merged"])]
    successor = dict(zip(single["old"], single["new"], strict=True))
    old_names = dict(zip(mapping["old"], mapping["old_name"], strict=True))
    splits = mapping[mapping["kind"] == "split"].groupby("old")

    out = text.copy()
    warnings: list[Problem] = []
    problems: list[Problem] = []
    for i in np.flatnonzero(text != ""):
        code, row = text[i], sheet_row(i)
        if code in current_set:
            continue
        place = f"{hint[i]} {names.get(hint[i], '')}".rstrip() if hint[i] else ""
        if code in successor:
            new = successor[code]
            out[i] = new
            warnings.append(Problem(source, _(
                "{code} ({name}) is a pre-2024 number; translated to {new} ({new_name}). "
                "Update the case file").format(code=code, name=old_names.get(code, "?"),
                                               new=new, new_name=names.get(new, "?")),
                row, column))
        elif code in splits.groups:
            parts = splits.get_group(code)
            listed = ", ".join(_("{code} {name} ({share} % of the area)").format(
                code=r.new, name=r.name, share=format_number(float(r.share_of_old), 0))
                for r in parts.itertuples())
            out[i] = ""
            message = (_("{code} ({name}) was split into {parts}; give the 2024 number; the "
                      "point lies in {place}") if place else
                    _("{code} ({name}) was split into {parts}; give the 2024 number"))
            problems.append(Problem(source, message.format(
                code=code, name=old_names.get(code, "?"), parts=listed, place=place), row,
                column))
        else:
            out[i] = ""
            message = (_("'{code}' is not a 2024 municipality number; use {hint} ({name}), which "
                      "holds the point") if hint[i] else
                    _("'{code}' is not a 2024 municipality number; check it, or leave it empty "
                      "to derive it from lon/lat"))
            problems.append(Problem(source, message.format(code=code, hint=hint[i],
                                                        name=names.get(hint[i], "?")),
                                    row, column))
    return Translation(codes=out, warnings=tuple(warnings), problems=tuple(problems))


def resolve_municipalities(codes: ArrayLike | None, lon: ArrayLike, lat: ArrayLike, *,
                           polygons: gpd.GeoDataFrame, mapping: pd.DataFrame,
                           source: str = "children", column: str = "municipality",
                           max_distance_metres: float = 0.0) -> Translation:
    """Give every row a 2024 municipality number: check, translate or derive.

    The entry point for input validation: rows with a number are checked with
    :func:`translate_municipalities` (suggesting the polygon that holds the
    point when the number is wrong); rows without one (or all rows when
    ``codes`` is ``None``, i.e. the column is missing) get the municipality of
    their point via :func:`municipality_of`.

    Parameters
    ----------
    codes
        Municipality numbers, or ``None`` when the table has no such column.
    lon, lat
        WGS84 degrees of each row's point.
    polygons
        2024 municipalities from :func:`read_municipalities`.
    mapping
        Old -> new table from :func:`matcher.io.registers.read_mapping`.
    source, column
        Table and column named in warnings and problems.
    max_distance_metres
        Passed to :func:`municipality_of`.

    Returns
    -------
    Translation
        Codes for every row that could be given one, the warnings of translated
        numbers, and every problem.
    """
    located = municipality_of(lon, lat, polygons, source=source, column=column,
                              max_distance_metres=max_distance_metres)
    n = len(located.codes)
    text = as_codes(codes) if codes is not None else np.full(n, "", dtype=object)
    if len(text) != n:
        raise ValueError("codes, lon and lat differ in length")
    names = dict(zip(polygons["code"], polygons["name"], strict=True))
    checked = translate_municipalities(text, mapping, current=set(polygons["code"]),
                                       names=names, suggest=located.codes, source=source,
                                       column=column)
    empty = text == ""
    out = np.where(empty, located.codes, checked.codes).astype(object)
    derive_rows = {sheet_row(i) for i in np.flatnonzero(empty)}
    problems = [p for p in located.problems if p.row in derive_rows]
    problems = sorted([*problems, *checked.problems], key=lambda p: p.row or 0)
    return Translation(codes=out, warnings=checked.warnings, problems=tuple(problems))
