"""Run reports: GeoPackage layers, an offline interactive map, a static map and a summary.

:func:`write_outputs` adds to a run folder (see :func:`matcher.pipeline.write_run`):

``matches.gpkg`` (the working CRS ``network.crs``, default EPSG:25833)
    ``children`` (points), ``homes`` (points), ``match_lines`` (child -> home),
    ``school_isochrones`` (when the run had a road network), ``municipalities``
    (when given) and ``roads`` (a light base map drawn from the road network).
``map.html``
    An interactive Leaflet map made with folium that works offline: no tile
    layer, and Leaflet's JavaScript and CSS (from the ``xstatic-leaflet``
    package) are inlined, so the file loads nothing from the network.
``map.png``
    A static overview of the same content (matplotlib, Agg).
``briefs/<child_id>.html`` and ``.md``
    A brief per child for the dialogue meeting (:mod:`~matcher.report.briefs`).
``proposals.xlsx``
    The proposals as an Excel workbook (:mod:`~matcher.report.workbook`).
``report.md``
    A summary at a glance (waiting children, near school, own municipality,
    the most common reasons for no proposal), placements by urgency,
    home-municipality share, school travel bands, unmatched children with
    reasons, the training support plan, solver status and input fingerprints.

:func:`rerender` makes the last three again from the files of a run folder.

Privacy: the shareable outputs (``map.html``, ``map.png``, ``report.md``, the
briefs and the workbook) never hold a child's exact position: children are drawn
at the centre of their SSB-style 250 m grid cell (cells aligned to multiples of
250 m in the working CRS) and school isochrones are pooled per school. With
``privacy="coarse"`` (the default) ``matches.gpkg`` is coarse too; with
``privacy="exact"`` it keeps the exact positions, for analysts only. A child
with a protected address (``address_protection``) is in no layer and no map.
Child ids are pseudonymous; nothing here logs coordinates or names.

Modules: :mod:`~matcher.report.layers` (GeoPackage layers),
:mod:`~matcher.report.webmap` (``map.html``), :mod:`~matcher.report.staticmap`
(``map.png``) and :mod:`~matcher.report.markdown` (``report.md``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from matcher import i18n, vocabulary
from matcher.config import Settings
from matcher.errors import InputError, Problem
from matcher.i18n import gettext as _
from matcher.io import files
from matcher.io.runs import read_run_table
from matcher.report import briefs, workbook
from matcher.report.common import (
    CRS,
    GPKG,
    GRID_METRES,
    LAYERS,
    MAP_HTML,
    MAP_PNG,
    PRIVACY_MODES,
    REPORT_MD,
    SCHOOL_BANDS_MINUTES,
    SYNTHETIC_KOMMUNENUMMER,
    Privacy,
    check_privacy,
    run_municipality_names,
)
from matcher.report.layers import (
    _looks_synthetic,
    _read_gpkg,
    _write_gpkg,
    build_layers,
    coarsen,
    protected,
    read_assignments,
    shareable,
)
from matcher.report.markdown import _markdown, school_bands
from matcher.report.staticmap import _map_png
from matcher.report.webmap import _map_html
from matcher.run import RunSummary

if TYPE_CHECKING:
    from matcher.run import RunResult

__all__ = [
    "CRS",
    "GPKG",
    "GRID_METRES",
    "LAYERS",
    "MAP_HTML",
    "MAP_PNG",
    "PRIVACY_MODES",
    "REPORT_MD",
    "SCHOOL_BANDS_MINUTES",
    "SYNTHETIC_KOMMUNENUMMER",
    "Privacy",
    "build_layers",
    "check_privacy",
    "coarsen",
    "read_assignments",
    "rerender",
    "school_bands",
    "write_outputs",
]


logger = logging.getLogger(__name__)


def write_outputs(result: RunResult, folder: Path, *, privacy: Privacy = "coarse",
                  municipalities: gpd.GeoDataFrame | None = None,
                  isochrones: gpd.GeoDataFrame | None = None,
                  settings: Settings | None = None, synthetic: bool | None = None) -> None:
    """Write ``matches.gpkg``, the maps, ``report.md``, the briefs and ``proposals.xlsx``.

    Called by :func:`matcher.pipeline.write_run` (``report=True``). Every file
    is written atomically and owner-only (``0o600``). Renders what the
    pipeline computed; it never routes.

    Parameters
    ----------
    result
        The run (:func:`matcher.pipeline.run`).
    folder
        The (temporary) run folder.
    privacy
        Child positions in ``matches.gpkg``: ``"coarse"`` (250 m grid-cell
        centres) or ``"exact"`` (for analysts). The shareable outputs are
        coarse either way.
    municipalities
        Municipality polygons (any CRS) for the base map and the GeoPackage.
    isochrones
        School isochrones (:func:`matcher.pipeline.school_isochrones`), or ``None``.
    settings
        The working CRS and report options (defaults without it).
    synthetic
        Mark the outputs as synthetic data. ``None`` detects it: municipality
        names containing "syntetisk", or every child in a fictional
        :data:`SYNTHETIC_KOMMUNENUMMER` municipality. The banner says whether
        the places are real too (:func:`~matcher.report.common.synthetic_note`).

    Raises
    ------
    InputError
        If ``privacy`` is unknown or ``municipalities`` has no CRS.
    """
    folder = Path(folder)
    layers = build_layers(result, privacy=privacy, municipalities=municipalities,
                          isochrones=isochrones, settings=settings)
    fictional = _looks_synthetic(result.inputs.children, municipalities)
    if synthetic is None:
        synthetic = fictional
    grid = (settings or Settings()).report.grid_metres
    meta = {"privacy": privacy, "synthetic": bool(synthetic), "fictional": fictional,
            "osm": result.network is not None or "network" in result.summary.inputs_sha256,
            "near_school_minutes": float((settings or Settings()).scoring.bands_minutes[0]),
            "grid_metres": grid,
            "protected": len(protected(result.inputs.children))}
    _write_gpkg(layers, folder / GPKG, meta)
    own_names = run_municipality_names(layers.get("municipalities"))
    written = briefs.build_briefs(
        result, settings=settings, synthetic=bool(synthetic), fictional=fictional,
        municipality_names=own_names)
    _write_rendered(folder, _render(layers, result.assignments, result.summary, meta,
                                    result.history, briefs=[b.child_id for b in written]))
    briefs.write_briefs(folder, written)
    workbook.write_workbook(folder, workbook.workbook(
        result.assignments, result.shortlist, result.summary, history=result.history,
        synthetic=bool(synthetic), fictional=fictional, settings=settings,
        protected=protected(result.inputs.children),
        municipality_names=vocabulary.municipality_names(own_names),
        briefs=[b.child_id for b in written]))
    logger.info(_("report: {children} children, {homes} homes, {lines} match lines, layers "
                  "{layers}").format(children=len(layers["children"]),
                                     homes=len(layers["homes"]),
                                     lines=len(layers["match_lines"]),
                                     layers=", ".join(layers)))


def rerender(run_dir: Path, *, language: str | None = None) -> None:
    """Re-render ``map.html``, ``map.png`` and ``report.md`` from a run folder's files.

    Reads ``matches.gpkg``, ``summary.json`` and ``assignments.csv``; each
    output is written atomically and owner-only, and only after all three
    have rendered, so a failure leaves the folder as it was.

    Parameters
    ----------
    run_dir
        A run folder written by ``matcher match``.
    language
        Language of the re-rendered text (``nb``, ``nn``, ``en``). Default: the
        language the run was written in (``summary.json``), else the current one.
        Texts stored in the run (reasons, explanations) keep the run's language.

    Raises
    ------
    InputError
        Listing every missing or unreadable file or layer.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(_("{folder}: not a folder; give a run folder from `matcher match`")
                         .format(folder=run_dir))
    problems = [Problem(str(run_dir), _("missing {file}; is this a run folder written by "
                                        "`matcher match` (with the report module installed)?")
                        .format(file=name))
                for name in (GPKG, "summary.json", "assignments.csv")
                if not (run_dir / name).is_file()]
    if problems:
        raise InputError(_("{folder}: cannot re-render the report").format(folder=run_dir),
                         problems)
    layers, meta = _read_gpkg(run_dir / GPKG)
    summary = RunSummary.read(run_dir / "summary.json")
    try:
        assignments = read_assignments(run_dir / "assignments.csv")
    except (ValueError, KeyError, OSError) as exc:
        raise InputError(_("{folder}: cannot read summary.json or assignments.csv ({error}); "
                           "re-run `matcher match`").format(
            folder=run_dir, error=f"{type(exc).__name__}: {exc}")) from None
    history = read_run_table(run_dir / "history.csv", "history") \
        if (run_dir / "history.csv").is_file() else None
    with_brief = [c for c in layers["children"]["child_id"].astype(str)
                  if (run_dir / briefs.BRIEFS / f"{briefs.brief_file_name(c)}.html").is_file()]
    with i18n.language(language or summary.language):
        _write_rendered(run_dir, _render(layers, assignments, summary, meta, history,
                                         briefs=with_brief))
    logger.info(_("report re-rendered: {children} children").format(children=len(assignments)))


