"""Session fixtures shared by the test modules.

* the small synthetic fjord sample (seed 1): its files, validated inputs,
  municipality areas and built road network, made once per session;
* the repository's real open data (``data/``, see ``data/SOURCES.md``).

Fixtures hand out frozen objects; a test that needs to change a file copies it first.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from matcher import config, i18n, network, planning
from matcher.io import readers
from matcher.run import RunSummary
from matcher.scenarios import fjord
from matcher.schema import Inputs

ROOT = Path(__file__).resolve().parents[1]


DATA = ROOT / "data"
"""The repository's real open data (see data/SOURCES.md); tests never skip for it."""

OLD_SUMMARY = ROOT / "tests" / "golden" / "summary-unversioned.json"
"""``summary.json`` of ``matcher demo --region fjord`` written before ``schema_version`` existed."""


@pytest.fixture(scope="session")
def run_summary() -> RunSummary:
    """A real run's summary (:data:`OLD_SUMMARY`), for report tests that need one."""
    return RunSummary.read(OLD_SUMMARY)


@pytest.fixture(scope="session", autouse=True)
def _english() -> Iterator[None]:
    """Run the tests in English, the source language; tests of nb/nn ask for them."""
    with i18n.language("en"):
        yield


@dataclass(frozen=True)
class Sample:
    """The small synthetic sample (seed 1) and what the engine makes of it."""

    manifest: fjord.SampleManifest
    settings: config.Settings
    net: network.Network
    net_dir: Path
    inputs: Inputs
    areas: gpd.GeoDataFrame
    as_of: datetime.date

    @property
    def folder(self) -> Path:
        """The folder of the sample's files (children.csv, homes.csv, roads.osm...)."""
        return self.manifest.out_dir


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """The small synthetic sample: files, validated inputs, areas and built network."""
    folder = tmp_path_factory.mktemp("small-sample")
    manifest = fjord.generate(folder / "sample", seed=1, size="small")
    settings = config.Settings()
    net_dir = folder / "net"
    net = network.build(manifest.roads, settings.network, cache_dir=net_dir)
    inputs = readers.read_inputs(manifest.children, manifest.homes, manifest.contacts,
                                 manifest.placements, manifest.vetoes, settings=settings.scoring)
    return Sample(manifest=manifest, settings=settings, net=net, net_dir=net_dir, inputs=inputs,
                  areas=planning.read_municipalities(manifest.municipalities, settings=settings),
                  as_of=datetime.date.fromisoformat(fjord.REFERENCE_DATE))


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def chromium_driver(window: str = "1280,900") -> Any:
    """A headless Chromium (Debian's chromium and chromium-driver) with no network.

    The caller quits it and removes ``driver._fm_profile``, its profile folder.
    """
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("headless Chromium not found: install Debian packages chromium and "
                    "chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="needs selenium (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="fm-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                 f"--window-size={window}", "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver._fm_profile = profile
    return driver
