"""Deterministic synthetic scenarios: every child and home in them is fictional.

* :mod:`matcher.scenarios.fjord`: a fictional fjord region in western Norway
  with a road hierarchy, car and passenger ferries, municipalities, schools,
  children, contacts and homes, at three sizes (``small``, ``region``,
  ``national``).
* :mod:`matcher.scenarios.oslo`: synthetic children, homes and resource
  families on real Oslo roads, population cells and schools from ``data/``.

Both draw from the distribution tables of :mod:`matcher.scenarios.tables`.
"""

from matcher.scenarios import fjord, oslo
from matcher.scenarios.fjord import REFERENCE_DATE, SampleManifest, Scenario, build, generate, write
from matcher.scenarios.oslo import OSLO_FILES, OsloScenario, oslo_scenario

__all__ = [
    "OSLO_FILES",
    "REFERENCE_DATE",
    "OsloScenario",
    "SampleManifest",
    "Scenario",
    "build",
    "fjord",
    "generate",
    "oslo",
    "oslo_scenario",
    "write",
]
