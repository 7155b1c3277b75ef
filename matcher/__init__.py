"""fostermatch: geospatial foster-home matching for Norwegian child welfare.

The engine recommends; people decide.

The front door, for notebooks and scripts::

    import matcher as fm

    settings = fm.load_settings("matcher.toml")          # or fm.Settings()
    inputs = fm.read_inputs("children.csv", "homes.csv", "contacts.csv", settings=settings)
    net = fm.build_network("region.osm.pbf", settings=settings, cache_dir="net")
    run = fm.match(inputs, settings=settings, net=net)   # a frozen RunResult
    run.write("run", report=True, privacy="coarse")      # the run folder
    gaps = fm.gaps(inputs, settings=settings, net=net, areas=areas)
    fm.gaps_map(gaps, net=net, municipalities=areas)    # PNG bytes: roads, borders, names
    fm.views.gaps(gaps)                                  # formatted, in words
    with fm.language("nn"):                              # texts in nynorsk
        print(gaps.table)

One grammar: the data come first and positionally (inputs, tables, paths);
everything else is keyword-only: ``settings=`` (the whole :class:`Settings`,
defaults when ``None``), ``net=`` (the road network) and the options. Results
are frozen dataclasses. Invalid settings raise :class:`InputError` naming the
TOML keys.

Everything here is imported on first use, so ``import matcher`` stays fast.
The modules behind it are named after domain nouns: :mod:`matcher.network`,
:mod:`matcher.traveltime`, :mod:`matcher.isochrones`, :mod:`matcher.rules`,
:mod:`matcher.scoring`, :mod:`matcher.assignment`, :mod:`matcher.pipeline`,
:mod:`matcher.planning`, :mod:`matcher.report`, :mod:`matcher.io` and
:mod:`matcher.scenarios`.
"""

from __future__ import annotations

import datetime
import importlib
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("fostermatch")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+checkout"

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from matcher.clip import ClipArea
    from matcher.config import Settings
    from matcher.config import load as load_settings
    from matcher.decisions import Decisions
    from matcher.errors import InfeasibleError, InputError, MatcherError
    from matcher.i18n import language
    from matcher.io.readers import read_times
    from matcher.lookup import Registers
    from matcher.network import Network
    from matcher.network import load as load_network
    from matcher.pipeline import RunResult
    from matcher.planning import (
        Addition,
        add_homes,
        coverage_map,
        emergency_coverage,
        gaps,
        gaps_map,
        read_municipalities,
        recruit,
        recruit_map,
        support_plan,
        whatif,
    )
    from matcher.report import views
    from matcher.report.briefs import brief
    from matcher.scenarios.fjord import REFERENCE_DATE as SAMPLE_REFERENCE_DATE
    from matcher.scenarios.fjord import generate as generate_sample
    from matcher.scenarios.oslo import oslo_scenario
    from matcher.schema import Inputs
    from matcher.stability import Stability
    from matcher.timetable import TimeTable

__all__ = [
    "SAMPLE_REFERENCE_DATE",
    "Addition",
    "InfeasibleError",
    "InputError",
    "Inputs",
    "MatcherError",
    "Network",
    "RunResult",
    "Settings",
    "Stability",
    "TimeTable",
    "__version__",
    "add_homes",
    "brief",
    "build_network",
    "coverage_map",
    "emergency_coverage",
    "gaps",
    "gaps_map",
    "generate_sample",
    "language",
    "load_network",
    "load_settings",
    "match",
    "oslo_scenario",
    "placement_stability",
    "read_inputs",
    "read_municipalities",
    "read_periods",
    "read_population",
    "read_times",
    "recruit",
    "recruit_map",
    "stability_figure",
    "support_plan",
    "views",
    "whatif",
]

