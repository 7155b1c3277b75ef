"""Tests of matcher.pipeline and the front door (`import matcher as fm`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Sample

import matcher as fm
from matcher import pipeline, report
from matcher.errors import InputError


@pytest.fixture(scope="module")
def run(small_sample: Sample) -> pipeline.RunResult:
    return fm.match(small_sample.inputs, small_sample.settings, network=small_sample.net,
                    as_of=small_sample.as_of)


def test_front_door_names_resolve_and_import_stays_light() -> None:
    for name in fm.__all__:
        assert getattr(fm, name) is not None, name
    code = "import sys, matcher; print('matcher.pipeline' in sys.modules, 'pulp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_match_is_deterministic_and_consistent(run: pipeline.RunResult,
                                               small_sample: Sample) -> None:
    again = fm.match(small_sample.inputs, small_sample.settings, network=small_sample.net,
                     as_of=small_sample.as_of)
    pd.testing.assert_frame_equal(run.assignments, again.assignments)
    table = run.assignments
    assert list(table.columns) == list(pipeline.ASSIGNMENT_COLUMNS)
    assert table["child_id"].is_monotonic_increasing
    placed = table["home_id"].notna()
    assert run.summary["placed"] == int(placed.sum())
    assert (table.loc[~placed, "reason"] != "").all()
    used = table.loc[placed, "home_id"].value_counts()
    capacity = small_sample.inputs.homes.set_index("home_id")["capacity"]
    assert (used <= capacity.reindex(used.index)).all()


def test_match_needs_a_network_or_times(small_sample: Sample) -> None:
    with pytest.raises(InputError, match="give a road network"):
        fm.match(small_sample.inputs)


def test_write_without_and_with_report(run: pipeline.RunResult, small_sample: Sample,
                                       tmp_path: Path) -> None:
    plain = run.write(tmp_path / "plain", report=False)
    assert sorted(p.name for p in plain.iterdir()) == [
        "assignments.csv", "history.csv", "pairs.csv", "shortlist.csv", "summary.json"]
    back = pd.read_csv(plain / "assignments.csv", dtype={"child_id": str, "home_id": str})
    np.testing.assert_array_equal(back["score"].to_numpy(), run.assignments["score"].to_numpy())
    assert json.loads((plain / "summary.json").read_text()) == run.summary
    full = pipeline.write_run(run, tmp_path / "full", report=True, privacy="coarse",
                              municipalities=small_sample.areas, settings=small_sample.settings)
    names = {p.name for p in full.iterdir()}
    assert {report.GPKG, report.MAP_HTML, report.MAP_PNG, report.REPORT_MD} <= names
    assert all((p.stat().st_mode & 0o077) == 0 for p in full.iterdir())
    with pytest.raises(InputError, match="privacy 'fuzzy'"):
        run.write(tmp_path / "bad", privacy="fuzzy")  # type: ignore[arg-type]
    assert not (tmp_path / "bad").exists()


def test_school_isochrones_come_from_the_pipeline(run: pipeline.RunResult,
                                                  small_sample: Sample) -> None:
    iso = pipeline.school_isochrones(run, small_sample.settings)
    assert iso is not None and len(iso)
    placed = set(run.assignments.loc[run.assignments["home_id"].notna(), "child_id"])
    assert set(iso["child_id"]) <= placed
    assert iso.crs == small_sample.settings.crs
