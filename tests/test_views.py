"""Tables for people (matcher.report.views, ``fm.views``): formats, words, hidden small areas."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import matcher as fm
from matcher import i18n, planning
from matcher.report import views

NBSP = "\u00a0"


def test_numbers_as_norwegian_writes_them() -> None:
    with i18n.language("nb"):
        assert views.percent(0.40666) == f"40,7{NBSP}%"
        assert views.percent(1.0) == f"100,0{NBSP}%"
        assert views.percent(None) == "" and views.percent(float("nan")) == ""
        assert views.minutes(5.6666) == f"5,7{NBSP}min"
        assert views.minutes(float("inf")) == ""
    with i18n.language("en"):
        assert views.percent(0.40666) == f"40.7{NBSP}%"


def test_weights_say_whether_kinship_comes_first() -> None:
    with i18n.language("nb"):
        ok = views.weights({"school": 0.2, "kinship": 0.7, "network": 0.1})
        bad = views.weights({"school": 0.5, "kinship": 0.3})
    assert ok == "gyldig: slekt (0,70) veier mer enn alle de andre til sammen (0,30)"
    assert bad.startswith("ikke gyldig: ") and "0,3" in bad and "0,5" in bad
    with i18n.language("nn"):
        assert views.weights({"school": 0.5, "kinship": 0.3}).startswith("ikkje gyldig: ")


def test_labels_of_the_controls_follow_the_language() -> None:
    with i18n.language("nb"):
        assert views.label("school") == "skole" and views.label("run") == "Kjør"
    with i18n.language("nn"):
        assert views.label("run") == "Køyr"
    assert views.label("unknown") == "unknown"


def _gaps() -> planning.GapResult:
    table = pd.DataFrame({
        "rank": [1, 2], "area_id": ["hex_1_1", "hex_2_2"], "name": ["Oslo, rute 1",
                                                                  "Oslo, rute 2"],
        "children": [12, 3], "uncovered": [3, 2], "share_uncovered": [0.25, 2 / 3],
        "no_home": [0, 0], "need:teen": [2, 1], "need:disability": [1, 1],
        "needs_not_in_one_home": [0, 0], "unmatched": [1, 1], "unmatched_uncovered": [1, 1],
        "homes": [2, 1], "places": [3, 1], "access_2sfca": [0.456, 0.2]})
    geo = gpd.GeoDataFrame(table, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs="EPSG:25833")
    return planning.GapResult(table=table, areas=geo, by_need=pd.DataFrame(),
                              children=pd.DataFrame(), minutes=5.0, area_kind="hex", outside=0)


def test_gaps_hide_the_figures_of_areas_with_fewer_than_5_children() -> None:
    with i18n.language("nb"):
        frame = views.gaps(_gaps()).data
    big, small = frame.to_dict("records")
    assert big["område"] == "Oslo, rute 1" and big["ventende barn"] == "12"
    assert big["uten egnet hjem"] == "3" and big["andel"] == f"25,0{NBSP}%"
    assert big["behov ingen hjem innen rekkevidde dekker"] == "teen (2), disability (1)"
    assert big["plasser per barn (2SFCA)"] == "0,46"
    assert small["ventende barn"] == "færre enn 5"
    assert small["uten egnet hjem"] == small["andel"] == ""
    assert small["behov ingen hjem innen rekkevidde dekker"] == ""


def _run(homes: dict[str, Any]) -> Any:
    return SimpleNamespace(assignments=pd.DataFrame(
        {"child_id": list(homes), "home_id": list(homes.values())}))


def test_changed_lists_exactly_the_children_whose_proposal_differs() -> None:
    before = _run({"C1": "H1", "C2": None, "C3": "H3", "C4": None})
    after = _run({"C1": "H1", "C2": "H2", "C3": None, "C4": None})
    with i18n.language("nb"):
        styler = views.changed(before, after)  # type: ignore[arg-type]
    frame = styler.data
    assert styler.caption == "2 barn får et annet forslag"
    assert frame.to_dict("records") == [
        {"barn": "C2", "før": "ikke noe forslag", "etter": "H2"},
        {"barn": "C3", "før": "H3", "etter": "ikke noe forslag"}]


def test_whatif_shows_changes_with_signs() -> None:
    diff = pd.DataFrame({
        "measure": ["placed", "share_kept_in_home_municipality", "median_school_minutes",
                    "unmatched"],
        "baseline": [73, 0.5, 5.67, 77], "scenario": [78, 0.52, 5.13, 72],
        "change": [5, 0.02, -0.54, -5]}, dtype=object)
    result = SimpleNamespace(diff=diff)
    with i18n.language("nb"):
        rows = views.whatif(result).data.to_dict("records")  # type: ignore[arg-type]
    assert rows[0] == {"nøkkeltall": "barn med forslag", "før": "73", "etter": "78",
                       "endring": "+5"}
    assert rows[1]["endring"] == "+2,0 poeng" and rows[1]["etter"] == f"52,0{NBSP}%"
    assert rows[2]["endring"] == f"\u22120,5{NBSP}min"
    assert rows[3]["endring"] == "\u22125"


def test_coverage_puts_the_furthest_area_first_with_its_weighted_median() -> None:
    table = pd.DataFrame({"area_id": ["0001", "0002"], "name": ["Nær", "Fjern"],
                          "basis": ["population", "population"], "total": [10.0, 4.0],
                          "within_30": [10.0, 1.0], "share_30": [1.0, 0.25],
                          "beyond_30": [0.0, 3.0]})
    points = pd.DataFrame({"id": ["a", "b", "c", "d"], "area_id": ["0001", "0001", "0002",
                                                                   "0002"],
                           "weight": [9.0, 1.0, 1.0, 3.0], "minutes": [5.0, 50.0, 10.0, 40.0]})
    res = planning.CoverageResult(table=table, points=points, cells=gpd.GeoDataFrame(),
                                  bands=(30.0,), emergency_homes=1)
    with i18n.language("nb"):
        rows = views.coverage(res).data.to_dict("records")
    assert [r["område"] for r in rows] == ["Fjern", "Nær"]
    # weighted medians by hand: Fjern 1 person at 10 min, 3 at 40 -> 40; Nær 9 at 5 -> 5
    assert rows[0]["median til nærmeste"] == f"40,0{NBSP}min"
    assert rows[1]["median til nærmeste"] == f"5,0{NBSP}min"
    assert rows[0]["innen 30 min"] == f"25,0{NBSP}%" and rows[0]["over 30 min"] == "3"


def test_language_switches_as_a_plain_call_and_a_with_block() -> None:
    before = i18n.current()
    with fm.language("en"):
        fm.language("nn")  # a notebook cell: from here on
        assert i18n.current() == "nn"
        with fm.language("nb") as lang:
            assert lang == "nb"
        assert i18n.current() == "nn"
    assert i18n.current() == before


def test_data_line_labels_synthetic_data() -> None:
    inputs = SimpleNamespace(children=np.zeros(150), homes=np.zeros(60))
    with i18n.language("nb"):
        text = views.data(inputs, synthetic=True)  # type: ignore[arg-type]
    assert text == ("150 ventende barn og 60 fosterhjem (SYNTETISKE: oppdiktede personer på "
                    "ekte geografi).")


@pytest.mark.parametrize("name", ["gaps_map", "coverage_map", "recruit_map", "add_homes",
                                  "brief", "views"])
def test_the_front_door_exports_what_the_notebooks_use(name: str) -> None:
    assert name in fm.__all__ and getattr(fm, name) is not None