_LAZY: dict[str, tuple[str, str]] = {
    "Settings": ("matcher.config", "Settings"),
    "load_settings": ("matcher.config", "load"),
    "InfeasibleError": ("matcher.errors", "InfeasibleError"),
    "InputError": ("matcher.errors", "InputError"),
    "MatcherError": ("matcher.errors", "MatcherError"),
    "language": ("matcher.i18n", "language"),
    "read_times": ("matcher.io.readers", "read_times"),
    "Network": ("matcher.network", "Network"),
    "load_network": ("matcher.network", "load"),
    "RunResult": ("matcher.pipeline", "RunResult"),
    "Addition": ("matcher.planning", "Addition"),
    "add_homes": ("matcher.planning", "add_homes"),
    "coverage_map": ("matcher.planning", "coverage_map"),
    "gaps_map": ("matcher.planning", "gaps_map"),
    "recruit_map": ("matcher.planning", "recruit_map"),
    "brief": ("matcher.report.briefs", "brief"),
    "views": ("matcher.report.views", ""),
    "emergency_coverage": ("matcher.planning", "emergency_coverage"),
    "gaps": ("matcher.planning", "gaps"),
    "read_municipalities": ("matcher.planning", "read_municipalities"),
    "recruit": ("matcher.planning", "recruit"),
    "support_plan": ("matcher.planning", "support_plan"),
    "whatif": ("matcher.planning", "whatif"),
    "SAMPLE_REFERENCE_DATE": ("matcher.scenarios.fjord", "REFERENCE_DATE"),
    "generate_sample": ("matcher.scenarios.fjord", "generate"),
    "oslo_scenario": ("matcher.scenarios.oslo", "oslo_scenario"),
    "Inputs": ("matcher.schema", "Inputs"),
    "Stability": ("matcher.stability", "Stability"),
    "TimeTable": ("matcher.timetable", "TimeTable"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        loaded = importlib.import_module(module)
        return getattr(loaded, attr) if attr else loaded
    raise AttributeError(f"module 'matcher' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def read_inputs(children: str | Path, homes: str | Path, contacts: str | Path | None = None,
                placements: str | Path | None = None, vetoes: str | Path | None = None, *,
                settings: Settings | None = None, registers: Registers | None = None) -> Inputs:
    """Read and validate the input tables of one run.

    Parameters
    ----------
    children, homes
        Required tables: ``.csv``, ``.geojson``/``.json`` or ``.gpkg``
        (``file.gpkg:layer`` names the layer; the first layer otherwise).
    contacts, placements, vetoes
        Optional tables, same formats.
    settings
        All settings (default :class:`Settings`); ``scoring.competences`` and
        ``scoring.need_competences`` define the allowed tags.
    registers
        Registers for addresses, school ids and municipality numbers
        (:func:`matcher.io.registers.default_registers`); ``None`` consults none.

    Returns
    -------
    Inputs
        The normalised tables and the SHA-256 fingerprint of each file.

    Raises
    ------
    InputError
        Listing every problem in every file.
    """
    from matcher.config import Settings
    from matcher.io import readers

    return readers.read_inputs(children, homes, contacts, placements, vetoes,
                               settings=(settings or Settings()).scoring, registers=registers)


def build_network(osm: str | Path, *, settings: Settings | None = None,
                  cache_dir: str | Path | None = None,
                  progress: Callable[[str], None] | None = None,
                  on_bytes: Callable[[int, int], None] | None = None,
                  clip: ClipArea | None = None) -> Network:
    """Build (or load from cache) the road network of a local OSM file.

    Parameters
    ----------
    osm
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf`` file.
    settings
        All settings (default :class:`Settings`): the speed model of
        ``network`` and the working CRS ``network.crs`` (node coordinates in
        metres).
    cache_dir
        Folder of the cached network; reused when built from the same file
        bytes, settings and clip.
    progress, on_bytes
        Called with a short description before each step, and with
        ``(bytes read, total)`` while the file is read.
    clip
        Keep only the roads inside this area (:mod:`matcher.clip`).

    Returns
    -------
    Network
        The timed drive network (see :func:`matcher.network.build`).

    Raises
    ------
    InputError
        If the file is missing or unreadable or holds no drivable road.
    """
    from matcher import network
    from matcher.config import Settings

    return network.build(osm, (settings or Settings()).network, cache_dir=cache_dir,
                         progress=progress, on_bytes=on_bytes, clip=clip)


def read_periods(path: str | Path) -> pd.DataFrame:
    """Read and validate a placement_periods table (:mod:`matcher.periods`).

    Parameters
    ----------
    path
        ``.csv``, ``.geojson`` or ``.gpkg[:layer]``.

    Returns
    -------
    pandas.DataFrame
        The typed periods (``start``/``end`` dates, ``end`` empty while open).

    Raises
    ------
    InputError
        Naming the file, row and column of every problem.
    """
    from matcher.io import periods as io_periods

    return io_periods.read_periods(path)[1]


def placement_stability(periods: pd.DataFrame, *, as_of: datetime.date | None = None,
              min_cell: int = 5) -> Stability:
    """Stability of placements: unintended moves per 100 placement-years and the share
    still standing after 6, 12 and 24 months (:func:`matcher.stability.stability`).

    Parameters
    ----------
    periods
        From :func:`read_periods`.
    as_of
        Follow the periods to this day (default today).
    min_cell
        Suppress groups with fewer placements.
    """
    from matcher import stability as stability_mod

    return stability_mod.stability(periods, as_of=as_of or datetime.date.today(),
                                   min_cell=min_cell)


def stability_figure(result: Stability, *, breakdown: str = "overall") -> bytes:
    """PNG of the Kaplan-Meier curves of one breakdown of :func:`placement_stability`
    (95 % bands).

    ``breakdown`` is one of :data:`matcher.stability.BREAKDOWNS`.
    """
    from matcher import stability as stability_mod

    return stability_mod.figure(result, breakdown)


def read_population(path: str | Path, *, settings: Settings | None = None) -> gpd.GeoDataFrame:
    """Read an SSB population grid (``ru250m``, ``pop_tot``) as cells in the working CRS.

    Parameters
    ----------
    path
        GeoPackage or GeoJSON of the SSB 250 m grid (any CRS).
    settings
        All settings (default :class:`Settings`); the cells are in the working
        CRS ``network.crs`` (metres).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cell_id``, ``population`` and the cell polygons, populated cells only.

    Raises
    ------
    InputError
        If the file is missing, unreadable, has no CRS or lacks the columns.
    """
    from matcher.config import Settings
    from matcher.io import readers

    return readers.read_population(path, crs=(settings or Settings()).crs)


def match(inputs: Inputs, *, settings: Settings | None = None, net: Network | None = None,
          times: TimeTable | None = None, as_of: datetime.date | None = None,
          decisions: Decisions | None = None, previous: pd.DataFrame | None = None,
          network: Network | None = None) -> RunResult:
    """Match all waiting children to foster homes: travel times, scores, assignment, reasons.

    Parameters
    ----------
    inputs
        Validated inputs (:func:`read_inputs`).
    settings
        All settings (default :class:`Settings`).
    net
        Road network (:func:`build_network` / :func:`load_network`) for the
        travel times in minutes; or give ``times``.
    times
        Precomputed travel times in minutes (origins ``home_id``,
        destinations anchor ids).
    as_of
        Run date for waiting times (default: today).
    decisions
        Decisions on earlier proposals (:func:`matcher.decisions.validate`):
        accepted pairs locked, recent declines not proposed, reservations held.
    previous
        The previous run's assignments (``child_id, home_id``): keep its
        proposals where the score stays within ``continuity.stability_tolerance``.
    network
        Deprecated name of ``net`` (a :class:`DeprecationWarning`); it goes in
        the next release.

    Returns
    -------
    RunResult
        Frozen: assignments, pairs with explanations, shortlist, summary, and
        ``.write(folder, report=True, privacy=...)``.

    Raises
    ------
    InputError
        If neither ``net`` nor ``times`` is given, both ``net`` and
        ``network`` are, or a place is off the network.
    InfeasibleError
        If the assignment cannot be solved.
    """
    from matcher import pipeline
    from matcher.config import Settings
    from matcher.errors import InputError
    from matcher.i18n import gettext as _

    if network is not None:
        warnings.warn(_("match(network=...) is deprecated and goes in the next release; "
                        "use match(net=...)"), DeprecationWarning, stacklevel=2)
        if net is not None:
            raise InputError(_("give the road network once, as net="))
        net = network
    return pipeline.run(inputs, settings or Settings(), times=times, net=net, as_of=as_of,
                        decisions=decisions, previous=previous)
