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
from matcher import pipeline, report, schema
from matcher.config import ScoringSettings, Settings
from matcher.errors import InputError
from matcher.run import RunSummary
from matcher.timetable import TimeTable


@pytest.fixture(scope="module")
def run(small_sample: Sample) -> pipeline.RunResult:
    return fm.match(small_sample.inputs, settings=small_sample.settings, net=small_sample.net,
                    as_of=small_sample.as_of)


def test_front_door_names_resolve_and_import_stays_light() -> None:
    for name in fm.__all__:
        assert getattr(fm, name) is not None, name
    code = "import sys, matcher; print('matcher.pipeline' in sys.modules, 'pulp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_match_network_keyword_still_works_with_a_deprecation_warning(
        run: pipeline.RunResult, small_sample: Sample) -> None:
    """Issue 26: ``net=`` everywhere; ``match(network=...)`` is kept for one release."""
    with pytest.warns(DeprecationWarning, match=r"use match\(net=\.\.\.\)"):
        old = fm.match(small_sample.inputs, settings=small_sample.settings,
                       network=small_sample.net, as_of=small_sample.as_of)
    pd.testing.assert_frame_equal(old.assignments, run.assignments)
    with pytest.warns(DeprecationWarning), pytest.raises(InputError, match="once, as net="):
        fm.match(small_sample.inputs, net=small_sample.net, network=small_sample.net)


def test_match_is_deterministic_and_consistent(run: pipeline.RunResult,
                                               small_sample: Sample) -> None:
    again = fm.match(small_sample.inputs, settings=small_sample.settings, net=small_sample.net,
                     as_of=small_sample.as_of)
    pd.testing.assert_frame_equal(run.assignments, again.assignments)
    table = run.assignments
    assert list(table.columns) == list(pipeline.ASSIGNMENT_COLUMNS)
    assert table["child_id"].is_monotonic_increasing
    placed = table["home_id"].notna()
    assert run.summary.placed == int(placed.sum())
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
        ".fostermatch-run", "assignments.csv", "history.csv", "pairs.csv", "shortlist.csv",
        "summary.json"]
    back = pd.read_csv(plain / "assignments.csv", dtype={"child_id": str, "home_id": str})
    np.testing.assert_array_equal(back["score"].to_numpy(), run.assignments["score"].to_numpy())
    assert json.loads((plain / "summary.json").read_text()) == run.summary.to_dict()
    assert RunSummary.read(plain) == run.summary
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


# --------------------------------------------------------------------------- issue 13: golden


def _cooperation_inputs() -> schema.Inputs:
    """Siblings s1 (Øygarden 4626) and s2 (Alver 4631), c3 (4626), c4 (Bergen 4601).

    The only home in 4626 is full, so c3 can only go to the pool (hB2, 4631) or
    Bergen; the siblings need a home for two (hB in 4631 or hC in 4601).
    """
    children = pd.DataFrame({
        "child_id": ["s1", "s2", "c3", "c4"], "lon": 5.0, "lat": 60.5,
        "municipality": ["4626", "4631", "4626", "4601"], "age": [8, 11, 10, 12],
        "sibling_group": ["G", "G", "", ""], "urgency": "planned",
        "heard_on": ["", "2026-10-01", "2025-01-01", ""]})
    homes = pd.DataFrame({
        "home_id": ["hA", "hB", "hB2", "hC", "hC2"], "lon": 5.0, "lat": 60.5,
        "municipality": ["4626", "4631", "4631", "4601", "4601"],
        "capacity": [0, 2, 1, 2, 1], "min_age": 0, "max_age": 17, "kind": "general",
        "accepts_sibling_groups": ["no", "yes", "no", "yes", "no"]})
    return schema.validate(children, homes, settings=ScoringSettings())


def _flat_times(inputs: schema.Inputs) -> TimeTable:
    anchors = schema.anchors(inputs)["anchor_id"].to_numpy(dtype=object)
    homes = inputs.homes["home_id"].to_numpy(dtype=object)
    return TimeTable(homes, anchors, np.full((len(homes), len(anchors)), 10.0))


