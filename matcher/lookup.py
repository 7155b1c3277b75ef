"""Complete input tables from Norway's registers before validation.

Case files hold street addresses, school names and municipality numbers, not
coordinates. Given :class:`Registers`, :func:`complete` fills in, per table:

* ``lon``/``lat`` from ``address`` + ``postnummer`` (:mod:`matcher.geocode`;
  ``children``, ``homes`` and ``contacts``). The address columns are dropped
  afterwards: only the point is kept. An address that matches nothing is an
  error naming its row.
* ``school_lon``/``school_lat`` from ``school_id`` (``children``): the
  school's organisation number or its exact name in the school register
  (:func:`matcher.registers.resolve_schools`). A name shared by several
  schools is an error listing the candidates with their municipality.
* ``municipality`` (``children`` and ``homes``): an empty cell or a missing
  column is derived from the point with the 2024 municipality polygons; a
  pre-2024 number with one successor is translated, with a warning (Asker
  3025 -> 3203); a split or unknown number is an error that suggests the
  municipality holding the point. The fictional numbers of the synthetic
  fjord sample (4691-4699) are accepted as they are.

Everything here is pure: frames and registers in, frames, problems and
warnings out. The registers are read by :mod:`matcher.io.registers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from matcher import geocode, registers, tables
from matcher.errors import Problem, data_position, sheet_row
from matcher.geocode import AddressRegister
from matcher.i18n import gettext as _
from matcher.registers import SchoolRegister

__all__ = ["SYNTHETIC_MUNICIPALITIES", "Completed", "Registers", "complete"]

SYNTHETIC_MUNICIPALITIES = frozenset(f"{n:04d}" for n in range(4691, 4700))
"""Fictional municipality numbers of the synthetic fjord sample (no real kommune has them)."""

_POINT_TABLES = ("children", "homes", "contacts")


@dataclass(frozen=True)
class Registers:
    """The registers a run may consult; each is optional and loaded on first use.

    Attributes
    ----------
    addresses
        Returns Kartverket's address register (for ``address`` + ``postnummer``).
    schools
        Returns the school register (for ``school_id``).
    municipalities
        Returns the 2024 municipality polygons (``code``, ``name``, working CRS).
    mapping
        Returns the old -> new municipality-number table.
    """

    addresses: Callable[[], AddressRegister] | None = None
    schools: Callable[[], SchoolRegister] | None = None
    municipalities: Callable[[], gpd.GeoDataFrame] | None = None
    mapping: Callable[[], pd.DataFrame] | None = None


@dataclass(frozen=True)
class Completed:
    """Tables completed from the registers.

    Attributes
    ----------
    frames
        The tables, with points, schools and municipalities filled in.
    problems
        Every address, school or municipality that could not be resolved.
    warnings
        Translated pre-2024 municipality numbers (the run lists them).
    """

    frames: dict[str, pd.DataFrame | None]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as validation reads it (:func:`matcher.tables.text_of`)."""
    return tables.text_of(frame[column])


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column's numbers as validation parses them (NaN when absent); a writable copy."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return np.array(tables.numbers(_text(frame, column)), dtype=float)


def _missing(label: str, column: str, message: str) -> Problem:
    """A column that needs a register this run was not given (``message`` names it)."""
    return Problem(label, message.format(column=column), column=column)


def complete(frames: Mapping[str, pd.DataFrame | None], registers_: Registers, *,
             labels: Mapping[str, str]) -> Completed:
    """Fill points, schools and municipalities of raw tables from the registers.

    Parameters
    ----------
    frames
        Raw tables by name (text or typed columns), as read.
    registers_
        The registers this run may consult.
    labels
        Table name -> file name for problems.

    Returns
    -------
    Completed
        The completed tables, problems (errors) and warnings.
    """
    out: dict[str, pd.DataFrame | None] = dict(frames)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for name in _POINT_TABLES:
        frame = frames.get(name)
        if frame is None or (isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name):
            continue
        label = labels.get(name, name)
        frame = frame.copy()
        if "address" in frame.columns:
            frame = _addresses(frame, registers_, label, problems)
        if name == "children" and "school_id" in frame.columns:
            frame = _schools(frame, registers_, label, problems)
        if name in ("children", "homes"):
            frame = _municipalities(frame, registers_, label, problems, warnings)
        out[name] = frame
    return Completed(frames=out, problems=tuple(problems), warnings=tuple(warnings))