@dataclasses.dataclass(frozen=True)
class _Rendered:
    html: str
    png: bytes
    markdown: str


def _render(layers: Mapping[str, gpd.GeoDataFrame], assignments: pd.DataFrame,
            summary: RunSummary, meta: Mapping[str, Any],
            history: pd.DataFrame | None = None, *,
            briefs: Collection[str] = ()) -> _Rendered:
    """Render the shareable outputs: from coarse layers, whatever ``matches.gpkg`` holds
    (``briefs``: ids of the children whose brief the map links to)."""
    layers = shareable(layers, privacy=str(meta.get("privacy", "exact")),
                       cell_metres=float(meta.get("grid_metres", GRID_METRES)))
    return _Rendered(html=_map_html(layers, summary, meta, briefs=briefs),
                     png=_map_png(layers, summary, meta),
                     markdown=_markdown(assignments, summary, meta, history,
                                        crs=_crs_name(layers),
                                        municipalities=run_municipality_names(
                                            layers.get("municipalities"))))


def _crs_name(layers: Mapping[str, gpd.GeoDataFrame]) -> str:
    """The CRS of the layers (the working CRS of the run), as ``EPSG:<code>`` when it has one."""
    found = next((f.crs for f in layers.values() if f.crs is not None), None)
    return CRS if found is None else found.to_string()


def _write_rendered(folder: Path, rendered: _Rendered) -> None:
    files.write_bytes(folder / MAP_HTML, rendered.html.encode("utf-8"))
    files.write_bytes(folder / MAP_PNG, rendered.png)
    files.write_bytes(folder / REPORT_MD, rendered.markdown.encode("utf-8"))