@pytest.mark.parametrize("pooled", [True, False])
def test_golden_pools_and_siblings_across_municipalities(pooled: bool) -> None:
    inputs = _cooperation_inputs()
    pools = {"oygarden_alver": ("4626", "4631")} if pooled else {}
    settings = Settings(scoring=ScoringSettings(pools=pools))
    run = fm.match(inputs, settings=settings, times=_flat_times(inputs),
                   as_of=pd.Timestamp("2026-11-01").date())
    table = run.assignments.set_index("child_id")
    assert table["home_id"].to_dict() == {"c3": "hB2", "c4": "hC", "s1": "hB", "s2": "hB"}
    # a home in any sibling's municipality is "own" for the group
    assert table["municipality_match"].to_dict() == {"c3": False, "c4": True, "s1": True,
                                                     "s2": True}
    pairs = run.scored.pairs.set_index(["child_id", "home_id"])
    s1, s2, c3 = pairs.loc[("s1", "hB")], pairs.loc[("s2", "hB")], pairs.loc[("c3", "hB2")]
    assert s2["municipality"] == 1.0 and s2["municipality_relation"] == "own"
    s = run.summary
    assert s.kept_in_home_municipality == 3 and s.share_kept_in_home_municipality == 0.75
    if pooled:
        # each sibling's component uses its own municipality: s1 is in the pool, not at home
        assert (s1["municipality"], s1["municipality_relation"], s1["pool"]) == (
            0.6, "pool", "oygarden_alver")
        assert "municipality cooperation oygarden alver -> 0.60" in c3["explanation"]
        assert s.kept_within_cooperation == 4 and s.share_kept_within_cooperation == 1.0
        assert s.pools == {"oygarden_alver": ("4626", "4631")}
    else:
        assert (s1["municipality"], s1["municipality_relation"]) == (0.0, "other")
        assert s.kept_within_cooperation == 3 and s.pools == {}
    # s1 (8) and c4 (12) never heard, c3 heard too long ago, s2 heard recently
    assert s.children_not_heard == ("c3", "c4", "s1")


def test_report_and_map_show_cooperation_and_hearing(tmp_path: Path) -> None:
    inputs = _cooperation_inputs()
    settings = Settings(scoring=ScoringSettings(pools={"oygarden_alver": ("4626", "4631")}))
    run = fm.match(inputs, settings=settings, times=_flat_times(inputs),
                   as_of=pd.Timestamp("2026-11-01").date())
    folder = run.write(tmp_path / "run", report=True)
    text = (folder / "report.md").read_text(encoding="utf-8")
    assert "Within the cooperation (own municipality or another municipality of its " \
           "cooperation): 4 of 4 proposals (100.0 %). Cooperations: oygarden alver " \
           "(Øygarden, Alver)." in text
    assert "Siblings count a home in any member's municipality as their own." in text
    assert "## The child's voice" in text and "c3, c4, s1" in text
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert "cooperating municipality (oygarden alver)" in page and "not heard" in page
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["share_kept_within_cooperation"] == 1.0


def test_not_heard_flags_age_and_staleness() -> None:
    children = pd.DataFrame({"child_id": ["a", "b", "c", "d", "e"], "age": [6, 7, 9, 12, 15],
                             "heard_on": pd.to_datetime([None, None, "2026-05-05",
                                                         "2026-05-04", "2026-10-31"])})
    # 2026-11-01 minus 180 days is 2026-05-05: that day still counts as heard
    assert pipeline.not_heard(children, as_of=pd.Timestamp("2026-11-01").date(),
                              hear_from_age=7, heard_max_age_days=180) == ["b", "d"]


def test_hearing_has_no_age_floor_by_default_and_never_blocks() -> None:
    """Issue 21 item 5: § 1-4 has no age floor, so by default a young child without a
    conversation is flagged too; and the flag never changes a proposal."""
    from matcher.config import ReportSettings

    assert ReportSettings().hear_from_age == 0
    children = pd.DataFrame({"child_id": ["a", "b", "c"], "age": [0, 3, 12],
                             "heard_on": pd.to_datetime([None, None, "2026-10-01"])})
    assert pipeline.not_heard(children, as_of=pd.Timestamp("2026-11-01").date(),
                              hear_from_age=ReportSettings().hear_from_age,
                              heard_max_age_days=180) == ["a", "b"]
    inputs = _cooperation_inputs()
    runs = {age: fm.match(inputs, settings=Settings(report={"hear_from_age": age}),
                          times=_flat_times(inputs), as_of=pd.Timestamp("2026-11-01").date())
            for age in (0, 25)}
    assert len(runs[0].summary.children_not_heard) > len(runs[25].summary.children_not_heard)
    pd.testing.assert_frame_equal(runs[0].assignments, runs[25].assignments)
    assert runs[0].summary.placed == len(inputs.children)  # unheard children get proposals