def _addresses(frame: pd.DataFrame, registers_: Registers, label: str,
               problems: list[Problem]) -> pd.DataFrame:
    has_point = {"lon", "lat"} <= set(frame.columns)
    lon, lat = _numbers(frame, "lon"), _numbers(frame, "lat")
    todo = ~(np.isfinite(lon) & np.isfinite(lat)) if has_point else np.ones(len(frame), bool)
    todo &= _text(frame, "address") != ""
    if todo.any():
        if registers_.addresses is None:
            problems.append(_missing(label, "address", _(
                "{column} needs the address register, which this run was not given; give the "
                "register, or fill the coordinates instead")))
            return frame.drop(columns=[c for c in ("address", "postnummer")
                                       if c in frame.columns])
        sub = frame.loc[todo].reset_index(drop=True)
        if "postnummer" not in sub.columns:
            sub["postnummer"] = ""
        result = geocode.geocode(sub.astype({c: str for c in ("address", "postnummer")}),
                                 registers_.addresses(), source=label)
        rows = np.flatnonzero(todo)
        problems.extend(Problem(p.source, p.message, sheet_row(rows[data_position(p.row)]),
                                p.column) if p.row is not None else p for p in result.problems)
        lon[rows], lat[rows] = result.lon, result.lat
    frame = frame.drop(columns=[c for c in ("address", "postnummer") if c in frame.columns])
    frame["lon"], frame["lat"] = _as_text(lon), _as_text(lat)
    return frame


def _schools(frame: pd.DataFrame, registers_: Registers, label: str,
             problems: list[Problem]) -> pd.DataFrame:
    ids = _text(frame, "school_id")
    lon, lat = _numbers(frame, "school_lon"), _numbers(frame, "school_lat")
    todo = (ids != "") & ~(np.isfinite(lon) & np.isfinite(lat))
    if todo.any():
        if registers_.schools is None:
            problems.append(_missing(label, "school_id", _(
                "{column} needs the school register, which this run was not given; give the "
                "register, or fill the coordinates instead")))
            return frame.drop(columns=["school_id"])
        found = registers.resolve_schools(np.where(todo, ids, ""), registers_.schools(),
                                          source=label, column="school_id")
        problems.extend(found.problems)
        lon = np.where(todo, found.lon, lon)
        lat = np.where(todo, found.lat, lat)
    frame = frame.drop(columns=["school_id"])
    frame["school_lon"], frame["school_lat"] = _as_text(lon), _as_text(lat)
    return frame


def _municipalities(frame: pd.DataFrame, registers_: Registers, label: str,
                    problems: list[Problem], warnings: list[Problem]) -> pd.DataFrame:
    if registers_.mapping is None:
        return frame
    n = len(frame)
    codes = (registers.as_codes(_text(frame, "municipality")) if "municipality" in frame.columns
             else np.full(n, "", dtype=object))
    synthetic = np.isin(codes, sorted(SYNTHETIC_MUNICIPALITIES))
    if synthetic.all():
        return frame
    check = np.where(synthetic, "", codes)
    mapping = registers_.mapping()
    if (codes == "").any() or registers_.municipalities is not None:
        if registers_.municipalities is None:
            problems.append(_missing(label, "municipality", _(
                "{column} needs the 2024 municipality polygons, which this run was not given; "
                "give the register, or fill the coordinates instead")))
            return frame
        lon, lat = _numbers(frame, "lon"), _numbers(frame, "lat")
        checked = registers.resolve_municipalities(
            check, np.nan_to_num(lon, nan=0.0), np.nan_to_num(lat, nan=0.0),
            polygons=registers_.municipalities(), mapping=mapping, source=label,
            column="municipality")
    else:
        checked = registers.translate_municipalities(check, mapping, current=set(mapping["new"]),
                                                     source=label, column="municipality")
    result = np.where(synthetic, codes, checked.codes)
    result = np.where(~synthetic & (codes != "") & (result == ""), codes, result)
    problems.extend(p for p in checked.problems
                    if p.row is None or not synthetic[data_position(p.row)])
    warnings.extend(checked.warnings)
    frame["municipality"] = result
    return frame


def _as_text(values: np.ndarray) -> np.ndarray:
    return np.array(["" if not np.isfinite(v) else repr(float(v)) for v in values], dtype=object)
