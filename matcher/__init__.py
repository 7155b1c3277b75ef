"""fostermatch: geospatial foster-home matching for Norwegian child welfare.

The engine recommends; people decide.

The front door, for notebooks and scripts::

    import matcher as fm

    settings = fm.load_settings("matcher.toml")          # or fm.Settings()
    inputs = fm.read_inputs("children.csv", "homes.csv", "contacts.csv",
                            settings=settings.scoring)
    net = fm.build_network("region.osm.pbf", settings.network, cache_dir="net")
    run = fm.match(inputs, settings, network=net)        # a frozen RunResult
    run.write("run", report=True, privacy="coarse")      # the run folder
    gaps = fm.gaps(inputs, settings=settings.scoring, areas=areas, net=net)

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
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("fostermatch")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+checkout"

if TYPE_CHECKING:
    import pandas as pd

    from matcher.config import Settings
    from matcher.config import load as load_settings
    from matcher.decisions import Decisions
    from matcher.errors import InfeasibleError, InputError, MatcherError
    from matcher.io.readers import read_inputs, read_population, read_times
    from matcher.network import Network
    from matcher.network import build as build_network
    from matcher.network import load as load_network
    from matcher.pipeline import RunResult
    from matcher.planning import (
        Addition,
        emergency_coverage,
        gaps,
        read_municipalities,
        recruit,
        support_plan,
        whatif,
    )
    from matcher.scenarios.fjord import REFERENCE_DATE as SAMPLE_REFERENCE_DATE
    from matcher.scenarios.fjord import generate as generate_sample
    from matcher.scenarios.oslo import oslo_scenario
    from matcher.schema import Inputs
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
    "TimeTable",
    "__version__",
    "build_network",
    "emergency_coverage",
    "gaps",
    "generate_sample",
    "load_network",
    "load_settings",
    "match",
    "oslo_scenario",
    "read_inputs",
    "read_municipalities",
    "read_population",
    "read_times",
    "recruit",
    "support_plan",
    "whatif",
]

_LAZY: dict[str, tuple[str, str]] = {
    "Settings": ("matcher.config", "Settings"),
    "load_settings": ("matcher.config", "load"),
    "InfeasibleError": ("matcher.errors", "InfeasibleError"),
    "InputError": ("matcher.errors", "InputError"),
    "MatcherError": ("matcher.errors", "MatcherError"),
    "read_inputs": ("matcher.io.readers", "read_inputs"),
    "read_population": ("matcher.io.readers", "read_population"),
    "read_times": ("matcher.io.readers", "read_times"),
    "Network": ("matcher.network", "Network"),
    "build_network": ("matcher.network", "build"),
    "load_network": ("matcher.network", "load"),
    "RunResult": ("matcher.pipeline", "RunResult"),
    "Addition": ("matcher.planning", "Addition"),
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
    "TimeTable": ("matcher.timetable", "TimeTable"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'matcher' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def match(inputs: Inputs, settings: Settings | None = None, *, network: Network | None = None,
          times: TimeTable | None = None, as_of: datetime.date | None = None,
          decisions: Decisions | None = None, previous: pd.DataFrame | None = None
          ) -> RunResult:
    """Match all waiting children to foster homes: travel times, scores, assignment, reasons.

    Parameters
    ----------
    inputs
        Validated inputs (:func:`read_inputs`).
    settings
        All settings (default: :class:`Settings` defaults).
    network
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

    Returns
    -------
    RunResult
        Frozen: assignments, pairs with explanations, shortlist, summary, and
        ``.write(folder, report=True, privacy=...)``.

    Raises
    ------
    InputError
        If neither ``network`` nor ``times`` is given, or a place is off the network.
    InfeasibleError
        If the assignment cannot be solved.
    """
    from matcher import pipeline
    from matcher.config import Settings

    return pipeline.run(inputs, settings or Settings(), times=times, net=network, as_of=as_of,
                        decisions=decisions, previous=previous)