def test_write_replaces_only_a_previous_run(run: pipeline.RunResult, tmp_path: Path) -> None:
    # issue 15, case 1: the folder swap deleted any folder given as the run folder.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="does not hold a previous run") as exc:
        run.write(victim)
    assert exc.value.exit_code == 2
    assert sorted(p.name for p in victim.iterdir()) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["victim"]
    out = run.write(tmp_path / "run")
    assert (out / ".fostermatch-run").is_file()
    (out / "stray.txt").write_text("x")
    run.write(out)  # a previous run is replaced, whole
    assert not (out / "stray.txt").exists() and (out / "assignments.csv").is_file()


def test_write_removes_stale_temporary_folders(run: pipeline.RunResult, tmp_path: Path) -> None:
    # issue 15, case 5: a kill during the final write left .OUT.tmp-* behind for good.
    stale = tmp_path / ".run.tmp-abc123"
    stale.mkdir()
    (stale / "assignments.csv").write_text("child-level data")
    (tmp_path / ".run.old-99").mkdir()
    keep = tmp_path / ".other.tmp-x"
    keep.mkdir()
    run.write(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-x", "run"]


def test_scale_guard_fails_early_with_the_numbers(small_sample: Sample,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 15: a match with 200,000 homes ran for minutes and grew to 3.8 GB before failing.
    inputs = small_sample.inputs
    pairs = len(inputs.children) * len(inputs.homes)
    scale = pipeline.estimate(inputs, small_sample.settings)
    assert scale.pairs == pairs and scale.memory_mb > scale.times_mb > 0
    tight = small_sample.settings.model_copy(update={
        "assignment": small_sample.settings.assignment.model_copy(update={"max_pairs":
                                                                           pairs - 1})})
    called: list[str] = []
    monkeypatch.setattr(pipeline.scoring, "score_pairs", lambda *a, **k: called.append("x"))
    monkeypatch.setattr(pipeline, "travel_times", lambda *a, **k: called.append("x"))
    with pytest.raises(InputError, match=f"{pairs:,} pairs to score, over the budget of "
                                         f"{pairs - 1:,}") as exc:
        pipeline.run(inputs, tight, net=small_sample.net, as_of=small_sample.as_of)
    assert exc.value.exit_code == 2 and "GiB" in str(exc.value) and called == []


@pytest.mark.parametrize("needs", ["trauma", "behaviour", "attachment;trauma", "disability"])
def test_a_course_after_move_in_by_default_and_the_home_with_it_first(needs: str) -> None:
    """Issue 21: a course-shaped need no longer shuts out a home without the course (it gets
    a course plan); the home that has the course is proposed first (training penalty). A
    hard need (disability) still needs the home to be prepared for it."""
    children = pd.DataFrame({"child_id": ["c"], "lon": 10.0, "lat": 60.0,
                             "municipality": ["0301"], "age": [9], "needs": [needs],
                             "urgency": ["planned"]})
    courses = {"trauma": "TBO-F", "behaviour": "EFST", "attachment;trauma": "trygg-base;TBO-F",
               "disability": "disability"}[needs]
    homes = pd.DataFrame({"home_id": ["a", "b"], "lon": 10.0, "lat": 60.0,
                          "municipality": ["0301", "0301"], "capacity": [1, 1],
                          "competences": ["", courses], "min_age": [0, 0], "max_age": [17, 17],
                          "kind": ["general", "general"]})
    inputs = schema.validate(children, homes, settings=ScoringSettings())
    run = fm.match(inputs, times=_flat_times(inputs), as_of=pd.Timestamp("2026-11-01").date())
    assert run.assignments.set_index("child_id").loc["c", "home_id"] == "b"
    without = run.scored.pairs.set_index("home_id")
    if needs == "disability":
        assert "a" not in without.index  # an entry rule: no course makes a home adapted
    else:
        assert without.loc["a", "training_needs"] == needs  # feasible, with a course plan
