"""Names, constants, colours and notes shared by every report output."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from matcher import i18n
from matcher.config import DEFAULT_CRS
from matcher.errors import InputError
from matcher.i18n import N_, ngettext
from matcher.i18n import gettext as _

if TYPE_CHECKING:
    from matcher.run import RunSummary

__all__ = [
    "CRS",
    "GPKG",
    "GRID_METRES",
    "LAYERS",
    "MAP_HTML",
    "MAP_PNG",
    "OSM_ATTRIBUTION",
    "PRIVACY_MODES",
    "REPORT_MD",
    "REQUIRED_LAYERS",
    "SCHOOL_BANDS_MINUTES",
    "SYNTHETIC_KOMMUNENUMMER",
    "SYNTHETIC_NOTE",
    "SYNTHETIC_REAL_NOTE",
    "Privacy",
    "check_privacy",
    "fictional_geography",
    "run_municipality_names",
    "synthetic_note",
]

logger = logging.getLogger(__name__)

Privacy = Literal["exact", "coarse"]
PRIVACY_MODES: tuple[str, ...] = ("exact", "coarse")
CRS = DEFAULT_CRS
"""Default CRS of the layers in ``matches.gpkg`` (the working CRS, ``network.crs``)."""
GRID_METRES = 250.0
"""Cell size of the SSB statistical grid used to coarsen child positions, in metres
(the default of ``report.grid_metres``)."""
SCHOOL_BANDS_MINUTES: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0)
"""Upper edges of the school-travel bands in report.md, in minutes (last band: above 60)."""
OSM_ATTRIBUTION = N_("© OpenStreetMap contributors (ODbL)")
"""Road-data attribution (English source text: show it with ``_(OSM_ATTRIBUTION)``)."""
SYNTHETIC_NOTE = N_("SYNTHETIC data: fictional places, no real people")
"""Label of synthetic outputs on fictional geography (the fjord); show it with
:func:`synthetic_note`, which picks this or :data:`SYNTHETIC_REAL_NOTE`."""
SYNTHETIC_REAL_NOTE = N_("Synthetic children and foster homes on a real map")
"""Label of synthetic people on real geography (the Oslo demo)."""
SYNTHETIC_KOMMUNENUMMER = range(4691, 4700)
"""Fictional municipality numbers of :mod:`matcher.scenarios.fjord` (no real kommune has them)."""

GPKG = "matches.gpkg"
MAP_HTML = "map.html"
MAP_PNG = "map.png"
REPORT_MD = "report.md"
LAYERS: tuple[str, ...] = ("children", "homes", "match_lines", "school_isochrones",
                           "municipalities", "roads")
"""Layer names of ``matches.gpkg``, in writing order (absent layers are skipped)."""
REQUIRED_LAYERS: tuple[str, ...] = ("children", "homes", "match_lines")

_GEOMETRY_TYPES = {"children": "Point", "homes": "Point", "match_lines": "LineString",
                   "school_isochrones": "MultiPolygon", "municipalities": "MultiPolygon",
                   "roads": "MultiLineString"}
_META_KEY = "FOSTERMATCH_REPORT"
_MAX_MINOR_ROAD_SEGMENTS = 20_000
"""Above this many road segments, the base map shows major roads and ferries only."""
_ISOCHRONE_SIMPLIFY_METRES = 50.0
"""Tolerance for isochrone outlines in map.html, in metres (half the isochrone grid cell)."""
_MAJOR_ROADS = frozenset({"motorway", "motorway_link", "trunk", "trunk_link", "primary",
                          "primary_link", "secondary", "secondary_link"})

# colours shared by map.html and map.png
_COLOURS = {"placed": "#1b7837", "unmatched": "#d6604d", "home": "#5e3c99",
            "home_used": "#5e3c99", "match": "#1b7837", "kinship": "#e08214",
            "municipality_fill": "#f4f1ea", "municipality_edge": "#7a6a8a",
            "major": "#969696", "minor": "#c8c8c8", "ferry": "#4393c3",
            "isochrone": "#92c5de"}


def check_privacy(privacy: str) -> None:
    """Raise :class:`InputError` unless ``privacy`` is one of :data:`PRIVACY_MODES`."""
    if privacy not in PRIVACY_MODES:
        raise InputError(_("privacy '{privacy}': use one of {allowed}").format(
            privacy=privacy, allowed=", ".join(PRIVACY_MODES)))


def fictional_geography(children: pd.DataFrame,
                        municipalities: pd.DataFrame | None = None) -> bool:
    """Whether a run's places are made up: municipality names containing "syntetisk", or
    every child in a fictional :data:`SYNTHETIC_KOMMUNENUMMER` municipality (the fjord)."""
    if municipalities is not None:
        for column in ("kommunenavn", "name"):
            if column in municipalities.columns and municipalities[column].astype(str) \
                    .str.contains("syntetisk").any():
                return True
    codes = pd.to_numeric(children["municipality"], errors="coerce")
    return bool(len(codes)) and bool(codes.isin(SYNTHETIC_KOMMUNENUMMER).all())


def synthetic_note(meta: Mapping[str, Any]) -> str:
    """The SYNTHETIC banner of a run's outputs in the current language, or ``""``.

    ``meta["synthetic"]`` says whether the people are synthetic;
    ``meta["fictional"]`` whether the places are too (the fjord). A run
    written before ``fictional`` was recorded gets the fictional-places text.
    Shared by report.md, the briefs, the maps and the workbook.
    """
    if not meta.get("synthetic"):
        return ""
    return _(SYNTHETIC_NOTE) if meta.get("fictional", True) else _(SYNTHETIC_REAL_NOTE)


def run_municipality_names(frame: pd.DataFrame | None) -> dict[str, str]:
    """Municipality number -> name as a run's municipality layer writes them.

    Reads ``area_id``/``name`` (:func:`matcher.planning.read_municipalities`) or
    ``kommunenummer``/``kommunenavn`` (the ``municipalities`` layer); rows
    without a name, or whose name is the number, are left out. Combine with
    the register in :func:`matcher.vocabulary.municipality_names`.
    """
    if frame is None or not len(frame):
        return {}
    for code, name in (("area_id", "name"), ("kommunenummer", "kommunenavn")):
        if code in frame.columns and name in frame.columns:
            return {str(c): str(n) for c, n in zip(frame[code], frame[name], strict=True)
                    if isinstance(n, str) and n and n != str(c) and str(c)}
    return {}


def _notes(meta: Mapping[str, Any]) -> list[str]:
    """The notes under a map, in the current language (the road note last)."""
    notes = []
    if meta.get("synthetic"):
        notes.append(synthetic_note(meta))
    notes.append(_("child positions: 250 m grid-cell centres"))  # the maps are never exact
    road = _road_note(meta)
    if road:
        notes.append(road)
    return notes


def _road_note(meta: Mapping[str, Any]) -> str:
    """The road-data attribution note, or ``''`` when the run had no road network."""
    if not meta.get("osm", True):
        return ""
    return _("roads {attribution}").format(attribution=_(OSM_ATTRIBUTION))


def _title(summary: RunSummary) -> str:
    """The run's title in the current language (date, children placed)."""
    return ngettext("fostermatch run {date}: a proposal for {placed} of {children} child",
                    "fostermatch run {date}: a proposal for {placed} of {children} children",
                    summary.children).format(
        date=i18n.format_date(summary.as_of), placed=i18n.format_number(summary.placed),
        children=i18n.format_number(summary.children))


def _date(value: object) -> str:
    """An ISO date as the current language writes it (other text unchanged)."""
    try:
        return i18n.format_date(datetime.date.fromisoformat(str(value)))
    except ValueError:
        return str(value)
